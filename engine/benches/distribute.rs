//! MirroredStrategy on this machine's cores: steps/s of the digits CNN (examples/digits_cnn.rs's
//! model) with a global batch of 64, as
//! - one replica on one thread (the baseline),
//! - one replica on every core (the gemm threads),
//! - one replica per core, one thread each (`config::set_logical_device_configuration`),
//!
//! and the in-process all-reduce (SUM over the replicas) of a 4 MiB tensor. The MPI allreduce of
//! the same size is `mpirun -np 2 target/release/hvd_digits --bench-allreduce`.
//!
//!     cargo bench -p ferrolab --bench distribute

mod common;

use std::time::Instant;

use ferrolab::config;
use ferrolab::prelude::*;

fn cnn() -> Sequential {
    let mut model = Sequential::new()
        .add(Conv2D::new(16, 3).padding("same").activation("relu"))
        .add(MaxPooling2D::new(2))
        .add(Conv2D::new(32, 3).padding("same").activation("relu"))
        .add(Flatten::new())
        .add(Dense::new(10))
        .input_shape([8, 8, 1]);
    model.compile(
        Adam::new(1e-3),
        SparseCategoricalCrossentropy::from_logits(),
        &["accuracy"],
    );
    model
}

/// Median steps/s over `reps` runs of 2 epochs (after a warm-up epoch).
fn steps_per_second(strategy: Option<&MirroredStrategy>, reps: usize) -> f64 {
    let (train, _) = datasets::digits().split(1500, 42);
    let x = train.images();
    let steps = 2 * 1500usize.div_ceil(64);
    let runs: Vec<f64> = (0..reps)
        .map(|_| {
            set_seed(0);
            let mut m = match strategy {
                Some(s) => s.scope(cnn),
                None => cnn(),
            };
            m.fit(&x, &train.y)
                .batch_size(64)
                .epochs(1)
                .verbose(0)
                .run();
            let t = Instant::now();
            m.fit(&x, &train.y)
                .batch_size(64)
                .epochs(2)
                .verbose(0)
                .run();
            steps as f64 / t.elapsed().as_secs_f64()
        })
        .collect();
    common::median(runs)
}

fn main() {
    let cores = config::cpu_cores();
    println!("CPU: {} ({cores} cores)", common::cpu_model());
    let reps = 3;
    ferrolab::state::set_num_threads(1);
    let one = steps_per_second(None, reps);
    println!("digits CNN, global batch 64: one replica, 1 thread:     {one:8.1} steps/s");
    ferrolab::state::set_num_threads(0);
    let all = steps_per_second(None, reps);
    println!(
        "digits CNN, global batch 64: one replica, {cores} threads:    {all:8.1} steps/s ({:.2}x)",
        all / one
    );
    config::set_logical_device_configuration(Device::Cpu, cores).unwrap();
    let s = MirroredStrategy::new();
    let threads = config::logical_cpu_devices()[0].threads;
    let mirrored = steps_per_second(Some(&s), reps);
    println!(
        "digits CNN, global batch 64: {} replicas x {threads} thread: {mirrored:8.1} steps/s ({:.2}x)",
        s.num_replicas_in_sync(),
        mirrored / one
    );
    // in-process all-reduce of 4 MiB (1 Mi f32) per replica
    let per_replica = PerReplica {
        values: (0..s.num_replicas_in_sync())
            .map(|i| full([1 << 20], i as f32 + 1.0))
            .collect(),
    };
    let secs = common::time(50, || {
        let r = s.reduce(ReduceOp::Sum, &per_replica);
        assert_eq!(r.dims(), &[1 << 20]);
    });
    println!(
        "in-process all-reduce (SUM) of 4 MiB over {} replicas: {:.3} ms",
        s.num_replicas_in_sync(),
        secs * 1e3
    );
}
