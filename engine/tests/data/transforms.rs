//! Exact element order for every sequential transformation of `Dataset`.

use ferrolab::prelude::*;

/// The int64 scalars (or first values) of a dataset of tensors.
fn ints(ds: &Dataset<Tensor>) -> Vec<i64> {
    ds.iter().map(|t| t.to_vec::<i64>()[0]).collect()
}
/// Each element as a Vec (for batches and windows).
fn rows(ds: &Dataset<Tensor>) -> Vec<Vec<i64>> {
    ds.iter().map(|t| t.to_vec::<i64>()).collect()
}

#[test]
fn range_take_skip_repeat_concatenate() {
    let ds = Dataset::range(0..10);
    assert_eq!(ds.cardinality(), 10);
    assert_eq!(ints(&ds), (0..10).collect::<Vec<_>>());
    assert_eq!(ints(&Dataset::range_step(10, 0, -3)), vec![10, 7, 4, 1]);
    assert_eq!(ints(&ds.take(3)), vec![0, 1, 2]);
    assert_eq!(ints(&ds.skip(7)), vec![7, 8, 9]);
    assert_eq!(ds.skip(7).cardinality(), 3);
    assert_eq!(
        ints(&Dataset::range(0..3).repeat(2)),
        vec![0, 1, 2, 0, 1, 2]
    );
    assert_eq!(Dataset::range(0..3).repeat(2).cardinality(), 6);
    let forever = Dataset::range(0..3).repeat(None);
    assert_eq!(forever.cardinality(), ferrolab::data::INFINITE_CARDINALITY);
    assert_eq!(ints(&forever.take(7)), vec![0, 1, 2, 0, 1, 2, 0]);
    // An empty dataset repeated forever ends instead of spinning.
    assert_eq!(ints(&Dataset::range(0..0).repeat(None)), Vec::<i64>::new());
    let cat = Dataset::range(0..2).concatenate(&Dataset::range(5..7));
    assert_eq!(ints(&cat), vec![0, 1, 5, 6]);
    assert_eq!(cat.cardinality(), 4);
}

#[test]
fn map_filter_enumerate_zip() {
    let ds = Dataset::range(0..6);
    let sq = ds.map(|t| &t * &t);
    assert_eq!(ints(&sq), vec![0, 1, 4, 9, 16, 25]);
    let even = ds.filter(|t| t.to_vec::<i64>()[0] % 2 == 0);
    assert_eq!(ints(&even), vec![0, 2, 4]);
    let e: Vec<(i64, i64)> = Dataset::range(10..13)
        .enumerate()
        .iter()
        .map(|(i, x)| (i.to_scalar::<i64>(), x.to_scalar::<i64>()))
        .collect();
    assert_eq!(e, vec![(0, 10), (1, 11), (2, 12)]);
    let z: Vec<(i64, i64)> = Dataset::range(0..5)
        .zip(&Dataset::range(100..103))
        .iter()
        .map(|(a, b)| (a.to_scalar::<i64>(), b.to_scalar::<i64>()))
        .collect();
    assert_eq!(z, vec![(0, 100), (1, 101), (2, 102)]);
}

#[test]
fn from_tensor_slices_pairs_and_map_over_tuples() {
    let x = tensor([[1.0f32, 2.0], [3.0, 4.0], [5.0, 6.0]]);
    let y = tensor([0i64, 1, 2]);
    let ds = Dataset::from_tensor_slices((&x, &y));
    assert_eq!(ds.cardinality(), 3);
    let got: Vec<(Vec<f32>, i64)> = ds
        .map(|(x, y)| (x.affine(10.0, 0.0), y))
        .iter()
        .map(|(x, y)| (x.to_vec::<f32>(), y.to_scalar::<i64>()))
        .collect();
    assert_eq!(
        got,
        vec![
            (vec![10.0, 20.0], 0),
            (vec![30.0, 40.0], 1),
            (vec![50.0, 60.0], 2)
        ]
    );
    // Mismatched lengths: an error that names both shapes.
    let bad = Dataset::try_from_tensor_slices((&x, &tensor([0i64, 1]))).unwrap_err();
    let msg = bad.to_string();
    assert!(msg.contains("(3, 2)") && msg.contains("(2,)"), "{msg}");
    assert!(
        msg.contains("component 0 has 3 rows but component 1 has 2"),
        "{msg}"
    );
    // from_tensors: the whole tuple is one element.
    let one = Dataset::from_tensors((x.clone(), y.clone()));
    assert_eq!(one.cardinality(), 1);
    assert_eq!(one.iter().next().unwrap().0.dims(), &[3, 2]);
}

#[test]
fn batch_drop_remainder_unbatch() {
    let ds = Dataset::range(0..7);
    assert_eq!(
        rows(&ds.batch(3)),
        vec![vec![0, 1, 2], vec![3, 4, 5], vec![6]]
    );
    assert_eq!(ds.batch(3).cardinality(), 3);
    let dropped = ds.batch(3).drop_remainder(true);
    assert_eq!(rows(&dropped), vec![vec![0, 1, 2], vec![3, 4, 5]]);
    assert_eq!(dropped.cardinality(), 2);
    assert_eq!(ints(&ds.batch(3).unbatch()), (0..7).collect::<Vec<_>>());
    // Tuples batch component by component.
    let x = arange(0.0, 8.0, 1.0).reshape([4, 2]);
    let y = arange_i64(0, 4);
    let b: Vec<(Vec<usize>, Vec<i64>)> = Dataset::from_tensor_slices((&x, &y))
        .batch(3)
        .iter()
        .map(|(x, y)| (x.dims().to_vec(), y.to_vec::<i64>()))
        .collect();
    assert_eq!(b, vec![(vec![3, 2], vec![0, 1, 2]), (vec![1, 2], vec![3])]);
    // Different shapes in one batch: an error that suggests padded_batch.
    let ragged = Dataset::range(1..4).map(|n| arange_i64(0, n.to_scalar::<i64>()));
    let err = ragged.batch(3).try_collect().unwrap_err().to_string();
    assert!(err.contains("padded_batch"), "{err}");
}

#[test]
fn padded_batch_pads_to_the_longest() {
    // Elements [0], [0, 1], [0, 1, 2], [0, 1, 2, 3]
    let ds = Dataset::range(1..5).map(|n| arange_i64(0, n.to_scalar::<i64>()));
    let b = rows(&ds.padded_batch(2));
    assert_eq!(b, vec![vec![0, 0, 0, 1], vec![0, 1, 2, 0, 0, 1, 2, 3]]);
    let shapes: Vec<Vec<usize>> = ds
        .padded_batch(2)
        .iter()
        .map(|t| t.dims().to_vec())
        .collect();
    assert_eq!(shapes, vec![vec![2, 2], vec![2, 4]]);
    let minus = rows(&ds.take(3).padded_batch(3).padding_values(-1.0));
    assert_eq!(minus, vec![vec![0, -1, -1, 0, 1, -1, 0, 1, 2]]);
}

#[test]
fn window_for_time_series() {
    let ds = Dataset::range(0..7);
    let w = |d: Dataset<Dataset<Tensor>>| -> Vec<Vec<i64>> { d.iter().map(|w| ints(&w)).collect() };
    assert_eq!(
        w(ds.window(3, 2)),
        vec![vec![0, 1, 2], vec![2, 3, 4], vec![4, 5, 6], vec![6]]
    );
    assert_eq!(
        w(ds.window(3, 2).drop_remainder(true)),
        vec![vec![0, 1, 2], vec![2, 3, 4], vec![4, 5, 6]]
    );
    assert_eq!(
        w(ds.window(2, 1).stride(3).drop_remainder(true)),
        vec![vec![0, 3], vec![1, 4], vec![2, 5], vec![3, 6]]
    );
    assert_eq!(w(ds.window(2, 4)), vec![vec![0, 1], vec![4, 5]]);
    // The usual pattern: windows flattened to tensors.
    let flat = ds
        .window(4, 1)
        .drop_remainder(true)
        .flat_map(|w| w.batch(4));
    assert_eq!(
        rows(&flat),
        vec![
            vec![0, 1, 2, 3],
            vec![1, 2, 3, 4],
            vec![2, 3, 4, 5],
            vec![3, 4, 5, 6]
        ]
    );
}

#[test]
fn interleave_and_flat_map_order() {
    // Input i gives the dataset [10i, 10i + 1, 10i + 2] (like TF's guide example).
    let ds = Dataset::range(1..4);
    let sub = |t: Tensor| {
        let i = t.to_scalar::<i64>();
        Dataset::range(10 * i..10 * i + 3)
    };
    assert_eq!(
        ints(&ds.flat_map(sub)),
        vec![10, 11, 12, 20, 21, 22, 30, 31, 32]
    );
    assert_eq!(
        ints(&ds.interleave(sub, 2, 1)),
        vec![10, 20, 11, 21, 12, 22, 30, 31, 32]
    );
    assert_eq!(
        ints(&ds.interleave(sub, 2, 2)),
        vec![10, 11, 20, 21, 12, 22, 30, 31, 32]
    );
    assert_eq!(
        ints(&ds.interleave(sub, 3, 1)),
        vec![10, 20, 30, 11, 21, 31, 12, 22, 32]
    );
}

#[test]
fn memory_cache_replays_without_rerunning_the_pipeline() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    let ds = Dataset::range(0..5)
        .map(move |t| {
            c.fetch_add(1, Ordering::SeqCst);
            &t * &t
        })
        .cache();
    // An incomplete pass is not cached.
    assert_eq!(ints(&ds.take(2)), vec![0, 1]);
    assert_eq!(ints(&ds), vec![0, 1, 4, 9, 16]);
    let after_first = calls.load(Ordering::SeqCst);
    assert_eq!(ints(&ds), vec![0, 1, 4, 9, 16]);
    assert_eq!(
        calls.load(Ordering::SeqCst),
        after_first,
        "second epoch replays the cache"
    );
}

#[test]
fn builder_options_name_the_stage_they_need() {
    let r = std::panic::catch_unwind(|| Dataset::range(0..3).batch(2).num_parallel_calls(4));
    let e = r.unwrap_err();
    let msg = e.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(
        msg.contains("num_parallel_calls applies to") && msg.contains("map"),
        "{msg}"
    );
}

#[test]
fn cache_replay_does_not_restart_parallel_stages_above_it() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    let starts = Arc::new(AtomicUsize::new(0));
    let s = starts.clone();
    let ds = Dataset::from_generator(move || {
        s.fetch_add(1, Ordering::SeqCst);
        (0..5i64).map(|i| tensor(i))
    })
    .map(|t| &t + 1i64)
    .num_parallel_calls(2)
    .cache()
    .prefetch(2);
    for _ in 0..3 {
        assert_eq!(ints(&ds), vec![1, 2, 3, 4, 5]);
    }
    assert_eq!(starts.load(Ordering::SeqCst), 1, "the generator ran once");
}

#[test]
fn range_takes_n_like_tf_or_a_rust_range() {
    // tf.data.Dataset.range(5) -> 0..4; Dataset.range(2, 5) -> 2, 3, 4
    assert_eq!(ints(&Dataset::range(5)), vec![0, 1, 2, 3, 4]);
    assert_eq!(ints(&Dataset::range(2..5)), vec![2, 3, 4]);
    assert_eq!(ints(&Dataset::range(3usize)), vec![0, 1, 2]);
    assert_eq!(Dataset::range(7).cardinality(), 7);
    assert_eq!(ints(&Dataset::range(0)), Vec::<i64>::new());
}
