//! The two ways to walk a dataset, and the interrupt check every stage uses.
//!
//! - [`DatasetIter`] (`ds.iter()`, `for x in &ds`) yields elements and panics on an error, like TF
//!   raising in the middle of a loop. An interrupt (the kernel's SIGINT) panics with
//!   `KeyboardInterrupt`, which the kernel reports while keeping the cell's variables.
//! - [`TryDatasetIter`] (`ds.try_iter()`) yields `Result`s; an interrupt becomes
//!   `Err(Error::Cancelled)` and ends the iteration.
//!
//! Background threads only *read* the cancel flag (so they stop early); the iterator in the
//! learner's thread clears it when it reports the interrupt.

use std::sync::atomic::Ordering;

use super::{Item, Stream};
use crate::error::{Error, Result};
use crate::state;

/// True when the kernel asked the running cell to stop. Does not clear the flag.
#[inline]
pub fn cancelled() -> bool {
    state::is_cancelled()
}

/// `Some(Err(Cancelled))` when an interrupt is pending: the early exit of long loops in stages.
#[inline]
pub(crate) fn cancel_point<T>() -> Option<Result<T>> {
    if cancelled() {
        Some(Err(Error::Cancelled))
    } else {
        None
    }
}

/// Iterates over elements; panics on errors and interrupts. See the module docs.
pub struct DatasetIter<T: Item> {
    inner: TryDatasetIter<T>,
}

impl<T: Item> DatasetIter<T> {
    pub(crate) fn new(stream: Stream<T>) -> Self {
        DatasetIter {
            inner: TryDatasetIter::new(stream),
        }
    }
}

impl<T: Item> Iterator for DatasetIter<T> {
    type Item = T;
    #[track_caller]
    fn next(&mut self) -> Option<T> {
        match self.inner.next()? {
            Ok(v) => Some(v),
            Err(Error::Cancelled) => {
                panic!("KeyboardInterrupt: interrupted by the user; variables are kept")
            }
            Err(e) => panic!("{e}"),
        }
    }
}

/// Iterates over `Result`s; never panics on bad input. See the module docs.
pub struct TryDatasetIter<T: Item> {
    stream: Option<Stream<T>>,
}

impl<T: Item> TryDatasetIter<T> {
    pub(crate) fn new(stream: Stream<T>) -> Self {
        TryDatasetIter {
            stream: Some(stream),
        }
    }
}

impl<T: Item> Iterator for TryDatasetIter<T> {
    type Item = Result<T>;
    fn next(&mut self) -> Option<Result<T>> {
        let stream = self.stream.as_mut()?;
        let next = if state::anchor().cancel.swap(false, Ordering::Relaxed) {
            Some(Err(Error::Cancelled))
        } else {
            stream.next()
        };
        if matches!(next, Some(Err(Error::Cancelled))) {
            // Stop the pipeline (its threads see their channels close) and clear the flag.
            self.stream = None;
            state::anchor().cancel.store(false, Ordering::Relaxed);
        } else if next.is_none() {
            self.stream = None;
        }
        next
    }
}
