//! conv2d and pooling, NHWC like Keras, built on one patch primitive.
//!
//! x: (N,H,W,C), filters: (KH,KW,C,F) (TF's HWIO). `im2col` turns x into patches
//! (N,OH,OW,KH,KW,C); conv2d is then a matmul with the filters reshaped to (KH*KW*C, F), and
//! pooling is a max or mean over the KH*KW axis. Gradients flow through the patch op (its adjoint
//! is col2im) and the matmul, so there is no separate backward kernel to get wrong.

use crate::error::{invalid, or_panic, Error, Result};
use crate::storage::PatchParams;
use crate::tensor::{apply, Op, Tensor};

/// Keras padding: "valid" (no padding) or "same" (output size ceil(input / stride)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Padding {
    Valid,
    Same,
}

impl Padding {
    pub fn parse(s: &str) -> Result<Padding> {
        match s.to_ascii_lowercase().as_str() {
            "valid" => Ok(Padding::Valid),
            "same" => Ok(Padding::Same),
            _ => Err(invalid(
                "padding",
                format!("\"{s}\" is not a padding; use \"same\" or \"valid\""),
            )),
        }
    }
}

/// [`Padding::parse`], with the op's name in the error.
pub(super) fn parse_padding(op: &'static str, s: &str) -> Result<Padding> {
    Padding::parse(s).map_err(|_| {
        invalid(
            op,
            format!("unknown padding \"{s}\"; use \"same\" or \"valid\""),
        )
    })
}

/// Output size and leading padding along one axis, TF's rules.
pub(super) fn out_size(
    op: &'static str,
    size: usize,
    k: usize,
    stride: usize,
    dil: usize,
    pad: Padding,
) -> Result<(usize, usize)> {
    if stride == 0 || dil == 0 || k == 0 {
        return Err(invalid(
            op,
            "kernel size, strides and dilation must be at least 1",
        ));
    }
    let too_big = || {
        invalid(
            op,
            format!("a window of {k} with dilation {dil} is too large"),
        )
    };
    let eff = (k - 1)
        .checked_mul(dil)
        .and_then(|e| e.checked_add(1))
        .ok_or_else(too_big)?;
    Ok(match pad {
        Padding::Valid => {
            if size < eff {
                return Err(invalid(
                    op,
                    format!("input size {size} is smaller than the (dilated) window {eff} with padding \"valid\"; use \"same\" or a smaller window"),
                ));
            }
            ((size - eff) / stride + 1, 0)
        }
        Padding::Same => {
            let o = size.div_ceil(stride);
            // (o - 1) * stride < size, so only adding the window can overflow
            let total = (o.saturating_sub(1) * stride)
                .checked_add(eff)
                .ok_or_else(too_big)?
                .saturating_sub(size);
            (o, total / 2)
        }
    })
}

fn patch_params(
    op: &'static str,
    x: &Tensor,
    k: (usize, usize),
    stride: (usize, usize),
    dil: (usize, usize),
    pad: Padding,
    pad_value: f32,
) -> Result<PatchParams> {
    if x.rank() != 4 {
        return Err(invalid(
            op,
            format!("expected a 4-D input (batch, height, width, channels), got shape {}; add a batch axis with x.expand_dims(0)", x.shape()),
        ));
    }
    let d = x.dims();
    let (oh, pt) = out_size(op, d[1], k.0, stride.0, dil.0, pad)?;
    let (ow, pl) = out_size(op, d[2], k.1, stride.1, dil.1, pad)?;
    Ok(PatchParams {
        n: d[0],
        h: d[1],
        w: d[2],
        c: d[3],
        kh: k.0,
        kw: k.1,
        oh,
        ow,
        stride,
        dilation: dil,
        pad: (pt, pl),
        pad_value,
    })
}

/// Patches (N,OH,OW,KH,KW,C) of x (N,H,W,C); its adjoint is col2im.
fn im2col(x: &Tensor, p: PatchParams) -> Result<Tensor> {
    apply(Op::Im2Col(Box::new(p)), &[x])
}

/// The adjoint of im2col: sums patches (N,OH,OW,KH,KW,C) back into (N,H,W,C).
pub(crate) fn col2im(g: &Tensor, p: PatchParams) -> Tensor {
    or_panic(apply(Op::Col2Im(Box::new(p)), &[g]))
}

/// The adjoint of col2im: im2col reading 0 outside the input (whatever `p` pads with).
pub(crate) fn im2col_zero_pad(g: &Tensor, p: PatchParams) -> Tensor {
    let p0 = PatchParams {
        pad_value: 0.0,
        ..p
    };
    or_panic(im2col(g, p0))
}

impl Tensor {
    /// 2-D convolution (`tf.nn.conv2d`): x (N,H,W,C), filters (KH,KW,C,F) -> (N,OH,OW,F).
    /// `padding` is "same" or "valid"; strides and dilation are (rows, cols).
    #[track_caller]
    pub fn conv2d(
        &self,
        filters: &Tensor,
        strides: (usize, usize),
        padding: &str,
        dilation: (usize, usize),
    ) -> Tensor {
        or_panic(self.try_conv2d(filters, strides, padding, dilation))
    }
    pub fn try_conv2d(
        &self,
        filters: &Tensor,
        strides: (usize, usize),
        padding: &str,
        dilation: (usize, usize),
    ) -> Result<Tensor> {
        let pad = parse_padding("conv2d", padding)?;
        crate::tensor::elementwise::check_dtypes("conv2d", self, filters)?;
        if filters.rank() != 4 {
            return Err(invalid(
                "conv2d",
                format!(
                    "filters must be 4-D (height, width, in_channels, out_channels), got shape {}",
                    filters.shape()
                ),
            ));
        }
        let f = filters.dims();
        if self.rank() == 4 && f[2] != self.dims()[3] {
            return Err(Error::ShapeMismatch {
                op: "conv2d",
                lhs: self.dims().to_vec(),
                rhs: f.to_vec(),
                hint: format!(
                    "the input has {} channels (last axis, NHWC) but the filters expect {}; inputs are NHWC and filters (KH,KW,C,F)",
                    self.dims()[3],
                    f[2]
                ),
            });
        }
        let p = patch_params("conv2d", self, (f[0], f[1]), strides, dilation, pad, 0.0)?;
        let cols = im2col(self, p)?.try_reshape([p.n * p.oh * p.ow, p.kh * p.kw * p.c])?;
        let w = filters.try_reshape([f[0] * f[1] * f[2], f[3]])?;
        cols.try_matmul(&w)?.try_reshape([p.n, p.oh, p.ow, f[3]])
    }

    /// Max pooling (`tf.nn.max_pool2d`), NHWC. Keras' default strides equal the pool size.
    #[track_caller]
    pub fn max_pool2d(
        &self,
        pool_size: (usize, usize),
        strides: (usize, usize),
        padding: &str,
    ) -> Tensor {
        or_panic(self.try_pool2d(pool_size, strides, padding, true))
    }
    /// Average pooling (`tf.nn.avg_pool2d`); with "same", padded cells are not counted.
    #[track_caller]
    pub fn avg_pool2d(
        &self,
        pool_size: (usize, usize),
        strides: (usize, usize),
        padding: &str,
    ) -> Tensor {
        or_panic(self.try_pool2d(pool_size, strides, padding, false))
    }
    pub fn try_pool2d(
        &self,
        pool_size: (usize, usize),
        strides: (usize, usize),
        padding: &str,
        max: bool,
    ) -> Result<Tensor> {
        crate::state::check_cancel();
        let op = if max { "max_pool2d" } else { "avg_pool2d" };
        let pad = parse_padding(op, padding)?;
        if self.dtype() == crate::dtype::DType::Bool {
            return Err(Error::DTypeMismatch {
                op,
                expected: "a numeric tensor".into(),
                got: self.dtype(),
            });
        }
        let fill = if max { f32::NEG_INFINITY } else { 0.0 };
        let p = patch_params(op, self, pool_size, strides, (1, 1), pad, fill)?;
        let win = im2col(self, p)?.try_reshape([p.n, p.oh, p.ow, p.kh * p.kw, p.c])?;
        if max {
            return Ok(win.max_axis(3, false));
        }
        let sum = win.sum_axis(3, false);
        if pad == Padding::Valid {
            return sum.try_div((p.kh * p.kw) as f64);
        }
        // Count the real (unpadded) cells under each window.
        let ones =
            crate::tensor::create::full_on([1, p.h, p.w, 1], 1.0, self.dtype(), self.device())?;
        let pc = PatchParams {
            n: 1,
            c: 1,
            pad_value: 0.0,
            ..p
        };
        let count = im2col(&ones, pc)?
            .try_reshape([1, p.oh, p.ow, p.kh * p.kw, 1])?
            .sum_axis(3, false);
        sum.try_div(&count)
    }
}
