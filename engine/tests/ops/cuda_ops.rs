//! Every CUDA primitive against the CPU reference on random inputs, at the storage level (the op
//! tests run on CUDA too, through `test_device!`). Without a usable GPU each test prints why it
//! skipped and returns: nothing here compares the CPU with itself.

use ferrolab::device::Device;
use ferrolab::dtype::DType;
use ferrolab::shape::{Layout, Shape};
use ferrolab::storage::{
    BackendStorage, BinaryOp, CmpOp, CpuStorage, CudaStorage, PatchParams, ReduceOp, UnaryOp,
    UpdateRule,
};

/// The GPU under test, or None after printing why the test is skipped.
fn gpu() -> Option<Device> {
    crate::common::cuda_or_skip()
}

/// Defines a test that runs `$f(device)` only when a GPU is usable: these compare a CUDA
/// primitive with the CPU's, so unlike `test_device!` there is no CPU variant.
macro_rules! test_cuda {
    ($name:ident, $f:ident) => {
        #[test]
        fn $name() {
            if let Some(d) = gpu() {
                $f(d);
            }
        }
    };
}

/// Deterministic pseudo-random values in [-scale, scale).
fn rand_vec(n: usize, seed: u64, scale: f32) -> Vec<f32> {
    let mut s = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407)
        | 1;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            ((s >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0) * scale
        })
        .collect()
}

fn rand_storage(n: usize, dtype: DType, seed: u64) -> CpuStorage {
    let v = rand_vec(n, seed, 3.0);
    match dtype {
        DType::I64 => CpuStorage::I64(v.iter().map(|x| (x * 3.0).round() as i64).collect()),
        DType::Bool => CpuStorage::Bool(v.iter().map(|&x| x > 0.0).collect()),
        d => CpuStorage::from_f32(v, d),
    }
}

fn up(c: &CpuStorage, d: Device) -> CudaStorage {
    CudaStorage::from_cpu(c, d).expect("upload")
}

fn tol(d: DType) -> f32 {
    match d {
        DType::F32 => 1e-5,
        DType::F16 => 2e-3,
        DType::BF16 => 1.6e-2,
        _ => 0.0,
    }
}

/// Compares GPU output with the CPU reference, elementwise, relative tolerance per dtype.
#[track_caller]
fn assert_close(what: &str, gpu: &CudaStorage, cpu: &CpuStorage, rtol: f32) {
    let g = gpu.to_cpu().expect("download");
    assert_eq!(g.dtype(), cpu.dtype(), "{what}: dtype");
    assert_eq!(g.len(), cpu.len(), "{what}: length");
    let l = Layout::contiguous([g.len()]);
    let (a, b) = (g.to_f32_vec(&l), cpu.to_f32_vec(&l));
    for (i, (x, y)) in a.iter().zip(&b).enumerate() {
        let ok = (x.is_nan() && y.is_nan()) || x == y || (x - y).abs() <= rtol * (1.0 + y.abs());
        assert!(ok, "{what}: element {i}: gpu {x} vs cpu {y} (rtol {rtol})");
    }
}

/// A (rows, cols) layout viewing a (cols, rows) buffer transposed.
fn transposed(rows: usize, cols: usize) -> Layout {
    Layout {
        shape: Shape::new(vec![rows, cols]),
        strides: vec![1, rows],
        offset: 0,
    }
}

const FLOATS: [DType; 3] = [DType::F32, DType::F16, DType::BF16];

fn unary_ops(d: Device) {
    use UnaryOp as U;
    // the catalog's list: every op, the parameterised ones with sample parameters
    let ops = UnaryOp::ALL;
    for dt in FLOATS {
        for (k, &op) in ops.iter().enumerate() {
            let positive = matches!(op, U::Log | U::Sqrt | U::Rsqrt | U::Powf(_) | U::Recip);
            let mut c = rand_storage(37 * 29, dt, k as u64);
            if positive {
                c = c.unary(&Layout::contiguous([37 * 29]), U::Abs).unwrap();
                c = c
                    .unary(&Layout::contiguous([37 * 29]), U::Affine(1.0, 0.1))
                    .unwrap();
            }
            let g = up(&c, d);
            for l in [Layout::contiguous([37, 29]), transposed(37, 29)] {
                let want = c.unary(&l, op).unwrap();
                let got = g.unary(&l, op).unwrap();
                assert_close(
                    &format!("{op:?} {dt}"),
                    &got,
                    &want,
                    tol(dt).max(2e-5) * 4.0,
                );
            }
        }
    }
    let c = rand_storage(100, DType::I64, 9);
    for op in [
        U::Neg,
        U::Abs,
        U::Square,
        U::Sign,
        U::Relu,
        U::Clamp(-2.0, 3.0),
        U::Affine(2.0, 1.0),
    ] {
        let l = Layout::contiguous([10, 10]);
        assert_close(
            &format!("{op:?} i64"),
            &up(&c, d).unary(&l, op).unwrap(),
            &c.unary(&l, op).unwrap(),
            0.0,
        );
    }
    let b = rand_storage(100, DType::Bool, 3);
    let l = Layout::contiguous([100]);
    assert_close(
        "not",
        &up(&b, d).unary(&l, U::LogicalNot).unwrap(),
        &b.unary(&l, U::LogicalNot).unwrap(),
        0.0,
    );
    assert!(
        up(&b, d).unary(&l, U::Exp).is_err(),
        "exp of bool must be an error"
    );
}
test_cuda!(cuda_unary, unary_ops);

fn binary_ops(d: Device) {
    use BinaryOp as B;
    let (m, n) = (33, 65);
    let full = Layout::contiguous([m, n]);
    // a row vector broadcast over rows (stride 0)
    let bcast = Layout {
        shape: Shape::new(vec![m, n]),
        strides: vec![0, 1],
        offset: 0,
    };
    for dt in [DType::F32, DType::F16, DType::BF16, DType::I64] {
        for (k, op) in [
            B::Add,
            B::Sub,
            B::Mul,
            B::Div,
            B::Maximum,
            B::Minimum,
            B::Pow,
        ]
        .into_iter()
        .enumerate()
        {
            let a = rand_storage(m * n, dt, 10 + k as u64);
            let mut b = rand_storage(m * n, dt, 20 + k as u64);
            if op == B::Pow || (op == B::Div && dt != DType::I64) {
                b = b.unary(&full, UnaryOp::Abs).unwrap();
            }
            let (ga, gb) = (up(&a, d), up(&b, d));
            for (la, lb) in [(&full, &full), (&full, &bcast), (&transposed(m, n), &full)] {
                let want = a.binary(la, &b, lb, op).unwrap();
                let got = ga.binary(la, &gb, lb, op).unwrap();
                assert_close(&format!("{op:?} {dt}"), &got, &want, tol(dt) * 4.0);
            }
        }
    }
    let (a, b) = (
        rand_storage(64, DType::Bool, 1),
        rand_storage(64, DType::Bool, 2),
    );
    let l = Layout::contiguous([64]);
    for op in [B::LogicalAnd, B::LogicalOr, B::Mul, B::Add] {
        assert_close(
            &format!("{op:?} bool"),
            &up(&a, d).binary(&l, &up(&b, d), &l, op).unwrap(),
            &a.binary(&l, &b, &l, op).unwrap(),
            0.0,
        );
    }
    let mismatch = up(&a, d).binary(&l, &up(&rand_storage(64, DType::F32, 3), d), &l, B::Add);
    assert!(mismatch.is_err(), "mixed dtypes must be an error");
}
test_cuda!(cuda_binary, binary_ops);

fn cmp_where(d: Device) {
    let l = Layout::contiguous([20, 30]);
    for dt in [DType::F32, DType::F16, DType::BF16, DType::I64, DType::Bool] {
        let a = rand_storage(600, dt, 5);
        // half of b equals a, so Eq/Le/Ge see ties
        let b = a.where_cond(&l, &a, &l, &rand_storage(600, dt, 6), &l);
        let b = match b {
            Ok(x) => x,
            Err(_) => rand_storage(600, dt, 6),
        };
        let cond = rand_storage(600, DType::Bool, 7);
        let b = cond.where_cond(&l, &a, &l, &b, &l).unwrap();
        let (ga, gb) = (up(&a, d), up(&b, d));
        for op in [
            CmpOp::Eq,
            CmpOp::Ne,
            CmpOp::Lt,
            CmpOp::Le,
            CmpOp::Gt,
            CmpOp::Ge,
        ] {
            assert_close(
                &format!("{op:?} {dt}"),
                &ga.cmp(&l, &gb, &l, op).unwrap(),
                &a.cmp(&l, &b, &l, op).unwrap(),
                0.0,
            );
        }
        let t = transposed(20, 30);
        let want = cond.where_cond(&l, &a, &t, &b, &l).unwrap();
        let got = up(&cond, d).where_cond(&l, &ga, &t, &gb, &l).unwrap();
        assert_close(&format!("where {dt}"), &got, &want, 0.0);
    }
}
test_cuda!(cuda_cmp_where, cmp_where);

fn casts_and_copies(d: Device) {
    let all = [DType::F32, DType::F16, DType::BF16, DType::I64, DType::Bool];
    for from in all {
        let c = rand_storage(24 * 17, from, 11);
        let g = up(&c, d);
        for to in all {
            for l in [Layout::contiguous([24, 17]), transposed(24, 17)] {
                let want = c.cast(&l, to).unwrap();
                let got = g.cast(&l, to).unwrap();
                assert_close(&format!("cast {from}->{to}"), &got, &want, tol(to));
            }
        }
        // strided copy: transposed, and an offset slice
        let sl = Layout {
            shape: Shape::new(vec![10, 5]),
            strides: vec![17, 2],
            offset: 3,
        };
        for l in [transposed(24, 17), sl.clone()] {
            assert_close(
                &format!("copy_strided {from}"),
                &g.copy_strided(&l).unwrap(),
                &c.copy_strided(&l).unwrap(),
                0.0,
            );
        }
        // copy_into a column block of a (24, 17) destination
        let src = rand_storage(24 * 4, from, 12);
        let dl = Layout {
            shape: Shape::new(vec![24, 4]),
            strides: vec![17, 1],
            offset: 5,
        };
        let sl = Layout::contiguous([24, 4]);
        let (mut want, mut got) = (c.clone(), up(&c, d));
        want.copy_into(&dl, &src, &sl).unwrap();
        got.copy_into(&dl, &up(&src, d), &sl).unwrap();
        assert_close(&format!("copy_into {from}"), &got, &want, 0.0);
    }
}
test_cuda!(cuda_cast_copy, casts_and_copies);

fn reductions(d: Device) {
    let shape = [6usize, 7, 300];
    let n: usize = shape.iter().product();
    for dt in [DType::F32, DType::F16, DType::BF16, DType::I64] {
        let c = rand_storage(n, dt, 21);
        let g = up(&c, d);
        let perm = Layout {
            shape: Shape::new(vec![300, 7, 6]),
            strides: vec![1, 300, 2100],
            offset: 0,
        };
        for l in [Layout::contiguous(shape), perm] {
            for axes in [vec![0], vec![1], vec![2], vec![0, 2], vec![0, 1, 2]] {
                for op in [
                    ReduceOp::Sum,
                    ReduceOp::Max,
                    ReduceOp::Min,
                    ReduceOp::ArgMax,
                    ReduceOp::ArgMin,
                ] {
                    let want = c.reduce(&l, &axes, op).unwrap();
                    let got = g.reduce(&l, &axes, op).unwrap();
                    let rtol = if op == ReduceOp::Sum {
                        tol(dt) * 8.0
                    } else {
                        0.0
                    };
                    assert_close(&format!("{op:?} {dt} axes {axes:?}"), &got, &want, rtol);
                }
            }
        }
    }
    // a long reduction: 1M elements to one value
    let c = rand_storage(1 << 20, DType::F32, 22);
    let l = Layout::contiguous([1usize << 20]);
    assert_close(
        "sum 1M",
        &up(&c, d).reduce(&l, &[0], ReduceOp::Sum).unwrap(),
        &c.reduce(&l, &[0], ReduceOp::Sum).unwrap(),
        1e-4,
    );
}
test_cuda!(cuda_reduce, reductions);

fn matmuls(d: Device) {
    for dt in FLOATS {
        let rt = match dt {
            DType::F32 => 1e-4,
            DType::F16 => 1e-2,
            _ => 3e-2,
        };
        for (b, m, k, n) in [
            (1, 1, 1, 1),
            (1, 33, 65, 17),
            (3, 64, 128, 32),
            (2, 5, 300, 7),
        ] {
            let a = rand_storage(b * m * k, dt, 31);
            let w = rand_storage(b * k * n, dt, 32);
            let (ga, gw) = (up(&a, d), up(&w, d));
            let la = Layout::contiguous([b, m, k]);
            let lw = Layout::contiguous([b, k, n]);
            assert_close(
                &format!("matmul {dt} {b}x{m}x{k}x{n}"),
                &ga.matmul(&la, &gw, &lw).unwrap(),
                &a.matmul(&la, &w, &lw).unwrap(),
                rt,
            );
            // rhs transposed view (B, K, N) over (B, N, K) data; lhs transposed too
            let lwt = Layout {
                shape: Shape::new(vec![b, k, n]),
                strides: vec![k * n, 1, k],
                offset: 0,
            };
            let lat = Layout {
                shape: Shape::new(vec![b, m, k]),
                strides: vec![m * k, 1, m],
                offset: 0,
            };
            assert_close(
                &format!("matmul^T {dt}"),
                &ga.matmul(&lat, &gw, &lwt).unwrap(),
                &a.matmul(&lat, &w, &lwt).unwrap(),
                rt,
            );
            // rhs broadcast over the batch (stride 0)
            let lwb = Layout {
                shape: Shape::new(vec![b, k, n]),
                strides: vec![0, n, 1],
                offset: 0,
            };
            assert_close(
                &format!("matmul bcast {dt}"),
                &ga.matmul(&la, &gw, &lwb).unwrap(),
                &a.matmul(&la, &w, &lwb).unwrap(),
                rt,
            );
            // a strided (every other column) lhs goes through a copy
            if k % 2 == 0 {
                let ls = Layout {
                    shape: Shape::new(vec![b, m, k / 2]),
                    strides: vec![m * k, k, 2],
                    offset: 0,
                };
                let lw2 = Layout::contiguous([b, k / 2, n]);
                assert_close(
                    &format!("matmul strided {dt}"),
                    &ga.matmul(&ls, &gw, &lw2).unwrap(),
                    &a.matmul(&ls, &w, &lw2).unwrap(),
                    rt,
                );
            }
        }
    }
}
test_cuda!(cuda_matmul, matmuls);

fn int_matmuls(d: Device) {
    // int64 has no cuBLAS path: a tiled kernel with wrapping multiply-adds, exact like the CPU
    for (b, m, k, n) in [
        (1, 1, 1, 1),
        (1, 33, 65, 17),
        (3, 40, 16, 70),
        (2, 5, 300, 7),
    ] {
        let a = rand_storage(b * m * k, DType::I64, 71);
        let w = rand_storage(b * k * n, DType::I64, 72);
        let (ga, gw) = (up(&a, d), up(&w, d));
        let la = Layout::contiguous([b, m, k]);
        let lw = Layout::contiguous([b, k, n]);
        let lat = Layout {
            shape: Shape::new(vec![b, m, k]),
            strides: vec![m * k, 1, m],
            offset: 0,
        };
        let lwt = Layout {
            shape: Shape::new(vec![b, k, n]),
            strides: vec![k * n, 1, k],
            offset: 0,
        };
        let lwb = Layout {
            shape: Shape::new(vec![b, k, n]),
            strides: vec![0, n, 1],
            offset: 0,
        };
        for (what, l, r) in [
            ("contiguous", &la, &lw),
            ("transposed", &lat, &lwt),
            ("rhs broadcast", &la, &lwb),
        ] {
            let want = a.matmul(l, &w, r).unwrap();
            let got = ga.matmul(l, &gw, r).unwrap();
            assert_eq!(
                got.to_cpu()
                    .unwrap()
                    .to_vec::<i64>(&Layout::contiguous([b * m * n])),
                want.to_vec::<i64>(&Layout::contiguous([b * m * n])),
                "matmul i64 {what} {b}x{m}x{k}x{n}"
            );
        }
    }
    // products and sums that overflow wrap around as on the CPU (exact comparison)
    let big = CpuStorage::I64(
        (0..6 * 5)
            .map(|i| (i as i64 - 13).wrapping_mul(0x0123_4567_89ab_cdef))
            .collect(),
    );
    let (l, r) = (Layout::contiguous([1, 6, 5]), Layout::contiguous([1, 5, 6]));
    let want = big.matmul(&l, &big, &r).unwrap();
    let got = up(&big, d).matmul(&l, &up(&big, d), &r).unwrap();
    assert_eq!(
        got.to_cpu()
            .unwrap()
            .to_vec::<i64>(&Layout::contiguous([36])),
        want.to_vec::<i64>(&Layout::contiguous([36])),
        "matmul i64 wrapping"
    );
    // an empty inner dimension gives zeros; bool is an error, as on the CPU
    let e = up(&CpuStorage::I64(vec![]), d);
    let z = e
        .matmul(
            &Layout::contiguous([1, 2, 0]),
            &e,
            &Layout::contiguous([1, 0, 3]),
        )
        .unwrap();
    assert_eq!(
        z.to_cpu().unwrap().to_vec::<i64>(&Layout::contiguous([6])),
        Some(vec![0i64; 6])
    );
    let bl = up(&CpuStorage::Bool(vec![true; 4]), d);
    let l2 = Layout::contiguous([1, 2, 2]);
    assert!(
        bl.matmul(&l2, &bl, &l2).is_err(),
        "bool matmul must be an error"
    );
}
test_cuda!(cuda_matmul_i64, int_matmuls);

fn gather_scatter(d: Device) {
    let ids = CpuStorage::I64(vec![3, 0, 4, 4, 1, 2, 0]);
    let il = Layout::contiguous([7]);
    for dt in [DType::F32, DType::F16, DType::BF16, DType::I64, DType::Bool] {
        let c = rand_storage(5 * 6 * 4, dt, 41);
        let (g, gi) = (up(&c, d), up(&ids, d));
        let l = Layout::contiguous([5, 6, 4]);
        assert_close(
            &format!("gather axis 0 {dt}"),
            &g.index_select(&l, &gi, &il, 0).unwrap(),
            &c.index_select(&l, &ids, &il, 0).unwrap(),
            0.0,
        );
        let lt = Layout {
            shape: Shape::new(vec![4, 6, 5]),
            strides: vec![1, 4, 24],
            offset: 0,
        };
        assert_close(
            &format!("gather axis 2 {dt}"),
            &g.index_select(&lt, &gi, &il, 2).unwrap(),
            &c.index_select(&lt, &ids, &il, 2).unwrap(),
            0.0,
        );
    }
    let bad = up(&CpuStorage::I64(vec![0, 9]), d);
    let c = up(&rand_storage(20, DType::F32, 1), d);
    assert!(
        c.index_select(
            &Layout::contiguous([5, 4]),
            &bad,
            &Layout::contiguous([2]),
            0
        )
        .is_err(),
        "index 9 of 5 must be an error"
    );
    // index_add (scatter-add) with repeated ids; f16/bf16 accumulate in f32 and round once
    for dt in [DType::F32, DType::F16, DType::BF16, DType::I64] {
        let rtol = if dt == DType::F32 { 1e-6 } else { tol(dt) };
        let dst = rand_storage(5 * 3, dt, 42);
        let src = rand_storage(7 * 3, dt, 43);
        let shape = Shape::new(vec![5, 3]);
        let sl = Layout::contiguous([7, 3]);
        let (mut want, mut got) = (dst.clone(), up(&dst, d));
        want.index_add(&shape, &ids, &il, &src, &sl, 0).unwrap();
        got.index_add(&shape, &up(&ids, d), &il, &up(&src, d), &sl, 0)
            .unwrap();
        assert_eq!(got.len(), want.len(), "index_add {dt}: length");
        assert_close(&format!("index_add {dt}"), &got, &want, rtol);
        // axis 1 of a (4, 5, 6) destination, from a transposed (4, 7, 6) view of (6, 7, 4) data
        let dst = rand_storage(4 * 5 * 6, dt, 44);
        let src = rand_storage(6 * 7 * 4, dt, 45);
        let shape = Shape::new(vec![4, 5, 6]);
        let sl = Layout {
            shape: Shape::new(vec![4, 7, 6]),
            strides: vec![1, 4, 28],
            offset: 0,
        };
        let (mut want, mut got) = (dst.clone(), up(&dst, d));
        want.index_add(&shape, &ids, &il, &src, &sl, 1).unwrap();
        got.index_add(&shape, &up(&ids, d), &il, &up(&src, d), &sl, 1)
            .unwrap();
        assert_close(&format!("index_add axis 1 {dt}"), &got, &want, rtol);
    }
    let mut b = up(&rand_storage(5 * 3, DType::Bool, 46), d);
    let bs = up(&rand_storage(7 * 3, DType::Bool, 47), d);
    assert!(
        b.index_add(
            &Shape::new(vec![5, 3]),
            &up(&ids, d),
            &il,
            &bs,
            &Layout::contiguous([7, 3]),
            0
        )
        .is_err(),
        "index_add of bool must be an error (as on the CPU)"
    );
}
test_cuda!(cuda_gather_scatter, gather_scatter);

fn patches(d: Device) {
    let p = PatchParams {
        n: 2,
        h: 9,
        w: 8,
        c: 3,
        kh: 3,
        kw: 2,
        oh: 5,
        ow: 4,
        stride: (2, 2),
        dilation: (1, 1),
        pad: (1, 0),
        pad_value: 0.0,
    };
    for dt in FLOATS {
        let x = rand_storage(p.n * p.h * p.w * p.c, dt, 51);
        let l = Layout::contiguous([p.n, p.h, p.w, p.c]);
        assert_close(
            &format!("im2col {dt}"),
            &up(&x, d).im2col(&l, &p).unwrap(),
            &x.im2col(&l, &p).unwrap(),
            0.0,
        );
        let pool = PatchParams {
            pad_value: f32::NEG_INFINITY,
            ..p
        };
        assert_close(
            &format!("im2col -inf {dt}"),
            &up(&x, d).im2col(&l, &pool).unwrap(),
            &x.im2col(&l, &pool).unwrap(),
            0.0,
        );
        let cols = rand_storage(p.n * p.oh * p.ow * p.kh * p.kw * p.c, dt, 52);
        let cl = Layout::contiguous([p.n, p.oh, p.ow, p.kh, p.kw, p.c]);
        assert_close(
            &format!("col2im {dt}"),
            &up(&cols, d).col2im(&cl, &p).unwrap(),
            &cols.col2im(&cl, &p).unwrap(),
            tol(dt) * 4.0,
        );
    }
    // int64 and bool go through float32 like the CPU; small ints sum exactly
    for dt in [DType::I64, DType::Bool] {
        let x = rand_storage(p.n * p.h * p.w * p.c, dt, 53);
        let l = Layout::contiguous([p.n, p.h, p.w, p.c]);
        for pad_value in [0.0, f32::NEG_INFINITY] {
            let q = PatchParams { pad_value, ..p };
            assert_close(
                &format!("im2col {dt} pad {pad_value}"),
                &up(&x, d).im2col(&l, &q).unwrap(),
                &x.im2col(&l, &q).unwrap(),
                0.0,
            );
        }
        let cols = rand_storage(p.n * p.oh * p.ow * p.kh * p.kw * p.c, dt, 54);
        let cl = Layout::contiguous([p.n, p.oh, p.ow, p.kh, p.kw, p.c]);
        assert_close(
            &format!("col2im {dt}"),
            &up(&cols, d).col2im(&cl, &p).unwrap(),
            &cols.col2im(&cl, &p).unwrap(),
            0.0,
        );
    }
}
test_cuda!(cuda_patches, patches);

fn optimizers(d: Device) {
    let n = 1000;
    let rules: [(UpdateRule, usize); 6] = [
        (
            UpdateRule::Sgd {
                lr: 0.1,
                momentum: 0.0,
                nesterov: false,
            },
            0,
        ),
        (
            UpdateRule::Sgd {
                lr: 0.1,
                momentum: 0.9,
                nesterov: false,
            },
            1,
        ),
        (
            UpdateRule::Sgd {
                lr: 0.1,
                momentum: 0.9,
                nesterov: true,
            },
            1,
        ),
        (
            UpdateRule::Adam {
                lr: 1e-3,
                beta1: 0.9,
                beta2: 0.999,
                epsilon: 1e-7,
                t: 3,
                weight_decay: 0.0,
            },
            2,
        ),
        (
            UpdateRule::Adam {
                lr: 1e-3,
                beta1: 0.9,
                beta2: 0.999,
                epsilon: 1e-7,
                t: 1,
                weight_decay: 0.01,
            },
            2,
        ),
        (
            UpdateRule::RmsProp {
                lr: 1e-3,
                rho: 0.9,
                epsilon: 1e-7,
                momentum: 0.0,
            },
            1,
        ),
    ];
    for (rule, nslots) in rules {
        for (pdt, gdt) in [
            (DType::F32, DType::F32),
            (DType::F32, DType::BF16),
            (DType::F16, DType::F16),
            (DType::F16, DType::F32),
            (DType::BF16, DType::BF16),
            (DType::BF16, DType::F32),
        ] {
            let p = rand_storage(n, pdt, 61);
            let g = rand_storage(n, gdt, 62);
            let mut slots: Vec<CpuStorage> = (0..nslots)
                .map(|i| {
                    rand_storage(n, DType::F32, 63 + i as u64)
                        .unary(&Layout::contiguous([n]), UnaryOp::Abs)
                        .unwrap()
                })
                .collect();
            let mut gslots: Vec<CudaStorage> = slots.iter().map(|s| up(s, d)).collect();
            let (mut want, mut got) = (p.clone(), up(&p, d));
            let gl = Layout::contiguous([n]);
            want.apply_update(&g, &gl, &mut slots.iter_mut().collect::<Vec<_>>(), rule)
                .unwrap();
            got.apply_update(
                &up(&g, d),
                &gl,
                &mut gslots.iter_mut().collect::<Vec<_>>(),
                rule,
            )
            .unwrap();
            // f16/bf16 parameters are rounded once from the same f32 result (1 ulp at most)
            let ptol = if pdt == DType::F32 { 1e-5 } else { tol(pdt) };
            assert_close(&format!("{rule:?} {pdt} param"), &got, &want, ptol);
            assert_eq!(got.dtype(), pdt, "the parameter keeps its dtype");
            for (a, b) in gslots.iter().zip(&slots) {
                assert_close(&format!("{rule:?} {pdt} slot"), a, b, 1e-5);
            }
        }
    }
}
test_cuda!(cuda_optimizers, optimizers);

/// Tests that set the global seed or draw from the global generator hold this (the binary's one
/// lock, shared with `creation`), so that parallel test threads do not interleave their draws.
fn global_rng_lock() -> std::sync::MutexGuard<'static, ()> {
    crate::common::global_rng()
}

/// (mean, standard deviation) of `v`.
fn mean_std(v: &[f32]) -> (f64, f64) {
    let n = v.len() as f64;
    let mean = v.iter().map(|&x| x as f64).sum::<f64>() / n;
    let var = v.iter().map(|&x| (x as f64 - mean).powi(2)).sum::<f64>() / n;
    (mean, var.sqrt())
}

fn random_draws(d: Device) {
    use ferrolab::random::set_seed;
    use ferrolab::tensor::create::{normal_on, uniform_on};
    let _g = global_rng_lock();
    let curand = ferrolab::storage::cuda::random::status(d);
    if let Err(reason) = &curand {
        println!("note: cuRAND is not usable ({reason}); checking the host fallback instead");
    }
    // op seeds: the same seed gives the same numbers, another seed other numbers
    let n = 1_000_000;
    let u = uniform_on([1000, 1000], -2.0, 3.0, Some(7), d).unwrap();
    assert_eq!(u.device(), d, "drawn for the GPU");
    assert_eq!(u.dtype(), DType::F32);
    let uv = u.to_vec::<f32>();
    assert_eq!(uv.len(), n);
    assert_eq!(
        uv,
        uniform_on([1000, 1000], -2.0, 3.0, Some(7), d)
            .unwrap()
            .to_vec::<f32>(),
        "same op seed, same numbers"
    );
    let other = uniform_on([1000, 1000], -2.0, 3.0, Some(8), d)
        .unwrap()
        .to_vec::<f32>();
    let same = uv.iter().zip(&other).filter(|(a, b)| a == b).count();
    assert!(same < n / 1000, "seeds 7 and 8 share {same} of {n} values");
    if curand.is_ok() {
        let cpu = uniform_on([1000, 1000], -2.0, 3.0, Some(7), Device::Cpu)
            .unwrap()
            .to_vec::<f32>();
        assert_ne!(
            uv, cpu,
            "cuRAND draws on the GPU (not the CPU generator's numbers)"
        );
    }
    // uniform statistics: range, mean, std, and a flat histogram
    assert!(
        uv.iter().all(|&x| (-2.0..3.0).contains(&x)),
        "uniform in [-2, 3)"
    );
    let (mean, std) = mean_std(&uv);
    assert!((mean - 0.5).abs() < 0.01, "uniform mean {mean}");
    assert!((std - 5.0 / 12f64.sqrt()).abs() < 0.01, "uniform std {std}");
    let mut bins = [0usize; 10];
    for &x in &uv {
        bins[(((x + 2.0) / 5.0 * 10.0) as usize).min(9)] += 1;
    }
    assert!(
        bins.iter().all(|&c| c.abs_diff(n / 10) < 2000),
        "uniform histogram {bins:?}"
    );
    // normal statistics, with an odd count (cuRAND's Box-Muller makes pairs)
    let m = 1_000_001;
    let z = normal_on([m], 1.5, 2.0, Some(3), d).unwrap();
    assert_eq!(z.device(), d);
    let zv = z.to_vec::<f32>();
    assert_eq!(zv.len(), m);
    assert!(zv.iter().all(|x| x.is_finite()), "normal draws are finite");
    let (mean, std) = mean_std(&zv);
    assert!((mean - 1.5).abs() < 0.01, "normal mean {mean}");
    assert!((std - 2.0).abs() < 0.01, "normal std {std}");
    let within = zv.iter().filter(|&&x| (x - 1.5).abs() < 2.0).count() as f64 / m as f64;
    assert!((within - 0.6827).abs() < 0.005, "P(|z| < 1 sd) = {within}");
    assert_eq!(
        zv,
        normal_on([m], 1.5, 2.0, Some(3), d)
            .unwrap()
            .to_vec::<f32>(),
        "same op seed, same normals"
    );
    // tiny and empty shapes
    assert_eq!(
        normal_on([1], 0.0, 1.0, Some(1), d)
            .unwrap()
            .to_vec::<f32>()
            .len(),
        1
    );
    assert_eq!(
        uniform_on([0, 3], 0.0, 1.0, None, d).unwrap().elem_count(),
        0
    );
    // global seed (TF semantics): after set_seed the same sequence of ops repeats, and
    // consecutive ops differ
    set_seed(11);
    let x1 = normal_on([4096], 0.0, 1.0, None, d)
        .unwrap()
        .to_vec::<f32>();
    let x2 = normal_on([4096], 0.0, 1.0, None, d)
        .unwrap()
        .to_vec::<f32>();
    let x3 = uniform_on([4096], 0.0, 1.0, None, d)
        .unwrap()
        .to_vec::<f32>();
    assert_ne!(x1, x2, "two draws after one set_seed differ");
    set_seed(11);
    assert_eq!(
        x1,
        normal_on([4096], 0.0, 1.0, None, d)
            .unwrap()
            .to_vec::<f32>()
    );
    assert_eq!(
        x2,
        normal_on([4096], 0.0, 1.0, None, d)
            .unwrap()
            .to_vec::<f32>()
    );
    assert_eq!(
        x3,
        uniform_on([4096], 0.0, 1.0, None, d)
            .unwrap()
            .to_vec::<f32>()
    );
    set_seed(12);
    assert_ne!(
        x1,
        normal_on([4096], 0.0, 1.0, None, d)
            .unwrap()
            .to_vec::<f32>()
    );
    // the op seed comes from the global generator exactly as on the CPU: one value per op
    // without an op seed, none with one
    let cpu_next = |first: Device, op_seed: Option<u64>| {
        set_seed(5);
        let _ = uniform_on([3], 0.0, 1.0, op_seed, first).unwrap();
        uniform_on([4], 0.0, 1.0, None, Device::Cpu)
            .unwrap()
            .to_vec::<f32>()
    };
    assert_eq!(cpu_next(d, None), cpu_next(Device::Cpu, None));
    assert_eq!(cpu_next(d, Some(9)), cpu_next(Device::Cpu, Some(9)));
    set_seed(5);
    let first = uniform_on([4], 0.0, 1.0, None, Device::Cpu)
        .unwrap()
        .to_vec::<f32>();
    assert_eq!(
        cpu_next(d, Some(9)),
        first,
        "an op seed leaves the global generator alone"
    );
}
test_cuda!(cuda_random, random_draws);

fn pinned_uploads(d: Device) {
    use ferrolab::storage::cuda::{STAGING_CHUNK_BYTES, STAGING_MIN_BYTES};
    // large: two full staging chunks and a partial one (of 4-byte elements, plus a few)
    let big = (STAGING_CHUNK_BYTES * 5 / 2) / 4 + 3;
    let small = STAGING_MIN_BYTES / 8;
    for dt in [DType::F32, DType::F16, DType::BF16, DType::I64, DType::Bool] {
        for n in [big, small] {
            let c = rand_storage(n, dt, 81 + n as u64);
            assert_close(&format!("upload {dt} x {n}"), &up(&c, d), &c, 0.0);
        }
    }
    let stats = ferrolab::runtime::memory_stats(d).expect("stats");
    assert!(
        stats.pinned_staging > 0,
        "large uploads go through pinned staging buffers: {stats:?}"
    );
    // back-to-back uploads reuse the staging buffers: each keeps its own data, and the source
    // may be overwritten as soon as from_cpu returns
    let mut pairs = Vec::new();
    for k in 0..6 {
        let v = rand_vec(big, 90 + k, 100.0);
        let mut c = CpuStorage::F32(v.clone());
        let g = up(&c, d);
        if let CpuStorage::F32(h) = &mut c {
            h.iter_mut().for_each(|x| *x = f32::NAN);
        }
        pairs.push((CpuStorage::F32(v), g));
    }
    for (k, (want, got)) in pairs.iter().enumerate() {
        assert_close(&format!("upload {k} of 6"), got, want, 0.0);
    }
    // several threads upload at once (as prefetch workers and the main thread do)
    std::thread::scope(|s| {
        for t in 0..4u64 {
            s.spawn(move || {
                for k in 0..3 {
                    let c = rand_storage(big / 2 + k, DType::F32, 100 + t * 10 + k as u64);
                    assert_close(&format!("thread {t} upload {k}"), &up(&c, d), &c, 0.0);
                }
            });
        }
    });
    // the data pipeline: prefetch_to_device batches arrive on the GPU with the right values
    use ferrolab::prelude::*;
    let (rows, cols) = (3 * 1024 + 17, 256);
    let v = rand_vec(rows * cols, 7, 10.0);
    let x = from_vec(v.clone(), [rows, cols]).unwrap().to(Device::Cpu);
    let batches: Vec<Tensor> = Dataset::from_tensor_slices(&x)
        .batch(1024)
        .prefetch_to_device(d, 2)
        .iter()
        .collect();
    assert_eq!(batches.len(), 4);
    let mut seen = Vec::new();
    for b in &batches {
        assert_eq!(b.device(), d);
        seen.extend(b.to_vec::<f32>());
    }
    assert!(seen == v, "prefetched batches equal the source rows");
}
test_cuda!(cuda_pinned_uploads, pinned_uploads);

fn end_to_end(d: Device) {
    use ferrolab::prelude::*;
    let _g = global_rng_lock();
    // A tape gradient computed on the GPU matches the CPU one.
    let x = randn([16, 8]);
    let w = randn([8, 4]);
    let grads = |dev: Device| {
        let (x, w) = (Variable::new(x.to(dev)), Variable::new(w.to(dev)));
        let tape = GradientTape::new();
        let loss = x.matmul(&w).relu().square().mean();
        let [dw] = tape.gradient(&loss, [&w]);
        (
            loss.to(Device::Cpu).to_vec::<f32>(),
            dw.expect("a gradient").to(Device::Cpu).to_vec::<f32>(),
        )
    };
    let (lc, gc) = grads(Device::Cpu);
    let (lg, gg) = grads(d);
    for (a, b) in lc.iter().chain(&gc).zip(lg.iter().chain(&gg)) {
        assert!(
            (a - b).abs() <= 1e-4 * (1.0 + a.abs()),
            "cpu {a} vs gpu {b}"
        );
    }
    let stats = ferrolab::runtime::memory_stats(d).expect("stats");
    assert!(stats.peak_allocated > 0);
}
test_cuda!(cuda_tape_end_to_end, end_to_end);

/// Runs on every machine: without a GPU, asking for one is a clear error, never a panic.
#[test]
fn missing_gpu_is_an_error_not_a_panic() {
    let info = ferrolab::runtime::gpu_info();
    let c = CpuStorage::F32(vec![1.0, 2.0]);
    match CudaStorage::from_cpu(&c, Device::Cuda(info.len() + 7)) {
        Ok(_) => panic!("a device that does not exist must be an error"),
        Err(e) => assert!(e.to_string().contains("cuda"), "{e}"),
    }
    if info.is_empty() {
        println!("no GPU: {}", ferrolab::runtime::gpu_summary());
        assert_eq!(ferrolab::runtime::default_device(), Device::Cpu);
    }
}
