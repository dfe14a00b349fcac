//! index_select (gather along an axis) and its adjoint index_add (scatter-add).
//! Indices are checked; a bad one is an error naming the index and the axis size.

use super::{dtype_err, map_layout, s_dtype_pub as s_dtype, CpuStorage};
use crate::dtype::DType;
use crate::error::{invalid, Result};
use crate::shape::{Layout, Shape};

fn checked_ids(
    op: &'static str,
    ids: &CpuStorage,
    il: &Layout,
    size: usize,
    axis: usize,
) -> Result<Vec<usize>> {
    let CpuStorage::I64(v) = ids else {
        return Err(dtype_err(op, "int64 indices", s_dtype(ids)));
    };
    map_layout(v, il, |i| i)
        .into_iter()
        .map(|i| {
            if i < 0 || i as usize >= size {
                Err(invalid(
                    op,
                    format!("index {i} is out of range for axis {axis} of size {size} (valid: 0..{size})"),
                ))
            } else {
                Ok(i as usize)
            }
        })
        .collect()
}

fn select<T: Copy>(x: &[T], dims: &[usize], axis: usize, ids: &[usize]) -> Vec<T> {
    let outer: usize = dims[..axis].iter().product();
    let inner: usize = dims[axis + 1..].iter().product();
    let size = dims[axis];
    let mut out = Vec::with_capacity(outer * ids.len() * inner);
    for o in 0..outer {
        for &i in ids {
            let s = (o * size + i) * inner;
            out.extend_from_slice(&x[s..s + inner]);
        }
    }
    out
}

pub(super) fn index_select(
    s: &CpuStorage,
    l: &Layout,
    ids: &CpuStorage,
    il: &Layout,
    axis: usize,
) -> Result<CpuStorage> {
    let ids = checked_ids("gather", ids, il, l.dims()[axis], axis)?;
    let d = l.dims();
    // Contiguous sources are read in place; only strided ones are copied first.
    fn pick<T: Copy>(v: &[T], l: &Layout, d: &[usize], axis: usize, ids: &[usize]) -> Vec<T> {
        match l.contiguous_range() {
            Some((s, e)) => select(&v[s..e], d, axis, ids),
            None => select(&map_layout(v, l, |x| x), d, axis, ids),
        }
    }
    Ok(match s {
        CpuStorage::F32(v) => CpuStorage::F32(pick(v, l, d, axis, &ids)),
        CpuStorage::F16(v) => CpuStorage::F16(pick(v, l, d, axis, &ids)),
        CpuStorage::BF16(v) => CpuStorage::BF16(pick(v, l, d, axis, &ids)),
        CpuStorage::I64(v) => CpuStorage::I64(pick(v, l, d, axis, &ids)),
        CpuStorage::Bool(v) => CpuStorage::Bool(pick(v, l, d, axis, &ids)),
    })
}

pub(super) fn index_add(
    dst: &mut CpuStorage,
    dst_shape: &Shape,
    ids: &CpuStorage,
    il: &Layout,
    src: &CpuStorage,
    sl: &Layout,
    axis: usize,
) -> Result<()> {
    let dims = dst_shape.dims();
    let ids = checked_ids("index_add", ids, il, dims[axis], axis)?;
    let outer: usize = dims[..axis].iter().product();
    let inner: usize = dims[axis + 1..].iter().product();
    let size = dims[axis];
    let dt = s_dtype(dst);
    match dst {
        CpuStorage::F32(d) => {
            let s = src.to_f32_vec(sl);
            for o in 0..outer {
                for (j, &i) in ids.iter().enumerate() {
                    let (dd, ss) = ((o * size + i) * inner, (o * ids.len() + j) * inner);
                    d[dd..dd + inner]
                        .iter_mut()
                        .zip(&s[ss..ss + inner])
                        .for_each(|(a, &b)| *a += b);
                }
            }
        }
        CpuStorage::I64(d) => {
            let CpuStorage::I64(sv) = src else {
                return Err(dtype_err("index_add", "int64 updates", s_dtype(src)));
            };
            let s = map_layout(sv, sl, |x| x);
            for o in 0..outer {
                for (j, &i) in ids.iter().enumerate() {
                    let (dd, ss) = ((o * size + i) * inner, (o * ids.len() + j) * inner);
                    d[dd..dd + inner]
                        .iter_mut()
                        .zip(&s[ss..ss + inner])
                        .for_each(|(a, &b)| *a += b);
                }
            }
        }
        CpuStorage::F16(_) | CpuStorage::BF16(_) => {
            let mut acc = CpuStorage::F32(dst.to_f32_vec(&Layout::contiguous(dst_shape.clone())));
            index_add(
                &mut acc,
                dst_shape,
                &CpuStorage::I64(ids.iter().map(|&i| i as i64).collect()),
                &Layout::contiguous([ids.len()]),
                src,
                sl,
                axis,
            )?;
            let CpuStorage::F32(v) = acc else {
                unreachable!()
            };
            *dst = CpuStorage::from_f32(v, dt);
        }
        CpuStorage::Bool(_) => return Err(dtype_err("index_add", "a numeric tensor", DType::Bool)),
    }
    Ok(())
}
