//! Sequential transformations: filter, batch, padded_batch, unbatch, repeat, take, skip,
//! concatenate, zip, enumerate and window. (`map` and `interleave` are in [`super::parallel`],
//! `shuffle` in [`super::shuffle`], `cache` in [`super::cache`], `prefetch` in
//! [`super::prefetch`].)

use std::collections::VecDeque;

use super::element::{pad_stack_elements, stack_elements, unstack_element, Element, Item};
use super::iter::cancel_point;
use super::{Card, Dataset, Stage, Stream};
use crate::error::Result;
use crate::tensor::create::from_vec;
use crate::tensor::Tensor;

impl<T: Item> Dataset<T> {
    /// Keeps the elements for which `predicate` is true (`Dataset.filter`).
    pub fn filter(&self, predicate: impl Fn(&T) -> bool + Send + Sync + 'static) -> Dataset<T> {
        let p = std::sync::Arc::new(predicate);
        self.then(Stage::Other, Card::Unknown, move |up, _| {
            let p = p.clone();
            Box::new(up.filter(move |r| match r {
                Ok(x) => p(x),
                Err(_) => true,
            }))
        })
    }

    /// The first `count` elements (`Dataset.take`).
    pub fn take(&self, count: usize) -> Dataset<T> {
        let card = match self.card {
            Card::Finite(n) => Card::Finite(n.min(count)),
            Card::Infinite => Card::Finite(count),
            Card::Unknown => Card::Unknown,
        };
        self.then(Stage::Other, card, move |up, _| Box::new(up.take(count)))
    }

    /// All but the first `count` elements (`Dataset.skip`).
    pub fn skip(&self, count: usize) -> Dataset<T> {
        let card = self.card.map(|n| n.saturating_sub(count));
        self.then(Stage::Other, card, move |mut up, _| {
            let mut left = count;
            Box::new(std::iter::from_fn(move || {
                while left > 0 {
                    left -= 1;
                    if let Some(c) = cancel_point() {
                        return Some(c);
                    }
                    match up.next()? {
                        Ok(_) => {}
                        Err(e) => return Some(Err(e)),
                    }
                }
                up.next()
            }))
        })
    }

    /// The elements `count` times over (`Dataset.repeat`); `None` repeats forever. Each pass
    /// restarts the upstream pipeline, so a `shuffle` before `repeat` reshuffles every epoch.
    pub fn repeat(&self, count: impl Into<Option<usize>>) -> Dataset<T> {
        let count = count.into();
        let card = match (count, self.card) {
            (_, Card::Finite(0)) | (Some(0), _) => Card::Finite(0),
            (Some(k), c) => c.map(|n| n * k),
            (None, Card::Unknown) => Card::Unknown,
            (None, _) => Card::Infinite,
        };
        let up = self.clone();
        Dataset::from_maker(Stage::Other, card, move |_| {
            let up = up.clone();
            let mut pass = 0usize;
            let mut cur: Option<Stream<T>> = None;
            let mut yielded_this_pass = false;
            Box::new(std::iter::from_fn(move || loop {
                if cur.is_none() {
                    if count.is_some_and(|k| pass >= k) {
                        return None;
                    }
                    pass += 1;
                    yielded_this_pass = false;
                    cur = Some(up.stream());
                }
                match cur.as_mut()?.next() {
                    Some(x) => {
                        yielded_this_pass = true;
                        return Some(x);
                    }
                    None => {
                        cur = None;
                        // An empty pass would repeat forever without yielding: stop, as TF does.
                        if !yielded_this_pass {
                            return None;
                        }
                    }
                }
            }))
        })
    }

    /// `self`'s elements followed by `other`'s (`Dataset.concatenate`).
    pub fn concatenate(&self, other: &Dataset<T>) -> Dataset<T> {
        let card = match (self.card, other.card) {
            (Card::Finite(a), Card::Finite(b)) => Card::Finite(a + b),
            (Card::Infinite, _) | (_, Card::Infinite) => Card::Infinite,
            _ => Card::Unknown,
        };
        let other = other.clone();
        self.then(Stage::Other, card, move |up, _| {
            Box::new(up.chain(other.stream()))
        })
    }

    /// Pairs of elements from `self` and `other`, until either ends (`Dataset.zip((a, b))`).
    pub fn zip<U: Item>(&self, other: &Dataset<U>) -> Dataset<(T, U)> {
        let card = match (self.card, other.card) {
            (Card::Finite(a), Card::Finite(b)) => Card::Finite(a.min(b)),
            (Card::Infinite, Card::Infinite) => Card::Infinite,
            (Card::Finite(a), Card::Infinite) | (Card::Infinite, Card::Finite(a)) => {
                Card::Finite(a)
            }
            _ => Card::Unknown,
        };
        let other = other.clone();
        self.then(Stage::Other, card, move |up, _| {
            Box::new(up.zip(other.stream()).map(|(a, b)| Ok((a?, b?))))
        })
    }

    /// `(index, element)` pairs with an int64 scalar index from 0 (`Dataset.enumerate`).
    pub fn enumerate(&self) -> Dataset<(Tensor, T)> {
        self.then(Stage::Other, self.card, |up, _| {
            Box::new(
                up.enumerate()
                    .map(|(i, x)| Ok((from_vec(vec![i as i64], Vec::<usize>::new())?, x?))),
            )
        })
    }

    /// Windows of `size` elements, each a small dataset, starting every `shift` elements
    /// (`Dataset.window(size, shift)`); builders `.stride(s)` and `.drop_remainder(true)`.
    /// For time series, flatten each window into one tensor with
    /// `.window(5, 1).drop_remainder(true).flat_map(|w| w.batch(5))`.
    #[track_caller]
    pub fn window(&self, size: usize, shift: usize) -> Dataset<Dataset<T>> {
        assert!(
            size > 0 && shift > 0,
            "window: size and shift must be at least 1"
        );
        let up = self.clone();
        Dataset::from_maker(Stage::Window, Card::Unknown, move |o| {
            let (stride, drop_remainder) = (o.stride, o.drop_remainder);
            let mut src = up.stream();
            let mut buf: VecDeque<T> = VecDeque::new();
            let mut base = 0usize; // upstream index of buf[0]
            let mut start = 0usize;
            let mut done = false;
            Box::new(std::iter::from_fn(move || {
                let end = start + (size - 1) * stride + 1;
                while !done && base + buf.len() < end {
                    if let Some(c) = cancel_point() {
                        return Some(c);
                    }
                    match src.next() {
                        Some(Ok(x)) => buf.push_back(x),
                        Some(Err(e)) => return Some(Err(e)),
                        None => done = true,
                    }
                }
                let items: Vec<T> = (0..size)
                    .map(|j| start + j * stride)
                    .filter(|&i| i >= base && i < base + buf.len())
                    .map(|i| buf[i - base].clone())
                    .collect();
                if items.is_empty() || (drop_remainder && items.len() < size) {
                    return None;
                }
                start += shift;
                while base < start && !buf.is_empty() {
                    buf.pop_front();
                    base += 1;
                }
                // Elements between windows (shift > span) are skipped as they arrive.
                while base < start && !done {
                    match src.next() {
                        Some(Ok(_)) => base += 1,
                        Some(Err(e)) => return Some(Err(e)),
                        None => done = true,
                    }
                }
                Some(Ok(Dataset::from_items(items)))
            }))
        })
    }
}

/// Groups of `n` consecutive elements; with `drop_remainder` a last short group is dropped.
fn chunks<T: Item>(
    mut up: Stream<T>,
    n: usize,
    drop_remainder: bool,
) -> impl Iterator<Item = Result<Vec<T>>> + Send {
    std::iter::from_fn(move || {
        let mut group = Vec::with_capacity(n);
        while group.len() < n {
            match up.next() {
                Some(Ok(x)) => group.push(x),
                Some(Err(e)) => return Some(Err(e)),
                None => break,
            }
        }
        if group.is_empty() || (drop_remainder && group.len() < n) {
            None
        } else {
            Some(Ok(group))
        }
    })
}

impl<T: Element> Dataset<T> {
    /// Stacks `batch_size` consecutive elements into one, component by component
    /// (`Dataset.batch`); the last batch may be smaller unless `.drop_remainder(true)`.
    #[track_caller]
    pub fn batch(&self, batch_size: usize) -> Dataset<T> {
        assert!(batch_size > 0, "batch: batch_size must be at least 1");
        let mut ds = self.then(
            Stage::Batch,
            self.card.map(|n| n.div_ceil(batch_size)),
            move |up, o| {
                Box::new(chunks(up, batch_size, o.drop_remainder).map(|g| stack_elements(&g?)))
            },
        );
        ds.batch_of = Some((self.card, batch_size));
        ds
    }

    /// Like `batch`, padding every component to the largest shape in its batch
    /// (`Dataset.padded_batch`); builders `.padding_values(v)` and `.drop_remainder(true)`.
    #[track_caller]
    pub fn padded_batch(&self, batch_size: usize) -> Dataset<T> {
        assert!(
            batch_size > 0,
            "padded_batch: batch_size must be at least 1"
        );
        let mut ds = self.then(
            Stage::PaddedBatch,
            self.card.map(|n| n.div_ceil(batch_size)),
            move |up, o| {
                let value = o.padding_value;
                Box::new(
                    chunks(up, batch_size, o.drop_remainder)
                        .map(move |g| pad_stack_elements(&g?, value)),
                )
            },
        );
        ds.batch_of = Some((self.card, batch_size));
        ds
    }

    /// Splits each element along its first axis into separate elements (`Dataset.unbatch`).
    pub fn unbatch(&self) -> Dataset<T> {
        self.then(Stage::Other, Card::Unknown, |mut up, _| {
            let mut pending: VecDeque<T> = VecDeque::new();
            Box::new(std::iter::from_fn(move || loop {
                if let Some(x) = pending.pop_front() {
                    return Some(Ok(x));
                }
                match up.next()? {
                    Ok(b) => match unstack_element(&b) {
                        Ok(rows) => pending.extend(rows),
                        Err(e) => return Some(Err(e)),
                    },
                    Err(e) => return Some(Err(e)),
                }
            }))
        })
    }
}
