//! The shipped datasets: shape, dtype, label balance and a checksum for each, and seeded
//! generators that repeat.

use ferrolab::datasets::{self, airline::AIRLINE_PASSENGERS};
use ferrolab::prelude::*;

/// Sum of all values as f64 (a checksum that does not depend on summation order within 1e-6).
fn total(t: &Tensor) -> f64 {
    t.to_f32_vec().iter().map(|&v| v as f64).sum()
}

#[test]
fn digits_match_the_vendored_scikit_learn_copy() {
    let d = datasets::digits();
    assert_eq!(d.x.dims(), &[1797, 64]);
    assert_eq!(d.x.dtype(), DType::F32);
    assert_eq!(d.y.dims(), &[1797]);
    assert_eq!(d.y.dtype(), DType::I64);
    // engine/data/README.md: pixel counts 0..16 sum to 561,718 (scaled by 1/16 here).
    assert!(
        (total(&d.x) * 16.0 - 561_718.0).abs() < 0.5,
        "{}",
        total(&d.x)
    );
    assert_eq!(
        d.class_counts(),
        vec![178, 182, 177, 183, 181, 182, 181, 179, 174, 180]
    );
    let x = d.x.to_vec::<f32>();
    assert!(x.iter().all(|&v| (0.0..=1.0).contains(&v)));
    // The first image is a 0 whose pixel counts sum to 294; the last is an 8.
    assert_eq!(d.y.to_vec::<i64>()[0], 0);
    assert_eq!(d.y.to_vec::<i64>()[1796], 8);
    assert!((x[..64].iter().sum::<f32>() * 16.0 - 294.0).abs() < 1e-3);
    // Row 0 of the first image: 0,0,5,13,9,1,0,0.
    let row0: Vec<f32> = x[..8].iter().map(|v| v * 16.0).collect();
    assert_eq!(row0, vec![0.0, 0.0, 5.0, 13.0, 9.0, 1.0, 0.0, 0.0]);
    let img = d.images();
    assert_eq!(img.dims(), &[1797, 8, 8, 1]);
    assert_eq!(img.get(0).get(0).get(3).to_vec::<f32>(), vec![13.0 / 16.0]);
    assert_eq!(d.class_names.len(), 10);
}

#[test]
fn digits_split_1500_297_is_fixed_by_its_seed() {
    let d = datasets::digits();
    let (train, test) = d.split(1500, 42);
    assert_eq!(train.x.dims(), &[1500, 64]);
    assert_eq!(test.x.dims(), &[297, 64]);
    assert_eq!((train.y.dims(), test.y.dims()), (&[1500][..], &[297][..]));
    // Train and test together hold every image exactly once.
    let all = total(&train.x) + total(&test.x);
    assert!((all - total(&d.x)).abs() < 1e-2);
    let mut counts = train.class_counts();
    for (c, n) in test.class_counts().into_iter().enumerate() {
        counts[c] += n;
    }
    assert_eq!(counts, d.class_counts());
    // Same seed, same split; another seed, another split.
    let (again, _) = d.split(1500, 42);
    assert_eq!(again.y.to_vec::<i64>(), train.y.to_vec::<i64>());
    let (other, _) = d.split(1500, 7);
    assert_ne!(other.y.to_vec::<i64>(), train.y.to_vec::<i64>());
    // Labels stay with their images: each test image equals the original row it came from.
    let (tx, ty) = (test.x.to_vec2::<f32>(), test.y.to_vec::<i64>());
    let (ox, oy) = (d.x.to_vec2::<f32>(), d.y.to_vec::<i64>());
    for (row, label) in tx.iter().zip(&ty).take(20) {
        let i = ox
            .iter()
            .position(|r| r == row)
            .expect("test row comes from digits");
        assert_eq!(oy[i], *label);
    }
    // A fraction rounds to the nearest count: 0.8 * 1797 = 1437.6 -> 1438.
    let (tr, te) = d.split(0.8, 42);
    assert_eq!((tr.len(), te.len()), (1438, 359));
    assert_eq!(train.images().dims(), &[1500, 8, 8, 1]);
}

#[test]
fn iris_has_150_flowers_in_three_balanced_classes() {
    let d = datasets::iris();
    assert_eq!(d.x.dims(), &[150, 4]);
    assert_eq!(d.x.dtype(), DType::F32);
    assert_eq!(d.y.dtype(), DType::I64);
    assert_eq!(d.class_counts(), vec![50, 50, 50]);
    assert_eq!(d.class_names, vec!["setosa", "versicolor", "virginica"]);
    assert_eq!(d.x.get(0).to_vec::<f32>(), vec![5.1, 3.5, 1.4, 0.2]);
    // Column sums of Fisher's data: 876.5, 458.6, 563.7, 179.9.
    let sums = d.x.sum_axis(0, false).to_vec::<f32>();
    for (s, want) in sums.iter().zip([876.5f32, 458.6, 563.7, 179.9]) {
        assert!((s - want).abs() < 1e-2, "column sum {s} vs {want}");
    }
}

#[test]
fn airline_passengers_is_the_box_jenkins_series_g() {
    let a = datasets::airline_passengers();
    assert_eq!(a.dims(), &[144]);
    assert_eq!(a.dtype(), DType::F32);
    assert_eq!(
        AIRLINE_PASSENGERS.iter().map(|&v| v as u32).sum::<u32>(),
        40_363
    );
    assert_eq!(total(&a), 40_363.0);
    let v = a.to_vec::<f32>();
    // First, last and the peak (July 1960, index 138).
    assert_eq!((v[0], v[143], v[138]), (112.0, 432.0, 622.0));
    assert_eq!(v.iter().cloned().fold(0.0, f32::max), 622.0);
    let months = datasets::airline::airline_months();
    assert_eq!(
        (months[0].as_str(), months[138].as_str()),
        ("1949-01", "1960-07")
    );
}
