//! Heatmaps: a 2-D tensor as coloured cells with a colour bar beside it (confusion matrices,
//! attention maps), optionally with each value printed in its cell.
//!
//! Cells use y = -row so that row 0 is at the top with an ordinary increasing axis; ticks sit at
//! cell centres and name the rows and columns (indices, or the given tick labels).

use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::figure::{Heatmap, Panel};
use super::render::{e, fmt_tick, Res, FONT};
use super::style::is_light;

/// Colour range of a heatmap: its fixed range, else the finite min..max.
fn value_range(h: &Heatmap) -> (f64, f64) {
    if let Some(r) = h.range {
        return r;
    }
    let fin = h.values.iter().copied().filter(|v| v.is_finite());
    let (lo, hi) = fin.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
        (a.min(v), b.max(v))
    });
    if !lo.is_finite() {
        (0.0, 1.0)
    } else if hi > lo {
        (lo, hi)
    } else {
        (lo - 0.5, hi + 0.5)
    }
}

pub(crate) fn draw_heatmap<DB: DrawingBackend>(
    p: &Panel,
    h: &Heatmap,
    area: &DrawingArea<DB, Shift>,
) -> Res {
    let (w, _) = area.dim_in_pixel();
    let (main, bar) = area.split_horizontally(w.saturating_sub(90));
    let (lo, hi) = value_range(h);
    let t = |v: f64| (v - lo) / (hi - lo);
    let x_area = if p.xlabel.is_some() { 48 } else { 30 };
    let y_area = if p.ylabel.is_some() { 80 } else { 60 };

    let mut b = ChartBuilder::on(&main);
    b.margin(12)
        .x_label_area_size(x_area)
        .y_label_area_size(y_area);
    if let Some(t) = &p.title {
        b.caption(t, (FONT, 16));
    }
    let (rows, cols) = (h.rows as f64, h.cols as f64);
    let mut chart = b
        .build_cartesian_2d(-0.5..cols - 0.5, -rows + 0.5..0.5)
        .map_err(e)?;
    let tick = |v: f64, n: usize, names: &Option<Vec<String>>| {
        let k = v.round();
        if (v - k).abs() > 1e-6 || k < 0.0 || k as usize >= n {
            return String::new();
        }
        match names {
            Some(names) => names.get(k as usize).cloned().unwrap_or_default(),
            None => (k as usize).to_string(),
        }
    };
    let xfmt = |v: &f64| tick(*v, h.cols, &h.xticks);
    let yfmt = |v: &f64| tick(-*v, h.rows, &h.yticks);
    {
        let mut mesh = chart.configure_mesh();
        mesh.disable_mesh()
            .x_labels(h.cols.clamp(1, 20))
            .y_labels(h.rows.clamp(1, 20))
            .x_label_formatter(&xfmt)
            .y_label_formatter(&yfmt)
            .label_style((FONT, 12))
            .axis_desc_style((FONT, 14));
        if let Some(l) = &p.xlabel {
            mesh.x_desc(l);
        }
        if let Some(l) = &p.ylabel {
            mesh.y_desc(l);
        }
        mesh.draw().map_err(e)?;
    }
    let cells = (0..h.rows).flat_map(|i| (0..h.cols).map(move |j| (i, j)));
    chart
        .draw_series(cells.map(|(i, j)| {
            let (x, y) = (j as f64, -(i as f64));
            let c = h.cmap.at(t(h.values[i * h.cols + j]));
            Rectangle::new([(x - 0.5, y - 0.5), (x + 0.5, y + 0.5)], c.filled())
        }))
        .map_err(e)?;
    if h.annotate && h.rows * h.cols <= 900 {
        let integral = h.values.iter().all(|v| v.fract() == 0.0);
        let font_px = if h.rows.max(h.cols) > 12 { 9 } else { 12 };
        let mut texts = Vec::new();
        for i in 0..h.rows {
            for j in 0..h.cols {
                let v = h.values[i * h.cols + j];
                let s = if integral {
                    format!("{v}")
                } else {
                    format!("{v:.2}")
                };
                let color: &'static RGBColor = if is_light(h.cmap.at(t(v))) {
                    &BLACK
                } else {
                    &WHITE
                };
                let style = TextStyle::from((FONT, font_px).into_font())
                    .color(color)
                    .pos(Pos::new(HPos::Center, VPos::Center));
                texts.push(Text::new(s, (j as f64, -(i as f64)), style));
            }
        }
        chart.draw_series(texts).map_err(e)?;
    }
    draw_colorbar(p, h, &bar, (lo, hi), x_area)
}

fn draw_colorbar<DB: DrawingBackend>(
    p: &Panel,
    h: &Heatmap,
    area: &DrawingArea<DB, Shift>,
    (lo, hi): (f64, f64),
    x_area: u32,
) -> Res {
    let mut b = ChartBuilder::on(area);
    b.margin(12)
        .margin_left(4)
        .x_label_area_size(x_area)
        .set_label_area_size(LabelAreaPosition::Right, 50);
    if p.title.is_some() {
        // the same caption height as the heatmap, so the bar lines up with it
        b.caption(" ", (FONT, 16));
    }
    let mut chart = b
        .build_cartesian_2d(0.0..1.0, RangedCoordf64::from(lo..hi))
        .map_err(e)?;
    let yfmt = |v: &f64| fmt_tick(*v);
    chart
        .configure_mesh()
        .disable_mesh()
        .disable_x_axis()
        .y_labels(6)
        .y_label_formatter(&yfmt)
        .label_style((FONT, 11))
        .draw()
        .map_err(e)?;
    let n = 64;
    chart
        .draw_series((0..n).map(|k| {
            let a = lo + (hi - lo) * k as f64 / n as f64;
            let b = lo + (hi - lo) * (k + 1) as f64 / n as f64;
            let c = h.cmap.at((k as f64 + 0.5) / n as f64);
            Rectangle::new([(0.0, a), (1.0, b)], c.filled())
        }))
        .map_err(e)?;
    Ok(())
}
