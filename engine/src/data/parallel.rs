//! `map`, `flat_map` and `interleave`, sequential or on worker threads.
//!
//! Parallel map, the plumbing (std threads and channels only):
//! ```text
//!   feeder thread ──jobs (seq, x)──▶ N worker threads ──(seq, f(x))──▶ consumer (next())
//!        ▲                                                              │
//!        └──────────────── one token per free slot ◀────────────────────┘
//! ```
//! - The feeder pulls the upstream stream, so upstream latency overlaps the workers' work.
//! - At most `2 * N` elements are in flight (tokens), so memory stays bounded even when one
//!   slow element holds up the ordered output.
//! - Ordered (the default): the consumer reorders by sequence number. `deterministic(false)`:
//!   elements come out as they finish.
//! - Dropping the iterator closes the channels; every thread then exits after its current element.
//! - A panic in the map function becomes an error element naming the panic.

use std::collections::{BTreeMap, VecDeque};
use std::sync::mpsc::{channel, sync_channel, Receiver, Sender};
use std::sync::{Arc, Mutex};

use super::element::Item;
use super::iter::{cancel_point, cancelled};
use super::prefetch::background;
use super::{Card, Dataset, Stage, Stream};
use crate::error::{Error, Result};

/// Worker count for `AUTOTUNE`: one per core, at least 4 (pipeline work often waits on I/O).
pub fn autotune_workers() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .max(4)
}

impl<T: Item> Dataset<T> {
    /// Applies `f` to every element (`Dataset.map`). Runs in the iterating thread unless
    /// followed by `.num_parallel_calls(n)`: then on `n` worker threads, in input order unless
    /// `.deterministic(false)`.
    pub fn map<U: Item>(&self, f: impl Fn(T) -> U + Send + Sync + 'static) -> Dataset<U> {
        let f = Arc::new(f);
        self.then(Stage::Map, self.card, move |up, o| {
            let f = f.clone();
            if o.num_parallel_calls > 1 {
                parallel_map(up, f, o.num_parallel_calls, o.deterministic)
            } else {
                Box::new(up.map(move |r| r.map(|x| f(x))))
            }
        })
    }

    /// Maps each element to a dataset and chains them (`Dataset.flat_map`).
    pub fn flat_map<U: Item>(
        &self,
        f: impl Fn(T) -> Dataset<U> + Send + Sync + 'static,
    ) -> Dataset<U> {
        self.interleave(f, 1, 1)
    }

    /// Maps each element to a dataset and mixes them (`Dataset.interleave`): `cycle_length`
    /// datasets are open at once and `block_length` elements are taken from each in turn; an
    /// exhausted one is replaced by the next input's. With `.num_parallel_calls(n)` (n > 1) each
    /// open dataset is read ahead on its own thread and the next `cycle_length` inputs are
    /// opened early, so opening and reading latency overlap; the output order is the same as
    /// the sequential order. With `.deterministic(false)` as well, the `cycle_length` open
    /// datasets each run on a thread and elements come out as soon as any of them has one.
    #[track_caller]
    pub fn interleave<U: Item>(
        &self,
        f: impl Fn(T) -> Dataset<U> + Send + Sync + 'static,
        cycle_length: usize,
        block_length: usize,
    ) -> Dataset<U> {
        assert!(
            cycle_length > 0 && block_length > 0,
            "interleave: cycle_length and block_length must be at least 1"
        );
        let cycle_length = if cycle_length == super::AUTOTUNE {
            autotune_workers()
        } else {
            cycle_length
        };
        let f: Arc<dyn Fn(T) -> Dataset<U> + Send + Sync> = Arc::new(f);
        self.then(Stage::Interleave, Card::Unknown, move |input, o| {
            let parallel = o.num_parallel_calls > 1;
            let f = f.clone();
            if parallel && !o.deterministic {
                return Box::new(InterleaveAny::new(input, f, cycle_length));
            }
            let open = move |x: T| -> Stream<U> {
                let s = f(x).stream();
                if parallel {
                    background(s, block_length.max(2))
                } else {
                    s
                }
            };
            Box::new(Interleave {
                input,
                open: Box::new(open),
                slots: (0..cycle_length).map(|_| None).collect(),
                upcoming: VecDeque::new(),
                prefetch_inputs: if parallel { cycle_length } else { 0 },
                index: 0,
                in_block: 0,
                block_length,
                open_count: 0,
                input_done: false,
            })
        })
    }
}

type Opener<T, U> = Box<dyn FnMut(T) -> Stream<U> + Send>;

/// TF's interleave loop: visit slot `index`, take up to `block_length`, then move on.
struct Interleave<T, U> {
    input: Stream<T>,
    open: Opener<T, U>,
    slots: Vec<Option<Stream<U>>>,
    upcoming: VecDeque<Result<Stream<U>>>,
    prefetch_inputs: usize,
    index: usize,
    in_block: usize,
    block_length: usize,
    open_count: usize,
    input_done: bool,
}

impl<T: Item, U: Item> Interleave<T, U> {
    fn next_input(&mut self) -> Option<Result<Stream<U>>> {
        if self.upcoming.is_empty() && !self.input_done {
            self.pull_input();
        }
        let s = self.upcoming.pop_front();
        while self.upcoming.len() < self.prefetch_inputs && !self.input_done {
            self.pull_input();
        }
        s
    }
    fn pull_input(&mut self) {
        match self.input.next() {
            Some(Ok(x)) => self.upcoming.push_back(Ok((self.open)(x))),
            Some(Err(e)) => self.upcoming.push_back(Err(e)),
            None => self.input_done = true,
        }
    }
    fn advance(&mut self) {
        self.in_block = 0;
        self.index = (self.index + 1) % self.slots.len();
    }
}

impl<T: Item, U: Item> Iterator for Interleave<T, U> {
    type Item = Result<U>;
    fn next(&mut self) -> Option<Result<U>> {
        loop {
            if let Some(c) = cancel_point() {
                return Some(c);
            }
            if let Some(cur) = self.slots[self.index].as_mut() {
                if self.in_block < self.block_length {
                    if let Some(x) = cur.next() {
                        self.in_block += 1;
                        return Some(x);
                    }
                    self.slots[self.index] = None;
                    self.open_count -= 1;
                }
                self.advance();
            } else if !self.input_done || !self.upcoming.is_empty() {
                match self.next_input() {
                    Some(Ok(s)) => {
                        self.slots[self.index] = Some(s);
                        self.open_count += 1;
                    }
                    Some(Err(e)) => return Some(Err(e)),
                    None => {}
                }
            } else if self.open_count == 0 {
                return None;
            } else {
                self.advance();
            }
        }
    }
}

/// Messages from the reader threads of a non-deterministic interleave.
enum Msg<U> {
    Item(Result<U>),
    Done,
}

/// `interleave(..).num_parallel_calls(n).deterministic(false)`: up to `cycle_length` datasets
/// run on their own threads and share one bounded channel; the consumer takes whatever comes
/// first and opens the next input whenever one finishes.
struct InterleaveAny<T, U: Item> {
    input: Stream<T>,
    f: Arc<dyn Fn(T) -> Dataset<U> + Send + Sync>,
    tx: Option<std::sync::mpsc::SyncSender<Msg<U>>>,
    rx: Receiver<Msg<U>>,
    active: usize,
    cycle_length: usize,
    input_done: bool,
}

impl<T: Item, U: Item> InterleaveAny<T, U> {
    fn new(
        input: Stream<T>,
        f: Arc<dyn Fn(T) -> Dataset<U> + Send + Sync>,
        cycle_length: usize,
    ) -> Self {
        let (tx, rx) = sync_channel(2 * cycle_length);
        InterleaveAny {
            input,
            f,
            tx: Some(tx),
            rx,
            active: 0,
            cycle_length,
            input_done: false,
        }
    }

    /// Starts readers until `cycle_length` run or the input ends; an input error is returned.
    fn top_up(&mut self) -> Option<Result<U>> {
        while self.active < self.cycle_length && !self.input_done {
            match self.input.next() {
                None => self.input_done = true,
                Some(Err(e)) => return Some(Err(e)),
                Some(Ok(x)) => {
                    let mut s = (self.f)(x).stream();
                    let tx = self.tx.clone()?;
                    self.active += 1;
                    std::thread::Builder::new()
                        .name("ferrolab-data-interleave".into())
                        .spawn(move || {
                            for item in s.by_ref() {
                                if cancelled() {
                                    // Wake the consumer, which may be waiting on the channel.
                                    let _ = tx.send(Msg::Item(Err(Error::Cancelled)));
                                    return;
                                }
                                if tx.send(Msg::Item(item)).is_err() {
                                    return;
                                }
                            }
                            let _ = tx.send(Msg::Done);
                        })
                        .expect("spawn a data interleave thread");
                }
            }
        }
        None
    }
}

impl<T: Item, U: Item> Iterator for InterleaveAny<T, U> {
    type Item = Result<U>;
    fn next(&mut self) -> Option<Result<U>> {
        loop {
            if let Some(c) = cancel_point() {
                return Some(c);
            }
            if let Some(e) = self.top_up() {
                return Some(e);
            }
            if self.active == 0 {
                self.tx = None;
                return None;
            }
            match self.rx.recv().ok()? {
                Msg::Item(x) => return Some(x),
                Msg::Done => self.active -= 1,
            }
        }
    }
}

/// Runs `f` over `input` on `workers` threads; see the module docs for the plumbing.
pub(crate) fn parallel_map<T: Item, U: Item>(
    mut input: Stream<T>,
    f: Arc<dyn Fn(T) -> U + Send + Sync>,
    workers: usize,
    ordered: bool,
) -> Stream<U> {
    let capacity = 2 * workers;
    let (job_tx, job_rx) = sync_channel::<(u64, Result<T>)>(workers);
    let job_rx = Arc::new(Mutex::new(job_rx));
    let (res_tx, res_rx) = channel::<(u64, Result<U>)>();
    let (tok_tx, tok_rx) = channel::<()>();
    for _ in 0..capacity {
        let _ = tok_tx.send(());
    }
    std::thread::Builder::new()
        .name("ferrolab-data-feeder".into())
        .spawn(move || {
            let mut seq = 0u64;
            while tok_rx.recv().is_ok() {
                let item = if cancelled() {
                    Some(Err(Error::Cancelled))
                } else {
                    input.next()
                };
                let Some(item) = item else { break };
                let stop = matches!(item, Err(Error::Cancelled));
                if job_tx.send((seq, item)).is_err() || stop {
                    break;
                }
                seq += 1;
            }
        })
        .expect("spawn a data feeder thread");
    for _ in 0..workers {
        let (job_rx, res_tx, f) = (job_rx.clone(), res_tx.clone(), f.clone());
        std::thread::Builder::new()
            .name("ferrolab-data-map".into())
            .spawn(move || loop {
                let job = job_rx.lock().unwrap_or_else(|e| e.into_inner()).recv();
                let Ok((seq, item)) = job else { break };
                let out = item.and_then(|x| {
                    // The panic becomes an error element (re-raised where the dataset is
                    // iterated), so the kernel's panic hook must not report it a second time.
                    crate::state::catch_quietly(|| f(x))
                        .map_err(|m| Error::Msg(format!("map: the map function panicked: {m}")))
                });
                if res_tx.send((seq, out)).is_err() {
                    break;
                }
            })
            .expect("spawn a data map thread");
    }
    drop(res_tx);
    Box::new(Reorder {
        results: res_rx,
        tokens: tok_tx,
        pending: BTreeMap::new(),
        next_seq: 0,
        ordered,
    })
}

/// The consumer end of a parallel map: hands back tokens and restores the input order.
struct Reorder<U> {
    results: Receiver<(u64, Result<U>)>,
    tokens: Sender<()>,
    pending: BTreeMap<u64, Result<U>>,
    next_seq: u64,
    ordered: bool,
}

impl<U> Iterator for Reorder<U> {
    type Item = Result<U>;
    fn next(&mut self) -> Option<Result<U>> {
        loop {
            if !self.ordered {
                let (_, v) = self.results.recv().ok()?;
                let _ = self.tokens.send(());
                return Some(v);
            }
            if let Some(v) = self.pending.remove(&self.next_seq) {
                self.next_seq += 1;
                let _ = self.tokens.send(());
                return Some(v);
            }
            match self.results.recv() {
                Ok((seq, v)) => {
                    self.pending.insert(seq, v);
                }
                Err(_) => {
                    // All workers are gone: hand out what is left in order (only after errors).
                    let (&k, _) = self.pending.iter().next()?;
                    self.next_seq = k;
                }
            }
        }
    }
}
