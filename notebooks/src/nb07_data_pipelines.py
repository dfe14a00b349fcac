"""07_data_pipelines: shuffle/map/batch/prefetch, TF's tf.data performance experiment with its
timeline plots, and a dataset streamed from disk."""


def cells():
    return [
        ("md", r"""
# Input pipelines with `Dataset`
"""),
        ("md", r"""
## Overview

A model can only train as fast as data reaches it. `tf.data` describes the input as a pipeline of
small steps (read, shuffle, transform, batch, prefetch) that run on background threads while the
model trains. Ferrolab's `Dataset` has the same methods with the same names.

You will:

* build a pipeline with `shuffle`, `map`, `batch` and `prefetch`, and train a model from it;
* repeat the experiment of TensorFlow's guide
  [Better performance with the tf.data API](https://www.tensorflow.org/guide/data_performance),
  and see on a timeline why prefetching, parallel `map` and `cache` help;
* stream a dataset from files on disk, with memory use bounded by the pipeline's buffers rather
  than by the size of the data.
"""),
        ("md", r"""
## Setup
"""),
        ("code", r"""
use std::time::{Duration, Instant};
use ferrolab::data::{timeline_chart, write_npy, Timeline};
set_seed(5);
let (train, test) = datasets::digits().split(1500, 42);
"""),
        ("md", r"""
## shuffle, map, batch, prefetch

`from_tensor_slices` makes one element per row. `shuffle(buffer, seed)` draws from a buffer of
1,024 elements, `map` transforms each element (here: pixels from [0, 1] to [-1, 1]), `batch`
stacks 64 of them, and `prefetch` prepares the next batches on a background thread while the
current one is used. Nothing runs until the dataset is iterated.
"""),
        ("code", r"""
let pipeline = Dataset::from_tensor_slices((&train.x, &train.y))
    .shuffle(1024, 7)
    .map(|(x, y)| (x * 2.0 - 1.0, y))
    .batch(64)
    .prefetch(AUTOTUNE);
pipeline
"""),
        ("code", r"""
let (mut batches, mut examples) = (0, 0);
for (x, y) in &pipeline {
    if batches == 0 {
        println!("first batch: x {:?} in [{}, {}], y {:?}", x.dims(), x.min().item(), x.max().item(), y.dims());
    }
    batches += 1;
    examples += y.dims()[0];
}
println!("{batches} batches, {examples} examples (the last batch is smaller)");
"""),
        ("md", r"""
A Keras model trains straight from a dataset of `(x, y)` batches with `fit_dataset`:
"""),
        ("code", r"""
let mut model = Sequential::new()
    .add(Dense::new(64).activation("relu"))
    .add(Dense::new(10))
    .input_shape([64]);
model.compile(Adam::new(2e-3), SparseCategoricalCrossentropy::from_logits(), &["accuracy"]);
let history = model.fit_dataset(&pipeline).epochs(5).run();
let test_ds = Dataset::from_tensor_slices((&test.x, &test.y)).map(|(x, y)| (x * 2.0 - 1.0, y)).batch(128);
let pipeline_accuracy = model.evaluate_dataset(&test_ds).get("accuracy").unwrap();
println!("test accuracy {pipeline_accuracy:.3}");
"""),
        ("md", r"""
## The tf.data performance experiment

The guide simulates an expensive input: opening the dataset costs 30 ms, reading each element
15 ms, and each training step 10 ms. Sleeping stands in for the work, so the timings show how the
stages overlap, not how fast this machine is. A `Timeline` records when every open, read, map and
train step ran, on whichever thread.
"""),
        ("code", r"""
const OPEN: Duration = Duration::from_millis(30);
const READ: Duration = Duration::from_millis(15);
const STEP: Duration = Duration::from_millis(10);
const MAP: Duration = Duration::from_millis(30);
const SAMPLES: usize = 10;
const EPOCHS: usize = 2;

/// The guide's ArtificialDataset: SAMPLES elements, slow to open and to read.
fn artificial(rec: &Timeline) -> Dataset<Tensor> {
    let rec = rec.clone();
    Dataset::from_generator(move || {
        let rec = rec.clone();
        (0..SAMPLES).map(move |i| {
            if i == 0 {
                rec.sleep("open", OPEN);
            }
            rec.sleep("read", READ);
            tensor(i as i64)
        })
    })
}

/// The guide's expensive map function.
fn slow_map(rec: &Timeline) -> impl Fn(Tensor) -> Tensor + Send + Sync + 'static {
    let rec = rec.clone();
    move |x| {
        rec.sleep("map", MAP);
        x
    }
}

/// Iterates EPOCHS times with a simulated training step per element; returns seconds per epoch.
fn benchmark(name: &str, build: impl Fn(&Timeline) -> Dataset<Tensor>) -> (String, Vec<f64>, Timeline) {
    let rec = Timeline::new();
    let ds = build(&rec);
    let epochs: Vec<f64> = (0..EPOCHS).map(|_| {
        let t = Instant::now();
        for _x in &ds {
            rec.sleep("train", STEP);
        }
        t.elapsed().as_secs_f64()
    }).collect();
    println!("{name:<28} {:.3} s  (epochs {:?})", epochs.iter().sum::<f64>(),
             epochs.iter().map(|e| (e * 1000.0).round() / 1000.0).collect::<Vec<_>>());
    (name.to_string(), epochs, rec)
}
"""),
        ("md", r"""
First the naive pipeline, where reading and training take turns, and the same with `prefetch`,
which reads the next element while the current one trains:
"""),
        ("code", r"""
let naive = benchmark("naive", artificial);
let prefetched = benchmark("prefetch", |r| artificial(r).prefetch(AUTOTUNE));
timeline_chart(&[(&naive.0, &naive.2), (&prefetched.0, &prefetched.2)])
"""),
        ("md", r"""
An expensive `map` run on one thread, then on four (`num_parallel_calls(4)`), and then cached:
`cache()` keeps the mapped elements in memory after the first epoch, so the second epoch skips
opening, reading and mapping altogether.
"""),
        ("code", r"""
let seq_map = benchmark("sequential map", |r| artificial(r).map(slow_map(r)));
let par_map = benchmark("parallel map (4)", |r| artificial(r).map(slow_map(r)).num_parallel_calls(4));
let cached = benchmark("map + cache", |r| artificial(r).map(slow_map(r)).cache());
timeline_chart(&[(&seq_map.0, &seq_map.2), (&par_map.0, &par_map.2), (&cached.0, &cached.2)])
"""),
        ("code", r"""
fn total(run: &(String, Vec<f64>, Timeline)) -> f64 {
    run.1.iter().sum()
}
let prefetch_speedup = total(&naive) / total(&prefetched);
let map_speedup = total(&seq_map) / total(&par_map);
let cache_speedup = cached.1[0] / cached.1[1];
plot::bar(["prefetch vs naive", "parallel vs sequential map", "cached epoch 2 vs 1"],
          [prefetch_speedup, map_speedup, cache_speedup])
    .axhline(1.0)
    .title("Speed-ups")
    .ylabel("x faster")
"""),
        ("md", r"""
## Streaming a dataset bigger than memory

A dataset does not have to fit in memory: it can be read from files as it is used. Here we write
12 shards of 2 MiB each in the NumPy `.npy` format, then stream them through a pipeline:
`list_files` finds the shards, `interleave` reads two at a time row by row, `map` and `batch`
run as before. Only a few rows per stage are ever held at once, so memory stays flat no matter
how many shards there are: with 12,000 shards (24 GiB) the loop below would look the same.
"""),
        ("code", r"""
const SHARDS: usize = 12;
const ROWS: usize = 512;
const COLS: usize = 1024; // one row = 4 KiB, one shard = 2 MiB
let shard_dir = std::env::temp_dir().join(format!("ferrolab-nb07-{}", std::process::id()));
std::fs::create_dir_all(&shard_dir).unwrap();
for s in 0..SHARDS {
    // every value of row r in shard s is s + r / 1000, so the sum can be checked
    let v: Vec<f32> = (0..ROWS).flat_map(|r| std::iter::repeat_n(s as f32 + r as f32 / 1000.0, COLS)).collect();
    write_npy(shard_dir.join(format!("shard-{s:02}.npy")), &from_vec(v, [ROWS, COLS]).unwrap()).unwrap();
}
let on_disk_mib = (SHARDS * ROWS * COLS * 4) as f64 / (1 << 20) as f64;
println!("wrote {SHARDS} shards, {on_disk_mib:.0} MiB, to {}", shard_dir.display());
"""),
        ("code", r"""
/// Resident memory of this process (the one that runs the cells), in MiB.
fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status.lines().find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

let stream = Dataset::list_files(shard_dir.join("shard-*.npy")).unwrap()
    .interleave(Dataset::from_npy, 2, 4)
    .num_parallel_calls(2)
    .map(|row| row.mean())
    .batch(256)
    .prefetch(2);

let rss_before = rss_mib();
let (mut rows_seen, mut sum, mut rss_trace) = (0usize, 0f64, Vec::new());
for batch in &stream {
    rows_seen += batch.dims()[0];
    sum += batch.sum().item() as f64;
    rss_trace.push(rss_mib() - rss_before);
}
let expected: f64 = (0..SHARDS).map(|s| (0..ROWS).map(|r| s as f64 + r as f64 / 1000.0).sum::<f64>()).sum();
let peak_growth = rss_trace.iter().cloned().fold(0.0, f64::max);
println!("streamed {rows_seen} rows; row-mean sum {sum:.1} (expected {expected:.1})");
println!("memory growth while streaming {on_disk_mib:.0} MiB: at most {peak_growth:.1} MiB");
std::fs::remove_dir_all(&shard_dir).unwrap();
plot::line(&rss_trace)
    .axhline(on_disk_mib)
    .title("Memory growth while streaming (line: size of the data on disk)")
    .xlabel("batch")
    .ylabel("MiB")
"""),
        ("md", r"""
## Exercise check
"""),
        ("code", r"""
assert_eq!((batches, examples), (24, 1500), "1500 examples in batches of 64");
assert!(pipeline_accuracy > 0.9, "accuracy of the model trained from the pipeline: {pipeline_accuracy}");
assert!(prefetch_speedup > 1.3, "prefetch is only {prefetch_speedup:.2}x faster than naive");
assert!(map_speedup > 2.0, "parallel map is only {map_speedup:.2}x faster");
assert!(cache_speedup > 4.0, "the cached epoch is only {cache_speedup:.2}x faster (at best 5.9x)");
assert_eq!(rows_seen, SHARDS * ROWS);
assert!((sum - expected).abs() < 1e-3 * expected, "sum {sum} vs {expected}");
assert!(peak_growth < on_disk_mib / 2.0, "memory grew by {peak_growth:.1} MiB for {on_disk_mib} MiB of data");
println!("All checks passed.");
"""),
        ("md", r"""
## Next steps

* Add `.prefetch(AUTOTUNE)` and `.num_parallel_calls(4)` to the other pipelines and compare the
  timelines.
* `interleave` with `num_parallel_calls(1)`: how much slower is it?
* `Dataset::from_csv` reads CSV files the same way (see `?Dataset`).
"""),
    ]
