//! 28x28 grayscale images, seeded: digits drawn from a 5x7 bitmap font, and simple shapes.
//! MNIST-sized stand-ins that ship with the engine, for CNNs and ResNets.
//!
//! Every image gets a random position, scale and brightness, and Gaussian pixel noise, so a
//! model has to learn shift invariance rather than memorise pixels. Pixels are in [0, 1];
//! `x` is float32 (n, 784) and `images()` gives (n, 28, 28, 1). Classes are balanced.

use super::{labelled, Data};
use crate::random::Rng;

/// Image side in pixels.
pub const SIDE: usize = 28;

/// The digits 0-9 in a 5x7 bitmap font, row by row (`#` is ink).
const FONT: [[&str; 7]; 10] = [
    [
        ".###.", "#...#", "#..##", "#.#.#", "##..#", "#...#", ".###.",
    ],
    [
        "..#..", ".##..", "..#..", "..#..", "..#..", "..#..", ".###.",
    ],
    [
        ".###.", "#...#", "....#", "...#.", "..#..", ".#...", "#####",
    ],
    [
        "#####", "...#.", "..#..", "...#.", "....#", "#...#", ".###.",
    ],
    [
        "...#.", "..##.", ".#.#.", "#..#.", "#####", "...#.", "...#.",
    ],
    [
        "#####", "#....", "####.", "....#", "....#", "#...#", ".###.",
    ],
    [
        "..##.", ".#...", "#....", "####.", "#...#", "#...#", ".###.",
    ],
    [
        "#####", "....#", "...#.", "..#..", ".#...", ".#...", ".#...",
    ],
    [
        ".###.", "#...#", "#...#", ".###.", "#...#", "#...#", ".###.",
    ],
    [
        ".###.", "#...#", "#...#", ".####", "....#", "...#.", ".##..",
    ],
];

/// Names of the classes of [`glyph_shapes`].
pub const SHAPES: [&str; 4] = ["circle", "square", "triangle", "cross"];

/// Balanced labels 0..k, shuffled.
fn balanced(n: usize, k: usize, rng: &mut Rng) -> Vec<i64> {
    let mut y: Vec<i64> = (0..n).map(|i| (i % k) as i64).collect();
    rng.shuffle(&mut y);
    y
}

/// Adds Gaussian noise of std `noise` and clamps to [0, 1].
fn finish(img: &mut [f32], noise: f32, rng: &mut Rng) {
    let mut e = vec![0f32; img.len()];
    rng.fill_normal(&mut e, 0.0, noise);
    for (p, e) in img.iter_mut().zip(e) {
        *p = (*p + e).clamp(0.0, 1.0);
    }
}

/// `n` images of the digits 0-9 in a bitmap font, scaled 2x or 3x, placed anywhere they fit,
/// with brightness in [0.7, 1] and pixel noise of std `noise` (0.1 is typical).
/// `y`: int64 digit.
pub fn glyph_digits(n: usize, noise: f32, seed: u64) -> Data {
    let mut rng = Rng::seed_from_u64(seed);
    let y = balanced(n, 10, &mut rng);
    let mut x = vec![0f32; n * SIDE * SIDE];
    for (img, &d) in x.chunks_exact_mut(SIDE * SIDE).zip(&y) {
        let s = 2 + rng.below(2) as usize;
        let (w, h) = (5 * s, 7 * s);
        let ox = rng.below((SIDE - w + 1) as u64) as usize;
        let oy = rng.below((SIDE - h + 1) as u64) as usize;
        let ink = 0.7 + 0.3 * rng.next_f32();
        for (r, row) in FONT[d as usize].iter().enumerate() {
            for (c, ch) in row.bytes().enumerate() {
                if ch != b'#' {
                    continue;
                }
                for dy in 0..s {
                    for dx in 0..s {
                        img[(oy + r * s + dy) * SIDE + ox + c * s + dx] = ink;
                    }
                }
            }
        }
        finish(img, noise, &mut rng);
    }
    let mut data = labelled("glyph_digits", x, vec![n, SIDE * SIDE], y);
    data.class_names = (0..10).map(|i| i.to_string()).collect();
    data.image_shape = Some([SIDE, SIDE, 1]);
    data
}

/// `n` images of outlined circles and squares, filled triangles and crosses, of radius 6 to
/// 11 pixels at a random place, with pixel noise of std `noise`. `y`: int64 index into
/// [`SHAPES`].
pub fn glyph_shapes(n: usize, noise: f32, seed: u64) -> Data {
    let mut rng = Rng::seed_from_u64(seed);
    let y = balanced(n, SHAPES.len(), &mut rng);
    let mut x = vec![0f32; n * SIDE * SIDE];
    for (img, &k) in x.chunks_exact_mut(SIDE * SIDE).zip(&y) {
        let r = 6.0 + 5.0 * rng.next_f32();
        let margin = r + 1.5;
        let span = SIDE as f32 - 2.0 * margin;
        let cx = margin + span * rng.next_f32();
        let cy = margin + span * rng.next_f32();
        let ink = 0.7 + 0.3 * rng.next_f32();
        for py in 0..SIDE {
            for px in 0..SIDE {
                let (dx, dy) = (px as f32 + 0.5 - cx, py as f32 + 0.5 - cy);
                let on = match k {
                    0 => ((dx * dx + dy * dy).sqrt() - r).abs() < 1.2,
                    1 => (dx.abs().max(dy.abs()) - r).abs() < 1.2,
                    2 => dy.abs() <= r && dx.abs() <= (dy + r) / 2.0,
                    _ => (dx.abs() < 1.5 && dy.abs() < r) || (dy.abs() < 1.5 && dx.abs() < r),
                };
                if on {
                    img[py * SIDE + px] = ink;
                }
            }
        }
        finish(img, noise, &mut rng);
    }
    let mut data = labelled("glyph_shapes", x, vec![n, SIDE * SIDE], y);
    data.class_names = SHAPES.map(String::from).to_vec();
    data.image_shape = Some([SIDE, SIDE, 1]);
    data
}
