//! Getting a [`Figure`] out: SVG text, PNG bytes, files, and the notebook (inline as
//! image/svg+xml with a text/plain summary as fallback).

use plotters::prelude::*;

use super::figure::{Artist, Figure};
use super::render::draw_figure;
use crate::display::{evcxr_emit, Display, MimeBundle};
use crate::error::{Error, Result};

impl Figure {
    /// The figure as an SVG document. Text is left to the viewer's fonts (no fonts needed here).
    pub fn to_svg(&self) -> String {
        let size = self.pixel_size();
        let mut svg = String::new();
        {
            let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
            if let Err(msg) = draw_figure(self, &root) {
                drop(root);
                return error_svg(size, &msg);
            }
            let _ = root.present();
        }
        svg
    }

    /// The figure as PNG bytes, drawn by the engine's own rasteriser (built-in bitmap font).
    pub fn to_png(&self) -> Result<Vec<u8>> {
        let (w, h) = self.pixel_size();
        let mut canvas = super::raster::Canvas::new(w, h);
        {
            let root = canvas.backend().into_drawing_area();
            draw_figure(self, &root).map_err(|m| Error::Msg(format!("plot: {m}")))?;
        }
        canvas.to_png()
    }

    /// Writes the figure to `path`: SVG for `.svg`, PNG for `.png`.
    pub fn save(&self, path: impl AsRef<std::path::Path>) -> Result<()> {
        let path = path.as_ref();
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        let bytes = match ext.as_deref() {
            Some("svg") => self.to_svg().into_bytes(),
            Some("png") => self.to_png()?,
            _ => {
                return Err(Error::Io(format!(
                    "save: cannot tell the format of {}; end the name with .svg or .png",
                    path.display()
                )))
            }
        };
        std::fs::write(path, bytes)
            .map_err(|err| Error::Io(format!("save: writing {}: {err}", path.display())))
    }

    /// Shows the figure now, mid-cell (`plt.show()`).
    pub fn show(&self) -> crate::display::DisplayHandle {
        crate::display::display(self)
    }

    /// What evcxr shows for a figure as a cell's last expression.
    pub fn evcxr_display(&self) {
        evcxr_emit(&self.mime_bundle());
    }

    /// A one-paragraph text description, the text/plain fallback of the figure.
    pub fn summary(&self) -> String {
        let (w, h) = self.pixel_size();
        let mut s = format!("<Figure {w}x{h}");
        if let Some(t) = &self.title {
            s.push_str(&format!(" '{t}'"));
        }
        s.push_str(&format!(
            " with {} panel{}>",
            self.panels.len(),
            if self.panels.len() == 1 { "" } else { "s" }
        ));
        for (i, p) in self.panels.iter().enumerate() {
            let mut parts = Vec::new();
            for a in &p.artists {
                parts.push(match a {
                    Artist::Line(l) => named("line", &l.label, l.y.len(), "points"),
                    Artist::Scatter(sc) => named("scatter", &sc.label, sc.x.len(), "points"),
                    Artist::Bars(b) => named("bars", &b.label, b.height.len(), "bars"),
                    Artist::Ref(r) => format!(
                        "{} at {}",
                        if r.horizontal { "hline" } else { "vline" },
                        r.value
                    ),
                    Artist::Heatmap(hm) => format!("heatmap {}x{}", hm.rows, hm.cols),
                    Artist::Image(px) => format!("image {}x{}", px.h, px.w),
                });
            }
            s.push_str(&format!(
                "\n  [{i}] {}: {}",
                p.title.as_deref().unwrap_or("(untitled)"),
                if parts.is_empty() {
                    "empty".to_string()
                } else {
                    parts.join(", ")
                }
            ));
        }
        s
    }
}

fn named(kind: &str, label: &Option<String>, n: usize, unit: &str) -> String {
    match label {
        Some(l) => format!("{kind} '{l}' ({n} {unit})"),
        None => format!("{kind} ({n} {unit})"),
    }
}

/// A small SVG that says what went wrong, so a failed plot still shows something useful.
fn error_svg((w, h): (u32, u32), msg: &str) -> String {
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\">\
         <text x=\"10\" y=\"20\" font-family=\"sans-serif\" font-size=\"14\" fill=\"#b00\">\
         plot error: {}</text></svg>",
        crate::display::escape_html(msg)
    )
}

/// Above this many image pixels and heatmap cells a figure is shown as PNG: one SVG element per
/// cell would make a multi-megabyte SVG.
const SVG_MAX_CELLS: usize = 40_000;

impl Figure {
    /// Image pixels and heatmap cells in the figure.
    fn cells(&self) -> usize {
        let per_artist = |a: &Artist| match a {
            Artist::Image(px) => px.h * px.w,
            Artist::Heatmap(h) => h.rows * h.cols,
            _ => 0,
        };
        self.panels
            .iter()
            .flat_map(|p| p.artists.iter())
            .map(per_artist)
            .sum()
    }
}

impl Display for Figure {
    /// text/plain and image/svg+xml; image/png instead of SVG for image-heavy figures.
    fn mime_bundle(&self) -> MimeBundle {
        let mut b = vec![("text/plain".to_string(), self.summary())];
        if self.cells() > SVG_MAX_CELLS {
            if let Ok(png) = self.to_png() {
                b.push(("image/png".into(), crate::display::base64::encode(&png)));
                return b;
            }
        }
        b.push(("image/svg+xml".into(), self.to_svg()));
        b
    }
}

impl std::fmt::Display for Figure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.summary())
    }
}
