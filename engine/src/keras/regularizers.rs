//! Weight penalties added to the loss during training: `l2(0.01)` as in Keras.

use crate::tensor::Tensor;

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Regularizer {
    L1(f32),
    L2(f32),
    L1L2 { l1: f32, l2: f32 },
}

/// `keras.regularizers.l2(factor)`: factor * sum(w^2).
pub fn l2(factor: f32) -> Regularizer {
    Regularizer::L2(factor)
}
/// `keras.regularizers.l1(factor)`: factor * sum(|w|).
pub fn l1(factor: f32) -> Regularizer {
    Regularizer::L1(factor)
}

impl Regularizer {
    pub fn penalty(&self, w: &Tensor) -> Tensor {
        match *self {
            Regularizer::L1(f) => w.abs().sum() * f as f64,
            Regularizer::L2(f) => w.square().sum() * f as f64,
            Regularizer::L1L2 { l1, l2 } => {
                w.abs().sum() * l1 as f64 + w.square().sum() * l2 as f64
            }
        }
    }
}
