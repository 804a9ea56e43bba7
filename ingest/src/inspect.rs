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
        writeln!(f, "{} ({})", self.path.display(), self.format)?;
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
        writeln!(
            f,
            "{:<10} {:<14} {:<16} {:>14} {:>14} {:>14} {:>10}",
            "variable", "units", "levels", "min", "mean", "max", "NaN"
        )?;
        for v in &self.variables {
            let levels = if v.level_type == "surface" {
                "surface".to_owned()
            } else {
                format!("{} {:?}", v.level_type, v.levels)
            };
            writeln!(
                f,
                "{:<10} {:<14} {:<16} {:>14.4} {:>14.4} {:>14.4} {:>10}",
                v.name,
                v.units.as_deref().unwrap_or("?"),
                levels,
                v.minimum,
                v.mean,
                v.maximum,
                v.nan_count
            )?;
        }
        Ok(())
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
