//! `function` (tf.function): trace once per input signature, replay later calls through
//! `dispatch::apply`. Each test checks real values against hand-computed references and the
//! trace count against what TF's rules predict.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use ferrolab::prelude::*;

use crate::common::{assert_close, assert_contains, panic_message, rnd};

/// A closure that counts how often its Rust code runs (the `println!` lesson: only on traces).
fn counted(runs: Arc<AtomicUsize>) -> Function {
    function(move |x: &Tensor| {
        runs.fetch_add(1, Ordering::SeqCst);
        x * x + 1.0
    })
}

#[test]
fn replays_without_running_the_closure() {
    let runs = Arc::new(AtomicUsize::new(0));
    let f = counted(runs.clone());
    // y = x^2 + 1
    assert_close(
        &f.call(&tensor([1.0, 2.0])).to_vec::<f32>(),
        &[2.0, 5.0],
        0.0,
    );
    assert_close(
        &f.call(&tensor([3.0, -1.0])).to_vec::<f32>(),
        &[10.0, 2.0],
        0.0,
    );
    assert_close(
        &f.call(&tensor([0.5, 4.0])).to_vec::<f32>(),
        &[1.25, 17.0],
        0.0,
    );
    assert_eq!(
        runs.load(Ordering::SeqCst),
        1,
        "new values must not retrace"
    );
    let cf = f.concrete_functions();
    assert_eq!(cf.len(), 1);
    assert_eq!(cf[0].op_count(), 2); // mul, add
    assert_eq!(
        cf[0].signature.to_string(),
        "(TensorSpec(shape=(2,), dtype=float32))"
    );
}

#[test]
fn retraces_on_new_shape_or_dtype() {
    let runs = Arc::new(AtomicUsize::new(0));
    let f = counted(runs.clone());
    f.call(&tensor([1.0, 2.0]));
    f.call(&tensor([[1.0], [2.0]])); // new shape
    let y = f.call(&tensor([1.0, 2.0]).cast(DType::F16)); // new dtype
    assert_eq!(y.dtype(), DType::F16);
    assert_eq!(y.cast(DType::F32).to_vec::<f32>(), vec![2.0, 5.0]);
    f.call(&tensor([7.0, 8.0])); // known signature
    assert_eq!(runs.load(Ordering::SeqCst), 3);
    assert_eq!(f.trace_count(), 3);
    let sigs: Vec<String> = f
        .concrete_functions()
        .iter()
        .map(|c| c.signature.to_string())
        .collect();
    assert_eq!(
        sigs,
        [
            "(TensorSpec(shape=(2,), dtype=float32))",
            "(TensorSpec(shape=(2, 1), dtype=float32))",
            "(TensorSpec(shape=(2,), dtype=float16))",
        ]
    );
    // More than 5 traces: the retracing warning (printed once); every shape is its own trace.
    for n in 3..9 {
        let y = f.call(&ones([n]));
        assert_eq!(y.to_vec::<f32>(), vec![2.0; n]);
    }
    assert_eq!(f.trace_count(), 9);
}

#[test]
fn captured_variable_is_read_by_handle() {
    let w = Variable::new(tensor([2.0, 3.0]));
    let wc = w.clone();
    let f = function(move |x: &Tensor| x * &*wc);
    assert_close(
        &f.call(&tensor([1.0, 1.0])).to_vec::<f32>(),
        &[2.0, 3.0],
        0.0,
    );
    w.assign(tensor([10.0, -1.0]));
    // replay: x * w with the assigned w
    assert_close(
        &f.call(&tensor([2.0, 2.0])).to_vec::<f32>(),
        &[20.0, -2.0],
        0.0,
    );
    assert_eq!(f.trace_count(), 1);
    assert_contains(
        &f.concrete_functions()[0].to_string(),
        &["var 'Variable'", "x0"],
    );
}

#[test]
fn gradient_tape_around_a_replay() {
    let w = Variable::new(tensor([1.5, -2.0]));
    let wc = w.clone();
    // y = sum(w * x^2)  =>  dy/dx = 2 w x,  dy/dw = x^2
    let f = function(move |x: &Tensor| (&*wc * &(x * x)).sum());
    f.call(&tensor([0.0, 0.0])); // trace
    let x = tensor([3.0, 0.5]);
    let tape = GradientTape::new();
    tape.watch(&x);
    let y = f.call(&x); // replay
    assert_close(&[y.item()], &[1.5 * 9.0 - 2.0 * 0.25], 1e-6);
    let [dx, dw] = tape.gradient(&y, [&x, &*w]);
    assert_close(&dx.unwrap().to_vec::<f32>(), &[9.0, -2.0], 1e-6);
    assert_close(&dw.unwrap().to_vec::<f32>(), &[9.0, 0.25], 1e-6);
    assert_eq!(f.trace_count(), 1);
}

#[test]
fn gradient_tape_around_the_tracing_call() {
    let f = function(|x: &Tensor| x.exp().sum());
    let x = tensor([0.0, 1.0]);
    let tape = GradientTape::new();
    tape.watch(&x);
    let y = f.call(&x); // first call: traces and runs eagerly under the tape
    let [dx] = tape.gradient(&y, [&x]);
    // d/dx sum(exp x) = exp x
    assert_close(&dx.unwrap().to_vec::<f32>(), &[1.0, 1f32.exp()], 1e-6);
}

#[test]
fn nested_functions_inline_into_the_outer_graph() {
    let inner = function(|x: &Tensor| x.tanh());
    inner.call(&tensor([0.0, 0.0, 0.0])); // the inner one traced already: the outer records its replay
    let outer = function(move |x: &Tensor| inner.call(&(x * 2.0)) + 1.0);
    let x = rnd(&[3], 7);
    let v = x.to_vec::<f32>();
    let want: Vec<f32> = v.iter().map(|a| (2.0 * a).tanh() + 1.0).collect();
    assert_close(&outer.call(&x).to_vec::<f32>(), &want, 1e-6);
    let x2 = rnd(&[3], 8);
    let want2: Vec<f32> = x2
        .to_vec::<f32>()
        .iter()
        .map(|a| (2.0 * a).tanh() + 1.0)
        .collect();
    assert_close(&outer.call(&x2).to_vec::<f32>(), &want2, 1e-6); // replay
    assert_eq!(outer.trace_count(), 1);
    assert_eq!(outer.concrete_functions()[0].op_count(), 3); // mul, tanh, add
}

#[test]
fn several_inputs() {
    let f = function2(|a: &Tensor, b: &Tensor| a.matmul(b).relu());
    let a = tensor([[1.0, -2.0], [0.5, 1.0]]);
    let b = tensor([[1.0], [1.0]]);
    f.call((&a, &b));
    // [[1-2],[0.5+1]] -> relu -> [0, 1.5]
    let y = f.call((&(&a * 2.0), &b));
    assert_close(&y.to_vec::<f32>(), &[0.0, 3.0], 0.0);
    let g = function3(|a: &Tensor, b: &Tensor, c: &Tensor| where_(&a.greater(0.0), b, c));
    g.call((&a, &a, &b));
    let y = g.call((
        &tensor([1.0, -1.0]),
        &tensor([5.0, 5.0]),
        &tensor([7.0, 7.0]),
    ));
    assert!(g.trace_count() == 2);
    assert_eq!(y.to_vec::<f32>(), vec![5.0, 7.0]);
    let msg = f.try_call(&a).unwrap_err().to_string();
    assert_contains(&msg, &["takes 2 tensor argument(s), got 1"]);
}

#[test]
fn value_dependent_rust_control_flow_is_frozen_at_trace_time() {
    // As Python `if` in tf.function: the branch taken while tracing is the graph.
    let f = function(|x: &Tensor| {
        if x.sum().item() > 0.0 {
            x * 2.0
        } else {
            x * -1.0
        }
    });
    assert_eq!(f.call(&tensor([1.0, 2.0])).to_vec::<f32>(), vec![2.0, 4.0]);
    assert_eq!(
        f.call(&tensor([-1.0, -2.0])).to_vec::<f32>(),
        vec![-2.0, -4.0]
    );
    // the sum behind `.item()` is pruned: only the mul is replayed
    assert_eq!(f.concrete_functions()[0].op_count(), 1);
}

#[test]
fn an_error_while_tracing_names_the_op_and_the_signature() {
    let f = function2(|a: &Tensor, b: &Tensor| a.matmul(b)).named("project");
    let msg = f
        .try_call((&ones([2, 3]), &ones([2, 3])))
        .unwrap_err()
        .to_string();
    assert_contains(
        &msg,
        &[
            "project",
            "matmul",
            "TensorSpec(shape=(2, 3), dtype=float32), TensorSpec(shape=(2, 3), dtype=float32)",
        ],
    );
    assert_eq!(f.trace_count(), 0);
    // the failed trace left no recorder behind: a good call traces and replays
    let y = f.call((&ones([2, 3]), &ones([3, 1])));
    assert_eq!(y.to_vec::<f32>(), vec![3.0, 3.0]);
    let msg = panic_message(|| f.call((&ones([4, 2]), &ones([3, 1]))));
    assert_contains(&msg, &["project", "matmul", "TensorSpec(shape=(4, 2)"]);
}

#[test]
fn gelu_graph_prints_as_a_table_of_ops() {
    let gelu =
        function(|x: &Tensor| 0.5 * x * (1.0 + (0.7978845608 * (x + 0.044715 * x * x * x)).tanh()))
            .named("gelu");
    let x = rnd(&[1000], 3);
    gelu.call(&x);
    let x2 = rnd(&[1000], 4);
    let y = gelu.call(&x2);
    let want: Vec<f32> = x2
        .to_vec::<f32>()
        .iter()
        .map(|&a| 0.5 * a * (1.0 + (0.797_884_6 * (a + 0.044715 * a * a * a)).tanh()))
        .collect();
    assert_close(&y.to_vec::<f32>(), &want, 1e-6);
    let cf = &gelu.concrete_functions()[0];
    // mul(0.5,x) mul(x,x) ... : 0.5*x, 0.044715*x, *x, *x, x+, 0.79*, tanh, 1+, *  = 9 ops
    assert_eq!(cf.op_count(), 9);
    let text = cf.to_string();
    assert_contains(
        &text,
        &[
            "gelu(TensorSpec(shape=(1000,), dtype=float32)): 9 ops",
            "tanh",
            "const 0.5",
            "x0",
            "%8",
        ],
    );
    let html = ferrolab::display::Display::mime_bundle(cf);
    assert!(html
        .iter()
        .any(|(k, v)| k == "text/html" && v.contains("<table") && v.contains("tanh")));
}
