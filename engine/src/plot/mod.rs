//! Inline plots on plotters' SVG backend, with matplotlib's and Keras's names.
//!
//! ```
//! use ferrolab::prelude::*;
//! let x = linspace(0.0, 6.28, 50);
//! let fig = plot::plot(&x, &x.sin()).label("sin").marker("o")
//!     .plot(&x, &x.cos()).label("cos").dashed()
//!     .title("Waves").xlabel("x").ylabel("y");
//! fig.save(std::env::temp_dir().join("waves.svg")).unwrap();
//! ```
//!
//! - [`Figure`] (`figure.rs`, options in `options.rs`): panels and artists, built by chaining; lines with markers and a
//!   legend, scatter coloured by class, histograms, bars, heatmaps with a colour bar, images,
//!   reference lines, titles, axis labels, log axes, subplot grids.
//! - `render.rs` draws a figure with plotters (`heatmap.rs` its heatmaps); `output.rs` turns it into SVG (the notebook, via
//!   `evcxr_display` or `.show()`), or PNG and files (`.save("x.png")`) through `raster.rs` and
//!   its built-in font (`font.rs`): no system fonts anywhere.
//! - [`ImageGrid`] (`image.rs`): many small images with captions, as one PNG.
//! - [`LivePlot`] (`live.rs`): a chart that redraws in place while training runs.
//! - `data.rs`: what plots accept ([`Values`]: tensors, slices, vectors) and image pixels.

mod data;
mod figure;
mod font;
mod heatmap;
mod image;
mod live;
mod options;
mod output;
mod raster;
mod render;
pub mod style;

pub use data::{Pixels, Values};
pub use figure::Figure;
pub use image::ImageGrid;
pub use live::LivePlot;
pub use raster::encode_png;

use crate::tensor::Tensor;

/// A line through (`x`, `y`) (`plt.plot(x, y)`).
#[track_caller]
pub fn plot(x: impl Values, y: impl Values) -> Figure {
    Figure::new().plot(x, y)
}

/// A line through `y` at x = 0, 1, 2, ... (`plt.plot(y)`).
pub fn line(y: impl Values) -> Figure {
    Figure::new().line(y)
}

/// Points at (`x`, `y`); colour them by class with `.classes(&labels)`.
#[track_caller]
pub fn scatter(x: impl Values, y: impl Values) -> Figure {
    Figure::new().scatter(x, y)
}

/// A histogram of `data` in `bins` equal bins.
pub fn hist(data: impl Values, bins: usize) -> Figure {
    Figure::new().hist(data, bins)
}

/// A bar chart, one bar per label.
#[track_caller]
pub fn bar<S: ToString>(labels: impl IntoIterator<Item = S>, heights: impl Values) -> Figure {
    Figure::new().bar(labels, heights)
}

/// A 2-D tensor as a heatmap with a colour bar (confusion matrices, attention maps).
#[track_caller]
pub fn heatmap(m: &Tensor) -> Figure {
    Figure::new().heatmap(m)
}

/// One image from an `[H,W]` or `[H,W,C]` tensor.
#[track_caller]
pub fn imshow(img: &Tensor) -> Figure {
    Figure::new().imshow(img)
}

/// A grid of images from an `[N,H,W]` or `[N,H,W,C]` tensor, shown as one PNG.
#[track_caller]
pub fn image_grid(images: &Tensor) -> ImageGrid {
    ImageGrid::new(images).unwrap_or_else(|e| panic!("image_grid: {e}"))
}

/// The panels of `figures` side by side, `cols` per row (matplotlib's `subplots`).
pub fn subplots(cols: usize, figures: impl IntoIterator<Item = Figure>) -> Figure {
    Figure::grid(cols, figures)
}
