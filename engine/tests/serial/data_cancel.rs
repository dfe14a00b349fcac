//! An interrupt (the kernel's SIGINT sets the cancel flag) stops iteration cleanly, also in
//! parallel pipelines. The flag is process-wide, so the test holds `exclusive()` (see `main.rs`).

use ferrolab::prelude::*;
use ferrolab::state::{is_cancelled, request_cancel};

#[test]
fn an_interrupt_stops_iteration_cleanly() {
    let _alone = crate::exclusive();
    let pipelines: Vec<(&str, Dataset<Tensor>)> = vec![
        ("range", Dataset::range(0..1_000_000)),
        ("map", Dataset::range(0..1_000_000).map(|t| &t + 1i64)),
        (
            "parallel map + prefetch",
            Dataset::range(0..1_000_000)
                .map(|t| &t + 1i64)
                .num_parallel_calls(4)
                .batch(4)
                .unbatch()
                .prefetch(AUTOTUNE),
        ),
        ("shuffle", Dataset::range(0..1_000_000).shuffle(100, 1)),
        (
            "interleave",
            Dataset::range(0..1000)
                .interleave(|_| Dataset::range(0..1000), 4, 1)
                .num_parallel_calls(4),
        ),
        (
            "interleave, deterministic(false)",
            Dataset::range(0..1000)
                .interleave(|_| Dataset::range(0..1000), 4, 1)
                .num_parallel_calls(4)
                .deterministic(false),
        ),
    ];
    for (name, ds) in &pipelines {
        // try_iter: an Err(Cancelled) and then the end; the flag is cleared.
        let mut seen = 0usize;
        let mut it = ds.try_iter();
        let mut stopped = false;
        for r in it.by_ref() {
            match r {
                Ok(_) => {
                    seen += 1;
                    if seen == 10 {
                        request_cancel();
                    }
                }
                Err(e) => {
                    assert_eq!(e.to_string(), "KeyboardInterrupt", "{name}");
                    stopped = true;
                    break;
                }
            }
            assert!(seen < 1000, "{name}: iteration did not stop");
        }
        assert!(stopped, "{name}");
        assert!(it.next().is_none(), "{name}: ends after the interrupt");
        assert!(!is_cancelled(), "{name}: flag cleared");
        // iter(): a KeyboardInterrupt panic, as the kernel expects.
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            for (i, _) in ds.iter().enumerate() {
                if i == 5 {
                    request_cancel();
                }
                assert!(i < 1000);
            }
        }));
        let msg = r
            .unwrap_err()
            .downcast_ref::<String>()
            .cloned()
            .unwrap_or_else(|| "KeyboardInterrupt (str)".into());
        assert!(msg.starts_with("KeyboardInterrupt"), "{name}: {msg}");
        assert!(!is_cancelled());
        // And the dataset still works afterwards.
        assert_eq!(ds.iter().take(3).count(), 3, "{name}");
    }
}
