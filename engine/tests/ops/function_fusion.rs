//! `function(...).jit_compile(true)` on the CPU: fused elementwise groups against the eager
//! ops on random inputs, for every fusable op, with broadcasts (scalar, row, column, a
//! transposed view), chunk boundaries (sizes not a multiple of the 1024-element chunk), values
//! read after the group, and the cases that must not fuse (float16, a tape watching).

use ferrolab::prelude::*;

use crate::common::{assert_close, rnd, rnd_pos};

/// A named two-input closure under test.
type Case = (&'static str, fn(&Tensor, &Tensor) -> Tensor);

/// Traces `f` with one draw, replays with another (fused), and checks the replay against the
/// closure run eagerly on the same inputs, within 1e-6 (relative for large values).
fn check_fused(
    f: fn(&Tensor, &Tensor) -> Tensor,
    a_shape: &[usize],
    b_shape: &[usize],
    pos: bool,
) -> Vec<usize> {
    let draw = |s: &[usize], seed| {
        if pos {
            rnd_pos(s, seed, 0.1)
        } else {
            rnd(s, seed)
        }
    };
    let jit = function2(f).jit_compile(true);
    jit.call((&draw(a_shape, 1), &draw(b_shape, 2)));
    let (a, b) = (draw(a_shape, 3), draw(b_shape, 4));
    let fused = jit.call((&a, &b));
    let eager = f(&a, &b);
    assert_eq!(fused.dims(), eager.dims());
    let (x, y) = (fused.to_vec::<f32>(), eager.to_vec::<f32>());
    for (i, (p, q)) in x.iter().zip(&y).enumerate() {
        let tol = 1e-6 * q.abs().max(1.0);
        assert!(
            (p - q).abs() <= tol || (p.is_nan() && q.is_nan()),
            "element {i}: fused {p} vs eager {q}"
        );
    }
    assert_eq!(jit.trace_count(), 1);
    jit.concrete_functions()[0].fused_groups()
}

#[test]
fn every_fusable_unary_op_matches_eager() {
    let ops: [Case; 20] = [
        ("neg", |a, b| (a + b).neg()),
        ("abs", |a, b| (a + b).abs()),
        ("exp", |a, b| (a + b).exp()),
        ("log", |a, b| (a * b).log()),
        ("sqrt", |a, b| (a * b).sqrt()),
        ("rsqrt", |a, b| (a * b).rsqrt()),
        ("sin", |a, b| (a + b).sin()),
        ("cos", |a, b| (a + b).cos()),
        ("tanh", |a, b| (a + b).tanh()),
        ("sigmoid", |a, b| (a - b).sigmoid()),
        ("relu", |a, b| (a - b).relu()),
        ("softplus", |a, b| (a - b).softplus()),
        ("square", |a, b| (a + b).square()),
        ("reciprocal", |a, b| (a + b).reciprocal()),
        ("sign", |a, b| (a - b).sign()),
        ("floor", |a, b| (a * b * 10.0).floor()),
        ("ceil", |a, b| (a * b * 10.0).ceil()),
        ("round", |a, b| (a * b * 10.0).round()),
        ("powf/clamp", |a, b| (a * b).powf(1.7).clamp(0.2, 3.0)),
        ("affine", |a, b| (a - b).affine(3.0, -1.5)),
    ];
    for (name, f) in ops {
        println!("{name}");
        // one binary op and the unary; floor/ceil/round scale first, powf is then clamped
        let n = if ["floor", "ceil", "round", "powf/clamp"].contains(&name) {
            3
        } else {
            2
        };
        // positive inputs keep log/sqrt/rsqrt/powf real
        let groups = check_fused(f, &[37, 101], &[37, 101], true);
        assert_eq!(groups, vec![n], "{name}");
    }
}

#[test]
fn every_fusable_binary_op_with_broadcasts_matches_eager() {
    let ops: [Case; 7] = [
        ("add", |a, b| (a + b).exp()),
        ("sub", |a, b| (a - b).exp()),
        ("mul", |a, b| (a * b).exp()),
        ("div", |a, b| (a / b).tanh()),
        ("maximum", |a, b| a.maximum(b).square()),
        ("minimum", |a, b| a.minimum(b).square()),
        ("pow", |a, b| a.pow(b).sqrt()),
    ];
    // same shape; row (1, D); column (N, 1); scalar; column broadcast on the left
    let shapes: [(&[usize], &[usize]); 5] = [
        (&[37, 101], &[37, 101]),
        (&[37, 101], &[1, 101]),
        (&[37, 101], &[37, 1]),
        (&[37, 101], &[]),
        (&[37, 1], &[37, 101]),
    ];
    for (name, f) in ops {
        for (sa, sb) in shapes {
            println!("{name} {sa:?} {sb:?}");
            let groups = check_fused(f, sa, sb, true);
            // (37,1) op (37,101): the binary has the big shape, the unary follows it: fused
            assert_eq!(groups, vec![2], "{name} {sa:?} {sb:?}");
        }
    }
}

#[test]
fn gelu_chain_fuses_into_one_group_and_matches_eager() {
    fn gelu(x: &Tensor, _: &Tensor) -> Tensor {
        0.5 * x * (1.0 + (0.7978845608 * (x + 0.044715 * x * x * x)).tanh())
    }
    assert_eq!(check_fused(gelu, &[5000], &[1], false), vec![9]);
}

#[test]
fn values_read_after_a_group_are_written_out() {
    // h = tanh(a*b) is read by the row sum and by the final adds; s.exp() is a per-row value
    // broadcast over the row
    fn f(a: &Tensor, b: &Tensor) -> Tensor {
        let h = (a * b).tanh();
        let s = h.sum_axis(1, true);
        (&h * 2.0) + s.exp() + h.sigmoid()
    }
    // one group by rows: mul, tanh, sum, mul, exp, add, sigmoid, add
    assert_eq!(check_fused(f, &[37, 101], &[37, 101], false), vec![8]);
    // the row sum's value is read after the group: written out
    fn g(a: &Tensor, b: &Tensor) -> Tensor {
        let s = (a * b).sum_axis(1, true);
        s.matmul(&s.t()) + s.square()
    }
    let groups = check_fused(g, &[19, 33], &[19, 33], false);
    assert_eq!(groups, vec![2], "mul + sum; the matmul stops the group");
}

#[test]
fn layer_norm_fuses_into_one_pass_by_rows() {
    // mean, centre, variance, rsqrt, scale, shift: two reductions over the last axis
    fn ln(x: &Tensor, gamma: &Tensor) -> Tensor {
        let mean = x.mean_axis(-1, true);
        let d = x - &mean;
        let var = (&d * &d).mean_axis(-1, true);
        d * (var + 1e-5).rsqrt() * gamma + 0.25
    }
    for shape in [[33, 1500], [4, 7], [2, 1]] {
        let groups = check_fused(ln, &shape, &shape[1..], false);
        assert_eq!(groups.len(), 1, "{shape:?}: {groups:?}");
    }
    // a rank-3 input: rows are the last axis of (2, 5, 64)
    let groups = check_fused(ln, &[2, 5, 64], &[64], false);
    assert_eq!(groups.len(), 1, "{groups:?}");
}

#[test]
fn softmax_and_logsumexp_reductions_fuse_and_match_eager() {
    // softmax: max, sub, exp, sum, div (the max keeps exp from overflowing)
    fn softmax(a: &Tensor, b: &Tensor) -> Tensor {
        let z = a * b;
        let e = (&z - z.max_axis(-1, true)).exp();
        &e / e.sum_axis(-1, true)
    }
    assert_eq!(check_fused(softmax, &[50, 1030], &[1030], false), vec![6]);
    // min without keepdims ends the group: its output (rows,) is written out
    fn row_min(a: &Tensor, b: &Tensor) -> Tensor {
        (a - b).abs().min_axis(1, false)
    }
    assert_eq!(check_fused(row_min, &[9, 40], &[9, 40], false), vec![3]);
}

#[test]
fn transposed_view_input_matches_eager() {
    fn f(a: &Tensor, b: &Tensor) -> Tensor {
        (a.t() * b).exp() - b
    }
    assert_eq!(check_fused(f, &[60, 45], &[45, 60], false), vec![3]);
}

#[test]
fn float16_and_a_watching_tape_run_unfused_and_match_eager() {
    let f = function(|x: &Tensor| (x * 2.0).tanh() + 1.0).jit_compile(true);
    let h = rnd(&[3000], 5).cast(DType::F16);
    f.call(&h);
    let h2 = rnd(&[3000], 6).cast(DType::F16);
    let want = ((&h2 * 2.0).tanh() + 1.0).cast(DType::F32).to_vec::<f32>();
    assert_eq!(f.call(&h2).cast(DType::F32).to_vec::<f32>(), want);
    // float16 ops are not grouped
    assert!(f.concrete_functions()[0].fused_groups().is_empty());

    // a tape around a jit replay records the plain replay: d/dx sum(tanh(2x)+1) = 2(1-tanh^2)
    let g = function(|x: &Tensor| ((x * 2.0).tanh() + 1.0).sum()).jit_compile(true);
    g.call(&rnd(&[3000], 7));
    let x = rnd(&[3000], 8);
    let tape = GradientTape::new();
    tape.watch(&x);
    let y = g.call(&x);
    let [dx] = tape.gradient(&y, [&x]);
    let want: Vec<f32> = x
        .to_vec::<f32>()
        .iter()
        .map(|v| 2.0 * (1.0 - (2.0 * v).tanh().powi(2)))
        .collect();
    assert_close(&dx.unwrap().to_vec::<f32>(), &want, 1e-5);
}

#[test]
fn fused_tanh_matches_eager_across_its_range() {
    // the fused tanh is a rational approximation: within 1e-6 of f32::tanh from 0 to saturation
    let f = function2(|a: &Tensor, b: &Tensor| (a * b).tanh()).jit_compile(true);
    let grid: Vec<f32> = (0..40001).map(|i| -20.0 + i as f32 * 1e-3).collect();
    let x = from_vec(grid.clone(), [grid.len()]).unwrap();
    let one = ones([1]);
    f.call((&x, &one));
    let got = f.call((&x, &one)).to_vec::<f32>();
    assert_eq!(f.concrete_functions()[0].fused_groups(), vec![2]);
    let worst = grid
        .iter()
        .zip(&got)
        .map(|(v, g)| (v.tanh() - g).abs())
        .fold(0f32, f32::max);
    println!("fused tanh: max abs diff from f32::tanh {worst:e}");
    assert!(worst <= 1e-6, "max abs diff {worst:e}");
}
