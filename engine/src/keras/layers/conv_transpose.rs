//! `keras.layers.Conv2DTranspose`: a learned upsampling, the decoder half of convolutional
//! autoencoders. Kernel (KH, KW, filters, in_channels) as in Keras; the forward pass is
//! [`Tensor::conv2d_transpose`] (matmul + col2im), so gradients and symbolic shapes come from
//! existing ops. Output size: (H-1)*stride + KH for "valid", H*stride for "same".

use std::sync::OnceLock;

use super::conv::Pair;
use super::{add_weight, last_dim, Layer, LayerBase};
use crate::autodiff::Variable;
use crate::keras::activations::Activation as Act;
use crate::keras::initializers::Initializer;
use crate::tensor::Tensor;

/// `keras.layers.Conv2DTranspose(filters, kernel_size)`, NHWC.
pub struct Conv2DTranspose {
    filters: usize,
    kernel: (usize, usize),
    strides: (usize, usize),
    padding: String,
    activation: Act,
    use_bias: bool,
    kernel_initializer: Initializer,
    pub(super) base: LayerBase,
    weights: OnceLock<(Variable, Option<Variable>)>,
}

impl Conv2DTranspose {
    /// `Conv2DTranspose::new(16, 3)` or `Conv2DTranspose::new(16, (3, 3))`.
    pub fn new(filters: usize, kernel_size: impl Into<Pair>) -> Conv2DTranspose {
        Conv2DTranspose {
            filters,
            kernel: kernel_size.into().0,
            strides: (1, 1),
            padding: "valid".into(),
            activation: Act::Linear,
            use_bias: true,
            kernel_initializer: Initializer::GlorotUniform,
            base: LayerBase::new("conv2d_transpose"),
            weights: OnceLock::new(),
        }
    }
    pub fn strides(mut self, s: impl Into<Pair>) -> Self {
        self.strides = s.into().0;
        self
    }
    /// "valid" (default) or "same".
    pub fn padding(mut self, p: &str) -> Self {
        self.padding = p.to_string();
        self
    }
    #[track_caller]
    pub fn activation(mut self, a: &str) -> Self {
        self.activation = Act::from(a);
        self
    }
    pub fn use_bias(mut self, on: bool) -> Self {
        self.use_bias = on;
        self
    }
    #[track_caller]
    pub fn kernel_initializer(mut self, i: impl Into<Initializer>) -> Self {
        self.kernel_initializer = i.into();
        self
    }
}

impl Layer for Conv2DTranspose {
    fn base(&self) -> Option<&LayerBase> {
        Some(&self.base)
    }
    fn class_name(&self) -> &'static str {
        "Conv2DTranspose"
    }
    fn get_config(&self) -> serde_json::Value {
        self.base.config(serde_json::json!({
            "filters": self.filters, "kernel_size": [self.kernel.0, self.kernel.1],
            "strides": [self.strides.0, self.strides.1], "padding": self.padding,
            "activation": self.activation.name(), "use_bias": self.use_bias,
        }))
    }
    #[track_caller]
    fn call(&self, x: &Tensor, _training: bool) -> Tensor {
        if x.rank() != 4 {
            panic!(
                "Conv2DTranspose '{}': expected input (batch, height, width, channels), got \
                 shape {}",
                self.base.name,
                x.shape()
            );
        }
        let cin = last_dim(&self.base.name, x);
        let (k, b) = self.weights.get_or_init(|| {
            let (kh, kw) = self.kernel;
            let shape = [kh, kw, self.filters, cin];
            let k = add_weight(
                &self.base.name,
                "kernel",
                self.kernel_initializer,
                &shape,
                true,
            );
            let b = self.use_bias.then(|| {
                add_weight(
                    &self.base.name,
                    "bias",
                    Initializer::Zeros,
                    &[self.filters],
                    true,
                )
            });
            (k, b)
        });
        let y = match x.try_conv2d_transpose(k, self.strides, &self.padding) {
            Ok(y) => y,
            Err(e) => panic!("Conv2DTranspose '{}': {e}", self.base.name),
        };
        let y = match b {
            Some(b) => y + b,
            None => y,
        };
        self.activation.apply(&y)
    }
    fn weights(&self) -> Vec<Variable> {
        match self.weights.get() {
            Some((k, Some(b))) => vec![k.clone(), b.clone()],
            Some((k, None)) => vec![k.clone()],
            None => vec![],
        }
    }
}
