//! How misuse panics: panicking ops panic with exactly their `try_*` twin's message, at the
//! caller's line (`#[track_caller]`), and no misuse ends in an index-out-of-bounds, an `unwrap`
//! or an arithmetic-overflow panic inside the engine.
//!
//! References: the `try_*` twin's error text, `line!()` of the call, and a list of panic texts
//! that only engine bugs produce.

use crate::common;

use std::cell::{Cell, RefCell};
use std::panic::{catch_unwind, AssertUnwindSafe};

use common::panic_message;
use ferrolab::prelude::*;
use ferrolab::tensor::{try_concat, try_stack, try_where};

// ---- panics mirror the try_* twins ----------------------------------------------------------

#[test]
fn panicking_ops_panic_with_their_try_twins_message() {
    let (a, b, i) = (zeros([2, 3]), zeros([4]), tensor([1, 2]));
    let x4 = zeros([1, 4, 4, 2]);
    #[allow(clippy::type_complexity)]
    let pairs: Vec<(&str, Box<dyn Fn() -> Error>, Box<dyn Fn()>)> = vec![
        (
            "add",
            Box::new(|| a.try_add(&b).unwrap_err()),
            Box::new(|| drop(&a + &b)),
        ),
        (
            "sub",
            Box::new(|| a.try_sub(&i).unwrap_err()),
            Box::new(|| drop(&a - &i)),
        ),
        (
            "mul",
            Box::new(|| b.try_mul(&a).unwrap_err()),
            Box::new(|| drop(b.clone() * &a)),
        ),
        (
            "div",
            Box::new(|| a.try_div(&b).unwrap_err()),
            Box::new(|| drop(&a / b.clone())),
        ),
        (
            "maximum",
            Box::new(|| a.try_maximum(&b).unwrap_err()),
            Box::new(|| drop(a.maximum(&b))),
        ),
        (
            "minimum",
            Box::new(|| a.try_minimum(&i).unwrap_err()),
            Box::new(|| drop(a.minimum(&i))),
        ),
        (
            "pow",
            Box::new(|| a.try_pow(&b).unwrap_err()),
            Box::new(|| drop(a.pow(&b))),
        ),
        (
            "matmul",
            Box::new(|| a.try_matmul(&a).unwrap_err()),
            Box::new(|| drop(a.matmul(&a))),
        ),
        (
            "reshape",
            Box::new(|| a.try_reshape([5]).unwrap_err()),
            Box::new(|| drop(a.reshape([5]))),
        ),
        (
            "permute",
            Box::new(|| a.try_permute(&[1]).unwrap_err()),
            Box::new(|| drop(a.permute(&[1]))),
        ),
        (
            "transpose",
            Box::new(|| a.try_transpose(0, 5).unwrap_err()),
            Box::new(|| drop(a.transpose(0, 5))),
        ),
        (
            "expand_dims",
            Box::new(|| a.try_expand_dims(9).unwrap_err()),
            Box::new(|| drop(a.expand_dims(9))),
        ),
        (
            "squeeze",
            Box::new(|| a.try_squeeze(&[1]).unwrap_err()),
            Box::new(|| drop(a.squeeze(&[1]))),
        ),
        (
            "slice",
            Box::new(|| a.try_slice(s![.., 7]).unwrap_err()),
            Box::new(|| drop(a.slice(s![.., 7]))),
        ),
        (
            "narrow",
            Box::new(|| a.try_narrow(0, 1, 2).unwrap_err()),
            Box::new(|| drop(a.narrow(0, 1, 2))),
        ),
        (
            "broadcast_to",
            Box::new(|| a.try_broadcast_to([4]).unwrap_err()),
            Box::new(|| drop(a.broadcast_to([4]))),
        ),
        (
            "gather",
            Box::new(|| a.try_gather(&i, 0).unwrap_err()),
            Box::new(|| drop(a.gather(&i, 0))),
        ),
        (
            "split",
            Box::new(|| a.try_split(2, 1).unwrap_err()),
            Box::new(|| drop(a.split(2, 1))),
        ),
        (
            "split_sizes",
            Box::new(|| a.try_split_sizes(&[4], 1).unwrap_err()),
            Box::new(|| drop(a.split_sizes(&[4], 1))),
        ),
        (
            "concat",
            Box::new(|| try_concat(&[&a, &b], 0).unwrap_err()),
            Box::new(|| drop(concat(&[&a, &b], 0))),
        ),
        (
            "stack",
            Box::new(|| try_stack(&[&a, &b], 0).unwrap_err()),
            Box::new(|| drop(stack(&[&a, &b], 0))),
        ),
        (
            "where",
            Box::new(|| try_where(&a, &a, &a).unwrap_err()),
            Box::new(|| drop(where_(&a, &a, &a))),
        ),
        (
            "sum",
            Box::new(|| a.try_sum_axes(&[3], true).unwrap_err()),
            Box::new(|| drop(a.sum_axes(&[3], true))),
        ),
        (
            "mean",
            Box::new(|| a.try_mean_axes(&[3], true).unwrap_err()),
            Box::new(|| drop(a.mean_axes(&[3], true))),
        ),
        (
            "clamp",
            Box::new(|| a.try_clamp(2.0, 1.0).unwrap_err()),
            Box::new(|| drop(a.clamp(2.0, 1.0))),
        ),
        (
            "exp",
            Box::new(|| i.try_exp().unwrap_err()),
            Box::new(|| drop(i.exp())),
        ),
        (
            "cast",
            Box::new(|| i.try_to_vec::<f32>().unwrap_err()),
            Box::new(|| drop(i.to_vec::<f32>())),
        ),
        (
            "to_scalar",
            Box::new(|| a.try_to_scalar::<f32>().unwrap_err()),
            Box::new(|| {
                let _ = a.to_scalar::<f32>();
            }),
        ),
        (
            "tensor",
            Box::new(|| try_tensor(vec![vec![1], vec![]]).unwrap_err()),
            Box::new(|| drop(tensor(vec![vec![1], vec![]]))),
        ),
        (
            "arange",
            Box::new(|| try_arange(0.0, 1.0, -0.0).unwrap_err()),
            Box::new(|| drop(arange(0.0, 1.0, -0.0))),
        ),
        (
            "to",
            Box::new(|| a.try_to(Device::Cuda(3)).unwrap_err()),
            Box::new(|| drop(a.to(Device::Cuda(3)))),
        ),
        (
            "conv2d",
            Box::new(|| {
                x4.try_conv2d(&zeros([2, 2, 3, 1]), (1, 1), "same", (1, 1))
                    .unwrap_err()
            }),
            Box::new(|| drop(x4.conv2d(&zeros([2, 2, 3, 1]), (1, 1), "same", (1, 1)))),
        ),
        (
            "max_pool2d",
            Box::new(|| x4.try_pool2d((5, 5), (1, 1), "valid", true).unwrap_err()),
            Box::new(|| drop(x4.max_pool2d((5, 5), (1, 1), "valid"))),
        ),
        (
            "avg_pool2d",
            Box::new(|| x4.try_pool2d((1, 1), (1, 1), "nope", false).unwrap_err()),
            Box::new(|| drop(x4.avg_pool2d((1, 1), (1, 1), "nope"))),
        ),
        (
            "assign",
            Box::new(|| Variable::new(zeros([2])).try_assign(&a).unwrap_err()),
            Box::new(|| Variable::new(zeros([2])).assign(&a)),
        ),
    ];
    for (name, try_op, op) in &pairs {
        let want = try_op().to_string();
        assert_eq!(panic_message(op), want, "{name}");
    }
    println!(
        "{} panicking ops checked against their try_* twins",
        pairs.len()
    );
}

thread_local! {
    static CAPTURE: Cell<bool> = const { Cell::new(false) };
    static LOCATION: RefCell<Option<(String, u32)>> = const { RefCell::new(None) };
}

#[test]
fn panics_point_at_the_callers_line() {
    // A hook that records where this thread's panics happen and leaves other threads' alone.
    let prev = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if CAPTURE.with(|c| c.get()) {
            let loc = info.location().map(|l| (l.file().to_string(), l.line()));
            LOCATION.with(|l| *l.borrow_mut() = loc);
        } else {
            prev(info)
        }
    }));
    let (a, b) = (zeros([2, 3]), zeros([4]));
    let where_did = |f: &dyn Fn()| {
        CAPTURE.with(|c| c.set(true));
        let r = catch_unwind(AssertUnwindSafe(f));
        CAPTURE.with(|c| c.set(false));
        assert!(r.is_err());
        LOCATION
            .with(|l| l.borrow_mut().take())
            .expect("a panic location")
    };
    // (the line of the call, the call)
    macro_rules! at {
        ($e:expr) => {
            (line!(), Box::new(|| drop($e)) as Box<dyn Fn()>)
        };
    }
    let cases = [
        at!(&a + &b),
        at!(a.matmul(&a)),
        at!(a.reshape([7])),
        at!(a.slice(s![5])),
        at!(a.sum_axis(4, false)),
        at!(a.to_vec::<i64>()),
        at!(concat(&[&a, &b], 0)),
        at!(a.conv2d(&a, (1, 1), "same", (1, 1))),
    ];
    for (line, f) in &cases {
        let (file, l) = where_did(f.as_ref());
        assert!(
            file.ends_with("panics.rs") && l == *line,
            "panicked at {file}:{l}, expected panics.rs:{line}"
        );
    }
}

// ---- no panic is an index-out-of-bounds or an unwrap ----------------------------------------

/// Runs `f`; when it panics, the message must be one of ours (it names an op) rather than a
/// bounds check, an unwrap, an overflow or an unreachable.
#[track_caller]
fn no_internal_panic(what: &str, f: impl FnOnce()) {
    let Err(e) = catch_unwind(AssertUnwindSafe(f)) else {
        return;
    };
    let msg = e
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default();
    let internal = [
        "index out of bounds",
        "out of range for slice",
        "called `Option::unwrap()`",
        "called `Result::unwrap()`",
        "with overflow",
        "capacity overflow",
        "unreachable",
    ];
    for bad in internal {
        assert!(!msg.contains(bad), "{what}: internal panic {msg:?}");
    }
    let op = msg.split(':').next().unwrap_or("");
    assert!(
        !op.is_empty() && op.len() < 40 && !msg.starts_with(' '),
        "{what}: the message {msg:?} should start with the op's name"
    );
}

/// A named misuse.
type Case<'a> = (&'static str, Box<dyn FnOnce() + 'a>);

#[test]
fn misuse_never_panics_inside_the_engine() {
    let e = zeros([0, 3]);
    let s = tensor(2.0);
    let m = zeros([2, 3]);
    let b = tensor([true, false]);
    let i = tensor([1, -2]);
    let img = zeros([1, 3, 3, 2]);
    let cases: Vec<Case> = vec![
        ("empty max", Box::new(|| drop(e.max()))),
        ("empty argmin", Box::new(|| drop(e.argmin(0)))),
        ("empty mean", Box::new(|| drop(e.mean_axis(0, false)))),
        ("empty softmax", Box::new(|| drop(e.softmax(0)))),
        ("empty matmul", Box::new(|| drop(e.matmul(&e.t())))),
        (
            "empty slice index",
            Box::new(|| drop(e.slice(s![.., -1]).to_vec::<f32>())),
        ),
        ("empty gather", Box::new(|| drop(e.gather(&tensor([0]), 0)))),
        (
            "empty gather ok",
            Box::new(|| drop(m.gather(&tensor(Vec::<i64>::new()), 1).to_vec::<f32>())),
        ),
        (
            "empty concat",
            Box::new(|| drop(concat(&[&e, &e], 0).to_vec::<f32>())),
        ),
        (
            "empty conv",
            Box::new(|| {
                drop(zeros([0, 3, 3, 2]).conv2d(&zeros([2, 2, 2, 1]), (1, 1), "same", (1, 1)))
            }),
        ),
        (
            "empty var",
            Box::new(|| {
                let _ = e.var().item();
            }),
        ),
        ("scalar t", Box::new(|| drop(s.t()))),
        ("scalar get", Box::new(|| drop(s.get(0)))),
        ("scalar argmax", Box::new(|| drop(s.argmax(0)))),
        ("scalar softmax", Box::new(|| drop(s.softmax(0)))),
        ("scalar squeeze", Box::new(|| drop(s.squeeze(&[0])))),
        (
            "scalar gather",
            Box::new(|| drop(s.gather(&tensor([0]), 0))),
        ),
        ("scalar concat", Box::new(|| drop(concat(&[&s, &s], 0)))),
        (
            "scalar stack",
            Box::new(|| drop(stack(&[&s, &s], 0).to_vec::<f32>())),
        ),
        (
            "scalar pool",
            Box::new(|| drop(s.max_pool2d((1, 1), (1, 1), "same"))),
        ),
        ("scalar flatten", Box::new(|| drop(s.flatten_batch()))),
        ("scalar split", Box::new(|| drop(s.split(1, 0)))),
        ("to_vec2 of a vector", Box::new(|| drop(i.to_vec2::<i64>()))),
        ("bool matmul", Box::new(|| drop(b.matmul(&b)))),
        (
            "bool gather",
            Box::new(|| drop(b.gather(&tensor([1, 0]), 0).to_vec::<bool>())),
        ),
        ("bool index", Box::new(|| drop(m.gather(&b, 0)))),
        (
            "bool where",
            Box::new(|| drop(where_(&b, &b, &b.logical_not()))),
        ),
        ("bool pow", Box::new(|| drop(b.pow(&b)))),
        ("bool clamp", Box::new(|| drop(b.clamp(0.0, 1.0)))),
        (
            "bool conv",
            Box::new(|| {
                drop(zeros_dtype([1, 2, 2, 1], DType::Bool).conv2d(
                    &zeros_dtype([1, 1, 1, 1], DType::Bool),
                    (1, 1),
                    "same",
                    (1, 1),
                ))
            }),
        ),
        (
            "int pool",
            Box::new(|| {
                drop(zeros_dtype([1, 2, 2, 1], DType::I64).avg_pool2d((2, 2), (1, 1), "same"))
            }),
        ),
        ("int softmax", Box::new(|| drop(i.log_softmax(0)))),
        ("int gelu", Box::new(|| drop(i.gelu()))),
        ("int pow float", Box::new(|| drop(i.pow(0.5)))),
        ("int div zero", Box::new(|| drop((&i / 0).to_vec::<i64>()))),
        (
            "int min rem",
            Box::new(|| drop((tensor([i64::MIN]) / &tensor([-1])).to_vec::<i64>())),
        ),
        (
            "huge gather index",
            Box::new(|| drop(m.gather(&tensor([i64::MAX]), 1))),
        ),
        (
            "huge negative gather",
            Box::new(|| drop(m.gather(&tensor([i64::MIN]), 0))),
        ),
        ("huge slice", Box::new(|| drop(m.slice(s![isize::MAX..])))),
        (
            "huge negative slice",
            Box::new(|| {
                drop(
                    m.slice(s![isize::MIN..isize::MAX; usize::MAX])
                        .to_vec::<f32>(),
                )
            }),
        ),
        ("huge index", Box::new(|| drop(m.slice(s![isize::MIN])))),
        ("huge narrow", Box::new(|| drop(m.narrow(1, usize::MAX, 2)))),
        (
            "huge split sizes",
            Box::new(|| drop(m.split_sizes(&[usize::MAX, 4], 1))),
        ),
        (
            "huge axis",
            Box::new(|| drop(m.sum_axis(isize::MIN, false))),
        ),
        (
            "huge transpose",
            Box::new(|| drop(m.transpose(isize::MAX, 0))),
        ),
        ("huge expand", Box::new(|| drop(m.expand_dims(isize::MIN)))),
        (
            "huge stride",
            Box::new(|| drop(img.max_pool2d((1, 1), (usize::MAX, 1), "same"))),
        ),
        (
            "huge window",
            Box::new(|| drop(img.avg_pool2d((usize::MAX, 1), (1, 1), "valid"))),
        ),
        (
            "huge dilation",
            Box::new(|| drop(img.conv2d(&zeros([2, 2, 2, 1]), (1, 1), "valid", (usize::MAX, 1)))),
        ),
        ("permute repeat", Box::new(|| drop(m.permute(&[1, 1])))),
        ("permute big", Box::new(|| drop(m.permute(&[0, 9])))),
        (
            "squeeze twice",
            Box::new(|| drop(zeros([1, 2]).squeeze(&[0, -2]))),
        ),
        ("reshape -1 of empty", Box::new(|| drop(e.reshape([-1, 0])))),
        ("reshape two -1", Box::new(|| drop(m.reshape([-1, -1])))),
        ("reshape below -1", Box::new(|| drop(m.reshape([-2, 3])))),
        (
            "broadcast fewer axes",
            Box::new(|| drop(m.broadcast_to([3]))),
        ),
        (
            "one_hot out of range",
            Box::new(|| drop(one_hot(&tensor([5, -1]), 3).to_vec::<f32>())),
        ),
        (
            "one_hot depth 0",
            Box::new(|| drop(one_hot(&tensor([0]), 0))),
        ),
        ("stack of none", Box::new(|| drop(stack(&[], 0)))),
        ("split zero", Box::new(|| drop(m.split(0, 0)))),
        (
            "assign strided",
            Box::new(|| Variable::new(zeros([3, 2])).assign(m.t())),
        ),
        (
            "item of empty",
            Box::new(|| {
                let _ = e.item();
            }),
        ),
        (
            "scalar of empty",
            Box::new(|| {
                let _ = e.to_scalar::<f32>();
            }),
        ),
        ("linspace huge", Box::new(|| drop(linspace(0.0, 1.0, 1)))),
        (
            "arange inf step",
            Box::new(|| drop(arange(0.0, f32::INFINITY, f32::INFINITY))),
        ),
        (
            "arange to inf",
            Box::new(|| drop(arange(0.0, f32::INFINITY, 1.0))),
        ),
        (
            "same pool of nothing",
            Box::new(|| drop(zeros([1, 0, 3, 1]).max_pool2d((2, 2), (1, 1), "same"))),
        ),
        ("arange nan", Box::new(|| drop(arange(f32::NAN, 1.0, 1.0)))),
    ];
    let n = cases.len();
    for (what, f) in cases {
        no_internal_panic(what, f);
    }
    println!("{n} misuses checked");
}

// ---- sizes the machine cannot hold ----------------------------------------------------------

#[test]
fn a_shape_whose_size_overflows_panics_with_a_message_not_a_wrong_tensor() {
    // In release builds an unchecked product would wrap to 0 and give a "valid" empty tensor.
    let msg = panic_message(|| zeros([1usize << 40, 1 << 40]));
    assert!(msg.contains("more elements than fit in memory"), "{msg}");
    assert!(msg.contains("[1099511627776, 1099511627776]"), "{msg}");
}

#[test]
fn an_allocation_the_system_refuses_panics_with_out_of_memory_instead_of_aborting() {
    // 1 PiB of float32: more than this machine's RAM and swap, so Linux refuses it at once
    // (overcommit heuristic); a plain Vec would abort the process, the engine panics.
    let msg = panic_message(|| zeros([1usize << 48]));
    assert!(msg.contains("out of memory on cpu: asked for"), "{msg}");
    assert!(msg.contains("use a smaller batch or free tensors"), "{msg}");
    let x = tensor([1.0f32, 2.0]);
    let msg = panic_message(|| x.broadcast_to([1usize << 46, 2]).exp());
    assert!(msg.contains("out of memory on cpu"), "{msg}");
    // and the engine still works
    assert_eq!(x.exp().to_vec::<f32>().len(), 2);
}
