//! Sequence-to-sequence toy tasks for Transformers: reverse, copy and sort (seeded).
//!
//! Tokens are int64 in `1..vocab_size`; 0 is left free for padding. A model that solves
//! `Copy` only needs attention to the same position, `Reverse` to the mirrored position, and
//! `Sort` has to compare every token with every other one.

use super::Data;
use crate::random::Rng;
use crate::tensor::create::from_vec;

/// Which target a [`sequence_task`] asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SequenceTask {
    /// `y = x`.
    Copy,
    /// `y = x` backwards.
    Reverse,
    /// `y = x` sorted ascending.
    Sort,
}

/// `n` random sequences of `length` tokens in `1..vocab_size` and their targets:
/// `x`, `y` int64 (n, length).
#[track_caller]
pub fn sequence_task(
    task: SequenceTask,
    n: usize,
    length: usize,
    vocab_size: usize,
    seed: u64,
) -> Data {
    assert!(
        vocab_size >= 2,
        "sequence_task: vocab_size must be at least 2 (token 0 is padding)"
    );
    let mut rng = Rng::seed_from_u64(seed);
    let mut x = Vec::with_capacity(n * length);
    let mut y = Vec::with_capacity(n * length);
    for _ in 0..n {
        let s: Vec<i64> = (0..length)
            .map(|_| 1 + rng.below(vocab_size as u64 - 1) as i64)
            .collect();
        let mut t = s.clone();
        match task {
            SequenceTask::Copy => {}
            SequenceTask::Reverse => t.reverse(),
            SequenceTask::Sort => t.sort_unstable(),
        }
        x.extend(s);
        y.extend(t);
    }
    let name = format!("{task:?}").to_lowercase();
    Data::new(
        &name,
        from_vec(x, [n, length]).expect("sequences fit their shape"),
        from_vec(y, [n, length]).expect("targets fit their shape"),
    )
}
