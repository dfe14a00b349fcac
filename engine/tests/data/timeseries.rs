//! `timeseries_dataset_from_array` against the examples of Keras' docstring.

use ferrolab::prelude::*;

fn all_windows(ds: &Dataset<(Tensor, Tensor)>) -> (Vec<Vec<f32>>, Vec<f32>, Vec<usize>) {
    let (mut xs, mut ys, mut sizes) = (Vec::new(), Vec::new(), Vec::new());
    for (x, y) in ds.iter() {
        sizes.push(x.dims()[0]);
        let l = x.dims()[1];
        xs.extend(x.to_vec::<f32>().chunks(l).map(|c| c.to_vec()));
        ys.extend(y.to_vec::<f32>());
    }
    (xs, ys, sizes)
}

#[test]
fn keras_docstring_example_1_strides_and_sampling_rate() {
    // indices 0..=98, sequence_length 10, sampling_rate 2, sequence_stride 3:
    // [0 2 .. 18], [3 5 .. 21], [6 8 .. 24], ..., last [78 80 .. 96]
    let data = arange(0.0, 99.0, 1.0);
    let ds = timeseries_dataset_from_array(&data, None, 10)
        .sampling_rate(2)
        .sequence_stride(3)
        .inputs();
    let rows: Vec<Vec<f32>> = ds
        .iter()
        .flat_map(|x| {
            x.to_vec::<f32>()
                .chunks(10)
                .map(|c| c.to_vec())
                .collect::<Vec<_>>()
        })
        .collect();
    // num_seqs = 99 - (10 - 1) * 2 = 81 start rows, every third: 0, 3, .., 78
    assert_eq!(rows.len(), 27);
    let want = |s: usize| (0..10).map(|k| (s + 2 * k) as f32).collect::<Vec<_>>();
    assert_eq!(rows[0], want(0));
    assert_eq!(rows[1], want(3));
    assert_eq!(rows[2], want(6));
    assert_eq!(rows[26], want(78));
}

#[test]
fn keras_docstring_example_2_targets_are_the_next_step() {
    // data 0..100; inputs data[:-10], targets data[10:]: window i = data[i..i+10], target data[i+10]
    let data = arange(0.0, 100.0, 1.0);
    let input = data.slice(s![..90]);
    let targets = data.slice(s![10..]);
    let ds = timeseries_dataset_from_array(&input, Some(&targets), 10).build();
    let (xs, ys, sizes) = all_windows(&ds);
    assert_eq!(xs.len(), 81); // 90 - 9
    assert_eq!(sizes, vec![81]); // one batch of at most 128
    for (i, (x, y)) in xs.iter().zip(&ys).enumerate() {
        assert_eq!(x, &(i..i + 10).map(|v| v as f32).collect::<Vec<_>>());
        assert_eq!(*y, (i + 10) as f32);
    }
}

#[test]
fn multivariate_windows_batches_bounds_and_shuffle() {
    // 2 features: row t = [t, 100 + t]
    let t = arange(0.0, 20.0, 1.0);
    let data = stack(&[&t, &(&t + 100.0)], 1);
    let ds = timeseries_dataset_from_array(&data, Some(&t), 4)
        .batch_size(5)
        .start_index(2)
        .end_index(12);
    let (x, y) = ds.build().iter().next().unwrap();
    assert_eq!(x.dims(), &[5, 4, 2]);
    // first window starts at row 2: rows 2..6, its target t[2]
    assert_eq!(
        x.slice(s![0]).to_vec::<f32>(),
        vec![2.0, 102.0, 3.0, 103.0, 4.0, 104.0, 5.0, 105.0]
    );
    assert_eq!(y.to_vec::<f32>(), vec![2.0, 3.0, 4.0, 5.0, 6.0]);
    // end_index 12: starts 2..=8 (window 8..11 is the last inside), 7 windows in 5 + 2
    let sizes: Vec<usize> = ds.build().iter().map(|(x, _)| x.dims()[0]).collect();
    assert_eq!(sizes, vec![5, 2]);
    // shuffled: the same 7 (window, target) pairs, each target still its window's first row
    let shuffled = ds.clone().shuffle(3).build();
    let mut firsts = Vec::new();
    for (x, y) in shuffled.iter() {
        let xv = x.to_vec::<f32>();
        for (i, &yv) in y.to_vec::<f32>().iter().enumerate() {
            assert_eq!(xv[i * 8], yv);
            firsts.push(yv as i64);
        }
    }
    assert_ne!(firsts, vec![2, 3, 4, 5, 6, 7, 8], "shuffle(3) reorders");
    firsts.sort();
    assert_eq!(firsts, vec![2, 3, 4, 5, 6, 7, 8]);
    let msg = super::common::panic_message(|| timeseries_dataset_from_array(&t, None, 3).build());
    assert!(msg.contains(".inputs()"), "{msg}");
}
