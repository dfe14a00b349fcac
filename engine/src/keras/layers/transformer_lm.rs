//! `TransformerLM`: a decoder-only language model built from the Transformer blocks, and its
//! text generation, greedy or top-k with a temperature, with or without a key/value cache.
//!
//! ids (B,T) -> Embedding(vocab, d) + PositionEmbedding(max_length) -> n x TransformerDecoder
//! (causal) -> Dense(vocab): logits (B,T,vocab). Trains like any layer (sparse crossentropy on
//! the next token). [`TransformerLM::generate`] appends tokens to a prompt: with the cache, each
//! new token runs the model on one position (O(n) positions in all); without it, on the whole
//! sequence again (O(n^2)). Both give the same tokens. Sampling happens on the host with its
//! own seeded generator (splitmix64), so a seed fixes the output.

use super::{
    AttentionCache, Dense, Embedding, Layer, LayerBase, PositionEmbedding, TransformerDecoder,
};
use crate::autodiff::Variable;
use crate::tensor::{create::from_vec, Tensor};

/// How the next token is picked from the last position's logits.
#[derive(Clone, Copy, Debug)]
pub enum Sampler {
    /// The most likely token.
    Greedy,
    /// Sample among the `k` most likely tokens, from softmax(logits / temperature).
    TopK {
        k: usize,
        temperature: f32,
        seed: u64,
    },
}

/// A decoder-only Transformer language model (GPT-style).
pub struct TransformerLM {
    embedding: Embedding,
    position: PositionEmbedding,
    blocks: Vec<TransformerDecoder>,
    head: Dense,
    /// (vocab, max_length, d_model, num_layers, num_heads, intermediate_dim), for get_config.
    dims: [usize; 6],
    max_length: usize,
    pub(super) base: LayerBase,
}

impl TransformerLM {
    /// `vocab` tokens, width `d_model`, `num_layers` blocks of `num_heads` heads and
    /// feed-forward `intermediate_dim`, positions up to `max_length`.
    pub fn new(
        vocab: usize,
        max_length: usize,
        d_model: usize,
        num_layers: usize,
        num_heads: usize,
        intermediate_dim: usize,
    ) -> Self {
        TransformerLM {
            embedding: Embedding::new(vocab, d_model),
            position: PositionEmbedding::new(max_length),
            blocks: (0..num_layers)
                .map(|_| TransformerDecoder::new(intermediate_dim, num_heads))
                .collect(),
            head: Dense::new(vocab),
            dims: [
                vocab,
                max_length,
                d_model,
                num_layers,
                num_heads,
                intermediate_dim,
            ],
            max_length,
            base: LayerBase::new("transformer_lm"),
        }
    }

    /// Logits (B,t,vocab) of new positions `ids` (B,t) that follow those in `caches`.
    pub fn call_cached(&self, ids: &Tensor, caches: &mut [AttentionCache]) -> Tensor {
        let start = caches.first().map_or(0, |c| c.len());
        let h = self.embedding.call(ids, false);
        let mut h = &h + self.position.call_at(&h, start);
        for (b, c) in self.blocks.iter().zip(caches.iter_mut()) {
            h = b.call_cached(&h, None, c);
        }
        self.head.call(&h, false)
    }

    /// Appends `n` tokens to each prompt row of `prompt` (B,T0) and returns (B,T0+n) ids.
    #[track_caller]
    pub fn generate(&self, prompt: &Tensor, n: usize, sampler: Sampler, use_cache: bool) -> Tensor {
        let (b, t0) = (prompt.dims()[0], prompt.dims()[1]);
        if t0 == 0 || t0 + n > self.max_length {
            panic!(
                "TransformerLM '{}': a prompt of {t0} tokens plus {n} new ones must fit in \
                 max_length {} (and the prompt must not be empty)",
                self.base.name, self.max_length
            );
        }
        let mut rows: Vec<Vec<i64>> = prompt
            .cast(crate::dtype::DType::I64)
            .to_vec::<i64>()
            .chunks(t0)
            .map(|r| r.to_vec())
            .collect();
        let mut caches = vec![AttentionCache::default(); self.blocks.len()];
        let mut rng = match sampler {
            Sampler::TopK { seed, .. } => seed,
            Sampler::Greedy => 0,
        };
        for step in 0..n {
            let logits = if use_cache {
                let new: Vec<i64> = if step == 0 {
                    rows.concat()
                } else {
                    rows.iter().map(|r| *r.last().unwrap()).collect()
                };
                let t = new.len() / b;
                self.call_cached(&from_vec(new, [b, t]).unwrap(), &mut caches)
            } else {
                let t = rows[0].len();
                self.call(&from_vec(rows.concat(), [b, t]).unwrap(), false)
            };
            let (t, v) = (logits.dims()[1], logits.dims()[2]);
            let last = logits.narrow(1, t - 1, 1).to_f32_vec();
            for (row, l) in rows.iter_mut().zip(last.chunks(v)) {
                row.push(pick(l, sampler, &mut rng));
            }
        }
        from_vec(rows.concat(), [b, t0 + n]).unwrap()
    }
}

/// splitmix64: a uniform in [0, 1).
fn uniform(state: &mut u64) -> f64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
}

fn pick(logits: &[f32], sampler: Sampler, rng: &mut u64) -> i64 {
    let mut order: Vec<usize> = (0..logits.len()).collect();
    order.sort_by(|&a, &b| logits[b].total_cmp(&logits[a]).then(a.cmp(&b)));
    match sampler {
        Sampler::Greedy => order[0] as i64,
        Sampler::TopK { k, temperature, .. } => {
            let top = &order[..k.clamp(1, order.len())];
            let t = temperature.max(1e-6) as f64;
            let m = logits[top[0]] as f64;
            let w: Vec<f64> = top
                .iter()
                .map(|&i| ((logits[i] as f64 - m) / t).exp())
                .collect();
            let mut u = uniform(rng) * w.iter().sum::<f64>();
            for (&i, wi) in top.iter().zip(&w) {
                if u < *wi {
                    return i as i64;
                }
                u -= wi;
            }
            *top.last().unwrap() as i64
        }
    }
}

impl Layer for TransformerLM {
    fn base(&self) -> Option<&LayerBase> {
        Some(&self.base)
    }
    fn class_name(&self) -> &'static str {
        "TransformerLM"
    }
    /// The constructor arguments, so that `Sequential::load` / `load_model` rebuild it.
    fn get_config(&self) -> serde_json::Value {
        let [vocab, max_length, d_model, num_layers, num_heads, intermediate_dim] = self.dims;
        serde_json::json!({"vocab": vocab, "max_length": max_length, "d_model": d_model,
            "num_layers": num_layers, "num_heads": num_heads, "intermediate_dim": intermediate_dim})
    }
    /// ids (B,T) -> logits (B,T,vocab), causal.
    fn call(&self, ids: &Tensor, training: bool) -> Tensor {
        let h = self.embedding.call(ids, training);
        let mut h = &h + self.position.call(&h, training);
        for b in &self.blocks {
            h = b.call(&h, training);
        }
        self.head.call(&h, training)
    }
    fn weights(&self) -> Vec<Variable> {
        let mut w = self.embedding.weights();
        w.extend(self.position.weights());
        for b in &self.blocks {
            w.extend(b.weights());
        }
        w.extend(self.head.weights());
        w
    }
}
