//! `conv2d_transpose` against hand-computed outputs, the adjoint identity
//! <conv2d(x, K), z> = <x, conv2d_transpose(z, K)>, and finite differences.

use super::common::{assert_close, check_grad, rnd};
use ferrolab::prelude::*;

test_device!(conv2d_transpose_matches_hand_computed_outputs, |dev| {
    // stride 2, 2x2 kernel of ones: each input pixel becomes a 2x2 block (no overlap)
    let z = tensor([1.0, 2.0, 3.0, 4.0]).reshape([1, 2, 2, 1]).to(dev);
    let k = ones([2, 2, 1, 1]).to(dev);
    let y = z.conv2d_transpose(&k, (2, 2), "valid");
    assert_eq!(y.dims(), &[1, 4, 4, 1]);
    #[rustfmt::skip]
    let want = [1.0, 1.0, 2.0, 2.0,  1.0, 1.0, 2.0, 2.0,  3.0, 3.0, 4.0, 4.0,  3.0, 3.0, 4.0, 4.0];
    assert_eq!(y.to_vec::<f32>(), want);
    // stride 1, K = [[1, 2], [3, 4]], z = [[1, 0], [0, 1]]: K at (0,0) plus K at (1,1), overlapping
    let z = tensor([1.0, 0.0, 0.0, 1.0]).reshape([1, 2, 2, 1]).to(dev);
    let k = tensor([1.0, 2.0, 3.0, 4.0]).reshape([2, 2, 1, 1]).to(dev);
    let y = z.conv2d_transpose(&k, (1, 1), "valid");
    assert_eq!(y.dims(), &[1, 3, 3, 1]);
    assert_eq!(
        y.to_vec::<f32>(),
        vec![1.0, 2.0, 0.0, 3.0, 5.0, 2.0, 0.0, 3.0, 4.0]
    );
    // "same" with stride 2 doubles the size (Keras' output size)
    let y = rnd(&[2, 3, 4, 5], 1).to(dev).conv2d_transpose(
        &rnd(&[3, 3, 2, 5], 2).to(dev),
        (2, 2),
        "same",
    );
    assert_eq!(y.dims(), &[2, 6, 8, 2]);
});

test_device!(conv2d_transpose_is_the_adjoint_of_conv2d, |dev| {
    for (size, padding) in [(7, "valid"), (6, "same")] {
        let x = rnd(&[2, size, size, 2], 3).to(dev);
        let k = rnd(&[3, 3, 2, 4], 4).to(dev);
        let y = x.conv2d(&k, (2, 2), padding, (1, 1));
        let z = rnd(y.dims(), 5).to(dev);
        let xt = z.conv2d_transpose(&k, (2, 2), padding);
        assert_eq!(xt.dims(), x.dims(), "{padding}");
        let lhs = (&y * &z).sum().item();
        let rhs = (&x * &xt).sum().item();
        assert_close(&[lhs], &[rhs], 1e-4 * lhs.abs().max(1.0));
    }
});

test_device!(conv2d_transpose_gradients_match_finite_differences, |dev| {
    let k = rnd(&[3, 2, 2, 3], 6).to(dev);
    let z = rnd(&[1, 3, 2, 3], 7).to(dev);
    check_grad(|z| z.conv2d_transpose(&k, (2, 1), "same"), &z, 1e-2);
    check_grad(|k| z.conv2d_transpose(k, (2, 2), "valid"), &k, 1e-2);
});
