//! Whole-model saving: architecture + weights in one safetensors file, rebuilt exactly.

use ferrolab::prelude::*;

fn tmp(name: &str) -> String {
    let d = std::env::temp_dir().join(format!("ferrolab-save-model-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d.join(name).to_string_lossy().into_owned()
}

#[test]
fn cnn_with_batchnorm_round_trips_exactly() {
    let _rng = crate::common::global_rng(); // draws unseeded: initial weights, fit
    set_seed(11);
    let (train, _) = datasets::digits().split(200, 1);
    let x = train.images();
    let mut model = Sequential::new()
        .add(Conv2D::new(4, 3).padding("same").activation("relu"))
        .add(BatchNormalization::new())
        .add(MaxPooling2D::new(2))
        .add(Flatten::new())
        .add(Dropout::new(0.1))
        .add(Dense::new(10))
        .input_shape([8, 8, 1]);
    model.compile(
        Adam::new(1e-2),
        SparseCategoricalCrossentropy::from_logits(),
        &["accuracy"],
    );
    model.fit(&x, &train.y).epochs(2).verbose(0).run();
    let before = model.predict(&x).to_vec::<f32>();
    let path = tmp("cnn.safetensors");
    model.save(&path).unwrap();
    let loaded = Sequential::load(&path).unwrap();
    assert_eq!(loaded.summary().total_params, model.summary().total_params);
    assert_eq!(loaded.summary().non_trainable_params, 8); // BN moving mean + variance
    let after = loaded.predict(&x).to_vec::<f32>();
    assert_eq!(
        before, after,
        "predictions must be bit-identical after load"
    );
}

#[test]
fn recurrent_model_round_trips_and_weights_only_files_say_so() {
    let _rng = crate::common::global_rng(); // draws unseeded: initial weights, fit
    set_seed(5);
    let model = Sequential::new()
        .add(LSTM::new(6).return_sequences(true))
        .add(GRU::new(4))
        .add(Dense::new(1))
        .input_shape([5, 3]);
    let x = normal([2, 5, 3], 0.0, 1.0, Some(9));
    let path = tmp("rnn.safetensors");
    model.save(&path).unwrap();
    let loaded = Sequential::load(&path).unwrap();
    assert_eq!(
        model.predict(&x).to_vec::<f32>(),
        loaded.predict(&x).to_vec::<f32>()
    );
    let wpath = tmp("weights_only.safetensors");
    model.save_weights(&wpath).unwrap();
    let err = Sequential::load(&wpath).err().unwrap().to_string();
    assert!(err.contains("holds weights only"), "{err}");
}

#[test]
fn functional_model_with_shared_layer_and_two_outputs_round_trips() {
    let _rng = crate::common::global_rng(); // draws unseeded: initial weights, fit
    use std::sync::Arc;
    set_seed(21);
    let (a, b) = (Input::new([4]), Input::new([4]));
    let shared = Arc::new(Dense::new(6).activation("relu"));
    let (ha, hb) = (shared.clone().apply(&a), shared.clone().apply(&b));
    let cat = Concatenate::default().apply_many(&[&ha, &hb]);
    let o1 = Dense::new(1).apply(&cat);
    let o2 = Dense::new(3).activation("softmax").apply(&ha);
    let model = Model::new(&[&a, &b], &[&o1, &o2]);
    // the shared layer counts once: 4*6+6, then 12*1+1 and 6*3+3
    assert_eq!(model.count_params(), 30 + 13 + 21);
    let (xa, xb) = (
        normal([5, 4], 0.0, 1.0, Some(1)),
        normal([5, 4], 0.0, 1.0, Some(2)),
    );
    let path = tmp("functional.safetensors");
    model.save(&path).unwrap();
    let loaded = Model::load(&path).unwrap();
    assert_eq!(loaded.count_params(), model.count_params());
    let (p, q) = (
        model.predict_multi(&[&xa, &xb]),
        loaded.predict_multi(&[&xa, &xb]),
    );
    assert_eq!(p.len(), 2);
    for (x, y) in p.iter().zip(&q) {
        assert_eq!(x.to_vec::<f32>(), y.to_vec::<f32>());
    }
    // a Sequential file is refused by Model::load with a clear message
    let seq = Sequential::new().add(Dense::new(2)).input_shape([3]);
    let spath = tmp("seq_for_functional.safetensors");
    seq.save(&spath).unwrap();
    let err = Model::load(&spath).err().unwrap().to_string();
    assert!(err.contains("holds a \"Sequential\" model"), "{err}");
}
