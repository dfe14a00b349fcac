//! `shuffle` with tf.data's buffer semantics.
//!
//! The buffer holds up to `buffer_size` elements. Each output is a uniformly random element of
//! the buffer, whose place is then taken by the next input element; when the input ends, the
//! rest of the buffer comes out in random order. So a buffer of 1 keeps the order, a small
//! buffer only moves elements a little (an element can leave early, but never more than
//! `buffer_size - 1` places before its input position), and a buffer at least as large as the
//! dataset gives a uniform random permutation.
//!
//! Seeds: the same `seed` gives the same orders. With `reshuffle_each_iteration` (the default)
//! iteration `k` uses a stream derived from `(seed, k)`, so epochs differ but the sequence of
//! epochs repeats; with `.reshuffle_each_iteration(false)` every iteration has the same order.
//! `seed: None` draws the seed from the global generator (see `set_seed`) when the stage is
//! built.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use super::element::Item;
use super::iter::cancel_point;
use super::{Dataset, Stage};
use crate::random::{rng_for, Rng};

impl<T: Item> Dataset<T> {
    /// Randomly shuffles elements through a buffer of `buffer_size` (`Dataset.shuffle`);
    /// `seed` is a number or `None`.
    #[track_caller]
    pub fn shuffle(&self, buffer_size: usize, seed: impl Into<Option<u64>>) -> Dataset<T> {
        assert!(buffer_size > 0, "shuffle: buffer_size must be at least 1");
        let base = match seed.into() {
            Some(s) => s,
            None => rng_for(None).next_u64(),
        };
        let epoch = Arc::new(AtomicU64::new(0));
        self.then(Stage::Shuffle, self.card, move |mut up, o| {
            let k = if o.reshuffle_each_iteration {
                epoch.fetch_add(1, Ordering::Relaxed)
            } else {
                0
            };
            let mut rng = Rng::seed_from_u64(epoch_seed(base, k));
            let mut buf: Vec<T> = Vec::with_capacity(buffer_size.min(1 << 16));
            let mut input_done = false;
            Box::new(std::iter::from_fn(move || {
                while !input_done && buf.len() < buffer_size {
                    if let Some(c) = cancel_point() {
                        return Some(c);
                    }
                    match up.next() {
                        Some(Ok(x)) => buf.push(x),
                        Some(Err(e)) => return Some(Err(e)),
                        None => input_done = true,
                    }
                }
                if buf.is_empty() {
                    return None;
                }
                let i = rng.below(buf.len() as u64) as usize;
                let next_in = if input_done { None } else { up.next() };
                let out = match next_in {
                    Some(Ok(x)) => std::mem::replace(&mut buf[i], x),
                    Some(Err(e)) => return Some(Err(e)),
                    None => {
                        input_done = true;
                        buf.swap_remove(i)
                    }
                };
                Some(Ok(out))
            }))
        })
    }
}

/// A well-mixed seed for epoch `k` (a murmur3 finaliser over `base` and `k`). Seeds that differ
/// by multiples of SplitMix64's step would give overlapping generator states, and visibly
/// correlated epochs.
fn epoch_seed(base: u64, k: u64) -> u64 {
    let mut z = base ^ k.wrapping_mul(0xD1B5_4A32_D192_ED03).rotate_left(29);
    z = (z ^ (z >> 33)).wrapping_mul(0xFF51_AFD7_ED55_8CCD);
    z = (z ^ (z >> 33)).wrapping_mul(0xC4CE_B9FE_1A85_EC53);
    z ^ (z >> 33)
}
