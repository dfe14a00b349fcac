"""Rich display end to end: real kernel, real jupyter_client.

The engine prints display lines mid-cell; the kernel must turn each into its iopub message at
once (display_data, update_display_data, clear_output), in order and before execute_reply. Live
outputs (LivePlot, ProgressBar) redraw at most about 10 times a second however fast they are fed.

Uses the `kernel` fixture of conftest.py and `run` from kernel_helpers.py.
"""

import base64
from datetime import datetime

from kernel_helpers import run

CELL_TIMEOUT = 240  # the first cell after start may rebuild the engine for evcxr


def when(msg):
    """The send time the kernel stamped on a message."""
    d = msg["header"]["date"]
    return d if isinstance(d, datetime) else datetime.fromisoformat(str(d).replace("Z", "+00:00"))


def display_kinds(cell):
    return [
        m
        for m in cell.outputs
        if m["msg_type"] in ("display_data", "update_display_data", "clear_output")
    ]


def assert_before_reply(cell):
    last = max(when(m) for m in cell.outputs)
    assert last <= when(cell.reply), "an output was sent after execute_reply"


def test_live_plot_shows_updates_in_place_throttled_then_clears(kernel):
    # 20 updates 30 ms apart (33 a second): the plot may redraw only ~10 times a second.
    code = """
let mut live = LivePlot::new().title("live loss").xlabel("step").ylabel("loss");
for i in 0..20 {
    live.update(i as f64, &[("loss", 1.0 / (1.0 + i as f64))]);
    std::thread::sleep(std::time::Duration::from_millis(30));
}
live.finish();
clear_output(false);
"""
    cell = run(kernel, code, timeout=CELL_TIMEOUT)
    assert cell.status == "ok", cell.outputs
    msgs = display_kinds(cell)
    kinds = [m["msg_type"] for m in msgs]
    assert kinds[0] == "display_data", kinds
    assert kinds[-1] == "clear_output", kinds
    updates = msgs[1:-1]
    assert updates and all(k == "update_display_data" for k in kinds[1:-1]), kinds

    first = msgs[0]["content"]
    display_id = first["transient"]["display_id"]
    assert display_id
    assert "image/svg+xml" in first["data"] and "text/plain" in first["data"]
    assert all(u["content"]["transient"]["display_id"] == display_id for u in updates)

    # throttled: at most ~10 redraws a second over the time they span, and not all 20
    span = (when(updates[-1]) - when(msgs[0])).total_seconds()
    assert len(updates) <= span * 10 + 2, (len(updates), span)
    assert len(updates) < 20
    # the final state is always drawn
    assert "line 'loss' (20 points)" in updates[-1]["content"]["data"]["text/plain"]
    assert msgs[-1]["content"]["wait"] is False
    assert_before_reply(cell)


def test_display_updated_20_times_then_cleared_in_order(kernel):
    code = """
let h = display(&plot::line([3.0, 2.0, 1.5]).title("step 0"));
for i in 1..=20 {
    std::thread::sleep(std::time::Duration::from_millis(100));
    update_display(&h, &plot::line(vec![3.0, 2.0, 1.0 / i as f64]).title(format!("step {i}")));
}
clear_output(true);
"""
    cell = run(kernel, code, timeout=CELL_TIMEOUT)
    assert cell.status == "ok", cell.outputs
    msgs = display_kinds(cell)
    kinds = [m["msg_type"] for m in msgs]
    assert kinds == ["display_data"] + ["update_display_data"] * 20 + ["clear_output"], kinds
    ids = {m["content"]["transient"]["display_id"] for m in msgs[:-1]}
    assert len(ids) == 1, ids
    titles = [m["content"]["data"]["text/plain"] for m in msgs[:-1]]
    assert "'step 0'" in titles[0] or "step 0" in titles[0], titles[0]
    assert "step 20" in titles[-1], titles[-1]
    assert msgs[-1]["content"]["wait"] is True
    # mid-cell: the first display arrived long before the cell ended (not batched at the end)
    assert (when(cell.reply) - when(msgs[0])).total_seconds() > 1.5
    assert_before_reply(cell)


def test_a_tight_loop_of_updates_is_throttled_and_its_last_update_arrives(kernel):
    # 3000 raw update_display calls as fast as the cell can make them: the kernel sends at most
    # 20 updates a second per display id, and always the last one.
    code = """
let h = display(&Html("<b>0</b>".to_string()));
let t0 = std::time::Instant::now();
for i in 1..=3000 {
    update_display(&h, &Html(format!("<b>{i}</b>")));
}
let took = t0.elapsed().as_secs_f64();
took
"""
    cell = run(kernel, code, timeout=CELL_TIMEOUT)
    assert cell.status == "ok", cell.outputs
    took = float(cell.result())
    msgs = display_kinds(cell)
    kinds = [m["msg_type"] for m in msgs]
    assert kinds[0] == "display_data" and set(kinds[1:]) == {"update_display_data"}, kinds[:5]
    updates = msgs[1:]
    assert 1 <= len(updates) < 300, (len(updates), took)
    # at most 20 a second: the kernel stamps each message when it sends it; every update but
    # the final flush at the end of the cell comes at least 50 ms after the one before
    gaps = [(when(b) - when(a)).total_seconds() for a, b in zip(updates, updates[1:-1])]
    assert all(g >= 0.045 for g in gaps), gaps
    assert updates[-1]["content"]["data"]["text/html"] == "<b>3000</b>"
    assert_before_reply(cell)


def test_progress_bar_redraws_in_place_at_most_ten_times_a_second(kernel):
    code = """
let mut bar = ProgressBar::new(1, 3, 100);
for step in 1..=100 {
    std::thread::sleep(std::time::Duration::from_millis(10));
    bar.update(step, &[("loss", 1.0 / step as f64), ("accuracy", step as f64 / 100.0)]);
}
bar.finish(&[("val_loss", 0.05)]);
"""
    cell = run(kernel, code, timeout=CELL_TIMEOUT)
    assert cell.status == "ok", cell.outputs
    msgs = display_kinds(cell)
    assert msgs[0]["msg_type"] == "display_data"
    updates = msgs[1:]
    assert all(m["msg_type"] == "update_display_data" for m in updates)
    span = (when(msgs[-1]) - when(msgs[0])).total_seconds()
    assert len(updates) <= span * 10 + 2, (len(updates), span)
    final = msgs[-1]["content"]["data"]
    assert final["text/plain"].startswith("Epoch 1/3 ━━━━━━━━━━━━━━━━━━━━ 100/100 · "), final
    assert "loss: 0.0100 · accuracy: 1.0000 · val_loss: 0.0500" in final["text/plain"]
    assert "text/html" in final
    assert_before_reply(cell)


def test_last_expressions_are_rich(kernel):
    cell = run(kernel, "tensor([[1.0, 2.0], [3.0, 4.0]])", timeout=CELL_TIMEOUT)
    data = cell.of_type("execute_result")[0]["content"]["data"]
    assert data["text/plain"].startswith("tf.Tensor(")
    assert "<table" in data["text/html"] and "shape=(2, 2)" in data["text/html"]

    cell = run(kernel, 'plot::hist(&randn([1000]), 20).title("weights")', timeout=CELL_TIMEOUT)
    data = cell.of_type("execute_result")[0]["content"]["data"]
    assert data["image/svg+xml"].lstrip().startswith("<svg")
    assert data["text/plain"].startswith("<Figure")

    cell = run(kernel, 'Table::new(["epoch", "loss"]).row((1, 0.5)).row((2, 0.25))', timeout=CELL_TIMEOUT)
    data = cell.of_type("execute_result")[0]["content"]["data"]
    assert "<table" in data["text/html"] and "0.2500" in data["text/html"]
    assert "0.2500" in data["text/plain"]

    cell = run(kernel, "plot::image_grid(&rand([6, 8, 8])).captions(0..6)", timeout=CELL_TIMEOUT)
    data = cell.of_type("execute_result")[0]["content"]["data"]
    png = base64.b64decode(data["image/png"])
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert data["text/plain"].startswith("<ImageGrid 6 images")


def test_any_type_implementing_display_is_rich(kernel):
    code = """
struct Money(f64);
impl Display for Money {
    fn mime_bundle(&self) -> ferrolab::display::MimeBundle {
        vec![
            ("text/plain".into(), format!("${:.2}", self.0)),
            ("text/html".into(), format!("<b>${:.2}</b>", self.0)),
        ]
    }
}
display(&Money(2.0));
Money(3.5)
"""
    cell = run(kernel, code, timeout=CELL_TIMEOUT)
    assert cell.status == "ok", cell.outputs
    shown = cell.of_type("display_data")[0]["content"]["data"]
    assert shown == {"text/plain": "$2.00", "text/html": "<b>$2.00</b>"}
    result = cell.of_type("execute_result")[0]["content"]["data"]
    assert result["text/html"] == "<b>$3.50</b>" and result["text/plain"] == "$3.50"
