//! TF's free math functions (`reduce_*`, `clip_by_value`) against hand-computed references,
//! with gradients checked by finite differences.

use super::common::{assert_close, check_grad, rnd};
use ferrolab::prelude::*;

test_device!(reduce_family_matches_hand_computed_values, |dev| {
    // x = [[1, 2, 3], [4, 5, 6]]
    let x = tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]).to(dev);
    assert_eq!(reduce_sum(&x).item(), 21.0);
    assert_eq!(reduce_mean(&x).item(), 3.5);
    assert_eq!(reduce_max(&x).item(), 6.0);
    assert_eq!(reduce_min(&x).item(), 1.0);
    // population variance of 1..6 = 35/12
    assert_close(&[reduce_variance(&x).item()], &[35.0 / 12.0], 1e-5);
    assert_close(&[reduce_std(&x).item()], &[(35.0f32 / 12.0).sqrt()], 1e-5);
    let m = reduce_mean_axis(&x, 1, false);
    assert_eq!(m.dims(), &[2]);
    assert_eq!(m.to_vec::<f32>(), vec![2.0, 5.0]);
    let k = reduce_sum_axis(&x, 0, true);
    assert_eq!(k.dims(), &[1, 3]);
    assert_eq!(k.to_vec::<f32>(), vec![5.0, 7.0, 9.0]);
    assert_eq!(reduce_sum_axis(&x, [0, 1], false).item(), 21.0);
    assert_eq!(
        reduce_max_axis(&x, -1, false).to_vec::<f32>(),
        vec![3.0, 6.0]
    );
    assert_eq!(
        reduce_min_axis(&x, 0usize, false).to_vec::<f32>(),
        vec![1.0, 2.0, 3.0]
    );
    // std along rows: each row is {a, a+1, a+2}, variance 2/3
    let s = reduce_std_axis(&x, 1, false).to_vec::<f32>();
    assert_close(&s, &[(2.0f32 / 3.0).sqrt(); 2], 1e-5);
    // logsumexp of [1, 2, 3] = 3 + ln(1 + e^-1 + e^-2) = 3.40760596
    let l = reduce_logsumexp_axis(&x, 1, false).to_vec::<f32>();
    assert_close(&l, &[3.407_606, 6.407_606], 1e-5);
    // over all six: 6 + ln(sum e^-k, k = 0..5) = 6.45619116
    assert_close(&[reduce_logsumexp(&x).item()], &[6.456_191], 1e-5);
});

test_device!(reduce_mean_gradient_matches_finite_differences, |dev| {
    let x = rnd(&[3, 4], 7).to(dev);
    // y = mean over axis 1  =>  dy/dx = 1/4 everywhere
    check_grad(|x| reduce_mean_axis(x, 1, true) * 3.0, &x, 1e-2);
    check_grad(|x| reduce_std_axis(x, 0, false), &x, 1e-2);
});

test_device!(clip_by_value_clips_and_passes_gradient_inside, |dev| {
    let x = tensor([-2.0, -0.5, 0.25, 0.9, 3.0]).to(dev);
    let y = clip_by_value(&x, -1.0, 1.0);
    assert_eq!(y.to_vec::<f32>(), vec![-1.0, -0.5, 0.25, 0.9, 1.0]);
    let tape = GradientTape::new();
    tape.watch(&x);
    let y = clip_by_value(&x, -1.0, 1.0).sum();
    // d clip(x)/dx = 1 inside [-1, 1], 0 outside
    let g = tape.gradient(&y, &x).unwrap();
    assert_eq!(g.to_vec::<f32>(), vec![0.0, 1.0, 1.0, 1.0, 0.0]);
    let away = tensor([-1.7, -0.3, 0.4, 2.2]).to(dev);
    check_grad(|x| clip_by_value(x, -1.0, 1.0) * 2.0, &away, 1e-2);
});

#[test]
fn clip_by_value_names_swapped_bounds() {
    let msg = super::common::panic_message(|| clip_by_value(tensor([1.0]), 1.0, 0.0));
    assert!(
        msg.contains("clip_by_value") && msg.contains("smaller bound first"),
        "{msg}"
    );
}
