//! PNG charts: score against lead time (model and baselines) and maps of forecast, truth and
//! error at one lead time.

use std::path::Path;

use plotters::prelude::*;

use super::{SYSTEMS, ScoreTable};

fn err(path: &Path, e: impl std::fmt::Display) -> String {
    format!("{}: {e}", path.display())
}

/// RMSE (or ACC) of every system against lead time for one column.
pub fn score_chart(table: &ScoreTable, column: &str, acc: bool, path: &Path) -> Result<(), String> {
    crate::write_atomically(path, |partial| draw_score_chart(table, column, acc, partial))
}

fn draw_score_chart(table: &ScoreTable, column: &str, acc: bool, path: &Path) -> Result<(), String> {
    let series: Vec<(&str, Vec<(f64, f64)>)> = SYSTEMS
        .iter()
        .map(|&s| {
            let points = table
                .iter()
                .filter(|((c, _, system), _)| c == column && *system == s)
                .filter_map(|((_, lead, _), a)| {
                    let v = if acc { a.acc()? } else { a.rmse() };
                    Some((*lead as f64, v))
                })
                .collect();
            (s, points)
        })
        .collect();
    let all: Vec<&(f64, f64)> = series.iter().flat_map(|(_, p)| p).collect();
    if all.is_empty() {
        return Err(format!("no scores for {column}"));
    }
    let x_max = all.iter().map(|p| p.0).fold(0.0, f64::max).max(1.0);
    let (y_min, y_max) = if acc {
        (all.iter().map(|p| p.1).fold(0.0, f64::min).min(0.0), 1.0)
    } else {
        (0.0, all.iter().map(|p| p.1).fold(0.0, f64::max) * 1.1 + 1e-9)
    };
    let root = BitMapBackend::new(path, (800, 500)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(path, e))?;
    let metric = if acc { "ACC" } else { "RMSE" };
    let mut chart = ChartBuilder::on(&root)
        .caption(format!("{column}: {metric} against lead time"), ("sans-serif", 24))
        .margin(15)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(0.0..x_max, y_min..y_max)
        .map_err(|e| err(path, e))?;
    chart
        .configure_mesh()
        .x_desc("lead time (h)")
        .y_desc(metric)
        .draw()
        .map_err(|e| err(path, e))?;
    for ((name, points), color) in series.iter().zip([BLUE, RED, BLACK]) {
        if points.is_empty() {
            continue;
        }
        chart
            .draw_series(LineSeries::new(points.iter().copied(), color.stroke_width(2)))
            .map_err(|e| err(path, e))?
            .label(*name)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2)));
        chart
            .draw_series(points.iter().map(|&p| Circle::new(p, 3, color.filled())))
            .map_err(|e| err(path, e))?;
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(|e| err(path, e))?;
    root.present().map_err(|e| err(path, e))
}

fn viridis(t: f64) -> RGBColor {
    let stops = [
        (68, 1, 84),
        (59, 82, 139),
        (33, 145, 140),
        (94, 201, 98),
        (253, 231, 37),
    ];
    let x = t.clamp(0.0, 1.0) * (stops.len() - 1) as f64;
    let i = (x.floor() as usize).min(stops.len() - 2);
    let f = x - i as f64;
    let mix = |a: u8, b: u8| (a as f64 + (b as f64 - a as f64) * f).round() as u8;
    RGBColor(
        mix(stops[i].0, stops[i + 1].0),
        mix(stops[i].1, stops[i + 1].1),
        mix(stops[i].2, stops[i + 1].2),
    )
}

fn diverging(t: f64) -> RGBColor {
    // −1 blue, 0 white, +1 red.
    let t = t.clamp(-1.0, 1.0);
    let fade = |v: f64| (255.0 * (1.0 - v)).round() as u8;
    if t < 0.0 {
        RGBColor(fade(-t), fade(-t * 0.6), 255)
    } else {
        RGBColor(255, fade(t * 0.6), fade(t))
    }
}

/// Forecast, truth and forecast − truth side by side; missing points grey.
pub fn map_panels(
    latitudes: &[f64],
    longitudes: &[f64],
    forecast: &[f32],
    truth: &[f32],
    title: &str,
    path: &Path,
) -> Result<(), String> {
    crate::write_atomically(path, |partial| {
        draw_map_panels(latitudes, longitudes, forecast, truth, title, partial)
    })
}

fn draw_map_panels(
    latitudes: &[f64],
    longitudes: &[f64],
    forecast: &[f32],
    truth: &[f32],
    title: &str,
    path: &Path,
) -> Result<(), String> {
    let finite = |v: &[f32]| {
        v.iter()
            .filter(|x| x.is_finite())
            .map(|&x| x as f64)
            .collect::<Vec<f64>>()
    };
    let values: Vec<f64> = [finite(forecast), finite(truth)].concat();
    if values.is_empty() {
        return Err(format!("{}: nothing to draw", path.display()));
    }
    let (lo, hi) = values
        .iter()
        .fold((f64::MAX, f64::MIN), |(a, b), &v| (a.min(v), b.max(v)));
    let error: Vec<f32> = forecast.iter().zip(truth).map(|(f, t)| f - t).collect();
    let e_max = finite(&error).iter().fold(0.0f64, |a, v| a.max(v.abs())).max(1e-12);

    let root = BitMapBackend::new(path, (1500, 520)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(path, e))?;
    let root = root.titled(title, ("sans-serif", 24)).map_err(|e| err(path, e))?;
    let panels = root.split_evenly((1, 3));
    let (ny, nx) = (latitudes.len(), longitudes.len());
    let (south, north) = (latitudes[ny - 1].min(latitudes[0]), latitudes[0].max(latitudes[ny - 1]));
    // A regional domain across the meridian (350..360, 0..2 °E) is drawn as −10..2 °E.
    let crosses = longitudes.windows(2).any(|w| w[1] - w[0] > 180.0);
    let longitudes: Vec<f64> = longitudes
        .iter()
        .map(|&l| if crosses && l > 180.0 { l - 360.0 } else { l })
        .collect();
    let west = longitudes.iter().copied().fold(f64::MAX, f64::min);
    let east = longitudes.iter().copied().fold(f64::MIN, f64::max);
    let dlat = (north - south) / (ny.max(2) - 1) as f64;
    let dlon = if nx > 1 {
        (longitudes[1] - longitudes[0]).abs()
    } else {
        1.0
    };
    let titles = [
        format!("forecast ({lo:.1} .. {hi:.1})"),
        "analysis".to_string(),
        format!("forecast − analysis (±{e_max:.2})"),
    ];
    for (i, panel) in panels.iter().enumerate() {
        let mut chart = ChartBuilder::on(panel)
            .caption(&titles[i], ("sans-serif", 18))
            .margin(10)
            .x_label_area_size(30)
            .y_label_area_size(40)
            .build_cartesian_2d(
                west - dlon / 2.0..east + dlon / 2.0,
                south - dlat / 2.0..north + dlat / 2.0,
            )
            .map_err(|e| err(path, e))?;
        chart
            .configure_mesh()
            .disable_mesh()
            .x_desc("longitude (°E)")
            .y_desc("latitude (°N)")
            .draw()
            .map_err(|e| err(path, e))?;
        let field: &[f32] = match i {
            0 => forecast,
            1 => truth,
            _ => &error,
        };
        let cells = (0..ny).flat_map(|r| (0..nx).map(move |c| (r, c))).map(|(r, c)| {
            let v = field[r * nx + c] as f64;
            let color = if !v.is_finite() {
                RGBColor(200, 200, 200)
            } else if i == 2 {
                diverging(v / e_max)
            } else {
                viridis((v - lo) / (hi - lo).max(1e-12))
            };
            let (lat, lon) = (latitudes[r], longitudes[c]);
            Rectangle::new(
                [
                    (lon - dlon / 2.0, lat - dlat / 2.0),
                    (lon + dlon / 2.0, lat + dlat / 2.0),
                ],
                color.filled(),
            )
        });
        chart.draw_series(cells).map_err(|e| err(path, e))?;
    }
    root.present().map_err(|e| err(path, e))
}
