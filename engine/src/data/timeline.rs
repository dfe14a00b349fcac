//! A per-stage timeline of a pipeline, as in TF's "Better performance with the tf.data API".
//!
//! Stages (open, read, map, train...) record spans from whatever thread runs them; the chart
//! draws one row per stage and one bar per span, so you can see which work overlaps (prefetch,
//! parallel map, interleave) and which waits.
//!
//! ```
//! use ferrolab::prelude::*;
//! use ferrolab::data::Timeline;
//! use std::time::Duration;
//! let tl = Timeline::new();
//! let t = tl.clone();
//! let ds = Dataset::range(0..3).map(move |x| { t.sleep("map", Duration::from_millis(1)); x });
//! for _ in &ds {
//!     tl.sleep("train", Duration::from_millis(1));
//! }
//! assert_eq!(tl.stages(), vec!["map", "train"]);
//! let fig = tl.figure("map then train"); // show it with fig.show() or as a cell's value
//! ```

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::plot::Figure;

/// One recorded piece of work: its stage and its start and end in seconds.
#[derive(Clone, Debug, PartialEq)]
pub struct Span {
    pub stage: String,
    pub start: f64,
    pub end: f64,
}

/// Spans recorded from any thread, timed from the timeline's creation. Clones share the spans.
#[derive(Clone, Debug)]
pub struct Timeline {
    t0: Instant,
    spans: Arc<Mutex<Vec<Span>>>,
}

impl Default for Timeline {
    fn default() -> Self {
        Self::new()
    }
}

impl Timeline {
    pub fn new() -> Timeline {
        Timeline {
            t0: Instant::now(),
            spans: Arc::new(Mutex::new(Vec::new())),
        }
    }

    /// Runs `f`, recording it as a span of `stage`.
    pub fn record<R>(&self, stage: &str, f: impl FnOnce() -> R) -> R {
        let start = self.t0.elapsed().as_secs_f64();
        let out = f();
        let end = self.t0.elapsed().as_secs_f64();
        self.spans
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Span {
                stage: stage.to_string(),
                start,
                end,
            });
        out
    }

    /// Simulated work: sleeps for `d`, recorded as a span of `stage`.
    pub fn sleep(&self, stage: &str, d: Duration) {
        self.record(stage, || std::thread::sleep(d))
    }

    /// Every span so far, in the order they ended.
    pub fn spans(&self) -> Vec<Span> {
        self.spans.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The stage names, in the order they first started.
    pub fn stages(&self) -> Vec<String> {
        let mut spans = self.spans();
        spans.sort_by(|a, b| a.start.total_cmp(&b.start));
        let mut out: Vec<String> = Vec::new();
        for s in spans {
            if !out.contains(&s.stage) {
                out.push(s.stage);
            }
        }
        out
    }

    /// Seconds from the first start to the last end (0 when nothing was recorded).
    pub fn duration(&self) -> f64 {
        let spans = self.spans();
        let lo = spans.iter().map(|s| s.start).fold(f64::INFINITY, f64::min);
        let hi = spans.iter().map(|s| s.end).fold(0.0, f64::max);
        if spans.is_empty() {
            0.0
        } else {
            hi - lo
        }
    }

    /// The chart: one row per stage (the first stage on top), one bar per span.
    pub fn figure(&self, title: &str) -> Figure {
        let stages = self.stages();
        let n = stages.len();
        let mut fig = Figure::new();
        let mut labelled = vec![false; n];
        for s in self.spans() {
            let row = stages.iter().position(|x| *x == s.stage).unwrap_or(0);
            let y = (n - 1 - row) as f64;
            fig = fig
                .plot([s.start, s.end], [y, y])
                .color(&format!("C{}", row % 10))
                .linewidth(8);
            if !labelled[row] {
                fig = fig.label(&s.stage);
                labelled[row] = true;
            }
        }
        let rows: Vec<String> = stages
            .iter()
            .enumerate()
            .rev()
            .map(|(i, s)| format!("{} {s}", n - 1 - i))
            .collect();
        fig.title(title)
            .xlabel("time (s)")
            .ylabel(rows.join(", "))
            .ylim(-0.5, n as f64 - 0.5)
    }
}

/// Several timelines side by side, two per row, each titled with its name and duration.
pub fn timeline_chart(runs: &[(&str, &Timeline)]) -> Figure {
    let panels: Vec<Figure> = runs
        .iter()
        .map(|(name, t)| t.figure(&format!("{name} ({:.2} s)", t.duration())))
        .collect();
    let rows = panels.len().div_ceil(2).max(1) as u32;
    crate::plot::subplots(2, panels).size(1200, 225 * rows)
}
