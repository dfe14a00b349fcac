//! Drawing a [`Figure`] with plotters onto any drawing backend: the SVG backend for notebooks
//! and `.svg` files, the raster backend of `raster.rs` for `.png` files.
//!
//! Each panel is one of three kinds, decided by its artists:
//! - cartesian (lines, scatter, bars, reference lines): axes, ticks, grid, legend; log axes use
//!   plotters' `LogCoord`, which is why the drawing is generic over the coordinate types;
//! - heatmap (`heatmap.rs`): coloured cells, row 0 on top, optional numbers in the cells, a
//!   colour bar;
//! - image: pixels scaled to fit, aspect kept, no axes.

use plotters::chart::SeriesAnno;
use plotters::coord::ranged1d::{Ranged, ValueFormatter};
use plotters::coord::Shift;
use plotters::prelude::*;

use super::data::Pixels;
use super::figure::{Artist, Bars, Figure, Panel};
use super::style::{cycle, Marker};

pub(crate) type Res = Result<(), String>;

pub(crate) fn e<E: std::fmt::Display>(err: E) -> String {
    err.to_string()
}

pub(crate) const FONT: &str = "sans-serif";
const GRID_BOLD: RGBColor = RGBColor(215, 215, 215);

/// Draws `fig` on `root` (filled white first).
pub(crate) fn draw_figure<DB: DrawingBackend>(fig: &Figure, root: &DrawingArea<DB, Shift>) -> Res {
    root.fill(&WHITE).map_err(e)?;
    let area = match &fig.title {
        Some(t) => root.titled(t, (FONT, 20)).map_err(e)?,
        None => root.clone(),
    };
    let (rows, cols) = fig.layout();
    let areas = area.split_evenly((rows, cols));
    for (panel, a) in fig.panels.iter().zip(areas.iter()) {
        draw_panel(panel, a)?;
    }
    Ok(())
}

fn draw_panel<DB: DrawingBackend>(p: &Panel, area: &DrawingArea<DB, Shift>) -> Res {
    for a in &p.artists {
        match a {
            Artist::Heatmap(h) => return super::heatmap::draw_heatmap(p, h, area),
            Artist::Image(px) => return draw_image(p, px, area),
            _ => {}
        }
    }
    draw_cartesian(p, area)
}

/// A short tick label: `0.25`, `10`, `1e-05`.
pub(crate) fn fmt_tick(v: f64) -> String {
    if v == 0.0 {
        return "0".into();
    }
    let a = v.abs();
    if !(1e-4..1e6).contains(&a) {
        let s = format!("{v:.1e}");
        return s.replace(".0e", "e");
    }
    let s = format!("{v:.6}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_string()
}

/// `v` with rounding noise around zero removed (a tick at 2.2e-16 on a -1..1 axis is 0).
fn snap(v: f64, range: &std::ops::Range<f64>) -> f64 {
    if v.abs() < (range.end - range.start).abs() * 1e-9 {
        0.0
    } else {
        v
    }
}

/// Data range along one axis, padded 5% (in log space on log axes).
fn axis_range(vals: &[f64], log: bool, lim: Option<(f64, f64)>, zero_base: bool) -> (f64, f64) {
    if let Some(l) = lim {
        return l;
    }
    let ok: Vec<f64> = vals
        .iter()
        .copied()
        .filter(|v| v.is_finite() && (!log || *v > 0.0))
        .collect();
    let lo = ok.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = ok.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if ok.is_empty() {
        return if log { (1.0, 10.0) } else { (0.0, 1.0) };
    }
    if log {
        let (lo, hi) = if hi > lo {
            (lo, hi)
        } else {
            (lo / 2.0, hi * 2.0)
        };
        if hi / lo < 100.0 {
            // plotters labels only powers of ten: widen a narrow range to whole decades so
            // there are at least two labelled ticks
            return (
                10f64.powf(lo.log10().floor()),
                10f64.powf(hi.log10().ceil()),
            );
        }
        let pad = (hi / lo).powf(0.05);
        return (lo / pad, hi * pad);
    }
    let (lo, hi) = if hi > lo {
        (lo, hi)
    } else {
        (lo - 0.5, hi + 0.5)
    };
    let pad = (hi - lo) * 0.05;
    let lo = if zero_base && lo >= 0.0 { lo } else { lo - pad };
    (lo, hi + pad)
}

fn draw_cartesian<DB: DrawingBackend>(p: &Panel, area: &DrawingArea<DB, Shift>) -> Res {
    let (mut xs, mut ys) = (Vec::new(), Vec::new());
    let mut bars = false;
    let mut categories: Option<Vec<String>> = None;
    for a in &p.artists {
        match a {
            Artist::Line(l) => {
                xs.extend(&l.x);
                ys.extend(&l.y);
            }
            Artist::Scatter(s) => {
                xs.extend(&s.x);
                ys.extend(&s.y);
            }
            Artist::Bars(b) => {
                bars = true;
                for i in 0..b.left.len() {
                    xs.extend([b.left[i], b.left[i] + b.width[i]]);
                    ys.push(b.height[i]);
                }
                if !p.ylog {
                    ys.push(0.0);
                }
                if b.categories.is_some() {
                    categories = b.categories.clone();
                }
            }
            Artist::Ref(r) => {
                if r.horizontal {
                    ys.push(r.value)
                } else {
                    xs.push(r.value)
                }
            }
            _ => {}
        }
    }
    let (x0, x1) = axis_range(&xs, p.xlog, p.xlim, false);
    let (y0, y1) = axis_range(&ys, p.ylog, p.ylim, bars);

    let mut b = ChartBuilder::on(area);
    b.margin(12)
        .x_label_area_size(if p.xlabel.is_some() { 48 } else { 30 })
        .y_label_area_size(if p.ylabel.is_some() { 70 } else { 52 });
    if let Some(t) = &p.title {
        b.caption(t, (FONT, 16));
    }
    let cats = categories.as_deref();
    match (p.xlog, p.ylog) {
        (false, false) => fill(p, b.build_cartesian_2d(x0..x1, y0..y1).map_err(e)?, cats),
        (true, false) => fill(
            p,
            b.build_cartesian_2d((x0..x1).log_scale(), y0..y1)
                .map_err(e)?,
            cats,
        ),
        (false, true) => fill(
            p,
            b.build_cartesian_2d(x0..x1, (y0..y1).log_scale())
                .map_err(e)?,
            cats,
        ),
        (true, true) => fill(
            p,
            b.build_cartesian_2d((x0..x1).log_scale(), (y0..y1).log_scale())
                .map_err(e)?,
            cats,
        ),
    }
}

/// Draws `pts` as markers `m` of radius `r`.
fn draw_markers<'a, 'c, DB, X, Y>(
    chart: &'c mut ChartContext<'a, DB, Cartesian2d<X, Y>>,
    pts: Vec<(f64, f64)>,
    m: Marker,
    r: i32,
    c: RGBColor,
) -> Result<&'c mut SeriesAnno<'a, DB>, String>
where
    DB: DrawingBackend + 'a,
    X: Ranged<ValueType = f64>,
    Y: Ranged<ValueType = f64>,
{
    let line = c.stroke_width(2);
    let pts = pts.into_iter();
    match m {
        Marker::Circle => chart.draw_series(pts.map(|q| Circle::new(q, r, c.filled()))),
        Marker::Point => chart.draw_series(pts.map(|q| Circle::new(q, (r / 2).max(1), c.filled()))),
        Marker::Triangle => {
            chart.draw_series(pts.map(|q| TriangleMarker::new(q, r + 1, c.filled())))
        }
        Marker::Cross => chart.draw_series(pts.map(|q| Cross::new(q, r, line))),
        Marker::Square => chart.draw_series(
            pts.map(|q| EmptyElement::at(q) + Rectangle::new([(-r, -r), (r, r)], c.filled())),
        ),
        Marker::Plus => chart.draw_series(pts.map(|q| {
            EmptyElement::at(q)
                + PathElement::new(vec![(-r, 0), (r, 0)], line)
                + PathElement::new(vec![(0, -r), (0, r)], line)
        })),
    }
    .map_err(e)
}

/// Sets the legend sample of `anno`: a short line when `line`, with marker `m` on it (or alone).
fn legend<'a, DB: DrawingBackend + 'a>(
    anno: &mut SeriesAnno<'a, DB>,
    label: &str,
    c: RGBColor,
    line: bool,
    m: Option<Marker>,
) {
    let (x0, x1) = if line { (0, 20) } else { (10, 10) };
    let path = move || PathElement::new(vec![(x0, 0), (x1, 0)], c.stroke_width(2));
    let s = c.stroke_width(2);
    anno.label(label);
    match m {
        None => anno.legend(move |at| EmptyElement::at(at) + path()),
        Some(Marker::Circle) => anno
            .legend(move |at| EmptyElement::at(at) + path() + Circle::new((10, 0), 4, c.filled())),
        Some(Marker::Point) => anno
            .legend(move |at| EmptyElement::at(at) + path() + Circle::new((10, 0), 2, c.filled())),
        Some(Marker::Triangle) => anno.legend(move |at| {
            EmptyElement::at(at) + path() + TriangleMarker::new((10, 0), 5, c.filled())
        }),
        Some(Marker::Cross) => {
            anno.legend(move |at| EmptyElement::at(at) + path() + Cross::new((10, 0), 4, s))
        }
        Some(Marker::Square) => anno.legend(move |at| {
            EmptyElement::at(at) + path() + Rectangle::new([(6, -4), (14, 4)], c.filled())
        }),
        Some(Marker::Plus) => anno.legend(move |at| {
            EmptyElement::at(at)
                + path()
                + PathElement::new(vec![(6, 0), (14, 0)], s)
                + PathElement::new(vec![(10, -4), (10, 4)], s)
        }),
    };
}

/// For x data that are all whole numbers over a short range (epochs, steps), a tick count that
/// lands the ticks on whole numbers (no "0.2 epoch").
fn integer_ticks(p: &Panel, range: &std::ops::Range<f64>) -> Option<usize> {
    if p.xlog {
        return None;
    }
    let mut xs = p.artists.iter().flat_map(|a| match a {
        Artist::Line(l) => l.x.as_slice(),
        Artist::Scatter(s) => s.x.as_slice(),
        _ => &[],
    });
    let span = (range.end - range.start).floor();
    let whole = xs.all(|x| x.fract() == 0.0);
    (whole && (1.0..=10.0).contains(&span)).then_some(span as usize + 1)
}

fn fill<'a, DB, X, Y>(
    p: &Panel,
    mut chart: ChartContext<'a, DB, Cartesian2d<X, Y>>,
    cats: Option<&[String]>,
) -> Res
where
    DB: DrawingBackend + 'a,
    X: Ranged<ValueType = f64> + ValueFormatter<f64>,
    Y: Ranged<ValueType = f64> + ValueFormatter<f64>,
{
    let x_range = chart.x_range();
    let y_range = chart.y_range();
    let xfmt = |v: &f64| match cats {
        Some(c) => {
            let k = v.round();
            if (v - k).abs() < 1e-6 && k >= 0.0 && (k as usize) < c.len() {
                c[k as usize].clone()
            } else {
                String::new()
            }
        }
        None => fmt_tick(snap(*v, &x_range)),
    };
    let yfmt = |v: &f64| fmt_tick(snap(*v, &y_range));
    {
        let mut mesh = chart.configure_mesh();
        mesh.x_label_formatter(&xfmt)
            .y_label_formatter(&yfmt)
            .label_style((FONT, 12))
            .axis_desc_style((FONT, 14))
            .max_light_lines(0)
            .bold_line_style(GRID_BOLD);
        if let Some(c) = cats {
            mesh.x_labels(c.len().clamp(1, 30)).disable_x_mesh();
        } else if let Some(n) = integer_ticks(p, &x_range) {
            mesh.x_labels(n);
        }
        if let Some(l) = &p.xlabel {
            mesh.x_desc(l);
        }
        if let Some(l) = &p.ylabel {
            mesh.y_desc(l);
        }
        if p.no_grid {
            mesh.disable_mesh();
        }
        mesh.draw().map_err(e)?;
    }

    let ok = |x: f64, y: f64| {
        x.is_finite() && y.is_finite() && (!p.xlog || x > 0.0) && (!p.ylog || y > 0.0)
    };
    let mut next_color = 0;
    let mut auto_color = || {
        next_color += 1;
        cycle(next_color - 1)
    };
    let mut any_label = false;
    for a in &p.artists {
        match a {
            Artist::Line(l) => {
                let c = l.color.unwrap_or_else(&mut auto_color);
                let style = c.stroke_width(l.width);
                let pts: Vec<(f64, f64)> =
                    l.x.iter()
                        .zip(&l.y)
                        .map(|(x, y)| (*x, *y))
                        .filter(|(x, y)| ok(*x, *y))
                        .collect();
                let anno = if l.dashed {
                    chart
                        .draw_series(DashedLineSeries::new(pts.clone(), 8, 5, style))
                        .map_err(e)?
                } else {
                    chart
                        .draw_series(LineSeries::new(pts.clone(), style))
                        .map_err(e)?
                };
                if let Some(label) = &l.label {
                    any_label = true;
                    legend(anno, label, c, true, l.marker);
                }
                if let Some(m) = l.marker {
                    draw_markers(&mut chart, pts, m, 4, c)?;
                }
            }
            Artist::Scatter(s) => {
                let groups: Vec<(Option<i64>, RGBColor)> = match &s.classes {
                    Some(cl) => {
                        let mut ks = cl.clone();
                        ks.sort_unstable();
                        ks.dedup();
                        ks.into_iter().map(|k| (Some(k), auto_color())).collect()
                    }
                    None => vec![(None, s.color.unwrap_or_else(&mut auto_color))],
                };
                for (k, c) in groups {
                    let pts: Vec<(f64, f64)> = (0..s.x.len())
                        .filter(|&i| k.is_none() || s.classes.as_ref().map(|cl| cl[i]) == k)
                        .map(|i| (s.x[i], s.y[i]))
                        .filter(|(x, y)| ok(*x, *y))
                        .collect();
                    let m = s.marker;
                    let r = s.size as i32;
                    let anno = draw_markers(&mut chart, pts, m, r, c)?;
                    let label = match k {
                        Some(k) => Some(
                            usize::try_from(k)
                                .ok()
                                .and_then(|i| s.class_names.get(i).cloned())
                                .unwrap_or_else(|| k.to_string()),
                        ),
                        None => s.label.clone(),
                    };
                    if let Some(label) = label {
                        any_label = true;
                        legend(anno, &label, c, false, Some(m));
                    }
                }
            }
            Artist::Bars(bs) => {
                let c = bs.color.unwrap_or_else(&mut auto_color);
                let base = if p.ylog { y_range.start } else { 0.0 };
                let anno = chart.draw_series(bar_rects(bs, base, c)).map_err(e)?;
                if let Some(label) = &bs.label {
                    any_label = true;
                    anno.label(label).legend(move |(x, y)| {
                        Rectangle::new([(x, y - 5), (x + 16, y + 5)], c.mix(0.85).filled())
                    });
                }
            }
            Artist::Ref(r) => {
                let c = r.color.unwrap_or(RGBColor(90, 90, 90));
                let style = c.stroke_width(1);
                let pts = if r.horizontal {
                    vec![(x_range.start, r.value), (x_range.end, r.value)]
                } else {
                    vec![(r.value, y_range.start), (r.value, y_range.end)]
                };
                if !pts.iter().all(|(x, y)| ok(*x, *y)) {
                    continue;
                }
                let anno = chart
                    .draw_series(DashedLineSeries::new(pts, 6, 4, style))
                    .map_err(e)?;
                if let Some(label) = &r.label {
                    any_label = true;
                    anno.label(label).legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(1))
                    });
                }
            }
            _ => {}
        }
    }
    if any_label && p.legend != Some(false) {
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.85))
            .border_style(GRID_BOLD)
            .label_font((FONT, 12))
            .draw()
            .map_err(e)?;
    }
    Ok(())
}

fn bar_rects(bs: &Bars, base: f64, c: RGBColor) -> Vec<Rectangle<(f64, f64)>> {
    let mut v = Vec::new();
    for i in 0..bs.left.len() {
        let (l, r) = (bs.left[i], bs.left[i] + bs.width[i]);
        let h = bs.height[i];
        if !h.is_finite() {
            continue;
        }
        v.push(Rectangle::new([(l, base), (r, h)], c.mix(0.85).filled()));
        v.push(Rectangle::new([(l, base), (r, h)], WHITE.stroke_width(1)));
    }
    v
}

/// An image scaled to fit the panel (aspect kept, nearest neighbour), runs of equal pixels drawn
/// as one rectangle.
fn draw_image<DB: DrawingBackend>(p: &Panel, px: &Pixels, area: &DrawingArea<DB, Shift>) -> Res {
    let area = match &p.title {
        Some(t) => area.titled(t, (FONT, 16)).map_err(e)?,
        None => area.clone(),
    };
    let (aw, ah) = area.dim_in_pixel();
    let pad = 8.0;
    let s = ((aw as f64 - 2.0 * pad) / px.w as f64)
        .min((ah as f64 - 2.0 * pad) / px.h as f64)
        .max(0.01);
    let ox = (aw as f64 - s * px.w as f64) / 2.0;
    let oy = (ah as f64 - s * px.h as f64) / 2.0;
    let at = |x: usize, y: usize| {
        (
            (ox + x as f64 * s).round() as i32,
            (oy + y as f64 * s).round() as i32,
        )
    };
    for y in 0..px.h {
        let mut x = 0;
        while x < px.w {
            let c = px.get(0, y, x);
            let mut end = x + 1;
            while end < px.w && px.get(0, y, end) == c {
                end += 1;
            }
            let color = RGBColor(c[0], c[1], c[2]);
            area.draw(&Rectangle::new([at(x, y), at(end, y + 1)], color.filled()))
                .map_err(e)?;
            x = end;
        }
    }
    Ok(())
}
