//! Transposed 2-D convolution (`tf.nn.conv2d_transpose`), the upsampling of decoders.
//!
//! It is the adjoint of [`Tensor::conv2d`] with respect to its input, composed from two ops that
//! already exist: a matmul with the kernel transposed, then `col2im` (the adjoint of conv2d's
//! `im2col`), which adds every patch back into the larger image. No new `Op`: gradients come
//! from the matmul and col2im rules, and symbolic shapes from their `Op::infer`.
//!
//! Shapes (NHWC, as Keras): z (N,H,W,F) and filters (KH,KW,C,F) give (N,OH,OW,C) with
//! OH = (H-1)*stride + KH for "valid" and OH = H*stride for "same" (Keras' output sizes).

use super::conv::{out_size, parse_padding, Padding};
use crate::error::{invalid, or_panic, Error, Result};
use crate::storage::PatchParams;
use crate::tensor::{apply, Op, Tensor};

impl Tensor {
    /// `tf.nn.conv2d_transpose`: z (N,H,W,F), filters (KH,KW,C,F) -> (N,OH,OW,C), the adjoint
    /// of `conv2d` with the same filters, strides and padding.
    #[track_caller]
    pub fn conv2d_transpose(
        &self,
        filters: &Tensor,
        strides: (usize, usize),
        padding: &str,
    ) -> Tensor {
        or_panic(self.try_conv2d_transpose(filters, strides, padding))
    }

    pub fn try_conv2d_transpose(
        &self,
        filters: &Tensor,
        strides: (usize, usize),
        padding: &str,
    ) -> Result<Tensor> {
        const OP: &str = "conv2d_transpose";
        let pad = parse_padding(OP, padding)?;
        crate::tensor::elementwise::check_dtypes(OP, self, filters)?;
        if self.rank() != 4 || filters.rank() != 4 {
            return Err(invalid(
                OP,
                format!(
                    "expected a 4-D input (batch, height, width, channels) and 4-D filters \
                     (height, width, out_channels, in_channels), got {} and {}",
                    self.shape(),
                    filters.shape()
                ),
            ));
        }
        let (d, f) = (self.dims(), filters.dims());
        let (n, h, w, fin) = (d[0], d[1], d[2], d[3]);
        let (kh, kw, c) = (f[0], f[1], f[2]);
        if f[3] != fin {
            return Err(Error::ShapeMismatch {
                op: OP,
                lhs: d.to_vec(),
                rhs: f.to_vec(),
                hint: format!(
                    "the input has {fin} channels but the filters (KH,KW,out,in) expect {}",
                    f[3]
                ),
            });
        }
        let (oh, ow) = match pad {
            Padding::Valid => ((h - 1) * strides.0 + kh, (w - 1) * strides.1 + kw),
            Padding::Same => (h * strides.0, w * strides.1),
        };
        // the conv2d that maps (OH,OW) back to (H,W) gives the padding of its adjoint
        let (h_back, pt) = out_size(OP, oh, kh, strides.0, 1, pad)?;
        let (w_back, pl) = out_size(OP, ow, kw, strides.1, 1, pad)?;
        debug_assert_eq!((h_back, w_back), (h, w));
        let p = PatchParams {
            n,
            h: oh,
            w: ow,
            c,
            kh,
            kw,
            oh: h,
            ow: w,
            stride: strides,
            dilation: (1, 1),
            pad: (pt, pl),
            pad_value: 0.0,
        };
        // z (N*H*W, F) x filters^T (F, KH*KW*C) -> patches (N,H,W,KH,KW,C) -> summed into the image
        let wt = filters.try_reshape([kh * kw * c, fin])?.t();
        let cols = self
            .try_reshape([n * h * w, fin])?
            .try_matmul(&wt)?
            .try_reshape([n, h, w, kh, kw, c])?;
        apply(Op::Col2Im(Box::new(p)), &[&cols])
    }
}
