//! Ops as data (issue 12): every op goes through `dispatch::apply`, which hands an `OpNode` to
//! the active recorders; the tape prints what it recorded; every op infers its output shape and
//! dtype on shape-only (symbolic) tensors; a learner's own layer works in the Functional API
//! with no shape method.

use crate::common;

use std::sync::{Arc, Mutex, OnceLock};

use common::{assert_contains, rnd};
use ferrolab::prelude::*;
use ferrolab::tensor::dispatch::{add_recorder, remove_recorder};
use ferrolab::tensor::{RecordedOp, Recorder};

#[test]
fn the_tape_of_a_dense_relu_layer_prints_its_three_ops() {
    let _rng = common::global_rng(); // layer init and fit draw from the global generator
    let layer = Dense::new(4).activation("relu");
    let x = rnd(&[2, 3], 1);
    let tape = GradientTape::new();
    let y = layer.call(&x, false);
    assert_eq!(y.dims(), &[2, 4]);
    let printed = tape.to_string();
    println!("{printed}");
    assert_eq!(printed, "matmul (2,3)x(3,4) f32 -> add (2,4)+(4,) -> relu");
    // the record is data: the same three ops, their output shapes and dtypes
    let ops: Vec<(&str, Vec<usize>)> = tape
        .recorded_ops()
        .iter()
        .map(|n| (n.op.name(), n.shape.dims().to_vec()))
        .collect();
    assert_eq!(
        ops,
        vec![
            ("matmul", vec![2, 4]),
            ("add", vec![2, 4]),
            ("relu", vec![2, 4])
        ]
    );
}

/// A second recorder beside the tape: it sees every op of every dtype, in order (this test's
/// thread only: other tests of this binary run ops on their own threads meanwhile).
struct Names(std::thread::ThreadId, Mutex<Vec<String>>);
impl Recorder for Names {
    fn record(&self, seen: &RecordedOp<'_>) {
        let (node, out) = (seen.node(), seen.output());
        assert_eq!(node.output, out.id());
        assert_eq!(node.shape.dims(), out.dims());
        assert_eq!(node.dtype, out.dtype());
        if std::thread::current().id() == self.0 {
            self.1.lock().unwrap().push(node.op.name().to_string());
        }
    }
}

#[test]
fn a_recorder_sees_every_op_including_the_ones_without_gradients() {
    let names = Arc::new(Names(std::thread::current().id(), Mutex::new(Vec::new())));
    let a = tensor([1.0f32, -2.0, 3.0]);
    let id = add_recorder(names.clone());
    let y = (&a * 2.0).relu().greater(1.0).cast(DType::F32).sum();
    remove_recorder(id);
    let _ = &a + 1.0; // after removal: not seen
    assert_eq!(y.item(), 2.0);
    let seen = names.1.lock().unwrap().clone();
    assert_eq!(seen, ["mul", "relu", "greater", "cast", "sum"]);
}

/// Runs `f` on real data and on a symbolic tensor of the same shape: same output shape and
/// dtype, and the symbolic one has no values.
fn same_on_symbolic(name: &str, x: &Tensor, f: impl Fn(&Tensor) -> Tensor) {
    let real = f(x);
    let sym = f(&Tensor::symbolic(x.shape().clone(), x.dtype(), x.device()));
    assert!(
        sym.is_symbolic(),
        "{name}: the output of a symbolic input is symbolic"
    );
    assert_eq!(sym.dims(), real.dims(), "{name}: shape");
    assert_eq!(sym.dtype(), real.dtype(), "{name}: dtype");
}

#[test]
fn every_op_infers_its_output_shape_and_dtype_without_data() {
    let x = rnd(&[2, 3, 4], 2);
    let w = rnd(&[4, 5], 3);
    let ids = from_vec(vec![2i64, 0, 1, 1], [4]).unwrap();
    same_on_symbolic("exp", &x, |t| t.exp());
    same_on_symbolic("add broadcast", &x, |t| t + &rnd(&[3, 1], 4));
    same_on_symbolic("pow tensor", &x, |t| t.pow(rnd(&[4], 5)));
    same_on_symbolic("compare", &x, |t| t.greater(0.0));
    same_on_symbolic("where", &x, |t| where_(&t.greater(0.0), t, &t.zeros_like()));
    same_on_symbolic("sum axis", &x, |t| t.sum_axis(1, false));
    same_on_symbolic("mean keepdims", &x, |t| t.mean_axes(&[0, 2], true));
    same_on_symbolic("max", &x, |t| t.max_axis(-1, true));
    same_on_symbolic("argmax", &x, |t| t.argmax(1));
    same_on_symbolic("softmax", &x, |t| t.softmax(-1));
    same_on_symbolic("matmul batch", &x, |t| t.matmul(&w));
    same_on_symbolic("matmul vector", &x, |t| t.matmul(&rnd(&[4], 6)));
    same_on_symbolic("cast", &x, |t| t.cast(DType::BF16));
    same_on_symbolic("reshape", &x, |t| t.reshape([6, -1]));
    same_on_symbolic("transpose", &x, |t| t.transpose(0, 2));
    same_on_symbolic("slice", &x, |t| t.slice(ferrolab::s![.., 1..;2, -1]));
    same_on_symbolic("broadcast_to", &x, |t| t.broadcast_to([5, 2, 3, 4]));
    same_on_symbolic("gather", &x, |t| t.gather(&ids, 2));
    same_on_symbolic("concat", &x, |t| concat(&[t, &rnd(&[2, 1, 4], 7)], 1));
    same_on_symbolic("stack", &x, |t| stack(&[t, t], 0));
    same_on_symbolic("split", &x, |t| t.split(2, -1)[1].clone());
    same_on_symbolic("stop_gradient", &x, |t| t.stop_gradient());
    same_on_symbolic("zeros_like", &x, |t| t.zeros_like());
    let img = rnd(&[2, 6, 6, 3], 8);
    let k = rnd(&[3, 3, 3, 4], 9);
    same_on_symbolic("conv2d", &img, |t| t.conv2d(&k, (2, 2), "same", (1, 1)));
    same_on_symbolic("max_pool2d", &img, |t| {
        t.max_pool2d((2, 2), (2, 2), "valid")
    });
    same_on_symbolic("avg_pool2d same", &img, |t| {
        t.avg_pool2d((3, 3), (2, 2), "same")
    });
}

#[test]
fn a_symbolic_tensor_has_no_values_and_says_so() {
    let s = Tensor::symbolic([1, 3], DType::F32, Device::Cpu);
    let err = (&s * 2.0).try_to_vec::<f32>().unwrap_err().to_string();
    assert_contains(&err, &["no values", "model.predict"]);
    // shape errors are still found on symbolic tensors
    let err = s.try_matmul(&rnd(&[4, 2], 1)).unwrap_err().to_string();
    assert_contains(&err, &["matmul", "inner dims 3 != 4"]);
    assert!(format!("{s}").contains("symbolic"));
}

/// A learner's own layer: no shape method anywhere. The Functional API learns its output shape
/// by calling it on a symbolic tensor.
struct Gate {
    name: String,
    w: OnceLock<Variable>,
}

impl Layer for Gate {
    fn name(&self) -> String {
        self.name.clone()
    }
    fn class_name(&self) -> &'static str {
        "Gate"
    }
    fn call(&self, x: &Tensor, _training: bool) -> Tensor {
        let d = *x.dims().last().unwrap();
        let w = self.w.get_or_init(|| Variable::new(ones([d])));
        // (batch, d) -> (batch, 2d): x * sigmoid(w), concatenated with x
        concat(&[&(x * w.sigmoid()), x], -1)
    }
    fn weights(&self) -> Vec<Variable> {
        self.w.get().into_iter().cloned().collect()
    }
}

#[test]
fn a_learners_own_layer_works_in_the_functional_api_without_a_shape_method() {
    let _rng = common::global_rng(); // layer init and fit draw from the global generator
    let inp = Input::new([5]);
    let gate = Gate {
        name: "gate".into(),
        w: OnceLock::new(),
    };
    let h = gate.apply(&inp);
    assert_eq!(h.shape(), vec![None, Some(10)]);
    let out = Dense::new(2).apply(&h);
    let mut model = Model::new(&[&inp], &[&out]);
    assert_eq!(model.count_params(), 5 + 10 * 2 + 2);
    let x = rnd(&[8, 5], 3);
    let y = model.predict(&x);
    assert_eq!(y.dims(), &[8, 2]);
    assert!(!y.is_symbolic());
    // and it trains
    model.compile(SGD::new(0.1), "mse", &[]);
    let t = rnd(&[8, 2], 4);
    let before = model.evaluate(&x, &t).get("loss").unwrap();
    model.fit(&x, &t).epochs(20).batch_size(8).verbose(0).run();
    let after = model.evaluate(&x, &t).get("loss").unwrap();
    assert!(after < before * 0.7, "loss {before} -> {after}");
}

#[test]
fn sequential_input_shape_builds_on_a_symbolic_batch_and_reports_rejections() {
    let _rng = common::global_rng(); // layer init and fit draw from the global generator
    let model = Sequential::new()
        .add(Dense::new(3))
        .add(Dense::new(2))
        .input_shape([4]);
    assert_eq!(model.count_params(), 4 * 3 + 3 + 3 * 2 + 2);
    let bad = Sequential::new()
        .add(Conv2D::new(2, 3).named("stem"))
        .try_input_shape([4])
        .err()
        .expect("Conv2D on a flat input must fail")
        .to_string();
    assert_contains(
        &bad,
        &["Conv2D 'stem'", "cannot take input shape (None, 4)"],
    );
}
