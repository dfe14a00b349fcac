//! `LivePlot`: a chart that redraws in place while a loop runs, e.g. loss curves growing during
//! training. Each redraw is an `update_display_data` for the same display id, at most 10 a
//! second ([`Throttle`]); `finish` (or dropping the plot) always draws the final state.
//!
//! ```
//! use ferrolab::plot::LivePlot;
//! let mut live = LivePlot::new().title("Training").xlabel("epoch").ylabel("loss");
//! for epoch in 1..=5 {
//!     let loss = 1.0 / epoch as f64;
//!     live.update(epoch as f64, &[("loss", loss), ("val_loss", loss * 1.2)]);
//! }
//! live.finish();
//! ```
//!
//! Outside a notebook nothing is drawn while running, and `finish` prints the last values.

use std::time::Duration;

use super::Figure;
use crate::display::{Clock, DisplayHandle, SystemClock, Throttle};

struct Series {
    name: String,
    x: Vec<f64>,
    y: Vec<f64>,
}

enum Sink {
    Notebook(Option<DisplayHandle>),
    Terminal,
    Capture,
}

/// A line chart that redraws in place as points arrive.
pub struct LivePlot {
    series: Vec<Series>,
    title: Option<String>,
    xlabel: Option<String>,
    ylabel: Option<String>,
    ylog: bool,
    clock: Box<dyn Clock>,
    throttle: Throttle,
    sink: Sink,
    draws: Vec<Duration>,
    dirty: bool,
    finished: bool,
}

impl Default for LivePlot {
    fn default() -> Self {
        LivePlot::new()
    }
}

impl LivePlot {
    pub fn new() -> LivePlot {
        LivePlot {
            series: Vec::new(),
            title: None,
            xlabel: None,
            ylabel: None,
            ylog: false,
            clock: Box::new(SystemClock::new()),
            throttle: Throttle::default(),
            sink: if crate::display::in_notebook() {
                Sink::Notebook(None)
            } else {
                Sink::Terminal
            },
            draws: Vec::new(),
            dirty: false,
            finished: false,
        }
    }
    pub fn title(mut self, t: impl Into<String>) -> Self {
        self.title = Some(t.into());
        self
    }
    pub fn xlabel(mut self, t: impl Into<String>) -> Self {
        self.xlabel = Some(t.into());
        self
    }
    pub fn ylabel(mut self, t: impl Into<String>) -> Self {
        self.ylabel = Some(t.into());
        self
    }
    /// `"log"` for a log y axis (losses spanning decades).
    pub fn yscale(mut self, scale: &str) -> Self {
        self.ylog = scale == "log";
        self
    }
    /// Uses `clock` for throttling (tests pass a fake clock).
    pub fn with_clock(mut self, clock: impl Clock + 'static) -> Self {
        self.clock = Box::new(clock);
        self
    }
    /// Counts redraws without printing anything (for tests); see [`Self::draw_times`].
    pub fn capture(mut self) -> Self {
        self.sink = Sink::Capture;
        self
    }
    /// When each redraw happened, by the plot's clock.
    pub fn draw_times(&self) -> &[Duration] {
        &self.draws
    }

    /// Adds the point (`x`, `y`) to the series `name` (created on first use) and redraws when
    /// the throttle allows.
    pub fn push(&mut self, name: &str, x: f64, y: f64) {
        self.add(name, x, y);
        self.maybe_draw(false);
    }

    /// Adds one point per named value at the same `x` (e.g. an epoch's metrics), then redraws
    /// when the throttle allows.
    pub fn update<V: Into<f64> + Copy>(&mut self, x: f64, values: &[(&str, V)]) {
        for (name, v) in values {
            self.add(name, x, (*v).into());
        }
        self.maybe_draw(false);
    }

    /// Draws the final state.
    pub fn finish(&mut self) {
        self.finished = true;
        if let Sink::Terminal = self.sink {
            let last: Vec<String> = self
                .series
                .iter()
                .filter_map(|s| Some(format!("{}: {:.4}", s.name, s.y.last()?)))
                .collect();
            println!("{}", last.join(" · "));
            return;
        }
        self.maybe_draw(true);
    }

    fn add(&mut self, name: &str, x: f64, y: f64) {
        let i = match self.series.iter().position(|s| s.name == name) {
            Some(i) => i,
            None => {
                self.series.push(Series {
                    name: name.to_string(),
                    x: Vec::new(),
                    y: Vec::new(),
                });
                self.series.len() - 1
            }
        };
        self.series[i].x.push(x);
        self.series[i].y.push(y);
        self.dirty = true;
    }

    /// The chart as it stands.
    pub fn figure(&self) -> Figure {
        let mut f = Figure::new();
        for s in &self.series {
            f = f.plot(&s.x, &s.y).label(&s.name);
            if s.x.len() <= 30 {
                f = f.marker("o");
            }
        }
        if let Some(t) = &self.title {
            f = f.title(t);
        }
        if let Some(t) = &self.xlabel {
            f = f.xlabel(t);
        }
        if let Some(t) = &self.ylabel {
            f = f.ylabel(t);
        }
        if self.ylog {
            f = f.yscale("log");
        }
        f
    }

    fn maybe_draw(&mut self, force: bool) {
        if matches!(self.sink, Sink::Terminal) {
            return;
        }
        let now = self.clock.now();
        if !self.throttle.ready(now, force) {
            return;
        }
        self.dirty = false;
        self.draws.push(now);
        if matches!(self.sink, Sink::Notebook(_)) {
            let fig = self.figure();
            let Sink::Notebook(handle) = &mut self.sink else {
                return;
            };
            match handle {
                Some(h) => h.update(&fig),
                None => *handle = Some(fig.show()),
            }
        }
    }
}

impl LivePlot {
    /// What evcxr shows for a live plot as a cell's last expression: the chart as it stands.
    pub fn evcxr_display(&self) {
        self.figure().evcxr_display();
    }
}

impl Drop for LivePlot {
    /// Updates swallowed by the throttle are drawn once at the end.
    fn drop(&mut self) {
        if self.dirty && !self.finished {
            self.maybe_draw(true);
        }
    }
}
