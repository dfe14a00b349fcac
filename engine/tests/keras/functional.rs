//! The Functional API: `Input` -> layer calls on symbolic tensors -> `Model::new(inputs, outputs)`.
//! A multi-input multi-output model against the same layers composed by hand, a shared layer
//! (one set of weights, one update per step), shape errors reported at build time naming the
//! layer, and `summary()` rows.

use crate::common;
use crate::common::keras as keras_common;

use std::sync::Arc;

use common::{assert_close, assert_contains, panic_message, rnd};
use ferrolab::keras::models::try_apply;
use ferrolab::prelude::*;
use keras_common::seeded;

/// a (4) -> Dense(5, tanh) -> concat with b (3) -> [Dense(1), Dense(3)].
struct TwoHeads {
    model: Model,
    trunk: Arc<Dense>,
    head1: Arc<Dense>,
    head2: Arc<Dense>,
}

fn two_heads() -> TwoHeads {
    let (a, b) = (Input::new([4]), Input::new([3]));
    let trunk = Arc::new(Dense::new(5).activation("tanh"));
    let h = trunk.clone().apply(&a);
    let cat = Concatenate::default().apply_many(&[&h, &b]);
    assert_eq!(cat.shape(), vec![None, Some(8)]);
    let (head1, head2) = (Arc::new(Dense::new(1)), Arc::new(Dense::new(3)));
    let (o1, o2) = (head1.clone().apply(&cat), head2.clone().apply(&cat));
    assert_eq!(
        (o1.shape(), o2.shape()),
        (vec![None, Some(1)], vec![None, Some(3)])
    );
    TwoHeads {
        model: Model::new(&[&a, &b], &[&o1, &o2]),
        trunk,
        head1,
        head2,
    }
}

/// The same graph written out with tensor ops.
fn by_hand(m: &TwoHeads, xa: &Tensor, xb: &Tensor) -> (Tensor, Tensor) {
    let dense = |d: &Dense, x: &Tensor| x.matmul(&d.kernel().unwrap()) + &*d.bias().unwrap();
    let h = dense(&m.trunk, xa).tanh();
    let c = concat(&[&h, xb], 1);
    (dense(&m.head1, &c), dense(&m.head2, &c))
}

#[test]
fn multi_input_multi_output_model_matches_its_layers_composed_by_hand() {
    let _g = seeded(1);
    let m = two_heads();
    let (xa, xb) = (rnd(&[64, 4], 1), rnd(&[64, 3], 2));
    let outs = m.model.forward(&[xa.clone(), xb.clone()], false);
    let (r1, r2) = by_hand(&m, &xa, &xb);
    assert_eq!(
        (outs[0].dims(), outs[1].dims()),
        (&[64, 1][..], &[64, 3][..])
    );
    assert_close(&outs[0].to_vec::<f32>(), &r1.to_vec::<f32>(), 1e-6);
    assert_close(&outs[1].to_vec::<f32>(), &r2.to_vec::<f32>(), 1e-6);
    let preds = m.model.predict_multi(&[&xa, &xb]);
    assert_eq!(preds[0].to_vec::<f32>(), outs[0].to_vec::<f32>());
    assert_eq!(preds[1].to_vec::<f32>(), outs[1].to_vec::<f32>());
    // weights: trunk, head1, head2 (kernel + bias each), trainable first
    assert_eq!(m.model.weights().len(), 6);
    assert_eq!(m.model.count_params(), (4 * 5 + 5) + (8 + 1) + (8 * 3 + 3));
}

#[test]
fn multi_output_training_sums_the_losses_and_learns() {
    let _g = seeded(2);
    let mut m = two_heads();
    let (xa, xb) = (rnd(&[64, 4], 3), rnd(&[64, 3], 4));
    // targets: y1 = sum of all inputs, y2 = the class of the largest of b's three features
    let y1 = (xa.sum_axis(1, true) + xb.sum_axis(1, true)) * 0.5;
    let y2 = xb.argmax(1);
    m.model.compile_multi(
        Box::new(Adam::new(0.02)),
        vec![
            Box::new(MeanSquaredError),
            Box::new(SparseCategoricalCrossentropy::from_logits()),
        ],
        &["accuracy"],
    );
    let before = m.model.evaluate_multi(&[&xa, &xb], &[&y1, &y2]);
    // evaluate's loss is the sum of the outputs' losses, computed here from predict
    let p = m.model.predict_multi(&[&xa, &xb]);
    let want = MeanSquaredError.call(&y1, &p[0]).item()
        + SparseCategoricalCrossentropy::from_logits()
            .call(&y2, &p[1])
            .item();
    assert_close(&[before.get("loss").unwrap()], &[want], 1e-5);
    // with several outputs, metrics are named after the output layer: "<layer>_accuracy"
    let acc_key = before
        .names()
        .into_iter()
        .rev()
        .find(|n| n.ends_with("_accuracy") && !n.starts_with("output_"))
        .unwrap_or_else(|| panic!("logs: {:?}", before.names()))
        .to_string();
    assert!(acc_key.starts_with("dense"), "{acc_key}");
    let h = m
        .model
        .fit_multi(&[&xa, &xb], &[&y1, &y2])
        .epochs(60)
        .batch_size(16)
        .verbose(0)
        .run();
    let after = m.model.evaluate_multi(&[&xa, &xb], &[&y1, &y2]);
    println!(
        "loss {} -> {}; history {h}",
        want,
        after.get("loss").unwrap()
    );
    assert!(after.get("loss").unwrap() < 0.1 * want, "{after}");
    assert!(after.get(&acc_key).unwrap() >= 0.95, "{after}");
    assert_eq!(h.len(), 60);
}

#[test]
fn a_shared_layer_has_one_set_of_weights_and_one_update_per_step() {
    let _g = seeded(3);
    let shared = Arc::new(Dense::new(4));
    let (a, b) = (Input::new([3]), Input::new([3]));
    let (ya, yb) = (shared.clone().apply(&a), shared.clone().apply(&b));
    let s = Add::new().apply_many(&[&ya, &yb]);
    let mut model = Model::new(&[&a, &b], &[&s]);
    assert_eq!(model.weights().len(), 2, "the shared kernel and bias, once");
    assert_eq!(model.count_params(), 3 * 4 + 4);
    let sm = model.summary();
    assert_eq!(sm.total_params, 16);
    assert_eq!(sm.rows.iter().map(|r| r.params).sum::<usize>(), 16);
    // y = D(xa) + D(xb) with one D: feeding x twice gives 2 D(x)
    let x = rnd(&[5, 3], 5);
    let y = model.forward(&[x.clone(), x.clone()], false).swap_remove(0);
    let twice = shared.call(&x, false) * 2.0;
    assert_close(&y.to_vec::<f32>(), &twice.to_vec::<f32>(), 1e-6);
    // one SGD step of fit (one batch, no shuffle) = w - lr dL/dw, with the gradient summed over
    // both uses of the layer, applied once
    let (xa, xb, t) = (rnd(&[8, 3], 6), rnd(&[8, 3], 7), rnd(&[8, 4], 8));
    let k = shared.kernel().unwrap();
    let k0 = k.read_value();
    let grad = {
        let tape = GradientTape::new();
        let out = shared.call(&xa, true) + shared.call(&xb, true);
        let loss = MeanSquaredError.call(&t, &out);
        let [g] = tape.gradient(&loss, [&k]);
        g.unwrap()
    };
    model.compile_multi(
        Box::new(SGD::new(0.1)),
        vec![Box::new(MeanSquaredError)],
        &[],
    );
    model
        .fit_multi(&[&xa, &xb], &[&t])
        .batch_size(8)
        .shuffle(false)
        .verbose(0)
        .run();
    let want = k0 - grad * 0.1;
    assert_close(&k.to_vec::<f32>(), &want.to_vec::<f32>(), 1e-6);
    // and it saves without a duplicate-name error
    let dir = std::env::temp_dir().join(format!("ferrolab-shared-{}", std::process::id()));
    let path = dir.join("shared.safetensors");
    model.save_weights(path.to_str().unwrap()).unwrap();
    model.load_weights(path.to_str().unwrap()).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn shape_mismatches_are_reported_when_the_model_is_built_naming_the_layer() {
    let _rng = crate::common::global_rng(); // draws unseeded: initial weights, fit
    let x = Input::new([3]);
    let proj: Arc<dyn Layer> = Arc::new(Dense::new(2).named("proj"));
    try_apply(proj.clone(), &[&x]).unwrap();
    // the same Dense on 5 features: an error at build time, not at fit
    let y = Input::new([5]);
    let err = try_apply(proj.clone(), &[&y])
        .expect_err("a shape error")
        .to_string();
    println!("{err}");
    assert_contains(&err, &["'proj'", "(Dense)", "(None, 5)", "3 features"]);
    // through apply: the panic carries the same message
    let msg = panic_message(|| Conv2D::new(4, 3).named("stem").apply(&x));
    assert_contains(
        &msg,
        &["layer 'stem' (Conv2D) cannot take input shape (None, 3)"],
    );
    let (p, q) = (Input::new([4, 5]), Input::new([3]));
    let msg = panic_message(|| Concatenate::default().apply_many(&[&p, &q]));
    assert_contains(&msg, &["(Concatenate)", "(None, 4, 5) and (None, 3)"]);
    let msg = panic_message(|| Reshape::new([7]).apply(&p));
    assert_contains(&msg, &["(Reshape)", "(None, 4, 5)"]);
    // an output that depends on an input the model was not given
    let (i1, i2) = (Input::new([2]), Input::new([2]));
    let out = Add::new().apply_many(&[&i1, &i2]);
    let err = Model::try_new(&[&i1], &[&out]).err().unwrap().to_string();
    assert_contains(&err, &["not in the model's inputs"]);
    // a model fed the wrong shape names its input
    let m = Model::new(&[&i1, &i2], &[&out]);
    let msg = panic_message(|| m.forward(&[zeros([1, 2]), zeros([1, 3])], false));
    assert_contains(&msg, &["expects shape (None, 2), got (1, 3)"]);
    let msg = panic_message(|| m.forward(&[zeros([1, 2])], false));
    assert_contains(&msg, &["expects 2 inputs, got 1"]);
}

#[test]
fn summary_rows_follow_the_graph() {
    let _rng = crate::common::global_rng(); // draws unseeded: initial weights, fit
    let ids = Input::with_dtype([6], DType::I64);
    let emb = Arc::new(Embedding::new(50, 8));
    let e = emb.clone().apply(&ids);
    let f = Flatten::new().apply(&e);
    let d = Arc::new(Dense::new(2).activation("softmax").named("probs"));
    let out = d.clone().apply(&f);
    let model = Model::new(&[&ids], &[&out]);
    let s = model.summary();
    println!("{s}");
    let rows: Vec<(String, String, String, usize)> = s
        .rows
        .iter()
        .map(|r| {
            (
                r.name.clone(),
                r.class_name.clone(),
                r.output_shape.clone(),
                r.params,
            )
        })
        .collect();
    let row = |n: String, c: &str, o: &str, p| (n, c.to_string(), o.to_string(), p);
    assert_eq!(rows[0].1, "InputLayer");
    assert_eq!(rows[0].2, "(None, 6)");
    assert_eq!(
        rows[1],
        row(Layer::name(&*emb), "Embedding", "(None, 6, 8)", 400)
    );
    assert_eq!(rows[2].1, "Flatten");
    assert_eq!(rows[2].2, "(None, 48)");
    assert_eq!(rows[3], row("probs".into(), "Dense", "(None, 2)", 98));
    assert_eq!((s.total_params, s.trainable_params), (498, 498));
    // the model runs on int64 ids and its rows sum to one
    let p = model.predict(&tensor([[1i64, 2, 3, 4, 5, 49]]));
    assert_close(&[p.sum().item()], &[1.0], 1e-6);
    // a functional model is itself a layer: nest it in a Sequential
    let outer = Sequential::new().add(model).input_shape([6]);
    assert_eq!(outer.count_params(), 498);
    assert_eq!(outer.summary().rows[0].class_name, "Functional");
}

#[test]
fn functional_autoencoder_from_an_encoder_and_a_decoder_model() {
    // the Keras guide's pattern: encoder = Model(img, code), decoder = Model(code_in, img_out),
    // autoencoder = Model(img, decoder(encoder(img))); training it trains the two parts
    let _g = seeded(4);
    let img = Input::new([64]);
    let code = Dense::new(8).activation("relu").apply(&img);
    let encoder = Arc::new(Model::new(&[&img], &[&code]));
    let code_in = Input::new([8]);
    let out = Dense::new(64).activation("sigmoid").apply(&code_in);
    let decoder = Arc::new(Model::new(&[&code_in], &[&out]));
    let x_in = Input::new([64]);
    let z = encoder.clone().apply(&x_in);
    let y = decoder.clone().apply(&z);
    let mut ae = Model::new(&[&x_in], &[&y]);
    assert_eq!(ae.count_params(), (64 * 8 + 8) + (8 * 64 + 64));
    let s = ae.summary();
    let rows: Vec<&str> = s.rows.iter().map(|r| r.class_name.as_str()).collect();
    assert_eq!(rows, ["InputLayer", "Functional", "Functional"]);
    let (train, _) = datasets::digits().split(500, 3);
    ae.compile_multi(
        Box::new(Adam::new(0.01)),
        vec![Box::new(MeanSquaredError)],
        &[],
    );
    let k0 = encoder.weights()[0].to_vec::<f32>();
    let h = ae
        .fit_multi(&[&train.x], &[&train.x])
        .epochs(5)
        .batch_size(50)
        .verbose(0)
        .run();
    let loss = h.get("loss").unwrap();
    assert!(loss[4] < 0.7 * loss[0], "{h}");
    assert_ne!(
        encoder.weights()[0].to_vec::<f32>(),
        k0,
        "the encoder was trained"
    );
    // decoder(encoder(x)) computed part by part is the autoencoder's output
    let parts = decoder.predict(&encoder.predict(&train.x));
    assert_close(
        &parts.to_vec::<f32>(),
        &ae.predict(&train.x).to_vec::<f32>(),
        1e-6,
    );
}
