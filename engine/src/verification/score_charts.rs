//! Score against lead time, the model next to persistence and climatology: RMSE in the units a
//! forecaster reads (hPa, K, m s-1), ACC with the 0.6 line below which a forecast is commonly
//! taken to have lost useful skill, lead-time ticks at the model's step, the legend beside the
//! plot instead of over the curves.

use std::path::Path;

use plotters::prelude::*;

use super::display_units::DisplayUnits;
use super::{SYSTEMS, ScoreTable};

/// The ACC below which a forecast is commonly taken to have lost useful skill.
pub const USEFUL_ACC: f64 = 0.6;

const COLOURS: [RGBColor; 3] = [RGBColor(31, 119, 180), RGBColor(214, 39, 40), RGBColor(60, 60, 60)];

fn err(path: &Path, e: impl std::fmt::Display) -> String {
    format!("{}: {e}", path.display())
}

/// Ticks at multiples of the model step (the smallest gap between leads), thinned to at most
/// about a dozen by whole multiples of it.
pub fn lead_ticks(leads: &[i64]) -> Vec<i64> {
    let mut leads: Vec<i64> = leads.to_vec();
    leads.sort_unstable();
    leads.dedup();
    let step = leads
        .windows(2)
        .map(|w| w[1] - w[0])
        .filter(|&d| d > 0)
        .min()
        .or(leads.first().copied())
        .unwrap_or(1)
        .max(1);
    let last = leads.last().copied().unwrap_or(step).max(step);
    let every = [1, 2, 3, 4, 6, 8, 12, 16, 24, 40]
        .into_iter()
        .find(|k| last / (step * k) <= 12)
        .unwrap_or(last / (12 * step) + 1);
    (0..=last / (step * every)).map(|i| i * step * every).collect()
}

/// RMSE (or ACC) of every system against lead time for one column; `cases` says what was
/// scored ("3 forecasts, 1996-01-16 00Z to 1996-01-17 00Z").
pub fn score_chart(
    table: &ScoreTable,
    column: &str,
    acc: bool,
    units: &DisplayUnits,
    cases: &str,
    path: &Path,
) -> Result<(), String> {
    crate::write_atomically(path, |partial| draw(table, column, acc, units, cases, partial))
}

fn draw(
    table: &ScoreTable,
    column: &str,
    acc: bool,
    units: &DisplayUnits,
    cases: &str,
    path: &Path,
) -> Result<(), String> {
    let series: Vec<(&str, Vec<(f64, f64)>)> = SYSTEMS
        .iter()
        .map(|&s| {
            let points = table
                .iter()
                .filter(|((c, _, system), _)| c == column && *system == s)
                .filter_map(|((_, lead, _), a)| {
                    let v = if acc {
                        a.acc()?
                    } else {
                        a.rmse() * units.difference_scale
                    };
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
    let leads: Vec<i64> = all.iter().map(|p| p.0 as i64).collect();
    let ticks = lead_ticks(&leads);
    let x_max = *ticks.last().unwrap_or(&1) as f64;
    let x_max = x_max.max(all.iter().map(|p| p.0).fold(0.0, f64::max)) * 1.03 + 1e-9;
    let (y_min, y_max) = if acc {
        (all.iter().map(|p| p.1).fold(0.0, f64::min).min(0.0), 1.0)
    } else {
        (0.0, all.iter().map(|p| p.1).fold(0.0, f64::max) * 1.1 + 1e-9)
    };

    let root = BitMapBackend::new(path, (900, 520)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(path, e))?;
    let metric = if acc {
        "ACC".to_string()
    } else {
        format!("RMSE{}", units.difference_in_brackets())
    };
    let root = root
        .titled(
            &format!("{column}: {metric} against lead time — {cases}"),
            ("sans-serif", 20),
        )
        .map_err(|e| err(path, e))?;
    let (plot_area, legend_area) = root.split_horizontally(720);
    let tick_step = if ticks.len() > 1 {
        (ticks[1] - ticks[0]) as f64
    } else {
        x_max
    };
    let x_axis = (0.0..x_max).step(tick_step);
    let mut chart = ChartBuilder::on(&plot_area)
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(75)
        .build_cartesian_2d(x_axis, y_min..y_max)
        .map_err(|e| err(path, e))?;
    chart
        .configure_mesh()
        .x_desc("lead time (h)")
        .y_desc(&metric)
        .x_label_formatter(&|x| format!("{}", x.round() as i64))
        .light_line_style(WHITE.mix(0.0))
        .draw()
        .map_err(|e| err(path, e))?;
    if acc {
        chart
            .draw_series(DashedLineSeries::new(
                [(0.0, USEFUL_ACC), (x_max, USEFUL_ACC)],
                8,
                5,
                RGBColor(120, 120, 120).stroke_width(1),
            ))
            .map_err(|e| err(path, e))?;
    }
    for ((_, points), colour) in series.iter().zip(COLOURS) {
        chart
            .draw_series(LineSeries::new(points.iter().copied(), colour.stroke_width(2)))
            .map_err(|e| err(path, e))?;
        chart
            .draw_series(points.iter().map(|&p| Circle::new(p, 3, colour.filled())))
            .map_err(|e| err(path, e))?;
    }

    // The legend, beside the plot.
    let font = ("sans-serif", 16).into_font();
    let mut y = 60;
    for ((name, points), colour) in series.iter().zip(COLOURS) {
        if points.is_empty() {
            continue;
        }
        legend_area
            .draw(&PathElement::new(vec![(10, y), (40, y)], colour.stroke_width(2)))
            .map_err(|e| err(path, e))?;
        legend_area
            .draw(&Circle::new((25, y), 3, colour.filled()))
            .map_err(|e| err(path, e))?;
        legend_area
            .draw(&Text::new(name.to_string(), (48, y - 8), font.clone()))
            .map_err(|e| err(path, e))?;
        y += 28;
    }
    if acc {
        for x in (10..40).step_by(13) {
            legend_area
                .draw(&PathElement::new(vec![(x, y), (x + 8, y)], RGBColor(120, 120, 120)))
                .map_err(|e| err(path, e))?;
        }
        legend_area
            .draw(&Text::new(
                format!("ACC {USEFUL_ACC} (useful skill)"),
                (48, y - 8),
                ("sans-serif", 14),
            ))
            .map_err(|e| err(path, e))?;
    }
    root.present().map_err(|e| err(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lead_ticks_fall_on_the_model_step() {
        assert_eq!(
            lead_ticks(&[6, 12, 18, 24, 30, 36, 42, 48, 54, 60, 66, 72]),
            (0..=12).map(|i| i * 6).collect::<Vec<_>>()
        );
        // Ten days at 6 h: every fourth step (24 h).
        let ten_days: Vec<i64> = (1..=40).map(|i| i * 6).collect();
        assert_eq!(lead_ticks(&ten_days), (0..=10).map(|i| i * 24).collect::<Vec<_>>());
        // 12-hourly leads: ticks at multiples of 12 h.
        assert!(lead_ticks(&[12, 24, 36]).iter().all(|t| t % 12 == 0));
        assert_eq!(lead_ticks(&[24]), vec![0, 24]);
    }
}
