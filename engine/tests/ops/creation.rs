//! Creating tensors: from nested arrays and Vecs, constants, ranges, seeded random draws, and
//! reading values back out (`to_vec`, `to_scalar`, `item`) with their dtype errors.
//!
//! References are hand-written literals, or sample moments against the distribution's.

use crate::common;

use common::{assert_close, assert_contains, panic_message};
use ferrolab::prelude::*;

// `set_seed` and the draws without an op seed use the one global generator, so the tests that
// use it take turns through `common::global_rng()` (the tests of the binary run on parallel
// threads). They stay plain tests: they check the generator, not a device.

// ---- from nested data -----------------------------------------------------------------------

test_device!(nested_arrays_of_float_literals_become_float32, |dev| {
    let x = tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]).to(dev);
    assert_eq!(x.dtype(), DType::F32);
    assert_eq!(x.dims(), &[2, 3]);
    assert_eq!(x.rank(), 2);
    assert_eq!(x.elem_count(), 6);
    assert_eq!(x.to_vec::<f32>(), vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    assert_eq!(
        x.to_vec2::<f32>(),
        vec![vec![1.0, 2.0, 3.0], vec![4.0, 5.0, 6.0]]
    );
    assert!(x.is_contiguous());
    assert_eq!(x.device(), Device::Cpu);
    let cube = tensor([[[1.0], [2.0]], [[3.0], [4.0]]]).to(dev);
    assert_eq!(cube.dims(), &[2, 2, 1]);
    assert_eq!(cube.to_vec::<f32>(), vec![1.0, 2.0, 3.0, 4.0]);
});

test_device!(vecs_slices_and_scalars, |dev| {
    let v = vec![vec![1.5f32, -2.0], vec![0.25, 8.0]];
    let x = tensor(v.clone()).to(dev);
    assert_eq!(x.dims(), &[2, 2]);
    assert_eq!(x.to_vec::<f32>(), vec![1.5, -2.0, 0.25, 8.0]);
    let by_ref = tensor(&v).to(dev);
    assert_eq!(by_ref.to_vec::<f32>(), x.to_vec::<f32>());
    let s: &[f64] = &[1.0, 2.0, 3.0];
    assert_eq!(tensor(s).to(dev).to_vec::<f32>(), vec![1.0, 2.0, 3.0]);
    // a scalar is rank 0 with one element
    let c = tensor(3.5).to(dev);
    assert_eq!(c.dims(), &[] as &[usize]);
    assert_eq!(c.rank(), 0);
    assert_eq!(c.elem_count(), 1);
    assert_eq!(c.to_scalar::<f32>(), 3.5);
    assert_eq!(Tensor::from(2.5f32).item(), 2.5);
    assert_eq!(
        Tensor::from(vec![1.0f32, 2.0]).to_vec::<f32>(),
        vec![1.0, 2.0]
    );
    // an empty Vec is shape (0,)
    let e = tensor(Vec::<f32>::new()).to(dev);
    assert_eq!(e.dims(), &[0]);
    assert_eq!(e.to_vec::<f32>(), Vec::<f32>::new());
});

test_device!(integer_literals_become_int64_and_bools_bool, |dev| {
    let i = tensor([[1, 2], [3, -4]]).to(dev);
    assert_eq!(i.dtype(), DType::I64);
    assert_eq!(i.to_vec::<i64>(), vec![1, 2, 3, -4]);
    assert_eq!(tensor(vec![7usize, 8]).to(dev).to_vec::<i64>(), vec![7, 8]);
    assert_eq!(tensor(5i64).to(dev).to_scalar::<i64>(), 5);
    let b = tensor([true, false, true]).to(dev);
    assert_eq!(b.dtype(), DType::Bool);
    assert_eq!(b.to_vec::<bool>(), vec![true, false, true]);
    // f16 / bf16 elements keep their dtype
    let h = tensor([f16::from_f32(1.5), f16::from_f32(-2.0)]).to(dev);
    assert_eq!(h.dtype(), DType::F16);
    assert_eq!(
        h.to_vec::<f16>(),
        vec![f16::from_f32(1.5), f16::from_f32(-2.0)]
    );
    let bh = tensor([bf16::from_f32(0.5)]).to(dev);
    assert_eq!(bh.dtype(), DType::BF16);
    assert_eq!(bh.to_f32_vec(), vec![0.5]);
});

#[test]
fn ragged_data_is_an_error_naming_the_row_lengths() {
    let e = try_tensor(vec![vec![1.0, 2.0], vec![3.0]])
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        "tensor: ragged nested data: a row has 1 elements where the first row has 2; every row must have the same length"
    );
    let e = try_tensor(vec![vec![vec![1.0]], vec![vec![2.0, 3.0]]])
        .unwrap_err()
        .to_string();
    assert_contains(
        &e,
        &[
            "tensor: ragged nested data",
            "a row has 2 elements where the first row has 1",
        ],
    );
    // the panicking form says the same
    let p = panic_message(|| tensor(vec![vec![1, 2, 3], vec![4, 5]]));
    assert_contains(
        &p,
        &["tensor: ragged nested data: a row has 2 elements where the first row has 3"],
    );
}

#[test]
fn from_vec_checks_the_element_count() {
    let x = from_vec(vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0], [3, 2]).unwrap();
    assert_eq!(x.dims(), &[3, 2]);
    assert_eq!(
        x.to_vec2::<f32>(),
        vec![vec![1.0, 2.0], vec![3.0, 4.0], vec![5.0, 6.0]]
    );
    let e = from_vec(vec![1.0f32, 2.0, 3.0], [2, 2])
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        "from_vec: 3 values cannot fill shape (2, 2) (4 elements)"
    );
}

// ---- constants and ranges -------------------------------------------------------------------

test_device!(zeros_ones_full_and_likes, |dev| {
    assert_eq!(zeros([2, 3]).to(dev).to_vec::<f32>(), vec![0.0; 6]);
    assert_eq!(ones([4]).to(dev).to_vec::<f32>(), vec![1.0; 4]);
    let f = full([2, 2], 7.5).to(dev);
    assert_eq!((f.dims(), f.dtype()), (&[2usize, 2][..], DType::F32));
    assert_eq!(f.to_vec::<f32>(), vec![7.5; 4]);
    assert_eq!(zeros(()).to(dev).dims(), &[] as &[usize]);
    assert_eq!(zeros(()).to(dev).item(), 0.0);
    assert_eq!(zeros([0, 3]).to(dev).elem_count(), 0);
    let zi = zeros_dtype([3], DType::I64).to(dev);
    assert_eq!(zi.to_vec::<i64>(), vec![0, 0, 0]);
    let fb = full_on([2], 2.0, DType::Bool, Device::Cpu).unwrap();
    assert_eq!(fb.to_vec::<bool>(), vec![true, true]);
    let fh = full_on([2], 0.1, DType::F16, Device::Cpu).unwrap();
    assert_eq!(fh.to_vec::<f16>(), vec![f16::from_f32(0.1); 2]);
    let i = tensor([1, 2, 3]).to(dev);
    assert_eq!(i.full_like(4.0).to_vec::<i64>(), vec![4, 4, 4]);
    assert_eq!(i.ones_like().dtype(), DType::I64);
    let x = tensor([[1.0, 2.0]]).to(dev);
    assert_eq!(x.zeros_like().dims(), &[1, 2]);
    assert_eq!(x.zeros_like().to_vec::<f32>(), vec![0.0, 0.0]);
    assert_eq!(x.ones_like().to_vec::<f32>(), vec![1.0, 1.0]);
});

test_device!(arange_follows_tf_range, |dev| {
    assert_eq!(
        arange(0.0, 1.0, 0.25).to(dev).to_vec::<f32>(),
        vec![0.0, 0.25, 0.5, 0.75]
    );
    // the limit is excluded; a partial last step still counts: ceil((5-0)/2) = 3
    assert_eq!(
        arange(0.0, 5.0, 2.0).to(dev).to_vec::<f32>(),
        vec![0.0, 2.0, 4.0]
    );
    assert_eq!(
        arange(3.0, 0.0, -1.0).to(dev).to_vec::<f32>(),
        vec![3.0, 2.0, 1.0]
    );
    assert_eq!(arange(2.0, 2.0, 1.0).to(dev).dims(), &[0]);
    assert_eq!(arange(5.0, 0.0, 1.0).to(dev).dims(), &[0]);
    let e = try_arange(0.0, 1.0, 0.0).unwrap_err().to_string();
    assert_eq!(e, "arange: delta must be a non-zero number, got 0");
    assert_contains(
        &panic_message(|| arange(0.0, 1.0, f32::NAN).to(dev)),
        &["arange: delta must be a non-zero number"],
    );
    let r = arange_i64(2, 6).to(dev);
    assert_eq!(r.dtype(), DType::I64);
    assert_eq!(r.to_vec::<i64>(), vec![2, 3, 4, 5]);
    assert_eq!(arange_i64(5, 2).to(dev).dims(), &[0]);
});

test_device!(linspace_includes_both_ends_and_eye_is_the_identity, |dev| {
    assert_close(
        &linspace(0.0, 1.0, 5).to(dev).to_vec::<f32>(),
        &[0.0, 0.25, 0.5, 0.75, 1.0],
        0.0,
    );
    assert_close(
        &linspace(-1.0, 1.0, 3).to(dev).to_vec::<f32>(),
        &[-1.0, 0.0, 1.0],
        0.0,
    );
    assert_eq!(linspace(2.0, 3.0, 1).to(dev).to_vec::<f32>(), vec![2.0]);
    assert_eq!(linspace(2.0, 3.0, 0).to(dev).dims(), &[0]);
    let i = eye(3).to(dev);
    assert_eq!(i.dims(), &[3, 3]);
    assert_eq!(
        i.to_vec::<f32>(),
        vec![1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]
    );
    assert_eq!(eye(0).to(dev).dims(), &[0, 0]);
});

// ---- random ---------------------------------------------------------------------------------

#[test]
fn set_seed_makes_global_draws_reproducible() {
    let _g = common::global_rng();
    set_seed(1);
    let a = randn([5]).to_vec::<f32>();
    let a2 = randn([5]).to_vec::<f32>();
    let u = rand([3]).to_vec::<f32>();
    set_seed(1);
    let b = randn([5]).to_vec::<f32>();
    let b2 = randn([5]).to_vec::<f32>();
    let v = rand([3]).to_vec::<f32>();
    assert_eq!(a, b, "set_seed(1); randn == set_seed(1); randn");
    assert_eq!((a2.clone(), u), (b2, v), "and so is every draw after it");
    assert_ne!(a, a2, "two draws after one seed differ");
    set_seed(2);
    assert_ne!(randn([5]).to_vec::<f32>(), a, "another seed, other numbers");
}

#[test]
fn op_seeds_give_fixed_streams_whatever_the_global_seed() {
    let _g = common::global_rng();
    set_seed(10);
    let a = normal([4], 0.0, 1.0, Some(3)).to_vec::<f32>();
    set_seed(11);
    let b = normal([4], 0.0, 1.0, Some(3)).to_vec::<f32>();
    assert_eq!(a, b);
    assert_ne!(a, normal([4], 0.0, 1.0, Some(4)).to_vec::<f32>());
    assert_eq!(
        uniform([3], 0.0, 1.0, Some(9)).to_vec::<f32>(),
        uniform([3], 0.0, 1.0, Some(9)).to_vec::<f32>()
    );
}

fn moments(v: &[f32]) -> (f64, f64) {
    let n = v.len() as f64;
    let mean = v.iter().map(|&x| x as f64).sum::<f64>() / n;
    let var = v.iter().map(|&x| (x as f64 - mean).powi(2)).sum::<f64>() / n;
    (mean, var.sqrt())
}

#[test]
fn random_draws_have_the_right_moments_and_ranges() {
    let n = 200_000;
    // normal(mean 2, std 3): the sample mean is within 4 standard errors (3/sqrt(n) = 0.0067)
    let x = normal([n], 2.0, 3.0, Some(42));
    assert_eq!((x.dims(), x.dtype()), (&[n][..], DType::F32));
    let (m, s) = moments(&x.to_vec::<f32>());
    assert!((m - 2.0).abs() < 0.03, "mean {m}");
    assert!((s - 3.0).abs() < 0.03, "std {s}");
    // uniform [-1, 3): mean 1, std 4/sqrt(12) = 1.1547
    let u = uniform([n], -1.0, 3.0, Some(43)).to_vec::<f32>();
    assert!(u.iter().all(|&x| (-1.0..3.0).contains(&x)));
    let (m, s) = moments(&u);
    assert!((m - 1.0).abs() < 0.01, "mean {m}");
    assert!((s - 4.0 / 12f64.sqrt()).abs() < 0.01, "std {s}");
    // truncated normal stays within 2 std of the mean; its std is 0.8796 of the untruncated one
    let t = truncated_normal([n], 1.0, 0.5, Some(44)).to_vec::<f32>();
    assert!(t.iter().all(|&x| (0.0..=2.0).contains(&x)));
    let (m, s) = moments(&t);
    assert!((m - 1.0).abs() < 0.01, "mean {m}");
    assert!((s - 0.5 * 0.8796).abs() < 0.01, "std {s}");
    // global draws: rand in [0, 1), randn roughly standard
    let _g = common::global_rng();
    set_seed(5);
    let r = rand([n]).to_vec::<f32>();
    assert!(r.iter().all(|&x| (0.0..1.0).contains(&x)));
    assert!((moments(&r).0 - 0.5).abs() < 0.01);
    let (m, s) = moments(&randn([n]).to_vec::<f32>());
    assert!(
        m.abs() < 0.01 && (s - 1.0).abs() < 0.01,
        "randn mean {m} std {s}"
    );
}

// ---- reading values back --------------------------------------------------------------------

test_device!(scalar_extraction, |dev| {
    assert_eq!(tensor([[2.5]]).to(dev).to_scalar::<f32>(), 2.5);
    assert_eq!(tensor([4]).to(dev).to_scalar::<i64>(), 4);
    assert!(tensor(true).to(dev).to_scalar::<bool>());
    // item reads any dtype as f32
    assert_eq!(tensor(7).to(dev).item(), 7.0);
    assert_eq!(tensor(true).to(dev).item(), 1.0);
    assert_eq!(tensor([[0.5]]).to(dev).item(), 0.5);
    assert_eq!(tensor([1, 0]).to(dev).to_f32_vec(), vec![1.0, 0.0]);
    assert_eq!(tensor([true, false]).to(dev).to_f32_vec(), vec![1.0, 0.0]);
});

test_device!(
    reading_the_wrong_type_or_shape_is_an_error_with_the_fix,
    |dev| {
        let x = tensor([1.0, 2.0]).to(dev);
        let e = x.try_to_vec::<i64>().unwrap_err().to_string();
        assert_contains(&e, &["to_vec", "i64", "float32", "cast"]);
        assert_eq!(panic_message(|| x.to_vec::<i64>()), e);
        let e = tensor([1, 2])
            .to(dev)
            .try_to_vec::<f32>()
            .unwrap_err()
            .to_string();
        assert_contains(&e, &["to_vec", "f32", "int64"]);
        let e = x.try_to_scalar::<f32>().unwrap_err().to_string();
        assert_eq!(
        e,
        "to_scalar: expected a tensor with one element, got shape (2,); reduce it first, e.g. .sum() or .mean()"
    );
        assert_eq!(panic_message(|| x.to_scalar::<f32>()), e);
        let e = tensor(1.0)
            .to(dev)
            .try_to_scalar::<bool>()
            .unwrap_err()
            .to_string();
        assert_contains(&e, &["to_vec", "bool", "float32"]);
        assert_contains(
            &panic_message(|| zeros([2, 2]).to(dev).item()),
            &["item: expected a tensor with one element, got shape (2, 2)"],
        );
        assert_contains(
            &panic_message(|| x.to_vec2::<f32>()),
            &["to_vec2: expected a rank-2 tensor, got shape (2,)"],
        );
    }
);
