//! Transformer building blocks: label smoothing and the warmup schedule by hand; sinusoidal and
//! learned positions; masks (Embedding mask_zero, masked GlobalAveragePooling1D, padded positions
//! change nothing); TransformerEncoder/Decoder against a plain f64 implementation of keras-hub's
//! blocks; the causal mask (a future token changes nothing earlier); gradients by finite
//! differences; a Sequential model of the blocks saved and loaded.
//!
//! x: (B,T,d). Reference block, post-norm: y = LN(x + MHA(x)); out = LN(y + FF(y)); pre-norm:
//! y = x + MHA(LN(x)); out = y + FF(LN(y)); FF(h) = relu(h W1 + b1) W2 + b2; LN eps 1e-5.

use crate::common;
use crate::common::keras as keras_common;

use common::{assert_close, assert_tensor, check_grad, rnd};
use ferrolab::keras::layers::masking::padding_attention_mask;
use ferrolab::keras::layers::{AttentionCache, Sampler, TransformerLM};
use ferrolab::keras::optimizers::LearningRateSchedule;
use ferrolab::prelude::*;
use keras_common::{check_var_grad, seeded, set_weights};
use std::sync::Arc;

fn f64s(t: &Tensor) -> Vec<f64> {
    t.to_f32_vec().into_iter().map(|v| v as f64).collect()
}

// ---- losses and schedule --------------------------------------------------------------------

#[test]
fn label_smoothing_follows_keras_formulas() {
    // CCE, 3 classes, ls = 0.3: t' = t * 0.7 + 0.1 -> [0.1, 0.8, 0.1] for t = [0, 1, 0]
    let t = from_vec(vec![0f32, 1., 0.], [1, 3]).unwrap();
    let p = from_vec(vec![0.2f32, 0.7, 0.1], [1, 3]).unwrap();
    let want = -(0.1 * 0.2f64.ln() + 0.8 * 0.7f64.ln() + 0.1 * 0.1f64.ln());
    let got = CategoricalCrossentropy::new()
        .label_smoothing(0.3)
        .call(&t, &p);
    assert_close(&got.to_f32_vec(), &[want as f32], 1e-6);
    // sparse (extension) agrees with the one-hot loss, on logits too
    let logits = from_vec(vec![1f32, -2., 0.5, 0.3, 0.1, 2.0], [2, 3]).unwrap();
    let onehot = from_vec(vec![0f32, 0., 1., 1., 0., 0.], [2, 3]).unwrap();
    let labels = from_vec(vec![2i64, 0], [2]).unwrap();
    let a = CategoricalCrossentropy::from_logits()
        .label_smoothing(0.2)
        .call(&onehot, &logits);
    let b = SparseCategoricalCrossentropy::from_logits()
        .label_smoothing(0.2)
        .call(&labels, &logits);
    assert_close(&a.to_f32_vec(), &b.to_f32_vec(), 1e-6);
    // BCE, ls = 0.2: z' = z * 0.8 + 0.1 -> 0.9 and 0.1
    let z = from_vec(vec![1f32, 0.], [2, 1]).unwrap();
    let p = from_vec(vec![0.6f32, 0.3], [2, 1]).unwrap();
    let l = |z: f64, p: f64| -(z * p.ln() + (1.0 - z) * (1.0 - p).ln());
    let want = (l(0.9, 0.6) + l(0.1, 0.3)) / 2.0;
    let got = BinaryCrossentropy::new().label_smoothing(0.2).call(&z, &p);
    assert_close(&got.to_f32_vec(), &[want as f32], 1e-6);
    // from logits: the same numbers through the sigmoid
    let x = from_vec(
        vec![0.6f32.ln() - 0.4f32.ln(), 0.3f32.ln() - 0.7f32.ln()],
        [2, 1],
    )
    .unwrap();
    let got = BinaryCrossentropy::from_logits()
        .label_smoothing(0.2)
        .call(&z, &x);
    assert_close(&got.to_f32_vec(), &[want as f32], 1e-5);
}

#[test]
fn transformer_schedule_warms_up_then_decays() {
    // lr(step) = d^-0.5 min(step^-0.5, step warmup^-1.5), step = iterations + 1
    let s = TransformerSchedule::new(128, 4000);
    let d = 128f64.powf(-0.5);
    let lr = |it: u64| s.lr(it) as f64;
    assert!((lr(0) - d * 4000f64.powf(-1.5)).abs() < 1e-12);
    assert!((lr(1999) - d * 2000.0 * 4000f64.powf(-1.5)).abs() < 1e-9);
    assert!((lr(3999) - d / 4000f64.sqrt()).abs() < 1e-9); // the peak
    assert!((lr(15999) - d / 16000f64.sqrt()).abs() < 1e-9);
    assert!(lr(3999) > lr(3998) && lr(3999) > lr(4000));
}

// ---- positions -------------------------------------------------------------------------------

#[test]
fn sine_position_encoding_matches_the_formula() {
    // C = 4: timescales 1, 1, 1e-4^(2/4) = 0.01, 0.01; even features sin, odd cos
    let l = SinePositionEncoding::new();
    let x = zeros([2, 3, 4]);
    let y = l.call(&x, false);
    let row = |p: f64| vec![p.sin(), p.cos(), (p * 0.01).sin(), (p * 0.01).cos()];
    let want: Vec<f32> = (0..2)
        .flat_map(|_| (0..3).flat_map(|p| row(p as f64)))
        .map(|v| v as f32)
        .collect();
    assert_tensor(&y, &[2, 3, 4], &want, 1e-6);
    // start_index shifts positions (one-step decoding)
    let y = l.call_at(&zeros([1, 1, 4]), 2);
    let want: Vec<f32> = row(2.0).into_iter().map(|v| v as f32).collect();
    assert_tensor(&y, &[1, 1, 4], &want, 1e-6);
}

#[test]
fn position_embedding_returns_table_rows_and_their_gradient() {
    let _rng = seeded(3);
    let l = PositionEmbedding::new(5);
    let x = rnd(&[2, 3, 2], 1);
    let y = l.call(&x, false);
    let table = l.weights()[0].read_value().to_vec::<f32>();
    let want: Vec<f32> = [&table[..6], &table[..6]].concat(); // rows 0..3, twice
    assert_tensor(&y, &[2, 3, 2], &want, 0.0);
    let y = l.call_at(&rnd(&[1, 2, 2], 2), 3);
    assert_tensor(&y, &[1, 2, 2], &table[6..10], 0.0);
    // d/dtable of sum(y * x): rows 0..3 get sum over the batch of x, rows 3..5 zero
    let w = l.weights()[0].clone();
    check_var_grad(|| l.call(&x, false) * &x, &w, 1e-2);
}

// ---- masks -----------------------------------------------------------------------------------

#[test]
fn embedding_mask_and_masked_average_pooling() {
    let e = Embedding::new(10, 2).mask_zero(true);
    let ids = from_vec(vec![3i64, 4, 0, 5, 0, 0], [2, 3]).unwrap();
    let mask = e.compute_mask(&ids).unwrap();
    assert_eq!(
        mask.to_vec::<bool>(),
        vec![true, true, false, true, false, false]
    );
    assert!(Embedding::new(10, 2).compute_mask(&ids).is_none());
    // mean over kept steps only: row 0 = (x0 + x1) / 2, row 1 = x3
    let x = from_vec((1..=12).map(|v| v as f32).collect(), [2, 3, 2]).unwrap();
    let pool = GlobalAveragePooling1D::new();
    let y = pool.call_many(&[x.clone(), mask.clone()], false);
    assert_tensor(&y, &[2, 2], &[2.0, 3.0, 7.0, 8.0], 1e-6);
    let y = pool.call(&x, false);
    assert_tensor(&y, &[2, 2], &[3.0, 4.0, 9.0, 10.0], 1e-6);
    // d/dx of the masked mean: 1/count on kept steps, 0 on padding
    check_grad(
        |x| pool.call_many(&[x.clone(), mask.clone()], false),
        &rnd(&[2, 3, 2], 4),
        1e-2,
    );
}

// ---- a plain f64 keras-hub block ------------------------------------------------------------

/// x (n, din) W (din, dout) + b.
fn lin(x: &[f64], n: usize, w: &[f64], b: &[f64]) -> Vec<f64> {
    let (din, dout) = (w.len() / b.len(), b.len());
    let mut y = vec![0.0; n * dout];
    for i in 0..n {
        for o in 0..dout {
            y[i * dout + o] = b[o]
                + (0..din)
                    .map(|c| x[i * din + c] * w[c * dout + o])
                    .sum::<f64>();
        }
    }
    y
}

fn layer_norm(x: &[f64], d: usize, g: &[f64], b: &[f64]) -> Vec<f64> {
    x.chunks(d)
        .flat_map(|r| {
            let m = r.iter().sum::<f64>() / d as f64;
            let v = r.iter().map(|a| (a - m) * (a - m)).sum::<f64>() / d as f64;
            r.iter()
                .enumerate()
                .map(move |(c, a)| (a - m) / (v + 1e-5).sqrt() * g[c] + b[c])
        })
        .collect()
}

/// Multi-head attention of one sequence on itself; keep[i][j]: query i may see key j.
fn mha(
    x: &[f64],
    t: usize,
    heads: usize,
    w: &[Vec<f64>],
    keep: &dyn Fn(usize, usize) -> bool,
) -> Vec<f64> {
    let (q, k, v) = (
        lin(x, t, &w[0], &w[1]),
        lin(x, t, &w[2], &w[3]),
        lin(x, t, &w[4], &w[5]),
    );
    let hk = w[1].len();
    let e = hk / heads;
    let mut ctx = vec![0.0; t * hk];
    for a in 0..heads {
        for i in 0..t {
            let s: Vec<f64> = (0..t)
                .map(|j| {
                    let dot: f64 = (0..e)
                        .map(|c| q[i * hk + a * e + c] * k[j * hk + a * e + c])
                        .sum();
                    if keep(i, j) {
                        dot / (e as f64).sqrt()
                    } else {
                        -1e9
                    }
                })
                .collect();
            let mx = s.iter().cloned().fold(f64::MIN, f64::max);
            let z: f64 = s.iter().map(|v| (v - mx).exp()).sum();
            for j in 0..t {
                let p = (s[j] - mx).exp() / z;
                for c in 0..e {
                    ctx[i * hk + a * e + c] += p * v[j * hk + a * e + c];
                }
            }
        }
    }
    lin(&ctx, t, &w[6], &w[7])
}

/// keras-hub's block on one sequence; w in the layer's `weights()` order.
fn block_ref(
    x: &[f64],
    t: usize,
    heads: usize,
    w: &[Vec<f64>],
    pre: bool,
    keep: &dyn Fn(usize, usize) -> bool,
) -> Vec<f64> {
    let d = w[7].len();
    let add = |a: &[f64], b: &[f64]| -> Vec<f64> { a.iter().zip(b).map(|(a, b)| a + b).collect() };
    let ff = |h: &[f64]| {
        let inner: Vec<f64> = lin(h, t, &w[10], &w[11])
            .into_iter()
            .map(|v| v.max(0.0))
            .collect();
        lin(&inner, t, &w[12], &w[13])
    };
    if pre {
        let y = add(x, &mha(&layer_norm(x, d, &w[8], &w[9]), t, heads, w, keep));
        add(&y, &ff(&layer_norm(&y, d, &w[14], &w[15])))
    } else {
        let y = layer_norm(&add(x, &mha(x, t, heads, w, keep)), d, &w[8], &w[9]);
        layer_norm(&add(&y, &ff(&y)), d, &w[14], &w[15])
    }
}

/// Gives a built block random weights (biases and norms included) and returns them in f64.
fn randomise(layer: &dyn Layer, seed: u64) -> Vec<Vec<f64>> {
    let vals: Vec<Tensor> = layer
        .weights()
        .iter()
        .enumerate()
        .map(|(i, w)| {
            rnd(w.dims(), seed + i as u64) * 0.5
                + if w.name().ends_with("gamma") {
                    1.0
                } else {
                    0.0
                }
        })
        .collect();
    set_weights(layer, &vals);
    vals.iter().map(f64s).collect()
}

#[test]
fn encoder_matches_the_reference_with_padding_mask() {
    let _rng = seeded(7);
    let (b, t, d, heads) = (2, 4, 4, 2);
    for pre in [false, true] {
        let enc = TransformerEncoder::new(6, heads).normalize_first(pre);
        let x = rnd(&[b, t, d], 11);
        enc.call(&x, false); // build
        let w = randomise(&enc, 20);
        assert_eq!(w.len(), 16);
        // batch row 1 has its last step padded: no query sees it
        let mask = from_vec(
            vec![true, true, true, true, true, true, true, false],
            [b, t],
        )
        .unwrap();
        let y = enc.call_many(&[x.clone(), mask.clone()], false);
        let xv = f64s(&x);
        let mut want = block_ref(&xv[..t * d], t, heads, &w, pre, &|_, _| true);
        want.extend(block_ref(&xv[t * d..], t, heads, &w, pre, &|_, j| j < 3));
        let want: Vec<f32> = want.into_iter().map(|v| v as f32).collect();
        assert_tensor(&y, &[b, t, d], &want, 1e-4);
    }
}

#[test]
fn decoder_self_attention_is_causal_and_matches_the_reference() {
    let _rng = seeded(8);
    let (t, d, heads) = (4, 4, 2);
    let dec = TransformerDecoder::new(5, heads);
    let x = rnd(&[1, t, d], 12);
    dec.call(&x, false);
    let w = randomise(&dec, 40);
    assert_eq!(w.len(), 16); // no cross-attention weights in a decoder-only block
    let y = dec.call(&x, false);
    let want: Vec<f32> = block_ref(&f64s(&x), t, heads, &w, false, &|i, j| j <= i)
        .into_iter()
        .map(|v| v as f32)
        .collect();
    assert_tensor(&y, &[1, t, d], &want, 1e-4);
    // perturb the token at position 2: positions 0 and 1 are bit-identical, 2 changes
    let mut xv = x.to_vec::<f32>();
    for v in &mut xv[2 * d..3 * d] {
        *v += 1.0;
    }
    let y2 = dec
        .call(&from_vec(xv, [1, t, d]).unwrap(), false)
        .to_vec::<f32>();
    let y = y.to_vec::<f32>();
    assert_eq!(
        &y[..2 * d],
        &y2[..2 * d],
        "earlier positions must not see a later token"
    );
    assert!(
        y[2 * d..3 * d] != y2[2 * d..3 * d],
        "position 2 must change"
    );
}

#[test]
fn padded_positions_change_nothing_end_to_end() {
    // ids -> Embedding(mask_zero) + positions -> encoder -> decoder (cross) -> masked mean
    let _rng = seeded(9);
    let emb = Embedding::new(12, 8).mask_zero(true);
    let pos = SinePositionEncoding::new();
    let enc = TransformerEncoder::new(16, 2).dropout(0.1);
    let dec = TransformerDecoder::new(16, 2).normalize_first(true);
    let pool = GlobalAveragePooling1D::new();
    let run = |ids: Vec<i64>| {
        let n = ids.len();
        let ids = from_vec(ids, [1, n]).unwrap();
        let mask = emb.compute_mask(&ids).unwrap();
        let h = emb.call(&ids, false);
        let h = &h + pos.call(&h, false);
        let e = enc.call_many(&[h.clone(), mask.clone()], false);
        let target = rnd(&[1, 3, 8], 5);
        let dmask = from_vec(vec![true; 3], [1, 3]).unwrap();
        let o = dec.call_many(&[target, e.clone(), dmask, mask.clone()], false);
        (
            pool.call_many(&[e, mask], false).to_vec::<f32>(),
            o.to_vec::<f32>(),
        )
    };
    let (a, oa) = run(vec![3, 7, 5, 0]);
    let (b, ob) = run(vec![3, 7, 5, 0, 0, 0]);
    assert_close(&a, &b, 1e-6);
    assert_close(&oa, &ob, 1e-6);
    // and the real tokens do matter
    let (c, _) = run(vec![3, 7, 6, 0]);
    assert!(a.iter().zip(&c).any(|(x, y)| (x - y).abs() > 1e-4));
}

#[test]
fn block_gradients_match_finite_differences() {
    let _rng = seeded(10);
    // d/dx through attention, residuals, norms and feed-forward, both norm placements
    for pre in [false, true] {
        let enc = TransformerEncoder::new(6, 2).normalize_first(pre);
        let x = rnd(&[1, 3, 4], 21);
        enc.call(&x, false);
        check_grad(|x| enc.call(x, false) * &rnd(&[1, 3, 4], 30), &x, 2e-2);
    }
    // decoder with cross-attention: d/d(encoder sequence) and d/d(a cross-attention kernel)
    let dec = TransformerDecoder::new(6, 2);
    let (x, e) = (rnd(&[1, 3, 4], 22), rnd(&[1, 2, 4], 23));
    dec.call_many(&[x.clone(), e.clone()], false);
    assert_eq!(dec.weights().len(), 26);
    check_grad(
        |e| dec.call_many(&[x.clone(), e.clone()], false) * &rnd(&[1, 3, 4], 31),
        &e,
        2e-2,
    );
    let wq = dec.weights()[10].clone(); // cross-attention query kernel
    check_var_grad(
        || dec.call_many(&[x.clone(), e.clone()], false) * &rnd(&[1, 3, 4], 31),
        &wq,
        2e-2,
    );
}

#[test]
fn padding_attention_mask_hides_padded_keys() {
    let m = from_vec(vec![1f32, 1., 0.], [1, 3]).unwrap();
    let a = padding_attention_mask(Some(&m), None, 2).unwrap();
    assert_eq!(a.dims(), &[1, 2, 3]);
    assert_eq!(
        a.to_vec::<bool>(),
        vec![true, true, false, true, true, false]
    );
}

#[test]
fn sequential_transformer_trains_saves_and_loads() {
    let _rng = seeded(12);
    let mut model = Sequential::new()
        .add(Embedding::new(20, 8))
        .add(
            TransformerEncoder::new(16, 2)
                .dropout(0.1)
                .normalize_first(true),
        )
        .add(TransformerDecoder::new(16, 2))
        .add(GlobalAveragePooling1D::new())
        .add(Dense::new(3))
        .input_shape([5]);
    model.compile(
        Adam::new(1e-3).learning_rate_schedule(TransformerSchedule::new(8, 10)),
        CategoricalCrossentropy::from_logits().label_smoothing(0.1),
        &["accuracy"],
    );
    let x = from_vec((0..40).map(|i| ((i * 7) % 20) as f32).collect(), [8, 5]).unwrap();
    let y = one_hot(
        &from_vec((0..8).map(|i| i % 3).collect::<Vec<i64>>(), [8]).unwrap(),
        3,
    );
    let h = model.fit(&x, &y).epochs(3).batch_size(4).verbose(0).run();
    assert!(h.get("loss").unwrap().iter().all(|l| l.is_finite()));
    let before = model.predict(&x).to_vec::<f32>();
    let d = std::env::temp_dir().join(format!("ferrolab-tf19-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    let path = d
        .join("transformer.safetensors")
        .to_string_lossy()
        .into_owned();
    model.save(&path).unwrap();
    let loaded = Sequential::load(&path).unwrap();
    assert_eq!(loaded.summary().total_params, model.summary().total_params);
    assert_eq!(before, loaded.predict(&x).to_vec::<f32>());
}

#[test]
fn transformer_lm_saves_and_loads_in_a_sequential() {
    let _rng = seeded(14);
    let mut model = Sequential::new()
        .add(TransformerLM::new(9, 6, 8, 2, 2, 16))
        .input_shape([6]);
    model.compile(
        Adam::new(1e-2),
        SparseCategoricalCrossentropy::from_logits(),
        &[],
    );
    let x = from_vec((0..24).map(|i| (i % 9) as i64).collect(), [4, 6]).unwrap();
    let y = from_vec((1..25).map(|i| (i % 9) as i64).collect(), [4, 6]).unwrap();
    model.fit(&x, &y).epochs(2).batch_size(2).verbose(0).run();
    let before = model.predict(&x).to_vec::<f32>();
    let d = std::env::temp_dir().join(format!("ferrolab-tf19-lm-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    let path = d.join("lm.safetensors").to_string_lossy().into_owned();
    model.save(&path).unwrap();
    let loaded = Sequential::load(&path).unwrap();
    assert_eq!(loaded.layers()[0].class_name(), "TransformerLM");
    assert_eq!(loaded.layers()[0].get_config()["max_length"], 6);
    assert_eq!(loaded.summary().total_params, model.summary().total_params);
    assert_eq!(before, loaded.predict(&x).to_vec::<f32>());
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn functional_model_takes_a_mask_input_and_round_trips() {
    // ids and their padding mask as two inputs; the mask feeds the encoder and the pooling
    let _rng = seeded(13);
    let ids = Input::with_dtype([6], ferrolab::dtype::DType::I64);
    let m = Input::new([6]);
    let h = Embedding::new(12, 8).apply(&ids);
    let p = PositionEmbedding::new(6).apply(&h);
    let h = Add::new().apply_many(&[&h, &p]);
    let e = TransformerEncoder::new(16, 2).apply_many(&[&h, &m]);
    let o = GlobalAveragePooling1D::new().apply_many(&[&e, &m]);
    let out = Dense::new(3).apply(&o);
    let model = Model::new(&[&ids, &m], &[&out]);
    let mask = from_vec(vec![1f32, 1., 1., 0., 0., 0.], [1, 6]).unwrap();
    let run = |model: &Model, v: Vec<i64>| {
        let x = from_vec(v, [1, 6]).unwrap();
        model
            .forward(&[x, mask.clone()], false)
            .swap_remove(0)
            .to_vec::<f32>()
    };
    let a = run(&model, vec![3, 7, 5, 0, 0, 0]);
    // what sits at padded positions changes nothing
    assert_close(&a, &run(&model, vec![3, 7, 5, 9, 4, 2]), 1e-6);
    let d = std::env::temp_dir().join(format!("ferrolab-tf19-f-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    let path = d
        .join("functional.safetensors")
        .to_string_lossy()
        .into_owned();
    model.save(&path).unwrap();
    let loaded = Model::load(&path).unwrap();
    assert_eq!(a, run(&loaded, vec![3, 7, 5, 0, 0, 0]));
}

#[test]
fn functional_model_propagates_the_embedding_mask() {
    // Keras' automatic mask propagation in a Functional model: Embedding(mask_zero) ->
    // encoder -> Dense -> masked pooling on padded ids gives what the same layers give on the
    // unpadded ids alone
    let _rng = seeded(15);
    let emb = Arc::new(Embedding::new(12, 8).mask_zero(true));
    let enc = Arc::new(TransformerEncoder::new(16, 2));
    let dense = Arc::new(Dense::new(4));
    let pool = Arc::new(GlobalAveragePooling1D::new());
    let ids = Input::with_dtype([6], ferrolab::dtype::DType::I64);
    let h = emb.clone().apply(&ids);
    let h = enc.clone().apply(&h);
    let h = dense.clone().apply(&h);
    let o = pool.clone().apply(&h);
    let model = Model::new(&[&ids], &[&o]);
    let padded = from_vec(vec![3i64, 7, 5, 0, 0, 0], [1, 6]).unwrap();
    let a = model
        .forward(&[padded], false)
        .swap_remove(0)
        .to_vec::<f32>();
    let short = from_vec(vec![3i64, 7, 5], [1, 3]).unwrap();
    let h = emb.invoke(&[short], false);
    let h = enc.invoke(&[h], false);
    let h = dense.invoke(&[h], false);
    let b = pool.invoke(&[h], false).to_vec::<f32>();
    assert_close(&a, &b, 1e-6);
    // and the padded positions do count when nothing masks them
    let h = enc.invoke(
        &[emb.invoke(
            &[from_vec(vec![3i64, 7, 5, 0, 0, 0], [1, 6]).unwrap()],
            false,
        )],
        false,
    );
    let c = pool
        .invoke(&[dense.invoke(&[h], false)], false)
        .to_vec::<f32>();
    assert!(
        a.iter().zip(&c).any(|(x, y)| (x - y).abs() > 1e-4),
        "padding counts without a mask"
    );
}

#[test]
fn sequential_propagates_the_embedding_mask() {
    // Embedding(mask_zero) -> encoder -> Dense (mask passes) -> pooling: trailing padding
    // changes nothing; without mask_zero it does
    let _rng = seeded(14);
    let build = |mask_zero: bool| {
        Sequential::new()
            .add(Embedding::new(12, 8).mask_zero(mask_zero))
            .add(TransformerEncoder::new(16, 2))
            .add(Dense::new(4))
            .add(GlobalAveragePooling1D::new())
    };
    let ids = |v: Vec<i64>| {
        let n = v.len();
        from_vec(v, [1, n]).unwrap()
    };
    let (short, long) = (ids(vec![3, 7, 5, 0]), ids(vec![3, 7, 5, 0, 0, 0]));
    let masked = build(true);
    let a = masked.call(&short, false).to_vec::<f32>();
    assert_close(&a, &masked.call(&long, false).to_vec::<f32>(), 1e-6);
    // the reference: the same model on the unpadded ids alone
    assert_close(
        &a,
        &masked.call(&ids(vec![3, 7, 5]), false).to_vec::<f32>(),
        1e-6,
    );
    let plain = build(false);
    let (p, q) = (
        plain.call(&short, false).to_vec::<f32>(),
        plain.call(&long, false).to_vec::<f32>(),
    );
    assert!(
        p.iter().zip(&q).any(|(x, y)| (x - y).abs() > 1e-4),
        "padding counts without a mask"
    );
}

#[test]
fn multi_head_attention_takes_a_padding_mask() {
    // [x, padding_mask] = call_full with the (B,Tq,Tv) mask that hides padded keys
    let _rng = seeded(15);
    let mha = MultiHeadAttention::new(2, 3);
    let x = rnd(&[2, 3, 4], 40);
    let pad = from_vec(vec![1f32, 1., 1., 1., 0., 0.], [2, 3]).unwrap();
    let y = mha.call_many(&[x.clone(), pad.clone()], false);
    let keep = from_vec(
        [[true; 3]; 3]
            .concat()
            .into_iter()
            .chain([[true, false, false]; 3].concat())
            .collect::<Vec<_>>(),
        [2, 3, 3],
    )
    .unwrap();
    let (want, scores) = mha.call_full(&x, &x, None, Some(&keep));
    assert_close(&y.to_vec::<f32>(), &want.to_vec::<f32>(), 1e-6);
    // the second sequence attends only to its first step
    let s = scores.to_vec::<f32>();
    assert_close(&s[18..21], &[1.0, 0.0, 0.0], 1e-6);
    // in a Sequential after Embedding(mask_zero), trailing padding changes nothing
    let model = Sequential::new()
        .add(Embedding::new(9, 4).mask_zero(true))
        .add(MultiHeadAttention::new(2, 2))
        .add(GlobalAveragePooling1D::new());
    let a = model
        .call(&from_vec(vec![4i64, 2, 0], [1, 3]).unwrap(), false)
        .to_vec::<f32>();
    let b = model
        .call(&from_vec(vec![4i64, 2], [1, 2]).unwrap(), false)
        .to_vec::<f32>();
    assert_close(&a, &b, 1e-6);
}

#[test]
fn cached_decoding_matches_the_full_causal_pass() {
    // two decoder blocks (one with cross-attention) run one position at a time with a
    // key/value cache give the full pass's outputs at every position
    let _rng = seeded(16);
    let (t, d) = (5, 8);
    let blocks = [
        TransformerDecoder::new(16, 2),
        TransformerDecoder::new(16, 2).normalize_first(true),
    ];
    let enc = rnd(&[2, 3, d], 50);
    let pos = SinePositionEncoding::new();
    let x = rnd(&[2, t, d], 51);
    let full = {
        let mut h = &x + pos.call(&x, false);
        h = blocks[0].call(&h, false);
        blocks[1].call_many(&[h, enc.clone()], false)
    };
    let mut caches = [AttentionCache::default(), AttentionCache::default()];
    let mut steps = Vec::new();
    for i in 0..t {
        let xi = x.narrow(1, i, 1);
        let mut h = &xi + pos.call_at(&xi, i);
        h = blocks[0].call_cached(&h, None, &mut caches[0]);
        h = blocks[1].call_cached(&h, Some(&enc), &mut caches[1]);
        steps.push(h);
    }
    assert_eq!(caches[0].len(), t);
    let refs: Vec<&Tensor> = steps.iter().collect();
    let stepped = concat(&refs, 1);
    assert_close(&stepped.to_vec::<f32>(), &full.to_vec::<f32>(), 1e-5);
    // a two-position chunk after a prefix works too (causal inside the chunk)
    let mut c = AttentionCache::default();
    let h = &x + pos.call(&x, false);
    let a = blocks[0].call_cached(&h.narrow(1, 0, 3), None, &mut c);
    let b = blocks[0].call_cached(&h.narrow(1, 3, 2), None, &mut c);
    let want = blocks[0].call(&h, false);
    assert_close(
        &concat(&[&a, &b], 1).to_vec::<f32>(),
        &want.to_vec::<f32>(),
        1e-5,
    );
}

#[test]
fn language_model_generates_the_same_tokens_with_and_without_the_cache() {
    let _rng = seeded(17);
    let lm = std::sync::Arc::new(TransformerLM::new(11, 24, 16, 2, 2, 32));
    // learn "next = token + 1 (mod 11)" on counting sequences
    let xs: Vec<i64> = (0..64)
        .flat_map(|s| (0..8).map(move |i| ((s + i) % 11) as i64))
        .collect();
    let ys: Vec<i64> = (0..64)
        .flat_map(|s| (1..9).map(move |i| ((s + i) % 11) as i64))
        .collect();
    let (x, y) = (
        from_vec(xs, [64, 8]).unwrap(),
        from_vec(ys, [64, 8]).unwrap(),
    );
    let mut model = Sequential::new().add(lm.clone());
    model.compile(
        Adam::new(1e-2),
        SparseCategoricalCrossentropy::from_logits(),
        &[],
    );
    let h = model.fit(&x, &y).epochs(40).batch_size(16).verbose(0).run();
    assert!(h.last("loss").unwrap() < 0.1, "loss {:?}", h.last("loss"));
    let prompt = from_vec(vec![3i64, 4, 9, 10], [2, 2]).unwrap();
    let greedy = lm.generate(&prompt, 6, Sampler::Greedy, true);
    assert_eq!(
        greedy.to_vec::<i64>(),
        vec![3, 4, 5, 6, 7, 8, 9, 10, 9, 10, 0, 1, 2, 3, 4, 5]
    );
    assert_eq!(
        greedy.to_vec::<i64>(),
        lm.generate(&prompt, 6, Sampler::Greedy, false)
            .to_vec::<i64>()
    );
    let topk = Sampler::TopK {
        k: 3,
        temperature: 2.0,
        seed: 5,
    };
    assert_eq!(
        lm.generate(&prompt, 6, topk, true).to_vec::<i64>(),
        lm.generate(&prompt, 6, topk, false).to_vec::<i64>()
    );
}
