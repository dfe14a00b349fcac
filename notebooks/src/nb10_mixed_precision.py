"""10_mixed_precision: what can be 16-bit and what must stay 32-bit, Keras dtype policies, loss
scaling, and the same model trained under float32, mixed_bfloat16 and mixed_float16."""


def cells():
    return [
        ("md", r"""
# Mixed precision
"""),
        ("md", r"""
## Overview

"What parts of the model can be in 16 bit? What must stay in 32 bit? What policy should Keras
use?" Keras answers with a **dtype policy**: under `mixed_float16` or `mixed_bfloat16` each layer
computes in 16 bits while its variables stay in float32, and a short list of numerically delicate
operations stays in float32 whatever the policy. This notebook follows TensorFlow's
mixed-precision guide with measurements on this machine.

You will:

* see f16 overflow and underflow on real numbers, and why bfloat16 trades precision for range;
* set a policy and check what each layer computes in and stores;
* measure how many gradients f16 rounds to zero without loss scaling, and with it;
* train the same model under `float32`, `mixed_bfloat16` and `mixed_float16` and compare loss,
  accuracy, activation memory and step time;
* read what a GPU with tensor cores would add.
"""),
        ("md", r"""
## Setup

The UCI 8x8 digits (1,797 handwritten digits, shipped with Ferrolab), scaled to [0, 1].
"""),
        ("code", r"""
use std::time::Instant;
use ferrolab::keras::mixed_precision::{self, Policy};
set_seed(0);
let (train, test) = datasets::digits().split(1500, 42);
let x_train = &train.x / 16.0;
let x_test = &test.x / 16.0;
println!("train {} / test {}", x_train.shape(), x_test.shape());
"""),
        ("md", r"""
## Sixteen bits on real numbers

float16 has 5 exponent bits and 10 mantissa bits: its largest value is 65,504 and nothing below
6e-8 survives. bfloat16 keeps float32's 8 exponent bits (same range) and only 7 mantissa bits
(about 3 significant digits). Each number below is rounded to each format:
"""),
        ("code", r"""
let values: [(&str, f32); 6] = [
    ("Earth-Sun distance, km", 149_597_870.7),
    ("seconds in a day", 86_400.0),
    ("exp(12), a softmax term", 12f32.exp()),
    ("pi", std::f32::consts::PI),
    ("1 + 1/1000", 1.001),
    ("a small gradient, 2e-8", 2e-8),
];
let mut table = Table::new(["value", "float32", "float16", "bfloat16"]);
for (name, v) in values {
    table.push_row((name, format!("{v:e}"), format!("{:e}", f16::from_f32(v).to_f32()), format!("{:e}", bf16::from_f32(v).to_f32())));
}
table
"""),
        ("md", r"""
Large values overflow to `inf` in f16, small ones flush to 0, and bfloat16 keeps both but rounds
1.001 to 1. Sums are the other trap: an f16 accumulator adding ones stops at 2048, because
2049 is not an f16. That is why Ferrolab reductions accumulate in f32 (or wider) for every dtype:
"""),
        ("code", r"""
let mut acc = f16::from_f32(0.0);
for _ in 0..4096 {
    acc += f16::from_f32(1.0);
}
let ones16 = ones([4096]).cast(DType::F16);
println!("f16 running sum of 4096 ones: {}", acc);
println!("ones16.sum():                 {}", ones16.sum().to_f32_vec()[0]);
println!("mean of 10^6 f16 ones:        {}", ones([1_000_000]).cast(DType::F16).mean().to_f32_vec()[0]);
"""),
        ("md", r"""
## Policies

A policy names the dtype a layer computes in and the dtype of its variables. A layer takes the
global policy when it is constructed; `.dtype("float32")` overrides it for one layer. As in
TensorFlow's guide, the model ends with a float32 softmax, so its outputs and the loss are f32.

What stays in float32 whatever the policy: softmax and log-softmax, losses, sums and means of many
elements, BatchNormalization and LayerNormalization statistics, and optimizer updates (the
variables are float32). Matmuls and convolutions take 16-bit inputs and accumulate in f32.
"""),
        ("code", r"""
fn build(policy: &str) -> Sequential {
    mixed_precision::set_global_policy(policy);
    set_seed(7); // the same initial weights under every policy
    let model = Sequential::new()
        .add(Dense::new(256).activation("relu"))
        .add(Dense::new(256).activation("relu"))
        .add(Dense::new(10))
        .add(Activation::new("softmax").dtype("float32"))
        .input_shape([64]);
    mixed_precision::set_global_policy("float32");
    model
}
let probe = build("mixed_float16");
for l in probe.layers() {
    println!("{:<12} policy {:<15} compute {:<9} variables {}", l.name(), l.dtype_policy().name(), format!("{}", l.compute_dtype()), l.variable_dtype());
}
probe.summary()
"""),
        ("md", r"""
## Gradients in f16, with and without loss scaling

Late in training most predictions are nearly right, so the gradients flowing backward are tiny:
the loss averages over the batch, and the error of a confident correct prediction is small. In
f16 those backward signals fall below 6e-8 and become exactly 0. We train a float32 model, copy
its weights into a `mixed_float16` copy, and compute on the same batch (all 1,500 training
images) the gradient of the loss with respect to the first hidden layer's activations, the
signal every earlier weight learns from, once in f32, once in f16 and once in f16 with the loss
multiplied by 2^15 (the loss scale `LossScaleOptimizer` starts with) and the gradient divided
back in f32. We count, among the entries that are non-zero in f32, those that came out exactly 0.
"""),
        ("code", r"""
let mut reference = build("float32");
reference.compile(Adam::new(1e-3), SparseCategoricalCrossentropy::new(), &["accuracy"]);
reference.fit(&x_train, &train.y).epochs(60).batch_size(64).verbose(0).run();
let half = build("mixed_float16");
let _ = half.predict(&x_train.slice(s![..1])); // builds the weights
for (h, r) in half.weights().iter().zip(reference.weights()) {
    h.assign(&r);
}

/// d loss / d (first hidden activations), and d loss / d weights, with the loss times `scale`
/// and the gradients divided by it in f32.
fn grads(model: &Sequential, x: &Tensor, y: &Tensor, scale: f64) -> (Vec<f32>, Vec<f32>) {
    let layers = model.layers();
    let tape = GradientTape::new();
    let h1 = layers[0].invoke(&[x.clone()], true);
    tape.watch(&h1);
    let mut h = h1.clone();
    for l in &layers[1..] {
        h = l.invoke(&[h], true);
    }
    let loss = SparseCategoricalCrossentropy::new().call(y, &h.cast(DType::F32)) * scale;
    let vars = model.trainable_weights();
    let mut sources: Vec<&Tensor> = vec![&h1];
    sources.extend(vars.iter().map(|v| v.as_tensor()));
    let g = tape.gradient_vec(&loss, &sources);
    let unscale = |t: &Option<Tensor>| (t.as_ref().unwrap().cast(DType::F32) / scale).to_vec::<f32>();
    let acts = unscale(&g[0]);
    let weights = g[1..].iter().flat_map(|t| unscale(t)).collect();
    (acts, weights)
}

/// Share of the entries non-zero in `reference` that are exactly zero in `g`.
fn zero_share(reference: &[f32], g: &[f32]) -> f64 {
    let nonzero: Vec<usize> = (0..reference.len()).filter(|&i| reference[i] != 0.0).collect();
    nonzero.iter().filter(|&&i| g[i] == 0.0).count() as f64 / nonzero.len() as f64
}

let (a32, w32) = grads(&reference, &x_train, &train.y, 1.0);
let (a16, w16) = grads(&half, &x_train, &train.y, 1.0);
let (a16s, w16s) = grads(&half, &x_train, &train.y, 32768.0);
let zeros_unscaled = zero_share(&a32, &a16);
let zeros_scaled = zero_share(&a32, &a16s);
let mut table = Table::new(["gradient", "entries", "zero in f16", "zero in f16, scaled 2^15"]);
table.push_row(("first hidden activations", a32.len(), format!("{:.1}%", 100.0 * zeros_unscaled), format!("{:.2}%", 100.0 * zeros_scaled)));
table.push_row(("all weights", w32.len(), format!("{:.1}%", 100.0 * zero_share(&w32, &w16)), format!("{:.2}%", 100.0 * zero_share(&w32, &w16s))));
table
"""),
        ("md", r"""
The weight gradients lose fewer entries outright: each is a sum over 1,500 images, which f16
matmuls accumulate in f32. They still lose the contributions of the images whose signal
vanished, and every layer below learns from those vanished signals. The histogram shows where the
f32 activation gradients lie against f16's smallest positive value, 2^-24:
"""),
        ("code", r"""
let logs: Vec<f64> = a32.iter().filter(|g| **g != 0.0).map(|g| (g.abs() as f64).log10()).collect();
plot::hist(&logs, 60)
    .axvline((2f64).powi(-24).log10())
    .title("|d loss / d activation| in f32, and f16's smallest value (line)")
    .xlabel("log10 |gradient|").ylabel("count")
"""),
        ("md", r"""
## One model, three policies

The same architecture, initial weights and batches under each policy. `compile` wraps the
optimizer in a `LossScaleOptimizer` under `mixed_float16`, as Keras does; bfloat16 has float32's
exponent range and needs no loss scaling. Activation memory is what the `GradientTape` holds for
the backward pass after one forward pass on 1,024 images (`model.activation_bytes(x)`).
"""),
        ("code", r"""
let policies = ["float32", "mixed_bfloat16", "mixed_float16"];
let epochs = 20;
let batch = 64;
let steps = epochs * 1500usize.div_ceil(batch);
let mut results: Vec<(String, Vec<f32>, f32, usize, f64, String)> = Vec::new();
for p in policies {
    let mut model = build(p);
    mixed_precision::set_global_policy(p); // compile follows the global policy, as in Keras
    model.compile(Adam::new(1e-3), SparseCategoricalCrossentropy::new(), &["accuracy"]);
    mixed_precision::set_global_policy("float32");
    let optimizer = model.training_state().optimizer().unwrap().name().to_string();
    let start = Instant::now();
    let history = model.fit(&x_train, &train.y).epochs(epochs).batch_size(batch).verbose(0).run();
    let ms_per_step = start.elapsed().as_secs_f64() * 1e3 / steps as f64;
    let acc = model.evaluate(&x_test, &test.y).get("accuracy").unwrap();
    let bytes = model.activation_bytes(&x_train.slice(s![..1024]));
    results.push((p.to_string(), history.get("loss").unwrap().to_vec(), acc, bytes, ms_per_step, optimizer));
}
let f32_bytes = results[0].3 as f64;
let mut table = Table::new(["policy", "optimizer", "final loss", "test accuracy", "activation MB", "vs float32", "ms / step"]);
for (p, loss, acc, bytes, ms, opt) in &results {
    table.push_row((p.as_str(), opt.as_str(), format!("{:.4}", loss.last().unwrap()), format!("{acc:.4}"), format!("{:.2}", *bytes as f64 / 1e6), format!("{:.2}x", *bytes as f64 / f32_bytes), format!("{ms:.2}")));
}
table
"""),
        ("code", r"""
let ep: Vec<f64> = (1..=epochs).map(|e| e as f64).collect();
results.iter().skip(1).fold(plot::plot(&ep, &results[0].1).label(&results[0].0), |fig, r| fig.plot(&ep, &r.1).label(&r.0))
    .title("training loss").xlabel("epoch").ylabel("loss").yscale("log")
"""),
        ("md", r"""
The curves lie on top of each other and the accuracies agree: 16-bit compute with f32 variables,
f32 statistics and (for f16) loss scaling trains like float32. Activation memory halves, because
every activation the tape keeps is 2 bytes instead of 4; the f16 copies of the weights and the
float32 softmax at the end keep it a little above one half.

## On a GPU

The step time on this CPU is no better under mixed precision, and usually worse. A CPU has no
16-bit arithmetic units that this engine uses: each f16 or bf16 matmul converts its tiles to f32,
multiplies in f32 and rounds back, so it does the f32 work plus the conversions, and the casts
between layers are extra passes over memory. On a GPU with tensor cores (V100 and later) the
picture changes: cuBLAS multiplies f16/bf16 matrices on the tensor cores with f32 accumulation, at
several times the float32 rate (an A100 lists 312 TFLOP/s for f16 against 19.5 for f32 without
TF32), and halved activations halve the memory traffic of the elementwise ops. Large layers
(widths that are multiples of 8, big batches) then train 2-3x faster under `mixed_float16` or
`mixed_bfloat16`; tiny models like this one stay bound by kernel launches. The cell below times
one 4096-wide matmul under each dtype when a GPU is present.
"""),
        ("code", r"""
let gpus = gpu_info();
if gpus.is_empty() {
    println!("No GPU here: the tensor-core comparison needs one (see 08_gpu_basics).");
} else {
    let dev = Device::Cuda(0);
    for dtype in [DType::F32, DType::F16, DType::BF16] {
        let a = randn([4096, 4096]).cast(dtype).to(dev);
        let _ = a.matmul(&a).to_f32_vec(); // warm-up
        let start = Instant::now();
        let r = (0..10).map(|_| a.matmul(&a)).last().unwrap();
        let _ = r.slice(s![..1, ..1]).to_f32_vec(); // wait for the GPU
        let secs = start.elapsed().as_secs_f64() / 10.0;
        println!("{dtype}: {:.1} TFLOP/s", 2.0 * 4096f64.powi(3) / secs / 1e12);
    }
};
"""),
        ("md", r"""
## Exercise check
"""),
        ("code", r"""
let acc32 = results[0].2;
for r in &results[1..] {
    assert!((r.2 - acc32).abs() <= 0.01, "{}: accuracy {} vs float32 {}", r.0, r.2, acc32);
    let ratio = r.3 as f64 / f32_bytes;
    assert!(ratio <= 0.55, "{}: activation memory {ratio:.3}x float32", r.0);
}
assert_eq!(results[2].5, "LossScaleOptimizer", "compile adds loss scaling under mixed_float16");
assert_eq!(results[1].5, "Adam", "bfloat16 needs no loss scaling");
assert!(zeros_unscaled > 0.10, "unscaled f16 lost only {:.1}% of the gradients", 100.0 * zeros_unscaled);
assert!(zeros_scaled < 0.01, "scaled f16 still lost {:.2}%", 100.0 * zeros_scaled);
println!("All checks passed: accuracy {:.4} / {:.4} / {:.4}, zeros {:.1}% -> {:.2}% with loss scaling",
    acc32, results[1].2, results[2].2, 100.0 * zeros_unscaled, 100.0 * zeros_scaled);
"""),
        ("md", r"""
## Next steps

* Replace the model with the CNN of `05_resnet` under `mixed_bfloat16`, and check that its
  BatchNormalization layers still report float32 statistics (`bn.weights()` are f32).
* Write a custom training loop with `LossScaleOptimizer::get_scaled_loss` and
  `get_unscaled_gradients`, and print `optimizer.scale()` as it adapts.
* On a GPU machine, time a 4096-4096-4096 MLP step under `float32` and `mixed_float16`.
"""),
    ]
