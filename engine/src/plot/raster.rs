//! A small rasteriser: a plotters drawing backend over an RGB buffer, encoded with the `png`
//! crate. It exists so `Figure::save("x.png")` and image grids need no system fonts and no
//! bitmap crates: plotters' default rasteriser draws lines, rectangles, circles and polygons
//! through `draw_pixel`, and text is drawn here with the built-in 5x7 font (`font.rs`).
//!
//! It is deliberately plain: no anti-aliasing, text scaled by whole pixels. The notebook shows
//! SVG, where the browser renders text properly; PNG is for files and image-heavy output.

use plotters::prelude::*;
use plotters_backend::text_anchor::{HPos, VPos};
use plotters_backend::{
    BackendColor, BackendCoord, BackendStyle, BackendTextStyle, DrawingErrorKind,
};

use super::font::{glyph, MISSING};
use crate::error::{Error, Result};

/// An RGB image being drawn, white to start with.
pub(crate) struct Canvas {
    pub w: u32,
    pub h: u32,
    pub rgb: Vec<u8>,
}

impl Canvas {
    pub fn new(w: u32, h: u32) -> Canvas {
        Canvas {
            w,
            h,
            rgb: vec![255; w as usize * h as usize * 3],
        }
    }

    /// A plotters backend drawing on this canvas.
    pub fn backend(&mut self) -> RasterBackend<'_> {
        RasterBackend { canvas: self }
    }

    /// Blends `rgb` over pixel (`x`, `y`) with opacity `alpha`; outside pixels are ignored.
    pub fn blend(&mut self, x: i32, y: i32, rgb: (u8, u8, u8), alpha: f64) {
        if x < 0 || y < 0 || x >= self.w as i32 || y >= self.h as i32 || alpha <= 0.0 {
            return;
        }
        let o = (y as usize * self.w as usize + x as usize) * 3;
        let a = alpha.min(1.0);
        for (k, c) in [rgb.0, rgb.1, rgb.2].into_iter().enumerate() {
            let old = self.rgb[o + k] as f64;
            self.rgb[o + k] = (old + (c as f64 - old) * a).round() as u8;
        }
    }

    /// Draws `text` with its top-left corner at (`x`, `y`), `scale` screen pixels per font pixel.
    pub fn text(&mut self, text: &str, (x, y): (i32, i32), scale: i32, rgb: (u8, u8, u8)) {
        for (i, c) in text.chars().enumerate() {
            let g = glyph(c).unwrap_or(MISSING);
            for (row, bits) in g.iter().enumerate() {
                for col in 0..5 {
                    if bits >> (4 - col) & 1 == 1 {
                        for sy in 0..scale {
                            for sx in 0..scale {
                                let px = x + (i as i32 * 6 + col) * scale + sx;
                                let py = y + row as i32 * scale + sy;
                                self.blend(px, py, rgb, 1.0);
                            }
                        }
                    }
                }
            }
        }
    }

    /// The canvas as PNG bytes.
    pub fn to_png(&self) -> Result<Vec<u8>> {
        encode_png(self.w, self.h, &self.rgb)
    }
}

/// Encodes 8-bit RGB pixels (row-major) as a PNG file.
pub fn encode_png(w: u32, h: u32, rgb: &[u8]) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, w, h);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        let err = |e: png::EncodingError| Error::Io(format!("png: {e}"));
        let mut writer = enc.write_header().map_err(err)?;
        writer.write_image_data(rgb).map_err(err)?;
    }
    Ok(out)
}

/// Font pixels per screen pixel for a font size: 1 up to 15 px, 2 up to 25 px, ...
pub(crate) fn text_scale(size: f64) -> i32 {
    (((size + 4.0) / 10.0).floor() as i32).max(1)
}

/// The plotters backend over a [`Canvas`].
pub(crate) struct RasterBackend<'a> {
    canvas: &'a mut Canvas,
}

impl DrawingBackend for RasterBackend<'_> {
    type ErrorType = std::io::Error;

    fn get_size(&self) -> (u32, u32) {
        (self.canvas.w, self.canvas.h)
    }
    fn ensure_prepared(&mut self) -> std::result::Result<(), DrawingErrorKind<Self::ErrorType>> {
        Ok(())
    }
    fn present(&mut self) -> std::result::Result<(), DrawingErrorKind<Self::ErrorType>> {
        Ok(())
    }
    fn draw_pixel(
        &mut self,
        (x, y): BackendCoord,
        color: BackendColor,
    ) -> std::result::Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.canvas.blend(x, y, color.rgb, color.alpha);
        Ok(())
    }

    fn estimate_text_size<TStyle: BackendTextStyle>(
        &self,
        text: &str,
        style: &TStyle,
    ) -> std::result::Result<(u32, u32), DrawingErrorKind<Self::ErrorType>> {
        let s = text_scale(style.size());
        let n = text.chars().count() as i32;
        Ok((((n * 6 - 1).max(0) * s) as u32, (7 * s) as u32))
    }

    fn draw_text<TStyle: BackendTextStyle>(
        &mut self,
        text: &str,
        style: &TStyle,
        pos: BackendCoord,
    ) -> std::result::Result<(), DrawingErrorKind<Self::ErrorType>> {
        let color = style.color();
        if color.alpha == 0.0 {
            return Ok(());
        }
        let s = text_scale(style.size());
        let (w, h) = self.estimate_text_size(text, style)?;
        let (w, h) = (w as i32, h as i32);
        let dx = match style.anchor().h_pos {
            HPos::Left => 0,
            HPos::Center => -w / 2,
            HPos::Right => -w,
        };
        let dy = match style.anchor().v_pos {
            VPos::Top => 0,
            VPos::Center => -h / 2,
            VPos::Bottom => -h,
        };
        let trans = style.transform();
        for (i, c) in text.chars().enumerate() {
            let g = glyph(c).unwrap_or(MISSING);
            for (row, bits) in g.iter().enumerate() {
                for col in 0..5 {
                    if bits >> (4 - col) & 1 == 0 {
                        continue;
                    }
                    for sy in 0..s {
                        for sx in 0..s {
                            let lx = dx + (i as i32 * 6 + col) * s + sx;
                            let ly = dy + row as i32 * s + sy;
                            let (tx, ty) = trans.transform(lx, ly);
                            self.canvas
                                .blend(pos.0 + tx, pos.1 + ty, color.rgb, color.alpha);
                        }
                    }
                }
            }
        }
        Ok(())
    }

    fn draw_rect<S: BackendStyle>(
        &mut self,
        upper_left: BackendCoord,
        bottom_right: BackendCoord,
        style: &S,
        fill: bool,
    ) -> std::result::Result<(), DrawingErrorKind<Self::ErrorType>> {
        if !fill {
            let (a, b) = (upper_left, bottom_right);
            for (p, q) in [
                (a, (b.0, a.1)),
                ((b.0, a.1), b),
                (b, (a.0, b.1)),
                ((a.0, b.1), a),
            ] {
                self.draw_line(p, q, style)?;
            }
            return Ok(());
        }
        let c = style.color();
        let (x0, x1) = (
            upper_left.0.min(bottom_right.0),
            upper_left.0.max(bottom_right.0),
        );
        let (y0, y1) = (
            upper_left.1.min(bottom_right.1),
            upper_left.1.max(bottom_right.1),
        );
        for y in y0..=y1 {
            for x in x0..=x1 {
                self.canvas.blend(x, y, c.rgb, c.alpha);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_and_rects_land_on_the_canvas() {
        let mut c = Canvas::new(40, 20);
        c.text("1", (0, 0), 1, (0, 0, 0));
        // '1' has its stem in column 2 on every row but the last
        assert_eq!(&c.rgb[(2 * 40 + 2) * 3..(2 * 40 + 2) * 3 + 3], &[0, 0, 0]);
        {
            let root = c.backend().into_drawing_area();
            root.draw(&Rectangle::new([(30, 10), (32, 12)], RED.filled()))
                .unwrap();
        }
        assert_eq!(
            &c.rgb[(11 * 40 + 31) * 3..(11 * 40 + 31) * 3 + 3],
            &[255, 0, 0]
        );
        let png = c.to_png().unwrap();
        assert_eq!(&png[1..4], b"PNG");
    }
}
