//! Reductions over any set of axes. The reduced axes are moved last (a view), so each output
//! element reduces one run; sums accumulate in f64 for accuracy on large tensors.

use super::{dtype_err, s_dtype_pub as s_dtype, CpuStorage};
use crate::dtype::DType;
use crate::error::Result;
use crate::shape::Layout;
use crate::storage::ReduceOp;

fn reduce_f32(v: &[f32], l: &Layout, axes: &[usize], op: ReduceOp) -> Vec<f32> {
    let (pl, outer, red) = l.split_reduced(axes);
    // Fast path: leading axes summed over contiguous data (bias gradients): accumulate rows,
    // in f64 like the general path (an f32 running sum of 1e6 values is off by ~1%).
    let lead = axes.iter().enumerate().all(|(i, &a)| a == i);
    if op == ReduceOp::Sum && lead && l.is_contiguous() && red > 0 && outer > 1 {
        let s = l.offset;
        let mut acc = vec![0f64; outer];
        for r in 0..red {
            let row = &v[s + r * outer..s + (r + 1) * outer];
            acc.iter_mut().zip(row).for_each(|(a, &x)| *a += x as f64);
        }
        return acc.into_iter().map(|a| a as f32).collect();
    }
    let data: Vec<f32>;
    let (src, base): (&[f32], usize) = if pl.is_contiguous() {
        (v, pl.offset)
    } else {
        data = super::map_layout(v, &pl, |x| x);
        (&data, 0)
    };
    (0..outer)
        .map(|o| {
            let run = &src[base + o * red..base + (o + 1) * red];
            match op {
                ReduceOp::Sum => run.iter().map(|&x| x as f64).sum::<f64>() as f32,
                ReduceOp::Max => run.iter().copied().fold(f32::NEG_INFINITY, nan_max),
                ReduceOp::Min => run.iter().copied().fold(f32::INFINITY, nan_min),
                ReduceOp::ArgMax | ReduceOp::ArgMin => unreachable!("handled by arg_reduce"),
            }
        })
        .collect()
}

/// max that propagates NaN, as tf.reduce_max does.
fn nan_max(a: f32, b: f32) -> f32 {
    if a.is_nan() || b.is_nan() {
        f32::NAN
    } else {
        a.max(b)
    }
}
fn nan_min(a: f32, b: f32) -> f32 {
    if a.is_nan() || b.is_nan() {
        f32::NAN
    } else {
        a.min(b)
    }
}

fn arg_reduce<T: Copy + PartialOrd>(v: &[T], l: &Layout, axes: &[usize], max: bool) -> Vec<i64> {
    let (pl, outer, red) = l.split_reduced(axes);
    let data = super::map_layout(v, &pl, |x| x);
    (0..outer)
        .map(|o| {
            let run = &data[o * red..(o + 1) * red];
            let mut best = 0;
            for (i, x) in run.iter().enumerate() {
                let better = if max { *x > run[best] } else { *x < run[best] };
                if better {
                    best = i;
                }
            }
            best as i64
        })
        .collect()
}

fn reduce_i64(v: &[i64], l: &Layout, axes: &[usize], op: ReduceOp) -> Vec<i64> {
    let (pl, outer, red) = l.split_reduced(axes);
    let data = super::map_layout(v, &pl, |x| x);
    (0..outer)
        .map(|o| {
            let run = &data[o * red..(o + 1) * red];
            match op {
                ReduceOp::Sum => run.iter().fold(0i64, |a, &b| a.wrapping_add(b)),
                ReduceOp::Max => run.iter().copied().max().unwrap_or(i64::MIN),
                ReduceOp::Min => run.iter().copied().min().unwrap_or(i64::MAX),
                _ => unreachable!("handled by arg_reduce"),
            }
        })
        .collect()
}

pub(super) fn reduce(
    s: &CpuStorage,
    l: &Layout,
    axes: &[usize],
    op: ReduceOp,
) -> Result<CpuStorage> {
    let arg = matches!(op, ReduceOp::ArgMax | ReduceOp::ArgMin);
    let is_max = op == ReduceOp::ArgMax;
    Ok(match s {
        CpuStorage::F32(v) if arg => CpuStorage::I64(arg_reduce(v, l, axes, is_max)),
        CpuStorage::F32(v) => CpuStorage::F32(reduce_f32(v, l, axes, op)),
        CpuStorage::F16(_) | CpuStorage::BF16(_) => {
            let x = s.to_f32_vec(l);
            let c = Layout::contiguous(l.shape.clone());
            if arg {
                CpuStorage::I64(arg_reduce(&x, &c, axes, is_max))
            } else {
                CpuStorage::from_f32(reduce_f32(&x, &c, axes, op), s_dtype(s))
            }
        }
        CpuStorage::I64(v) if arg => CpuStorage::I64(arg_reduce(v, l, axes, is_max)),
        CpuStorage::I64(v) => CpuStorage::I64(reduce_i64(v, l, axes, op)),
        CpuStorage::Bool(_) => {
            return Err(dtype_err(
                "reduce",
                "a numeric tensor; cast bools first, e.g. mask.cast(DType::F32).sum()",
                DType::Bool,
            ))
        }
    })
}
