//! A model split over two logical CPUs (`Pipeline`) trains exactly as the unsplit model: with
//! and without GPipe micro-batches, the accumulated gradients are the whole batch's.

use crate::common::{assert_close, assert_contains, global_rng, panic_message, rnd};
use ferrolab::config;
use ferrolab::distribute::Pipeline;
use ferrolab::prelude::*;

fn data(n: usize) -> (Tensor, Tensor) {
    (rnd(&[n, 8], 21), rnd(&[n, 3], 22).argmax(-1))
}

fn compile(m: &mut impl KerasModel) {
    m.compile(
        Adam::new(1e-2),
        SparseCategoricalCrossentropy::from_logits(),
        &["accuracy"],
    );
}

/// (weights, losses) after 3 epochs of 40 rows in batches of 16 (16, 16, 8).
fn unsplit() -> (Vec<Vec<f32>>, Vec<f32>) {
    set_seed(5);
    let mut m = Sequential::new()
        .add(
            Dense::new(16)
                .activation("relu")
                .kernel_regularizer(l2(1e-3)),
        )
        .add(Dense::new(3))
        .input_shape([8]);
    compile(&mut m);
    let (x, y) = data(40);
    let h = m.fit(&x, &y).batch_size(16).epochs(3).verbose(0).run();
    let w = m.weights().iter().map(|w| w.to_f32_vec()).collect();
    (w, h.get("loss").unwrap().to_vec())
}

fn split(n_micro: usize) -> (Vec<Vec<f32>>, Vec<f32>, Pipeline) {
    let cpus = config::list_logical_devices();
    set_seed(5);
    let mut m = Pipeline::new()
        .stage(
            &cpus[0],
            Sequential::new()
                .add(
                    Dense::new(16)
                        .activation("relu")
                        .kernel_regularizer(l2(1e-3)),
                )
                .input_shape([8]),
        )
        .stage(
            &cpus[1],
            Sequential::new().add(Dense::new(3)).input_shape([16]),
        )
        .pipeline(n_micro);
    compile(&mut m);
    let (x, y) = data(40);
    let h = m.fit(&x, &y).batch_size(16).epochs(3).verbose(0).run();
    let w = m.weights().iter().map(|w| w.to_f32_vec()).collect();
    (w, h.get("loss").unwrap().to_vec(), m)
}

#[test]
fn a_split_model_trains_like_the_unsplit_one_with_and_without_micro_batches() {
    let _alone = global_rng();
    set_default_device(Device::Cpu); // a GPU machine too: both stages on logical CPUs
    config::set_logical_device_configuration(Device::Cpu, 2).unwrap();
    let (w0, l0) = unsplit();
    for n_micro in [1, 4] {
        let (w, l, m) = split(n_micro);
        for (a, b) in w.iter().zip(&w0) {
            assert_close(a, b, 1e-5);
        }
        assert_close(&l, &l0, 1e-5);
        // the last step (8 rows): every micro-batch went forward and back through both stages
        let t = m.timeline();
        let micro = n_micro.min(8);
        assert_eq!(t.len(), 2 * 2 * micro, "{t:?}");
        for e in &t {
            assert!(e.end >= e.start && e.stage < 2 && e.micro_batch < micro);
        }
        assert_eq!(m.timeline_grid(50).dims(), &[2, 50]);
        let f = m.bubble_fraction();
        assert!((0.0..1.0).contains(&f), "{f}");
    }
    config::set_logical_device_configuration(Device::Cpu, 1).unwrap();
}

#[test]
fn a_failing_stage_is_named() {
    let _alone = global_rng();
    set_default_device(Device::Cpu);
    set_default_device(Device::Cpu); // a GPU machine too: both stages on logical CPUs
    config::set_logical_device_configuration(Device::Cpu, 2).unwrap();
    let cpus = config::list_logical_devices();
    // the second stage expects 5 features but gets 16
    let mut m = Pipeline::new()
        .stage(
            &cpus[0],
            Sequential::new().add(Dense::new(16)).input_shape([8]),
        )
        .stage(
            &cpus[1],
            Sequential::new().add(Dense::new(3)).input_shape([5]),
        )
        .pipeline(2);
    compile(&mut m);
    let (x, y) = data(8);
    let msg = panic_message(|| m.fit(&x, &y).verbose(0).run());
    config::set_logical_device_configuration(Device::Cpu, 1).unwrap();
    assert_contains(&msg, &["Pipeline: stage 1 (/device:CPU:1) panicked"]);
}
