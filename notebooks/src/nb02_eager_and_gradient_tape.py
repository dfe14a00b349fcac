"""02_eager_and_gradient_tape: eager ops, GradientTape, linear regression from scratch, a
finite-difference check."""


def cells():
    return [
        ("md", r"""
# Eager execution and GradientTape
"""),
        ("md", r"""
## Overview

TensorFlow 1 built a graph first and ran it later in a `Session`. TensorFlow 2 dropped both:
operations run **eagerly**, the moment you call them, and return concrete values you can print.
Gradients come from a `GradientTape` that records the operations run while it is alive and then
plays them backwards. Ferrolab works the same way.

You will:

* run tensor operations eagerly and inspect their results;
* take derivatives with `GradientTape`, and see what `watch` and `persistent` do;
* fit a line with nothing but tensors, a tape and a learning rate, and watch the weights move
  towards the true values;
* check the tape's gradients against finite differences.
"""),
        ("md", r"""
## Setup

The prelude is already imported. Fix the seed so the data and the results are the same on every
run.
"""),
        ("code", r"""
set_seed(0);
"""),
        ("md", r"""
## Eager execution: no graphs, no sessions

Each line computes its result at once. There is nothing to build or run afterwards; a plain Rust
`if` or `for` can look at the values.
"""),
        ("code", r"""
let a = tensor([[1.0, 2.0], [3.0, 4.0]]);
let b = a.matmul(&a.t()) + 1.0;          // runs now
println!("a a^T + 1 =\n{}", b);
if b.sum().item() > 20.0 {
    println!("the sum is {} - ordinary control flow on tensor values", b.sum().item());
}
"""),
        ("md", r"""
## GradientTape

Operations on a `Variable` are recorded by every live tape. `tape.gradient(&y, [&x])` returns
dy/dx for each source (or `None` when `y` does not depend on it). For
y = x² + 5x at x = 3 the derivative 2x + 5 is 11:
"""),
        ("code", r"""
let x = Variable::new(tensor(3.0));
let tape = GradientTape::new();
let y = x.square() + &*x * 5.0;           // y = x^2 + 5x
let [dy_dx] = tape.gradient(&y, [&x]);
let dy_dx = dy_dx.unwrap().item();
println!("y = {}, dy/dx = {}", y.item(), dy_dx);
"""),
        ("md", r"""
Plain tensors (constants) are not tracked unless the tape `watch`es them, and a tape can be
asked only once unless it is `persistent`. A persistent tape can even be nested inside another
to get second derivatives:
"""),
        ("code", r"""
let c = tensor(2.0);
let outer = GradientTape::persistent();
outer.watch(&c);
let inner = GradientTape::new();
inner.watch(&c);
let z = c.powf(3.0);                      // z = c^3
let [dz] = inner.gradient(&z, [&c]);      // 3 c^2 = 12
let dz = dz.unwrap();
let [d2z] = outer.gradient(&dz, [&c]);    // 6 c = 12
let d2z = d2z.unwrap();
println!("dz/dc = {}, d2z/dc2 = {}", dz.item(), d2z.item());
"""),
        ("md", r"""
## Linear regression from scratch

The data: 200 points on the line y = 3x + 2, with Gaussian noise. The model: y_hat = x w + b,
with `w` and `b` as `Variable`s starting at zero. The loss: mean squared error. Each step asks the
tape for dL/dw and dL/db and moves the variables a little against them (gradient descent).
"""),
        ("code", r"""
const TRUE_W: f32 = 3.0;
const TRUE_B: f32 = 2.0;
let xs = uniform([200, 1], -1.0, 1.0, Some(1));
let ys = &xs * TRUE_W as f64 + TRUE_B as f64 + normal([200, 1], 0.0, 0.3, Some(2));
plot::scatter(&xs, &ys).title("Training data: y = 3x + 2 + noise").xlabel("x").ylabel("y")
"""),
        ("code", r"""
let w = Variable::new(zeros([1, 1]));
let b = Variable::new(zeros([1]));
let learning_rate = 0.1;
let (mut w_path, mut b_path, mut losses) = (Vec::new(), Vec::new(), Vec::new());
for step in 0..100 {
    let tape = GradientTape::new();
    let pred = xs.matmul(&w) + &*b;
    let loss = (pred - &ys).square().mean();
    let [dw, db] = tape.gradient(&loss, [&w, &b]);
    w.assign_sub(dw.unwrap() * learning_rate);
    b.assign_sub(db.unwrap() * learning_rate);
    w_path.push(w.item());
    b_path.push(b.item());
    losses.push(loss.item());
    if step % 20 == 0 {
        println!("step {step:3}: loss {:.4}, w {:.3}, b {:.3}", loss.item(), w.item(), b.item());
    }
}
println!("final: w = {:.3} (true {TRUE_W}), b = {:.3} (true {TRUE_B})", w.item(), b.item());
"""),
        ("md", r"""
The fitted line through the data, and the path of each weight towards its true value (dashed).
The loss falls quickly, then flattens at the noise level (0.3² = 0.09).
"""),
        ("code", r"""
let line_x = linspace(-1.0, 1.0, 50);
let fitted = &line_x * w.item() as f64 + b.item() as f64;
plot::subplots(3, [
    plot::scatter(&xs, &ys).label("data")
        .plot(&line_x, &fitted).label("fit")
        .title("Data and fitted line").xlabel("x").ylabel("y"),
    plot::line(&w_path).label("w")
        .line(&b_path).label("b")
        .axhline(TRUE_W as f64).axhline(TRUE_B as f64)
        .title("Weights vs true values").xlabel("step"),
    plot::line(&losses).yscale("log").title("Loss (MSE)").xlabel("step"),
])
"""),
        ("md", r"""
## Checking gradients with finite differences

How do we know the tape is right? Nudge each input by ±ε and watch the function change: the
central difference (f(x+ε) - f(x-ε)) / 2ε approximates the derivative with an error of order ε².
Here f(x) = Σ tanh(x)·sin(x) + mean(x²), whose gradient the tape computes in one backward pass.
"""),
        ("code", r"""
fn f(x: &Tensor) -> Tensor {
    (x.tanh() * x.sin()).sum() + x.square().mean()
}
let point = randn([6]);
let p = Variable::new(&point);
let tape = GradientTape::new();
let fx = f(&p);
let [g] = tape.gradient(&fx, [&p]);
let tape_grad = g.unwrap().to_vec::<f32>();

let eps = 1e-2;
let base = point.to_vec::<f32>();
let mut fd_grad = Vec::new();
for i in 0..base.len() {
    let (mut up, mut down) = (base.clone(), base.clone());
    up[i] += eps;
    down[i] -= eps;
    let fu = f(&from_vec(up, [6]).unwrap()).item();
    let fd = f(&from_vec(down, [6]).unwrap()).item();
    fd_grad.push((fu - fd) / (2.0 * eps));
}
let max_err = tape_grad.iter().zip(&fd_grad).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
let mut table = Table::new(["i", "tape", "finite difference"]);
for i in 0..base.len() {
    table.push_row((i, tape_grad[i], fd_grad[i]));
}
println!("largest difference: {max_err:.2e}");
table
"""),
        ("md", r"""
## Exercise check
"""),
        ("code", r"""
assert_eq!(dy_dx, 11.0, "d/dx (x^2 + 5x) at 3");
assert_eq!((dz.item(), d2z.item()), (12.0, 12.0), "first and second derivative of c^3 at 2");
assert!((w.item() - TRUE_W).abs() < 0.1, "w = {} should be close to {TRUE_W}", w.item());
assert!((b.item() - TRUE_B).abs() < 0.1, "b = {} should be close to {TRUE_B}", b.item());
assert!(losses[99] < 0.12 && losses[99] < losses[0] / 20.0, "loss {} -> {}", losses[0], losses[99]);
assert!(max_err < 1e-3, "tape vs finite differences: max error {max_err}");
println!("All checks passed.");
"""),
        ("md", r"""
## Next steps

* Change `learning_rate` to 1.0 or 0.01 and watch the weight paths: too large oscillates, too
  small crawls.
* Replace the update with `Adam::new(0.1).apply_gradients(...)` (see the README's cheat sheet).
* `03_keras_sequential_fit` lets Keras run this loop for you.
"""),
    ]
