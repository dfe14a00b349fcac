//! `MirroredStrategy` on logical CPUs against one device: the same model, seed and global batch
//! give the same weights, because each replica's loss is scaled by the global batch and the
//! summed gradients are the gradient of the global batch's mean.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::common::keras::assert_bits_eq;
use crate::common::{assert_close, assert_contains, global_rng, panic_message, rnd};
use ferrolab::config;
use ferrolab::distribute::compute_average_loss;
use ferrolab::keras::callbacks::CallbackContext;
use ferrolab::keras::models::Logs;
use ferrolab::prelude::*;

/// Splits the CPU in `n`; back to one when dropped (also when a test fails).
struct LogicalCpus;
impl LogicalCpus {
    fn split(n: usize) -> LogicalCpus {
        // on a GPU machine too, these tests compare CPU replicas with the CPU
        set_default_device(Device::Cpu);
        config::set_logical_device_configuration(Device::Cpu, n).unwrap();
        LogicalCpus
    }
}
impl Drop for LogicalCpus {
    fn drop(&mut self) {
        config::set_logical_device_configuration(Device::Cpu, 1).unwrap();
    }
}

/// A classifier with an L2 penalty (so the penalty's share per replica is checked too).
fn classifier() -> Sequential {
    let mut m = Sequential::new()
        .add(
            Dense::new(16)
                .activation("relu")
                .kernel_regularizer(l2(1e-3)),
        )
        .add(Dense::new(3))
        .input_shape([8]);
    m.compile(
        Adam::new(1e-2),
        SparseCategoricalCrossentropy::from_logits(),
        &["accuracy"],
    );
    m
}

fn data(n: usize) -> (Tensor, Tensor) {
    (rnd(&[n, 8], 1), rnd(&[n, 3], 2).argmax(-1))
}

/// Trains a fresh seeded classifier, under `strategy` when given; returns its weights and
/// History.
fn train(
    strategy: Option<&MirroredStrategy>,
    n: usize,
    batch: usize,
    epochs: usize,
) -> (Vec<Vec<f32>>, History) {
    set_seed(7);
    let (x, y) = data(n);
    let mut m = match strategy {
        Some(s) => s.scope(classifier),
        None => classifier(),
    };
    let h = m
        .fit(&x, &y)
        .batch_size(batch)
        .epochs(epochs)
        .verbose(0)
        .run();
    (m.weights().iter().map(|w| w.to_f32_vec()).collect(), h)
}

fn assert_same_training(a: &(Vec<Vec<f32>>, History), b: &(Vec<Vec<f32>>, History)) {
    for (wa, wb) in a.0.iter().zip(&b.0) {
        assert_close(wa, wb, 1e-5);
    }
    let losses = |h: &History| h.get("loss").unwrap().to_vec();
    assert_close(&losses(&a.1), &losses(&b.1), 1e-5);
    assert_eq!(a.1.get("accuracy"), b.1.get("accuracy"));
}

#[test]
fn two_replicas_match_one_device_after_20_steps() {
    let _alone = global_rng();
    set_default_device(Device::Cpu);
    let single = train(None, 64, 32, 10); // 2 steps per epoch: 20 steps
    let _cpus = LogicalCpus::split(2);
    let strategy = MirroredStrategy::with_devices(&["/cpu:0", "/cpu:1"]).unwrap();
    assert_eq!(strategy.num_replicas_in_sync(), 2);
    let mirrored = train(Some(&strategy), 64, 32, 10);
    assert_same_training(&mirrored, &single);
    // and training did something
    assert!(mirrored.1.last("loss").unwrap() < mirrored.1.get("loss").unwrap()[0]);
}

#[test]
fn uneven_last_batches_match_one_device() {
    let _alone = global_rng();
    set_default_device(Device::Cpu);
    // 67 rows in batches of 32: 32, 32, 3 -> shards 11/11/10 and 1/1/1 over three replicas
    let single = train(None, 67, 32, 3);
    {
        let _cpus = LogicalCpus::split(3);
        let s = MirroredStrategy::with_devices(&["/cpu:0", "/cpu:1", "/cpu:2"]).unwrap();
        assert_same_training(&train(Some(&s), 67, 32, 3), &single);
    }
    // 65 rows over two replicas: the last batch has one row, and replica 1 sits it out
    let single = train(None, 65, 32, 3);
    let _cpus = LogicalCpus::split(2);
    let s = MirroredStrategy::with_devices(&["/cpu:0", "/cpu:1"]).unwrap();
    assert_same_training(&train(Some(&s), 65, 32, 3), &single);
}

#[test]
fn a_custom_loop_scales_the_loss_by_the_global_batch() {
    let _alone = global_rng();
    let _cpus = LogicalCpus::split(2);
    let strategy = MirroredStrategy::with_devices(&["/cpu:0", "/cpu:1"]).unwrap();
    set_seed(3);
    let model = strategy.scope(|| {
        Sequential::new()
            .add(Dense::new(4).activation("tanh"))
            .add(Dense::new(1))
            .input_shape([5])
    });
    let vars = model.trainable_weights();
    let (x, y) = (rnd(&[40, 5], 4), rnd(&[40, 1], 5));
    // batches of 24 and 16: shards 12/12 and 8/8
    let ds = Dataset::from_tensor_slices((&x, &y)).batch(24);
    let dist = strategy.experimental_distribute_dataset(&ds);
    let mut seen = 0;
    for (per_replica, (bx, by)) in dist.iter().zip(ds.iter()) {
        let global = bx.dims()[0];
        assert_eq!(per_replica.len(), 2);
        assert_eq!(per_replica.values[0].0.dims()[0], global / 2);
        // each replica: its per-example losses over the GLOBAL batch size
        let out = strategy.run(
            |(x, y)| {
                let tape = GradientTape::new();
                let per_example = (model.invoke(std::slice::from_ref(x), true) - y)
                    .square()
                    .mean_axis(-1, false);
                let loss = compute_average_loss(&per_example, global);
                let grads = tape.gradient_vec(
                    &loss,
                    &vars.iter().map(|v| v.as_tensor()).collect::<Vec<_>>(),
                );
                (loss, grads)
            },
            &per_replica,
        );
        let losses = PerReplica {
            values: out.values.iter().map(|(l, _)| l.clone()).collect(),
        };
        let grads = PerReplica {
            values: out.values.iter().map(|(_, g)| g.clone()).collect(),
        };
        let loss = strategy.reduce(ReduceOp::Sum, &losses);
        let mean = strategy.reduce(ReduceOp::Mean, &losses);
        let grads = strategy.reduce(ReduceOp::Sum, &grads);
        // one device: the mean over the global batch
        let tape = GradientTape::new();
        let want = (model.invoke(std::slice::from_ref(&bx), true) - &by)
            .square()
            .mean();
        let want_grads = tape.gradient_vec(
            &want,
            &vars.iter().map(|v| v.as_tensor()).collect::<Vec<_>>(),
        );
        assert_close(&[loss.item()], &[want.item()], 1e-6);
        assert_close(&[mean.item()], &[want.item() / 2.0], 1e-6);
        for (g, w) in grads.iter().zip(&want_grads) {
            assert_close(
                &g.as_ref().unwrap().to_f32_vec(),
                &w.as_ref().unwrap().to_f32_vec(),
                1e-5,
            );
        }
        seen += 1;
    }
    assert_eq!(seen, 2);
}

#[test]
fn a_panicking_replica_is_named_and_nothing_hangs() {
    let _alone = global_rng();
    let _cpus = LogicalCpus::split(2);
    let strategy = MirroredStrategy::with_devices(&["/cpu:0", "/cpu:1"]).unwrap();
    let msg = panic_message(|| {
        strategy.run(
            |&i: &usize| {
                if i == 1 {
                    panic!("bad shard {i}");
                }
                i * 10
            },
            &PerReplica { values: vec![0, 1] },
        )
    });
    assert_contains(&msg, &["replica 1 (/device:CPU:1) panicked", "bad shard 1"]);
    // the strategy still works afterwards
    let ok = strategy.run(|&i: &usize| i * 10, &PerReplica { values: vec![0, 1] });
    assert_eq!(ok.values, vec![0, 10]);
    // in fit: targets with the wrong shape fail on the replicas, and fit reports one of them
    let mut m = strategy.scope(classifier);
    let (x, _) = data(32);
    let bad_y = zeros([32, 3, 2]);
    let msg = panic_message(|| m.fit(&x, &bad_y).verbose(0).run());
    assert_contains(
        &msg,
        &["MirroredStrategy: replica 0 (/device:CPU:0) panicked"],
    );
}

/// Records the weights after every batch.
struct RecordWeights(Arc<Mutex<Vec<Tensor>>>);
impl Callback for RecordWeights {
    fn on_train_batch_end(&mut self, _batch: usize, _logs: &Logs, ctx: &mut CallbackContext) {
        // a copy taken whole (the interrupt waits for it), as fit takes each step whole
        let copy = ferrolab::state::without_interrupts(|| {
            ctx.weights.iter().map(|w| w.read_value()).collect()
        });
        *self.0.lock().unwrap() = copy;
    }
}

#[test]
fn an_interrupt_stops_every_replica_with_consistent_weights() {
    let _alone = global_rng();
    let _cpus = LogicalCpus::split(2);
    let strategy = MirroredStrategy::with_devices(&["/cpu:0", "/cpu:1"]).unwrap();
    set_seed(11);
    let (x, y) = data(64);
    let mut m = strategy.scope(classifier);
    let seen = Arc::new(Mutex::new(Vec::new()));
    // Ctrl-C while replicas are busy: the kernel's SIGINT sets the flag from another thread
    let presser = std::thread::spawn(|| {
        std::thread::sleep(Duration::from_millis(300));
        ferrolab::state::request_cancel();
    });
    let msg = panic_message(|| {
        m.fit(&x, &y)
            .batch_size(32)
            .epochs(100_000)
            .verbose(0)
            .callback(RecordWeights(seen.clone()))
            .run()
    });
    presser.join().unwrap();
    assert_contains(&msg, &["KeyboardInterrupt", "keeps the weights"]);
    assert!(!ferrolab::state::is_cancelled(), "the flag is cleared");
    // the weights are those after the last whole step: no replica applied half a step
    let last = seen.lock().unwrap().clone();
    assert_eq!(last.len(), m.weights().len());
    for (w, saved) in m.weights().iter().zip(&last) {
        assert_bits_eq(w, saved);
    }
    // and the model trains on
    let h = m.fit(&x, &y).batch_size(32).epochs(1).verbose(0).run();
    assert!(h.last("loss").unwrap().is_finite());
}
