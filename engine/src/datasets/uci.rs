//! Two classic datasets from the UCI Machine Learning Repository, vendored in `engine/data/`
//! (scikit-learn's copies; sources, licences and checksums in `engine/data/README.md`).
//!
//! - [`digits`]: 1,797 handwritten digits as 8x8 images, 10 classes (`sklearn.datasets.load_digits`).
//! - [`iris`]: 150 iris flowers, 4 measurements, 3 species (`sklearn.datasets.load_iris`).

use super::Data;
use crate::tensor::create::from_vec;

const DIGITS_TXT: &str = include_str!("../../data/digits.txt");
const IRIS_CSV: &str = include_str!("../../data/iris.csv");

/// UCI optical recognition of handwritten digits (the 1,797-image test set that scikit-learn
/// ships).
///
/// - `x`: float32 (1797, 64), pixel counts 0..16 scaled to [0, 1]; `images()` gives (1797, 8, 8, 1).
/// - `y`: int64 (1797,), the digit 0..9.
///
/// `digits().split(1500, 42)` gives a fixed 1,500 / 297 train/test split.
pub fn digits() -> Data {
    let mut x = Vec::with_capacity(1797 * 64);
    let mut y = Vec::with_capacity(1797);
    for line in DIGITS_TXT.lines().filter(|l| !l.is_empty()) {
        let (label, pixels) = line
            .split_once(' ')
            .expect("digits.txt: `label pixels` lines");
        y.push(label.parse::<i64>().expect("digits.txt: label"));
        x.extend(pixels.chars().map(|c| {
            c.to_digit(17)
                .expect("digits.txt: pixel in 0..=16 (base 17)") as f32
                / 16.0
        }));
    }
    let n = y.len();
    let mut d = Data::new(
        "digits",
        from_vec(x, [n, 64]).expect("digits: 64 pixels per image"),
        from_vec(y, [n]).expect("digits: labels"),
    );
    d.feature_names = (0..64)
        .map(|i| format!("pixel_{}_{}", i / 8, i % 8))
        .collect();
    d.class_names = (0..10).map(|i| i.to_string()).collect();
    d.image_shape = Some([8, 8, 1]);
    d
}

/// Fisher's iris flowers.
///
/// - `x`: float32 (150, 4): sepal length, sepal width, petal length, petal width, in cm.
/// - `y`: int64 (150,): 0 setosa, 1 versicolor, 2 virginica (50 each, in that order).
pub fn iris() -> Data {
    let mut lines = IRIS_CSV.lines();
    // Header: "150,4,setosa,versicolor,virginica".
    let header: Vec<&str> = lines.next().expect("iris.csv: header").split(',').collect();
    let mut x = Vec::with_capacity(600);
    let mut y = Vec::with_capacity(150);
    for line in lines.filter(|l| !l.is_empty()) {
        let f: Vec<&str> = line.split(',').collect();
        x.extend(
            f[..4]
                .iter()
                .map(|v| v.parse::<f32>().expect("iris.csv: feature")),
        );
        y.push(f[4].parse::<i64>().expect("iris.csv: label"));
    }
    let n = y.len();
    let mut d = Data::new(
        "iris",
        from_vec(x, [n, 4]).expect("iris: 4 features per row"),
        from_vec(y, [n]).expect("iris: labels"),
    );
    d.feature_names = [
        "sepal length (cm)",
        "sepal width (cm)",
        "petal length (cm)",
        "petal width (cm)",
    ]
    .map(String::from)
    .to_vec();
    d.class_names = header[2..].iter().map(|s| s.to_string()).collect();
    d
}
