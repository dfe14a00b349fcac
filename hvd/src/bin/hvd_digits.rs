//! The digits MLP trained Horovod-style: `mpirun -np 2 target/release/hvd_digits`.
//!
//! Each rank trains on its shard of the 1,500 training digits (every other row) with half of
//! the global batch of 64; `DistributedOptimizer` averages the gradients, and the callback
//! broadcasts rank 0's initial weights (each rank draws different ones on purpose). Run alone,
//! it is the single-process baseline (one rank, batch 64).
//!
//! Options: `--epochs N` (10), `--out DIR` (each rank saves `rank{r}.safetensors` there),
//! `--np N` (starts itself under `mpirun -np N`), `--check` (the allreduce and broadcast
//! checks instead of training), `--bench-allreduce` (times MPI_Allreduce of 4 MiB). Output lines start with `rank R/S`.

use ferrolab::prelude::*;
use ferrolab_hvd as hvd;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let opt = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    if let Some(np) = opt("--np") {
        // relaunch under mpirun, without --np
        let np: usize = np.parse().expect("--np N");
        let i = args.iter().position(|a| a == "--np").expect("--np");
        let mut rest = args.clone();
        rest.drain(i..i + 2);
        match hvd::launch(np, &rest) {
            Ok(status) => std::process::exit(status.code().unwrap_or(1)),
            Err(e) => {
                eprintln!("error: {e}");
                std::process::exit(2);
            }
        }
    }
    let _mpi = hvd::init().unwrap_or_else(|e| panic!("{e}"));
    let (rank, size) = (hvd::rank(), hvd::size());
    if args.iter().any(|a| a == "--check") {
        check(rank, size);
        return;
    }
    if args.iter().any(|a| a == "--bench-allreduce") {
        bench_allreduce(rank, size);
        return;
    }
    let epochs: usize = opt("--epochs").map_or(10, |e| e.parse().expect("--epochs N"));
    ferrolab::state::set_num_threads(1);

    // different initial weights per rank: the broadcast must make them equal
    set_seed(42 + rank as u64);
    let (train, test) = datasets::digits().split(1500, 42);
    let (x, y) = (
        hvd::shard(&train.x, rank, size),
        hvd::shard(&train.y, rank, size),
    );
    let mut model = Sequential::new()
        .add(Dense::new(64).activation("relu"))
        .add(Dense::new(10))
        .input_shape([64]);
    model.compile(
        hvd::DistributedOptimizer::new(Adam::new(1e-2)),
        SparseCategoricalCrossentropy::from_logits(),
        &["accuracy"],
    );
    let history = model
        .fit(&x, &y)
        .epochs(epochs)
        .batch_size(64 / size)
        .verbose(0)
        .callback(hvd::BroadcastGlobalVariablesCallback::new(0))
        .run();
    for (e, loss) in history.get("loss").unwrap_or(&[]).iter().enumerate() {
        println!("rank {rank}/{size} epoch {} loss {loss:.6}", e + 1);
    }
    let acc = model
        .evaluate(&test.x, &test.y)
        .get("accuracy")
        .unwrap_or(0.0);
    let checksum: f64 = model
        .weights()
        .iter()
        .flat_map(|w| w.to_f32_vec())
        .map(|v| v as f64)
        .sum();
    println!("rank {rank}/{size} test_accuracy {acc:.4} weights_sum {checksum:.9}");
    if let Some(dir) = opt("--out") {
        let path = format!("{dir}/rank{rank}.safetensors");
        model.save_weights(&path).unwrap_or_else(|e| panic!("{e}"));
    }
}

/// Rank-dependent gradients average to the mean; rank 0's values reach every rank.
fn check(rank: usize, size: usize) {
    // DistributedOptimizer(SGD(lr=1)) on w = 0 with gradient (rank + 1): w = -mean(rank + 1)
    let w = Variable::new(zeros([3]));
    let mut opt = hvd::DistributedOptimizer::new(SGD::new(1.0));
    let g = full([3], rank as f32 + 1.0);
    opt.apply_gradients(&[Some(g)], &[&w]);
    let mean = (1..=size).sum::<usize>() as f32 / size as f32;
    let got = w.to_f32_vec();
    println!(
        "rank {rank}/{size} allreduce {:?} expected {:?}",
        got,
        vec![-mean; 3]
    );
    assert!(got.iter().all(|v| (v + mean).abs() < 1e-6));
    // broadcast: every rank starts from its own value and ends with rank 0's
    let v = Variable::new(full([2, 2], 10.0 * rank as f32 + 7.0));
    hvd::broadcast_variables(std::slice::from_ref(&v), 0);
    println!("rank {rank}/{size} broadcast {:?}", v.to_f32_vec());
    assert_eq!(v.to_f32_vec(), vec![7.0; 4]);
    println!("rank {rank}/{size} local_rank {}", hvd::local_rank());
    println!("rank {rank}/{size} check ok");
}

/// Median time of an MPI allreduce (SUM) of 4 MiB (1 Mi f32) over the ranks, printed by rank 0
/// with the CPU model.
fn bench_allreduce(rank: usize, size: usize) {
    let mut buf = vec![rank as f32 + 1.0; 1 << 20];
    let mut times = Vec::new();
    for i in 0..55 {
        hvd::barrier();
        let t = std::time::Instant::now();
        hvd::allreduce_sum(&mut buf);
        if i >= 5 {
            times.push(t.elapsed().as_secs_f64());
        }
    }
    times.sort_by(|a, b| a.partial_cmp(b).unwrap());
    if rank == 0 {
        let cpu = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("model name"))
                    .and_then(|l| l.split(':').nth(1))
                    .map(|m| m.trim().to_string())
            })
            .unwrap_or_else(|| "unknown CPU".into());
        println!("CPU: {cpu}");
        println!(
            "MPI allreduce (SUM) of 4 MiB over {size} ranks: {:.3} ms (median of 50)",
            times[times.len() / 2] * 1e3
        );
    }
}
