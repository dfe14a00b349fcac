//! Errors that teach: every error path's message names the op, the shapes (or dtypes) and the
//! likely fix. (How ops panic is checked in `panics.rs`.)
//!
//! References: the full expected message text, written out by hand.

use crate::common;

use common::{assert_contains, panic_message};
use ferrolab::prelude::*;
use ferrolab::tensor::{try_concat, try_stack, try_where};

/// Asserts that `r` is an error with exactly `want` as its message.
#[track_caller]
fn err<T>(r: Result<T>, want: &str) {
    match r {
        Ok(_) => panic!("expected the error {want:?}, got Ok"),
        Err(e) => assert_eq!(e.to_string(), want),
    }
}

// ---- messages -------------------------------------------------------------------------------

#[test]
fn shape_errors_name_the_op_both_shapes_and_the_fix() {
    let (a, b) = (zeros([2, 3]), zeros([4]));
    err(
        a.try_add(&b),
        "add: shapes (2, 3) and (4,) do not match: cannot broadcast: axis -1 has 3 vs 4 (sizes must be equal or 1, aligned from the right)",
    );
    err(
        zeros([3, 1, 5]).try_mul(zeros([4, 2])),
        "mul: shapes (3, 1, 5) and (4, 2) do not match: cannot broadcast: axis -1 has 5 vs 2 (sizes must be equal or 1, aligned from the right)",
    );
    err(
        zeros([0, 3]).try_sub(zeros([2, 3])),
        "sub: shapes (0, 3) and (2, 3) do not match: cannot broadcast: axis -2 has 0 vs 2 (sizes must be equal or 1, aligned from the right)",
    );
    err(
        zeros([32, 64]).try_matmul(&zeros([10, 64])),
        "matmul: shapes (32, 64) and (10, 64) do not match: inner dims 64 != 10; did you mean b.t()?",
    );
    err(
        zeros([64, 32]).try_matmul(&zeros([64, 10])),
        "matmul: shapes (64, 32) and (64, 10) do not match: inner dims 32 != 64; did you mean a.t()?",
    );
    err(
        zeros([3, 4]).try_matmul(&zeros([5, 6])),
        "matmul: shapes (3, 4) and (5, 6) do not match: inner dims 4 != 5 (a's last axis must equal b's second-to-last)",
    );
    err(
        zeros([2, 3, 4]).try_matmul(&zeros([3, 4, 5])),
        "matmul: shapes (2, 3, 4) and (3, 4, 5) do not match: batch axes (2,) and (3,) cannot broadcast (sizes must be equal or 1, aligned from the right)",
    );
    err(
        tensor(2.0).try_matmul(&zeros([3])),
        "matmul: shapes () and (3,): matmul needs at least 1-D operands; use * to scale by a scalar",
    );
    err(
        try_concat(&[&a, &zeros([3, 4])], 0),
        "concat: shapes (2, 3) and (3, 4) do not match: all axes except the concat axis (0) must match",
    );
    err(try_concat(&[], 0), "concat: needs at least one tensor");
    err(
        try_stack(&[&a, &b], 0),
        "stack: shapes (2, 3) and (4,) do not match: stack needs tensors of the same shape",
    );
    err(
        a.try_reshape([4, 2]),
        "reshape: cannot reshape (2, 3) (6 elements) to [4, 2]: that shape holds 8 elements",
    );
    err(
        a.try_broadcast_to([3, 3]),
        "broadcast_to: shapes (2, 3) and (3, 3) do not match: axis 0 has size 2, which is neither 1 nor 3",
    );
    err(
        try_where(&a.greater(0.0), &a, &b),
        "where: shapes (2, 3) and (4,) do not match: cannot broadcast: axis -1 has 3 vs 4 (sizes must be equal or 1, aligned from the right)",
    );
    err(
        Variable::new(zeros([2])).try_assign(&zeros([3])),
        "Variable.assign: shapes (2,) and (3,) do not match: a variable keeps its shape; create a new Variable to change it",
    );
    err(
        from_vec(vec![1.0f32], [2]),
        "from_vec: 1 values cannot fill shape (2,) (2 elements)",
    );
}

#[test]
fn axis_and_argument_errors() {
    let a = zeros([2, 3]);
    err(
        a.try_sum_axes(&[2], false),
        "sum: axis 2 is out of range for a tensor of rank 2 (valid: -2..2)",
    );
    err(
        a.try_mean_axes(&[-3], false),
        "mean: axis -3 is out of range for a tensor of rank 2 (valid: -2..2)",
    );
    err(
        a.try_sum_axes(&[0, -2], false),
        "sum: axis listed twice in [0, -2]",
    );
    err(
        a.try_transpose(0, 2),
        "transpose: axis 2 is out of range for a tensor of rank 2 (valid: -2..2)",
    );
    err(
        a.try_expand_dims(-4),
        "expand_dims: axis -4 is out of range for a tensor of rank 3 (valid: -3..3)",
    );
    err(
        a.try_squeeze(&[0]),
        "squeeze: axis 0 has size 2, not 1, in shape (2, 3)",
    );
    err(
        a.try_permute(&[0]),
        "permute: [0] is not a permutation of the 2 axes of a tensor of shape (2, 3)",
    );
    err(
        a.try_narrow(1, 2, 5),
        "narrow: range 2..7 is out of bounds for axis 1 of size 3",
    );
    err(
        a.try_split(0, 1),
        "split: axis 1 of size 3 cannot be split into 0 equal parts; use split_sizes",
    );
    err(
        a.try_split_sizes(&[1, 1], 1),
        "split: sizes [1, 1] add up to 2, but axis 1 has size 3",
    );
    err(
        try_concat(&[&a], 5),
        "concat: axis 5 is out of range for a tensor of rank 2 (valid: -2..2)",
    );
    err(
        try_stack(&[&a], 5),
        "stack: axis 5 is out of range for a tensor of rank 3 (valid: -3..3)",
    );
    err(
        a.try_clamp(1.0, 0.0),
        "clamp: lo (1) is greater than hi (0)",
    );
    err(
        try_arange(0.0, 1.0, 0.0),
        "arange: delta must be a non-zero number, got 0",
    );
    err(
        try_arange(0.0, f32::INFINITY, 1.0),
        "arange: the range from 0 to inf in steps of 1 is not finite",
    );
    err(
        zeros([1, 4, 4, 1]).try_conv2d(&zeros([2, 2, 1, 1]), (1, 1), "valid", (usize::MAX, 1)),
        &format!(
            "conv2d: a window of 2 with dilation {} is too large",
            usize::MAX
        ),
    );
    err(
        a.try_slice(s![2]),
        "slice: index 2 is out of range for axis 0 of size 2",
    );
    err(
        a.try_slice(s![.., 3]),
        "slice: index 3 is out of range for axis 1 of size 3",
    );
    err(
        a.try_slice(s![0, 0, 0]),
        "slice: 3 slice arguments for a tensor of rank 2 (shape (2, 3))",
    );
    err(
        a.try_slice(s![..;0]),
        "slice: step 0 on axis 0; steps must be at least 1",
    );
    err(
        a.try_to_scalar::<f32>(),
        "to_scalar: expected a tensor with one element, got shape (2, 3); reduce it first, e.g. .sum() or .mean()",
    );
    assert_contains(
        &panic_message(|| a.softmax(2)),
        &["softmax: axis 2 is out of range for a tensor of rank 2"],
    );
    assert_contains(
        &panic_message(|| a.log_softmax(-3)),
        &["log_softmax: axis -3 is out of range"],
    );
    assert_contains(
        &panic_message(|| a.logsumexp(4, true)),
        &["logsumexp: axis 4 is out of range"],
    );
    assert_contains(
        &panic_message(|| a.argmax(2)),
        &["argmax: axis 2 is out of range"],
    );
    assert_eq!(
        panic_message(|| zeros([0, 2]).max_axis(0, false)),
        "max: cannot reduce an empty tensor of shape (0, 2)"
    );
    // an empty output is not an error: max over the non-empty axis of an empty batch
    assert_eq!(zeros([0, 2]).max_axis(1, false).dims(), &[0]);
    assert_eq!(
        zeros([0, 4, 4, 1])
            .max_pool2d((2, 2), (2, 2), "valid")
            .dims(),
        &[0, 2, 2, 1]
    );
}

#[test]
fn dtype_errors_say_how_to_cast() {
    let (f, i) = (zeros([3]), tensor([1, 2, 3]));
    err(
        f.try_add(&i),
        "add: dtypes float32 and int64 do not match; cast one first, e.g. y.cast(DType::F32)",
    );
    err(
        i.try_mul(&f),
        "mul: dtypes int64 and float32 do not match; cast one first, e.g. x.cast(DType::F32)",
    );
    // a fractional number next to an int tensor is an error, not a silent truncation
    err(
        i.try_add(0.5),
        "add: dtypes int64 and float32 do not match; cast one first, e.g. x.cast(DType::F32)",
    );
    err(
        i.try_pow(0.5),
        "pow: dtypes int64 and float32 do not match; cast one first, e.g. x.cast(DType::F32)",
    );
    assert_eq!(
        panic_message(|| 2.5 * &i),
        "mul: dtypes float32 and int64 do not match; cast one first, e.g. y.cast(DType::F32)"
    );
    err(
        zeros([2, 2]).try_matmul(&zeros_dtype([2, 2], DType::F16)),
        "matmul: dtypes float32 and float16 do not match; cast one first, e.g. y.cast(DType::F32)",
    );
    err(
        try_concat(&[&f, &i], 0),
        "concat: dtypes float32 and int64 do not match; cast one first, e.g. y.cast(DType::F32)",
    );
    err(
        try_where(&f.greater(0.0), &f, &i),
        "where: dtypes float32 and int64 do not match; cast one first, e.g. y.cast(DType::F32)",
    );
    err(
        try_where(&f, &f, &f),
        "where: expected a bool condition, e.g. x.greater(0.0), got float32",
    );
    assert_eq!(
        panic_message(|| f.equal(&i)),
        "equal: dtypes float32 and int64 do not match; cast one first, e.g. y.cast(DType::F32)"
    );
    // ops that need floats, numbers or bools
    err(
        i.try_exp(),
        "exp: expected a float tensor, got int64; cast first, e.g. x.cast(DType::F32)",
    );
    err(
        tensor([true]).try_log(),
        "log: expected a numeric tensor, got bool; cast first, e.g. x.cast(DType::F32)",
    );
    err(
        tensor([true]).try_sub(tensor([false])),
        "sub: expected a numeric tensor, got bool; cast first, e.g. x.cast(DType::F32)",
    );
    assert_eq!(
        panic_message(|| tensor([true, false]).sum()),
        "sum: expected a numeric tensor, got bool; cast first, e.g. x.cast(DType::F32)"
    );
    assert_eq!(
        panic_message(|| tensor([true]).argmax(0)),
        "argmax: expected a numeric tensor, got bool; cast first, e.g. x.cast(DType::F32)"
    );
    assert_eq!(
        panic_message(|| i.softmax(0)),
        "softmax: expected a float tensor, got int64; cast first, e.g. x.cast(DType::F32)"
    );
    assert_eq!(
        panic_message(|| f.logical_and(&f)),
        "logical_and: expected bool tensors (e.g. x.greater(0.0) or x.cast(DType::Bool)), got float32"
    );
    assert_eq!(
        panic_message(|| i.logical_not()),
        "logical_not: expected bool tensors (e.g. x.greater(0.0) or x.cast(DType::Bool)), got int64"
    );
    err(
        zeros_dtype([2, 2], DType::Bool).try_matmul(&zeros_dtype([2, 2], DType::Bool)),
        "matmul: expected a numeric tensor, got bool; cast first, e.g. x.cast(DType::F32)",
    );
    err(
        f.try_gather(&tensor([0.0]), 0),
        "gather: expected int64 indices, e.g. tensor([0, 2]) or x.argmax(1), got float32",
    );
    err(
        f.try_to_vec::<i64>(),
        "to_vec: asked for i64 values of a float32 tensor; read it with to_vec::<f32>(), or cast it first, e.g. x.cast(DType::I64).to_vec::<i64>()",
    );
    err(
        tensor([f16::ONE]).try_to_vec::<f32>(),
        "to_vec: asked for f32 values of a float16 tensor; read it with to_vec::<f16>(), or cast it first, e.g. x.cast(DType::F32).to_vec::<f32>()",
    );
    assert_eq!(
        panic_message(|| one_hot(&f, 3)),
        "one_hot: expected int64 indices, got float32; cast with .cast(DType::I64)"
    );
    // integer and bool inputs that make sense still work: var of ints, mean of a mask
    assert_eq!(tensor([1, 3]).var().item(), 1.0);
    assert_eq!(tensor([true, false, true, true]).mean().item(), 0.75);
}

#[test]
fn conv_pool_and_gather_errors() {
    let x = zeros([1, 5, 5, 3]);
    err(
        x.try_conv2d(&zeros([3, 3, 2, 4]), (1, 1), "same", (1, 1)),
        "conv2d: shapes (1, 5, 5, 3) and (3, 3, 2, 4) do not match: the input has 3 channels (last axis, NHWC) but the filters expect 2; inputs are NHWC and filters (KH,KW,C,F)",
    );
    err(
        x.try_conv2d(&zeros([3, 3, 3, 4]), (1, 1), "full", (1, 1)),
        "conv2d: unknown padding \"full\"; use \"same\" or \"valid\"",
    );
    err(
        zeros([5, 5, 3]).try_conv2d(&zeros([3, 3, 3, 4]), (1, 1), "same", (1, 1)),
        "conv2d: expected a 4-D input (batch, height, width, channels), got shape (5, 5, 3); add a batch axis with x.expand_dims(0)",
    );
    err(
        x.try_conv2d(&zeros([3, 3, 3]), (1, 1), "same", (1, 1)),
        "conv2d: filters must be 4-D (height, width, in_channels, out_channels), got shape (3, 3, 3)",
    );
    err(
        zeros([1, 2, 2, 3]).try_conv2d(&zeros([3, 3, 3, 4]), (1, 1), "valid", (1, 1)),
        "conv2d: input size 2 is smaller than the (dilated) window 3 with padding \"valid\"; use \"same\" or a smaller window",
    );
    err(
        x.try_conv2d(&zeros([3, 3, 3, 4]), (1, 1), "valid", (3, 1)),
        "conv2d: input size 5 is smaller than the (dilated) window 7 with padding \"valid\"; use \"same\" or a smaller window",
    );
    err(
        x.try_conv2d(&zeros([3, 3, 3, 4]), (0, 1), "valid", (1, 1)),
        "conv2d: kernel size, strides and dilation must be at least 1",
    );
    err(
        x.try_conv2d(
            &zeros_dtype([3, 3, 3, 4], DType::F16),
            (1, 1),
            "same",
            (1, 1),
        ),
        "conv2d: dtypes float32 and float16 do not match; cast one first, e.g. y.cast(DType::F32)",
    );
    err(
        x.try_pool2d((2, 2), (2, 2), "x", true),
        "max_pool2d: unknown padding \"x\"; use \"same\" or \"valid\"",
    );
    err(
        zeros([5, 5]).try_pool2d((2, 2), (2, 2), "same", false),
        "avg_pool2d: expected a 4-D input (batch, height, width, channels), got shape (5, 5); add a batch axis with x.expand_dims(0)",
    );
    err(
        x.try_pool2d((0, 2), (2, 2), "valid", true),
        "max_pool2d: kernel size, strides and dilation must be at least 1",
    );
    err(
        zeros_dtype([1, 2, 2, 1], DType::Bool).try_pool2d((2, 2), (2, 2), "valid", true),
        "max_pool2d: expected a numeric tensor, got bool; cast first, e.g. x.cast(DType::F32)",
    );
    let p = zeros([2, 3]);
    err(
        p.try_gather(&tensor([0, 5]), 1),
        "gather: index 5 is out of range for axis 1 of size 3 (valid: 0..3)",
    );
    err(
        p.try_gather(&tensor([-1]), 0),
        "gather: index -1 is out of range for axis 0 of size 2 (valid: 0..2)",
    );
    err(
        p.try_gather(&tensor([0]), 2),
        "gather: axis 2 is out of range for a tensor of rank 2 (valid: -2..2)",
    );
    assert_eq!(
        panic_message(|| p.index_select(&tensor([[2]]), 0)),
        "gather: index 2 is out of range for axis 0 of size 2 (valid: 0..2)"
    );
}

#[test]
fn cuda_without_a_gpu_is_a_typed_error() {
    let Some(reason) = ferrolab::runtime::gpu_unavailable_reason() else {
        println!("skipped: a GPU is usable on this machine");
        return;
    };
    let want = &format!(
        "no CUDA device for cuda:0: {reason}. Use Device::Cpu, or run on a machine with an NVIDIA GPU"
    );
    let x = tensor([1.0, 2.0]);
    err(x.try_to(Device::Cuda(0)), want);
    assert!(matches!(
        x.try_to(Device::Cuda(0)),
        Err(Error::NoCudaDevice {
            requested: Device::Cuda(0),
            ..
        })
    ));
    err(
        full_on([2], 1.0, DType::F32, Device::Cuda(1)),
        &want.replace("cuda:0", "cuda:1"),
    );
    assert_eq!(&panic_message(|| x.to(Device::Cuda(0))), want);
    // moving to the CPU is a no-op
    assert!(x.to(Device::Cpu).shares_storage_with(&x));
}
