//! Every op is an interrupt point, and only the thread that runs the cell consumes the flag:
//! the engine's data threads (map workers, prefetch) and `catch_quietly` leave it set, so a
//! worker cannot swallow the interrupt meant for the cell. The flag is process-wide, so each
//! test holds `exclusive()` (see `main.rs`).

use ferrolab::prelude::*;
use ferrolab::state::{
    catch_quietly, check_cancel, check_cancel_at, is_cancelled, request_cancel, reset_cancel,
};

fn panic_text(r: std::thread::Result<()>) -> String {
    let e = r.expect_err("expected a KeyboardInterrupt panic");
    e.downcast_ref::<String>()
        .cloned()
        .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}

#[test]
fn any_op_stops_the_cell_once_and_clears_the_flag() {
    let _alone = crate::exclusive();
    let x = Tensor::from(vec![1.0f32, 2.0, 3.0]);
    request_cancel();
    // `sum` was not an interrupt point before: only matmul and im2col were.
    let msg = panic_text(std::panic::catch_unwind(|| {
        let _ = x.sum();
    }));
    assert_eq!(
        msg,
        "KeyboardInterrupt: interrupted by the user; variables are kept"
    );
    assert!(!is_cancelled(), "consumed by the cell's thread");
    // Once only: the next op runs.
    assert_eq!(x.sum().item(), 6.0);
}

#[test]
fn the_loop_check_names_the_cell_line() {
    let _alone = crate::exclusive();
    check_cancel_at(3); // nothing pending: returns
    request_cancel();
    let msg = panic_text(std::panic::catch_unwind(|| check_cancel_at(7)));
    assert!(msg.starts_with("KeyboardInterrupt"), "{msg}");
    assert!(msg.contains("at cell line 7"), "{msg}");
    assert!(!is_cancelled());
}

#[test]
fn an_op_in_a_cell_loop_names_the_loops_line() {
    let _alone = crate::exclusive(); // also clears the last loop line
    let x = Tensor::from(vec![1.0f32, 2.0]);
    // no loop check yet: the op's interrupt has no line
    request_cancel();
    let msg = panic_text(std::panic::catch_unwind(|| drop(x.sum())));
    assert!(msg.starts_with("KeyboardInterrupt"), "{msg}");
    assert!(!msg.contains("cell line"), "{msg}");
    // the loop at cell line 5 checked (nothing pending), then an op in its body takes it
    check_cancel_at(5);
    request_cancel();
    let msg = panic_text(std::panic::catch_unwind(|| drop(x.sum())));
    assert!(msg.contains("at cell line 5"), "{msg}");
    // the kernel's reset before the next cell forgets the line
    reset_cancel();
    request_cancel();
    let msg = panic_text(std::panic::catch_unwind(|| drop(x.sum())));
    assert!(!msg.contains("cell line"), "{msg}");
}

#[test]
fn a_data_thread_leaves_the_flag_for_the_cell() {
    let _alone = crate::exclusive();
    request_cancel();
    let worker = std::thread::Builder::new()
        .name("ferrolab-data-map".into())
        .spawn(|| {
            check_cancel(); // returns: not the cell's thread
            let t = Tensor::from(vec![1.0f32, 2.0]);
            (&t + 1.0f32).sum().item()
        })
        .unwrap();
    assert_eq!(worker.join().expect("the worker did not panic"), 5.0);
    assert!(is_cancelled(), "the worker left the flag set");
    // Inside catch_quietly (the engine handling its own panics) the flag is left too.
    assert!(catch_quietly(check_cancel).is_ok());
    assert!(is_cancelled());
    let msg = panic_text(std::panic::catch_unwind(|| check_cancel()));
    assert!(msg.starts_with("KeyboardInterrupt"), "{msg}");
    assert!(!is_cancelled());
}

#[test]
fn a_map_worker_running_ops_does_not_swallow_the_interrupt() {
    let _alone = crate::exclusive();
    // The map function itself raises the interrupt (as SIGINT would while it runs) and then
    // runs ops: the workers must neither panic nor clear the flag, and the cell's iterator
    // reports KeyboardInterrupt, not "the map function panicked".
    let ds = Dataset::range(0..1_000_000)
        .map(|t| {
            let v = (&t + 1i64).sum();
            if v.item() == 20.0 {
                request_cancel();
            }
            &v * 2i64
        })
        .num_parallel_calls(4)
        .prefetch(AUTOTUNE);
    let mut seen = 0;
    let mut stopped = false;
    for r in ds.try_iter() {
        match r {
            Ok(_) => seen += 1,
            Err(e) => {
                assert_eq!(e.to_string(), "KeyboardInterrupt");
                stopped = true;
                break;
            }
        }
        assert!(seen < 100_000, "iteration did not stop");
    }
    assert!(stopped, "the interrupt reached the cell's thread");
    assert!(!is_cancelled(), "cleared once, by the cell's iterator");
}

#[test]
fn held_interrupts_wait_for_the_next_check_outside() {
    let _alone = crate::exclusive();
    let x = Tensor::from(vec![1.0f32, 2.0]);
    // As in `fit`: a step is not cut in half; the interrupt is taken after it.
    let total = ferrolab::state::without_interrupts(|| {
        request_cancel();
        (&x + 1.0f32).sum().item()
    });
    assert_eq!(total, 5.0);
    assert!(is_cancelled());
    let msg = panic_text(std::panic::catch_unwind(|| {
        let _ = x.sum();
    }));
    assert!(msg.starts_with("KeyboardInterrupt"), "{msg}");
    assert!(!is_cancelled());
}

#[test]
fn a_check_while_unwinding_does_not_panic_again() {
    let _alone = crate::exclusive();
    // A learner's Drop with a loop runs the check while another panic unwinds: a second panic
    // would abort the process (and lose every variable).
    struct Checks;
    impl Drop for Checks {
        fn drop(&mut self) {
            request_cancel();
            check_cancel_at(1);
        }
    }
    let r = std::panic::catch_unwind(|| {
        let _c = Checks;
        panic!("first");
    });
    assert!(r.is_err());
    assert!(is_cancelled(), "left for the next check");
    let msg = panic_text(std::panic::catch_unwind(|| check_cancel()));
    assert!(msg.starts_with("KeyboardInterrupt"), "{msg}");
}
