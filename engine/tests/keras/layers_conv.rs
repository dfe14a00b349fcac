//! Convolution and pooling layers (Conv1D, Conv2D, MaxPooling2D, AveragePooling2D,
//! GlobalAveragePooling2D): forward passes against hand-computed values and a naive NHWC loop,
//! gradients against finite differences.
//!
//! Shapes: x (N,H,W,C); Conv2D kernel (KH,KW,C,F); Conv1D x (N,L,C), kernel (K,C,F), as in Keras.
//! "same" padding follows TF: out = ceil(in / stride), the extra padded row/column goes at the
//! bottom/right.

use crate::common;
use crate::common::keras as keras_common;

use common::{assert_contains, assert_tensor, check_grad, distinct, panic_message, rnd};
use ferrolab::prelude::*;
use keras_common::{check_var_grad, set_weights};

/// Naive NHWC convolution in f64 with TF's padding rule: the reference for the layers.
#[allow(clippy::too_many_arguments)]
fn conv_ref(
    x: &[f32],
    (n, h, w, c): (usize, usize, usize, usize),
    k: &[f32],
    (kh, kw, f): (usize, usize, usize),
    bias: &[f32],
    stride: (usize, usize),
    dil: (usize, usize),
    same: bool,
) -> (Vec<f32>, [usize; 4]) {
    let (ekh, ekw) = ((kh - 1) * dil.0 + 1, (kw - 1) * dil.1 + 1);
    let (oh, ow, pt, pl) = if same {
        let (oh, ow) = (h.div_ceil(stride.0), w.div_ceil(stride.1));
        let ph = ((oh - 1) * stride.0 + ekh).saturating_sub(h);
        let pw = ((ow - 1) * stride.1 + ekw).saturating_sub(w);
        (oh, ow, ph / 2, pw / 2)
    } else {
        ((h - ekh) / stride.0 + 1, (w - ekw) / stride.1 + 1, 0, 0)
    };
    let mut out = vec![0f32; n * oh * ow * f];
    for b in 0..n {
        for i in 0..oh {
            for j in 0..ow {
                for o in 0..f {
                    let mut s = bias[o] as f64;
                    for a in 0..kh {
                        for e in 0..kw {
                            let y = (i * stride.0 + a * dil.0) as isize - pt as isize;
                            let xx = (j * stride.1 + e * dil.1) as isize - pl as isize;
                            if y < 0 || xx < 0 || y >= h as isize || xx >= w as isize {
                                continue;
                            }
                            for ci in 0..c {
                                let xv = x[((b * h + y as usize) * w + xx as usize) * c + ci];
                                s += xv as f64 * k[((a * kw + e) * c + ci) * f + o] as f64;
                            }
                        }
                    }
                    out[((b * oh + i) * ow + j) * f + o] = s as f32;
                }
            }
        }
    }
    (out, [n, oh, ow, f])
}

/// x = 1..9 as a (1, 3, 3, 1) image.
fn image_1_to_9() -> Tensor {
    arange(1.0, 10.0, 1.0).reshape([1, 3, 3, 1])
}

#[test]
fn conv2d_forward_matches_hand_computed_values() {
    let _rng = crate::common::global_rng(); // draws unseeded: initial weights, fit
                                            // kernel [[1, 2], [3, 4]] on [[1,2,3],[4,5,6],[7,8,9]], "valid":
                                            // out[0,0] = 1*1 + 2*2 + 3*4 + 4*5 = 37, out[0,1] = 47, out[1,0] = 67, out[1,1] = 77; + bias 0.5
    let c = Conv2D::new(1, 2);
    c.call(&zeros([1, 3, 3, 1]), false);
    let k = tensor([1.0, 2.0, 3.0, 4.0]).reshape([2, 2, 1, 1]);
    set_weights(&c, &[k.clone(), tensor([0.5])]);
    assert_tensor(
        &c.call(&image_1_to_9(), false),
        &[1, 2, 2, 1],
        &[37.5, 47.5, 67.5, 77.5],
        1e-6,
    );

    // "same" with an even kernel pads one row/column at the bottom/right (TF's rule):
    // out[2,2] = 1 * x[2,2] = 9, out[0,2] = 1*3 + 3*6 = 21, out[2,0] = 1*7 + 2*8 = 23
    let s = Conv2D::new(1, 2).padding("same").use_bias(false);
    s.call(&zeros([1, 3, 3, 1]), false);
    set_weights(&s, &[k]);
    assert_tensor(
        &s.call(&image_1_to_9(), false),
        &[1, 3, 3, 1],
        &[37.0, 47.0, 21.0, 67.0, 77.0, 33.0, 23.0, 26.0, 9.0],
        1e-6,
    );
    // relu activation and strides: 3x3 ones kernel, stride 2, "same", bias -20:
    // windows centred on (0,0), (0,2), (2,0), (2,2): sums 12, 16, 24, 28 -> relu(-8, -4, 4, 8)
    let r = Conv2D::new(1, 3)
        .padding("same")
        .strides(2)
        .activation("relu");
    r.call(&zeros([1, 3, 3, 1]), false);
    set_weights(&r, &[ones([3, 3, 1, 1]), tensor([-20.0])]);
    assert_tensor(
        &r.call(&image_1_to_9(), false),
        &[1, 2, 2, 1],
        &[0.0, 0.0, 4.0, 8.0],
        1e-6,
    );
}

#[test]
fn conv2d_matches_a_naive_loop_for_channels_strides_dilation_and_padding() {
    let _rng = crate::common::global_rng(); // draws unseeded: initial weights, fit
    let x = rnd(&[2, 7, 6, 3], 1);
    // (kernel, strides, dilation, padding)
    type Config = ((usize, usize), (usize, usize), (usize, usize), &'static str);
    let configs: [Config; 4] = [
        ((3, 3), (1, 1), (1, 1), "valid"),
        ((3, 2), (2, 2), (1, 1), "same"),
        ((3, 3), (2, 1), (1, 1), "same"),
        ((2, 3), (1, 1), (2, 2), "valid"),
    ];
    for (i, (ks, st, dil, pad)) in configs.into_iter().enumerate() {
        let c = Conv2D::new(4, ks)
            .strides(st)
            .dilation_rate(dil)
            .padding(pad);
        c.call(&x, false);
        let (k, b) = (
            rnd(&[ks.0, ks.1, 3, 4], 10 + i as u64),
            rnd(&[4], 20 + i as u64),
        );
        set_weights(&c, &[k.clone(), b.clone()]);
        let (want, dims) = conv_ref(
            &x.to_vec(),
            (2, 7, 6, 3),
            &k.to_vec(),
            (ks.0, ks.1, 4),
            &b.to_vec(),
            st,
            dil,
            pad == "same",
        );
        println!("kernel {ks:?} strides {st:?} dilation {dil:?} {pad}");
        assert_tensor(&c.call(&x, false), &dims, &want, 1e-5);
    }
}

#[test]
fn conv2d_gradients_match_finite_differences() {
    let _rng = crate::common::global_rng(); // draws unseeded: initial weights, fit
                                            // y = conv(x, K) + b is linear in x and K: dy/dx = conv_transpose(1, K), dy/dK = corr(x, 1);
                                            // tanh makes the check weight every position differently
    let c = Conv2D::new(2, 3)
        .strides(2)
        .padding("same")
        .activation("tanh");
    let x = rnd(&[1, 5, 4, 2], 2);
    c.call(&x, false);
    set_weights(&c, &[rnd(&[3, 3, 2, 2], 3).affine(0.3, 0.0), rnd(&[2], 4)]);
    check_grad(|x| c.call(x, true), &x, 1e-2);
    let w = c.weights();
    check_var_grad(|| c.call(&x, true), &w[0], 1e-2);
    check_var_grad(|| c.call(&x, true), &w[1], 1e-2);
}

#[test]
fn conv1d_uses_keras_kernel_shape_and_matches_a_naive_loop() {
    let _rng = crate::common::global_rng(); // draws unseeded: initial weights, fit
                                            // Conv1D(filters=3, kernel_size=2) on (batch=2, steps=5, channels=2): kernel (2, 2, 3)
    let c = Conv1D::new(3, 2).named("conv1d_ref");
    let x = rnd(&[2, 5, 2], 5);
    let y = c.call(&x, false);
    assert_eq!(y.dims(), &[2, 4, 3]);
    let w = c.weights();
    assert_eq!(
        (w[0].name(), w[0].dims()),
        ("conv1d_ref/kernel", &[2, 2, 3][..])
    );
    assert_eq!(w[1].dims(), &[3]);
    assert_eq!(c.count_params(), 2 * 2 * 3 + 3);
    let (k, b) = (rnd(&[2, 2, 3], 6), tensor([0.1, -0.2, 0.3]));
    set_weights(&c, &[k.clone(), b.clone()]);
    // a sequence is a 1-pixel-high image: the 2-D reference with kh = 1
    let (want, _) = conv_ref(
        &x.to_vec(),
        (2, 1, 5, 2),
        &k.to_vec(),
        (1, 2, 3),
        &b.to_vec(),
        (1, 1),
        (1, 1),
        false,
    );
    assert_tensor(&c.call(&x, false), &[2, 4, 3], &want, 1e-5);
    // hand-computed: one channel, kernel [1, -1], x = [1, 4, 9, 16] -> [-3, -5, -7]
    let d = Conv1D::new(1, 2).use_bias(false);
    d.call(&zeros([1, 4, 1]), false);
    set_weights(&d, &[tensor([1.0, -1.0]).reshape([2, 1, 1])]);
    let seq = tensor([1.0, 4.0, 9.0, 16.0]).reshape([1, 4, 1]);
    assert_tensor(&d.call(&seq, false), &[1, 3, 1], &[-3.0, -5.0, -7.0], 1e-6);
    // "same", stride 2 -> ceil(5 / 2) = 3 steps; gradients through the 1-D path
    let s = Conv1D::new(2, 3)
        .padding("same")
        .strides(2)
        .activation("tanh");
    assert_eq!(s.call(&x, false).dims(), &[2, 3, 2]);
    check_grad(|x| s.call(x, true), &x, 1e-2);
    check_var_grad(|| s.call(&x, true), &s.weights()[0], 1e-2);
}

#[test]
fn conv_errors_name_the_layer_and_the_shapes() {
    let _rng = crate::common::global_rng(); // draws unseeded: initial weights, fit
    let c = Conv2D::new(4, 3).named("stem");
    let msg = panic_message(|| c.call(&zeros([8, 8, 1]), false));
    assert_contains(&msg, &["Conv2D 'stem'", "(8, 8, 1)"]);
    c.call(&zeros([1, 8, 8, 1]), false);
    let msg = panic_message(|| c.call(&zeros([1, 8, 8, 3]), false));
    assert_contains(&msg, &["stem", "3 channels"]);
    let c1 = Conv1D::new(4, 3).named("seq");
    let msg = panic_message(|| c1.call(&zeros([2, 8]), false));
    assert_contains(&msg, &["Conv1D 'seq'", "(2, 8)"]);
}

// ------------------------------------------------------------------------------------------------
// Pooling

#[test]
fn pooling_layers_match_hand_computed_values() {
    let _rng = crate::common::global_rng(); // draws unseeded: initial weights, fit
                                            // 4x4 image 0..15: 2x2 max pools take the bottom-right of each block, averages the mean
    let x = arange(0.0, 16.0, 1.0).reshape([1, 4, 4, 1]);
    let m = MaxPooling2D::new(2).call(&x, false);
    assert_tensor(&m, &[1, 2, 2, 1], &[5.0, 7.0, 13.0, 15.0], 0.0);
    let a = AveragePooling2D::new(2).call(&x, false);
    assert_tensor(&a, &[1, 2, 2, 1], &[2.5, 4.5, 10.5, 12.5], 1e-6);
    // overlapping windows: pool 3, stride 1 -> 2x2
    let m3 = MaxPooling2D::new(3).strides(1).call(&x, false);
    assert_tensor(&m3, &[1, 2, 2, 1], &[10.0, 11.0, 14.0, 15.0], 0.0);
    // "same" on 3x3 with pool 2 stride 2: the last row/column windows are partly padding, and
    // TF's average divides by the real cells only: out[1,1] = x[2,2] = 9, out[0,1] = (3+6)/2
    let img = image_1_to_9();
    let ms = MaxPooling2D::new(2).padding("same").call(&img, false);
    assert_tensor(&ms, &[1, 2, 2, 1], &[5.0, 6.0, 8.0, 9.0], 0.0);
    let avs = AveragePooling2D::new(2).padding("same").call(&img, false);
    assert_tensor(&avs, &[1, 2, 2, 1], &[3.0, 4.5, 7.5, 9.0], 1e-6);
    // Keras' default pool size is 2
    assert_eq!(
        MaxPooling2D::default().call(&x, false).dims(),
        &[1, 2, 2, 1]
    );
    // channels pool independently: GlobalAveragePooling2D (N,H,W,C) -> (N,C)
    let two = concat(&[&x, &(&x * 10.0)], 3);
    let g = GlobalAveragePooling2D::new().call(&two, false);
    assert_tensor(&g, &[1, 2], &[7.5, 75.0], 1e-6);
    let msg = panic_message(|| GlobalAveragePooling2D::new().call(&zeros([2, 3]), false));
    assert_contains(&msg, &["GlobalAveragePooling2D", "(2, 3)"]);
}

#[test]
fn pooling_gradients_match_finite_differences() {
    let _rng = crate::common::global_rng(); // draws unseeded: initial weights, fit
                                            // max pooling routes the gradient to each window's argmax (distinct values: no ties);
                                            // average pooling spreads it as 1/count; global average as 1/(H*W)
    let x = distinct(&[2, 5, 5, 2], 8);
    let w = rnd(&[2, 2, 2, 2], 9);
    check_grad(|x| MaxPooling2D::new(2).call(x, true) * &w, &x, 1e-2);
    let w3 = rnd(&[2, 3, 3, 2], 10);
    check_grad(
        |x| AveragePooling2D::new(2).padding("same").call(x, true) * &w3,
        &x,
        1e-2,
    );
    check_grad(
        |x| {
            MaxPooling2D::new(3)
                .strides(2)
                .padding("same")
                .call(x, true)
                * &w3
        },
        &x,
        1e-2,
    );
    let wg = rnd(&[2, 2], 11);
    check_grad(
        |x| GlobalAveragePooling2D::new().call(x, true) * &wg,
        &x,
        1e-2,
    );
}

/// Naive NHWC pooling with TF's padding rule; the average counts only real (unpadded) cells.
fn pool_ref(
    x: &[f32],
    (n, h, w, c): (usize, usize, usize, usize),
    pool: (usize, usize),
    stride: (usize, usize),
    same: bool,
    max: bool,
) -> (Vec<f32>, [usize; 4]) {
    let (oh, ow, pt, pl) = if same {
        let (oh, ow) = (h.div_ceil(stride.0), w.div_ceil(stride.1));
        let ph = ((oh - 1) * stride.0 + pool.0).saturating_sub(h);
        let pw = ((ow - 1) * stride.1 + pool.1).saturating_sub(w);
        (oh, ow, ph / 2, pw / 2)
    } else {
        (
            (h - pool.0) / stride.0 + 1,
            (w - pool.1) / stride.1 + 1,
            0,
            0,
        )
    };
    let mut out = Vec::with_capacity(n * oh * ow * c);
    for b in 0..n {
        for i in 0..oh {
            for j in 0..ow {
                for ch in 0..c {
                    let (mut best, mut sum, mut count) = (f32::NEG_INFINITY, 0f64, 0);
                    for a in 0..pool.0 {
                        for e in 0..pool.1 {
                            let y = (i * stride.0 + a) as isize - pt as isize;
                            let xx = (j * stride.1 + e) as isize - pl as isize;
                            if y < 0 || xx < 0 || y >= h as isize || xx >= w as isize {
                                continue;
                            }
                            let v = x[((b * h + y as usize) * w + xx as usize) * c + ch];
                            best = best.max(v);
                            sum += v as f64;
                            count += 1;
                        }
                    }
                    out.push(if max {
                        best
                    } else {
                        (sum / count as f64) as f32
                    });
                }
            }
        }
    }
    (out, [n, oh, ow, c])
}

#[test]
fn pooling_matches_a_naive_loop_for_sizes_strides_and_padding() {
    let _rng = crate::common::global_rng(); // draws unseeded: initial weights, fit
    let x = rnd(&[2, 7, 6, 3], 12);
    // (pool size, strides, padding)
    type Config = ((usize, usize), (usize, usize), &'static str);
    let configs: [Config; 5] = [
        ((2, 2), (2, 2), "valid"),
        ((3, 3), (2, 2), "same"),
        ((3, 2), (1, 2), "same"),
        ((2, 3), (3, 1), "valid"),
        ((4, 4), (3, 3), "same"),
    ];
    for (pool, st, pad) in configs {
        println!("pool {pool:?} strides {st:?} {pad}");
        let xv = x.to_vec::<f32>();
        let (want, dims) = pool_ref(&xv, (2, 7, 6, 3), pool, st, pad == "same", true);
        let m = MaxPooling2D::new(pool).strides(st).padding(pad);
        assert_tensor(&m.call(&x, false), &dims, &want, 0.0);
        let (want, dims) = pool_ref(&xv, (2, 7, 6, 3), pool, st, pad == "same", false);
        let a = AveragePooling2D::new(pool).strides(st).padding(pad);
        assert_tensor(&a.call(&x, false), &dims, &want, 1e-6);
    }
}
