//! A handwritten signature as vectors, and its accessible alternative.
//!
//! Points are stored relative to the pad (0 to [`PAD_WIDTH`] across, 0 to
//! [`PAD_HEIGHT`] down) whatever its size on screen, so a signature drawn on a
//! phone, zoomed or rotated, is the same shape everywhere it is shown.

use serde::{Deserialize, Serialize};
use std::fmt::Write;

/// The pad's coordinate space: 3 wide by 1 high.
pub const PAD_WIDTH: u16 = 1200;
pub const PAD_HEIGHT: u16 = 400;
/// Limits that keep a record small and refuse garbage: a real signature uses
/// a few strokes of a few hundred points.
pub const MAX_STROKES: usize = 64;
pub const MAX_POINTS: usize = 4096;

/// One point of a stroke, in pad units, with milliseconds since the stroke began.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Point {
    pub x: u16,
    pub y: u16,
    /// Milliseconds since the stroke began: any u32.
    #[cfg_attr(feature = "openapi", schema(value_type = i64, minimum = 0, maximum = 4_294_967_295_i64))]
    pub t: u32,
}

/// One continuous line: pen down to pen up.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Stroke {
    pub points: Vec<Point>,
}

/// How someone signed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "method", rename_all = "snake_case", deny_unknown_fields)]
pub enum SignatureMark {
    /// Drawn with a finger, stylus or mouse.
    Drawn { strokes: Vec<Stroke> },
    /// For people who cannot draw: their typed name and an explicit statement
    /// that typing it is their signature, recorded as such.
    Typed {
        typed_name: String,
        statement: String,
    },
}

/// The statement a person accepts when they type instead of drawing.
pub const TYPED_STATEMENT: &str =
    "I am typing my name instead of drawing a signature, and I intend it to be my signature.";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("draw your signature in the box, or choose to type your name instead")]
    Blank,
    #[error("the signature has {0} strokes; the most allowed is {MAX_STROKES}")]
    TooManyStrokes(usize),
    #[error("the signature has {0} points; the most allowed is {MAX_POINTS}")]
    TooManyPoints(usize),
    #[error("a point lies outside the signature box")]
    OutOfBounds,
    #[error("type your full name to sign")]
    TypedNameMissing,
    #[error("the statement of intent for a typed signature must be the one shown")]
    WrongStatement,
}

impl SignatureMark {
    pub fn validate(&self) -> Result<(), SignatureError> {
        match self {
            SignatureMark::Drawn { strokes } => {
                let points: usize = strokes.iter().map(|s| s.points.len()).sum();
                if points == 0 {
                    return Err(SignatureError::Blank);
                }
                if strokes.len() > MAX_STROKES {
                    return Err(SignatureError::TooManyStrokes(strokes.len()));
                }
                if points > MAX_POINTS {
                    return Err(SignatureError::TooManyPoints(points));
                }
                let inside = |p: &Point| p.x <= PAD_WIDTH && p.y <= PAD_HEIGHT;
                if !strokes.iter().flat_map(|s| &s.points).all(inside) {
                    return Err(SignatureError::OutOfBounds);
                }
                Ok(())
            }
            SignatureMark::Typed {
                typed_name,
                statement,
            } => {
                if typed_name.trim().is_empty() {
                    return Err(SignatureError::TypedNameMissing);
                }
                if statement != TYPED_STATEMENT {
                    return Err(SignatureError::WrongStatement);
                }
                Ok(())
            }
        }
    }
}

/// A pad position from a pointer position: `(x, y)` within a box `width` by
/// `height` on screen (any units), clamped to the pad.
pub fn to_pad(x: f64, y: f64, width: f64, height: f64) -> (u16, u16) {
    let scale = |v: f64, size: f64, max: u16| {
        if size <= 0.0 {
            return 0;
        }
        (v / size * f64::from(max))
            .round()
            .clamp(0.0, f64::from(max)) as u16
    };
    (scale(x, width, PAD_WIDTH), scale(y, height, PAD_HEIGHT))
}

/// An SVG path for one stroke, smoothed with quadratic curves through the
/// midpoints, so a handful of samples still looks like handwriting. A single
/// point becomes a dot.
pub fn stroke_path(stroke: &Stroke) -> String {
    let p = &stroke.points;
    let mut d = String::with_capacity(p.len() * 12);
    match p.len() {
        0 => {}
        1 => {
            let _ = write!(d, "M{} {}l0.1 0", p[0].x, p[0].y);
        }
        _ => {
            let _ = write!(d, "M{} {}", p[0].x, p[0].y);
            for w in p.windows(2).skip(1) {
                let (a, b) = (w[0], w[1]);
                let mx = (f32::from(a.x) + f32::from(b.x)) / 2.0;
                let my = (f32::from(a.y) + f32::from(b.y)) / 2.0;
                let _ = write!(d, "Q{} {} {} {}", a.x, a.y, mx, my);
            }
            let last = p[p.len() - 1];
            let _ = write!(d, "L{} {}", last.x, last.y);
        }
    }
    d
}

/// A whole drawn signature as a standalone SVG document.
pub fn to_svg(strokes: &[Stroke]) -> String {
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {PAD_WIDTH} {PAD_HEIGHT}\" \
         fill=\"none\" stroke=\"#0b0c0c\" stroke-width=\"6\" stroke-linecap=\"round\" \
         stroke-linejoin=\"round\">"
    );
    for s in strokes {
        let _ = write!(svg, "<path d=\"{}\"/>", stroke_path(s));
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stroke(points: &[(u16, u16)]) -> Stroke {
        Stroke {
            points: points
                .iter()
                .enumerate()
                .map(|(i, &(x, y))| Point {
                    x,
                    y,
                    t: i as u32 * 8,
                })
                .collect(),
        }
    }

    #[test]
    fn screen_positions_map_to_the_same_pad_point_at_any_size() {
        // The same spot on a phone and on a zoomed-in tablet.
        assert_eq!(to_pad(150.0, 25.0, 300.0, 100.0), (600, 100));
        assert_eq!(to_pad(450.0, 75.0, 900.0, 300.0), (600, 100));
        // Off the pad (a finger sliding out) is clamped, not lost.
        assert_eq!(to_pad(-5.0, 120.0, 300.0, 100.0), (0, PAD_HEIGHT));
    }

    #[test]
    fn a_stroke_becomes_a_smooth_path_and_a_tap_a_dot() {
        assert_eq!(stroke_path(&stroke(&[(10, 10)])), "M10 10l0.1 0");
        assert_eq!(stroke_path(&stroke(&[(0, 0), (10, 10)])), "M0 0L10 10");
        assert_eq!(
            stroke_path(&stroke(&[(0, 0), (10, 10), (20, 0)])),
            "M0 0Q10 10 15 5L20 0"
        );
    }

    #[test]
    fn the_svg_holds_one_path_per_stroke() {
        let svg = to_svg(&[stroke(&[(0, 0), (5, 5)]), stroke(&[(9, 9)])]);
        assert_eq!(svg.matches("<path").count(), 2);
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
    }

    #[test]
    fn blank_oversized_and_out_of_bounds_drawings_are_refused() {
        assert_eq!(
            SignatureMark::Drawn { strokes: vec![] }.validate(),
            Err(SignatureError::Blank)
        );
        let big = Stroke {
            points: vec![Point { x: 1, y: 1, t: 0 }; MAX_POINTS + 1],
        };
        assert_eq!(
            SignatureMark::Drawn { strokes: vec![big] }.validate(),
            Err(SignatureError::TooManyPoints(MAX_POINTS + 1))
        );
        let outside = stroke(&[(PAD_WIDTH + 1, 0)]);
        assert_eq!(
            SignatureMark::Drawn {
                strokes: vec![outside]
            }
            .validate(),
            Err(SignatureError::OutOfBounds)
        );
        assert_eq!(
            SignatureMark::Drawn {
                strokes: vec![stroke(&[(1, 1), (2, 2)])]
            }
            .validate(),
            Ok(())
        );
    }

    #[test]
    fn a_typed_signature_needs_a_name_and_the_exact_statement() {
        let typed = |name: &str, statement: &str| SignatureMark::Typed {
            typed_name: name.into(),
            statement: statement.into(),
        };
        assert_eq!(typed("Ada Lovelace", TYPED_STATEMENT).validate(), Ok(()));
        assert_eq!(
            typed(" ", TYPED_STATEMENT).validate(),
            Err(SignatureError::TypedNameMissing)
        );
        assert_eq!(
            typed("Ada", "whatever").validate(),
            Err(SignatureError::WrongStatement)
        );
    }

    #[test]
    fn the_method_is_recorded_on_the_wire() {
        let json = serde_json::to_value(SignatureMark::Typed {
            typed_name: "Ada".into(),
            statement: TYPED_STATEMENT.into(),
        })
        .unwrap();
        assert_eq!(json["method"], "typed");
    }
}
