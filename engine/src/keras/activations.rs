//! Activation functions by Keras name: "relu", "sigmoid", "tanh", "softmax", "gelu", ...

use crate::error::{invalid, Result};
use crate::tensor::Tensor;

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Activation {
    Linear,
    Relu,
    Sigmoid,
    Tanh,
    Softmax,
    LogSoftmax,
    Gelu,
    Softplus,
    Silu,
    Elu,
    LeakyRelu(f32),
}

impl Activation {
    /// Parses a Keras activation name ("relu", "softmax", "swish", "linear", ...).
    pub fn parse(name: &str) -> Result<Activation> {
        Ok(match name.to_ascii_lowercase().as_str() {
            "linear" | "none" | "" => Activation::Linear,
            "relu" => Activation::Relu,
            "sigmoid" => Activation::Sigmoid,
            "tanh" => Activation::Tanh,
            "softmax" => Activation::Softmax,
            "log_softmax" => Activation::LogSoftmax,
            "gelu" => Activation::Gelu,
            "softplus" => Activation::Softplus,
            "silu" | "swish" => Activation::Silu,
            "elu" => Activation::Elu,
            "leaky_relu" => Activation::LeakyRelu(0.2),
            _ => {
                return Err(invalid(
                    "activation",
                    format!("unknown activation \"{name}\"; use one of linear, relu, sigmoid, tanh, softmax, log_softmax, gelu, softplus, silu, elu, leaky_relu"),
                ))
            }
        })
    }

    pub fn name(&self) -> &'static str {
        match self {
            Activation::Linear => "linear",
            Activation::Relu => "relu",
            Activation::Sigmoid => "sigmoid",
            Activation::Tanh => "tanh",
            Activation::Softmax => "softmax",
            Activation::LogSoftmax => "log_softmax",
            Activation::Gelu => "gelu",
            Activation::Softplus => "softplus",
            Activation::Silu => "silu",
            Activation::Elu => "elu",
            Activation::LeakyRelu(_) => "leaky_relu",
        }
    }

    pub fn apply(&self, x: &Tensor) -> Tensor {
        match self {
            Activation::Linear => x.clone(),
            Activation::Relu => x.relu(),
            Activation::Sigmoid => x.sigmoid(),
            Activation::Tanh => x.tanh(),
            Activation::Softmax => x.softmax(-1),
            Activation::LogSoftmax => x.log_softmax(-1),
            Activation::Gelu => x.gelu(),
            Activation::Softplus => x.softplus(),
            Activation::Silu => x * x.sigmoid(),
            // elu(x) = x if x > 0 else e^x - 1
            Activation::Elu => {
                crate::tensor::where_(&x.greater(0.0), x, &(x.minimum(0.0).exp() - 1.0))
            }
            Activation::LeakyRelu(a) => x.maximum(x * *a as f64),
        }
    }
}

impl From<&str> for Activation {
    /// Panics with the list of valid names on an unknown one (builder methods take `&str`).
    #[track_caller]
    fn from(s: &str) -> Activation {
        crate::error::or_panic(Activation::parse(s))
    }
}
