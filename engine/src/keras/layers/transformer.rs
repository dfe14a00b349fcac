//! keras-hub's `TransformerEncoder` and `TransformerDecoder` blocks, composed from existing
//! layers (MultiHeadAttention, Dense, Dropout, LayerNormalization), so the tape differentiates
//! them with no new op.
//!
//! x: (B,T,d). key_dim = d / num_heads. Feed-forward: Dense(intermediate_dim, relu) ->
//! Dense(d) -> Dropout. Every sublayer s is wrapped in a residual:
//!   post-norm (default, `normalize_first(false)`): x = LN(x + Dropout(s(x)))
//!   pre-norm  (`normalize_first(true)`):           x = x + Dropout(s(LN(x)))
//! Encoder: self-attention, then feed-forward. Decoder: causal self-attention, cross-attention
//! on the encoder's output when one is given, then feed-forward.
//!
//! Masks (see `masking.rs`): a padding mask (B,T) hides padded keys from attention. Unlike
//! keras-hub, attention probabilities get no dropout (MultiHeadAttention has none yet); the
//! residual dropouts are keras-hub's. LayerNormalization epsilon is keras-hub's 1e-5.

use super::masking::padding_attention_mask;
use super::{
    last_dim, AttentionCache, Dense, Dropout, Layer, LayerBase, LayerNormalization,
    MultiHeadAttention,
};
use crate::autodiff::Variable;
use crate::tensor::Tensor;

/// Calls a sublayer through [`Layer::invoke`]: its name scope, and LayerNormalization's float32
/// statistics under a mixed-precision policy.
fn run(layer: &dyn Layer, x: &Tensor, training: bool) -> Tensor {
    layer.invoke(std::slice::from_ref(x), training)
}

/// One residual sublayer's norm and dropout.
struct Residual {
    norm: LayerNormalization,
    dropout: Dropout,
}

impl Residual {
    fn new(rate: f32) -> Self {
        Residual {
            norm: LayerNormalization::new().epsilon(1e-5),
            dropout: Dropout::new(rate),
        }
    }
    /// Pre- or post-norm residual around `f`.
    fn run(
        &self,
        x: &Tensor,
        pre: bool,
        training: bool,
        f: impl FnOnce(&Tensor) -> Tensor,
    ) -> Tensor {
        if pre {
            let y = f(&run(&self.norm, x, training));
            x + run(&self.dropout, &y, training)
        } else {
            let y = f(x);
            run(
                &self.norm,
                &(x + run(&self.dropout, &y, training)),
                training,
            )
        }
    }
}

/// The shared feed-forward network.
struct FeedForward {
    inner: Dense,
    out: Dense,
}

/// The pieces both blocks share: hyper-parameters, self-attention and feed-forward.
struct Block {
    intermediate_dim: usize,
    num_heads: usize,
    dropout: f32,
    pre: bool,
    self_attention: std::sync::OnceLock<MultiHeadAttention>,
    ff: std::sync::OnceLock<FeedForward>,
    attention_res: Residual,
    ff_res: Residual,
}

impl Block {
    #[track_caller]
    fn new(class: &str, intermediate_dim: usize, num_heads: usize) -> Self {
        if num_heads == 0 || intermediate_dim == 0 {
            panic!("{class}: num_heads and intermediate_dim must be positive");
        }
        Block {
            intermediate_dim,
            num_heads,
            dropout: 0.0,
            pre: false,
            self_attention: Default::default(),
            ff: Default::default(),
            attention_res: Residual::new(0.0),
            ff_res: Residual::new(0.0),
        }
    }
    #[track_caller]
    fn key_dim(&self, class: &str, name: &str, x: &Tensor) -> usize {
        let d = last_dim(name, x);
        if x.rank() != 3 || !d.is_multiple_of(self.num_heads) {
            panic!(
                "{class} '{name}': expected (batch, sequence, features) with features divisible by \
                 num_heads = {}, got shape {}",
                self.num_heads,
                x.shape()
            );
        }
        d / self.num_heads
    }
    fn attention(&self, key_dim: usize, causal: bool) -> &MultiHeadAttention {
        self.self_attention.get_or_init(|| {
            MultiHeadAttention::new(self.num_heads, key_dim).use_causal_mask(causal)
        })
    }
    fn feed_forward(&self, x: &Tensor, training: bool) -> Tensor {
        let d = *x.dims().last().unwrap();
        self.ff_res.run(x, self.pre, training, |h| {
            let ff = self.ff.get_or_init(|| FeedForward {
                inner: Dense::new(self.intermediate_dim).activation("relu"),
                out: Dense::new(d),
            });
            run(&ff.out, &run(&ff.inner, h, training), training)
        })
    }
    fn config(&self) -> serde_json::Value {
        serde_json::json!({"intermediate_dim": self.intermediate_dim, "num_heads": self.num_heads,
            "dropout": self.dropout, "normalize_first": self.pre})
    }
    fn ff_weights(&self) -> Vec<Variable> {
        let mut w = Vec::new();
        if let Some(ff) = self.ff.get() {
            w.extend(ff.inner.weights());
            w.extend(ff.out.weights());
        }
        w.extend(self.ff_res.norm.weights());
        w
    }
}

macro_rules! block_options {
    ($t:ident) => {
        impl $t {
            /// Dropout rate of the residual branches (keras-hub's `dropout`).
            #[track_caller]
            pub fn dropout(mut self, rate: f32) -> Self {
                self.block.dropout = rate;
                self.block.attention_res.dropout = Dropout::new(rate);
                self.block.ff_res.dropout = Dropout::new(rate);
                self.rebuild_extra(rate);
                self
            }
            /// Pre-norm (`true`) or post-norm (`false`, the default), keras-hub's `normalize_first`.
            pub fn normalize_first(mut self, on: bool) -> Self {
                self.block.pre = on;
                self
            }
        }
    };
}

// ------------------------------------------------------------------------------------------------
/// keras-hub's `TransformerEncoder(intermediate_dim, num_heads)`.
pub struct TransformerEncoder {
    block: Block,
    pub(super) base: LayerBase,
}

impl TransformerEncoder {
    #[track_caller]
    pub fn new(intermediate_dim: usize, num_heads: usize) -> Self {
        TransformerEncoder {
            block: Block::new("TransformerEncoder", intermediate_dim, num_heads),
            base: LayerBase::new("transformer_encoder"),
        }
    }
    fn rebuild_extra(&mut self, _rate: f32) {}
    /// x (B,T,d); `padding_mask` (B,T) hides padded positions from attention.
    #[track_caller]
    pub fn call_masked(&self, x: &Tensor, padding_mask: Option<&Tensor>, training: bool) -> Tensor {
        let b = &self.block;
        let kd = b.key_dim("TransformerEncoder", &self.base.name, x);
        let mask = padding_attention_mask(padding_mask, None, x.dims()[1]);
        let x = b.attention_res.run(x, b.pre, training, |h| {
            b.attention(kd, false)
                .call_full(h, h, None, mask.as_ref())
                .0
        });
        b.feed_forward(&x, training)
    }
}
block_options!(TransformerEncoder);

impl Layer for TransformerEncoder {
    fn base(&self) -> Option<&LayerBase> {
        Some(&self.base)
    }
    fn class_name(&self) -> &'static str {
        "TransformerEncoder"
    }
    fn get_config(&self) -> serde_json::Value {
        self.base.config(self.block.config())
    }
    fn call(&self, x: &Tensor, training: bool) -> Tensor {
        self.call_masked(x, None, training)
    }
    fn accepts_mask(&self) -> bool {
        true
    }
    /// `[x]` or `[x, padding_mask]`.
    #[track_caller]
    fn call_many(&self, xs: &[Tensor], training: bool) -> Tensor {
        match xs {
            [x] => self.call_masked(x, None, training),
            [x, m] => self.call_masked(x, Some(m), training),
            _ => panic!(
                "TransformerEncoder '{}': expected [x] or [x, padding_mask], got {} inputs",
                self.base.name,
                xs.len()
            ),
        }
    }
    fn weights(&self) -> Vec<Variable> {
        let b = &self.block;
        let mut w = b
            .self_attention
            .get()
            .map(|a| a.weights())
            .unwrap_or_default();
        w.extend(b.attention_res.norm.weights());
        w.extend(b.ff_weights());
        w
    }
}

// ------------------------------------------------------------------------------------------------
/// keras-hub's `TransformerDecoder(intermediate_dim, num_heads)`: causal self-attention, then
/// cross-attention on an encoder sequence when one is given, then feed-forward.
pub struct TransformerDecoder {
    block: Block,
    cross_attention: std::sync::OnceLock<MultiHeadAttention>,
    cross_res: Residual,
    pub(super) base: LayerBase,
}

impl TransformerDecoder {
    #[track_caller]
    pub fn new(intermediate_dim: usize, num_heads: usize) -> Self {
        TransformerDecoder {
            block: Block::new("TransformerDecoder", intermediate_dim, num_heads),
            cross_attention: Default::default(),
            cross_res: Residual::new(0.0),
            base: LayerBase::new("transformer_decoder"),
        }
    }
    fn rebuild_extra(&mut self, rate: f32) {
        self.cross_res.dropout = Dropout::new(rate);
    }
    /// x (B,T,d) the decoder sequence; `encoder` (B,S,d_e) the encoder's output (None: a
    /// decoder-only block); padding masks (B,T) and (B,S).
    #[track_caller]
    pub fn call_full(
        &self,
        x: &Tensor,
        encoder: Option<&Tensor>,
        decoder_padding_mask: Option<&Tensor>,
        encoder_padding_mask: Option<&Tensor>,
        training: bool,
    ) -> Tensor {
        let mask = padding_attention_mask(decoder_padding_mask, None, x.dims()[1]);
        self.decode(x, encoder, encoder_padding_mask, training, |a, h| {
            a.call_full(h, h, None, mask.as_ref()).0
        })
    }

    /// Decodes new positions x (B,t,d) that follow those held in `cache` (one
    /// [`AttentionCache`] per decoder block, empty at the start): the outputs equal
    /// `call_full`'s on the whole sequence, but each call runs only the new positions.
    /// Inference (no dropout); no padding masks.
    #[track_caller]
    pub fn call_cached(
        &self,
        x: &Tensor,
        encoder: Option<&Tensor>,
        cache: &mut AttentionCache,
    ) -> Tensor {
        self.decode(x, encoder, None, false, |a, h| a.call_cached(h, cache))
    }

    /// The block, with the self-attention call given by `self_attention`.
    #[track_caller]
    fn decode(
        &self,
        x: &Tensor,
        encoder: Option<&Tensor>,
        encoder_padding_mask: Option<&Tensor>,
        training: bool,
        self_attention: impl FnOnce(&MultiHeadAttention, &Tensor) -> Tensor,
    ) -> Tensor {
        let b = &self.block;
        let kd = b.key_dim("TransformerDecoder", &self.base.name, x);
        let t = x.dims()[1];
        let mut x = b.attention_res.run(x, b.pre, training, |h| {
            self_attention(b.attention(kd, true), h)
        });
        if let Some(enc) = encoder {
            if enc.rank() != 3 || enc.dims()[0] != x.dims()[0] {
                panic!(
                    "TransformerDecoder '{}': encoder sequence must be (batch, steps, features) \
                     with the decoder's batch {}, got {}",
                    self.base.name,
                    x.dims()[0],
                    enc.shape()
                );
            }
            let mask = padding_attention_mask(encoder_padding_mask, None, t);
            let cross = self
                .cross_attention
                .get_or_init(|| MultiHeadAttention::new(b.num_heads, kd));
            x = self.cross_res.run(&x, b.pre, training, |h| {
                cross.call_full(h, enc, None, mask.as_ref()).0
            });
        }
        b.feed_forward(&x, training)
    }
}
block_options!(TransformerDecoder);

impl Layer for TransformerDecoder {
    fn base(&self) -> Option<&LayerBase> {
        Some(&self.base)
    }
    fn class_name(&self) -> &'static str {
        "TransformerDecoder"
    }
    fn get_config(&self) -> serde_json::Value {
        self.base.config(self.block.config())
    }
    fn call(&self, x: &Tensor, training: bool) -> Tensor {
        self.call_full(x, None, None, None, training)
    }
    /// In a Sequential: the decoder padding mask, as `[x, mask]`.
    fn accepts_mask(&self) -> bool {
        true
    }
    /// `[x]`, `[x, encoder_sequence]` (rank 3) or `[x, decoder_padding_mask]` (rank 2),
    /// `[x, encoder_sequence, decoder_padding_mask, encoder_padding_mask]`.
    #[track_caller]
    fn call_many(&self, xs: &[Tensor], training: bool) -> Tensor {
        match xs {
            [x] => self.call_full(x, None, None, None, training),
            [x, e] if e.rank() == 3 => self.call_full(x, Some(e), None, None, training),
            [x, m] => self.call_full(x, None, Some(m), None, training),
            [x, e, dm, em] => self.call_full(x, Some(e), Some(dm), Some(em), training),
            _ => panic!(
                "TransformerDecoder '{}': expected [x], [x, encoder_sequence], [x, padding_mask] \
                 or [x, encoder_sequence, decoder_padding_mask, encoder_padding_mask], got {} inputs",
                self.base.name,
                xs.len()
            ),
        }
    }
    fn weights(&self) -> Vec<Variable> {
        let b = &self.block;
        let mut w = b
            .self_attention
            .get()
            .map(|a| a.weights())
            .unwrap_or_default();
        w.extend(b.attention_res.norm.weights());
        if let Some(c) = self.cross_attention.get() {
            w.extend(c.weights());
        }
        w.extend(self.cross_res.norm.weights());
        w.extend(b.ff_weights());
        w
    }
}
