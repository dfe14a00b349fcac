//! Rich display: tensor HTML tables (structure, elision, slices, dtypes), `Table`, the display
//! line JSON, and the progress bar's throttling with a fake clock (no sleeping).

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use ferrolab::display::{self, Display, ProgressBar, Table};
use ferrolab::prelude::*;

/// Parses an HTML fragment that is also well-formed XML (ours is).
fn parse(html: &str) -> roxmltree::Document<'_> {
    roxmltree::Document::parse(html).unwrap_or_else(|e| panic!("not well-formed: {e}\n{html}"))
}

fn all<'a>(doc: &'a roxmltree::Document, tag: &str) -> Vec<roxmltree::Node<'a, 'a>> {
    doc.descendants()
        .filter(|n| n.tag_name().name() == tag)
        .collect()
}

fn text(n: roxmltree::Node) -> String {
    n.descendants()
        .filter(|d| d.is_text())
        .filter_map(|d| d.text())
        .collect::<String>()
        .trim()
        .to_string()
}

/// The body cells of each table, as text, row by row (row headers dropped).
fn cells(doc: &roxmltree::Document) -> Vec<Vec<Vec<String>>> {
    all(doc, "tbody")
        .into_iter()
        .map(|body| {
            body.children()
                .filter(|r| r.tag_name().name() == "tr")
                .map(|r| {
                    r.children()
                        .filter(|c| c.tag_name().name() == "td")
                        .map(text)
                        .collect()
                })
                .collect()
        })
        .collect()
}

#[test]
fn small_tensor_is_a_table_headed_with_shape_dtype_and_device() {
    let t = tensor([[1.0, 2.5, -3.0], [4.0, 5.0, 6.0]]);
    let html = t.to_html();
    let doc = parse(&html);
    let head = text(all(&doc, "div")[1]);
    assert!(head.contains("shape=(2, 3)"), "{head}");
    assert!(head.contains("dtype=float32"), "{head}");
    assert!(head.contains("device=cpu"), "{head}");
    assert_eq!(all(&doc, "table").len(), 1);
    // column header: a corner cell and indices 0..3
    let ths: Vec<String> = all(&doc, "thead")[0]
        .descendants()
        .filter(|n| n.tag_name().name() == "th")
        .map(text)
        .collect();
    assert_eq!(ths, ["", "0", "1", "2"]);
    // values formatted like the text form (NumPy's shared format)
    assert_eq!(
        cells(&doc)[0],
        [["1. ", "2.5", "-3. "], ["4. ", "5. ", "6. "]]
            .map(|r| r.map(|c| c.trim().to_string()).to_vec())
            .to_vec()
    );
}

#[test]
fn elided_1000x1000_tensor_is_small_with_ellipses() {
    let t = arange_i64(0, 1_000_000).reshape([1000, 1000]);
    let html = t.to_html();
    println!("1000x1000 tensor HTML: {} bytes", html.len());
    assert!(html.len() < 20_000, "{} bytes", html.len());
    let doc = parse(&html);
    let rows = &cells(&doc)[0];
    // first 5 rows, an ellipsis row, last 5 rows; each with 5 + 1 + 5 columns
    assert_eq!(rows.len(), 11);
    assert!(rows.iter().all(|r| r.len() == 11));
    assert_eq!(rows[0][0], "0");
    assert_eq!(rows[0][4], "4");
    assert_eq!(rows[0][5], "…");
    assert_eq!(rows[0][10], "999");
    assert_eq!(rows[5][0], "⋮");
    assert_eq!(rows[5][5], "⋱");
    assert_eq!(rows[10][10], "999999");
    // row headers carry the true indices
    let row_heads: Vec<String> = all(&doc, "tbody")[0]
        .descendants()
        .filter(|n| n.tag_name().name() == "th")
        .map(text)
        .collect();
    assert_eq!(row_heads[4], "4");
    assert_eq!(row_heads[6], "995");
}

#[test]
fn rank3_tensor_is_a_stack_of_captioned_slices() {
    let t = arange(0.0, 12.0, 1.0).reshape([2, 2, 3]);
    let doc_html = t.to_html();
    let doc = parse(&doc_html);
    assert_eq!(all(&doc, "table").len(), 2);
    let caps: Vec<String> = all(&doc, "div")
        .into_iter()
        .map(text)
        .filter(|s| s.starts_with('['))
        .collect();
    assert_eq!(caps, ["[0, :, :]", "[1, :, :]"]);
    let c = cells(&doc);
    assert_eq!(c[1][1], ["9.", "10.", "11."]);

    // many slices: first 3 and last 3 around a vertical ellipsis
    let t = zeros([4, 5, 2, 2]);
    let html = t.to_html();
    let doc = parse(&html);
    assert_eq!(all(&doc, "table").len(), 6);
    let caps: Vec<String> = all(&doc, "div")
        .into_iter()
        .map(text)
        .filter(|s| s.starts_with('['))
        .collect();
    assert_eq!(caps.first().unwrap(), "[0, 0, :, :]");
    assert_eq!(caps.last().unwrap(), "[3, 4, :, :]");
    assert!(html.contains("⋮"));
}

#[test]
fn bool_and_int_tensors_show_cleanly() {
    let b = tensor([true, false, true]);
    let html = b.to_html();
    let doc = parse(&html);
    assert_eq!(cells(&doc)[0], [["True", "False", "True"]]);
    assert!(html.contains("dtype=bool"));

    let i = tensor([[1i64, -20], [300, 4]]);
    let html = i.to_html();
    let doc = parse(&html);
    assert_eq!(cells(&doc)[0], [["1", "-20"], ["300", "4"]]);

    let s = tensor(3.5).to_html();
    assert!(s.contains(">3.5<"), "{s}");
}

#[test]
fn tensor_bundle_has_text_and_html() {
    let b = tensor([1.0, 2.0]).mime_bundle();
    assert_eq!(b[0].0, "text/plain");
    assert!(b[0].1.starts_with("tf.Tensor("), "{}", b[0].1);
    assert_eq!(b[1].0, "text/html");
}

#[test]
fn tables_format_numbers_and_keep_structure() {
    let t = Table::new(["Layer (type)", "Output Shape", "Param #"])
        .title("Model: \"sequential\"")
        .row(("dense (Dense)", "(None, 128)", 100_480))
        .row(("dense_1 (Dense)", "(None, 10)", 1290))
        .note("Total params: 101,770");
    let html = t.to_html();
    let doc = parse(&html);
    assert_eq!(text(all(&doc, "caption")[0]), "Model: \"sequential\"");
    let ths: Vec<String> = all(&doc, "th").into_iter().map(text).collect();
    assert_eq!(ths, ["Layer (type)", "Output Shape", "Param #"]);
    assert_eq!(
        cells(&doc)[0],
        [
            ["dense (Dense)", "(None, 128)", "100,480"],
            ["dense_1 (Dense)", "(None, 10)", "1,290"]
        ]
    );
    // numeric columns are right-aligned
    let td = all(&doc, "td")[2];
    assert!(td.attribute("style").unwrap().contains("text-align:right"));
    let txt = t.to_text();
    assert!(
        txt.contains("\ndense_1 (Dense)  (None, 10)      1,290\n"),
        "{txt}"
    );
    assert!(txt.ends_with("Total params: 101,770"));

    let h = Table::from_columns("epoch", &[("loss", &[0.9, 0.45678]), ("accuracy", &[0.5])]);
    let doc_html = h.to_html();
    let doc = parse(&doc_html);
    assert_eq!(
        cells(&doc)[0],
        [["1", "0.9000", "0.5000"], ["2", "0.4568", ""]]
    );
}

#[test]
fn display_lines_are_json_with_ids() {
    let bundle = vec![("text/plain".to_string(), "a \"b\"\n".to_string())];
    let line = display::display_json(&bundle, Some("ferrolab-1"), true);
    assert_eq!(
        line,
        r#"{"msg_type":"update_display_data","data":{"text/plain":"a \"b\"\n"},"metadata":{},"transient":{"display_id":"ferrolab-1"}}"#
    );
    assert_eq!(
        display::clear_json(true),
        r#"{"msg_type":"clear_output","wait":true}"#
    );
    let a = display::DisplayHandle::new();
    let b = display::DisplayHandle::new();
    assert_ne!(a.id(), b.id());
}

/// A fake clock the test moves by hand.
fn fake_clock() -> (Rc<Cell<Duration>>, impl Fn() -> Duration) {
    let t = Rc::new(Cell::new(Duration::ZERO));
    let c = t.clone();
    (t, move || c.get())
}

#[test]
fn progress_bar_redraws_at_most_ten_times_a_second_and_always_the_final_state() {
    let (t, clock) = fake_clock();
    let mut bar = ProgressBar::new(3, 10, 47).with_clock(clock).capture();
    // 47 steps 30 ms apart (1.41 s): about 33 updates a second arrive
    for step in 1..=47 {
        t.set(Duration::from_millis(30 * step as u64));
        bar.update(step, &[("loss", 0.3142f32), ("accuracy", 0.9121)]);
    }
    bar.finish(&[("val_loss", 0.35)]);
    let frames = bar.frames().to_vec();
    let span = frames.last().unwrap().at.as_secs_f64();
    assert!(
        frames.len() <= (span * 10.0) as usize + 2,
        "{} frames",
        frames.len()
    );
    assert!(frames.len() >= 10, "{} frames", frames.len());
    // throttled frames are >= 100 ms apart (the forced last-step and finish frames may not be)
    let timed: Vec<Duration> = frames.iter().map(|f| f.at).collect();
    for w in timed[..timed.len() - 2].windows(2) {
        assert!(w[1] - w[0] >= Duration::from_millis(100), "{timed:?}");
    }
    assert!(!frames[0].update && frames[1..].iter().all(|f| f.update));
    let last = &frames.last().unwrap().text;
    assert!(
        last.starts_with("Epoch 3/10 ━━━━━━━━━━━━━━━━━━━━ 47/47 · 1s 30ms/step · loss: 0.3142 · accuracy: 0.9121 · val_loss: 0.3500"),
        "{last}"
    );
    // a frame mid-epoch shows a partial bar and an ETA
    let mid = &frames[3].text;
    assert!(mid.contains("─") && mid.contains("ETA"), "{mid}");
}

#[test]
fn progress_bar_fast_steps_draw_first_and_last_only() {
    let (t, clock) = fake_clock();
    let mut bar = ProgressBar::steps(1000).with_clock(clock).capture();
    for step in 1..=1000 {
        t.set(Duration::from_micros(50 * step as u64));
        bar.update(step, &[("loss", 1.0)]);
    }
    // finishing with nothing new does not draw the same state twice
    bar.finish::<f64>(&[]);
    let frames = bar.frames();
    assert_eq!(frames.len(), 2, "{frames:?}");
    assert!(frames[1].text.contains("1000/1000"));
    assert!(frames[1].text.contains("50us/step"), "{}", frames[1].text);
}

#[test]
fn html_rounds_floats_to_five_significant_digits_text_keeps_all() {
    let t = tensor([0.123456789, -2.0, 123.456789]);
    let html = t.to_html();
    let doc = parse(&html);
    assert_eq!(cells(&doc)[0], [["0.12346", "-2.", "123.46"]]);
    assert!(t.to_string().contains("0.1234568"), "{t}");
}
