//! Padding masks, Keras' `compute_mask` idea in explicit form.
//!
//! A mask is a (batch, steps) tensor, bool or numeric (nonzero = a real step, zero = padding).
//! `Embedding::new(..).mask_zero(true)` makes one from token ids with
//! [`Embedding::compute_mask`](super::Embedding::compute_mask); the layers that honour it take it
//! as an extra input: `GlobalAveragePooling1D` (`[x, mask]`), `TransformerEncoder` (`[x, mask]`),
//! `TransformerDecoder`, and `MultiHeadAttention` through [`padding_attention_mask`].
//! Keras attaches the mask to the tensor as `_keras_mask`. Here `Layer::compute_mask` says what
//! mask a layer's output carries and `Layer::accepts_mask` which layers take one; Sequential
//! and Functional models carry it from layer to layer (a Functional node passes on the mask of
//! its first masked input, and gives it to a single-input layer that accepts one). A mask can
//! also be an input of its own (`apply_many(&[&x, &mask])`).

use crate::dtype::DType;
use crate::tensor::Tensor;

/// The mask as bool (true = keep).
pub fn bool_mask(mask: &Tensor) -> Tensor {
    if mask.dtype() == DType::Bool {
        mask.clone()
    } else {
        mask.not_equal(0.0)
    }
}

/// The mask as 1.0 (keep) / 0.0 (padding) in `dtype`.
pub fn float_mask(mask: &Tensor, dtype: DType) -> Tensor {
    if mask.dtype() == DType::Bool {
        mask.cast(dtype)
    } else {
        mask.not_equal(0.0).cast(dtype)
    }
}

/// The (B,Tq,Tv) attention mask that keeps key/value position j for every query when
/// `value_mask[b, j]` holds, and-ed with `attention_mask` (B,Tq,Tv) when given: keras-hub's
/// `merge_padding_and_attention_mask`. Query padding is left to the layers after attention.
#[track_caller]
pub fn padding_attention_mask(
    value_mask: Option<&Tensor>,
    attention_mask: Option<&Tensor>,
    tq: usize,
) -> Option<Tensor> {
    let pad = value_mask.map(|m| {
        let (b, tv) = (m.dims()[0], m.dims()[1]);
        bool_mask(m).reshape([b, 1, tv]).broadcast_to([b, tq, tv])
    });
    match (pad, attention_mask) {
        (None, None) => None,
        (Some(p), None) => Some(p),
        (None, Some(a)) => Some(bool_mask(a)),
        (Some(p), Some(a)) => Some(p.logical_and(&bool_mask(a))),
    }
}
