//! Image grids: `[N,H,W]` or `[N,H,W,C]` tensors as one PNG, tiles scaled by whole pixels, with
//! optional captions under each tile (drawn with the built-in font). Image-heavy output is
//! PNG rather than SVG: one pixel per pixel instead of one element per pixel.
//!
//! Layout (in PNG pixels), so tests can find every tile: tile `i` sits in column `i % cols` and
//! row `i / cols`; see [`ImageGrid::tile_origin`].

use super::data::Pixels;
use super::raster::{encode_png, Canvas};
use crate::display::{base64, evcxr_emit, Display, MimeBundle};
use crate::error::{Error, Result};
use crate::tensor::Tensor;

const PAD: u32 = 4;
const TITLE_H: u32 = 22;
const CAPTION_H: u32 = 11;

/// A grid of images with optional captions. Build it with [`image_grid`](super::image_grid).
#[derive(Clone, Debug)]
pub struct ImageGrid {
    px: Pixels,
    cols: usize,
    scale: u32,
    captions: Vec<String>,
    title: Option<String>,
}

impl ImageGrid {
    /// The images of an `[N,H,W]` or `[N,H,W,C]` tensor (C = 1, 3 or 4).
    pub fn new(images: &Tensor) -> Result<ImageGrid> {
        let px = Pixels::from_tensor(images, true)?;
        let scale = 56u32.div_ceil(px.h.max(px.w).max(1) as u32).max(1);
        Ok(ImageGrid {
            cols: px.n.clamp(1, 8),
            px,
            scale,
            captions: Vec::new(),
            title: None,
        })
    }

    /// Tiles per row (default: up to 8).
    pub fn cols(mut self, cols: usize) -> Self {
        self.cols = cols.max(1);
        self
    }
    /// Screen pixels per image pixel (default: tiles about 56 px tall).
    pub fn scale(mut self, scale: u32) -> Self {
        self.scale = scale.max(1);
        self
    }
    /// A caption under each image (e.g. its label, or "7 (pred 1)").
    pub fn captions<S: ToString>(mut self, captions: impl IntoIterator<Item = S>) -> Self {
        self.captions = captions.into_iter().map(|s| s.to_string()).collect();
        self
    }
    /// A title above the grid.
    pub fn title(mut self, title: impl Into<String>) -> Self {
        self.title = Some(title.into());
        self
    }

    pub fn num_images(&self) -> usize {
        self.px.n
    }
    fn rows(&self) -> usize {
        self.px.n.div_ceil(self.cols).max(1)
    }
    fn tile(&self) -> (u32, u32) {
        (self.px.w as u32 * self.scale, self.px.h as u32 * self.scale)
    }
    fn caption_h(&self) -> u32 {
        if self.captions.is_empty() {
            0
        } else {
            CAPTION_H
        }
    }
    fn title_h(&self) -> u32 {
        if self.title.is_some() {
            TITLE_H
        } else {
            0
        }
    }

    /// Size of the PNG in pixels.
    pub fn pixel_size(&self) -> (u32, u32) {
        let (tw, th) = self.tile();
        let cols = self.cols.min(self.px.n).max(1) as u32;
        (
            PAD + cols * (tw + PAD),
            self.title_h() + PAD + self.rows() as u32 * (th + self.caption_h() + PAD),
        )
    }

    /// Top-left PNG pixel of tile `i`; image pixel (y, x) covers `scale` x `scale` pixels from
    /// `(ox + x * scale, oy + y * scale)`.
    pub fn tile_origin(&self, i: usize) -> (u32, u32) {
        let (tw, th) = self.tile();
        let (r, c) = ((i / self.cols) as u32, (i % self.cols) as u32);
        (
            PAD + c * (tw + PAD),
            self.title_h() + PAD + r * (th + self.caption_h() + PAD),
        )
    }

    /// The grid as PNG bytes.
    pub fn to_png(&self) -> Result<Vec<u8>> {
        let (w, h) = self.pixel_size();
        let mut canvas = Canvas::new(w, h);
        if let Some(t) = &self.title {
            canvas.text(t, (PAD as i32, 6), 1, (30, 30, 30));
        }
        let s = self.scale;
        let (tw, th) = self.tile();
        for i in 0..self.px.n {
            let (ox, oy) = self.tile_origin(i);
            for y in 0..self.px.h {
                for x in 0..self.px.w {
                    let [r, g, b] = self.px.get(i, y, x);
                    for dy in 0..s {
                        let row = (oy + y as u32 * s + dy) as usize;
                        for dx in 0..s {
                            let o = (row * w as usize + (ox + x as u32 * s + dx) as usize) * 3;
                            canvas.rgb[o..o + 3].copy_from_slice(&[r, g, b]);
                        }
                    }
                }
            }
            if let Some(cap) = self.captions.get(i) {
                let fit = (tw as usize + 1) / 6;
                let cap: String = cap.chars().take(fit).collect();
                let cw = cap.chars().count() as u32 * 6;
                let cx = ox + tw.saturating_sub(cw) / 2;
                canvas.text(&cap, (cx as i32, (oy + th + 2) as i32), 1, (40, 40, 40));
            }
        }
        encode_png(w, h, &canvas.rgb)
    }

    /// Writes the grid as a PNG file.
    pub fn save(&self, path: impl AsRef<std::path::Path>) -> Result<()> {
        let path = path.as_ref();
        std::fs::write(path, self.to_png()?)
            .map_err(|e| Error::Io(format!("save: writing {}: {e}", path.display())))
    }

    /// Shows the grid now, mid-cell.
    pub fn show(&self) -> crate::display::DisplayHandle {
        crate::display::display(self)
    }

    /// What evcxr shows for a grid as a cell's last expression.
    pub fn evcxr_display(&self) {
        evcxr_emit(&self.mime_bundle());
    }

    fn summary(&self) -> String {
        let (w, h) = self.pixel_size();
        let mut s = format!(
            "<ImageGrid {} images of {}x{} in {} columns, {w}x{h} px",
            self.px.n, self.px.h, self.px.w, self.cols
        );
        if let Some(t) = &self.title {
            s.push_str(&format!(", '{t}'"));
        }
        if !self.captions.is_empty() {
            s.push_str(&format!(": {}", self.captions.join(", ")));
        }
        s.push('>');
        s
    }
}

impl Display for ImageGrid {
    fn mime_bundle(&self) -> MimeBundle {
        let mut b = vec![("text/plain".to_string(), self.summary())];
        match self.to_png() {
            Ok(png) => b.push(("image/png".into(), base64::encode(&png))),
            Err(e) => b[0].1.push_str(&format!(" (PNG failed: {e})")),
        }
        b
    }
}
