//! Colours, colour maps, markers: matplotlib's names and defaults.
//!
//! - series colours cycle through matplotlib's `tab10` palette;
//! - colour maps: `viridis` (default), `magma`, `gray`, `blues`, `reds`, `coolwarm`;
//! - markers: `o` circle, `s` square, `^` triangle, `x` cross, `+` plus, `.` point.

use plotters::style::RGBColor;

/// matplotlib's `tab10`, the default colour cycle.
pub const TAB10: [(u8, u8, u8); 10] = [
    (31, 119, 180),
    (255, 127, 14),
    (44, 160, 44),
    (214, 39, 40),
    (148, 103, 189),
    (140, 86, 75),
    (227, 119, 194),
    (127, 127, 127),
    (188, 189, 34),
    (23, 190, 207),
];

/// The `i`-th colour of the default cycle.
pub fn cycle(i: usize) -> RGBColor {
    let (r, g, b) = TAB10[i % TAB10.len()];
    RGBColor(r, g, b)
}

/// Parses a colour: a name (`"red"`, `"tab:blue"`, `"C1"`), or `"#rrggbb"`.
pub fn parse_color(s: &str) -> Option<RGBColor> {
    let s = s.trim().to_ascii_lowercase();
    if let Some(hex) = s.strip_prefix('#') {
        if hex.len() == 6 {
            let v = u32::from_str_radix(hex, 16).ok()?;
            return Some(RGBColor((v >> 16) as u8, (v >> 8) as u8, v as u8));
        }
        return None;
    }
    if let Some(i) = s.strip_prefix('c').and_then(|n| n.parse::<usize>().ok()) {
        return Some(cycle(i));
    }
    let names = [
        "blue", "orange", "green", "red", "purple", "brown", "pink", "gray", "olive", "cyan",
    ];
    let name = s.strip_prefix("tab:").unwrap_or(&s);
    if let Some(i) = names.iter().position(|n| *n == name) {
        return Some(cycle(i));
    }
    Some(match name {
        "black" | "k" => RGBColor(0, 0, 0),
        "white" | "w" => RGBColor(255, 255, 255),
        "grey" => cycle(7),
        "r" => cycle(3),
        "g" => cycle(2),
        "b" => cycle(0),
        _ => return None,
    })
}

/// A point marker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Marker {
    Circle,
    Square,
    Triangle,
    Cross,
    Plus,
    Point,
}

impl Marker {
    /// matplotlib's marker codes: `o s ^ x + .`
    pub fn parse(s: &str) -> Option<Marker> {
        Some(match s {
            "o" | "circle" => Marker::Circle,
            "s" | "square" => Marker::Square,
            "^" | "triangle" => Marker::Triangle,
            "x" | "cross" => Marker::Cross,
            "+" | "plus" => Marker::Plus,
            "." | "point" => Marker::Point,
            _ => return None,
        })
    }
}

/// A colour map: value in [0, 1] to colour.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Colormap {
    Viridis,
    Magma,
    Gray,
    Blues,
    Reds,
    Coolwarm,
}

const VIRIDIS: [(u8, u8, u8); 9] = [
    (68, 1, 84),
    (71, 44, 122),
    (59, 81, 139),
    (44, 113, 142),
    (33, 144, 141),
    (39, 173, 129),
    (92, 200, 99),
    (170, 220, 50),
    (253, 231, 37),
];
const MAGMA: [(u8, u8, u8); 9] = [
    (0, 0, 4),
    (28, 16, 68),
    (79, 18, 123),
    (129, 37, 129),
    (181, 54, 122),
    (229, 80, 100),
    (251, 135, 97),
    (254, 194, 135),
    (252, 253, 191),
];
const BLUES: [(u8, u8, u8); 3] = [(247, 251, 255), (107, 174, 214), (8, 48, 107)];
const REDS: [(u8, u8, u8); 3] = [(255, 245, 240), (251, 106, 74), (103, 0, 13)];
const COOLWARM: [(u8, u8, u8); 3] = [(59, 76, 192), (221, 221, 221), (180, 4, 38)];
const GRAY: [(u8, u8, u8); 2] = [(0, 0, 0), (255, 255, 255)];

impl Colormap {
    /// matplotlib's names: `viridis`, `magma`, `gray`/`grey`, `Blues`, `Reds`, `coolwarm`.
    pub fn parse(s: &str) -> Option<Colormap> {
        Some(match s.to_ascii_lowercase().as_str() {
            "viridis" => Colormap::Viridis,
            "magma" => Colormap::Magma,
            "gray" | "grey" | "greys" => Colormap::Gray,
            "blues" => Colormap::Blues,
            "reds" => Colormap::Reds,
            "coolwarm" => Colormap::Coolwarm,
            _ => return None,
        })
    }

    /// The colour of `t` (clamped to [0, 1]; NaN maps to 0).
    pub fn at(&self, t: f64) -> RGBColor {
        let stops: &[(u8, u8, u8)] = match self {
            Colormap::Viridis => &VIRIDIS,
            Colormap::Magma => &MAGMA,
            Colormap::Gray => &GRAY,
            Colormap::Blues => &BLUES,
            Colormap::Reds => &REDS,
            Colormap::Coolwarm => &COOLWARM,
        };
        let t = if t.is_nan() { 0.0 } else { t.clamp(0.0, 1.0) };
        let x = t * (stops.len() - 1) as f64;
        let i = (x.floor() as usize).min(stops.len() - 2);
        let f = x - i as f64;
        let lerp = |a: u8, b: u8| (a as f64 + (b as f64 - a as f64) * f).round() as u8;
        let (a, b) = (stops[i], stops[i + 1]);
        RGBColor(lerp(a.0, b.0), lerp(a.1, b.1), lerp(a.2, b.2))
    }
}

/// True when black text reads better than white on `c`.
pub fn is_light(c: RGBColor) -> bool {
    0.299 * c.0 as f64 + 0.587 * c.1 as f64 + 0.114 * c.2 as f64 > 140.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours_and_maps() {
        assert_eq!(parse_color("#ff0080"), Some(RGBColor(255, 0, 128)));
        assert_eq!(parse_color("C1"), Some(cycle(1)));
        assert_eq!(parse_color("tab:red"), Some(cycle(3)));
        assert_eq!(Colormap::Gray.at(0.0), RGBColor(0, 0, 0));
        assert_eq!(Colormap::Gray.at(1.0), RGBColor(255, 255, 255));
        assert_eq!(Colormap::Viridis.at(1.0), RGBColor(253, 231, 37));
        assert_eq!(Colormap::Gray.at(0.5), RGBColor(128, 128, 128));
    }
}
