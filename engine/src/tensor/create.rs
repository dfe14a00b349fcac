//! Creating tensors: from nested arrays and Vecs, constants, ranges and seeded random draws.
//!
//! New tensors are created on the default device (see
//! [`default_device`](crate::runtime::default_device) and
//! [`with_device`](crate::runtime::with_device)). Memory and random draws on a device go through
//! its [`BackendDevice`] (one dispatch from the `Device` value to its backend).

use crate::device::Device;
use crate::dtype::{DType, Element, Scalar};
use crate::error::{invalid, or_panic, Result};
use crate::random::rng_for;
use crate::runtime::default_device;
use crate::shape::Shape;
use crate::storage::device::{BackendDevice, LiveDevice};
use crate::storage::CpuStorage;
use crate::tensor::dispatch::{record_effect, Effect, RandomDist};
use crate::tensor::Tensor;

/// Nested Rust data that can become a tensor: scalars, arrays, Vecs and slices of them.
pub trait NestedData {
    type Elem: Element;
    /// Appends this level's dims (from the first element at each level).
    fn push_shape(&self, out: &mut Vec<usize>);
    /// Appends the elements, checking that every row has the expected shape.
    fn flatten(&self, shape: &[usize], out: &mut Vec<Self::Elem>) -> Result<()>;
}

impl<S: Scalar> NestedData for S {
    type Elem = S::Elem;
    fn push_shape(&self, _: &mut Vec<usize>) {}
    fn flatten(&self, shape: &[usize], out: &mut Vec<S::Elem>) -> Result<()> {
        if !shape.is_empty() {
            return Err(invalid(
                "tensor",
                "ragged nested data: rows have different lengths",
            ));
        }
        out.push(self.elem());
        Ok(())
    }
}

fn flatten_rows<T: NestedData>(rows: &[T], shape: &[usize], out: &mut Vec<T::Elem>) -> Result<()> {
    match shape.split_first() {
        Some((&n, rest)) if n == rows.len() => {
            for r in rows {
                r.flatten(rest, out)?;
            }
            Ok(())
        }
        Some((&n, _)) => Err(invalid(
            "tensor",
            format!(
                "ragged nested data: a row has {} elements where the first row has {n}; every row must have the same length",
                rows.len()
            ),
        )),
        None => Err(invalid("tensor", "ragged nested data: rows have different depths")),
    }
}

impl<T: NestedData, const N: usize> NestedData for [T; N] {
    type Elem = T::Elem;
    fn push_shape(&self, out: &mut Vec<usize>) {
        out.push(N);
        if let Some(f) = self.first() {
            f.push_shape(out)
        }
    }
    fn flatten(&self, shape: &[usize], out: &mut Vec<T::Elem>) -> Result<()> {
        flatten_rows(self, shape, out)
    }
}
impl<T: NestedData> NestedData for Vec<T> {
    type Elem = T::Elem;
    fn push_shape(&self, out: &mut Vec<usize>) {
        out.push(self.len());
        if let Some(f) = self.first() {
            f.push_shape(out)
        }
    }
    fn flatten(&self, shape: &[usize], out: &mut Vec<T::Elem>) -> Result<()> {
        flatten_rows(self, shape, out)
    }
}
impl<T: NestedData> NestedData for &[T] {
    type Elem = T::Elem;
    fn push_shape(&self, out: &mut Vec<usize>) {
        out.push(self.len());
        if let Some(f) = self.first() {
            f.push_shape(out)
        }
    }
    fn flatten(&self, shape: &[usize], out: &mut Vec<T::Elem>) -> Result<()> {
        flatten_rows(self, shape, out)
    }
}
impl<T: NestedData> NestedData for &Vec<T> {
    type Elem = T::Elem;
    fn push_shape(&self, out: &mut Vec<usize>) {
        (**self).push_shape(out)
    }
    fn flatten(&self, shape: &[usize], out: &mut Vec<T::Elem>) -> Result<()> {
        (**self).flatten(shape, out)
    }
}

/// A tensor from nested data, like `tf.constant`: `tensor([[1.0, 2.0], [3.0, 4.0]])`.
/// Float literals become float32 and integer literals int64.
#[track_caller]
pub fn tensor<D: NestedData>(data: D) -> Tensor {
    or_panic(try_tensor(data))
}

pub fn try_tensor<D: NestedData>(data: D) -> Result<Tensor> {
    let mut shape = Vec::new();
    data.push_shape(&mut shape);
    let mut flat = Vec::with_capacity(shape.iter().product());
    data.flatten(&shape, &mut flat)?;
    from_vec(flat, shape)
}

/// A tensor from a flat Vec and a shape (row-major), like `tf.reshape(tf.constant(v), shape)`.
pub fn from_vec<T: Element>(data: Vec<T>, shape: impl Into<Shape>) -> Result<Tensor> {
    let shape = shape.into();
    if data.len() != shape.elem_count() {
        return Err(invalid(
            "from_vec",
            format!(
                "{} values cannot fill shape {} ({} elements)",
                data.len(),
                shape,
                shape.elem_count()
            ),
        ));
    }
    Tensor::from_cpu(T::into_storage(data), shape, default_device())
}

impl Tensor {
    /// Wraps CPU data and moves it to `device`.
    pub(crate) fn from_cpu(
        cpu: CpuStorage,
        shape: impl Into<Shape>,
        device: Device,
    ) -> Result<Tensor> {
        let shape = shape.into();
        let storage = LiveDevice::new(device)?.storage_from_host(cpu)?;
        Ok(Tensor::from_storage(storage, shape))
    }
    /// A tensor of `value` with this tensor's shape, dtype and device.
    /// Of a symbolic tensor, a symbolic tensor (shape only).
    pub fn full_like(&self, value: f64) -> Tensor {
        if self.is_symbolic() {
            return Tensor::symbolic(self.shape().clone(), self.dtype(), self.device());
        }
        or_panic(full_on(
            self.shape().clone(),
            value,
            self.dtype(),
            self.device(),
        ))
    }
    pub fn zeros_like(&self) -> Tensor {
        self.full_like(0.0)
    }
    pub fn ones_like(&self) -> Tensor {
        self.full_like(1.0)
    }
    /// A one-element tensor of `value` with this tensor's dtype and device (for scalar operands).
    pub(crate) fn scalar_like(&self, value: f64) -> Tensor {
        or_panic(full_on(Shape::scalar(), value, self.dtype(), self.device()))
    }
}

/// `n` elements of `value` (an allocation the system refuses panics with out-of-memory). Zeros
/// come from [`BackendDevice::zeros`] instead (lazily zeroed pages on the host, a memset on a GPU).
fn filled(n: usize, value: f64, dtype: DType) -> CpuStorage {
    use crate::storage::cpu::filled_vec;
    match dtype {
        DType::F32 => CpuStorage::F32(filled_vec(n, value as f32)),
        DType::F16 => CpuStorage::F16(filled_vec(n, half::f16::from_f64(value))),
        DType::BF16 => CpuStorage::BF16(filled_vec(n, half::bf16::from_f64(value))),
        DType::I64 => CpuStorage::I64(filled_vec(n, value as i64)),
        DType::Bool => CpuStorage::Bool(filled_vec(n, value != 0.0)),
    }
}

/// `value` everywhere, with a dtype, on a device.
pub fn full_on(
    shape: impl Into<Shape>,
    value: f64,
    dtype: DType,
    device: Device,
) -> Result<Tensor> {
    let shape = shape.into();
    let n = shape.elem_count();
    let dev = LiveDevice::new(device)?;
    let storage = if value == 0.0 {
        dev.zeros(n, dtype)?
    } else {
        dev.storage_from_host(filled(n, value, dtype))?
    };
    Ok(Tensor::from_storage(storage, shape))
}

/// `tf.fill(shape, value)` (float32).
pub fn full(shape: impl Into<Shape>, value: f32) -> Tensor {
    or_panic(full_on(shape, value as f64, DType::F32, default_device()))
}
/// `tf.zeros(shape)` (float32).
pub fn zeros(shape: impl Into<Shape>) -> Tensor {
    full(shape, 0.0)
}
/// `tf.ones(shape)` (float32).
pub fn ones(shape: impl Into<Shape>) -> Tensor {
    full(shape, 1.0)
}
/// `tf.zeros(shape, dtype)`.
pub fn zeros_dtype(shape: impl Into<Shape>, dtype: DType) -> Tensor {
    or_panic(full_on(shape, 0.0, dtype, default_device()))
}

/// `tf.range(start, limit, delta)` as float32 (use `arange_i64` for integers).
#[track_caller]
pub fn arange(start: f32, limit: f32, delta: f32) -> Tensor {
    or_panic(try_arange(start, limit, delta))
}
pub fn try_arange(start: f32, limit: f32, delta: f32) -> Result<Tensor> {
    if delta == 0.0 || !delta.is_finite() {
        return Err(invalid(
            "arange",
            format!("delta must be a non-zero number, got {delta}"),
        ));
    }
    let count = ((limit - start) / delta).ceil().max(0.0);
    if !count.is_finite() {
        return Err(invalid(
            "arange",
            format!("the range from {start} to {limit} in steps of {delta} is not finite"),
        ));
    }
    let n = count as usize;
    from_vec(
        (0..n)
            .map(|i| start + i as f32 * delta)
            .collect::<Vec<f32>>(),
        [n],
    )
}
/// `tf.range(n)` as int64: 0, 1, ..., n-1.
pub fn arange_i64(start: i64, limit: i64) -> Tensor {
    let v: Vec<i64> = (start..limit.max(start)).collect();
    let n = v.len();
    or_panic(from_vec(v, [n]))
}

/// `tf.linspace(start, stop, num)`: `num` evenly spaced values, both ends included.
pub fn linspace(start: f32, stop: f32, num: usize) -> Tensor {
    let v: Vec<f32> = match num {
        0 => vec![],
        1 => vec![start],
        _ => (0..num)
            .map(|i| start + (stop - start) * i as f32 / (num - 1) as f32)
            .collect(),
    };
    or_panic(from_vec(v, [num]))
}

/// `tf.eye(n)`: the n x n identity (float32).
pub fn eye(n: usize) -> Tensor {
    let nn = Shape::from([n, n]).elem_count();
    let mut v = crate::storage::cpu::filled_vec(nn, 0f32);
    for i in 0..n {
        v[i * n + i] = 1.0;
    }
    or_panic(from_vec(v, [n, n]))
}

/// Uniform in [0, 1), from the global generator (`tf.random.uniform(shape)`), on the default
/// device. See [`uniform_on`] for how seeds and devices work.
pub fn rand(shape: impl Into<Shape>) -> Tensor {
    uniform(shape, 0.0, 1.0, None)
}
/// Standard normal, from the global generator (`tf.random.normal(shape)`), on the default
/// device. See [`normal_on`].
pub fn randn(shape: impl Into<Shape>) -> Tensor {
    normal(shape, 0.0, 1.0, None)
}
/// `tf.random.uniform(shape, minval, maxval, seed)` (float32, in `[minval, maxval)`) on the
/// default device; `seed: None` draws from the global generator. See [`uniform_on`].
pub fn uniform(shape: impl Into<Shape>, minval: f32, maxval: f32, seed: Option<u64>) -> Tensor {
    or_panic(uniform_on(shape, minval, maxval, seed, default_device()))
}
/// `tf.random.normal(shape, mean, stddev, seed)` (float32) on the default device. See
/// [`normal_on`].
pub fn normal(shape: impl Into<Shape>, mean: f32, stddev: f32, seed: Option<u64>) -> Tensor {
    or_panic(normal_on(shape, mean, stddev, seed, default_device()))
}

/// [`uniform`] on `device`: float32 values in `[minval, maxval)`.
///
/// Seeds follow TF 2: `Some(seed)` always gives the same tensor; `None` takes the op's seed from
/// the global generator, so after `set_seed(s)` the same sequence of random ops gives the same
/// tensors. Each random op takes exactly one value from the global generator, on every device.
///
/// On a CUDA device the numbers are drawn on the GPU by cuRAND (no host work, no copy). They are
/// reproducible on the GPU, but **not equal to the CPU's numbers for the same seed** (different
/// generators); move a CPU tensor with `.to(device)` when both devices must see the same values.
/// Where libcurand cannot be loaded, they are drawn on the CPU and copied (with a warning).
pub fn uniform_on(
    shape: impl Into<Shape>,
    minval: f32,
    maxval: f32,
    seed: Option<u64>,
    device: Device,
) -> Result<Tensor> {
    let dist = RandomDist::Uniform {
        lo: minval,
        hi: maxval,
    };
    random_on(dist, shape.into(), seed, device)
}

/// One random op on `device`: takes the op's seed (TF's rules: one value from the global
/// generator unless `seed` is given), then draws on the device's backend (cuRAND on a GPU,
/// with a host fallback there; the engine's generator on the CPU). Reported to recorders, so a
/// traced `function` draws fresh numbers on each replay, as in TF.
pub(crate) fn random_on(
    dist: RandomDist,
    shape: Shape,
    seed: Option<u64>,
    device: Device,
) -> Result<Tensor> {
    let op_seed = crate::random::seed_for(seed);
    let (d, n) = (LiveDevice::new(device)?, shape.elem_count());
    let storage = match dist {
        RandomDist::Uniform { lo, hi } => d.uniform(n, lo, hi, op_seed)?,
        RandomDist::Normal { mean, std } => d.normal(n, mean, std, op_seed)?,
    };
    let out = Tensor::from_storage(storage, shape);
    record_effect(&Effect::Random {
        dist,
        seed,
        output: &out,
    });
    Ok(out)
}

/// [`normal`] on `device`: float32 values from N(mean, stddev²). Seeds work as in
/// [`uniform_on`]; on a CUDA device cuRAND draws them on the GPU (reproducible there, but not
/// the CPU's numbers for the same seed).
pub fn normal_on(
    shape: impl Into<Shape>,
    mean: f32,
    stddev: f32,
    seed: Option<u64>,
    device: Device,
) -> Result<Tensor> {
    let dist = RandomDist::Normal { mean, std: stddev };
    random_on(dist, shape.into(), seed, device)
}
/// `tf.random.truncated_normal`: normal draws re-drawn until within two standard deviations.
/// Drawn on the host (then copied to the default device), the same numbers on every device.
pub fn truncated_normal(
    shape: impl Into<Shape>,
    mean: f32,
    stddev: f32,
    seed: Option<u64>,
) -> Tensor {
    let shape = shape.into();
    let mut rng = rng_for(seed);
    let mut v = crate::storage::cpu::filled_vec(shape.elem_count(), 0f32);
    let mut one = [0f32; 1];
    for x in v.iter_mut() {
        loop {
            rng.fill_normal(&mut one, 0.0, 1.0);
            if one[0].abs() <= 2.0 {
                *x = mean + stddev * one[0];
                break;
            }
        }
    }
    or_panic(from_vec(v, shape))
}

impl From<f32> for Tensor {
    fn from(v: f32) -> Tensor {
        tensor(v)
    }
}
impl From<Vec<f32>> for Tensor {
    fn from(v: Vec<f32>) -> Tensor {
        tensor(v)
    }
}
