//! Pooling layers, NHWC.

use super::{conv::Pair, Layer, LayerBase};
use crate::tensor::Tensor;

macro_rules! pool2d {
    ($t:ident, $base:expr, $class:expr, $max:expr) => {
        /// Keras pooling: `pool_size` (default 2), `strides` (default = pool size), padding "valid".
        pub struct $t {
            pool: (usize, usize),
            strides: Option<(usize, usize)>,
            padding: String,
            pub(super) base: LayerBase,
        }
        impl $t {
            pub fn new(pool_size: impl Into<Pair>) -> $t {
                $t {
                    pool: pool_size.into().0,
                    strides: None,
                    padding: "valid".into(),
                    base: LayerBase::new($base),
                }
            }
            pub fn strides(mut self, s: impl Into<Pair>) -> $t {
                self.strides = Some(s.into().0);
                self
            }
            pub fn padding(mut self, p: &str) -> $t {
                self.padding = p.to_string();
                self
            }
        }
        impl Default for $t {
            fn default() -> Self {
                Self::new(2)
            }
        }
        impl Layer for $t {
            fn base(&self) -> Option<&LayerBase> {
                Some(&self.base)
            }
            fn class_name(&self) -> &'static str {
                $class
            }
            fn get_config(&self) -> serde_json::Value {
                self.base.config({
                let s = self.strides.unwrap_or(self.pool);
                serde_json::json!({"pool_size": [self.pool.0, self.pool.1], "strides": [s.0, s.1], "padding": self.padding})
                })
            }
            #[track_caller]
            fn call(&self, x: &Tensor, _training: bool) -> Tensor {
                let s = self.strides.unwrap_or(self.pool);
                match x.try_pool2d(self.pool, s, &self.padding, $max) {
                    Ok(y) => y,
                    Err(e) => panic!("{} '{}': {e}", $class, self.base.name),
                }
            }
        }
    };
}
pool2d!(MaxPooling2D, "max_pooling2d", "MaxPooling2D", true);
pool2d!(
    AveragePooling2D,
    "average_pooling2d",
    "AveragePooling2D",
    false
);

/// `keras.layers.GlobalAveragePooling2D()`: (N,H,W,C) -> (N,C).
pub struct GlobalAveragePooling2D {
    pub(super) base: LayerBase,
}
impl GlobalAveragePooling2D {
    pub fn new() -> Self {
        GlobalAveragePooling2D {
            base: LayerBase::new("global_average_pooling2d"),
        }
    }
}
impl Default for GlobalAveragePooling2D {
    fn default() -> Self {
        Self::new()
    }
}
impl Layer for GlobalAveragePooling2D {
    fn base(&self) -> Option<&LayerBase> {
        Some(&self.base)
    }
    fn class_name(&self) -> &'static str {
        "GlobalAveragePooling2D"
    }
    #[track_caller]
    fn call(&self, x: &Tensor, _training: bool) -> Tensor {
        if x.rank() != 4 {
            panic!(
                "GlobalAveragePooling2D '{}': expected (batch, height, width, channels), got {}",
                self.base.name,
                x.shape()
            );
        }
        x.mean_axes(&[1, 2], false)
    }
}

/// `keras.layers.GlobalAveragePooling1D()`: (N,T,C) -> (N,C), the mean over time.
///
/// With a mask (`call_many(&[x, mask])`, mask (N,T), true or nonzero = keep; the mask of an
/// `Embedding::mask_zero(true)`), only kept steps count, as Keras' masked pooling:
/// `sum_t x[n,t,:] m[n,t] / sum_t m[n,t]`.
pub struct GlobalAveragePooling1D {
    pub(super) base: LayerBase,
}
impl GlobalAveragePooling1D {
    pub fn new() -> Self {
        GlobalAveragePooling1D {
            base: LayerBase::new("global_average_pooling1d"),
        }
    }
    /// Mean over time of x (N,T,C), counting only the steps where `mask` (N,T) holds.
    #[track_caller]
    pub fn call_masked(&self, x: &Tensor, mask: Option<&Tensor>) -> Tensor {
        if x.rank() != 3 {
            panic!(
                "GlobalAveragePooling1D '{}': expected (batch, steps, features), got {}",
                self.base.name,
                x.shape()
            );
        }
        let Some(mask) = mask else {
            return x.mean_axis(1, false);
        };
        let (n, t) = (x.dims()[0], x.dims()[1]);
        if mask.dims() != [n, t] {
            panic!(
                "GlobalAveragePooling1D '{}': mask must be (batch, steps) = ({n}, {t}), got {}",
                self.base.name,
                mask.shape()
            );
        }
        let m = super::float_mask(mask, x.dtype()).reshape([n, t, 1]);
        (x * &m).sum_axis(1, false) / m.sum_axis(1, false).maximum(1.0)
    }
}
impl Default for GlobalAveragePooling1D {
    fn default() -> Self {
        Self::new()
    }
}
impl Layer for GlobalAveragePooling1D {
    fn base(&self) -> Option<&LayerBase> {
        Some(&self.base)
    }
    fn class_name(&self) -> &'static str {
        "GlobalAveragePooling1D"
    }
    #[track_caller]
    fn call(&self, x: &Tensor, _training: bool) -> Tensor {
        self.call_masked(x, None)
    }
    fn accepts_mask(&self) -> bool {
        true
    }
    /// The time axis is gone: no mask goes on.
    fn compute_mask(&self, _xs: &[Tensor], _mask: Option<&Tensor>) -> Option<Tensor> {
        None
    }
    /// `[x]` or `[x, mask]`.
    #[track_caller]
    fn call_many(&self, xs: &[Tensor], _training: bool) -> Tensor {
        match xs {
            [x] => self.call_masked(x, None),
            [x, m] => self.call_masked(x, Some(m)),
            _ => panic!(
                "GlobalAveragePooling1D '{}': expected [x] or [x, mask], got {} inputs",
                self.base.name,
                xs.len()
            ),
        }
    }
}
