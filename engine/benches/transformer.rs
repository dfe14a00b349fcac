//! Transformer training-step benchmark (issue 19). Prints the CPU model and one
//! `name value unit` line per figure.
//!
//! One training step (forward, GradientTape backward, Adam update) of a 2-layer encoder:
//! Embedding(1000, 128) + PositionEmbedding(64) -> 2 x TransformerEncoder(ff 512, 4 heads,
//! post-norm) -> GlobalAveragePooling1D -> Dense(10), sparse crossentropy from logits, on a batch
//! of 32 sequences of length 64, one thread. The PyTorch comparison (`nn.TransformerEncoderLayer`
//! with the same shapes) is not part of this file yet.
//!
//! Generation: 200 greedy tokens from a one-token prompt with a TransformerLM of the same size
//! (vocabulary 1000, 2 blocks, d 128, 4 heads, ff 512), with the key/value cache and without.

mod common;

use std::time::Instant;

use common::cpu_model;
use ferrolab::prelude::*;

fn main() {
    ferrolab::state::set_num_threads(1);
    set_seed(0);
    println!("cpu {}", cpu_model());
    let (batch, len, vocab, d, classes) = (32usize, 64usize, 1000usize, 128usize, 10usize);
    let emb = Embedding::new(vocab, d);
    let pos = PositionEmbedding::new(len);
    let blocks = [
        TransformerEncoder::new(512, 4),
        TransformerEncoder::new(512, 4),
    ];
    let pool = GlobalAveragePooling1D::new();
    let head = Dense::new(classes);
    let ids: Vec<i64> = (0..batch * len)
        .map(|i| ((i * 7919) % vocab) as i64)
        .collect();
    let ids = from_vec(ids, [batch, len]).unwrap();
    let labels = from_vec(
        (0..batch).map(|i| (i % classes) as i64).collect::<Vec<_>>(),
        [batch],
    )
    .unwrap();
    let loss_fn = SparseCategoricalCrossentropy::from_logits();
    let forward = |training: bool| {
        let h = emb.call(&ids, training);
        let mut h = &h + pos.call(&h, training);
        for b in &blocks {
            h = b.call(&h, training);
        }
        head.call(&pool.call(&h, training), training)
    };
    forward(false); // build
    let mut vars: Vec<Variable> = emb.weights();
    vars.extend(pos.weights());
    for b in &blocks {
        vars.extend(b.weights());
    }
    vars.extend(head.weights());
    let refs: Vec<&Variable> = vars.iter().collect();
    let params: usize = vars.iter().map(|v| v.elem_count()).sum();
    println!("transformer_params {params} weights");
    let mut opt = Adam::new(1e-3);
    let mut step = || {
        let tape = GradientTape::new();
        let loss = loss_fn.call(&labels, &forward(true));
        let grads = tape.gradient(&loss, refs.as_slice());
        opt.apply_gradients(&grads, &refs);
        loss.to_scalar::<f32>()
    };
    step(); // warm-up
    let mut times: Vec<f64> = (0..5)
        .map(|_| {
            let t = Instant::now();
            std::hint::black_box(step());
            t.elapsed().as_secs_f64()
        })
        .collect();
    times.sort_by(|a, b| a.partial_cmp(b).unwrap());
    println!(
        "transformer_encoder_train_step_ms {:.1} ms (median of 5; batch 32 x 64, d 128, 2 layers, 1 thread)",
        times[2] * 1e3
    );

    let lm = TransformerLM::new(vocab, 256, d, 2, 4, 512);
    let prompt = from_vec(vec![1i64], [1, 1]).unwrap();
    let gen = |cache: bool| {
        let t = Instant::now();
        let out = lm.generate(&prompt, 200, Sampler::Greedy, cache);
        (t.elapsed().as_secs_f64(), out.to_vec::<i64>())
    };
    gen(true); // build + warm-up
    let (with, a) = gen(true);
    let (without, b) = gen(false);
    assert_eq!(a, b, "the cache must not change the tokens");
    println!("generate_200_cached_ms {:.1} ms", with * 1e3);
    println!("generate_200_uncached_ms {:.1} ms", without * 1e3);
    println!("generate_cache_speedup {:.1} x", without / with);
}
