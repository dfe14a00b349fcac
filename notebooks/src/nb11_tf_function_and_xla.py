"""11_tf_function_and_xla: tracing and retracing, side effects, captured variables and random
ops, a traced train step, and fusion (`jit_compile`) timed where it pays and where it does not."""


def cells():
    return [
        ("md", r"""
# `tf.function` and XLA-style fusion
"""),
        ("md", r"""
## Overview

TF2 says: "No more graphs and sessions. Use Keras and the `tf.function` decorator." Eager code is
easy to read and debug; a traced function replays the recorded ops without the host code around
them, and a compiler can then fuse chains of small ops into one pass over memory (XLA's
`jit_compile=True`). Ferrolab has both: `function(..)` and `.jit_compile(true)`.

You will:

* watch a function trace once per input signature and replay after that;
* learn the side-effect lesson: Rust code in the closure runs only while tracing;
* see captured variables, random ops and a whole train step replayed correctly;
* time a memory-bound chain (GELU, layer normalisation) eager, traced and fused;
* time a matmul-bound model, where fusion changes little, and see why.
"""),
        ("md", r"""
## Setup

Timings use one thread, so that eager ops and fused groups are compared on equal terms.
"""),
        ("code", r"""
use std::time::Instant;
ferrolab::state::set_num_threads(1);
set_seed(0);
/// The best of `reps` timings of `f`, in milliseconds.
fn best_ms(reps: usize, mut f: impl FnMut()) -> f64 {
    (0..reps).map(|_| { let t = Instant::now(); f(); t.elapsed().as_secs_f64() * 1e3 }).fold(f64::INFINITY, f64::min)
}
/// GELU (tanh form) written as separate ops, as in the TF comparison.
fn gelu(x: &Tensor) -> Tensor {
    0.5 * x * (1.0 + (0.7978845608 * (x + 0.044715 * x * x * x)).tanh())
}
println!("ready");
"""),
        ("md", r"""
## Tracing and retracing

The first call with a new **input signature** (shapes and dtypes, TF's `input_signature`) runs the
closure eagerly and records its ops. Later calls with that signature replay the recording. The
`println!` below is a side effect of the Rust code: it prints only while tracing.
"""),
        ("code", r"""
let f = function(|x: &Tensor| {
    println!("  tracing with shape {}", x.shape());
    (x * x + 1.0).sqrt()
}).named("f");
for x in [tensor([1.0, 2.0]), tensor([3.0, 4.0]), tensor([1.0, 2.0, 3.0]), tensor([5.0, 6.0])] {
    println!("f({:?}) = {:?}", x.to_vec::<f32>(), f.call(&x).to_vec::<f32>());
}
let half = f.call(&tensor([1.0, 2.0]).cast(DType::F16));
println!("float16 call -> {}; traces: {}", half.dtype(), f.trace_count());
"""),
        ("md", r"""
Two shapes and one new dtype: three traces, and the `println!` ran three times for five calls. New
*values* never retrace. Each trace is a concrete function with a graph you can print:
"""),
        ("code", r"""
for cf in f.concrete_functions() {
    println!("{:?}", cf);
}
display(&f.concrete_functions()[0]);
"""),
        ("md", r"""
## Variables, random ops and control flow

A `Variable` is captured by handle: a replay reads its current value, and `assign`s inside the
function happen again on every replay. Random ops draw fresh numbers on each call, as in TF. A
Rust `if` on a tensor's value, though, is decided once, at trace time (TF's Python `if` on a tensor
needs AutoGraph for the same reason).
"""),
        ("code", r"""
let w = Variable::new(tensor([1.0, 1.0]));
let calls = Variable::new(tensor(0.0));
let (wc, cc) = (w.clone(), calls.clone());
let g = function(move |x: &Tensor| {
    cc.assign_add(tensor(1.0));
    x * &*wc + randn([2]) * 0.01
});
let a = g.call(&tensor([1.0, 2.0]));
w.assign(tensor([10.0, 10.0]));
let b = g.call(&tensor([1.0, 2.0]));
let c = g.call(&tensor([1.0, 2.0]));
println!("before assign: {:?}", a.to_vec::<f32>());
println!("after assign:  {:?} and {:?} (new noise each call)", b.to_vec::<f32>(), c.to_vec::<f32>());
println!("calls counted by the traced assign_add: {}; traces: {}", calls.item(), g.trace_count());
"""),
        ("md", r"""
## A traced train step

Model, tape, loss and optimizer in one function, as TF's `@tf.function def train_step`. After the
first call the whole step (forward, backward, Adam update and its step counter) replays as one
graph, and its losses equal the eager step's. Keras does the same with
`model.compile(..).jit_compile(true)`, shown at the end of this section.
"""),
        ("code", r"""
let (train, _) = datasets::digits().split(0.8, 42);
let xb = train.x.slice(s![..256]) / 16.0;
let yb = train.y.slice(s![..256]);
fn losses(traced: bool, x: &Tensor, y: &Tensor) -> Vec<f32> {
    set_seed(1);
    let model = std::sync::Arc::new(Sequential::new().add(Dense::new(32).activation("relu")).add(Dense::new(10)).input_shape([64]));
    let opt = std::sync::Arc::new(std::sync::Mutex::new(Adam::new(1e-2)));
    let loss_fn = SparseCategoricalCrossentropy::from_logits();
    let m = model.clone();
    let step = move |x: &Tensor, y: &Tensor| {
        let tape = GradientTape::new();
        let loss = loss_fn.call(y, &m.call(x, true));
        let vars = m.trainable_weights();
        let grads = tape.gradient(&loss, &vars);
        opt.lock().unwrap().apply_gradients(&grads, &vars);
        loss
    };
    if traced {
        let f = function2(step);
        (0..5).map(|_| f.call((x, y)).item()).collect()
    } else {
        (0..5).map(|_| step(x, y).item()).collect()
    }
}
let eager_losses = losses(false, &xb, &yb);
let traced_losses = losses(true, &xb, &yb);
println!("eager : {eager_losses:?}\ntraced: {traced_losses:?}");
let step_gap = eager_losses.iter().zip(&traced_losses).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
println!("largest difference: {step_gap:e}");
"""),
        ("code", r"""
fn fit_losses(jit: bool, x: &Tensor, y: &Tensor) -> (Vec<f32>, usize) {
    set_seed(2);
    let mut model = Sequential::new().add(Dense::new(64).activation("relu")).add(Dense::new(10)).input_shape([64]);
    model.compile(Adam::new(1e-3), SparseCategoricalCrossentropy::from_logits(), &["accuracy"]).jit_compile(jit);
    let h = model.fit(x, y).epochs(3).batch_size(32).verbose(0).run();
    (h.get("loss").unwrap().to_vec(), model.training_state().jit_trace_count())
}
let x_all = &train.x / 16.0;
let (fit_eager, _) = fit_losses(false, &x_all, &train.y);
let (fit_jit, fit_traces) = fit_losses(true, &x_all, &train.y);
println!("fit eager:          {fit_eager:?}\nfit jit_compile:    {fit_jit:?}  ({fit_traces} traces: full batches and the last, smaller one)");
"""),
        ("md", r"""
## Fusion: when it pays

GELU written as nine separate ops reads and writes a 16 MB tensor nine times when run eagerly.
With `jit_compile(true)` the traced graph's elementwise chain runs as **one pass**: each 4 KiB
chunk goes through all nine ops while it sits in the L1 cache. Layer normalisation adds two
reductions over the last axis; a fused group walks it row by row, so each row is read once and
written once.
"""),
        ("code", r"""
let x = randn([4 * 1024 * 1024]);
let traced_gelu = function(gelu);
let fused_gelu = function(gelu).jit_compile(true);
let (_, _) = (traced_gelu.call(&x), fused_gelu.call(&x)); // trace both
let gelu_ms = [best_ms(3, || drop(gelu(&x))), best_ms(3, || drop(traced_gelu.call(&x))), best_ms(3, || drop(fused_gelu.call(&x)))];
// the error relative to max(1, |eager|): float32 rounding of values up to about 4
let gelu_eager = gelu(&x);
let gelu_err = ((fused_gelu.call(&x) - &gelu_eager).abs() / gelu_eager.abs().clamp(1.0, f32::MAX)).max().item();
println!("GELU 4M: eager {:.1} ms, traced {:.1} ms, fused {:.1} ms ({:.1}x eager); groups {:?}; max relative error {gelu_err:e}",
    gelu_ms[0], gelu_ms[1], gelu_ms[2], gelu_ms[0] / gelu_ms[2], fused_gelu.concrete_functions()[0].fused_groups());

fn layer_norm(x: &Tensor, gamma: &Tensor, beta: &Tensor) -> Tensor {
    let mean = x.mean_axis(-1, true);
    let d = x - &mean;
    let var = (&d * &d).mean_axis(-1, true);
    d * (var + 1e-5).rsqrt() * gamma + beta
}
let (xl, gamma, beta) = (randn([2048, 1024]), randn([1024]), randn([1024]));
let ln_traced = function3(layer_norm);
let ln_fused = function3(layer_norm).jit_compile(true);
let (_, _) = (ln_traced.call((&xl, &gamma, &beta)), ln_fused.call((&xl, &gamma, &beta)));
let ln_ms = [best_ms(3, || drop(layer_norm(&xl, &gamma, &beta))), best_ms(3, || drop(ln_traced.call((&xl, &gamma, &beta)))), best_ms(3, || drop(ln_fused.call((&xl, &gamma, &beta))))];
let ln_err = (ln_fused.call((&xl, &gamma, &beta)) - layer_norm(&xl, &gamma, &beta)).abs().max().item();
println!("layer norm 2048x1024: eager {:.1} ms, traced {:.1} ms, fused {:.1} ms ({:.1}x eager); groups {:?}; max error {ln_err:e}",
    ln_ms[0], ln_ms[1], ln_ms[2], ln_ms[0] / ln_ms[2], ln_fused.concrete_functions()[0].fused_groups());
"""),
        ("md", r"""
## Fusion: when it does not

A matmul-bound model spends its time in GEMM, which stays a library call (on a GPU, cuBLAS).
Fusion only merges the bias add and the ReLU around it: a few percent of the work. This is the
workshop's "XLA might not give a perf boost".
"""),
        ("code", r"""
let (xm, w1, w2) = (randn([256, 512]), randn([512, 512]) * 0.05, randn([512, 512]) * 0.05);
let b1 = randn([512]);
let (w1c, w2c, b1c) = (w1.clone(), w2.clone(), b1.clone());
let mlp_fused = function(move |x: &Tensor| (x.matmul(&w1c) + &b1c).relu().matmul(&w2c).tanh()).jit_compile(true);
mlp_fused.call(&xm);
drop((xm.matmul(&w1) + &b1).relu().matmul(&w2).tanh()); // warm-up, as the traced call had
let mlp_ms = [best_ms(3, || drop((xm.matmul(&w1) + &b1).relu().matmul(&w2).tanh())), best_ms(3, || drop(mlp_fused.call(&xm)))];
println!("matmul MLP: eager {:.1} ms, fused {:.1} ms ({:.2}x)", mlp_ms[0], mlp_ms[1], mlp_ms[0] / mlp_ms[1]);
plot::bar(["GELU eager", "GELU traced", "GELU fused", "LN eager", "LN traced", "LN fused", "MLP eager", "MLP fused"],
    &[gelu_ms[0], gelu_ms[1], gelu_ms[2], ln_ms[0], ln_ms[1], ln_ms[2], mlp_ms[0], mlp_ms[1]])
    .title("milliseconds per call (one thread)").ylabel("ms")
"""),
        ("md", r"""
Tracing alone (`traced`) saves little on big tensors: the same ops run, minus the Rust around
them. Its win is on small tensors, where per-op overhead dominates, and in what it enables:
fusion, and on a GPU one generated kernel per fused group (Ferrolab compiles each with NVRTC and
caches it by the group's structure).

## Exercise check
"""),
        ("code", r"""
assert_eq!(f.trace_count(), 3, "two shapes and one dtype: three traces");
assert_eq!(g.trace_count(), 1);
assert_eq!(calls.item(), 3.0, "the traced assign_add ran on every call");
assert!(b.to_vec::<f32>()[0] > 9.0, "the replay read the assigned variable");
assert_ne!(b.to_vec::<f32>(), c.to_vec::<f32>(), "random ops draw fresh numbers per replay");
assert!(step_gap <= 1e-6, "traced train step vs eager: {step_gap:e}");
for (e, j) in fit_eager.iter().zip(&fit_jit) {
    assert!((e - j).abs() <= 1e-5 * e.abs(), "jit_compile fit {fit_jit:?} vs eager {fit_eager:?}");
}
assert_eq!(fit_traces, 2);
assert!(gelu_ms[0] / gelu_ms[2] >= 2.5, "fused GELU only {:.2}x eager", gelu_ms[0] / gelu_ms[2]);
assert!(gelu_err <= 1e-6, "fused GELU differs from eager by {gelu_err:e}");
assert!(ln_err <= 1e-5, "fused layer norm differs from eager by {ln_err:e}");
println!("All checks passed: GELU fused {:.1}x eager, layer norm {:.1}x, matmul MLP {:.2}x",
    gelu_ms[0] / gelu_ms[2], ln_ms[0] / ln_ms[2], mlp_ms[0] / mlp_ms[1]);
"""),
        ("md", r"""
## Next steps

* Add a `Dropout` to the traced train step and check that each replay drops different units.
* Write softmax as separate ops (`max`, `sub`, `exp`, `sum`, `div`) and count its fused groups.
* On a GPU machine, move the GELU input to `Device::Cuda(0)` and time the generated kernel.
"""),
    ]
