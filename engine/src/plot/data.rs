//! What plots accept: tensors, slices, vectors and arrays of numbers ([`Values`]), and image
//! tensors turned into 8-bit RGB pixels ([`Pixels`]).

use crate::dtype::DType;
use crate::tensor::Tensor;

/// Anything that is a flat list of numbers: `&Tensor` (any shape, flattened), `&[f32]`,
/// `&Vec<f64>`, `vec![1, 2, 3]`, `[0.5, 0.7]`, ...
pub trait Values {
    fn values(&self) -> Vec<f64>;
}

/// A number type plots accept.
pub trait Number: Copy {
    fn as_f64(self) -> f64;
}
macro_rules! number {
    ($($t:ty),*) => {$(
        impl Number for $t {
            fn as_f64(self) -> f64 { self as f64 }
        }
    )*};
}
number!(f32, f64, i32, i64, u8, u32, u64, usize);

impl<T: Number> Values for [T] {
    fn values(&self) -> Vec<f64> {
        self.iter().map(|v| v.as_f64()).collect()
    }
}
impl<T: Number> Values for Vec<T> {
    fn values(&self) -> Vec<f64> {
        self.as_slice().values()
    }
}
impl<T: Number, const N: usize> Values for [T; N] {
    fn values(&self) -> Vec<f64> {
        self.as_slice().values()
    }
}
impl Values for Tensor {
    fn values(&self) -> Vec<f64> {
        match self.dtype() {
            DType::I64 => self.to_vec::<i64>().into_iter().map(|v| v as f64).collect(),
            _ => self.to_f32_vec().into_iter().map(|v| v as f64).collect(),
        }
    }
}
impl<T: Values + ?Sized> Values for &T {
    fn values(&self) -> Vec<f64> {
        (**self).values()
    }
}

/// A stack of `n` RGB images of `h` x `w`, 8 bits per channel, row-major, pixel-interleaved.
#[derive(Clone, Debug, PartialEq)]
pub struct Pixels {
    pub n: usize,
    pub h: usize,
    pub w: usize,
    pub rgb: Vec<u8>,
}

impl Pixels {
    /// The RGB of pixel (`y`, `x`) of image `i`.
    pub fn get(&self, i: usize, y: usize, x: usize) -> [u8; 3] {
        let o = ((i * self.h + y) * self.w + x) * 3;
        [self.rgb[o], self.rgb[o + 1], self.rgb[o + 2]]
    }

    /// Images from a tensor. `stacked` says whether the first axis counts images:
    /// `[N,H,W]` and `[N,H,W,C]` when stacked, `[H,W]` and `[H,W,C]` when not. C is 1
    /// (grey), 3 (RGB) or 4 (RGBA, composited on white).
    ///
    /// Values map to 0..255 the way matplotlib's `imshow` does for images: floats in [0, 1] are
    /// scaled by 255, integers and floats in [0, 255] are taken as is, anything else is rescaled
    /// from its min..max. Bool is black/white.
    pub fn from_tensor(t: &Tensor, stacked: bool) -> crate::Result<Pixels> {
        let d = t.dims().to_vec();
        let bad = || {
            crate::error::invalid(
                "image",
                format!(
                    "expected {} tensor, got shape {}",
                    if stacked {
                        "an [N,H,W] or [N,H,W,C] (C = 1, 3 or 4)"
                    } else {
                        "an [H,W] or [H,W,C] (C = 1, 3 or 4)"
                    },
                    t.shape()
                ),
            )
        };
        let (n, rest) = if stacked {
            match d.split_first() {
                Some((n, rest)) => (*n, rest.to_vec()),
                None => return Err(bad()),
            }
        } else {
            (1, d.clone())
        };
        let (h, w, c) = match rest.as_slice() {
            [h, w] => (*h, *w, 1),
            [h, w, c] if [1, 3, 4].contains(c) => (*h, *w, *c),
            _ => return Err(bad()),
        };
        let vals: Vec<f64> = match t.dtype() {
            DType::I64 => t
                .try_to_vec::<i64>()?
                .into_iter()
                .map(|v| v as f64)
                .collect(),
            _ => t.try_to_f32_vec()?.into_iter().map(|v| v as f64).collect(),
        };
        let finite = vals.iter().copied().filter(|v| v.is_finite());
        let (lo, hi) = finite.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
        let (lo, hi) = if !lo.is_finite() {
            (0.0, 1.0)
        } else {
            (lo, hi)
        };
        let to_byte: Box<dyn Fn(f64) -> f64> = match t.dtype() {
            DType::Bool => Box::new(|v| v * 255.0),
            DType::I64 => Box::new(|v| v),
            _ if lo >= 0.0 && hi <= 1.0 => Box::new(|v| v * 255.0),
            _ if lo >= 0.0 && hi <= 255.0 => Box::new(|v| v),
            _ => Box::new(move |v| (v - lo) / (hi - lo).max(f64::MIN_POSITIVE) * 255.0),
        };
        let byte = |v: f64| to_byte(v).round().clamp(0.0, 255.0) as u8;
        let mut rgb = Vec::with_capacity(n * h * w * 3);
        for px in vals.chunks(c) {
            match c {
                1 => rgb.extend([byte(px[0]); 3]),
                3 => rgb.extend([byte(px[0]), byte(px[1]), byte(px[2])]),
                _ => {
                    let a = byte(px[3]) as f64 / 255.0;
                    for v in &px[..3] {
                        rgb.push((byte(*v) as f64 * a + 255.0 * (1.0 - a)).round() as u8);
                    }
                }
            }
        }
        Ok(Pixels { n, h, w, rgb })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tensor::create::tensor;

    #[test]
    fn values_from_everything() {
        assert_eq!(vec![1, 2].values(), vec![1.0, 2.0]);
        assert_eq!([0.5f32].values(), vec![0.5]);
        let t = tensor([[1.0, 2.0]]);
        assert_eq!(t.values(), vec![1.0, 2.0]);
    }

    #[test]
    fn grey_floats_in_unit_range_scale_by_255() {
        let p = Pixels::from_tensor(&tensor([[0.0, 1.0], [0.5, 0.25]]), false).unwrap();
        assert_eq!((p.n, p.h, p.w), (1, 2, 2));
        assert_eq!(p.get(0, 0, 1), [255; 3]);
        assert_eq!(p.get(0, 1, 0), [128; 3]);
    }
}
