//! Plots: the SVG parses as XML and has the expected axes, labels and series (counted as
//! elements); PNG image grids decode to the right size with pixels equal to the tensor's; live
//! plots redraw at most 10 times a second (fake clock, no sleeping).
//!
//! Set FERROLAB_PLOT_OUT=dir to also write every figure there (to look at them).

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use ferrolab::plot::{self, Figure, LivePlot};
use ferrolab::prelude::*;

/// Parses `svg` and returns it for counting.
fn parse(svg: &str) -> roxmltree::Document<'_> {
    roxmltree::Document::parse(svg).unwrap_or_else(|e| panic!("SVG is not XML: {e}\n{svg}"))
}

fn count(doc: &roxmltree::Document, tag: &str) -> usize {
    doc.descendants()
        .filter(|n| n.tag_name().name() == tag)
        .count()
}

/// The number of points of each polyline stroked in `colour`.
fn polylines(doc: &roxmltree::Document, colour: &str) -> Vec<usize> {
    doc.descendants()
        .filter(|n| n.tag_name().name() == "polyline" && n.attribute("stroke") == Some(colour))
        .map(|n| {
            n.attribute("points")
                .unwrap_or("")
                .split_whitespace()
                .count()
        })
        .collect()
}

fn texts(doc: &roxmltree::Document) -> Vec<String> {
    doc.descendants()
        .filter(|n| n.tag_name().name() == "text")
        .map(|n| n.text().unwrap_or("").trim().to_string())
        .collect()
}

fn has_text(doc: &roxmltree::Document, t: &str) -> bool {
    texts(doc).iter().any(|x| x == t)
}

/// Writes the figure to FERROLAB_PLOT_OUT when set.
fn keep(name: &str, fig: &Figure) {
    if let Ok(dir) = std::env::var("FERROLAB_PLOT_OUT") {
        std::fs::create_dir_all(&dir).unwrap();
        fig.save(format!("{dir}/{name}.svg")).unwrap();
        fig.save(format!("{dir}/{name}.png")).unwrap();
    }
}

#[test]
fn line_plot_has_axes_labels_series_markers_and_legend() {
    let x: Vec<f64> = (0..20).map(|i| i as f64 * 0.3).collect();
    let sin: Vec<f64> = x.iter().map(|v| v.sin()).collect();
    let cos: Vec<f64> = x.iter().map(|v| v.cos()).collect();
    let fig = plot::plot(&x, &sin)
        .label("sin")
        .marker("o")
        .plot(&x, &cos)
        .label("cos")
        .axhline(0.0)
        .label("zero")
        .title("Waves")
        .xlabel("x (rad)")
        .ylabel("amplitude");
    keep("line", &fig);
    let svg = fig.to_svg();
    let doc = parse(&svg);
    for t in ["Waves", "x (rad)", "amplitude", "sin", "cos", "zero"] {
        assert!(has_text(&doc, t), "missing text {t:?} in {:?}", texts(&doc));
    }
    // Each series is one polyline in its colour (tab10 blue, orange) with a point per value,
    // plus its legend sample; the dashed reference line is many short grey segments.
    for colour in ["#1F77B4", "#FF7F0E"] {
        let lines = polylines(&doc, colour);
        assert_eq!(lines.len(), 2, "{colour}: {lines:?}");
        assert_eq!(lines[0], 20, "{colour}: one point per value");
        assert_eq!(lines[1], 2, "{colour}: legend sample");
    }
    // 20 markers on "sin" plus one in its legend sample
    assert_eq!(count(&doc, "circle"), 21);
    // tick labels on both axes
    assert!(has_text(&doc, "0") || has_text(&doc, "0.0"));
    assert!(texts(&doc).len() > 10);
}

#[test]
fn log_axis_ticks_are_powers_of_ten() {
    let loss: Vec<f64> = (0..50).map(|i| 10f64.powf(-(i as f64) / 10.0)).collect();
    let fig = plot::line(&loss).yscale("log").title("loss").ylabel("loss");
    keep("log", &fig);
    let svg = fig.to_svg();
    let doc = parse(&svg);
    let t = texts(&doc);
    // 1 down to 1e-5 spans decades: labels 1, 0.1, 0.01, 0.001 and 1e-4 (or a subset)
    let decades = ["1", "0.1", "0.01", "0.001"]
        .iter()
        .filter(|d| t.iter().any(|x| x == *d))
        .count();
    assert!(decades >= 2, "log ticks: {t:?}");
    assert_eq!(polylines(&doc, "#1F77B4"), vec![50]);
}

#[test]
fn scatter_is_coloured_by_class_with_a_legend_per_class() {
    let n = 30;
    let x: Vec<f64> = (0..n).map(|i| (i as f64).cos() * i as f64).collect();
    let y: Vec<f64> = (0..n).map(|i| (i as f64).sin() * i as f64).collect();
    let labels: Vec<i64> = (0..n).map(|i| (i % 3) as i64).collect();
    let fig = plot::scatter(&x, &y)
        .classes(&labels)
        .class_names(["setosa", "versicolor", "virginica"])
        .title("Iris");
    keep("scatter", &fig);
    let svg = fig.to_svg();
    let doc = parse(&svg);
    // one circle per point plus one legend sample per class
    assert_eq!(count(&doc, "circle"), n + 3);
    let fills: std::collections::HashSet<String> = doc
        .descendants()
        .filter(|e| e.tag_name().name() == "circle")
        .filter_map(|e| e.attribute("fill").map(str::to_string))
        .collect();
    assert_eq!(fills.len(), 3, "three classes, three colours: {fills:?}");
    for name in ["setosa", "versicolor", "virginica"] {
        assert!(has_text(&doc, name));
    }
}

#[test]
fn histogram_and_bar_chart_draw_one_bar_per_bin() {
    let data: Vec<f64> = (0..1000)
        .map(|i| ((i * 7919) % 1000) as f64 / 100.0)
        .collect();
    let fig = plot::hist(&data, 10)
        .title("hist")
        .xlabel("value")
        .ylabel("count");
    keep("hist", &fig);
    let svg = fig.to_svg();
    let doc = parse(&svg);
    // each bar is a filled rect plus its white edge; the background is one more rect
    let rects = count(&doc, "rect");
    assert!(rects >= 20, "rects: {rects}");
    assert!(has_text(&doc, "count"));

    let fig = plot::bar(["cat", "dog", "bird"], [3.0, 5.0, 1.0]).title("pets");
    keep("bar", &fig);
    let svg = fig.to_svg();
    let doc = parse(&svg);
    for name in ["cat", "dog", "bird"] {
        assert!(has_text(&doc, name), "{:?}", texts(&doc));
    }
    assert!(count(&doc, "rect") >= 6);
}

#[test]
fn heatmap_draws_every_cell_the_values_and_a_colour_bar() {
    // a 3-class confusion matrix
    let cm = tensor([[50i64, 2, 1], [3, 45, 4], [0, 5, 40]]);
    let fig = plot::heatmap(&cm)
        .annotate()
        .cmap("Blues")
        .ticklabels(["cat", "dog", "bird"], ["cat", "dog", "bird"])
        .title("Confusion matrix")
        .xlabel("predicted")
        .ylabel("true");
    keep("heatmap", &fig);
    let svg = fig.to_svg();
    let doc = parse(&svg);
    // 9 cells + 64 colour-bar bands (+ backgrounds)
    let rects = count(&doc, "rect");
    assert!(rects >= 9 + 64, "rects: {rects}");
    for v in ["50", "45", "40", "0"] {
        assert!(has_text(&doc, v), "cell value {v} missing");
    }
    for t in ["Confusion matrix", "predicted", "true", "cat", "bird"] {
        assert!(has_text(&doc, t), "{t}: {:?}", texts(&doc));
    }
}

#[test]
fn attention_map_and_subplots_grid() {
    let att = randn([12, 12]).softmax(-1);
    let grid = plot::subplots(
        2,
        [
            plot::heatmap(&att).title("attention"),
            plot::line([3.0, 2.0, 1.5, 1.2]).title("loss"),
            plot::hist(randn([500]), 20).title("weights"),
            plot::imshow(&rand([8, 8])).title("digit"),
        ],
    )
    .suptitle("Dashboard");
    keep("grid", &grid);
    assert_eq!(grid.num_panels(), 4);
    assert_eq!(grid.pixel_size(), (800, 630));
    let svg = grid.to_svg();
    let doc = parse(&svg);
    for t in ["Dashboard", "attention", "loss", "weights", "digit"] {
        assert!(has_text(&doc, t), "{t}");
    }
    // 144 attention cells, 64 colour-bar bands, 20 bins (x2), 8x8 image pixels (runs merged,
    // random values so about one rect each)
    assert!(count(&doc, "rect") >= 144 + 64 + 40 + 60);
}

#[test]
fn image_grid_png_has_the_right_size_and_pixels() {
    // 5 grey images of 4x3, values i/10 + pixel ramp, in 3 columns at scale 2
    let n = 5;
    let (h, w) = (4, 3);
    let vals: Vec<f32> = (0..n * h * w)
        .map(|k| (k % (h * w)) as f32 / 12.0 * 0.5 + (k / (h * w)) as f32 / 10.0)
        .collect();
    let t = ferrolab::tensor::create::from_vec(vals.clone(), [n, h, w]).unwrap();
    let grid = plot::image_grid(&t)
        .cols(3)
        .scale(2)
        .captions(["0", "1", "2", "3", "4"]);
    let png = grid.to_png().unwrap();
    let dec = png::Decoder::new(std::io::Cursor::new(&png));
    let mut reader = dec.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!((info.width, info.height), grid.pixel_size());
    // 3 columns of 6px tiles with 4px gaps; 2 rows of 8px tiles, 11px captions, 4px gaps
    assert_eq!(grid.pixel_size(), (4 + 3 * (6 + 4), 4 + 2 * (8 + 11 + 4)));
    assert_eq!(info.color_type, png::ColorType::Rgb);
    let mut worst = 0i32;
    for i in 0..n {
        let (ox, oy) = grid.tile_origin(i);
        for y in 0..h {
            for x in 0..w {
                let want = (vals[(i * h + y) * w + x] as f64 * 255.0).round() as i32;
                for (dx, dy) in [(0, 0), (1, 1)] {
                    let px = (ox as usize + x * 2 + dx, oy as usize + y * 2 + dy);
                    let o = (px.1 * info.width as usize + px.0) * 3;
                    for c in 0..3 {
                        worst = worst.max((buf[o + c] as i32 - want).abs());
                    }
                }
            }
        }
    }
    println!("image grid pixels OK, maxdiff = {worst}");
    assert_eq!(worst, 0);
    if let Ok(dir) = std::env::var("FERROLAB_PLOT_OUT") {
        let big = plot::image_grid(&rand([16, 8, 8]))
            .captions((0..16).map(|i| format!("{i} (p {})", i % 10)))
            .title("digits");
        big.save(format!("{dir}/image_grid.png")).unwrap();
    }
}

#[test]
fn rgb_images_and_rgba_on_white() {
    // [N,H,W,C]: one red, one half-transparent blue pixel image
    let t = tensor([[[[1.0, 0.0, 0.0]]], [[[0.0, 0.0, 1.0]]]]);
    let p = ferrolab::plot::Pixels::from_tensor(&t, true).unwrap();
    assert_eq!(p.get(0, 0, 0), [255, 0, 0]);
    assert_eq!(p.get(1, 0, 0), [0, 0, 255]);
    let rgba = tensor([[[0.0, 0.0, 1.0, 0.5]]]);
    let p = ferrolab::plot::Pixels::from_tensor(&rgba, false).unwrap();
    assert_eq!(p.get(0, 0, 0), [127, 127, 255]);
}

#[test]
fn figures_save_as_svg_and_png() {
    let dir = std::env::temp_dir().join(format!("ferrolab-plot-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let fig = plot::line([1.0, 3.0, 2.0]).title("t").size(320, 200);
    fig.save(dir.join("a.svg")).unwrap();
    fig.save(dir.join("a.png")).unwrap();
    let svg = std::fs::read_to_string(dir.join("a.svg")).unwrap();
    parse(&svg);
    let png = std::fs::read(dir.join("a.png")).unwrap();
    let reader = png::Decoder::new(std::io::Cursor::new(png))
        .read_info()
        .unwrap();
    assert_eq!((reader.info().width, reader.info().height), (320, 200));
    let err = fig.save(dir.join("a.jpg")).unwrap_err();
    assert!(err.to_string().contains(".svg or .png"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn figure_bundle_is_svg_with_a_text_summary() {
    use ferrolab::display::Display;
    let fig = plot::line([1.0, 2.0]).label("loss").title("Training");
    let b = fig.mime_bundle();
    assert_eq!(b[0].0, "text/plain");
    assert!(b[0].1.contains("line 'loss' (2 points)"), "{}", b[0].1);
    assert_eq!(b[1].0, "image/svg+xml");
    parse(&b[1].1);
}

#[test]
fn image_heavy_figures_show_as_png() {
    use ferrolab::display::Display;
    let fig = plot::imshow(&rand([256, 256])).title("big");
    let b = fig.mime_bundle();
    assert_eq!(b[0].0, "text/plain");
    assert_eq!(
        b[1].0, "image/png",
        "a 65k-pixel image is PNG, not 65k SVG rects"
    );
    let small = plot::imshow(&rand([28, 28])).mime_bundle();
    assert_eq!(small[1].0, "image/svg+xml");
}

#[test]
#[should_panic(expected = "plot: x has 3 values but y has 2")]
fn mismatched_lengths_say_so() {
    plot::plot([1.0, 2.0, 3.0], [1.0, 2.0]);
}

/// A fake clock the test moves by hand.
fn fake_clock() -> (Rc<Cell<Duration>>, impl Fn() -> Duration) {
    let t = Rc::new(Cell::new(Duration::ZERO));
    let c = t.clone();
    (t, move || c.get())
}

#[test]
fn live_plot_redraws_at_most_ten_times_a_second_and_always_at_the_end() {
    let (t, clock) = fake_clock();
    let mut live = LivePlot::new().title("loss").with_clock(clock).capture();
    // 200 points 7 ms apart: 1.4 s of updates arriving at ~143 a second
    for i in 0..200 {
        t.set(Duration::from_millis(7 * i));
        live.update(i as f64, &[("loss", 1.0 / (1.0 + i as f64))]);
    }
    live.finish();
    let draws = live.draw_times();
    let span = draws.last().unwrap().as_secs_f64();
    // first draw at 0, then one per >= 100 ms, plus the final one
    assert!(
        draws.len() <= (span * 10.0) as usize + 2,
        "{} draws",
        draws.len()
    );
    assert!(draws.len() >= 10, "{} draws", draws.len());
    for w in draws.windows(2).take(draws.len() - 2) {
        assert!(w[1] - w[0] >= Duration::from_millis(100), "{draws:?}");
    }
    assert_eq!(*draws.last().unwrap(), Duration::from_millis(7 * 199));
    let fig = live.figure();
    keep("live", &fig);
    assert!(fig.summary().contains("line 'loss' (200 points)"));
}
