//! `keras.layers.MultiHeadAttention(num_heads, key_dim)`, with Keras' weight shapes:
//! query/key kernels (d, heads, key_dim), value kernel (d, heads, value_dim), output kernel
//! (heads, value_dim, d_query), each with a bias.
//!
//! q: (B,Tq,d), v: (B,Tv,d), k defaults to v. scores = softmax(q k^T / sqrt(key_dim) + mask) per
//! head, out = (scores v) projected back to d_query. A bool `attention_mask` (B,Tq,Tv) keeps
//! positions where it is true; `use_causal_mask(true)` hides future positions.

use std::sync::OnceLock;

use super::{add_weight, last_dim, Layer, LayerBase};
use crate::autodiff::Variable;
use crate::dtype::DType;
use crate::keras::initializers::Initializer;
use crate::tensor::{where_, Tensor};

/// The keys (B,heads,T,key_dim) and values (B,heads,T,value_dim) of the positions decoded so
/// far, for [`MultiHeadAttention::call_cached`]. Start from `AttentionCache::default()`.
#[derive(Clone, Default)]
pub struct AttentionCache {
    pub key: Option<Tensor>,
    pub value: Option<Tensor>,
}

impl AttentionCache {
    /// Positions held.
    pub fn len(&self) -> usize {
        self.key.as_ref().map_or(0, |k| k.dims()[2])
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

pub struct MultiHeadAttention {
    heads: usize,
    key_dim: usize,
    value_dim: usize,
    causal: bool,
    pub(super) base: LayerBase,
    weights: OnceLock<[Variable; 8]>,
}

impl MultiHeadAttention {
    pub fn new(num_heads: usize, key_dim: usize) -> Self {
        MultiHeadAttention {
            heads: num_heads,
            key_dim,
            value_dim: key_dim,
            causal: false,
            base: LayerBase::new("multi_head_attention"),
            weights: OnceLock::new(),
        }
    }
    pub fn value_dim(mut self, v: usize) -> Self {
        self.value_dim = v;
        self
    }
    pub fn use_causal_mask(mut self, on: bool) -> Self {
        self.causal = on;
        self
    }

    fn build(&self, dq: usize, dk: usize, dv: usize) -> &[Variable; 8] {
        self.weights.get_or_init(|| {
            let (h, k, v) = (self.heads, self.key_dim, self.value_dim);
            let w =
                |n: &str, s: &[usize], i: Initializer| add_weight(&self.base.name, n, i, s, true);
            [
                w("query/kernel", &[dq, h, k], Initializer::GlorotUniform),
                w("query/bias", &[h, k], Initializer::Zeros),
                w("key/kernel", &[dk, h, k], Initializer::GlorotUniform),
                w("key/bias", &[h, k], Initializer::Zeros),
                w("value/kernel", &[dv, h, v], Initializer::GlorotUniform),
                w("value/bias", &[h, v], Initializer::Zeros),
                w(
                    "attention_output/kernel",
                    &[h, v, dq],
                    Initializer::GlorotUniform,
                ),
                w("attention_output/bias", &[dq], Initializer::Zeros),
            ]
        })
    }

    /// Projects (B,T,d) with a (d,h,e) kernel to (B,h,T,e).
    fn project(x: &Tensor, kernel: &Tensor, bias: &Tensor, h: usize, e: usize) -> Tensor {
        let (b, t, d) = (x.dims()[0], x.dims()[1], x.dims()[2]);
        let y = x.matmul(&kernel.reshape([d, h * e])) + bias.reshape([h * e]);
        y.reshape([b, t, h, e]).permute(&[0, 2, 1, 3])
    }

    /// Attention output (B,Tq,d_query) and scores (B,heads,Tq,Tv): Keras'
    /// `layer(query, value, key, attention_mask, return_attention_scores=True)`.
    /// Padding masks become an `attention_mask` with `masking::padding_attention_mask`.
    #[track_caller]
    pub fn call_full(
        &self,
        query: &Tensor,
        value: &Tensor,
        key: Option<&Tensor>,
        attention_mask: Option<&Tensor>,
    ) -> (Tensor, Tensor) {
        let key = key.unwrap_or(value);
        for (n, t) in [("query", query), ("value", value), ("key", key)] {
            if t.rank() != 3 {
                panic!(
                    "MultiHeadAttention '{}': {n} must be (batch, seq, features), got shape {}",
                    self.base.name,
                    t.shape()
                );
            }
        }
        let (dq, dk, dv) = (
            last_dim(&self.base.name, query),
            last_dim(&self.base.name, key),
            last_dim(&self.base.name, value),
        );
        let w = self.build(dq, dk, dv);
        let (h, kd, vd) = (self.heads, self.key_dim, self.value_dim);
        let k = Self::project(key, &w[2], &w[3], h, kd);
        let v = Self::project(value, &w[4], &w[5], h, vd);
        self.attend(query, &k, &v, attention_mask, 0)
    }

    /// Self-attention of new positions x (B,t,d) that follow the positions held in `cache`:
    /// their keys and values join the cache, and the queries attend to all of it (causally
    /// among the new positions when `use_causal_mask`). One new position per call makes
    /// decoding O(n) positions in all; the outputs equal those of `call_full` on the whole
    /// sequence.
    #[track_caller]
    pub fn call_cached(&self, x: &Tensor, cache: &mut AttentionCache) -> Tensor {
        if x.rank() != 3 {
            panic!(
                "MultiHeadAttention '{}': x must be (batch, new steps, features), got shape {}",
                self.base.name,
                x.shape()
            );
        }
        let d = last_dim(&self.base.name, x);
        let w = self.build(d, d, d);
        let (h, kd, vd) = (self.heads, self.key_dim, self.value_dim);
        let (k_new, v_new) = (
            Self::project(x, &w[2], &w[3], h, kd),
            Self::project(x, &w[4], &w[5], h, vd),
        );
        let past = cache.len();
        let (k, v) = match (cache.key.take(), cache.value.take()) {
            (Some(k), Some(v)) => (
                crate::tensor::concat(&[&k, &k_new], 2),
                crate::tensor::concat(&[&v, &v_new], 2),
            ),
            _ => (k_new, v_new),
        };
        let out = self.attend(x, &k, &v, None, past).0;
        cache.key = Some(k);
        cache.value = Some(v);
        out
    }

    /// Scaled dot-product attention of `query` (B,Tq,dq) on projected keys k (B,h,Tk,key_dim)
    /// and values v (B,h,Tk,value_dim); query i sits at position `offset + i` for the causal mask.
    fn attend(
        &self,
        query: &Tensor,
        k: &Tensor,
        v: &Tensor,
        attention_mask: Option<&Tensor>,
        offset: usize,
    ) -> (Tensor, Tensor) {
        let dq = last_dim(&self.base.name, query);
        let w = self.weights.get().expect("built by the caller");
        let (h, kd, vd) = (self.heads, self.key_dim, self.value_dim);
        let q = Self::project(query, &w[0], &w[1], h, kd) * (1.0 / (kd as f64).sqrt());
        let mut scores = q.matmul(&k.t()); // (B,h,Tq,Tk)
        let (tq, tk) = (query.dims()[1], k.dims()[2]);
        let mut mask: Option<Tensor> = attention_mask.map(|m| {
            let m = if m.dtype() == DType::Bool {
                m.clone()
            } else {
                m.greater(0.5)
            };
            m.reshape([m.dims()[0] as isize, 1, tq as isize, tk as isize])
        });
        if self.causal && offset + tq > 1 {
            let (o, tq, tk) = (offset as i64, tq as i64, tk as i64);
            let i = crate::tensor::create::arange_i64(o, o + tq).reshape([tq, 1]);
            let j = crate::tensor::create::arange_i64(0, tk).reshape([1, tk]);
            let causal = j.less_equal(&i);
            mask = Some(match mask {
                Some(m) => m.logical_and(&causal),
                None => causal,
            });
        }
        if let Some(m) = mask {
            let neg = scores.full_like(-1e9);
            scores = where_(&m, &scores, &neg);
        }
        let att = scores.softmax(-1);
        let ctx = att.matmul(v).permute(&[0, 2, 1, 3]); // (B,Tq,h,v)
        let b = query.dims()[0];
        let out = ctx
            .reshape([b, tq, h * vd])
            .matmul(&w[6].reshape([h * vd, dq]))
            + &*w[7];
        (out, att)
    }
}

impl Layer for MultiHeadAttention {
    fn base(&self) -> Option<&LayerBase> {
        Some(&self.base)
    }
    fn class_name(&self) -> &'static str {
        "MultiHeadAttention"
    }
    fn get_config(&self) -> serde_json::Value {
        self.base.config(serde_json::json!({"num_heads": self.heads, "key_dim": self.key_dim, "value_dim": self.value_dim, "use_causal_mask": self.causal}))
    }
    /// Self-attention: query = value = key = x.
    fn call(&self, x: &Tensor, _training: bool) -> Tensor {
        self.call_full(x, x, None, None).0
    }
    /// A padding mask (batch, steps) from Sequential hides padded keys in self-attention.
    fn accepts_mask(&self) -> bool {
        true
    }
    /// `[x]` and `[x, padding_mask]` (self-attention; the mask has rank 2), `[query, value]`,
    /// `[query, value, key]` or `[query, value, key, attention_mask]`.
    #[track_caller]
    fn call_many(&self, xs: &[Tensor], _training: bool) -> Tensor {
        match xs {
            [x] => self.call_full(x, x, None, None).0,
            [x, m] if m.rank() == 2 => {
                let mask = super::masking::padding_attention_mask(Some(m), None, x.dims()[1]);
                self.call_full(x, x, None, mask.as_ref()).0
            }
            [q, v] => self.call_full(q, v, None, None).0,
            [q, v, k] => self.call_full(q, v, Some(k), None).0,
            [q, v, k, m] => self.call_full(q, v, Some(k), Some(m)).0,
            _ => panic!(
                "MultiHeadAttention '{}': expected [query, value, key?, mask?], got {} inputs",
                self.base.name,
                xs.len()
            ),
        }
    }
    fn weights(&self) -> Vec<Variable> {
        self.weights.get().map(|w| w.to_vec()).unwrap_or_default()
    }
}
