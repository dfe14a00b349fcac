//! The runtime: `with_device` scopes over the process default (TF's `with tf.device(..)`), and
//! the bottom layer (`state.rs`) importing nothing above it.
//!
//! The process default is set to `cuda:7`, a device that exists on no test machine: anything
//! created outside a scope would fail, so every check that passes proves the scope was used.
//! Tests here change the process default, so they hold `exclusive()` and run alone.

use ferrolab::prelude::*;
use ferrolab::runtime::try_with_device;

const NOWHERE: Device = Device::Cuda(7);

/// Runs `f` with the process default set to [`NOWHERE`], then puts the old default back.
fn with_process_default_nowhere(f: impl FnOnce()) {
    let _serial = crate::exclusive();
    let before = default_device();
    set_default_device(NOWHERE);
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    set_default_device(before);
    if let Err(p) = r {
        std::panic::resume_unwind(p);
    }
}

#[test]
fn a_scope_sets_this_threads_default_over_the_process_default() {
    with_process_default_nowhere(|| {
        assert_eq!(default_device(), NOWHERE);
        let y = with_device(Device::Cpu, || {
            assert_eq!(default_device(), Device::Cpu);
            // 1 + 2 = 3 everywhere, created on the scope's device
            ones([2, 2]) + full([2, 2], 2.0)
        });
        assert!(y.device().is_cpu());
        assert_eq!(y.to_vec::<f32>(), vec![3.0; 4]);
        assert_eq!(
            default_device(),
            NOWHERE,
            "closing the scope restores the default"
        );
    });
}

#[test]
fn scopes_nest_and_the_innermost_wins() {
    with_process_default_nowhere(|| {
        with_device(Device::Cpu, || {
            if is_gpu() {
                with_device(Device::Cuda(0), || {
                    assert_eq!(default_device(), Device::Cuda(0));
                    assert!(zeros([1]).device().is_cuda());
                });
            }
            with_device(Device::Cpu, || assert_eq!(default_device(), Device::Cpu));
            assert_eq!(default_device(), Device::Cpu);
        });
        assert_eq!(default_device(), NOWHERE);
    });
}

#[test]
fn a_panic_inside_the_scope_restores_the_default() {
    with_process_default_nowhere(|| {
        let r: std::thread::Result<()> = std::panic::catch_unwind(|| {
            with_device(Device::Cpu, || {
                with_device(Device::Cpu, || panic!("boom inside the scope"))
            })
        });
        assert!(r.is_err());
        assert_eq!(default_device(), NOWHERE);
        // and a new scope still works
        assert_eq!(with_device(Device::Cpu, default_device), Device::Cpu);
    });
}

#[test]
fn a_scope_belongs_to_its_thread() {
    with_process_default_nowhere(|| {
        with_device(Device::Cpu, || {
            // A thread spawned inside the scope does not inherit it (as in TF) ...
            let spawned = std::thread::spawn(default_device).join().unwrap();
            assert_eq!(spawned, NOWHERE);
            // ... and can open its own.
            let own = std::thread::spawn(|| with_device(Device::Cpu, default_device));
            assert_eq!(own.join().unwrap(), Device::Cpu);
            assert_eq!(default_device(), Device::Cpu);
        });
    });
}

#[test]
fn set_default_device_inside_a_scope_changes_the_process_default_only() {
    with_process_default_nowhere(|| {
        with_device(Device::Cpu, || {
            set_default_device(Device::Cuda(8));
            assert_eq!(default_device(), Device::Cpu);
        });
        assert_eq!(default_device(), Device::Cuda(8));
    });
}

#[test]
fn a_model_built_outside_the_scope_runs_inside_it() {
    with_process_default_nowhere(|| {
        let model = Sequential::new()
            .add(Dense::new(4).activation("relu"))
            .add(Dense::new(2));
        // The weights are made on the first call, inside the scope, so on the CPU.
        let y = with_device(Device::Cpu, || model.predict(&ones([3, 5])));
        assert_eq!(y.dims(), &[3, 2]);
        assert!(y.device().is_cpu());
        assert_eq!(default_device(), NOWHERE);
    });
}

#[test]
fn an_unusable_device_is_refused_before_the_closure_runs() {
    let _serial = crate::exclusive();
    let mut ran = false;
    let e = try_with_device(NOWHERE, || ran = true).unwrap_err();
    assert!(!ran);
    assert!(matches!(e, Error::NoCudaDevice { requested, .. } if requested == NOWHERE));
    let r = std::panic::catch_unwind(|| with_device(NOWHERE, || ()));
    let p = r.unwrap_err();
    let msg = p.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(msg.starts_with("no CUDA device for cuda:7: "), "{msg}");
    assert!(msg.contains("Use Device::Cpu"), "{msg}");
}

fn is_gpu() -> bool {
    ferrolab::runtime::is_gpu_available()
}

/// `state.rs` is the bottom: it names nothing of the engine above it. The owners of state claim
/// slots there instead (`state::claim`). `tapes` is the one field left, until the autodiff
/// rewrite moves the tape registry to a slot.
#[test]
fn the_bottom_layer_imports_nothing_above_it() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/src/");
    let allowed = ["crate::state::"];
    for file in ["state.rs", "device.rs"] {
        let src = std::fs::read_to_string(format!("{dir}{file}")).unwrap();
        for (i, line) in src.lines().enumerate() {
            if line.trim_start().starts_with("//") {
                continue; // doc links are not imports
            }
            let mut rest = line;
            while let Some(at) = rest.find("crate::") {
                let tail = &rest[at..];
                assert!(
                    allowed.iter().any(|a| tail.starts_with(a)),
                    "{file}:{}: `{}` reaches above the bottom layer",
                    i + 1,
                    line.trim()
                );
                rest = &tail[7..];
            }
        }
    }
}
