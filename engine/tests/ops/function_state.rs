//! State inside a traced `function`: random ops draw fresh numbers on each replay (the same
//! numbers eager code draws from the global generator), `assign`s and optimizer updates change
//! their variables on each replay, and an optimizer's step counter counts.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use ferrolab::prelude::*;

use crate::common::{assert_close, global_rng};

#[test]
fn random_ops_draw_fresh_numbers_on_each_replay_like_eager() {
    let _g = global_rng();
    let body = |x: &Tensor| x + randn([4]) * 0.5 + uniform([4], -1.0, 1.0, None);
    let f = function(body);
    let x = tensor([1.0, 2.0, 3.0, 4.0]);
    // eager reference: the same three calls with the same seed
    set_seed(11);
    let eager: Vec<Vec<f32>> = (0..3).map(|_| body(&x).to_vec::<f32>()).collect();
    set_seed(11);
    let traced: Vec<Vec<f32>> = (0..3).map(|_| f.call(&x).to_vec::<f32>()).collect();
    assert_eq!(f.trace_count(), 1);
    for (e, t) in eager.iter().zip(&traced) {
        assert_close(t, e, 0.0);
    }
    assert_ne!(traced[1], traced[2], "a replay must draw new numbers");
    let table = f.concrete_functions()[0].to_string();
    assert!(table.contains("random_normal (0, 1)"), "{table}");
    assert!(table.contains("random_uniform [-1, 1)"), "{table}");
}

#[test]
fn dropout_in_a_trace_draws_a_new_mask_each_call() {
    let _g = global_rng();
    let drop = Dropout::new(0.5);
    let f = function(move |x: &Tensor| drop.call(x, true));
    set_seed(3);
    let x = ones([64]);
    let a = f.call(&x).to_vec::<f32>();
    let b = f.call(&x).to_vec::<f32>();
    // kept entries are scaled by 1 / (1 - 0.5) = 2, dropped ones are 0
    for v in a.iter().chain(&b) {
        assert!(*v == 0.0 || *v == 2.0, "{v}");
    }
    assert_ne!(a, b, "the replay must draw a new mask");
    assert_eq!(f.trace_count(), 1);
}

#[test]
fn assign_add_replays_and_later_reads_see_it() {
    let counter = Variable::new(tensor(0.0));
    let c = counter.clone();
    let runs = Arc::new(AtomicUsize::new(0));
    let r = runs.clone();
    // counter += sum(x); return x * counter (reads the updated value)
    let f = function(move |x: &Tensor| {
        r.fetch_add(1, Ordering::SeqCst);
        c.assign_add(x.sum());
        x * &*c
    });
    let y1 = f.call(&tensor([1.0, 2.0])); // counter = 3
    let y2 = f.call(&tensor([0.5, 0.5])); // counter = 4
    let y3 = f.call(&tensor([-1.0, 3.0])); // counter = 6
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    assert_eq!(counter.item(), 6.0);
    assert_close(&y1.to_vec::<f32>(), &[3.0, 6.0], 0.0);
    assert_close(&y2.to_vec::<f32>(), &[2.0, 2.0], 0.0);
    assert_close(&y3.to_vec::<f32>(), &[-6.0, 18.0], 0.0);
    let table = f.concrete_functions()[0].to_string();
    assert!(table.contains("assign"), "{table}");
}

#[test]
fn assign_whose_result_is_unused_is_not_pruned() {
    let v = Variable::new(tensor([0.0, 0.0]));
    let vc = v.clone();
    let f = function(move |x: &Tensor| {
        vc.assign(x * 2.0);
        x.clone()
    });
    f.call(&tensor([1.0, 1.0]));
    f.call(&tensor([3.0, -4.0]));
    assert_eq!(v.to_vec::<f32>(), vec![6.0, -8.0]);
}

/// y = w x: the gradient of mean((w x - t)^2) trained by Adam, eager and traced.
fn adam_steps(traced: bool, steps: usize) -> (Vec<f32>, Vec<f32>, u64) {
    let w = Variable::new(tensor([[0.5, -0.3], [0.2, 0.1]])).named("w");
    let opt = Arc::new(std::sync::Mutex::new(Adam::new(0.05)));
    let (wc, oc) = (w.clone(), opt.clone());
    let step = move |x: &Tensor, t: &Tensor| {
        let tape = GradientTape::new();
        let loss = (x.matmul(&wc) - t).square().mean();
        let grads = tape.gradient(&loss, [&wc]);
        oc.lock().unwrap().apply_gradients(&grads, &[&wc]);
        loss
    };
    let x = tensor([[1.0, 2.0], [3.0, -1.0], [0.5, 0.5]]);
    let t = tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]);
    let losses = if traced {
        let f = function2(step);
        let l: Vec<f32> = (0..steps).map(|_| f.call((&x, &t)).item()).collect();
        assert_eq!(f.trace_count(), 1);
        l
    } else {
        (0..steps).map(|_| step(&x, &t).item()).collect()
    };
    let iterations = opt.lock().unwrap().iterations();
    (losses, w.to_vec::<f32>(), iterations)
}

#[test]
fn traced_adam_step_matches_eager_and_counts_iterations() {
    let (eager, w_eager, it_eager) = adam_steps(false, 6);
    let (traced, w_traced, it_traced) = adam_steps(true, 6);
    // Adam's bias correction uses the step number t: a replay that froze t = 1 would drift
    assert_close(&traced, &eager, 1e-6);
    assert_close(&w_traced, &w_eager, 1e-6);
    assert_eq!((it_eager, it_traced), (6, 6));
    assert!(eager[5] < eager[0], "the loss must fall: {eager:?}");
}
