//! Optimizers above the tensor layer (issue 12, part 4):
//! - every built-in optimizer's tensor-op path (`.fused(false)`) gives the same variables and
//!   slots as its fused backend pass, step after step;
//! - an optimizer written only as `update_step` (tensor ops, `assign`, a slot) trains a model
//!   through `fit`;
//! - `keras/` never names the storage types.

use crate::common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use common::assert_close;
use ferrolab::keras::optimizers::{Optimizer, OptimizerCore};
use ferrolab::prelude::*;

/// Gradients that change sign and size from step to step, for a (3, 4) variable.
fn grad(t: usize) -> Tensor {
    let t = t as f32;
    let v: Vec<f32> = (0..12)
        .map(|i| {
            let i = i as f32;
            (0.7 * i - 3.0 + t).sin() * (1.0 + 0.3 * t) + 0.05 * i
        })
        .collect();
    from_vec(v, [3, 4]).unwrap()
}

fn w0() -> Tensor {
    let v: Vec<f32> = (0..12).map(|i| (i as f32 - 5.5) * 0.3).collect();
    from_vec(v, [3, 4]).unwrap()
}

/// Runs `steps` updates with `opt` on a fresh variable on `device`; returns the variable and
/// its slots.
fn run_on(
    device: Device,
    mut opt: Box<dyn Optimizer>,
    slots: &[&str],
    steps: usize,
) -> (Vec<f32>, Vec<Vec<f32>>) {
    let v = Variable::new(w0().to(device));
    for t in 0..steps {
        opt.apply_gradients(&[Some(grad(t).to(device))], &[&v]);
    }
    assert_eq!(opt.iterations(), steps as u64);
    let s = slots
        .iter()
        .map(|n| {
            opt.core_mut()
                .add_variable_from_reference(&v, n)
                .to_vec::<f32>()
        })
        .collect();
    (v.to_vec::<f32>(), s)
}

fn run(opt: Box<dyn Optimizer>, slots: &[&str], steps: usize) -> (Vec<f32>, Vec<Vec<f32>>) {
    run_on(Device::Cpu, opt, slots, steps)
}

/// The optimizer of `case`, fused or not, and the names of its slots.
fn optimizer(case: &str, f: bool) -> (Box<dyn Optimizer>, Vec<&'static str>) {
    let mv = vec!["momentum", "velocity"];
    match case {
        "sgd" => (Box::new(SGD::new(0.1).fused(f)), vec![]),
        "sgd momentum" => (
            Box::new(SGD::new(0.05).momentum(0.9).fused(f)),
            vec!["momentum"],
        ),
        "sgd nesterov" => (
            Box::new(SGD::new(0.05).momentum(0.8).nesterov(true).fused(f)),
            vec!["momentum"],
        ),
        "adam" => (Box::new(Adam::new(0.01).fused(f)), mv),
        "adamw" => (Box::new(AdamW::new(0.05).weight_decay(0.1).fused(f)), mv),
        "adam clipnorm" => (
            Box::new(Adam::new(0.01).beta_1(0.8).clipnorm(1.0).fused(f)),
            mv,
        ),
        "rmsprop" => (Box::new(RMSprop::new(0.01).fused(f)), vec!["velocity"]),
        "rmsprop momentum" => (
            Box::new(RMSprop::new(0.01).rho(0.8).momentum(0.5).fused(f)),
            vec!["velocity", "momentum"],
        ),
        other => unreachable!("{other}"),
    }
}

const CASES: [&str; 8] = [
    "sgd",
    "sgd momentum",
    "sgd nesterov",
    "adam",
    "adamw",
    "adam clipnorm",
    "rmsprop",
    "rmsprop momentum",
];

#[test]
fn fused_and_tensor_op_updates_agree_for_every_optimizer() {
    for name in CASES {
        let (fused, slots) = optimizer(name, true);
        let (wf, sf) = run(fused, &slots, 8);
        let (wu, su) = run(optimizer(name, false).0, &slots, 8);
        println!("{name}:");
        assert_ne!(wf, w0().to_vec::<f32>(), "{name}: the variable moved");
        // fused and tensor-op paths: same variable and same slots, to 1e-6 relative
        assert_close(&wu, &wf, 1e-6);
        assert_eq!(su.len(), slots.len());
        for (a, b) in su.iter().zip(&sf) {
            assert_close(a, b, 1e-6);
        }
    }
}

#[test]
fn fused_and_tensor_op_updates_agree_on_cuda_when_present() {
    let Ok(_) = ferrolab::storage::cuda::backend(0) else {
        println!("skipped: no CUDA device");
        return;
    };
    let gpu = Device::Cuda(0);
    for name in CASES {
        let (fused, slots) = optimizer(name, true);
        let (wf, sf) = run_on(gpu, fused, &slots, 8);
        let (wu, su) = run_on(gpu, optimizer(name, false).0, &slots, 8);
        let (wc, _) = run(optimizer(name, true).0, &slots, 8);
        println!("{name} on CUDA:");
        // the CUDA kernels may contract to FMA: a little more room than on the CPU
        assert_close(&wu, &wf, 1e-5);
        assert_close(&wf, &wc, 1e-5);
        for (a, b) in su.iter().zip(&sf) {
            assert_close(a, b, 1e-5);
        }
    }
}

#[test]
fn the_tensor_op_path_follows_a_learning_rate_schedule_like_the_fused_one() {
    let make = |f: bool| -> Box<dyn Optimizer> {
        Box::new(
            SGD::new(0.0)
                .momentum(0.5)
                .learning_rate_schedule(ExponentialDecay::new(0.2, 2, 0.5))
                .fused(f),
        )
    };
    let (wf, _) = run(make(true), &[], 6);
    let (wu, _) = run(make(false), &[], 6);
    assert_close(&wu, &wf, 1e-6);
}

/// Adagrad written as a learner would: a slot, tensor ops and `assign`, nothing else.
/// acc += g^2; w -= lr g / (sqrt(acc) + eps)
struct Adagrad {
    core: OptimizerCore,
    builds: Arc<AtomicUsize>,
}

impl Optimizer for Adagrad {
    fn name(&self) -> &str {
        "Adagrad"
    }
    fn core(&self) -> &OptimizerCore {
        &self.core
    }
    fn core_mut(&mut self) -> &mut OptimizerCore {
        &mut self.core
    }
    fn build(&mut self, vars: &[&Variable]) {
        self.builds.fetch_add(1, Ordering::SeqCst);
        for v in vars {
            self.core.add_variable_from_reference(v, "accumulator");
        }
    }
    fn update_step(&mut self, grad: &Tensor, var: &Variable, lr: f32) {
        let acc = self.core.add_variable_from_reference(var, "accumulator");
        acc.assign_add(grad.square());
        var.assign_sub(grad * lr / (acc.sqrt() + 1e-7));
    }
}

#[test]
fn an_optimizer_written_as_update_step_trains_a_model_through_fit() {
    let _rng = common::global_rng(); // layer init and fit draw from the global generator
                                     // y = 3x + 2 on 256 points of [-1, 1]
    let x = uniform([256, 1], -1.0, 1.0, Some(1));
    let y = &x * 3.0 + 2.0;
    let mut model = Sequential::new().add(Dense::new(1)).input_shape([1]);
    let builds = Arc::new(AtomicUsize::new(0));
    model.compile(
        Adagrad {
            core: OptimizerCore::new(0.5),
            builds: builds.clone(),
        },
        "mse",
        &[],
    );
    let h = model.fit(&x, &y).epochs(60).batch_size(32).verbose(0).run();
    let loss = h.get("loss").unwrap();
    println!("Adagrad loss {} -> {}", loss[0], loss[loss.len() - 1]);
    assert!(loss[loss.len() - 1] < 1e-3, "{h}");
    let w = model.weights();
    assert_close(&w[0].to_vec::<f32>(), &[3.0], 2e-2);
    assert_close(&w[1].to_vec::<f32>(), &[2.0], 2e-2);
    assert_eq!(builds.load(Ordering::SeqCst), 1, "build runs once");
    let st = model.training_state();
    let opt = st.optimizer().unwrap();
    assert_eq!(opt.iterations(), 60 * 8);
    assert_eq!(opt.name(), "Adagrad");
}

#[test]
fn an_optimizer_without_update_step_says_what_to_implement() {
    struct Nothing(OptimizerCore);
    impl Optimizer for Nothing {
        fn name(&self) -> &str {
            "Nothing"
        }
        fn core(&self) -> &OptimizerCore {
            &self.0
        }
        fn core_mut(&mut self) -> &mut OptimizerCore {
            &mut self.0
        }
    }
    let v = Variable::new(tensor([1.0f32]));
    let msg = common::panic_message(|| {
        Nothing(OptimizerCore::new(0.1)).apply_gradients(&[Some(tensor([1.0f32]))], &[&v])
    });
    common::assert_contains(&msg, &["Nothing", "update_step"]);
}

#[test]
fn keras_never_names_the_storage_types() {
    fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    let mut files = Vec::new();
    walk(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/keras"),
        &mut files,
    );
    assert!(files.len() > 10);
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        assert!(
            !text.contains("Storage") && !text.contains("storage_mut"),
            "{} names the storage layer; go through Variable or Tensor",
            f.display()
        );
    }
}
