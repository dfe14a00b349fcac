//! Mixed precision (`keras::mixed_precision`): policy semantics against Keras's documented
//! behaviour, the ops that stay in float32, and training under each policy.
//!
//! The global policy is process-wide, so every test that sets it holds the global-generator
//! lock (as every layer-building test of this binary does) and puts float32 back on exit.

use ferrolab::keras::layers::{Autocast, LayerBase};
use ferrolab::keras::mixed_precision::{self, Policy};
use ferrolab::prelude::*;
use ferrolab::serde_json;

use crate::common::keras::seeded;

/// Sets the global policy for the test's scope; float32 again on drop (also on panic).
struct GlobalPolicy;
impl GlobalPolicy {
    fn set(name: &str) -> GlobalPolicy {
        mixed_precision::set_global_policy(name);
        GlobalPolicy
    }
}
impl Drop for GlobalPolicy {
    fn drop(&mut self) {
        mixed_precision::set_global_policy("float32");
    }
}

#[test]
fn policies_name_their_compute_and_variable_dtypes() {
    // Keras: Policy('mixed_float16').compute_dtype == 'float16', .variable_dtype == 'float32'
    for (name, compute) in [
        ("float32", DType::F32),
        ("mixed_float16", DType::F16),
        ("mixed_bfloat16", DType::BF16),
    ] {
        let p = Policy::new(name);
        assert_eq!(p.name(), name);
        assert_eq!(p.compute_dtype(), compute);
        assert_eq!(p.variable_dtype(), DType::F32);
    }
    let err = Policy::try_new("float16_mixed").unwrap_err().to_string();
    assert!(
        err.contains("mixed_float16"),
        "the error lists the policies: {err}"
    );
}

#[test]
fn layers_take_the_global_policy_when_constructed_and_dtype_overrides_it() {
    let _rng = seeded(1);
    let early = Dense::new(3); // float32: made before the policy changed
    let _p = GlobalPolicy::set("mixed_float16");
    assert_eq!(
        mixed_precision::global_policy(),
        Policy::new("mixed_float16")
    );
    let dense = Dense::new(3).activation("relu");
    let out = Activation::new("softmax").dtype("float32");
    let bf16_policy = Policy::new("mixed_bfloat16");
    let bf = Dense::new(3).dtype(&bf16_policy);
    assert_eq!(early.dtype_policy().name(), "float32");
    assert_eq!(dense.dtype_policy().name(), "mixed_float16");
    assert_eq!(dense.compute_dtype(), DType::F16);
    assert_eq!(dense.variable_dtype(), DType::F32);
    assert_eq!(out.compute_dtype(), DType::F32);
    assert_eq!(bf.dtype_policy(), bf16_policy);
    assert_eq!(bf.compute_dtype(), DType::BF16);

    let x = rnd_f32(&[4, 5], 3);
    let h = dense.invoke(std::slice::from_ref(&x), false);
    assert_eq!(
        h.dtype(),
        DType::F16,
        "a mixed_float16 layer outputs float16"
    );
    assert_eq!(
        dense.kernel().unwrap().dtype(),
        DType::F32,
        "variables stay f32"
    );
    assert_eq!(dense.bias().unwrap().dtype(), DType::F32);
    // the f16 result is the f32 computation rounded: relu(x k + b) within f16 precision
    let k = dense.kernel().unwrap();
    let want = (x.matmul(&k) + &*dense.bias().unwrap()).relu();
    crate::common::assert_close(&h.to_f32_vec(), &want.to_vec::<f32>(), 2e-3);
    let p = out.invoke(&[h], false);
    assert_eq!(p.dtype(), DType::F32, "a float32 layer returns f32");
    crate::common::assert_close(&p.sum_axis(-1, false).to_vec::<f32>(), &[1.0; 4], 1e-6);
    assert_eq!(bf.invoke(&[x], false).dtype(), DType::BF16);
}

fn rnd_f32(shape: &[usize], seed: u64) -> Tensor {
    crate::common::rnd(shape, seed)
}

#[test]
fn gradients_reach_the_f32_variables_through_the_cast() {
    let _rng = seeded(2);
    let _p = GlobalPolicy::set("mixed_bfloat16");
    let dense = Dense::new(4);
    let x = rnd_f32(&[8, 6], 5);
    let _ = dense.invoke(std::slice::from_ref(&x), false); // build
    let k = dense.kernel().unwrap();
    let tape = GradientTape::new();
    let y = dense.invoke(std::slice::from_ref(&x), true);
    let loss = y.cast(DType::F32).square().sum();
    let [dk] = tape.gradient(&loss, [&k]);
    let dk = dk.expect("the kernel gets a gradient");
    assert_eq!(
        dk.dtype(),
        DType::F32,
        "the gradient of an f32 variable is f32"
    );
    // loss = sum((xk + b)^2)  =>  dloss/dk = 2 x^T (xk + b); bf16 keeps ~3 significant digits
    let want = x
        .t()
        .matmul(&((x.matmul(&k) + &*dense.bias().unwrap()) * 2.0));
    crate::common::assert_close(&dk.to_vec::<f32>(), &want.to_vec::<f32>(), 3e-2);
}

#[test]
fn summary_and_saved_model_keep_the_policy_and_f32_variables() {
    let _rng = seeded(3);
    let _p = GlobalPolicy::set("mixed_float16");
    let model = Sequential::new()
        .add(Dense::new(8).activation("relu"))
        .add(Dense::new(3))
        .add(Activation::new("softmax").dtype("float32"))
        .input_shape([5]);
    let text = model.summary().to_string();
    assert!(text.contains("(Dense, mixed_float16)"), "{text}");
    assert!(
        text.contains("(Activation)"),
        "float32 layers show no policy: {text}"
    );
    let x = rnd_f32(&[6, 5], 7);
    let before = model.predict(&x);
    assert_eq!(before.dtype(), DType::F32);
    let dir = std::env::temp_dir().join(format!("ferrolab-mp-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("mixed.safetensors").to_string_lossy().into_owned();
    model.save(&path).unwrap();
    drop(_p); // loading restores the saved policies, whatever the global one
    let loaded = Sequential::load(&path).unwrap();
    let policies: Vec<String> = loaded
        .layers()
        .iter()
        .map(|l| l.dtype_policy().name().to_string())
        .collect();
    assert_eq!(policies, ["mixed_float16", "mixed_float16", "float32"]);
    for w in loaded.weights() {
        assert_eq!(w.dtype(), DType::F32, "variable {} saved in f32", w.name());
    }
    let after = loaded.predict(&x);
    assert_eq!(after.to_vec::<f32>(), before.to_vec::<f32>());
}

#[test]
fn normalisation_layers_compute_in_f32_and_return_the_compute_dtype() {
    let _rng = seeded(4);
    let _p = GlobalPolicy::set("mixed_float16");
    // f16 input with a large offset: an f16 mean of values near 1000 is off by up to 0.25
    // (f16 spacing there is 0.5), against a spread of about 1; statistics in f32 are exact
    let x = ((rnd_f32(&[64, 4], 9) + 1000.0) * 1.0).cast(DType::F16);
    let ln = LayerNormalization::new();
    let bn = BatchNormalization::new();
    let (yl, yb) = (
        ln.invoke(std::slice::from_ref(&x), true),
        bn.invoke(std::slice::from_ref(&x), true),
    );
    assert_eq!((yl.dtype(), yb.dtype()), (DType::F16, DType::F16));
    let x16 = x.cast(DType::F32);
    let m = x16.mean_axis(-1, true);
    let want_l = (&x16 - &m) / (x16.var_axis(-1, true) + 1e-3).sqrt();
    crate::common::assert_close(&yl.to_f32_vec(), &want_l.to_vec::<f32>(), 2e-3);
    let mb = x16.mean_axis(0, true);
    let want_b = (&x16 - &mb) / (x16.var_axis(0, true) + 1e-3).sqrt();
    crate::common::assert_close(&yb.to_f32_vec(), &want_b.to_vec::<f32>(), 2e-3);
    for w in bn.weights() {
        assert_eq!(w.dtype(), DType::F32, "{}", w.name());
    }
}

#[test]
fn softmax_family_in_half_precision_is_the_f32_result_rounded_once() {
    let x = (crate::common::rnd(&[4, 300], 11) * 4.0).cast(DType::F16);
    let x32 = x.cast(DType::F32);
    for (got, want) in [
        (x.softmax(-1), x32.softmax(-1)),
        (x.log_softmax(-1), x32.log_softmax(-1)),
        (x.logsumexp(-1, false), x32.logsumexp(-1, false)),
    ] {
        assert_eq!(got.dtype(), DType::F16);
        assert_eq!(got.to_f32_vec(), want.cast(DType::F16).to_f32_vec());
    }
    let xb = x.cast(DType::BF16);
    assert_eq!(
        xb.softmax(-1).to_f32_vec(),
        xb.cast(DType::F32)
            .softmax(-1)
            .cast(DType::BF16)
            .to_f32_vec()
    );
}

#[test]
fn compiled_losses_are_f32_for_f16_predictions() {
    let _rng = seeded(5);
    let _p = GlobalPolicy::set("mixed_float16");
    // no float32 output layer: the model returns f16 logits, the loss still computes in f32
    let mut model = Sequential::new().add(Dense::new(3)).input_shape([4]);
    model.compile(
        SGD::new(0.0),
        SparseCategoricalCrossentropy::from_logits(),
        &[],
    );
    let x = rnd_f32(&[16, 4], 13);
    let y = tensor([0i64, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2, 0]);
    let logits = model.predict(&x);
    assert_eq!(logits.dtype(), DType::F16);
    let logs = model.evaluate(&x, &y);
    let want = SparseCategoricalCrossentropy::from_logits()
        .call(&y, &logits.cast(DType::F32))
        .item();
    let loss = logs.get("loss").unwrap();
    assert!((loss - want).abs() < 1e-6, "{loss} vs {want}");
}

#[test]
fn saved_bytes_counts_each_activation_the_tape_keeps_once() {
    let x = ones([4, 3]);
    let w = Variable::new(ones([3, 2]));
    let tape = GradientTape::new();
    let y = x.matmul(&w); // keeps x (4x3 f32 = 48 B) and y (4x2 = 32 B); w is a variable
    assert_eq!(tape.saved_bytes(), 48 + 32);
    let _z = y.relu(); // keeps y again (counted once) and its output (32 B)
    assert_eq!(tape.saved_bytes(), 48 + 32 + 32);
    let _h = y.cast(DType::F16); // an f16 copy: 4x2x2 = 16 B
    assert_eq!(tape.saved_bytes(), 48 + 32 + 32 + 16);
}

#[test]
fn mixed_activation_memory_is_about_half_and_every_layer_kind_trains() {
    let _rng = seeded(6);
    let mlp = |policy: &str| {
        let _p = GlobalPolicy::set(policy);
        Sequential::new()
            .add(Dense::new(256).activation("relu"))
            .add(Dense::new(256).activation("relu"))
            .add(Dense::new(10))
            .add(Activation::new("softmax").dtype("float32"))
            .input_shape([64])
    };
    let x = rnd_f32(&[1024, 64], 1);
    let f32_bytes = mlp("float32").activation_bytes(&x);
    for policy in ["mixed_float16", "mixed_bfloat16"] {
        let b = mlp(policy).activation_bytes(&x);
        let ratio = b as f64 / f32_bytes as f64;
        println!("{policy}: {b} B vs float32 {f32_bytes} B, ratio {ratio:.3}");
        assert!(ratio <= 0.55, "{policy}: ratio {ratio}");
    }

    // a CNN with BatchNormalization, Dropout and pooling, and a sequence model with Embedding,
    // LSTM, MultiHeadAttention and LayerNormalization: forward in the compute dtype, f32
    // variables, and training lowers the loss
    let _p = GlobalPolicy::set("mixed_float16");
    let mut cnn = Sequential::new()
        .add(Conv2D::new(4, 3).padding("same").activation("relu"))
        .add(BatchNormalization::new())
        .add(MaxPooling2D::new(2))
        .add(Dropout::new(0.1))
        .add(Flatten::new())
        .add(Dense::new(3))
        .input_shape([6, 6, 1]);
    let xi = rnd_f32(&[24, 6, 6, 1], 2);
    let yi = xi
        .mean_axes(&[1, 2, 3], false)
        .greater(0.0)
        .cast(DType::I64);
    let ids = (rnd_f32(&[24, 5], 3).abs() * 3.0).cast(DType::I64);
    let yt = ids.sum_axis(-1, false).greater(7.0).cast(DType::I64);
    let inp = Input::with_dtype([5], DType::I64);
    let e = Embedding::new(10, 8).apply(&inp);
    let r = LSTM::new(8).return_sequences(true).apply(&e);
    let a = MultiHeadAttention::new(2, 4).apply_many(&[&r, &r]);
    let n = LayerNormalization::new().apply(&a);
    let out = Dense::new(2).apply(&Flatten::new().apply(&n));
    let mut seq = Model::new(&[&inp], &[&out]);
    drop(_p);
    trains_in_f16_with_f32_variables(&mut cnn, &xi, &yi);
    trains_in_f16_with_f32_variables(&mut seq, &ids, &yt);
}

fn trains_in_f16_with_f32_variables<M: KerasModel>(model: &mut M, x: &Tensor, y: &Tensor) {
    model.compile(
        Adam::new(1e-2),
        SparseCategoricalCrossentropy::from_logits(),
        &[],
    );
    let st = model.training_state();
    assert!(
        st.optimizer().unwrap().loss_scale().is_none(),
        "compiled under float32"
    );
    assert_eq!(model.predict(x).dtype(), DType::F16, "{}", model.name());
    let first = model.evaluate(x, y).get("loss").unwrap();
    model.fit(x, y).epochs(10).batch_size(8).verbose(0).run();
    let last = model.evaluate(x, y).get("loss").unwrap();
    println!("{}: loss {first} -> {last}", model.name());
    assert!(last < first, "{}: loss {first} -> {last}", model.name());
    for w in model.weights() {
        assert_eq!(w.dtype(), DType::F32, "{}", w.name());
    }
}

#[test]
fn every_loss_computes_in_f32_for_half_predictions() {
    let logits = crate::common::rnd(&[6, 3], 21);
    let probs = logits.softmax(-1);
    let labels = tensor([0i64, 2, 1, 1, 0, 2]);
    let onehot = one_hot(&labels, 3);
    let cases: Vec<(Box<dyn Loss>, &Tensor, &Tensor)> = vec![
        (Box::new(MeanSquaredError), &onehot, &probs),
        (Box::new(MeanAbsoluteError), &onehot, &probs),
        (Box::new(Huber::new(0.5)), &onehot, &logits),
        (
            Box::new(BinaryCrossentropy::from_logits()),
            &onehot,
            &logits,
        ),
        (Box::new(CategoricalCrossentropy::new()), &onehot, &probs),
        (
            Box::new(SparseCategoricalCrossentropy::from_logits()),
            &labels,
            &logits,
        ),
        (Box::new(KLDivergence), &onehot, &probs),
    ];
    for (loss, y, p) in cases {
        for half in [DType::F16, DType::BF16] {
            let p16 = p.cast(half);
            let got = loss.call(y, &p16);
            assert_eq!(got.dtype(), DType::F32, "{} on {half:?}", loss.name());
            // the same as the f32 loss of the rounded predictions
            let want = loss.call(y, &p16.cast(DType::F32)).item();
            assert_eq!(got.item(), want, "{} on {half:?}", loss.name());
        }
    }
}

#[test]
fn the_policy_lives_in_the_layer_whatever_its_name() {
    let _rng = seeded(21);
    let _p = GlobalPolicy::set("mixed_float16");
    // `.named` after `.dtype` (the map keyed by name used to lose the policy here) and before
    let a = Dense::new(3).dtype("float32").named("logits");
    let b = Activation::new("softmax")
        .named("probs")
        .dtype("mixed_bfloat16");
    let c = Conv1D::new(2, 3).named("conv").dtype("float32");
    assert_eq!(
        (a.name(), a.dtype_policy().name()),
        ("logits".into(), "float32")
    );
    assert_eq!(
        (b.name(), b.dtype_policy().name()),
        ("probs".into(), "mixed_bfloat16")
    );
    assert_eq!(c.dtype_policy().name(), "float32");
    // two layers given the same name keep their own policies
    let d = Dense::new(3).named("logits");
    assert_eq!(d.dtype_policy().name(), "mixed_float16");
    assert_eq!(a.dtype_policy().name(), "float32");
    // and the policy is what runs
    let x = rnd_f32(&[2, 4], 22);
    assert_eq!(
        a.invoke(std::slice::from_ref(&x), false).dtype(),
        DType::F32
    );
    assert_eq!(
        d.invoke(std::slice::from_ref(&x), false).dtype(),
        DType::F16
    );
    // shared through an Arc, as in the Functional API
    let shared: std::sync::Arc<dyn Layer> = std::sync::Arc::new(b);
    assert_eq!(shared.dtype_policy().name(), "mixed_bfloat16");
    assert_eq!(shared.invoke(&[x], false).dtype(), DType::BF16);
}

#[test]
fn every_layer_config_carries_its_dtype_policy_as_keras_3_serializes_it() {
    use ferrolab::keras::layers::layer_from_config;
    let _rng = seeded(23);
    let _p = GlobalPolicy::set("mixed_bfloat16");
    let layers: Vec<Box<dyn Layer>> = vec![
        Box::new(Dense::new(4)),
        Box::new(Activation::new("relu").dtype("float32")),
        Box::new(Dropout::new(0.1)),
        Box::new(Flatten::new()),
        Box::new(Reshape::new([2, 2])),
        Box::new(Conv2D::new(2, 3)),
        Box::new(Conv1D::new(2, 3)),
        Box::new(Conv2DTranspose::new(2, 3)),
        Box::new(MaxPooling2D::new(2)),
        Box::new(AveragePooling2D::new(2)),
        Box::new(GlobalAveragePooling2D::new()),
        Box::new(GlobalAveragePooling1D::new()),
        Box::new(BatchNormalization::new()),
        Box::new(LayerNormalization::new().dtype("mixed_float16")),
        Box::new(Embedding::new(10, 4)),
        Box::new(PositionEmbedding::new(8)),
        Box::new(SinePositionEncoding::new()),
        Box::new(TransformerEncoder::new(8, 2)),
        Box::new(TransformerDecoder::new(8, 2)),
        Box::new(LSTM::new(3)),
        Box::new(MultiHeadAttention::new(2, 4)),
        Box::new(Softmax::new()),
        Box::new(UpSampling2D::new((2, 2))),
        Box::new(Add::new()),
        Box::new(Concatenate::new(-1)),
    ];
    for l in &layers {
        let c = l.get_config();
        let want = l.dtype_policy().name().to_string();
        // Keras 3: {"module": "keras", "class_name": "DTypePolicy", "config": {"name": ..}, ..}
        assert_eq!(c["dtype"]["class_name"], "DTypePolicy", "{}: {c}", l.name());
        assert_eq!(c["dtype"]["config"]["name"], want.as_str(), "{}", l.name());
        assert_eq!(c["name"], l.name().as_str());
        let back = layer_from_config(l.class_name(), &c).unwrap();
        assert_eq!(back.dtype_policy().name(), want, "{} from_config", l.name());
        assert_eq!(back.class_name(), l.class_name());
    }
    let names: Vec<String> = layers
        .iter()
        .map(|l| l.dtype_policy().name().to_string())
        .collect();
    assert_eq!(names[0], "mixed_bfloat16");
    assert_eq!(names[1], "float32");
    assert_eq!(names[13], "mixed_float16");
    // the forms older saves and hand-written configs use: the name, or {"name": ..}
    mixed_precision::set_global_policy("float32");
    for dtype in [
        serde_json::json!("mixed_float16"),
        serde_json::json!({"name": "mixed_float16"}),
    ] {
        let l =
            layer_from_config("Dense", &serde_json::json!({"units": 2, "dtype": dtype})).unwrap();
        assert_eq!(l.dtype_policy().name(), "mixed_float16");
    }
    let none = layer_from_config("Dense", &serde_json::json!({"units": 2})).unwrap();
    assert_eq!(
        none.dtype_policy().name(),
        "float32",
        "no dtype: the global policy"
    );
    let err = layer_from_config(
        "Dense",
        &serde_json::json!({"units": 2, "dtype": "float16_mixed"}),
    )
    .err()
    .unwrap()
    .to_string();
    assert!(err.contains("mixed_float16"), "{err}");
}

/// A subclassed layer with a weight of its own and a sub-layer: `y = dense(x @ w)`. It records
/// the dtype its own matmul ran in.
struct Projected {
    base: LayerBase,
    w: Variable,
    dense: Dense,
    inner_dtype: std::sync::Mutex<Option<DType>>,
}

impl Layer for Projected {
    fn base(&self) -> Option<&LayerBase> {
        Some(&self.base)
    }
    fn class_name(&self) -> &'static str {
        "Projected"
    }
    fn call(&self, x: &Tensor, training: bool) -> Tensor {
        let h = x.matmul(&self.w);
        *self.inner_dtype.lock().unwrap() = Some(h.dtype());
        self.dense.invoke(&[h], training)
    }
    fn weights(&self) -> Vec<Variable> {
        let mut w = vec![self.w.clone()];
        w.extend(self.dense.weights());
        w
    }
    fn layers(&self) -> Vec<std::sync::Arc<dyn Layer>> {
        vec![std::sync::Arc::new(Dense::new(1))] // has sub-layers: it used to skip autocast
    }
}

impl LayerArgs for Projected {
    fn base_mut(&mut self) -> &mut LayerBase {
        &mut self.base
    }
}

#[test]
fn subclassed_layers_with_own_weights_and_sublayers_autocast() {
    let _rng = seeded(24);
    let _p = GlobalPolicy::set("mixed_float16");
    let make = |out: &str| Projected {
        base: LayerBase::new("projected"),
        w: Variable::new(rnd_f32(&[5, 4], 25)),
        dense: Dense::new(3).dtype(out),
        inner_dtype: Default::default(),
    };
    let layer = make("mixed_float16");
    assert_eq!(layer.autocast(), Autocast::Compute);
    let x = rnd_f32(&[6, 5], 26);
    let y = layer.invoke(std::slice::from_ref(&x), false);
    assert_eq!(
        *layer.inner_dtype.lock().unwrap(),
        Some(DType::F16),
        "own weight read in f16"
    );
    assert_eq!(y.dtype(), DType::F16);
    // y = (x w) k + b, within f16 precision
    let k = layer.dense.kernel().unwrap();
    let want = x.matmul(&layer.w).matmul(&k) + &*layer.dense.bias().unwrap();
    crate::common::assert_close(&y.to_f32_vec(), &want.to_vec::<f32>(), 1e-2);
    // its own weight's gradient comes back f32: loss = sum(y) => dL/dw = x^T (1 k^T)
    let tape = GradientTape::new();
    let loss = layer
        .invoke(std::slice::from_ref(&x), true)
        .cast(DType::F32)
        .sum();
    let [dw] = tape.gradient(&loss, [&layer.w]);
    let dw = dw.expect("the layer's own weight gets a gradient");
    assert_eq!(dw.dtype(), DType::F32);
    let want_dw = x.t().matmul(&ones([6, 3]).matmul(&k.t()));
    crate::common::assert_close(&dw.to_vec::<f32>(), &want_dw.to_vec::<f32>(), 2e-2);
    // a float32 sub-layer inside the mixed layer still runs in f32
    let mixed_outer = make("float32");
    let y = mixed_outer.invoke(std::slice::from_ref(&x), false);
    assert_eq!(*mixed_outer.inner_dtype.lock().unwrap(), Some(DType::F16));
    assert_eq!(y.dtype(), DType::F32);
    // normalisation layers say so through the trait, not by class name
    assert_eq!(
        LayerNormalization::new().autocast(),
        Autocast::Float32Inside
    );
    assert_eq!(Sequential::new().autocast(), Autocast::Off);
}
