//! f16/bf16 reductions accumulate in f32 or wider, on the CPU and on CUDA (mixed precision
//! relies on it): an f16 accumulator stops at 2048, because 2048 + 1 rounds back to 2048.

use ferrolab::device::Device;
use ferrolab::prelude::*;

fn ones_on(n: usize, dtype: DType, dev: Device) -> Tensor {
    ones([n]).cast(dtype).to(dev)
}

test_device!(sum_of_4096_f16_ones_is_4096, |dev| {
    // an f16 running sum: 2048 + 1 = 2049 is not an f16, it rounds to 2048 and stays there
    let mut acc = f16::from_f32(0.0);
    for _ in 0..4096 {
        acc += f16::from_f32(1.0);
    }
    assert_eq!(acc.to_f32(), 2048.0);
    for dtype in [DType::F16, DType::BF16] {
        let s = ones_on(4096, dtype, dev).sum();
        assert_eq!(s.dtype(), dtype);
        assert_eq!(s.to_f32_vec(), vec![4096.0], "{dtype:?} on {dev:?}");
        // along an axis too (the batch-statistics shape)
        let cols = ones([4096, 3]).cast(dtype).to(dev).sum_axis(0, false);
        assert_eq!(cols.to_f32_vec(), vec![4096.0; 3], "{dtype:?} on {dev:?}");
    }
});

test_device!(mean_of_a_million_f16_ones_is_one, |dev| {
    for dtype in [DType::F16, DType::BF16] {
        let m = ones_on(1_000_000, dtype, dev).mean();
        assert_eq!(m.dtype(), dtype);
        assert_eq!(m.to_f32_vec(), vec![1.0], "{dtype:?} on {dev:?}");
        // variance of constant data is exactly 0 (no cancellation error from an f16 sum)
        assert_eq!(ones_on(1_000_000, dtype, dev).var().to_f32_vec(), vec![0.0]);
    }
});

test_device!(half_matmul_accumulates_in_f32, |dev| {
    // 4096 products of 1 * 1: an f16 accumulator would stop at 2048
    for dtype in [DType::F16, DType::BF16] {
        let a = ones([2, 4096]).cast(dtype).to(dev);
        let b = ones([4096, 2]).cast(dtype).to(dev);
        assert_eq!(
            a.matmul(&b).to_f32_vec(),
            vec![4096.0; 4],
            "{dtype:?} on {dev:?}"
        );
    }
});

test_device!(optimizer_updates_f32_variables_from_f16_gradients, |dev| {
    // SGD: w -= lr g. 1 - 1e-4 is not an f16 (spacing near 1 is 2^-11 ~ 4.9e-4), so an f16
    // update would leave w at 1; the f32 variable moves
    let w = Variable::new(ones([3]).to(dev));
    let g = full([3], 1.0f32).cast(DType::F16).to(dev);
    let mut opt = SGD::new(1e-4);
    opt.apply_gradients(&[Some(g)], &[&w]);
    assert_eq!(w.dtype(), DType::F32);
    crate::common::assert_close(&w.to_vec::<f32>(), &[1.0 - 1e-4; 3], 1e-7);
    let mut adam = Adam::new(1e-4);
    let g = full([3], 0.5f32).cast(DType::F16).to(dev);
    adam.apply_gradients(&[Some(g)], &[&w]);
    // Adam's first step moves by lr * m/(sqrt(v)+eps) = lr * sign(g) (up to eps)
    crate::common::assert_close(&w.to_vec::<f32>(), &[1.0 - 2e-4; 3], 1e-6);
});
