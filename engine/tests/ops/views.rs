//! Views and movement: reshape, permute/transpose/t, expand_dims/squeeze, slicing with `s!`,
//! narrow, broadcast_to, split/concat/stack. Views share storage with their source (so a
//! `Variable::assign` shows through a view taken before it), and every op family accepts strided
//! (non-contiguous), offset and broadcast (stride-0) inputs.
//!
//! References: hand-computed index arithmetic on `arange` data, and for strided inputs the same
//! op on a contiguous copy (whose values are checked against literals here too).

use crate::common;

use common::{assert_close, assert_contains, assert_tensor, panic_message, rnd};
use ferrolab::prelude::*;

/// 0, 1, ..., n-1 as float32 in `shape`.
fn iota(shape: &[usize]) -> Tensor {
    let n: usize = shape.iter().product();
    arange(0.0, n as f32, 1.0).reshape(shape.to_vec())
}

// ---- reshape, permute, transpose ------------------------------------------------------------

test_device!(reshape_infers_minus_one_and_shares_storage, |dev| {
    let x = iota(&[2, 3]).to(dev);
    let y = x.reshape([3, 2]);
    assert_tensor(&y, &[3, 2], &[0.0, 1.0, 2.0, 3.0, 4.0, 5.0], 0.0);
    assert!(y.shares_storage_with(&x));
    assert_eq!(x.reshape([-1]).dims(), &[6]);
    assert_eq!(x.reshape([3, -1]).dims(), &[3, 2]);
    assert_eq!(x.reshape([-1, 1, 2]).dims(), &[3, 1, 2]);
    assert_eq!(x.reshape(vec![6usize]).dims(), &[6]);
    assert_eq!(
        tensor([5.0]).to(dev).reshape([0usize; 0]).dims(),
        &[] as &[usize]
    );
    assert_eq!(zeros([0, 3]).to(dev).reshape([-1, 3]).dims(), &[0, 3]);
    // reshaping a transposed (strided) tensor copies, in row-major order of the view
    let t = x.t();
    let r = t.reshape([6]);
    assert_tensor(&r, &[6], &[0.0, 3.0, 1.0, 4.0, 2.0, 5.0], 0.0);
    assert!(!r.shares_storage_with(&x));
});

test_device!(reshape_errors_name_both_shapes, |dev| {
    let x = iota(&[2, 3]).to(dev);
    let e = x.try_reshape([4, 2]).unwrap_err().to_string();
    assert_eq!(
        e,
        "reshape: cannot reshape (2, 3) (6 elements) to [4, 2]: that shape holds 8 elements"
    );
    let e = x.try_reshape([-1, -1]).unwrap_err().to_string();
    assert_contains(
        &e,
        &[
            "reshape: cannot reshape (2, 3)",
            "only one dimension can be -1",
        ],
    );
    let e = x.try_reshape([4, -1]).unwrap_err().to_string();
    assert_contains(&e, &["to [4, -1]", "do not divide the element count"]);
    assert_eq!(
        panic_message(|| x.reshape([5])),
        x.try_reshape([5]).unwrap_err().to_string()
    );
});

test_device!(permute_transpose_and_t_are_views, |dev| {
    // x[i,j,k] = 12i + 4j + k;  y = x.permute([2,0,1])  =>  y[k,i,j] = x[i,j,k]
    let x = iota(&[2, 3, 4]).to(dev);
    let y = x.permute(&[2, 0, 1]);
    assert_eq!(y.dims(), &[4, 2, 3]);
    assert!(y.shares_storage_with(&x) && !y.is_contiguous());
    let yv = y.to_vec::<f32>();
    for k in 0..4 {
        for i in 0..2 {
            for j in 0..3 {
                assert_eq!(yv[k * 6 + i * 3 + j], (12 * i + 4 * j + k) as f32);
            }
        }
    }
    let m = iota(&[2, 3]).to(dev);
    assert_tensor(&m.t(), &[3, 2], &[0.0, 3.0, 1.0, 4.0, 2.0, 5.0], 0.0);
    assert_eq!(m.transpose(0, 1).to_vec::<f32>(), m.t().to_vec::<f32>());
    assert_eq!(m.transpose(-1, -2).to_vec::<f32>(), m.t().to_vec::<f32>());
    assert_eq!(m.t().t().to_vec::<f32>(), m.to_vec::<f32>());
    // t() swaps the last two axes of a batch, and leaves a vector alone
    assert_eq!(x.t().dims(), &[2, 4, 3]);
    assert_eq!(x.t().to_vec::<f32>(), x.permute(&[0, 2, 1]).to_vec::<f32>());
    let v = tensor([1.0, 2.0]).to(dev);
    assert_eq!(v.t().dims(), &[2]);
    assert_contains(
        &x.try_permute(&[0, 0, 1]).unwrap_err().to_string(),
        &["permute: [0, 0, 1] is not a permutation of the 3 axes of a tensor of shape (2, 3, 4)"],
    );
    assert_contains(
        &x.try_transpose(0, 3).unwrap_err().to_string(),
        &["transpose: axis 3 is out of range"],
    );
});

test_device!(expand_dims_and_squeeze, |dev| {
    let x = iota(&[2, 3]).to(dev);
    assert_eq!(x.expand_dims(0).dims(), &[1, 2, 3]);
    assert_eq!(x.expand_dims(1).dims(), &[2, 1, 3]);
    assert_eq!(x.expand_dims(-1).dims(), &[2, 3, 1]);
    assert_eq!(x.expand_dims(2).dims(), &[2, 3, 1]);
    assert!(x.expand_dims(0).shares_storage_with(&x));
    assert_eq!(x.expand_dims(1).to_vec::<f32>(), x.to_vec::<f32>());
    let y = zeros([1, 2, 1, 3]).to(dev);
    assert_eq!(y.squeeze(&[]).dims(), &[2, 3]);
    assert_eq!(y.squeeze(&[0]).dims(), &[2, 1, 3]);
    assert_eq!(y.squeeze(&[-2]).dims(), &[1, 2, 3]);
    assert_eq!(tensor([[4.0]]).to(dev).squeeze(&[]).dims(), &[] as &[usize]);
    assert_eq!(
        y.try_squeeze(&[1]).unwrap_err().to_string(),
        "squeeze: axis 1 has size 2, not 1, in shape (1, 2, 1, 3)"
    );
    assert_contains(
        &x.try_expand_dims(3).unwrap_err().to_string(),
        &["expand_dims: axis 3 is out of range"],
    );
});

// ---- slicing --------------------------------------------------------------------------------

#[test]
#[allow(clippy::reversed_empty_ranges)] // 7..=-1 and 5..2 are Python-style slices on purpose
fn slicing_with_ranges_steps_and_negative_indices() {
    // x[i,j,k] = 12i + 4j + k
    let x = iota(&[2, 3, 4]);
    let a = x.slice(s![.., 1..3, 0..;2]);
    // i in {0,1}, j in {1,2}, k in {0,2}
    assert_tensor(
        &a,
        &[2, 2, 2],
        &[4.0, 6.0, 8.0, 10.0, 16.0, 18.0, 20.0, 22.0],
        0.0,
    );
    assert!(a.shares_storage_with(&x));
    // a single index drops its axis; negative indices count from the end
    assert_tensor(
        &x.slice(s![-1]),
        &[3, 4],
        &(12..24).map(|v| v as f32).collect::<Vec<_>>(),
        0.0,
    );
    assert_tensor(&x.slice(s![1, .., -1]), &[3], &[15.0, 19.0, 23.0], 0.0);
    assert_tensor(&x.slice(s![0, 2, 3]), &[], &[11.0], 0.0);
    let v = arange(0.0, 10.0, 1.0);
    assert_tensor(&v.slice(s![..;3]), &[4], &[0.0, 3.0, 6.0, 9.0], 0.0);
    assert_tensor(&v.slice(s![1..;4]), &[3], &[1.0, 5.0, 9.0], 0.0);
    assert_tensor(&v.slice(s![-3..-1]), &[2], &[7.0, 8.0], 0.0);
    assert_tensor(&v.slice(s![-3..]), &[3], &[7.0, 8.0, 9.0], 0.0);
    assert_tensor(&v.slice(s![..-8]), &[2], &[0.0, 1.0], 0.0);
    assert_tensor(&v.slice(s![2..=4]), &[3], &[2.0, 3.0, 4.0], 0.0);
    assert_tensor(&v.slice(s![7..=-1]), &[3], &[7.0, 8.0, 9.0], 0.0);
    assert_tensor(&v.slice(s![..=-2;4]), &[3], &[0.0, 4.0, 8.0], 0.0);
    // out-of-range range ends clamp, as in Python; backwards ranges are empty
    assert_tensor(&v.slice(s![8..100]), &[2], &[8.0, 9.0], 0.0);
    assert_eq!(v.slice(s![20..]).dims(), &[0]);
    assert_eq!(v.slice(s![5..2]).dims(), &[0]);
    assert_eq!(v.slice(s![-100..2]).to_vec::<f32>(), vec![0.0, 1.0]);
    // slicing a slice composes
    let b = x.slice(s![.., ..;2]).slice(s![1, 1, 1..3]);
    // i = 1, j = 2, k in {1, 2}
    assert_tensor(&b, &[2], &[21.0, 22.0], 0.0);
    assert_tensor(&x.get(1).get(0), &[4], &[12.0, 13.0, 14.0, 15.0], 0.0);
}

test_device!(slicing_empty_results_and_empty_tensors, |dev| {
    let e = zeros([0, 3]).to(dev);
    assert_eq!(e.slice(s![.., 1..]).dims(), &[0, 2]);
    let c = e.slice(s![.., 2]);
    assert_eq!(c.dims(), &[0]);
    assert_eq!(c.to_vec::<f32>(), Vec::<f32>::new());
    assert_eq!((&c + 1.0).dims(), &[0]);
    let v = iota(&[3, 4]).to(dev).slice(s![3.., 1]);
    assert_eq!(v.dims(), &[0]);
    assert_eq!(v.sum().item(), 0.0);
});

test_device!(slicing_errors_say_which_axis_and_size, |dev| {
    let x = iota(&[2, 3]).to(dev);
    assert_eq!(
        x.try_slice(s![2]).unwrap_err().to_string(),
        "slice: index 2 is out of range for axis 0 of size 2"
    );
    assert_eq!(
        x.try_slice(s![.., -4]).unwrap_err().to_string(),
        "slice: index -4 is out of range for axis 1 of size 3"
    );
    assert_contains(
        &x.try_slice(s![0, 0, 0]).unwrap_err().to_string(),
        &["slice: 3 slice arguments for a tensor of rank 2 (shape (2, 3))"],
    );
    assert_contains(
        &x.try_slice(s![..;0]).unwrap_err().to_string(),
        &["slice: step 0 on axis 0"],
    );
    assert_eq!(
        panic_message(|| x.slice(s![5])),
        "slice: index 5 is out of range for axis 0 of size 2"
    );
    assert_eq!(
        panic_message(|| x.get(9)),
        "slice: index 9 is out of range for axis 0 of size 2"
    );
});

test_device!(narrow_and_broadcast_to, |dev| {
    let x = iota(&[3, 4]).to(dev);
    let n = x.narrow(1, 1, 2);
    assert_tensor(&n, &[3, 2], &[1.0, 2.0, 5.0, 6.0, 9.0, 10.0], 0.0);
    assert!(n.shares_storage_with(&x));
    assert_tensor(&x.narrow(-2, 2, 1), &[1, 4], &[8.0, 9.0, 10.0, 11.0], 0.0);
    assert_eq!(x.narrow(0, 3, 0).dims(), &[0, 4]);
    assert_eq!(
        x.try_narrow(0, 2, 2).unwrap_err().to_string(),
        "narrow: range 2..4 is out of bounds for axis 0 of size 3"
    );
    let r = tensor([1.0, 2.0, 3.0]).to(dev);
    let b = r.broadcast_to([2, 3]);
    assert_tensor(&b, &[2, 3], &[1.0, 2.0, 3.0, 1.0, 2.0, 3.0], 0.0);
    assert!(b.shares_storage_with(&r));
    let c = tensor([[1.0], [2.0]]).to(dev).broadcast_to([2, 2, 3]);
    assert_tensor(
        &c,
        &[2, 2, 3],
        &[1., 1., 1., 2., 2., 2., 1., 1., 1., 2., 2., 2.],
        0.0,
    );
    assert_eq!(
        tensor(5.0).to(dev).broadcast_to([2]).to_vec::<f32>(),
        vec![5.0, 5.0]
    );
    assert_contains(
        &r.try_broadcast_to([2, 4]).unwrap_err().to_string(),
        &[
            "broadcast_to: shapes (3,) and (2, 4) do not match",
            "neither 1 nor 4",
        ],
    );
    assert_contains(
        &x.try_broadcast_to([4]).unwrap_err().to_string(),
        &["broadcast_to: shapes (3, 4) and (4,) do not match: the target has fewer axes"],
    );
});

// ---- split, concat, stack -------------------------------------------------------------------

test_device!(split_concat_and_stack, |dev| {
    let x = iota(&[2, 6]).to(dev);
    let parts = x.split(3, 1);
    assert_eq!(parts.len(), 3);
    assert_tensor(&parts[1], &[2, 2], &[2.0, 3.0, 8.0, 9.0], 0.0);
    assert!(parts.iter().all(|p| p.shares_storage_with(&x)));
    let sized = x.split_sizes(&[1, 5], -1);
    assert_tensor(&sized[0], &[2, 1], &[0.0, 6.0], 0.0);
    assert_eq!(sized[1].dims(), &[2, 5]);
    let rows = x.split(2, 0);
    assert_tensor(&rows[1], &[1, 6], &[6.0, 7.0, 8.0, 9.0, 10.0, 11.0], 0.0);
    // concat puts the parts back
    let refs: Vec<&Tensor> = parts.iter().collect();
    let back = concat(&refs, 1);
    assert_tensor(&back, &[2, 6], &x.to_vec::<f32>(), 0.0);
    assert!(!back.shares_storage_with(&x));
    let a = tensor([[1.0, 2.0]]).to(dev);
    let b = tensor([[3.0, 4.0], [5.0, 6.0]]).to(dev);
    assert_tensor(
        &concat(&[&a, &b], 0),
        &[3, 2],
        &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
        0.0,
    );
    assert_tensor(
        &concat(&[&b, &b.t()], -1),
        &[2, 4],
        &[3., 4., 3., 5., 5., 6., 4., 6.],
        0.0,
    );
    // stack adds an axis
    let (p, q) = (tensor([1.0, 2.0]).to(dev), tensor([3.0, 4.0]).to(dev));
    assert_tensor(&stack(&[&p, &q], 0), &[2, 2], &[1.0, 2.0, 3.0, 4.0], 0.0);
    assert_tensor(&stack(&[&p, &q], 1), &[2, 2], &[1.0, 3.0, 2.0, 4.0], 0.0);
    assert_tensor(
        &stack(&[&p, &q, &p], -1),
        &[2, 3],
        &[1.0, 3.0, 1.0, 2.0, 4.0, 2.0],
        0.0,
    );
    let ints = stack(&[&tensor([1, 2]).to(dev), &tensor([3, 4]).to(dev)], 0);
    assert_eq!(ints.to_vec::<i64>(), vec![1, 2, 3, 4]);
    assert_eq!(
        x.try_split(4, 1).unwrap_err().to_string(),
        "split: axis 1 of size 6 cannot be split into 4 equal parts; use split_sizes"
    );
    assert_eq!(
        x.try_split_sizes(&[2, 2], 1).unwrap_err().to_string(),
        "split: sizes [2, 2] add up to 4, but axis 1 has size 6"
    );
});

// ---- gather, one_hot ------------------------------------------------------------------------

test_device!(gather_index_select_and_one_hot, |dev| {
    // x[i,j] = 4i + j
    let x = iota(&[3, 4]).to(dev);
    // rows 2 and 0, indices keep their shape: params (3,4), indices (1,2) on axis 0 -> (1,2,4)
    let rows = x.gather(&tensor([[2, 0]]).to(dev), 0);
    assert_tensor(&rows, &[1, 2, 4], &[8., 9., 10., 11., 0., 1., 2., 3.], 0.0);
    // columns by a (2,2) index on axis 1 -> (3,2,2): out[i,a,b] = x[i, idx[a,b]]
    let cols = x.gather(&tensor([[3, 1], [0, 0]]).to(dev), 1);
    let want: Vec<f32> = (0..3)
        .flat_map(|i| [3, 1, 0, 0].map(|j| (4 * i + j) as f32))
        .collect();
    assert_tensor(&cols, &[3, 2, 2], &want, 0.0);
    assert_tensor(
        &x.index_select(&tensor([1, 1]).to(dev), -2),
        &[2, 4],
        &[4., 5., 6., 7., 4., 5., 6., 7.],
        0.0,
    );
    // a rank-0 index drops the axis; an empty index gives an empty axis
    assert_tensor(
        &x.gather(&tensor(1).to(dev), 1),
        &[3],
        &[1.0, 5.0, 9.0],
        0.0,
    );
    assert_eq!(
        x.gather(&tensor(Vec::<i64>::new()).to(dev), 0).dims(),
        &[0, 4]
    );
    // any dtype can be gathered
    let b = tensor([[true, false], [false, false]]).to(dev);
    assert_eq!(
        b.gather(&tensor([1, 0]).to(dev), 1).to_vec::<bool>(),
        vec![false, true, false, false]
    );
    assert_eq!(
        tensor([10, 20, 30])
            .to(dev)
            .gather(&tensor([2, 2, 0]).to(dev), 0)
            .to_vec::<i64>(),
        vec![30, 30, 10]
    );
    // one_hot: float32 rows with a 1 at each index; an index outside 0..depth gives zeros (as TF)
    let oh = one_hot(&tensor([0, 2, 1, 3]).to(dev), 3);
    assert_eq!((oh.dims(), oh.dtype()), (&[4usize, 3][..], DType::F32));
    assert_eq!(
        oh.to_vec::<f32>(),
        vec![1., 0., 0., 0., 0., 1., 0., 1., 0., 0., 0., 0.]
    );
    assert_eq!(one_hot(&tensor([[1], [0]]).to(dev), 2).dims(), &[2, 1, 2]);
});

// ---- aliasing -------------------------------------------------------------------------------

test_device!(variable_assign_shows_through_views_taken_before, |dev| {
    let v = Variable::new(iota(&[2, 3]).to(dev));
    let row = v.slice(s![1]);
    let col = v.t().slice(s![.., 0]); // column 0 of the transpose: row 0 of v
    let col0 = v.slice(s![.., 0]); // column 0 of v: v[0,0], v[1,0]
    let flat = v.reshape([6]);
    let wide = v.slice(s![0..1]).broadcast_to([3, 3]);
    assert!(row.shares_storage_with(&v) && flat.shares_storage_with(&v));
    assert_eq!(row.to_vec::<f32>(), vec![3.0, 4.0, 5.0]);
    v.assign(tensor([[10.0, 11.0, 12.0], [13.0, 14.0, 15.0]]).to(dev));
    assert_eq!(row.to_vec::<f32>(), vec![13.0, 14.0, 15.0]);
    assert_eq!(col.to_vec::<f32>(), vec![10.0, 11.0, 12.0]);
    assert_eq!(col0.to_vec::<f32>(), vec![10.0, 13.0]);
    assert_eq!(
        flat.to_vec::<f32>(),
        vec![10.0, 11.0, 12.0, 13.0, 14.0, 15.0]
    );
    assert_eq!(wide.to_vec::<f32>(), [10.0, 11.0, 12.0].repeat(3));
    v.assign_add(ones([2, 3]).to(dev));
    assert_eq!(row.to_vec::<f32>(), vec![14.0, 15.0, 16.0]);
    // read_value is a snapshot, contiguous() of a contiguous tensor is itself
    let snap = v.read_value();
    v.assign_sub(full([2, 3], 4.0).to(dev));
    assert_eq!(
        snap.to_vec::<f32>(),
        vec![11.0, 12.0, 13.0, 14.0, 15.0, 16.0]
    );
    assert_eq!(v.to_vec::<f32>(), vec![7.0, 8.0, 9.0, 10.0, 11.0, 12.0]);
    assert!(!snap.shares_storage_with(&v));
    assert!(v.contiguous().shares_storage_with(&v));
    assert!(!v.t().contiguous().shares_storage_with(&v));
    // assigning from a view of the variable itself (overlapping memory) reads before writing
    v.assign(v.slice(s![1..2]).broadcast_to([2, 3]));
    assert_eq!(v.to_vec::<f32>(), vec![10.0, 11.0, 12.0, 10.0, 11.0, 12.0]);
    v.assign(v.t().t() * 2.0);
    assert_eq!(v.to_vec::<f32>(), vec![20.0, 22.0, 24.0, 20.0, 22.0, 24.0]);
    assert_eq!(row.to_vec::<f32>(), vec![20.0, 22.0, 24.0]);
});

// ---- strided inputs into every op family ----------------------------------------------------

/// Checks `op` on a strided view against `op` on a contiguous copy of the same values.
#[track_caller]
fn same_on_copy(view: &Tensor, op: impl Fn(&Tensor) -> Tensor) {
    let copy = view.contiguous();
    assert!(copy.is_contiguous() && !copy.shares_storage_with(view));
    let (a, b) = (op(view), op(&copy));
    assert_eq!(a.dims(), b.dims());
    assert_close(&a.to_f32_vec(), &b.to_f32_vec(), 1e-6);
}

test_device!(
    strided_offset_and_broadcast_inputs_into_every_op_family,
    |dev| {
        let base = rnd(&[4, 6], 1).to(dev);
        let views = [
            base.t(),                                   // transposed
            base.slice(s![1..4, 1..;2]),                // offset + step
            base.slice(s![2]).broadcast_to([3, 6]),     // stride 0
            base.permute(&[1, 0]).slice(s![..;2, 1..]), // both
        ];
        for v in &views {
            assert!(!v.is_contiguous());
            same_on_copy(v, |x| x.exp());
            same_on_copy(v, |x| x.relu().sqrt());
            same_on_copy(v, |x| x * x + 1.0);
            same_on_copy(v, |x| x - &x.t().t()); // both operands strided
            same_on_copy(v, |x| x.greater(0.0).cast(DType::F32));
            same_on_copy(v, |x| where_(&x.less(0.0), x, &x.neg()));
            same_on_copy(v, |x| x.cast(DType::F16).cast(DType::F32));
            same_on_copy(v, |x| x.cast(DType::I64));
            same_on_copy(v, |x| x.sum_axis(0, false));
            same_on_copy(v, |x| x.max_axis(1, true));
            same_on_copy(v, |x| x.argmax(0));
            same_on_copy(v, |x| x.mean());
            same_on_copy(v, |x| x.softmax(-1));
            same_on_copy(v, |x| x.matmul(&x.t()));
            same_on_copy(v, |x| x.t().matmul(x));
            same_on_copy(v, |x| x.gather(&tensor([1, 0, 1]).to(dev), 1));
            same_on_copy(v, |x| concat(&[x, x], 0));
            same_on_copy(v, |x| stack(&[x, x], 1));
            same_on_copy(v, |x| x.slice(s![.., 1..;2]));
            same_on_copy(v, |x| x.reshape([-1]));
            same_on_copy(v, |x| {
                x.expand_dims(0).expand_dims(-1).conv2d(
                    &ones([2, 2, 1, 2]).to(dev),
                    (1, 1),
                    "same",
                    (1, 1),
                )
            });
            same_on_copy(v, |x| {
                x.expand_dims(0)
                    .expand_dims(-1)
                    .max_pool2d((2, 2), (1, 1), "valid")
            });
            same_on_copy(v, |x| {
                x.expand_dims(0)
                    .expand_dims(-1)
                    .avg_pool2d((2, 2), (2, 2), "same")
            });
        }
        // NHWC conv on a permuted NCHW-stored tensor
        let nchw = rnd(&[1, 2, 5, 5], 2).to(dev);
        let nhwc = nchw.permute(&[0, 2, 3, 1]);
        same_on_copy(&nhwc, |x| {
            x.conv2d(&rnd(&[3, 3, 2, 4], 3).to(dev), (2, 2), "same", (1, 1))
        });
        // a strided gradient flows back in the source's layout: d/dx sum(x^T * w) = w^T
        let x = rnd(&[2, 3], 4).to(dev);
        let w = rnd(&[3, 2], 5).to(dev);
        let tape = GradientTape::new();
        tape.watch(&x);
        let y = (x.t() * &w).sum();
        let [g] = tape.gradient(&y, [&x]);
        assert_close(
            &g.unwrap().to_vec::<f32>(),
            &w.t().contiguous().to_vec::<f32>(),
            0.0,
        );
    }
);
