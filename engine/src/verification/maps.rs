//! Maps of forecast, analysis and forecast − analysis at one lead time, drawn for a forecaster:
//! one colour scale shared by forecast and analysis, colour bars that state the units, pressure
//! in hPa with isobars, coastlines and national borders (GSHHG), missing points grey.

use std::path::Path;

use plotters::prelude::*;

use super::coastlines::{self, Outline, Polyline};
use super::colour_scales::{colourbar, diverging, viridis};
use super::contours;
use super::display_units::DisplayUnits;

/// The isobar interval of a surface chart (hPa).
pub const ISOBAR_INTERVAL_HPA: f64 = 4.0;

pub struct MapCase<'a> {
    /// The grid's latitude axis, or with `per_point` every point's latitude.
    pub latitudes: &'a [f64],
    /// In the store's order; a domain across the meridian (350..360, 0..2 °E) is drawn as −10..2 °E.
    pub longitudes: &'a [f64],
    /// A grid given point by point (a projection, a reduced grid): each point drawn where it is,
    /// without isobars (they need rows and columns of latitude and longitude).
    pub per_point: bool,
    /// Both in the same (stored) units.
    pub forecast: &'a [f32],
    pub truth: &'a [f32],
    pub units: DisplayUnits,
    pub variable: &'a str,
    /// What the map shows: initial time, lead, valid time, which case of how many.
    pub title: String,
}

fn err(path: &Path, e: impl std::fmt::Display) -> String {
    format!("{}: {e}", path.display())
}

/// Writes the map; `Ok(Some(note))` when it was drawn without coastlines (GSHHG missing).
pub fn map_panels(case: &MapCase, path: &Path) -> Result<Option<String>, String> {
    map_panels_with(case, &coastlines::directory(), path)
}

fn map_panels_with(case: &MapCase, gshhg: &Path, path: &Path) -> Result<Option<String>, String> {
    let mut note = None;
    crate::write_atomically(path, |partial| {
        note = draw(case, gshhg, partial)?;
        Ok(())
    })?;
    Ok(note)
}

fn degrees(v: f64) -> String {
    if (v - v.round()).abs() < 1e-6 {
        format!("{}", v.round())
    } else {
        format!("{v:.1}")
    }
}

/// The part of the segment a→b inside the box (Liang–Barsky), if any.
fn clip(a: (f64, f64), b: (f64, f64), x: (f64, f64), y: (f64, f64)) -> Option<((f64, f64), (f64, f64))> {
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let (mut t0, mut t1) = (0.0f64, 1.0f64);
    for (p, q) in [(-dx, a.0 - x.0), (dx, x.1 - a.0), (-dy, a.1 - y.0), (dy, y.1 - a.1)] {
        if p == 0.0 {
            if q < 0.0 {
                return None;
            }
        } else {
            let r = q / p;
            if p < 0.0 {
                t0 = t0.max(r);
            } else {
                t1 = t1.min(r);
            }
        }
    }
    (t0 <= t1).then_some(((a.0 + t0 * dx, a.1 + t0 * dy), (a.0 + t1 * dx, a.1 + t1 * dy)))
}

/// Coastlines and borders of the map's box, or a note saying why there are none.
fn outlines(directory: &Path, x: (f64, f64), y: (f64, f64)) -> Result<Vec<(Outline, Vec<Polyline>)>, String> {
    let resolution = coastlines::resolution_for((x.1 - x.0).max(y.1 - y.0));
    [Outline::Lake, Outline::Border, Outline::Coastline]
        .into_iter()
        .map(|outline| {
            let file = coastlines::path_in(directory, outline, resolution);
            if !file.exists() {
                return Err(format!(
                    "maps drawn without coastlines: {} is missing (Debian package gmt-gshhg-low; `make deps` installs it, VEJR_GSHHG_DIR points elsewhere)",
                    file.display()
                ));
            }
            let lines = coastlines::read(&file, outline, y.0, y.1)?;
            Ok((outline, coastlines::in_map_longitudes(&lines, x.0)))
        })
        .collect()
}

fn draw(case: &MapCase, gshhg: &Path, path: &Path) -> Result<Option<String>, String> {
    let units = &case.units;
    let forecast = units.field(case.forecast);
    let truth = units.field(case.truth);
    let finite = |v: &[f64]| v.iter().copied().filter(|x| x.is_finite()).collect::<Vec<f64>>();
    let values: Vec<f64> = [finite(&forecast), finite(&truth)].concat();
    if values.is_empty() {
        return Err(format!("{}: nothing to draw", path.display()));
    }
    let (lo, hi) = values
        .iter()
        .fold((f64::MAX, f64::MIN), |(a, b), &v| (a.min(v), b.max(v)));
    let hi = if hi > lo { hi } else { lo + 1e-9 };
    let error: Vec<f64> = forecast.iter().zip(&truth).map(|(f, t)| f - t).collect();
    let finite_error = finite(&error);
    let e_max = finite_error.iter().fold(0.0f64, |a, v| a.max(v.abs())).max(1e-12);
    let rmse = (finite_error.iter().map(|e| e * e).sum::<f64>() / finite_error.len().max(1) as f64).sqrt();

    let (ny, nx) = if case.per_point {
        (1, case.latitudes.len())
    } else {
        (case.latitudes.len(), case.longitudes.len())
    };
    let crosses = if case.per_point {
        // Points on both sides of the prime meridian, none near 180°: a European domain.
        case.longitudes.iter().any(|&l| l > 270.0)
            && case.longitudes.iter().any(|&l| l < 90.0)
            && !case.longitudes.iter().any(|&l| (150.0..210.0).contains(&l))
    } else {
        case.longitudes.windows(2).any(|w| w[1] - w[0] > 180.0)
    };
    let longitudes: Vec<f64> = case
        .longitudes
        .iter()
        .map(|&l| if crosses && l > 180.0 { l - 360.0 } else { l })
        .collect();
    let (south, north) = case
        .latitudes
        .iter()
        .fold((f64::MAX, f64::MIN), |(s, n), &l| (s.min(l), n.max(l)));
    let west = longitudes.iter().copied().fold(f64::MAX, f64::min);
    let east = longitudes.iter().copied().fold(f64::MIN, f64::max);
    let (dlat, dlon) = if case.per_point {
        // A square of each point's share of the box, a little larger so neighbours touch.
        let side = 1.5 * ((north - south) * (east - west) / nx as f64).sqrt();
        (side, side)
    } else {
        (
            (north - south) / (ny.max(2) - 1) as f64,
            if nx > 1 {
                (longitudes[1] - longitudes[0]).abs()
            } else {
                1.0
            },
        )
    };
    let x_range = (west - dlon / 2.0, east + dlon / 2.0);
    let y_range = ((south - dlat / 2.0).max(-90.0), (north + dlat / 2.0).min(90.0));
    let (outlines, note) = match outlines(gshhg, x_range, y_range) {
        Ok(o) => (o, None),
        Err(note) => (Vec::new(), Some(note)),
    };

    let root = BitMapBackend::new(path, (1500, 640)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(path, e))?;
    let root = root.titled(&case.title, ("sans-serif", 22)).map_err(|e| err(path, e))?;
    let (maps, bars) = root.split_vertically(520);
    let panels = maps.split_evenly((1, 3));
    let isobars = units.is_pressure && units.label == "hPa";
    let field_label = format!(
        "{}{}{}",
        case.variable,
        units.in_brackets(),
        if isobars {
            format!(", isobars every {ISOBAR_INTERVAL_HPA} hPa")
        } else {
            String::new()
        }
    );
    let titles = [
        "forecast".to_string(),
        "analysis".to_string(),
        format!("forecast − analysis (RMSE {rmse:.2} {})", units.difference_label).replace(" )", ")"),
    ];
    for (i, panel) in panels.iter().enumerate() {
        let mut chart = ChartBuilder::on(panel)
            .caption(&titles[i], ("sans-serif", 18))
            .margin(10)
            .x_label_area_size(30)
            .y_label_area_size(40)
            .build_cartesian_2d(x_range.0..x_range.1, y_range.0..y_range.1)
            .map_err(|e| err(path, e))?;
        chart
            .configure_mesh()
            .disable_mesh()
            .x_desc("longitude (°E)")
            .y_desc("latitude (°N)")
            .x_label_formatter(&|v| degrees(*v))
            .y_label_formatter(&|v| degrees(*v))
            .draw()
            .map_err(|e| err(path, e))?;
        let field: &[f64] = match i {
            0 => &forecast,
            1 => &truth,
            _ => &error,
        };
        let cells = (0..ny).flat_map(|r| (0..nx).map(move |c| (r, c))).map(|(r, c)| {
            let v = field[r * nx + c];
            let colour = if !v.is_finite() {
                RGBColor(200, 200, 200)
            } else if i == 2 {
                diverging(v / e_max)
            } else {
                viridis((v - lo) / (hi - lo))
            };
            let (lat, lon) = if case.per_point {
                (case.latitudes[c], longitudes[c])
            } else {
                (case.latitudes[r], longitudes[c])
            };
            Rectangle::new(
                [
                    (lon - dlon / 2.0, lat - dlat / 2.0),
                    (lon + dlon / 2.0, lat + dlat / 2.0),
                ],
                colour.filled(),
            )
        });
        chart.draw_series(cells).map_err(|e| err(path, e))?;
        if isobars && i < 2 && !crosses && !case.per_point {
            for level in contours::levels(lo, hi, ISOBAR_INTERVAL_HPA) {
                let pieces = contours::isoline(case.latitudes, &longitudes, field, level);
                chart
                    .draw_series(
                        pieces
                            .into_iter()
                            .map(|(a, b)| PathElement::new(vec![a, b], WHITE.stroke_width(1))),
                    )
                    .map_err(|e| err(path, e))?;
            }
        }
        for (outline, lines) in &outlines {
            let style = match outline {
                Outline::Coastline => BLACK.stroke_width(1),
                Outline::Lake => RGBColor(70, 70, 70).stroke_width(1),
                Outline::Border => RGBColor(110, 110, 110).stroke_width(1),
            };
            let pieces = lines
                .iter()
                .flat_map(|line| line.windows(2).filter_map(|w| clip(w[0], w[1], x_range, y_range)));
            chart
                .draw_series(pieces.map(|(a, b)| PathElement::new(vec![a, b], style)))
                .map_err(|e| err(path, e))?;
        }
    }
    let (shared, difference) = bars.split_horizontally(1000);
    colourbar(
        &shared,
        lo,
        hi,
        |v| viridis((v - lo) / (hi - lo)),
        &format!("{field_label} — forecast and analysis"),
    )
    .map_err(|e| err(path, e))?;
    colourbar(
        &difference,
        -e_max,
        e_max,
        |v| diverging(v / e_max),
        &format!("forecast − analysis{}", units.difference_in_brackets()),
    )
    .map_err(|e| err(path, e))?;
    root.present().map_err(|e| err(path, e))?;
    Ok(note)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pixels of exactly this colour in the PNG.
    fn count(path: &Path, colour: [u8; 3]) -> usize {
        let image = image::open(path).unwrap().to_rgb8();
        image.pixels().filter(|p| p.0 == colour).count()
    }

    #[test]
    fn a_map_of_denmark_has_its_coastline_and_states_its_units() {
        // A flat 1000 hPa field over Denmark: everything black on the map is an outline.
        let latitudes: Vec<f64> = (0..23).map(|i| 58.5 - i as f64 * 0.25).collect();
        let longitudes: Vec<f64> = (0..45).map(|j| 5.0 + j as f64 * 0.25).collect();
        let field = vec![100_000.0f32; latitudes.len() * longitudes.len()];
        let case = MapCase {
            latitudes: &latitudes,
            longitudes: &longitudes,
            per_point: false,
            forecast: &field,
            truth: &field,
            units: DisplayUnits::of(Some("Pa")),
            variable: "msl",
            title: "msl +6 h".into(),
        };
        let dir = std::env::temp_dir().join(format!("vejr-map-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let with = dir.join("with.png");
        assert_eq!(map_panels_with(&case, &coastlines::directory(), &with).unwrap(), None);
        let without = dir.join("without.png");
        let note = map_panels_with(&case, &dir, &without)
            .unwrap()
            .expect("a note without GSHHG");
        assert!(note.contains("gmt-gshhg-low"), "{note}");
        // Text and axes are black in both; the coastline adds hundreds of black pixels.
        let (a, b) = (count(&with, [0, 0, 0]), count(&without, [0, 0, 0]));
        assert!(a > b + 500, "black pixels with coastlines {a}, without {b}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn clipping_keeps_what_is_inside_the_box() {
        let (x, y) = ((0.0, 10.0), (0.0, 10.0));
        assert_eq!(clip((1.0, 1.0), (2.0, 2.0), x, y), Some(((1.0, 1.0), (2.0, 2.0))));
        assert_eq!(clip((-5.0, 5.0), (5.0, 5.0), x, y), Some(((0.0, 5.0), (5.0, 5.0))));
        assert_eq!(clip((-5.0, -5.0), (-1.0, 20.0), x, y), None);
        assert_eq!(clip((20.0, 5.0), (30.0, 5.0), x, y), None);
    }
}
