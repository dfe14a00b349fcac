//! im2col / col2im for conv2d and pooling, NHWC.
//!
//! x: (N,H,W,C) -> cols: (N,OH,OW,KH,KW,C), where
//! cols[n,oy,ox,ky,kx,c] = x[n, oy*sh + ky*dh - pt, ox*sw + kx*dw - pl, c] (pad_value outside).
//! col2im is the adjoint: it adds every patch element back to the input position it came from.

use super::{s_dtype_pub as s_dtype, CpuStorage};
use crate::error::Result;
use crate::shape::Layout;
use crate::storage::PatchParams;

/// Input coordinate of a kernel tap, or None when it falls in the padding.
#[inline]
fn src_pos(
    o: usize,
    k: usize,
    stride: usize,
    dil: usize,
    pad: usize,
    size: usize,
) -> Option<usize> {
    (o * stride + k * dil)
        .checked_sub(pad)
        .filter(|&i| i < size)
}

fn im2col_f32(x: &[f32], p: &PatchParams) -> Vec<f32> {
    let c = p.c;
    let mut out = Vec::with_capacity(p.n * p.oh * p.ow * p.kh * p.kw * c);
    for n in 0..p.n {
        for oy in 0..p.oh {
            for ox in 0..p.ow {
                for ky in 0..p.kh {
                    let iy = src_pos(oy, ky, p.stride.0, p.dilation.0, p.pad.0, p.h);
                    for kx in 0..p.kw {
                        let ix = src_pos(ox, kx, p.stride.1, p.dilation.1, p.pad.1, p.w);
                        match (iy, ix) {
                            (Some(iy), Some(ix)) => {
                                let s = ((n * p.h + iy) * p.w + ix) * c;
                                out.extend_from_slice(&x[s..s + c]);
                            }
                            _ => out.extend(std::iter::repeat_n(p.pad_value, c)),
                        }
                    }
                }
            }
        }
    }
    out
}

fn col2im_f32(cols: &[f32], p: &PatchParams) -> Vec<f32> {
    let c = p.c;
    let mut out = vec![0f32; p.n * p.h * p.w * c];
    let mut src = 0;
    for n in 0..p.n {
        for oy in 0..p.oh {
            for ox in 0..p.ow {
                for ky in 0..p.kh {
                    let iy = src_pos(oy, ky, p.stride.0, p.dilation.0, p.pad.0, p.h);
                    for kx in 0..p.kw {
                        let ix = src_pos(ox, kx, p.stride.1, p.dilation.1, p.pad.1, p.w);
                        if let (Some(iy), Some(ix)) = (iy, ix) {
                            let d = ((n * p.h + iy) * p.w + ix) * c;
                            out[d..d + c]
                                .iter_mut()
                                .zip(&cols[src..src + c])
                                .for_each(|(o, &v)| *o += v);
                        }
                        src += c;
                    }
                }
            }
        }
    }
    out
}

pub(super) fn im2col(s: &CpuStorage, l: &Layout, p: &PatchParams) -> Result<CpuStorage> {
    let x = s.to_f32_vec(l);
    Ok(CpuStorage::from_f32(im2col_f32(&x, p), s_dtype(s)))
}

pub(super) fn col2im(s: &CpuStorage, l: &Layout, p: &PatchParams) -> Result<CpuStorage> {
    let x = s.to_f32_vec(l);
    Ok(CpuStorage::from_f32(col2im_f32(&x, p), s_dtype(s)))
}
