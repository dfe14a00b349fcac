//! Convolution layers, NHWC (channels last) like Keras' default.
//! Conv2D: x (N,H,W,C), kernel (KH,KW,C,filters). Conv1D: x (N,L,C), kernel (K,C,filters).

use std::sync::OnceLock;

use super::{add_weight, last_dim, Layer, LayerArgs, LayerBase};
use crate::autodiff::Variable;
use crate::keras::activations::Activation as Act;
use crate::keras::initializers::Initializer;
use crate::keras::regularizers::Regularizer;
use crate::tensor::Tensor;

struct ConvSpec {
    filters: usize,
    kernel: (usize, usize),
    strides: (usize, usize),
    dilation: (usize, usize),
    padding: String,
    activation: Act,
    use_bias: bool,
    kernel_initializer: Initializer,
    kernel_regularizer: Option<Regularizer>,
    base: LayerBase,
    /// Conv1D keeps Keras' (K, C, filters) kernel and runs as a 1-pixel-high Conv2D.
    conv1d: bool,
    weights: OnceLock<(Variable, Option<Variable>)>,
}

impl ConvSpec {
    fn new(filters: usize, kernel: (usize, usize), base: &str) -> ConvSpec {
        ConvSpec {
            filters,
            kernel,
            strides: (1, 1),
            dilation: (1, 1),
            padding: "valid".into(),
            activation: Act::Linear,
            use_bias: true,
            kernel_initializer: Initializer::GlorotUniform,
            kernel_regularizer: None,
            base: LayerBase::new(base),
            conv1d: base == "conv1d",
            weights: OnceLock::new(),
        }
    }
    /// Builds (KH,KW,C,F) weights and runs conv2d on a 4-D input.
    fn conv(&self, x4: &Tensor, cin: usize) -> Tensor {
        let (k, b) = self.weights.get_or_init(|| {
            let (kh, kw) = self.kernel;
            let shape = if self.conv1d {
                vec![kw, cin, self.filters]
            } else {
                vec![kh, kw, cin, self.filters]
            };
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
        let k4 = if self.conv1d {
            k.reshape([1, self.kernel.1, cin, self.filters])
        } else {
            k.as_tensor().clone()
        };
        let y = match x4.try_conv2d(&k4, self.strides, &self.padding, self.dilation) {
            Ok(y) => y,
            Err(e) => panic!(
                "{} '{}': {e}",
                if self.conv1d { "Conv1D" } else { "Conv2D" },
                self.base.name
            ),
        };
        let y = match b {
            Some(b) => y + b,
            None => y,
        };
        self.activation.apply(&y)
    }
    fn config(&self) -> serde_json::Value {
        serde_json::json!({
            "filters": self.filters, "kernel_size": [self.kernel.0, self.kernel.1],
            "strides": [self.strides.0, self.strides.1], "dilation_rate": [self.dilation.0, self.dilation.1],
            "padding": self.padding, "activation": self.activation.name(), "use_bias": self.use_bias,
        })
    }
    fn weights(&self) -> Vec<Variable> {
        match self.weights.get() {
            Some((k, Some(b))) => vec![k.clone(), b.clone()],
            Some((k, None)) => vec![k.clone()],
            None => vec![],
        }
    }
    fn losses(&self) -> Vec<Tensor> {
        match (self.kernel_regularizer, self.weights.get()) {
            (Some(r), Some((k, _))) => vec![r.penalty(k)],
            _ => vec![],
        }
    }
}

macro_rules! conv_builders {
    ($t:ident) => {
        impl LayerArgs for $t {
            fn base_mut(&mut self) -> &mut LayerBase {
                &mut self.0.base
            }
        }
        impl $t {
            #[track_caller]
            pub fn activation(mut self, a: &str) -> Self {
                self.0.activation = Act::from(a);
                self
            }
            /// "valid" (default) or "same".
            pub fn padding(mut self, p: &str) -> Self {
                self.0.padding = p.to_string();
                self
            }
            pub fn use_bias(mut self, on: bool) -> Self {
                self.0.use_bias = on;
                self
            }
            #[track_caller]
            pub fn kernel_initializer(mut self, i: impl Into<Initializer>) -> Self {
                self.0.kernel_initializer = i.into();
                self
            }
            pub fn kernel_regularizer(mut self, r: Regularizer) -> Self {
                self.0.kernel_regularizer = Some(r);
                self
            }
        }
    };
}

/// `keras.layers.Conv2D(filters, kernel_size)`.
pub struct Conv2D(ConvSpec);
conv_builders!(Conv2D);

impl Conv2D {
    /// `Conv2D::new(32, 3)` or `Conv2D::new(32, (3, 5))`.
    pub fn new(filters: usize, kernel_size: impl Into<Pair>) -> Conv2D {
        Conv2D(ConvSpec::new(filters, kernel_size.into().0, "conv2d"))
    }
    pub fn strides(mut self, s: impl Into<Pair>) -> Conv2D {
        self.0.strides = s.into().0;
        self
    }
    pub fn dilation_rate(mut self, d: impl Into<Pair>) -> Conv2D {
        self.0.dilation = d.into().0;
        self
    }
}

impl Layer for Conv2D {
    fn base(&self) -> Option<&LayerBase> {
        Some(&self.0.base)
    }
    fn class_name(&self) -> &'static str {
        "Conv2D"
    }
    fn get_config(&self) -> serde_json::Value {
        self.0.base.config(self.0.config())
    }
    #[track_caller]
    fn call(&self, x: &Tensor, _training: bool) -> Tensor {
        if x.rank() != 4 {
            panic!(
                "Conv2D '{}': expected input (batch, height, width, channels), got shape {}",
                self.0.base.name,
                x.shape()
            );
        }
        self.0.conv(x, last_dim(&self.0.base.name, x))
    }
    fn weights(&self) -> Vec<Variable> {
        self.0.weights()
    }
    fn losses(&self) -> Vec<Tensor> {
        self.0.losses()
    }
}

/// `keras.layers.Conv1D(filters, kernel_size)` on (batch, steps, channels).
pub struct Conv1D(ConvSpec);
conv_builders!(Conv1D);

impl Conv1D {
    pub fn new(filters: usize, kernel_size: usize) -> Conv1D {
        Conv1D(ConvSpec::new(filters, (1, kernel_size), "conv1d"))
    }
    pub fn strides(mut self, s: usize) -> Conv1D {
        self.0.strides = (1, s);
        self
    }
    pub fn dilation_rate(mut self, d: usize) -> Conv1D {
        self.0.dilation = (1, d);
        self
    }
}

impl Layer for Conv1D {
    fn base(&self) -> Option<&LayerBase> {
        Some(&self.0.base)
    }
    fn class_name(&self) -> &'static str {
        "Conv1D"
    }
    fn get_config(&self) -> serde_json::Value {
        self.0.base.config(self.0.config())
    }
    #[track_caller]
    fn call(&self, x: &Tensor, _training: bool) -> Tensor {
        if x.rank() != 3 {
            panic!(
                "Conv1D '{}': expected input (batch, steps, channels), got shape {}",
                self.0.base.name,
                x.shape()
            );
        }
        let y = self
            .0
            .conv(&x.expand_dims(1), last_dim(&self.0.base.name, x));
        y.squeeze(&[1])
    }
    /// The kernel is (K, C, filters), as in Keras.
    fn weights(&self) -> Vec<Variable> {
        self.0.weights()
    }
    fn losses(&self) -> Vec<Tensor> {
        self.0.losses()
    }
}

/// A size or stride given as one number or a pair.
pub struct Pair(pub (usize, usize));
impl From<usize> for Pair {
    fn from(v: usize) -> Pair {
        Pair((v, v))
    }
}
impl From<(usize, usize)> for Pair {
    fn from(v: (usize, usize)) -> Pair {
        Pair(v)
    }
}
