//! What `vejr inspect` reports about a file: variables, time axis, grid, and per-variable
//! statistics, computed one (variable, time) slab at a time so a large file is never held twice.

use std::fmt;
use std::path::{Path, PathBuf};

use chrono::{DateTime, TimeDelta, Utc};
use rayon::prelude::*;
use serde::Serialize;

use crate::error::Result;
use crate::fields::TimeAxis;
use crate::grid::Grid;
use crate::hints::SourceHints;
use crate::source;
use crate::statistics::Summary;

#[derive(Debug, Serialize)]
pub struct Report {
    pub path: PathBuf,
    pub format: String,
    pub grid: GridReport,
    pub time: TimeReport,
    pub members: Vec<i64>,
    /// GRIB: messages in the file, and the fields they hold (GRIB2 messages may hold several).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub messages: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fields: Option<usize>,
    pub variables: Vec<VariableReport>,
}

#[derive(Debug, Serialize)]
pub struct GridReport {
    pub kind: String,
    pub shape: [usize; 2],
    pub latitude_step: Option<f64>,
    pub longitude_step: Option<f64>,
    pub north: f64,
    pub south: f64,
    pub west: f64,
    pub east: f64,
    pub global_in_longitude: bool,
}

#[derive(Debug, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TimeReport {
    Valid {
        count: usize,
        first: DateTime<Utc>,
        last: DateTime<Utc>,
        step_seconds: Option<i64>,
        /// (last time before the gap, first time after it)
        gaps: Vec<(DateTime<Utc>, DateTime<Utc>)>,
    },
    Other {
        name: String,
        values: Vec<f64>,
    },
    Absent,
}

#[derive(Debug, Serialize)]
pub struct VariableReport {
    pub name: String,
    pub long_name: Option<String>,
    pub units: Option<String>,
    pub level_type: String,
    pub levels: Vec<f64>,
    pub minimum: f64,
    pub mean: f64,
    pub maximum: f64,
    pub count: u64,
    pub nan_count: u64,
}

pub fn inspect(path: &Path, hints: &SourceHints) -> Result<Report> {
    let source = source::open(path, hints)?;
    let header = source.header();
    let mut variables = Vec::with_capacity(header.variables.len());
    for (v, info) in header.variables.iter().enumerate() {
        let summary = (0..header.time.len())
            .into_par_iter()
            .map(|t| {
                let mut s = Summary::new();
                s.add(&source.read(v, t)?);
                Ok(s)
            })
            .try_reduce(Summary::new, |mut a, b| {
                a.merge(&b);
                Ok(a)
            })?;
        variables.push(VariableReport {
            name: info.name.clone(),
            long_name: info.long_name.clone(),
            units: info.units.clone(),
            level_type: info.level_type.label().to_owned(),
            levels: info.levels.clone(),
            minimum: summary.minimum,
            mean: summary.mean(),
            maximum: summary.maximum,
            count: summary.count,
            nan_count: summary.nan_count,
        });
    }
    Ok(Report {
        path: path.to_owned(),
        format: header.format.clone(),
        grid: grid_report(&header.grid),
        time: time_report(&header.time),
        members: header.members.clone(),
        messages: header.grib_messages.map(|c| c.messages),
        fields: header.grib_messages.map(|c| c.fields),
        variables,
    })
}

fn grid_report(grid: &Grid) -> GridReport {
    let (west, east) = grid.longitude_bounds();
    GridReport {
        kind: grid.describe(),
        shape: [grid.shape().0, grid.shape().1],
        latitude_step: grid.latitude_step(),
        longitude_step: grid.longitude_step(),
        north: grid.latitude_bounds().0,
        south: grid.latitude_bounds().1,
        west,
        east,
        global_in_longitude: grid.is_global_in_longitude(),
    }
}

/// The time step is the most common interval; any longer interval is a gap.
pub fn time_step(times: &[DateTime<Utc>]) -> Option<TimeDelta> {
    let mut counts: std::collections::BTreeMap<TimeDelta, usize> = Default::default();
    for w in times.windows(2) {
        *counts.entry(w[1] - w[0]).or_default() += 1;
    }
    counts
        .into_iter()
        .max_by_key(|&(step, n)| (n, std::cmp::Reverse(step)))
        .map(|(step, _)| step)
}

fn time_report(time: &TimeAxis) -> TimeReport {
    match time {
        TimeAxis::Valid(times) if !times.is_empty() => {
            let step = time_step(times);
            let gaps = match step {
                Some(step) => times
                    .windows(2)
                    .filter(|w| w[1] - w[0] > step)
                    .map(|w| (w[0], w[1]))
                    .collect(),
                None => vec![],
            };
            TimeReport::Valid {
                count: times.len(),
                first: times[0],
                last: times[times.len() - 1],
                step_seconds: step.map(|s| s.num_seconds()),
                gaps,
            }
        }
        TimeAxis::Valid(_) | TimeAxis::Absent => TimeReport::Absent,
        TimeAxis::Other { name, values } => TimeReport::Other {
            name: name.clone(),
            values: values.clone(),
        },
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.messages, self.fields) {
            (Some(m), Some(n)) if m == n => writeln!(f, "{} ({}, {m} messages)", self.path.display(), self.format)?,
            (Some(m), Some(n)) => writeln!(
                f,
                "{} ({}, {m} messages holding {n} fields)",
                self.path.display(),
                self.format
            )?,
            _ => writeln!(f, "{} ({})", self.path.display(), self.format)?,
        }
        let g = &self.grid;
        let step = |s: Option<f64>| s.map(|s| format!("{s:.4}°")).unwrap_or_else(|| "-".into());
        writeln!(
            f,
            "grid: {}, Δlat {} Δlon {}, latitude {} .. {}, longitude {:.3}°E .. {:.3}°E{}",
            g.kind,
            step(g.latitude_step),
            step(g.longitude_step),
            format_latitude(g.south),
            format_latitude(g.north),
            g.west,
            g.east,
            if g.global_in_longitude {
                " (global in longitude)"
            } else {
                ""
            }
        )?;
        match &self.time {
            TimeReport::Valid {
                count,
                first,
                last,
                step_seconds,
                gaps,
            } => {
                let step = step_seconds.map(format_duration).unwrap_or_else(|| "-".into());
                writeln!(
                    f,
                    "time: {count} steps, {} .. {}, step {step}, {} gap(s)",
                    first.format("%Y-%m-%dT%H:%MZ"),
                    last.format("%Y-%m-%dT%H:%MZ"),
                    gaps.len()
                )?;
                for (a, b) in gaps {
                    writeln!(
                        f,
                        "  gap: {} -> {}",
                        a.format("%Y-%m-%dT%H:%MZ"),
                        b.format("%Y-%m-%dT%H:%MZ")
                    )?;
                }
            }
            TimeReport::Other { name, values } => {
                let shown: Vec<String> = values.iter().take(6).map(|v| format!("{v}")).collect();
                let more = if values.len() > 6 {
                    format!(", … ({} values)", values.len())
                } else {
                    String::new()
                };
                writeln!(
                    f,
                    "no time axis: the leading axis {name:?} = [{}{more}] is not time (if it is, an ingest config can say so with time_dimension and time_units)",
                    shown.join(", ")
                )?
            }
            TimeReport::Absent => writeln!(f, "no time axis")?,
        }
        if self.members.len() > 1 {
            writeln!(f, "ensemble members: {:?}", self.members)?;
        }
        // Columns as wide as their longest entry: names, units and level lists vary a lot
        // (GFS has 12 pressure levels and layers named by both surfaces).
        let rows: Vec<[String; 7]> = self
            .variables
            .iter()
            .map(|v| {
                [
                    v.name.clone(),
                    v.units.clone().unwrap_or_else(|| "?".into()),
                    if v.level_type == "surface" {
                        "surface".to_owned()
                    } else {
                        let levels: Vec<String> = v.levels.iter().map(|&l| crate::fields::format_level(l)).collect();
                        format!("{} {}", v.level_type, levels.join(","))
                    },
                    significant(v.minimum),
                    significant(v.mean),
                    significant(v.maximum),
                    v.nan_count.to_string(),
                ]
            })
            .collect();
        let heading = ["variable", "units", "levels", "min", "mean", "max", "NaN"].map(str::to_owned);
        let mut width = heading.clone().map(|h| h.chars().count());
        for row in &rows {
            for (w, cell) in width.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        for row in std::iter::once(&heading).chain(&rows) {
            let cells: Vec<String> = row
                .iter()
                .zip(width)
                .enumerate()
                .map(|(k, (cell, w))| {
                    if k < 3 {
                        format!("{cell:<w$}")
                    } else {
                        format!("{cell:>w$}")
                    }
                })
                .collect();
            writeln!(f, "{}", cells.join("  ").trim_end())?;
        }
        Ok(())
    }
}

/// Digits of a statistic to read a field by: at least five significant (as C's `%.5g`), every
/// digit before the point (pressure in Pa stays 101325, not 1.0133e+05), and powers of ten for
/// the very small and very large (an ozone mixing ratio of 4.25e-08 is not 0.0000).
pub fn significant(x: f64) -> String {
    const DIGITS: i32 = 5;
    if !x.is_finite() {
        return if x.is_nan() {
            "NaN".into()
        } else if x > 0.0 {
            "inf".into()
        } else {
            "-inf".into()
        };
    }
    if x == 0.0 {
        return "0".into();
    }
    let exponent = x.abs().log10().floor() as i32;
    let text = if !(-4..15).contains(&exponent) {
        let s = format!("{:.*e}", (DIGITS - 1) as usize, x);
        // Rust writes 4.2500e-8; trim the mantissa's zeros and give the exponent two digits, as %g.
        let (mantissa, power) = s.split_once('e').expect("exponent form");
        let mantissa = trim_zeros(mantissa);
        let power: i32 = power.parse().expect("an integer exponent");
        return format!("{mantissa}e{}{:02}", if power < 0 { '-' } else { '+' }, power.abs());
    } else {
        format!("{:.*}", (DIGITS - 1 - exponent).max(0) as usize, x)
    };
    trim_zeros(&text).to_owned()
}

fn trim_zeros(text: &str) -> &str {
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.')
    } else {
        text
    }
}

fn format_duration(seconds: i64) -> String {
    crate::store::config::format_duration(TimeDelta::seconds(seconds))
}

fn format_latitude(lat: f64) -> String {
    if lat < 0.0 {
        format!("{:.3}°S", -lat)
    } else {
        format!("{lat:.3}°N")
    }
}

#[cfg(test)]
mod tests {
    use super::significant;

    #[test]
    fn statistics_keep_their_significant_digits() {
        assert_eq!(significant(4.25e-8), "4.25e-08");
        assert_eq!(significant(0.07534), "0.07534");
        assert_eq!(significant(0.075341234), "0.075341");
        assert_eq!(significant(101325.27), "101325");
        assert_eq!(significant(273.15), "273.15");
        assert_eq!(significant(-28.99219), "-28.992");
        assert_eq!(significant(0.0001234567), "0.00012346");
        assert_eq!(significant(2.5e20), "2.5e+20");
        assert_eq!(significant(-1.0), "-1");
        assert_eq!(significant(0.0), "0");
        assert_eq!(significant(f64::NAN), "NaN");
    }
}
