//! The two Transformer tasks of notebook 12, as a plain program that prints its figures:
//! sequence reversal with an encoder-decoder (held-out token accuracy), and a character-level
//! decoder-only model on Shakespeare's sonnets (validation loss against the unigram baseline).
//!
//!     cargo run --release --example transformer_toys
//!
//! Fails below the notebook's targets: reversal accuracy 0.95, char model 30% below unigram.
//! The char model's settings can be changed for experiments with environment variables SEQ
//! (window, 32), STRIDE (16), D (64), LAYERS (2), FF (128), LR (1e-2) and EPOCHS (2).

use std::sync::Arc;
use std::time::Instant;

use ferrolab::datasets::SequenceTask;
use ferrolab::prelude::*;

/// Encoder over the input tokens; learned output-position queries cross-attend to it.
struct Reverser {
    embed: Embedding,
    pos: PositionEmbedding,
    encoder: TransformerEncoder,
    queries: PositionEmbedding,
    cross: MultiHeadAttention,
    head: Dense,
}

impl Reverser {
    fn new(vocab: usize, len: usize, d: usize) -> Self {
        Reverser {
            embed: Embedding::new(vocab, d),
            pos: PositionEmbedding::new(len),
            encoder: TransformerEncoder::new(2 * d, 2),
            queries: PositionEmbedding::new(len),
            cross: MultiHeadAttention::new(2, d / 2),
            head: Dense::new(vocab),
        }
    }
    /// logits (B,T,vocab) and cross-attention scores (B,heads,T,T).
    fn forward(&self, x: &Tensor, training: bool) -> (Tensor, Tensor) {
        let h = self.embed.call(x, training);
        let h = &h + self.pos.call(&h, training);
        let enc = self.encoder.call(&h, training);
        let q = enc.zeros_like() + self.queries.call(&enc, training);
        let (out, scores) = self.cross.call_full(&q, &enc, None, None);
        (self.head.call(&(&out + &q), training), scores)
    }
}

impl Layer for Reverser {
    fn name(&self) -> String {
        "reverser".into()
    }
    fn class_name(&self) -> &'static str {
        "Reverser"
    }
    fn call(&self, x: &Tensor, training: bool) -> Tensor {
        self.forward(x, training).0
    }
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

fn main() {
    println!(
        "cpu {}",
        std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|s| s
                .lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.to_string()))
            .unwrap_or_default()
    );
    set_seed(0);
    let (len, vocab) = (10, 12);
    let _skip_rev = std::env::var("SKIP_REV").is_ok();
    let train = datasets::sequence_task(SequenceTask::Reverse, 4000, len, vocab, 1);
    let test = datasets::sequence_task(SequenceTask::Reverse, 500, len, vocab, 2);
    let rev = Arc::new(Reverser::new(vocab, len, 32));
    let mut model = Sequential::new().add(rev.clone());
    model.compile(
        Adam::new(3e-3),
        SparseCategoricalCrossentropy::from_logits(),
        &[],
    );
    let t = Instant::now();
    let h = model
        .fit(&train.x, &train.y)
        .epochs(8)
        .batch_size(64)
        .verbose(0)
        .run();
    let (logits, scores) = rev.forward(&test.x, false);
    let pred = logits.argmax(-1);
    let acc = pred.equal(&test.y).cast(DType::F32).mean().item();
    println!(
        "reversal: {:.1} s, loss {:.4}, held-out token accuracy {acc:.4}, scores {}",
        t.elapsed().as_secs_f64(),
        h.last("loss").unwrap(),
        scores.shape()
    );

    let sc = scores.narrow(0, 0, 1).to_f32_vec();
    for h in 0..2 {
        let m: f32 = (0..len)
            .map(|i| sc[h * len * len + i * len + (len - 1 - i)])
            .sum::<f32>()
            / len as f32;
        println!("head {h}: mean weight on the anti-diagonal {m:.3}");
    }
    let text = datasets::shakespeare_sonnets();
    let mut tv = TextVectorization::new()
        .standardize("none")
        .split("character");
    tv.adapt([text]);
    let (train_txt, val_txt) = datasets::text_corpus(0.9);
    let v = tv.vocabulary_size();
    let ids = |s: &str| tv.encode(s);
    let (tr, va) = (ids(train_txt), ids(val_txt));
    // unigram baseline: train frequencies (add-one) scored on validation text
    let mut counts = vec![1f64; v];
    for &i in &tr {
        counts[i as usize] += 1.0;
    }
    let total: f64 = counts.iter().sum();
    let unigram = -va
        .iter()
        .map(|&i| (counts[i as usize] / total).ln())
        .sum::<f64>()
        / va.len() as f64;
    let env = |k: &str, d: f64| {
        std::env::var(k)
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(d)
    };
    let t_len = env("SEQ", 32.0) as usize;
    let stride = env("STRIDE", 16.0) as usize;
    let windows = |s: &[i64], step: usize| {
        let n = (s.len() - t_len - 1) / step;
        let mut x: Vec<i64> = Vec::with_capacity(n * t_len);
        let mut y: Vec<i64> = Vec::with_capacity(n * t_len);
        for k in 0..n {
            x.extend(&s[k * step..k * step + t_len]);
            y.extend(&s[k * step + 1..k * step + t_len + 1]);
        }
        (
            from_vec(x, [n, t_len]).unwrap(),
            from_vec(y, [n, t_len]).unwrap(),
        )
    };
    let (xt, yt) = windows(&tr, stride);
    let (xv, yv) = windows(&va, t_len);
    println!(
        "char: vocab {v}, train windows {}, val windows {}, unigram {unigram:.4}",
        xt.dims()[0],
        xv.dims()[0]
    );
    let lm = Arc::new(TransformerLM::new(
        v,
        t_len,
        env("D", 64.0) as usize,
        env("LAYERS", 2.0) as usize,
        4,
        env("FF", 128.0) as usize,
    ));
    let mut cm = Sequential::new().add(lm.clone());
    cm.compile(
        Adam::new(env("LR", 1e-2) as f32),
        SparseCategoricalCrossentropy::from_logits(),
        &[],
    );
    let t = Instant::now();
    let epochs: usize = std::env::var("EPOCHS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2);
    let h = cm
        .fit(&xt, &yt)
        .epochs(epochs)
        .batch_size(32)
        .validation_data(&xv, &yv)
        .verbose(0)
        .run();
    let val = h.last("val_loss").unwrap() as f64;
    println!(
        "char: {:.1} s, loss {:.4}, val_loss {val:.4} ({:.1}% below unigram)",
        t.elapsed().as_secs_f64(),
        h.last("loss").unwrap(),
        100.0 * (1.0 - val / unigram)
    );
    assert!(acc >= 0.95, "reversal accuracy {acc} is below 0.95");
    assert!(
        val <= 0.7 * unigram,
        "val_loss {val} is not 30% below the unigram {unigram}"
    );
    let prompt = from_vec(tv.encode("Shall I"), [1, 7]).unwrap();
    let g = lm.generate(
        &prompt,
        t_len - 7,
        Sampler::TopK {
            k: 5,
            temperature: 0.8,
            seed: 1,
        },
        true,
    );
    println!("sample: {}", tv.decode(&g.to_vec::<i64>(), ""));
}
