//! Optimizers against Keras 3's update formulas, computed by hand for the first steps and by a
//! plain f64 transcription for longer runs; learning-rate schedules at known steps; clipnorm and
//! clipvalue.
//!
//! Keras 3 formulas (g: gradient, t: 1-based step):
//! - SGD: v = momentum v - lr g; w += v, or w += momentum v - lr g with nesterov (w -= lr g
//!   without momentum).
//! - Adam: m += (g - m)(1 - b1); v += (g^2 - v)(1 - b2); alpha = lr sqrt(1 - b2^t) / (1 - b1^t);
//!   w -= alpha m / (sqrt(v) + eps). AdamW first does w -= lr wd w.
//! - RMSprop: v = rho v + (1 - rho) g^2; inc = lr g / sqrt(v + eps); w -= inc, or with momentum
//!   mo = momentum mo + inc; w -= mo.

use crate::common;

use common::{assert_close, assert_contains, panic_message};
use ferrolab::keras::optimizers::{LearningRateSchedule, Optimizer};
use ferrolab::prelude::*;

/// Applies the same gradient `g` to a fresh variable `steps` times; returns its values.
fn run(opt: &mut dyn Optimizer, w0: &[f32], grads: &[Vec<f32>]) -> Vec<f32> {
    let v = Variable::new(from_vec(w0.to_vec(), [w0.len()]).unwrap());
    for g in grads {
        let g = from_vec(g.clone(), [g.len()]).unwrap();
        opt.apply_gradients(&[Some(g)], &[&v]);
    }
    v.to_vec::<f32>()
}

/// A few gradients that change sign and size from step to step.
fn grads(steps: usize) -> Vec<Vec<f32>> {
    (0..steps)
        .map(|t| {
            let t = t as f32;
            vec![0.5 - 0.1 * t, 0.1 * (t + 1.0), -2.0 + 0.3 * t]
        })
        .collect()
}

const W0: [f32; 3] = [1.0, -2.0, 0.5];

#[test]
fn sgd_plain_momentum_and_nesterov_match_hand_computed_steps() {
    let g = vec![vec![0.5, 0.1]; 2];
    // w -= lr g: [1, -2] - 0.1 [0.5, 0.1] per step
    let w = run(&mut SGD::new(0.1), &[1.0, -2.0], &g[..1]);
    assert_close(&w, &[0.95, -2.01], 1e-6);
    // momentum 0.9: v1 = -0.1 g = [-0.05, -0.01], w1 = [0.95, -2.01];
    // v2 = 0.9 v1 - 0.1 g = [-0.095, -0.019], w2 = [0.855, -2.029]
    let w = run(&mut SGD::new(0.1).momentum(0.9), &[1.0, -2.0], &g);
    assert_close(&w, &[0.855, -2.029], 1e-6);
    // nesterov: w1 = w0 + 0.9 v1 - 0.1 g = [0.905, -2.019]; w2 = w1 + 0.9 v2 - 0.1 g
    //         = [0.905 - 0.0855 - 0.05, -2.019 - 0.0171 - 0.01] = [0.7695, -2.0461]
    let w = run(
        &mut SGD::new(0.1).momentum(0.9).nesterov(true),
        &[1.0, -2.0],
        &g,
    );
    assert_close(&w, &[0.7695, -2.0461], 1e-6);
}

/// Keras 3's Adam/AdamW in f64, one element at a time.
fn adam_ref(lr: f64, wd: f64, w0: &[f32], grads: &[Vec<f32>]) -> Vec<f32> {
    let (b1, b2, eps) = (0.9f64, 0.999f64, 1e-7f64);
    let mut w: Vec<f64> = w0.iter().map(|&x| x as f64).collect();
    let (mut m, mut v) = (vec![0f64; w.len()], vec![0f64; w.len()]);
    for (t, g) in grads.iter().enumerate() {
        let t = t as i32 + 1;
        let alpha = lr * (1.0 - b2.powi(t)).sqrt() / (1.0 - b1.powi(t));
        for i in 0..w.len() {
            let g = g[i] as f64;
            w[i] -= lr * wd * w[i];
            m[i] += (g - m[i]) * (1.0 - b1);
            v[i] += (g * g - v[i]) * (1.0 - b2);
            w[i] -= alpha * m[i] / (v[i].sqrt() + eps);
        }
    }
    w.iter().map(|&x| x as f32).collect()
}

#[test]
fn adam_and_adamw_match_the_keras_formula() {
    // step 1: m = 0.1 g, v = 0.001 g^2, alpha = lr sqrt(0.001) / 0.1, so the step is
    // lr * |g| sqrt(0.001) / (|g| sqrt(0.001) + 1e-7) ~= lr sign(g): [1 - 0.0999994, ...]
    let w = run(&mut Adam::new(0.1), &[1.0], &[vec![0.5]]);
    assert_close(&w, &[0.900_000_63], 1e-6);
    let g = grads(6);
    let w = run(&mut Adam::new(0.01), &W0, &g);
    assert_close(&w, &adam_ref(0.01, 0.0, &W0, &g), 1e-6);
    // AdamW: default weight_decay 0.004, decoupled (w -= lr wd w before the Adam step)
    let mut aw = AdamW::new(0.01);
    assert_eq!(aw.name(), "AdamW");
    let w = run(&mut aw, &W0, &g);
    assert_close(&w, &adam_ref(0.01, 0.004, &W0, &g), 1e-6);
    let w = run(&mut AdamW::new(0.1).weight_decay(0.5), &W0, &g[..2]);
    assert_close(&w, &adam_ref(0.1, 0.5, &W0, &g[..2]), 1e-6);
    // a zero gradient only decays: w1 = w0 (1 - 0.1 * 0.5) = 0.95 w0
    let w = run(&mut AdamW::new(0.1).weight_decay(0.5), &[2.0], &[vec![0.0]]);
    assert_close(&w, &[1.9], 1e-6);
}

fn rmsprop_ref(lr: f64, rho: f64, momentum: f64, w0: &[f32], grads: &[Vec<f32>]) -> Vec<f32> {
    let mut w: Vec<f64> = w0.iter().map(|&x| x as f64).collect();
    let (mut v, mut mo) = (vec![0f64; w.len()], vec![0f64; w.len()]);
    for g in grads {
        for i in 0..w.len() {
            let g = g[i] as f64;
            v[i] = rho * v[i] + (1.0 - rho) * g * g;
            let inc = lr * g / (v[i] + 1e-7).sqrt();
            if momentum > 0.0 {
                mo[i] = momentum * mo[i] + inc;
                w[i] -= mo[i];
            } else {
                w[i] -= inc;
            }
        }
    }
    w.iter().map(|&x| x as f32).collect()
}

#[test]
fn rmsprop_matches_the_keras_formula() {
    // step 1: v = 0.1 g^2, w -= 0.01 g / sqrt(0.1 g^2 + 1e-7) ~= 0.01 / sqrt(0.1) = 0.0316226
    let w = run(&mut RMSprop::new(0.01), &[1.0], &[vec![2.0]]);
    assert_close(&w, &[1.0 - 0.031_622_7], 1e-6);
    let g = grads(6);
    let w = run(&mut RMSprop::new(0.01), &W0, &g);
    assert_close(&w, &rmsprop_ref(0.01, 0.9, 0.0, &W0, &g), 1e-6);
    let w = run(&mut RMSprop::new(0.01).rho(0.8).momentum(0.5), &W0, &g);
    assert_close(&w, &rmsprop_ref(0.01, 0.8, 0.5, &W0, &g), 1e-6);
}

#[test]
fn every_optimizer_minimises_a_quadratic() {
    // f(w) = sum((w - 3)^2)  =>  df/dw = 2 (w - 3): every optimizer ends near w = 3
    let opts: Vec<(Box<dyn Optimizer>, usize)> = vec![
        (Box::new(SGD::new(0.1)), 100),
        (Box::new(SGD::new(0.05).momentum(0.9).nesterov(true)), 200),
        (Box::new(Adam::new(0.1)), 300),
        (Box::new(AdamW::new(0.1).weight_decay(0.0)), 300),
        (Box::new(RMSprop::new(0.01)), 500),
    ];
    for (mut opt, steps) in opts {
        let w = Variable::new(tensor([0.0, 5.0]));
        for _ in 0..steps {
            let tape = GradientTape::new();
            let loss = (&*w - 3.0).square().sum();
            let grads = tape.gradient_vec(&loss, &[&w]);
            opt.apply_gradients(&grads, &[&w]);
        }
        println!("{}: {:?}", opt.name(), w.to_vec::<f32>());
        assert_close(&w.to_vec::<f32>(), &[3.0, 3.0], 2e-2);
        assert_eq!(opt.iterations(), steps as u64);
    }
}

#[test]
fn schedules_give_keras_values() {
    // ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5): 0.1 * 0.5^(step / 10)
    let e = ExponentialDecay::new(0.1, 10, 0.5);
    let got: Vec<f32> = [0, 5, 10, 25].iter().map(|&s| e.lr(s)).collect();
    assert_close(&got, &[0.1, 0.070_710_68, 0.05, 0.017_677_67], 1e-6);
    let st = ExponentialDecay::new(0.1, 10, 0.5).staircase(true);
    let got: Vec<f32> = [0, 5, 9, 10, 25].iter().map(|&s| st.lr(s)).collect();
    assert_close(&got, &[0.1, 0.1, 0.1, 0.05, 0.025], 1e-7);
    // CosineDecay(0.1, 100): 0.1 * 0.5 (1 + cos(pi step / 100)), constant after 100
    let c = CosineDecay::new(0.1, 100);
    let got: Vec<f32> = [0, 25, 50, 100, 200].iter().map(|&s| c.lr(s)).collect();
    assert_close(&got, &[0.1, 0.085_355_34, 0.05, 0.0, 0.0], 1e-6);
    // alpha = 0.1: decays to 0.1 * 0.1 = 0.01
    let ca = CosineDecay::new(0.1, 100).alpha(0.1);
    assert_close(&[ca.lr(50), ca.lr(100)], &[0.055, 0.01], 1e-6);
    // warmup from 0 to 0.1 over 10 steps, then cosine over 100 from the target
    let w = CosineDecay::new(0.0, 100).warmup(0.1, 10);
    let got: Vec<f32> = [0, 5, 10, 60, 110, 500].iter().map(|&s| w.lr(s)).collect();
    assert_close(&got, &[0.0, 0.05, 0.1, 0.05, 0.0, 0.0], 1e-6);
}

#[test]
fn optimizers_read_the_schedule_at_their_step_count() {
    // the step-t update uses lr(t - 1), like Keras (iterations before the increment)
    let mut opt = SGD::new(1.0).learning_rate_schedule(ExponentialDecay::new(0.1, 1, 0.5));
    let v = Variable::new(tensor([0.0]));
    let mut lrs = Vec::new();
    for _ in 0..4 {
        lrs.push(opt.learning_rate());
        opt.apply_gradients(&[Some(tensor([-1.0]))], &[&v]);
    }
    assert_close(&lrs, &[0.1, 0.05, 0.025, 0.0125], 1e-7);
    // w = 0 + sum of the learning rates (g = -1)
    assert_close(&v.to_vec::<f32>(), &[0.1875], 1e-6);
    assert_eq!(opt.iterations(), 4);
    // set_learning_rate replaces the schedule with a constant
    opt.set_learning_rate(0.5);
    opt.apply_gradients(&[Some(tensor([-1.0]))], &[&v]);
    assert_close(&v.to_vec::<f32>(), &[0.6875], 1e-6);
}

#[test]
fn clipnorm_and_clipvalue_clip_each_gradient() {
    // clipnorm 1: g = [3, 4] has norm 5 -> [0.6, 0.8]; a second variable [0.3, 0.4] (norm 0.5)
    // is left alone (Keras' clipnorm is per variable)
    let a = Variable::new(tensor([0.0, 0.0]));
    let b = Variable::new(tensor([0.0, 0.0]));
    let mut opt = SGD::new(1.0).clipnorm(1.0);
    opt.apply_gradients(
        &[Some(tensor([3.0, 4.0])), Some(tensor([0.3, 0.4]))],
        &[&a, &b],
    );
    assert_close(&a.to_vec::<f32>(), &[-0.6, -0.8], 1e-6);
    assert_close(&b.to_vec::<f32>(), &[-0.3, -0.4], 1e-6);
    // clipvalue 0.5: each element to [-0.5, 0.5]
    let c = Variable::new(tensor([0.0, 0.0, 0.0]));
    let mut opt = SGD::new(1.0).clipvalue(0.5);
    opt.apply_gradients(&[Some(tensor([3.0, -0.2, -7.0]))], &[&c]);
    assert_close(&c.to_vec::<f32>(), &[-0.5, 0.2, 0.5], 1e-6);
    // clipping happens before Adam sees the gradient: [30, 40] and [3, 4] give the same step
    let (p, q) = (
        Variable::new(tensor([1.0, 1.0])),
        Variable::new(tensor([1.0, 1.0])),
    );
    Adam::new(0.1)
        .clipnorm(5.0)
        .apply_gradients(&[Some(tensor([30.0, 40.0]))], &[&p]);
    Adam::new(0.1).apply_gradients(&[Some(tensor([3.0, 4.0]))], &[&q]);
    assert_eq!(p.to_vec::<f32>(), q.to_vec::<f32>());
}

#[test]
fn apply_gradients_skips_none_and_names_a_mismatched_variable() {
    let a = Variable::with_options(&tensor([1.0, 2.0]), "layer/kernel", true);
    let b = Variable::new(tensor([5.0]));
    let mut opt = SGD::new(0.5);
    opt.apply_gradients(&[None, Some(tensor([2.0]))], &[&a, &b]);
    assert_eq!(a.to_vec::<f32>(), vec![1.0, 2.0]);
    assert_eq!(b.to_vec::<f32>(), vec![4.0]);
    let msg = panic_message(|| opt.apply_gradients(&[Some(tensor([1.0, 2.0, 3.0]))], &[&a]));
    assert_contains(&msg, &["layer/kernel", "(3,)", "(2,)"]);
    let msg = panic_message(|| SGD::new(0.1).apply_gradients(&[], &[&a]));
    assert_contains(&msg, &["0 gradients for 1 variables"]);
}
