//! Builder options of a [`Figure`]: for its last artist (label, colour, marker, ...), its current
//! panel (title, axis labels, log scales, limits, legend) and the whole figure (grid, size).

use super::data::Values;
use super::figure::{Artist, Figure, Panel};
use super::style::{parse_color, Colormap, Marker};

impl Figure {
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
