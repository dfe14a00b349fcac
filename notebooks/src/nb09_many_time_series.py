"""09_many_time_series: windowing, baselines, a Dense forecaster on airline passengers, and many
series trained one model at a time versus batched into one model."""


def cells():
    return [
        ("md", r"""
# Forecasting many time series
"""),
        ("md", r"""
## Overview

A retailer forecasts each product, a utility each meter, a hospital each ward: thousands of short
series. The tempting plan is one small model per series, trained in parallel by hand across
processes or machines. The workshop's point is simpler: put the series on one accelerator and
train them **one after another, or better, batched together**. Each small model alone leaves the
device idle between tiny operations (see `08_gpu_basics`); stacking the series into big batches
keeps it busy.

You will:

* turn a series into (window → next value) training examples;
* set honest baselines before training anything;
* train a `Dense` forecaster on the classic airline-passengers series;
* forecast 200 synthetic series, once with a model per series in a loop and once with one model
  on all of them, and compare speed and accuracy.
"""),
        ("md", r"""
## Setup

Airline passengers: monthly totals (in thousands) of international airline passengers,
1949-1960, from Box & Jenkins, shipped with Ferrolab.
"""),
        ("code", r"""
use std::time::Instant;
set_seed(1);
let passengers = datasets::airline_passengers().to_vec::<f32>();
let months: Vec<f64> = (0..144).map(|i| 1949.0 + i as f64 / 12.0).collect();
plot::plot(&months, &passengers).title("International airline passengers").xlabel("year").ylabel("thousands")
"""),
        ("md", r"""
## Windowing

A forecaster sees the last `W` values and predicts the next one. Each window is expressed
relative to its last value, so the model learns the *shape* of the seasonal pattern rather than
the level, which keeps rising. For the airline data we work with logarithms, so "relative" means
a ratio, and `W = 13` months lets the model see the same month a year earlier.
"""),
        ("code", r"""
/// x[i] = s[i..i+w] - s[i+w-1] and y[i] = s[i+w] - s[i+w-1], plus the last values s[i+w-1].
fn windows(s: &[f32], w: usize) -> (Tensor, Tensor, Vec<f32>) {
    let n = s.len() - w;
    let (mut x, mut y, mut last) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..n {
        let l = s[i + w - 1];
        x.extend(s[i..i + w].iter().map(|v| v - l));
        y.push(s[i + w] - l);
        last.push(l);
    }
    (from_vec(x, [n, w]).unwrap(), from_vec(y, [n, 1]).unwrap(), last)
}

const W: usize = 13;
const TEST_MONTHS: usize = 24;
let log_p: Vec<f32> = passengers.iter().map(|p| p.ln()).collect();
let (wx, wy, wlast) = windows(&log_p, W);
let n_train = wx.dims()[0] - TEST_MONTHS;
let (x_train, y_train) = (wx.slice(s![..n_train]), wy.slice(s![..n_train]));
let (x_test, y_test) = (wx.slice(s![n_train..]), wy.slice(s![n_train..]));
let test_last = wlast[n_train..].to_vec();
println!("{} windows: {} to train on, {} to test (the last two years)", wx.dims()[0], n_train, TEST_MONTHS);
"""),
        ("md", r"""
## Baselines

Two forecasts that need no training: **naive** (next month = this month) and **seasonal naive**
(next month = the same month last year). A model is only worth having if it beats them. Errors are
mean absolute errors in thousands of passengers.
"""),
        ("code", r"""
/// Mean absolute error in passengers of relative log forecasts.
fn mae_passengers(pred_rel: &[f32], true_rel: &[f32], last: &[f32]) -> f32 {
    let n = pred_rel.len();
    (0..n).map(|i| ((last[i] + pred_rel[i]).exp() - (last[i] + true_rel[i]).exp()).abs()).sum::<f32>() / n as f32
}
let truth = y_test.to_vec::<f32>();
let naive_pred = vec![0.0f32; TEST_MONTHS];
let seasonal_pred = x_test.slice(s![.., 1]).to_vec::<f32>();   // the value 12 months before the target
let naive_mae = mae_passengers(&naive_pred, &truth, &test_last);
let seasonal_mae = mae_passengers(&seasonal_pred, &truth, &test_last);
println!("naive MAE {naive_mae:.1}, seasonal naive MAE {seasonal_mae:.1} (thousands of passengers)");
"""),
        ("md", r"""
## A Dense forecaster

Two `Dense` layers on the 13 relative values. A hundred-odd windows are a tiny dataset, so the
model is small and trains in a second or two.
"""),
        ("code", r"""
let mut forecaster = Sequential::new()
    .add(Dense::new(32).activation("relu"))
    .add(Dense::new(1))
    .input_shape([W]);
forecaster.compile(Adam::new(3e-3), MeanSquaredError, &["mae"]);
let history = forecaster.fit(&x_train, &y_train).epochs(150).batch_size(16).verbose(0).run();
let model_pred = forecaster.predict(&x_test).to_vec::<f32>();
let model_mae = mae_passengers(&model_pred, &truth, &test_last);
println!("Dense forecaster MAE {model_mae:.1} (naive {naive_mae:.1}, seasonal naive {seasonal_mae:.1})");
history.plot()
"""),
        ("code", r"""
/// Relative log forecasts back to passengers.
fn to_passengers(pred: &[f32], last: &[f32]) -> Vec<f32> {
    pred.iter().zip(last).map(|(p, l)| (l + p).exp()).collect()
}
let test_months = months[144 - TEST_MONTHS..].to_vec();
plot::plot(&months, &passengers).label("actual")
    .plot(&test_months, &to_passengers(&model_pred, &test_last)).label("Dense forecast").marker("o")
    .plot(&test_months, &to_passengers(&seasonal_pred, &test_last)).label("seasonal naive").dashed()
    .axvline(test_months[0])
    .title("One-month-ahead forecasts of the last two years")
    .xlabel("year").ylabel("thousands")
"""),
        ("md", r"""
## Many series

`datasets::sine_series` makes series that differ in level, trend, amplitude, period and phase,
with noise. We take 200 series of 60 steps; windows of 16 steps, the first 48 steps for training
and one-step-ahead forecasts of the last 12 for testing.
"""),
        ("code", r"""
const SERIES: usize = 200;
const LEN: usize = 60;
const SW: usize = 16;
const SPLIT: usize = 48;
let many = datasets::sine_series(SERIES, LEN, 0.1, 7);
let series: Vec<Vec<f32>> = (0..SERIES).map(|i| many.x.slice(s![i]).to_vec::<f32>()).collect();
series[..6].iter().fold(plot::Figure::new(), |fig, s| fig.line(s))
    .axvline(SPLIT as f64)
    .title("Six of the 200 series (line: train | test)")
    .xlabel("step")
"""),
        ("code", r"""
/// Train and test windows of one series: windows whose target is before SPLIT train.
fn split_windows(s: &[f32]) -> ((Tensor, Tensor), (Tensor, Tensor)) {
    let (x, y, _) = windows(s, SW);
    let n_train = SPLIT - SW;
    ((x.slice(s![..n_train]), y.slice(s![..n_train])), (x.slice(s![n_train..]), y.slice(s![n_train..])))
}
fn small_model() -> Sequential {
    let mut m = Sequential::new()
        .add(Dense::new(32).activation("relu"))
        .add(Dense::new(1))
        .input_shape([SW]);
    m.compile(Adam::new(1e-2), MeanSquaredError, &[]);
    m
}
let parts: Vec<((Tensor, Tensor), (Tensor, Tensor))> = series.iter().map(|s| split_windows(s)).collect();
let naive_many = parts.iter().map(|(_, (_, yt))| yt.abs().mean().item()).sum::<f32>() / SERIES as f32;
println!("naive MAE over all series: {naive_many:.3}");
"""),
        ("md", r"""
**One model per series, in a loop.** Each model trains on its own 32 windows. The loop is timed
over the first 20 series; the time for all 200 is ten times that.
"""),
        ("code", r"""
const LOOPED: usize = 20;
let t = Instant::now();
let mut per_series_mae = Vec::new();
for ((x, y), (xt, yt)) in &parts[..LOOPED] {
    let mut m = small_model();
    m.fit(x, y).epochs(40).batch_size(16).verbose(0).run();
    per_series_mae.push((m.predict(xt) - yt).abs().mean().item());
}
let loop_seconds = t.elapsed().as_secs_f64();
let loop_series_per_s = LOOPED as f64 / loop_seconds;
let loop_mae = per_series_mae.iter().sum::<f32>() / LOOPED as f32;
println!("{LOOPED} models in {loop_seconds:.2} s: {loop_series_per_s:.1} series/s, MAE {loop_mae:.3}");
"""),
        ("md", r"""
**One model for all series, batched.** Stack every series' windows into one training set. The
same network now sees 200 × 32 windows in batches of 256: far fewer, far bigger operations.
"""),
        ("code", r"""
let all_x = concat(&parts.iter().map(|((x, _), _)| x).collect::<Vec<_>>(), 0);
let all_y = concat(&parts.iter().map(|((_, y), _)| y).collect::<Vec<_>>(), 0);
let t = Instant::now();
let mut global = small_model();
global.fit(&all_x, &all_y).epochs(40).batch_size(256).verbose(0).run();
let batched_seconds = t.elapsed().as_secs_f64();
let batched_series_per_s = SERIES as f64 / batched_seconds;
let global_mae_all = parts.iter().map(|(_, (xt, yt))| (global.predict(xt) - yt).abs().mean().item()).sum::<f32>() / SERIES as f32;
let global_mae_looped = parts[..LOOPED].iter().map(|(_, (xt, yt))| (global.predict(xt) - yt).abs().mean().item()).sum::<f32>() / LOOPED as f32;
println!("{} windows, one model: {batched_seconds:.2} s, {batched_series_per_s:.0} series/s", all_x.dims()[0]);
println!("MAE: global {global_mae_all:.3} on all series, {global_mae_looped:.3} on the first {LOOPED} (per-series models: {loop_mae:.3}; naive {naive_many:.3})");
"""),
        ("code", r"""
let speedup = batched_series_per_s / loop_series_per_s;
plot::subplots(2, [
    plot::bar(["model per series", "one batched model"], [loop_series_per_s, batched_series_per_s])
        .yscale("log").title(format!("Series trained per second ({speedup:.0}x)")),
    plot::bar(["naive", "model per series", "one batched model"], [naive_many, loop_mae, global_mae_looped])
        .title(format!("Test MAE, first {LOOPED} series")),
])
"""),
        ("md", r"""
The batched model trains an order of magnitude more series per second and forecasts about as
well as 20 models that were each fitted to their own series: one network has learned what the
series have in common. On a GPU the gap grows further, because the small models leave it idle.

## Exercise check
"""),
        ("code", r"""
assert!(model_mae < naive_mae, "the Dense forecaster ({model_mae:.1}) must beat the naive forecast ({naive_mae:.1})");
assert!(model_mae < seasonal_mae, "Dense {model_mae:.1} vs seasonal naive {seasonal_mae:.1}");
assert!(global_mae_all < 0.8 * naive_many, "global model MAE {global_mae_all} vs naive {naive_many}");
assert!(global_mae_looped <= loop_mae * 1.2, "batched {global_mae_looped} vs per-series {loop_mae}");
assert!(speedup > 5.0, "batching trained only {speedup:.1}x more series per second");
println!("All checks passed: {speedup:.0}x more series per second, MAE {global_mae_all:.3} vs naive {naive_many:.3}");
"""),
        ("md", r"""
## Next steps

* Replace the `Dense` forecaster with `LSTM::new(32)` on windows reshaped to (N, W, 1).
* Forecast 12 months at once: make the target the next 12 values and the last layer `Dense(12)`.
* Give the global model a per-series input (an `Embedding` of the series id) with the
  Functional API, so it can still specialise.
"""),
    ]
