"""13_distributed_training: logical devices, MirroredStrategy on two CPU replicas, Horovod-style
training over MPI, and a model split over two devices with and without GPipe pipelining."""


def cells():
    return [
        ("md", r"""
# Distributed training
"""),
        ("md", r"""
## Overview

There are three ways to use more than one device, and this notebook runs each of them on this
machine's CPU, the way TensorFlow tests its own strategies: by splitting the CPU into
**logical devices**.

You will:

* split the CPU into two logical devices, each with its share of the cores;
* train with `MirroredStrategy` (data parallelism: a replica per device, gradients all-reduced)
  and check that it reaches the same weights as one device;
* write the custom-loop version with `strategy.run`, `compute_average_loss` and
  `strategy.reduce`, and draw each replica's timeline;
* turn a single-process script into a Horovod-style one over MPI and run it with `mpirun -np 2`;
* split a model over two devices, then pipeline it with GPipe micro-batches and see the bubble
  shrink.
"""),
        ("md", r"""
## Setup

The UCI 8x8 digits (shipped with Ferrolab), and the CPU split in two, as
`tf.config.set_logical_device_configuration(cpu, [LogicalDeviceConfiguration()] * 2)` does.
"""),
        ("code", r"""
use std::time::Instant;
set_default_device(Device::Cpu); // this notebook runs on the CPU's logical devices, GPU or not
config::set_logical_device_configuration(Device::Cpu, 2).unwrap();
let (train, test) = datasets::digits().split(1500, 42);
let mut devices = Table::new(["name", "type", "intra-op threads"]);
for d in config::list_logical_devices() {
    devices.push_row((d.name.clone(), d.device_type, d.threads));
}
devices
"""),
        ("md", r"""
## MirroredStrategy: one model, two replicas

Under a strategy's `scope`, `compile` remembers the strategy, and `fit` then cuts every global
batch in two, runs each half on its replica's thread, sums the gradients (the all-reduce) and
applies **one** update. Each replica's loss is scaled by the *global* batch size, so the sum of
the replicas' gradients is exactly the gradient of the whole batch. Same seed, same global batch:
the weights must agree with a single device after 20 steps.
"""),
        ("code", r"""
fn digits_mlp() -> Sequential {
    let mut m = Sequential::new()
        .add(Dense::new(64).activation("relu"))
        .add(Dense::new(10))
        .input_shape([64]);
    m.compile(Adam::new(1e-2), SparseCategoricalCrossentropy::from_logits(), &["accuracy"]);
    m
}
let strategy = MirroredStrategy::with_devices(&["/cpu:0", "/cpu:1"]).unwrap();
println!("replicas in sync: {}", strategy.num_replicas_in_sync());
// 20 steps of 64 examples
let (x20, y20) = (train.x.slice(s![..1280]), train.y.slice(s![..1280]));
set_seed(1);
let mut single = digits_mlp();
single.fit(&x20, &y20).batch_size(64).verbose(0).run();
set_seed(1);
let mut mirrored = strategy.scope(digits_mlp);
mirrored.fit(&x20, &y20).batch_size(64).verbose(0).run();
let mirrored_diff = single.weights().iter().zip(mirrored.weights().iter())
    .flat_map(|(a, b)| a.to_f32_vec().into_iter().zip(b.to_f32_vec()).map(|(p, q)| (p - q).abs()).collect::<Vec<_>>())
    .fold(0f32, f32::max);
println!("largest weight difference after 20 steps: {mirrored_diff:e}");
"""),
        ("md", r"""
### The custom loop, and each replica's timeline

TF's distributed custom-loop tutorial, in Rust. `experimental_distribute_dataset` cuts each batch
into one shard per replica; `strategy.run` runs the step on every replica's thread;
`compute_average_loss` divides the per-example losses by the global batch. The step returns the
gradients instead of applying them (the replicas share the weights here): they are summed with
`strategy.reduce(ReduceOp::Sum, ..)` and applied once.
"""),
        ("code", r"""
set_seed(2);
let model = strategy.scope(digits_mlp);
let vars = model.trainable_weights();
let mut opt = Adam::new(1e-2);
let ds = Dataset::from_tensor_slices((&train.x, &train.y)).batch(128).take(8);
let t0 = Instant::now();
let mut spans: Vec<(usize, f64, f64)> = Vec::new();
let mut custom_losses = Vec::new();
for per_replica in strategy.experimental_distribute_dataset(&ds).iter() {
    let global: usize = per_replica.values.iter().map(|(x, _)| x.dims()[0]).sum();
    let out = strategy.run(|(x, y)| {
        let start = t0.elapsed().as_secs_f64();
        let tape = GradientTape::new();
        let logits = model.invoke(&[x.clone()], true);
        let per_example = -(one_hot(y, 10) * logits.log_softmax(-1)).sum_axis(-1, false);
        let loss = distribute::compute_average_loss(&per_example, global);
        let grads = tape.gradient(&loss, &vars);
        (loss, grads, start, t0.elapsed().as_secs_f64())
    }, &per_replica);
    let losses = PerReplica { values: out.values.iter().map(|o| o.0.clone()).collect() };
    let grads = PerReplica { values: out.values.iter().map(|o| o.1.clone()).collect() };
    custom_losses.push(strategy.reduce(ReduceOp::Sum, &losses).item());
    opt.apply_gradients(&strategy.reduce(ReduceOp::Sum, &grads), &vars);
    spans.extend(out.values.iter().enumerate().map(|(r, o)| (r, o.2, o.3)));
}
println!("loss per step: {:?}", custom_losses.iter().map(|l| format!("{l:.3}")).collect::<Vec<_>>());
// a (replica x time) grid: 1 while the replica computes
let end = spans.iter().map(|s| s.2).fold(0.0, f64::max);
let bins = 120;
let mut grid = vec![0f32; 2 * bins];
for &(r, a, b) in &spans {
    for i in (a / end * bins as f64) as usize..((b / end * bins as f64).ceil() as usize).min(bins) {
        grid[r * bins + i] = 1.0;
    }
}
plot::heatmap(&from_vec(grid, [2, bins]).unwrap()).title("Replica timelines (rows: replica 0, 1; bright: computing)").xlabel("time")
"""),
        ("md", r"""
## Horovod-style, over MPI

Horovod scales a single-process script by taking over the optimizer. `ferrolab-hvd` (a crate
beside the engine, built on the `mpi` crate over OpenMPI; notebook cells never link it) does the
same. The whole change to a single-process training program
(`hvd/src/bin/hvd_digits.rs`):

```diff
+ use ferrolab_hvd as hvd;
  fn main() {
+     let _mpi = hvd::init().unwrap();
+     let (rank, size) = (hvd::rank(), hvd::size());
-     let (x, y) = (train.x, train.y);
+     let (x, y) = (hvd::shard(&train.x, rank, size), hvd::shard(&train.y, rank, size));
-     model.compile(Adam::new(1e-2), loss, &["accuracy"]);
+     model.compile(hvd::DistributedOptimizer::new(Adam::new(1e-2)), loss, &["accuracy"]);
-     model.fit(&x, &y).batch_size(64).run();
+     model.fit(&x, &y).batch_size(64 / size)
+         .callback(hvd::BroadcastGlobalVariablesCallback::new(0)).run();
  }
```

`DistributedOptimizer` averages each gradient over the ranks (MPI_Allreduce) before applying it;
the callback copies rank 0's initial weights to every rank (each rank draws different ones on
purpose, so without it they would never agree). In a terminal:
`mpirun -np 2 target/release/hvd_digits`. Here the cell starts it next to the kernel's binary
(install.sh built both), once on two ranks and once alone, as the single-process baseline.
"""),
        ("code", r"""
let hvd_digits = std::env::current_exe().unwrap().with_file_name("hvd_digits");
let out_dir = std::env::temp_dir().join(format!("ferrolab-hvd-{}", std::process::id()));
fn mpirun(exe: &std::path::Path, np: usize, out: &std::path::Path) -> String {
    std::fs::create_dir_all(out).unwrap();
    let run = std::process::Command::new("mpirun")
        .args(["--oversubscribe", "-np", &np.to_string()])
        .arg(exe)
        .args(["--epochs", "10", "--out", out.to_str().unwrap()])
        // mpirun refuses root unless asked (CI runs as root); a normal user needs none of these
        .env("OMPI_ALLOW_RUN_AS_ROOT", "1").env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
        .env("OMPI_MCA_btl", "self,vader")
        .output()
        .expect("mpirun not found: run ./install.sh (it installs OpenMPI)");
    assert!(run.status.success(), "mpirun failed:\n{}", String::from_utf8_lossy(&run.stderr));
    String::from_utf8(run.stdout).unwrap()
}
let two_ranks = mpirun(&hvd_digits, 2, &out_dir.join("np2"));
let one_process = mpirun(&hvd_digits, 1, &out_dir.join("np1"));
print!("{two_ranks}{one_process}");
"""),
        ("code", r"""
// the lines `rank R/S epoch E loss L` and `rank R/S test_accuracy A weights_sum W`
fn field(out: &str, rank: usize, size: usize, key: &str) -> Vec<String> {
    out.lines()
        .filter_map(|l| l.strip_prefix(&format!("rank {rank}/{size} {key} ")))
        .map(|s| s.to_string())
        .collect()
}
fn loss_curve(out: &str, rank: usize) -> Vec<f64> {
    field(out, rank, 2, "epoch").iter().map(|s| s.split(' ').nth(2).unwrap().parse().unwrap()).collect()
}
fn acc(line: &str) -> f32 {
    line.split(' ').next().unwrap().parse().unwrap()
}
let (loss0, loss1) = (loss_curve(&two_ranks, 0), loss_curve(&two_ranks, 1));
let rank0 = field(&two_ranks, 0, 2, "test_accuracy")[0].clone();
let rank1 = field(&two_ranks, 1, 2, "test_accuracy")[0].clone();
let alone = field(&one_process, 0, 1, "test_accuracy")[0].clone();
println!("rank 0: {rank0}\nrank 1: {rank1}\n1 process: {alone}");
let epochs: Vec<f64> = (1..=loss0.len()).map(|e| e as f64).collect();
plot::plot(&epochs, &loss0).label("rank 0 (its shard)")
    .plot(&epochs, &loss1).label("rank 1 (its shard)")
    .title("Training loss of both ranks").xlabel("epoch").ylabel("loss")
"""),
        ("md", r"""
## A model split over two devices

When a model does not fit on one device, its layers are split: stage 1 on one device, stage 2 on
the next, activations copied between them (free between logical CPUs, a copy between GPUs).
`Pipeline` places each stage (a `Sequential`) on a logical device. Plain, one stage waits while
the other works. With GPipe's **micro-batches** (`pipeline(n_micro)`) the batch is cut into
pieces: stage 1 starts on micro-batch 2 while stage 2 works on micro-batch 1, then the backward
passes flow back the same way. The gradients are accumulated over the micro-batches, so training
is the same; only the idle time (the *bubble*) shrinks.
"""),
        ("code", r"""
fn split_model(n_micro: usize) -> Pipeline {
    let cpus = config::list_logical_devices();
    set_seed(3);
    let mut m = Pipeline::new()
        .stage(&cpus[0], Sequential::new()
            .add(Dense::new(1024).activation("relu"))
            .add(Dense::new(1024).activation("relu"))
            .input_shape([64]))
        .stage(&cpus[1], Sequential::new()
            .add(Dense::new(1024).activation("relu"))
            .add(Dense::new(10))
            .input_shape([1024]))
        .pipeline(n_micro);
    m.compile(Adam::new(1e-3), SparseCategoricalCrossentropy::from_logits(), &["accuracy"]);
    m
}
let mut timings = Vec::new();
let mut bubbles = Vec::new();
let mut grids = Vec::new();
for n_micro in [1, 4] {
    let mut m = split_model(n_micro);
    m.fit(&train.x, &train.y).batch_size(512).epochs(1).verbose(0).run(); // warm-up
    // the best of three epochs: other work on the machine only ever adds time
    let secs = (0..3).map(|_| {
        let start = Instant::now();
        m.fit(&train.x, &train.y).batch_size(512).epochs(1).verbose(0).run();
        start.elapsed().as_secs_f64()
    }).fold(f64::MAX, f64::min);
    println!("pipeline({n_micro}): best epoch {secs:.2} s, bubble {:.0}% of the last step", 100.0 * m.bubble_fraction());
    timings.push(secs);
    bubbles.push(m.bubble_fraction());
    grids.push(plot::heatmap(&m.timeline_grid(100))
        .title(format!("pipeline({n_micro}): stages x time (1 forward, 2 backward, 0 idle)")));
}
plot::subplots(1, grids)
"""),
        ("md", r"""
## Exercise check
"""),
        ("code", r"""
assert!(mirrored_diff <= 1e-5, "mirrored and single-device weights differ by {mirrored_diff}");
assert_eq!(rank0.split(' ').nth(2), rank1.split(' ').nth(2), "the two ranks' weights differ");
let saved0 = std::fs::read(out_dir.join("np2/rank0.safetensors")).unwrap();
let saved1 = std::fs::read(out_dir.join("np2/rank1.safetensors")).unwrap();
assert!(saved0 == saved1, "the two ranks saved different weights");
assert!((acc(&rank0) - acc(&alone)).abs() <= 0.01, "2 ranks {} vs 1 process {}", acc(&rank0), acc(&alone));
assert!(loss0.last() < loss0.first() && loss1.last() < loss1.first(), "both ranks' losses go down");
assert!(bubbles[1] < bubbles[0], "pipelined bubble {:.2} is not smaller than unpipelined {:.2}", bubbles[1], bubbles[0]);
config::set_logical_device_configuration(Device::Cpu, 1).unwrap();
println!("All checks passed: mirrored diff {mirrored_diff:e}; MPI accuracy {} vs {}; bubble {:.0}% -> {:.0}% pipelined ({:.2}x the unpipelined epoch's speed)",
    acc(&rank0), acc(&alone), 100.0 * bubbles[0], 100.0 * bubbles[1], timings[0] / timings[1]);
"""),
        ("md", r"""
## Next steps

* Change the global batch of the MirroredStrategy cell to 65: the last replica gets one row less,
  and the weights still agree (the loss is scaled by the global batch).
* Run `mpirun -np 2 target/release/hvd_digits --bench-allreduce` in a terminal and compare the
  time of a 4 MiB allreduce with `cargo bench -p ferrolab --bench distribute`'s in-process one.
* Try `pipeline(8)` and `pipeline(16)`: the bubble shrinks, but each micro-batch gets smaller and
  the per-op overhead grows. Where is the sweet spot here?
* Scaling past one machine: see the README's "Scaling past one machine" section.
"""),
    ]
