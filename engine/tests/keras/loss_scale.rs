//! `LossScaleOptimizer`: the dynamic loss-scale state machine step by step, custom-loop
//! scaling, and `compile` adding it under `mixed_float16` (and not under `mixed_bfloat16`).

use ferrolab::keras::mixed_precision::{self, LossScaleOptimizer};
use ferrolab::prelude::*;

use crate::common::keras::seeded;

fn grad(v: f32) -> Vec<Option<Tensor>> {
    vec![Some(tensor([v, 1.0]))]
}

#[test]
fn scale_halves_on_inf_and_nan_skipping_the_step_and_doubles_after_2000_good_steps() {
    let w = Variable::new(tensor([1.0f32, 1.0]));
    let mut opt = LossScaleOptimizer::new(SGD::new(0.5));
    assert_eq!(opt.scale(), 32768.0); // 2^15
    assert_eq!(opt.loss_scale(), Some(32768.0));

    // an inf gradient: no update, iterations unchanged, scale halved
    opt.apply_gradients(&grad(f32::INFINITY), &[&w]);
    assert_eq!(
        w.to_vec::<f32>(),
        vec![1.0, 1.0],
        "skipped step leaves weights untouched"
    );
    assert_eq!(opt.iterations(), 0);
    assert_eq!(opt.scale(), 16384.0);
    // NaN: the same
    opt.apply_gradients(&grad(f32::NAN), &[&w]);
    assert_eq!(w.to_vec::<f32>(), vec![1.0, 1.0]);
    assert_eq!(opt.scale(), 8192.0);

    // a finite step: w -= 0.5 * g
    opt.apply_gradients(&grad(2.0), &[&w]);
    assert_eq!(w.to_vec::<f32>(), vec![0.0, 0.5]);
    assert_eq!((opt.iterations(), opt.dynamic_counter()), (1, 1));
    assert_eq!(opt.scale(), 8192.0);

    // 1998 more finite steps: still 8192; the 2000th doubles it and resets the counter
    for _ in 0..1998 {
        opt.apply_gradients(&grad(0.0), &[&w]);
    }
    assert_eq!((opt.scale(), opt.dynamic_counter()), (8192.0, 1999));
    opt.apply_gradients(&grad(0.0), &[&w]);
    assert_eq!((opt.scale(), opt.dynamic_counter()), (16384.0, 0));
    assert_eq!(opt.iterations(), 2000);

    // an overflow after some good steps resets the counter
    opt.apply_gradients(&grad(0.0), &[&w]);
    opt.apply_gradients(&grad(f32::NEG_INFINITY), &[&w]);
    assert_eq!((opt.scale(), opt.dynamic_counter()), (8192.0, 0));
}

#[test]
fn the_scale_never_drops_below_one_and_a_fixed_scale_stays() {
    let w = Variable::new(tensor([1.0f32, 1.0]));
    let mut opt = LossScaleOptimizer::new(SGD::new(0.1)).initial_scale(4.0);
    for want in [2.0, 1.0, 1.0] {
        opt.apply_gradients(&grad(f32::INFINITY), &[&w]);
        assert_eq!(opt.scale(), want);
    }
    let mut fixed = LossScaleOptimizer::new(SGD::new(0.1))
        .initial_scale(128.0)
        .dynamic(false);
    fixed.apply_gradients(&grad(f32::INFINITY), &[&w]);
    assert_eq!(fixed.scale(), 128.0);
    assert_eq!(w.to_vec::<f32>(), vec![1.0, 1.0]);
}

#[test]
fn scaled_loss_and_unscaled_gradients_in_a_custom_loop() {
    // loss = sum(w^2)  =>  dloss/dw = 2w; scaled by 2^15 and divided back, exactly
    let w = Variable::new(tensor([0.5f32, -3.0]));
    let opt = LossScaleOptimizer::new(Adam::new(1e-3));
    let tape = GradientTape::new();
    let loss = w.square().sum();
    let scaled = opt.get_scaled_loss(&loss);
    assert_eq!(scaled.item(), loss.item() * 32768.0);
    let grads = tape.gradient_vec(&scaled, &[w.as_tensor()]);
    assert_eq!(
        grads[0].as_ref().unwrap().to_vec::<f32>(),
        vec![32768.0, -196608.0]
    );
    let grads = opt.get_unscaled_gradients(&grads);
    assert_eq!(grads[0].as_ref().unwrap().to_vec::<f32>(), vec![1.0, -6.0]);
}

#[test]
fn loss_scaling_rescues_f16_gradients_that_underflow() {
    // loss = 1e-8 * sum(x w) with y = x w in f16: the upstream gradient reaching the f16 part
    // is 1e-8, below f16's smallest subnormal (2^-24 = 6e-8), so it rounds to 0 unless scaled.
    // dloss/dw = 1e-8 * sum(x) = 64e-8.
    let x = ones([64, 1]).cast(DType::F16);
    let w = Variable::new(tensor([[1.0f32]]));
    let grad_of = |scale: f32| {
        let tape = GradientTape::new();
        let y = x.matmul(&w.cast(DType::F16)).cast(DType::F32).sum() * 1e-8;
        let [g] = tape.gradient(&(y * scale as f64), [&w]);
        g.unwrap().item() / scale
    };
    assert_eq!(
        grad_of(1.0),
        0.0,
        "without scaling the f16 gradient underflows"
    );
    let scaled = grad_of(32768.0);
    assert!((scaled - 64e-8).abs() < 1e-2 * 64e-8, "{scaled} vs 6.4e-7");
}

#[test]
fn compile_wraps_the_optimizer_under_mixed_float16_only() {
    let _rng = seeded(7);
    let x = crate::common::rnd(&[32, 4], 1);
    let y = x.sum_axis(-1, true);
    for (policy, scaled) in [
        ("mixed_float16", true),
        ("mixed_bfloat16", false),
        ("float32", false),
    ] {
        mixed_precision::set_global_policy(policy);
        let mut model = Sequential::new().add(Dense::new(1)).input_shape([4]);
        model.compile(SGD::new(0.01), "mse", &[]);
        mixed_precision::set_global_policy("float32");
        let st = model.training_state();
        let opt = st.optimizer().unwrap();
        assert_eq!(opt.loss_scale().is_some(), scaled, "{policy}");
        // fit runs through the scaled train_step and the loss goes down
        let first = model.evaluate(&x, &y).get("loss").unwrap();
        model.fit(&x, &y).epochs(5).batch_size(8).verbose(0).run();
        let last = model.evaluate(&x, &y).get("loss").unwrap();
        assert!(last < first, "{policy}: loss {first} -> {last}");
    }
}
