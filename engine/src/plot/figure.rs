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
use super::style::{parse_color, Colormap, Marker};
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

    // ---- the last artist ----------------------------------------------------------------------

    fn last(&mut self) -> Option<&mut Artist> {
        self.panel().artists.last_mut()
    }

    /// Names the last artist in the legend.
    pub fn label(mut self, label: impl Into<String>) -> Figure {
        let l = Some(label.into());
        match self.last() {
            Some(Artist::Line(a)) => a.label = l,
            Some(Artist::Scatter(a)) => a.label = l,
            Some(Artist::Bars(a)) => a.label = l,
            Some(Artist::Ref(a)) => a.label = l,
            _ => {}
        }
        self
    }

    /// Colours the last artist: `"red"`, `"C2"`, `"tab:green"`, `"#1f77b4"`.
    #[track_caller]
    pub fn color(mut self, color: &str) -> Figure {
        let c = Some(parse_color(color).unwrap_or_else(|| {
            panic!("color: unknown colour {color:?}; try \"red\", \"C1\" or \"#1f77b4\"")
        }));
        match self.last() {
            Some(Artist::Line(a)) => a.color = c,
            Some(Artist::Scatter(a)) => a.color = c,
            Some(Artist::Bars(a)) => a.color = c,
            Some(Artist::Ref(a)) => a.color = c,
            _ => {}
        }
        self
    }

    /// Puts markers on the last line, or changes the scatter marker: `o s ^ x + .`
    #[track_caller]
    pub fn marker(mut self, marker: &str) -> Figure {
        let m = Marker::parse(marker)
            .unwrap_or_else(|| panic!("marker: unknown marker {marker:?}; use one of o s ^ x + ."));
        match self.last() {
            Some(Artist::Line(a)) => a.marker = Some(m),
            Some(Artist::Scatter(a)) => a.marker = m,
            _ => {}
        }
        self
    }

    /// Draws the last line dashed.
    pub fn dashed(mut self) -> Figure {
        if let Some(Artist::Line(a)) = self.last() {
            a.dashed = true;
        }
        self
    }

    /// Line width (pixels) of the last line, or point radius of the last scatter.
    pub fn linewidth(mut self, w: u32) -> Figure {
        match self.last() {
            Some(Artist::Line(a)) => a.width = w.max(1),
            Some(Artist::Scatter(a)) => a.size = w.max(1),
            _ => {}
        }
        self
    }

    /// Colours the last scatter's points by class (one integer label per point), with a legend
    /// entry per class.
    #[track_caller]
    pub fn classes(mut self, labels: impl Values) -> Figure {
        let labels: Vec<i64> = labels.values().into_iter().map(|v| v as i64).collect();
        if let Some(Artist::Scatter(a)) = self.last() {
            if labels.len() != a.x.len() {
                panic!(
                    "classes: {} labels for {} points; give one class per point",
                    labels.len(),
                    a.x.len()
                );
            }
            a.classes = Some(labels);
        }
        self
    }

    /// Names the classes of the last scatter (`names[k]` for class k) in the legend.
    pub fn class_names<S: ToString>(mut self, names: impl IntoIterator<Item = S>) -> Figure {
        let names = names.into_iter().map(|s| s.to_string()).collect();
        if let Some(Artist::Scatter(a)) = self.last() {
            a.class_names = names;
        }
        self
    }

    /// Colour map of the last heatmap: `viridis`, `magma`, `gray`, `Blues`, `Reds`, `coolwarm`.
    #[track_caller]
    pub fn cmap(mut self, name: &str) -> Figure {
        let c = Colormap::parse(name).unwrap_or_else(|| {
            panic!("cmap: unknown colour map {name:?}; use viridis, magma, gray, Blues, Reds or coolwarm")
        });
        if let Some(Artist::Heatmap(h)) = self.last() {
            h.cmap = c;
        }
        self
    }

    /// Prints each cell's value in the last heatmap (for confusion matrices).
    pub fn annotate(mut self) -> Figure {
        if let Some(Artist::Heatmap(h)) = self.last() {
            h.annotate = true;
        }
        self
    }

    /// Fixes the colour range of the last heatmap (matplotlib's `vmin`, `vmax`).
    pub fn vrange(mut self, vmin: f64, vmax: f64) -> Figure {
        if let Some(Artist::Heatmap(h)) = self.last() {
            h.range = Some((vmin, vmax));
        }
        self
    }

    /// Names the columns (`x`) and rows (`y`) of the last heatmap, e.g. class names or tokens.
    pub fn ticklabels<S: ToString, T: ToString>(
        mut self,
        x: impl IntoIterator<Item = S>,
        y: impl IntoIterator<Item = T>,
    ) -> Figure {
        let x: Vec<String> = x.into_iter().map(|s| s.to_string()).collect();
        let y: Vec<String> = y.into_iter().map(|s| s.to_string()).collect();
        if let Some(Artist::Heatmap(h)) = self.last() {
            h.xticks = Some(x);
            h.yticks = Some(y);
        }
        self
    }

    // ---- the current panel --------------------------------------------------------------------

    /// Title of the current panel.
    pub fn title(mut self, title: impl Into<String>) -> Figure {
        self.panel().title = Some(title.into());
        self
    }
    pub fn xlabel(mut self, label: impl Into<String>) -> Figure {
        self.panel().xlabel = Some(label.into());
        self
    }
    pub fn ylabel(mut self, label: impl Into<String>) -> Figure {
        self.panel().ylabel = Some(label.into());
        self
    }
    /// `"log"` or `"linear"`.
    #[track_caller]
    pub fn xscale(mut self, scale: &str) -> Figure {
        self.panel().xlog = is_log(scale);
        self
    }
    /// `"log"` or `"linear"`.
    #[track_caller]
    pub fn yscale(mut self, scale: &str) -> Figure {
        self.panel().ylog = is_log(scale);
        self
    }
    pub fn xlim(mut self, lo: f64, hi: f64) -> Figure {
        self.panel().xlim = Some((lo, hi));
        self
    }
    pub fn ylim(mut self, lo: f64, hi: f64) -> Figure {
        self.panel().ylim = Some((lo, hi));
        self
    }
    /// Shows or hides the legend (by default it shows when any artist has a label).
    pub fn legend(mut self, show: bool) -> Figure {
        self.panel().legend = Some(show);
        self
    }
    /// Shows or hides the grid lines (shown by default).
    pub fn grid_lines(mut self, show: bool) -> Figure {
        self.panel().no_grid = !show;
        self
    }

    /// Starts a new panel; later calls draw into it.
    pub fn subplot(mut self) -> Figure {
        self.panels.push(Panel::default());
        self
    }

    // ---- the whole figure ---------------------------------------------------------------------

    /// Columns of the panel grid (default: up to 3 panels side by side).
    pub fn cols(mut self, cols: usize) -> Figure {
        self.cols = Some(cols.max(1));
        self
    }
    /// Title above all panels (`plt.suptitle`).
    pub fn suptitle(mut self, title: impl Into<String>) -> Figure {
        self.title = Some(title.into());
        self
    }
    /// Size in pixels (default 640x400 for one panel, 400x300 per panel in a grid).
    pub fn size(mut self, width: u32, height: u32) -> Figure {
        self.size = Some((width.max(50), height.max(50)));
        self
    }

    /// Number of panels.
    pub fn num_panels(&self) -> usize {
        self.panels.len()
    }

    /// Grid shape (rows, cols).
    pub(crate) fn layout(&self) -> (usize, usize) {
        let n = self.panels.len();
        let cols = self.cols.unwrap_or(n.min(3)).clamp(1, n.max(1));
        (n.div_ceil(cols), cols)
    }

    /// Size in pixels.
    pub fn pixel_size(&self) -> (u32, u32) {
        if let Some(s) = self.size {
            return s;
        }
        let (rows, cols) = self.layout();
        let title = if self.title.is_some() { 30 } else { 0 };
        if rows * cols == 1 {
            (640, 400 + title)
        } else {
            (400 * cols as u32, 300 * rows as u32 + title)
        }
    }
}

#[track_caller]
fn is_log(scale: &str) -> bool {
    match scale {
        "log" => true,
        "linear" => false,
        other => panic!("scale: unknown scale {other:?}; use \"log\" or \"linear\""),
    }
}
