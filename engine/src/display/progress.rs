//! A Keras-style progress bar that updates in place:
//!
//! ```text
//! Epoch 3/10 ━━━━━━━━━━━━━━━━━━━━ 47/47 · 0s 1ms/step · loss: 0.3142 · accuracy: 0.9121
//! ```
//!
//! In a notebook the first state is a `display_data` and later states are `update_display_data`
//! with the same display id, so the bar redraws in place. In a terminal it rewrites one line with
//! `\r`. Either way it redraws at most 10 times a second ([`Throttle`]); the final state is always
//! drawn. The clock is injectable ([`Clock`]), so the throttling is tested without sleeping.
//!
//! ```
//! use ferrolab::display::ProgressBar;
//! let mut bar = ProgressBar::new(1, 10, 47);
//! for step in 1..=47 {
//!     bar.update(step, &[("loss", 0.5 / step as f64)]);
//! }
//! bar.finish(&[("loss", 0.01), ("val_loss", 0.02)]);
//! ```

use std::io::Write as _;
use std::time::{Duration, Instant};

use super::table::format_float;
use super::{escape_html, Display, DisplayHandle, MimeBundle};

/// Time since an arbitrary origin. [`SystemClock`] in real use; tests pass a fake one.
pub trait Clock {
    fn now(&self) -> Duration;
}

/// The real monotonic clock.
pub struct SystemClock(Instant);

impl SystemClock {
    pub fn new() -> Self {
        SystemClock(Instant::now())
    }
}
impl Default for SystemClock {
    fn default() -> Self {
        Self::new()
    }
}
impl Clock for SystemClock {
    fn now(&self) -> Duration {
        self.0.elapsed()
    }
}

impl<F: Fn() -> Duration> Clock for F {
    fn now(&self) -> Duration {
        self()
    }
}

/// Rate limiter for redraws: at most one every `interval`; forced draws always pass.
#[derive(Clone, Debug)]
pub struct Throttle {
    interval: Duration,
    last: Option<Duration>,
}

impl Throttle {
    /// At most `per_second` redraws a second.
    pub fn per_second(per_second: f64) -> Self {
        Throttle {
            interval: Duration::from_secs_f64(1.0 / per_second.max(1e-9)),
            last: None,
        }
    }
    /// True when a redraw may happen at `now` (and records it). The first call always passes, as
    /// does a `force`d one (the final state).
    pub fn ready(&mut self, now: Duration, force: bool) -> bool {
        let ok = force
            || match self.last {
                None => true,
                Some(last) => now.saturating_sub(last) >= self.interval,
            };
        if ok {
            self.last = Some(now);
        }
        ok
    }
}

impl Default for Throttle {
    /// 10 redraws a second, the rate the notebook front end handles smoothly.
    fn default() -> Self {
        Throttle::per_second(10.0)
    }
}

/// Where a progress bar draws: the notebook or terminal (chosen at creation), or a capture for
/// tests.
enum Sink {
    Notebook(Option<DisplayHandle>),
    Terminal { width: usize },
    Capture(Vec<Frame>),
}

/// One drawn state, as captured by [`ProgressBar::capture`].
#[derive(Clone, Debug, PartialEq)]
pub struct Frame {
    /// `display_data` for the first draw, `update_display_data` after.
    pub update: bool,
    pub text: String,
    /// When it was drawn, by the bar's clock.
    pub at: Duration,
}

const BAR_WIDTH: usize = 20;

/// A Keras-style progress bar for one epoch (or any loop of known length).
pub struct ProgressBar {
    prefix: String,
    steps: usize,
    step: usize,
    metrics: Vec<(String, f64)>,
    clock: Box<dyn Clock>,
    start: Duration,
    throttle: Throttle,
    sink: Sink,
    drawn: usize,
    dirty: bool,
    finished: bool,
}

impl ProgressBar {
    /// The bar for epoch `epoch` of `epochs` (counting from 1), `steps` batches long.
    pub fn new(epoch: usize, epochs: usize, steps: usize) -> Self {
        Self::with_prefix(format!("Epoch {epoch}/{epochs}"), steps)
    }

    /// A bar without the "Epoch" prefix, for any loop of `steps` steps.
    pub fn steps(steps: usize) -> Self {
        Self::with_prefix(String::new(), steps)
    }

    fn with_prefix(prefix: String, steps: usize) -> Self {
        let sink = if super::in_notebook() {
            Sink::Notebook(None)
        } else {
            Sink::Terminal { width: 0 }
        };
        let clock: Box<dyn Clock> = Box::new(SystemClock::new());
        let start = clock.now();
        ProgressBar {
            prefix,
            steps,
            step: 0,
            metrics: Vec::new(),
            clock,
            start,
            throttle: Throttle::default(),
            sink,
            drawn: 0,
            dirty: false,
            finished: false,
        }
    }

    /// Uses `clock` for timing and throttling (tests pass a fake clock).
    pub fn with_clock(mut self, clock: impl Clock + 'static) -> Self {
        self.clock = Box::new(clock);
        self.start = self.clock.now();
        self
    }

    /// Records the drawn frames instead of printing them (for tests); see [`Self::frames`].
    pub fn capture(mut self) -> Self {
        self.sink = Sink::Capture(Vec::new());
        self
    }

    /// The frames drawn so far, when capturing.
    pub fn frames(&self) -> &[Frame] {
        match &self.sink {
            Sink::Capture(f) => f,
            _ => &[],
        }
    }

    /// How many times the bar has been drawn.
    pub fn draw_count(&self) -> usize {
        self.drawn
    }

    /// Step `step` (1-based) is done; `metrics` are the running values, e.g. `[("loss", 0.31)]`.
    /// Redraws when the throttle allows, and always at the last step.
    pub fn update<V: Into<f64> + Copy>(&mut self, step: usize, metrics: &[(&str, V)]) {
        self.step = step;
        self.set_metrics(metrics);
        self.dirty = true;
        let last = self.steps > 0 && step >= self.steps;
        if self.throttle.ready(self.clock.now(), last) {
            self.draw();
        }
    }

    /// Ends the bar at its last step with the final `metrics` (merged with the running ones, so
    /// `val_loss` can be added here) and draws the final state.
    pub fn finish<V: Into<f64> + Copy>(&mut self, metrics: &[(&str, V)]) {
        if self.step < self.steps {
            self.step = self.steps;
            self.dirty = true;
        }
        self.set_metrics(metrics);
        // the last step may already be on screen; redraw only when something changed
        if self.dirty || self.drawn == 0 {
            self.throttle.ready(self.clock.now(), true);
            self.draw();
        }
        self.finished = true;
        if let Sink::Terminal { .. } = self.sink {
            println!();
        }
    }

    fn set_metrics<V: Into<f64> + Copy>(&mut self, metrics: &[(&str, V)]) {
        for (name, v) in metrics {
            let v: f64 = (*v).into();
            match self.metrics.iter_mut().find(|(n, _)| n == name) {
                Some(m) if m.1 == v || (m.1.is_nan() && v.is_nan()) => {}
                Some(m) => {
                    m.1 = v;
                    self.dirty = true;
                }
                None => {
                    self.metrics.push((name.to_string(), v));
                    self.dirty = true;
                }
            }
        }
    }

    fn elapsed(&self) -> Duration {
        self.clock.now().saturating_sub(self.start)
    }

    fn filled(&self) -> usize {
        if self.steps == 0 {
            return BAR_WIDTH;
        }
        (self.step * BAR_WIDTH / self.steps).min(BAR_WIDTH)
    }

    /// The timing part: `ETA 3s` while running, `2s 41ms/step` when done.
    fn timing(&self) -> String {
        let elapsed = self.elapsed().as_secs_f64();
        let per_step = elapsed / self.step.max(1) as f64;
        if self.step >= self.steps {
            format!("{:.0}s {}/step", elapsed, format_duration(per_step))
        } else {
            let eta = per_step * (self.steps - self.step) as f64;
            format!("ETA {:.0}s", eta)
        }
    }

    /// The current state as one line of text.
    pub fn text(&self) -> String {
        let filled = self.filled();
        let mut s = String::new();
        if !self.prefix.is_empty() {
            s.push_str(&self.prefix);
            s.push(' ');
        }
        s.push_str(&"━".repeat(filled));
        s.push_str(&"─".repeat(BAR_WIDTH - filled));
        s.push_str(&format!(
            " {}/{} · {}",
            self.step,
            self.steps,
            self.timing()
        ));
        for (name, v) in &self.metrics {
            s.push_str(&format!(" · {name}: {}", format_float(*v)));
        }
        s
    }

    /// The current state as HTML (a coloured bar and the same text).
    pub fn html(&self) -> String {
        let filled = self.filled();
        let mut metrics = String::new();
        for (name, v) in &self.metrics {
            metrics.push_str(&format!(" · {}: {}", escape_html(name), format_float(*v)));
        }
        format!(
            "<div class=\"ferrolab-progress\" style=\"font-family:monospace;white-space:pre\">\
             {}<span style=\"color:#2e7d32\">{}</span><span style=\"color:#bbb\">{}</span> \
             {}/{} · {}{}</div>",
            if self.prefix.is_empty() {
                String::new()
            } else {
                format!("{} ", escape_html(&self.prefix))
            },
            "━".repeat(filled),
            "━".repeat(BAR_WIDTH - filled),
            self.step,
            self.steps,
            self.timing(),
            metrics
        )
    }

    fn draw(&mut self) {
        let at = self.elapsed();
        let update = self.drawn > 0;
        self.drawn += 1;
        self.dirty = false;
        let text = self.text();
        let bundle = super::Bundle(self.mime_bundle());
        match &mut self.sink {
            Sink::Notebook(handle) => match handle {
                Some(h) => h.update(&bundle),
                None => *handle = Some(super::display(&bundle)),
            },
            Sink::Terminal { width } => {
                let line = terminal_line(&text, width);
                let mut out = std::io::stdout().lock();
                let _ = write!(out, "{line}");
                let _ = out.flush();
            }
            Sink::Capture(frames) => frames.push(Frame { update, text, at }),
        }
    }
}

impl ProgressBar {
    /// What evcxr shows for a bar as a cell's last expression: its current state.
    pub fn evcxr_display(&self) {
        super::evcxr_emit(&self.mime_bundle());
    }
}

impl Display for ProgressBar {
    fn mime_bundle(&self) -> MimeBundle {
        vec![
            ("text/plain".into(), self.text()),
            ("text/html".into(), self.html()),
        ]
    }
}

impl Drop for ProgressBar {
    /// A bar dropped with an undrawn state (updates swallowed by the throttle) draws it once, so
    /// the output always ends at the true last state.
    fn drop(&mut self) {
        if self.dirty && !self.finished {
            self.draw();
            if let Sink::Terminal { .. } = self.sink {
                println!();
            }
        }
    }
}

/// What a terminal redraw writes: back to the line start, the text, and spaces over whatever is
/// left of a longer previous line (`width` is its length, updated here).
pub fn terminal_line(text: &str, width: &mut usize) -> String {
    let n = text.chars().count();
    let pad = width.saturating_sub(n);
    *width = n;
    format!("\r{text}{}", " ".repeat(pad))
}

/// `0.0012` s -> `1ms`, `0.00004` -> `40us`, `2.5` -> `2.5s`.
fn format_duration(secs: f64) -> String {
    if secs >= 1.0 {
        format!("{secs:.1}s")
    } else if secs >= 1e-3 {
        format!("{:.0}ms", secs * 1e3)
    } else {
        format!("{:.0}us", secs * 1e6)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttle_allows_one_per_interval_and_forced() {
        let mut t = Throttle::per_second(10.0);
        let ms = Duration::from_millis;
        assert!(t.ready(ms(0), false));
        assert!(!t.ready(ms(50), false));
        assert!(t.ready(ms(100), false));
        assert!(!t.ready(ms(150), false));
        assert!(t.ready(ms(160), true));
        assert!(!t.ready(ms(200), false));
        assert!(t.ready(ms(260), false));
    }

    #[test]
    fn terminal_redraws_overwrite_the_previous_line() {
        let mut w = 0;
        assert_eq!(
            terminal_line("1/10 · loss: 0.5000", &mut w),
            "\r1/10 · loss: 0.5000"
        );
        assert_eq!(
            terminal_line("2/10", &mut w),
            format!("\r2/10{}", " ".repeat(15))
        );
        assert_eq!(w, 4);
    }

    #[test]
    fn durations() {
        assert_eq!(format_duration(0.0012), "1ms");
        assert_eq!(format_duration(0.00004), "40us");
        assert_eq!(format_duration(2.5), "2.5s");
    }
}
