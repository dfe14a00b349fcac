//! `prefetch`: a background thread that runs the pipeline ahead of the consumer.
//!
//! While the model trains on batch `k`, the thread prepares batch `k+1` (TF's "overlap the
//! producer and the consumer"). The buffer is a channel plus a count of free slots (tokens): the
//! thread only pulls an element when a slot is free, so at most `buffer_size` elements wait.
//! With `AUTOTUNE` the buffer starts at 1 and grows by one, up to 16, each time the consumer
//! finds it empty. `prefetch_to_device` also moves each element to a device on that thread.

use std::sync::mpsc::{channel, Receiver, Sender, TryRecvError};

use super::element::{Element, Item};
use super::iter::cancelled;
use super::{Dataset, Stage, Stream, AUTOTUNE};
use crate::device::Device;
use crate::error::{Error, Result};

/// The largest buffer `AUTOTUNE` grows to.
pub const AUTOTUNE_MAX_BUFFER: usize = 16;

type Transform<T> = Box<dyn Fn(T) -> Result<T> + Send>;

impl<T: Item> Dataset<T> {
    /// Prepares up to `buffer_size` elements ahead on a background thread (`Dataset.prefetch`);
    /// `AUTOTUNE` sizes the buffer by itself. Put it last in a pipeline.
    pub fn prefetch(&self, buffer_size: usize) -> Dataset<T> {
        self.then(Stage::Other, self.card, move |up, _| {
            spawn(up, buffer_size, None)
        })
    }
}

impl<T: Element> Dataset<T> {
    /// Like `prefetch`, and moves every tensor of each element to `device` on the background
    /// thread (`tf.data.experimental.prefetch_to_device`), so copies overlap training.
    pub fn prefetch_to_device(&self, device: Device, buffer_size: usize) -> Dataset<T> {
        self.then(Stage::Other, self.card, move |up, _| {
            let to: Transform<T> = Box::new(move |x: T| {
                let parts = x
                    .parts()
                    .iter()
                    .map(|t| t.try_to(device))
                    .collect::<Result<Vec<_>>>()?;
                T::from_parts(parts)
            });
            spawn(up, buffer_size, Some(to))
        })
    }
}

/// Runs `stream` on a background thread with a fixed buffer (used by parallel interleave).
pub(crate) fn background<T: Item>(stream: Stream<T>, buffer_size: usize) -> Stream<T> {
    spawn(stream, buffer_size.max(1), None)
}

fn spawn<T: Item>(
    mut up: Stream<T>,
    buffer_size: usize,
    transform: Option<Transform<T>>,
) -> Stream<T> {
    let (initial, max) = if buffer_size == AUTOTUNE {
        (1, AUTOTUNE_MAX_BUFFER)
    } else {
        (buffer_size.max(1), buffer_size.max(1))
    };
    let (item_tx, item_rx) = channel::<Result<T>>();
    let (tok_tx, tok_rx) = channel::<()>();
    for _ in 0..initial {
        let _ = tok_tx.send(());
    }
    std::thread::Builder::new()
        .name("ferrolab-data-prefetch".into())
        .spawn(move || {
            while tok_rx.recv().is_ok() {
                let item = if cancelled() {
                    Some(Err(Error::Cancelled))
                } else {
                    up.next()
                };
                let Some(mut item) = item else { break };
                if let Some(t) = &transform {
                    item = item.and_then(t);
                }
                let stop = matches!(item, Err(Error::Cancelled));
                if item_tx.send(item).is_err() || stop {
                    break;
                }
            }
        })
        .expect("spawn a data prefetch thread");
    Box::new(Prefetched {
        items: item_rx,
        tokens: tok_tx,
        granted: initial,
        max,
    })
}

/// The consumer end of a prefetch buffer.
struct Prefetched<T> {
    items: Receiver<Result<T>>,
    tokens: Sender<()>,
    granted: usize,
    max: usize,
}

impl<T> Iterator for Prefetched<T> {
    type Item = Result<T>;
    fn next(&mut self) -> Option<Result<T>> {
        let item = match self.items.try_recv() {
            Ok(x) => x,
            Err(TryRecvError::Disconnected) => return None,
            Err(TryRecvError::Empty) => {
                // The consumer is waiting: with AUTOTUNE, allow one more element ahead.
                if self.granted < self.max {
                    self.granted += 1;
                    let _ = self.tokens.send(());
                }
                self.items.recv().ok()?
            }
        };
        let _ = self.tokens.send(());
        Some(item)
    }
}
