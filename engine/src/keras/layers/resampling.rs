//! Shape-keeping and resampling layers that TF tutorials use by name: `Softmax` (the beginner
//! quickstart's probability model) and `UpSampling2D` (the autoencoder's decoder).
//!
//! Both compose existing ops (softmax; reshape + broadcast), so gradients and symbolic shapes
//! in Sequential/Functional models come from those ops. Inputs are NHWC, like Keras' default.

use super::{Layer, LayerBase};
use crate::tensor::Tensor;

// ------------------------------------------------------------------------------------------------
/// `keras.layers.Softmax(axis=-1)`: turns logits into probabilities along `axis`.
pub struct Softmax {
    axis: isize,
    pub(super) base: LayerBase,
}

impl Softmax {
    pub fn new() -> Softmax {
        Softmax {
            axis: -1,
            base: LayerBase::new("softmax"),
        }
    }
    /// Builder: the axis that sums to 1 (default -1, the last).
    pub fn axis(mut self, axis: isize) -> Softmax {
        self.axis = axis;
        self
    }
}

impl Default for Softmax {
    fn default() -> Self {
        Self::new()
    }
}

impl Layer for Softmax {
    fn base(&self) -> Option<&LayerBase> {
        Some(&self.base)
    }
    fn class_name(&self) -> &'static str {
        "Softmax"
    }
    fn get_config(&self) -> serde_json::Value {
        self.base.config(serde_json::json!({"axis": self.axis}))
    }
    #[track_caller]
    fn call(&self, x: &Tensor, _training: bool) -> Tensor {
        x.softmax(self.axis)
    }
}

// ------------------------------------------------------------------------------------------------
/// `keras.layers.UpSampling2D(size=(2, 2))`: repeats each row `size.0` times and each column
/// `size.1` times (nearest neighbour), (N, H, W, C) -> (N, H*sh, W*sw, C).
pub struct UpSampling2D {
    size: (usize, usize),
    pub(super) base: LayerBase,
}

impl UpSampling2D {
    /// `UpSampling2D(size=(sh, sw))`; `UpSampling2D::new((2, 2))`.
    pub fn new(size: (usize, usize)) -> UpSampling2D {
        assert!(
            size.0 > 0 && size.1 > 0,
            "UpSampling2D: size {size:?} must be positive, e.g. (2, 2)"
        );
        UpSampling2D {
            size,
            base: LayerBase::new("up_sampling2d"),
        }
    }
    /// Builder: Keras' `interpolation`; only `"nearest"` (the default) is implemented.
    #[track_caller]
    pub fn interpolation(self, mode: &str) -> UpSampling2D {
        assert!(
            mode == "nearest",
            "UpSampling2D: interpolation \"{mode}\" is not implemented; use \"nearest\" \
             (or a Conv2DTranspose for a learned upsampling)"
        );
        self
    }
}

impl Layer for UpSampling2D {
    fn base(&self) -> Option<&LayerBase> {
        Some(&self.base)
    }
    fn class_name(&self) -> &'static str {
        "UpSampling2D"
    }
    fn get_config(&self) -> serde_json::Value {
        self.base.config(
            serde_json::json!({"size": [self.size.0, self.size.1], "interpolation": "nearest"}),
        )
    }
    #[track_caller]
    fn call(&self, x: &Tensor, _training: bool) -> Tensor {
        let &[n, h, w, c] = x.dims() else {
            panic!(
                "UpSampling2D '{}': expected a 4-D input (batch, height, width, channels), got \
                 shape {}; add a Reshape first",
                self.base.name,
                x.shape()
            )
        };
        let (sh, sw) = self.size;
        // x: (N,H,W,C) -> (N,H,1,W,1,C) -> broadcast (N,H,sh,W,sw,C) -> (N,H*sh,W*sw,C)
        x.reshape([n, h, 1, w, 1, c])
            .broadcast_to([n, h, sh, w, sw, c])
            .reshape([n, h * sh, w * sw, c])
    }
}
