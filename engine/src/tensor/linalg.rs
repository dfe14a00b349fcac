//! matmul: batched and broadcasting like `tf.linalg.matmul` / NumPy's `@`.
//! a: (..., M, K) @ b: (..., K, N) -> (..., M, N); batch axes broadcast; a 1-D operand is
//! treated as a row (left) or column (right) vector and that axis is dropped from the result.

use crate::error::{invalid, or_panic, Error, Result};
use crate::shape::{broadcast_shapes, Shape};
use crate::tensor::{apply, Op, Tensor};

impl Tensor {
    /// Matrix product (`a @ b`).
    #[track_caller]
    pub fn matmul(&self, rhs: &Tensor) -> Tensor {
        or_panic(self.try_matmul(rhs))
    }

    pub fn try_matmul(&self, rhs: &Tensor) -> Result<Tensor> {
        if self.rank() == 0 || rhs.rank() == 0 {
            return Err(invalid(
                "matmul",
                format!(
                    "shapes {} and {}: matmul needs at least 1-D operands; use * to scale by a scalar",
                    self.shape(),
                    rhs.shape()
                ),
            ));
        }
        crate::tensor::elementwise::check_dtypes("matmul", self, rhs)?;
        let a = if self.rank() == 1 {
            self.try_reshape([1, self.dims()[0]])?
        } else {
            self.clone()
        };
        let b = if rhs.rank() == 1 {
            rhs.try_reshape([rhs.dims()[0], 1])?
        } else {
            rhs.clone()
        };
        let (ar, br) = (a.rank(), b.rank());
        let (m, k) = (a.dims()[ar - 2], a.dims()[ar - 1]);
        let (k2, n) = (b.dims()[br - 2], b.dims()[br - 1]);
        if k != k2 {
            let hint = if k == n && br >= 2 {
                format!("inner dims {k} != {k2}; did you mean b.t()?")
            } else if m == k2 && ar >= 2 {
                format!("inner dims {k} != {k2}; did you mean a.t()?")
            } else {
                format!("inner dims {k} != {k2} (a's last axis must equal b's second-to-last)")
            };
            return Err(Error::ShapeMismatch {
                op: "matmul",
                lhs: self.dims().to_vec(),
                rhs: rhs.dims().to_vec(),
                hint,
            });
        }
        broadcast_shapes("matmul", &a.dims()[..ar - 2], &b.dims()[..br - 2])
            .map_err(|_| Error::ShapeMismatch {
                op: "matmul",
                lhs: self.dims().to_vec(),
                rhs: rhs.dims().to_vec(),
                hint: format!(
                    "batch axes {} and {} cannot broadcast (sizes must be equal or 1, aligned from the right)",
                    Shape(a.dims()[..ar - 2].to_vec()),
                    Shape(b.dims()[..br - 2].to_vec())
                ),
            })?;
        // matmul's own hints above; the batch broadcast was checked, so infer agrees
        let out = apply(Op::Matmul, &[&a, &b])?;
        let mut out = out;
        if self.rank() == 1 {
            out = out.try_squeeze(&[-2])?;
        }
        if rhs.rank() == 1 {
            out = out.try_squeeze(&[-1])?;
        }
        Ok(out)
    }
}
