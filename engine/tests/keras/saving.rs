//! Saving weights as safetensors: save -> load into a fresh model of the same architecture ->
//! identical predictions (bit for bit); a mismatched checkpoint is an error naming the tensor and
//! both shapes, and leaves the model untouched; writes are atomic (no temporary file is left, and
//! a failed write keeps the existing checkpoint intact). `tests/test_safetensors_numpy.py` reads
//! the same format from Python with numpy.

use crate::common;
use crate::common::keras as keras_common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use common::{assert_contains, rnd};
use ferrolab::keras::models::Summary;
use ferrolab::keras::saving::{load_tensors, save_tensors};
use ferrolab::prelude::*;
use keras_common::{assert_bits_eq, seeded};

fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("ferrolab-save-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// A small CNN with BatchNormalization (so non-trainable weights travel too).
fn cnn() -> Sequential {
    Sequential::new()
        .add(Conv2D::new(4, 3).padding("same").activation("relu"))
        .add(BatchNormalization::new())
        .add(MaxPooling2D::new(2))
        .add(Flatten::new())
        .add(Dense::new(10))
        .input_shape([8, 8, 1])
}

#[test]
fn save_load_predict_round_trip_is_exact() {
    let dir = temp_dir("roundtrip");
    let path = dir.join("sub/dir/cnn.safetensors");
    let (train, test) = datasets::digits().split(200, 1);
    let (model, fresh) = {
        let _g = seeded(0);
        let mut m = cnn();
        m.compile(
            Adam::new(1e-2),
            SparseCategoricalCrossentropy::from_logits(),
            &[],
        );
        m.fit(&train.images(), &train.y).epochs(2).verbose(0).run();
        (m, cnn())
    };
    let x = test.images();
    let before = model.predict(&x);
    // the fresh model (other initial weights, untouched moving statistics) predicts differently
    assert_ne!(fresh.predict(&x).to_vec::<f32>(), before.to_vec::<f32>());
    model.save_weights(path.to_str().unwrap()).unwrap();
    assert_eq!(
        files_in(path.parent().unwrap()),
        ["cnn.safetensors"],
        "no temp file left"
    );
    fresh.load_weights(path.to_str().unwrap()).unwrap();
    assert_bits_eq(&fresh.predict(&x), &before);
    for (a, b) in fresh.weights().iter().zip(model.weights()) {
        assert_bits_eq(a, &b);
    }
    // the file holds every weight under its variable name, in the model's order
    let saved = load_tensors(&path).unwrap();
    let names: Vec<String> = saved.iter().map(|(n, _)| n.clone()).collect();
    let want: Vec<String> = model
        .weights()
        .iter()
        .map(|w| w.name().to_string())
        .collect();
    assert_eq!(names, want);
    assert_eq!(saved.len(), 2 + 4 + 2);
    assert!(names[0].ends_with("/kernel") && names.iter().any(|n| n.ends_with("/moving_variance")));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_header_is_plain_safetensors() {
    let _rng = crate::common::global_rng(); // draws unseeded: initial weights, fit
                                            // 8-byte little-endian length, a JSON object of {dtype, shape, data_offsets}, raw bytes
    let dir = temp_dir("header");
    let path = dir.join("w.safetensors");
    let w = Variable::with_options(&tensor([[1.0, -2.0], [0.5, 3.0]]), "dense/kernel", true);
    let b = Variable::with_options(&tensor([0.25, 0.0]), "dense/bias", true);
    ferrolab::keras::saving::save_variables(&path, &[w, b]).unwrap();
    let raw = std::fs::read(&path).unwrap();
    let n = u64::from_le_bytes(raw[..8].try_into().unwrap()) as usize;
    assert_eq!((8 + n) % 8, 0, "the data section is 8-byte aligned");
    let header: serde_json::Value = serde_json::from_slice(&raw[8..8 + n]).unwrap();
    assert_eq!(header["dense/kernel"]["dtype"], "F32");
    assert_eq!(header["dense/kernel"]["shape"], serde_json::json!([2, 2]));
    assert_eq!(
        header["dense/kernel"]["data_offsets"],
        serde_json::json!([0, 16])
    );
    assert_eq!(
        header["dense/bias"]["data_offsets"],
        serde_json::json!([16, 24])
    );
    let data = &raw[8 + n..];
    assert_eq!(data.len(), 24);
    let vals: Vec<f32> = data
        .chunks(4)
        .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
        .collect();
    assert_eq!(vals, [1.0, -2.0, 0.5, 3.0, 0.25, 0.0]);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn every_dtype_round_trips_exactly() {
    let _rng = crate::common::global_rng(); // draws unseeded: initial weights, fit
    let dir = temp_dir("dtypes");
    let path = dir.join("t.safetensors");
    let f = rnd(&[3, 4], 1);
    let tensors = vec![
        ("f32".to_string(), f.clone()),
        ("f16".to_string(), f.cast(DType::F16)),
        ("bf16".to_string(), f.cast(DType::BF16)),
        ("i64".to_string(), tensor([[-3i64, 0, i64::MAX]])),
        ("bool".to_string(), f.greater(0.0)),
        ("scalar".to_string(), tensor(2.5)),
    ];
    save_tensors(&path, &tensors).unwrap();
    let back = load_tensors(&path).unwrap();
    assert_eq!(back.len(), tensors.len());
    for ((n0, t0), (n1, t1)) in tensors.iter().zip(&back) {
        assert_eq!(n0, n1);
        assert_eq!((t0.dtype(), t0.dims()), (t1.dtype(), t1.dims()), "{n0}");
        assert_bits_eq(t0, t1);
    }
    let dup = vec![("a".to_string(), f.clone()), ("a".to_string(), f.clone())];
    let err = save_tensors(dir.join("dup.safetensors"), &dup)
        .unwrap_err()
        .to_string();
    assert_contains(&err, &["two tensors are named \"a\""]);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn loading_a_mismatched_checkpoint_names_the_tensor_and_both_shapes() {
    let _rng = crate::common::global_rng(); // draws unseeded: initial weights, fit
    let dir = temp_dir("mismatch");
    let path = dir.join("m.safetensors");
    let saved = Sequential::new()
        .add(Dense::new(8).named("enc"))
        .add(Dense::new(2).named("out"))
        .input_shape([4]);
    saved.save_weights(path.to_str().unwrap()).unwrap();
    // same layers, but 5 input features: enc/kernel is (5, 8) here and (4, 8) in the file
    let other = Sequential::new()
        .add(Dense::new(8).named("enc2"))
        .add(Dense::new(2).named("out2"))
        .input_shape([5]);
    let before: Vec<Vec<f32>> = other.weights().iter().map(|w| w.to_vec()).collect();
    let err = other
        .load_weights(path.to_str().unwrap())
        .unwrap_err()
        .to_string();
    println!("{err}");
    assert_contains(
        &err,
        &[
            "load_weights",
            "'enc2/kernel'",
            "'enc/kernel'",
            "(5, 8)",
            "(4, 8)",
        ],
    );
    let after: Vec<Vec<f32>> = other.weights().iter().map(|w| w.to_vec()).collect();
    assert_eq!(before, after, "a failed load changes nothing");
    // a different number of weights
    let small = Sequential::new().add(Dense::new(2)).input_shape([4]);
    let err = small
        .load_weights(path.to_str().unwrap())
        .unwrap_err()
        .to_string();
    assert_contains(&err, &["holds 4 tensors but the model has 2 weights"]);
    // a missing file and a file that is not safetensors
    let err = small
        .load_weights(dir.join("nope.safetensors").to_str().unwrap())
        .unwrap_err();
    assert_contains(&err.to_string(), &["cannot read", "nope.safetensors"]);
    let junk = dir.join("junk.safetensors");
    std::fs::write(&junk, b"\x10\x00\x00\x00\x00\x00\x00\x00not json at all!").unwrap();
    let err = small
        .load_weights(junk.to_str().unwrap())
        .unwrap_err()
        .to_string();
    assert_contains(&err, &["not a valid safetensors file"]);
    std::fs::write(&junk, b"\xff\xff\xff\xff\x00\x00\x00\x00{}").unwrap();
    let err = small
        .load_weights(junk.to_str().unwrap())
        .unwrap_err()
        .to_string();
    assert_contains(&err, &["header runs past the end"]);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_failed_write_keeps_the_existing_checkpoint_and_leaves_no_temp_file() {
    let _rng = crate::common::global_rng(); // draws unseeded: initial weights, fit
    let dir = temp_dir("atomic");
    let path = dir.join("ckpt.safetensors");
    let model = Sequential::new().add(Dense::new(3)).input_shape([2]);
    model.save_weights(path.to_str().unwrap()).unwrap();
    let good = std::fs::read(&path).unwrap();
    model.weights()[0].assign(ones([2, 3]));

    // 1. the directory is not writable (skipped when running as root, who may write anyway)
    let ro = std::fs::Permissions::from_mode(0o555);
    std::fs::set_permissions(&dir, ro).unwrap();
    let probe = std::fs::write(dir.join("probe"), b"x").is_ok();
    if !probe {
        let err = model
            .save_weights(path.to_str().unwrap())
            .unwrap_err()
            .to_string();
        assert_contains(&err, &["cannot write", "ckpt.safetensors"]);
        assert_eq!(std::fs::read(&path).unwrap(), good);
    }
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let _ = std::fs::remove_file(dir.join("probe"));

    // 2. the temporary file cannot be created (its name is taken by a directory)
    let tmp = dir.join(format!(".ckpt.safetensors.tmp-{}", std::process::id()));
    std::fs::create_dir(&tmp).unwrap();
    let err = model
        .save_weights(path.to_str().unwrap())
        .unwrap_err()
        .to_string();
    assert_contains(&err, &["cannot write", "ckpt.safetensors"]);
    assert_eq!(
        std::fs::read(&path).unwrap(),
        good,
        "the old checkpoint is intact"
    );
    std::fs::remove_dir(&tmp).unwrap();

    // 3. the final rename fails (the target is a directory): the temp file is removed
    let target = dir.join("taken.safetensors");
    std::fs::create_dir(&target).unwrap();
    assert!(model.save_weights(target.to_str().unwrap()).is_err());
    assert_eq!(files_in(&dir), ["ckpt.safetensors", "taken.safetensors"]);

    // and a successful save replaces the old file whole
    model.save_weights(path.to_str().unwrap()).unwrap();
    let fresh = Sequential::new().add(Dense::new(3)).input_shape([2]);
    fresh.load_weights(path.to_str().unwrap()).unwrap();
    assert_eq!(fresh.weights()[0].to_vec::<f32>(), vec![1.0; 6]);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn whole_model_save_rebuilds_every_layer_kind_exactly() {
    // Sequential::save keeps the architecture too; Sequential::load rebuilds it (no code needed)
    let dir = temp_dir("whole");
    let path = dir.join("model.safetensors");
    let model = {
        let _g = seeded(5);
        Sequential::new()
            .add(Embedding::new(20, 6))
            .add(Conv1D::new(4, 3).padding("same").activation("relu"))
            .add(LayerNormalization::new())
            .add(Flatten::new())
            .add(Dropout::new(0.2).seed(1))
            .add(Dense::new(3).activation("softmax"))
            .input_shape([5])
    };
    let ids = tensor([[1i64, 2, 3, 4, 5], [19, 0, 7, 7, 2]]);
    model.save(path.to_str().unwrap()).unwrap();
    let loaded = Sequential::load(path.to_str().unwrap()).unwrap();
    assert_bits_eq(&loaded.predict(&ids), &model.predict(&ids));
    let (a, b) = (model.summary(), loaded.summary());
    assert_eq!(a.total_params, b.total_params);
    let classes = |s: &Summary| {
        s.rows
            .iter()
            .map(|r| (r.class_name.clone(), r.output_shape.clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(classes(&a), classes(&b));
    // Conv1D's kernel keeps Keras' (K, C, filters) shape through the file
    assert_eq!(loaded.weights()[1].dims(), &[3, 6, 4]);
    std::fs::remove_dir_all(&dir).unwrap();
}
