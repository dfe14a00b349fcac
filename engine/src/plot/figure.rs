//! `Figure`: what a plot is made of, and the builder methods that make it.
//!
//! A figure is a grid of panels (matplotlib's axes); each panel holds artists: lines, scatter
//! points, bars, reference lines, a heatmap or an image. Builder methods act on the current (last)
//! panel and its last artist, so a chart reads left to right:
//!
//! ```
//! use ferrolab::plot::Figure;
//! let loss = [0.9, 0.5, 0.3, 0.2];
//! let val = [1.0, 0.6, 0.45, 0.4];
//! let fig = Figure::new()
//!     .line(&loss).label("loss").marker("o")
//!     .line(&val).label("val_loss").dashed()
//!     .axhline(0.25).label("target")
//!     .title("Training").xlabel("epoch").ylabel("loss").yscale("log");
//! assert!(fig.to_svg().starts_with("<svg"));
//! ```
//!
//! `.subplot()` starts a new panel; [`Figure::grid`] lays out several figures' panels. Drawing
//! lives in `render.rs`; output (display, save) in `output.rs`.

use plotters::style::RGBColor;

use super::data::{Pixels, Values};
use super::style::{Colormap, Marker};
use crate::tensor::Tensor;

#[derive(Clone, Debug)]
pub(crate) struct Line {
    pub x: Vec<f64>,
    pub y: Vec<f64>,
    pub label: Option<String>,
    pub color: Option<RGBColor>,
    pub marker: Option<Marker>,
    pub dashed: bool,
    pub width: u32,
}

#[derive(Clone, Debug)]
pub(crate) struct Scatter {
    pub x: Vec<f64>,
    pub y: Vec<f64>,
    pub classes: Option<Vec<i64>>,
    pub class_names: Vec<String>,
    pub label: Option<String>,
    pub color: Option<RGBColor>,
    pub marker: Marker,
    pub size: u32,
}

#[derive(Clone, Debug)]
pub(crate) struct Bars {
    /// Left edge and width of each bar.
    pub left: Vec<f64>,
    pub width: Vec<f64>,
    pub height: Vec<f64>,
    /// Category names under bar centres (bar charts); None for histograms.
    pub categories: Option<Vec<String>>,
    pub label: Option<String>,
    pub color: Option<RGBColor>,
}

#[derive(Clone, Debug)]
pub(crate) struct RefLine {
    pub horizontal: bool,
    pub value: f64,
    pub label: Option<String>,
    pub color: Option<RGBColor>,
}

#[derive(Clone, Debug)]
pub(crate) struct Heatmap {
    pub rows: usize,
    pub cols: usize,
    pub values: Vec<f64>,
    pub cmap: Colormap,
    pub annotate: bool,
    pub range: Option<(f64, f64)>,
    pub xticks: Option<Vec<String>>,
    pub yticks: Option<Vec<String>>,
}

#[derive(Clone, Debug)]
pub(crate) enum Artist {
    Line(Line),
    Scatter(Scatter),
    Bars(Bars),
    Ref(RefLine),
    Heatmap(Heatmap),
    Image(Pixels),
}

/// One panel of a figure (matplotlib's `Axes`).
#[derive(Clone, Debug, Default)]
pub(crate) struct Panel {
    pub artists: Vec<Artist>,
    pub title: Option<String>,
    pub xlabel: Option<String>,
    pub ylabel: Option<String>,
    pub xlog: bool,
    pub ylog: bool,
    pub xlim: Option<(f64, f64)>,
    pub ylim: Option<(f64, f64)>,
    pub legend: Option<bool>,
    pub no_grid: bool,
}

/// A figure: a grid of panels, shown inline as SVG. See the module docs.
#[derive(Clone, Debug)]
pub struct Figure {
    pub(crate) panels: Vec<Panel>,
    pub(crate) cols: Option<usize>,
    pub(crate) title: Option<String>,
    pub(crate) size: Option<(u32, u32)>,
}

impl Default for Figure {
    fn default() -> Self {
        Figure::new()
    }
}

#[track_caller]
fn same_len(op: &str, x: &[f64], y: &[f64]) {
    if x.len() != y.len() {
        panic!(
            "{op}: x has {} values but y has {}; pass one x per y (or use .line(y) for x = 0, 1, 2, ...)",
            x.len(),
            y.len()
        );
    }
}

impl Figure {
    /// An empty figure with one panel.
    pub fn new() -> Figure {
        Figure {
            panels: vec![Panel::default()],
            cols: None,
            title: None,
            size: None,
        }
    }

    /// The panels of `figures` in a grid `cols` wide (matplotlib's `subplots`).
    pub fn grid(cols: usize, figures: impl IntoIterator<Item = Figure>) -> Figure {
        let mut panels = Vec::new();
        for f in figures {
            panels.extend(f.panels);
        }
        if panels.is_empty() {
            panels.push(Panel::default());
        }
        Figure {
            panels,
            cols: Some(cols.max(1)),
            title: None,
            size: None,
        }
    }

    pub(crate) fn panel(&mut self) -> &mut Panel {
        self.panels
            .last_mut()
            .expect("a figure has at least one panel")
    }

    fn push(mut self, a: Artist) -> Figure {
        self.panel().artists.push(a);
        self
    }

    // ---- artists ------------------------------------------------------------------------------

    /// A line through (`x`, `y`), like `plt.plot(x, y)`.
    #[track_caller]
    pub fn plot(self, x: impl Values, y: impl Values) -> Figure {
        let (x, y) = (x.values(), y.values());
        same_len("plot", &x, &y);
        self.push(Artist::Line(Line {
            x,
            y,
            label: None,
            color: None,
            marker: None,
            dashed: false,
            width: 2,
        }))
    }

    /// A line through `y` at x = 0, 1, 2, ... (`plt.plot(y)`).
    pub fn line(self, y: impl Values) -> Figure {
        let y = y.values();
        let x = (0..y.len()).map(|i| i as f64).collect::<Vec<_>>();
        self.plot(x, y)
    }

    /// Points at (`x`, `y`), like `plt.scatter(x, y)`. Colour them by class with `.classes(..)`.
    #[track_caller]
    pub fn scatter(self, x: impl Values, y: impl Values) -> Figure {
        let (x, y) = (x.values(), y.values());
        same_len("scatter", &x, &y);
        self.push(Artist::Scatter(Scatter {
            x,
            y,
            classes: None,
            class_names: Vec::new(),
            label: None,
            color: None,
            marker: Marker::Circle,
            size: 3,
        }))
    }

    /// A histogram of `data` in `bins` equal bins (`plt.hist(data, bins)`).
    pub fn hist(self, data: impl Values, bins: usize) -> Figure {
        let data: Vec<f64> = data
            .values()
            .into_iter()
            .filter(|v| v.is_finite())
            .collect();
        let bins = bins.max(1);
        let lo = data.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = data.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let (lo, hi) = match (lo.is_finite(), hi > lo) {
            (false, _) => (0.0, 1.0),
            (true, false) => (lo - 0.5, lo + 0.5),
            _ => (lo, hi),
        };
        let w = (hi - lo) / bins as f64;
        let mut counts = vec![0.0; bins];
        for v in &data {
            let i = (((v - lo) / w) as usize).min(bins - 1);
            counts[i] += 1.0;
        }
        self.push(Artist::Bars(Bars {
            left: (0..bins).map(|i| lo + i as f64 * w).collect(),
            width: vec![w; bins],
            height: counts,
            categories: None,
            label: None,
            color: None,
        }))
    }

    /// A bar per category (`plt.bar(labels, heights)`).
    #[track_caller]
    pub fn bar<S: ToString>(
        self,
        labels: impl IntoIterator<Item = S>,
        heights: impl Values,
    ) -> Figure {
        let labels: Vec<String> = labels.into_iter().map(|s| s.to_string()).collect();
        let heights = heights.values();
        if labels.len() != heights.len() {
            panic!(
                "bar: {} labels but {} heights; give one label per bar",
                labels.len(),
                heights.len()
            );
        }
        let n = heights.len();
        self.push(Artist::Bars(Bars {
            left: (0..n).map(|i| i as f64 - 0.4).collect(),
            width: vec![0.8; n],
            height: heights,
            categories: Some(labels),
            label: None,
            color: None,
        }))
    }

    /// A horizontal reference line at `y` (`plt.axhline`).
    pub fn axhline(self, y: f64) -> Figure {
        self.push(Artist::Ref(RefLine {
            horizontal: true,
            value: y,
            label: None,
            color: None,
        }))
    }

    /// A vertical reference line at `x` (`plt.axvline`).
    pub fn axvline(self, x: f64) -> Figure {
        self.push(Artist::Ref(RefLine {
            horizontal: false,
            value: x,
            label: None,
            color: None,
        }))
    }

    /// A 2-D tensor as coloured cells with a colour bar: confusion matrices, attention maps.
    /// Row 0 is at the top. Add `.annotate()` to print the values in the cells.
    #[track_caller]
    pub fn heatmap(self, m: &Tensor) -> Figure {
        let d = m.dims();
        let (rows, cols) = match d {
            [r, c] => (*r, *c),
            [c] => (1, *c),
            _ => panic!(
                "heatmap: expected a rank-2 tensor, got shape {}; e.g. attention[0] for one head",
                m.shape()
            ),
        };
        self.push(Artist::Heatmap(Heatmap {
            rows,
            cols,
            values: m.values(),
            cmap: Colormap::Viridis,
            annotate: false,
            range: None,
            xticks: None,
            yticks: None,
        }))
    }

    /// An image from an `[H,W]` (grey) or `[H,W,C]` (C = 3 or 4) tensor (`plt.imshow`).
    #[track_caller]
    pub fn imshow(self, img: &Tensor) -> Figure {
        let p = Pixels::from_tensor(img, false).unwrap_or_else(|e| panic!("imshow: {e}"));
        self.push(Artist::Image(p))
    }
}
