//! `vejr evaluate`: forecasts against analyses, next to persistence and climatology on the same
//! cases, per variable, level and lead time.

pub mod climatology;
pub mod coastlines;
pub mod colour_scales;
pub mod contours;
pub mod display_units;
pub mod maps;
pub mod score_charts;
pub mod scores;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, TimeDelta, Utc};
use vejr_ingest::store::Store;

use climatology::Climatology;
use scores::{Aggregate, field_scores, latitude_weights};

/// One forecast file as vejr writes it: per store column, a field per lead time.
pub struct ForecastFile {
    pub path: PathBuf,
    pub reference_time: DateTime<Utc>,
    pub lead_hours: Vec<f64>,
    pub latitudes: Vec<f64>,
    /// In the store's order ([0°, 360°) ascending), as [`Self::field`] returns the values.
    pub longitudes: Vec<f64>,
    /// Store column `i` is the file's column `store_columns[i]`.
    store_columns: Vec<usize>,
    /// (store column name, variable, level index or None).
    pub columns: Vec<(String, String, Option<usize>)>,
    /// Per column, the `units` attribute of its variable.
    pub units: Vec<Option<String>>,
    pub standard_names: Vec<Option<String>>,
    /// The checkpoint's training and validation periods, from the file's global attributes.
    pub training_period: Option<(DateTime<Utc>, DateTime<Utc>)>,
    pub validation_period: Option<(DateTime<Utc>, DateTime<Utc>)>,
    file: netcdf::File,
}

/// `"A to B"` as the forecast writes a period; None for anything else (older files, "?").
fn parse_period(text: &str) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    let (a, b) = text.split_once(" to ")?;
    let parse = |t: &str| t.trim().parse::<DateTime<Utc>>().ok();
    Some((parse(a)?, parse(b)?))
}

fn nc(path: &Path, e: impl std::fmt::Display) -> String {
    format!("{}: {e}", path.display())
}

impl ForecastFile {
    pub fn open(path: &Path) -> Result<Self, String> {
        let file = netcdf::open(path).map_err(|e| nc(path, e))?;
        let get = |name: &str| -> Result<Vec<f64>, String> {
            file.variable(name)
                .ok_or_else(|| nc(path, format!("no {name} variable: not a vejr forecast")))?
                .get_values::<f64, _>(..)
                .map_err(|e| nc(path, e))
        };
        let units = match file
            .variable("forecast_reference_time")
            .and_then(|v| v.attribute_value("units"))
        {
            Some(Ok(netcdf::AttributeValue::Str(s))) => s,
            _ => return Err(nc(path, "forecast_reference_time has no units: not a vejr forecast")),
        };
        let since = units
            .strip_prefix("hours since ")
            .ok_or_else(|| nc(path, "unexpected time units"))?;
        let base = chrono::NaiveDateTime::parse_from_str(since, "%Y-%m-%d %H:%M:%S")
            .map_err(|e| nc(path, format!("time units {units}: {e}")))?
            .and_utc();
        let offset = get("forecast_reference_time")?[0];
        let reference_time = base + TimeDelta::seconds((offset * 3600.0).round() as i64);
        let levels = file
            .variable("pressure_level")
            .map(|v| v.get_values::<f64, _>(..))
            .transpose()
            .map_err(|e| nc(path, e))?
            .unwrap_or_default();
        let mut columns = Vec::new();
        let (mut units, mut standard_names) = (Vec::new(), Vec::new());
        for v in file.variables() {
            let text = |name: &str| match v.attribute_value(name) {
                Some(Ok(netcdf::AttributeValue::Str(s))) => Some(s),
                _ => None,
            };
            let before = columns.len();
            let dims: Vec<String> = v.dimensions().iter().map(|d| d.name()).collect();
            // Scores are matched to the truth store by the store's own names (2t, not t2m).
            let store_name = match v.attribute_value("vejr_store_name") {
                Some(Ok(netcdf::AttributeValue::Str(s))) => s,
                _ => v.name(),
            };
            match dims.iter().map(|s| s.as_str()).collect::<Vec<_>>().as_slice() {
                ["time", "latitude", "longitude"] => columns.push((store_name, v.name(), None)),
                ["time", "pressure_level", "latitude", "longitude"] => {
                    for (i, l) in levels.iter().enumerate() {
                        columns.push((
                            format!("{}_{}", store_name, vejr_ingest::fields::format_level(*l)),
                            v.name(),
                            Some(i),
                        ));
                    }
                }
                _ => {}
            }
            for _ in before..columns.len() {
                units.push(text("units"));
                standard_names.push(text("standard_name"));
            }
        }
        let period = |name: &str| match file.attribute(name).map(|a| a.value()) {
            Some(Ok(netcdf::AttributeValue::Str(s))) => parse_period(&s),
            _ => None,
        };
        let (training_period, validation_period) = (period("training_period"), period("validation_period"));
        // Files run west to east across the domain; scores compare in the store's order.
        let (store_columns, longitudes) = crate::forecast::longitude_order::to_store_order(&get("longitude")?);
        Ok(Self {
            path: path.to_owned(),
            reference_time,
            lead_hours: get("forecast_period")?,
            latitudes: get("latitude")?,
            longitudes,
            store_columns,
            columns,
            units,
            standard_names,
            training_period,
            validation_period,
            file,
        })
    }

    /// The field of column `c` at lead index `k`.
    /// Valid times of the forecast (reference time plus each lead).
    pub fn valid_times(&self) -> Vec<DateTime<Utc>> {
        self.lead_hours
            .iter()
            .map(|h| self.reference_time + TimeDelta::seconds((h * 3600.0).round() as i64))
            .collect()
    }

    pub fn field(&self, c: usize, k: usize) -> Result<Vec<f32>, String> {
        let (_, variable, level) = &self.columns[c];
        let v = self.file.variable(variable).ok_or("variable vanished")?;
        let in_file = match level {
            None => v.get_values::<f32, _>((k, .., ..)),
            Some(l) => v.get_values::<f32, _>((k, *l, .., ..)),
        }
        .map_err(|e| nc(&self.path, e))?;
        let nx = self.store_columns.len();
        Ok(in_file
            .chunks(nx.max(1))
            .flat_map(|row| self.store_columns.iter().map(move |&j| row[j]))
            .collect())
    }
}

pub const SYSTEMS: [&str; 3] = ["model", "persistence", "climatology"];

/// Scores keyed by (column, lead hours, system).
pub type ScoreTable = BTreeMap<(String, i64, &'static str), Aggregate>;

fn truth_field(store: &Store, column: usize, time: DateTime<Utc>) -> Result<Option<Vec<f32>>, String> {
    let Some(t) = store.time_index(time) else {
        return Ok(None);
    };
    let raw = store.read_sample(t, &[column]).map_err(|e| e.to_string())?;
    Ok(Some(raw[..store.grid.len()].to_vec()))
}

/// Scores every forecast against `truth`, with persistence (the analysis at the reference time)
/// and `climatology` as baselines on the same cases.
pub fn evaluate(forecasts: &[ForecastFile], truth: &Store, climatology: &Climatology) -> Result<ScoreTable, String> {
    let mut table = ScoreTable::new();
    for f in forecasts {
        let same = |a: &[f64], b: &[f64]| a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-6);
        if !(same(&f.latitudes, &truth.grid.latitudes) && same(&f.longitudes, &truth.grid.longitudes)) {
            return Err(format!(
                "{} is on a {}×{} grid, the truth {} on {}×{}",
                f.path.display(),
                f.latitudes.len(),
                f.longitudes.len(),
                truth.path.display(),
                truth.grid.latitudes.len(),
                truth.grid.longitudes.len()
            ));
        }
        let weights = latitude_weights(&f.latitudes, f.longitudes.len());
        for (c, (name, _, _)) in f.columns.iter().enumerate() {
            let Some(tc) = truth.column_index(name) else {
                return Err(format!(
                    "{}: variable {name} is not in the truth {}",
                    f.path.display(),
                    truth.path.display()
                ));
            };
            // Scored in the truth's units: a forecast in °C against analyses in K is converted
            // (said once per file and variable), one in units that do not convert is refused.
            let conversion = match truth.columns[tc].units.as_deref() {
                None => None,
                target => vejr_ingest::units::field_conversion(
                    f.units[c].as_deref(),
                    target,
                    f.standard_names[c].as_deref(),
                    "the truth's",
                )
                .map_err(|m| format!("{}: {name} {m}", f.path.display()))?,
            };
            if let Some(how) = &conversion {
                eprintln!(
                    "evaluate: converting {name}: {} in {}",
                    how.describe(),
                    f.path.display()
                );
            }
            let initial = truth_field(truth, tc, f.reference_time)?;
            for (k, &hours) in f.lead_hours.iter().enumerate() {
                // Lead 0 (--write-initial-state) is the initial condition, not a forecast:
                // WeatherBench 2 scores from the first step.
                if hours <= 0.0 {
                    continue;
                }
                let valid = f.reference_time + TimeDelta::seconds((hours * 3600.0).round() as i64);
                let Some(observed) = truth_field(truth, tc, valid)? else {
                    continue;
                };
                let clim = climatology.field(tc, valid);
                let lead = hours.round() as i64;
                let mut forecast = f.field(c, k)?;
                if let Some(how) = &conversion {
                    how.apply(&mut forecast);
                }
                let mut add = |system: &'static str, values: &[f32]| {
                    if let Some(s) = field_scores(values, &observed, clim, &weights) {
                        table.entry((name.clone(), lead, system)).or_default().add(s);
                    }
                };
                add("model", &forecast);
                if let Some(p) = &initial {
                    add("persistence", p);
                }
                if let Some(c) = clim {
                    add("climatology", c);
                }
            }
        }
    }
    if table.is_empty() {
        return Err("no forecast lead time has an analysis in the truth store to score against".into());
    }
    Ok(table)
}

/// Lines saying how many forecasts verify on days the checkpoint was trained or chosen on:
/// such scores flatter the model (WeatherBench 2 scores a held-out test year).
pub fn period_warnings(forecasts: &[ForecastFile]) -> Vec<String> {
    let mut lines = Vec::new();
    for (what, period_of) in [
        (
            "training",
            (|f: &ForecastFile| f.training_period) as fn(&ForecastFile) -> _,
        ),
        ("validation", |f: &ForecastFile| f.validation_period),
    ] {
        let inside: Vec<&ForecastFile> = forecasts
            .iter()
            .filter(|f| {
                period_of(f).is_some_and(|(a, b)| {
                    f.valid_times()
                        .iter()
                        .chain([&f.reference_time])
                        .any(|t| (a..=b).contains(t))
                })
            })
            .collect();
        if let Some(first) = inside.first() {
            let (a, b) = period_of(first).expect("filtered");
            lines.push(format!(
                "{} of {} forecast(s) verify inside the checkpoint's {what} period ({} to {}){}: these scores are not independent of the model; score days outside it (a test period)",
                inside.len(),
                forecasts.len(),
                a.format("%Y-%m-%d %HZ"),
                b.format("%Y-%m-%d %HZ"),
                if what == "validation" { ", on which best.vejr was chosen" } else { "" }
            ));
        }
    }
    lines
}

pub fn write_csv(table: &ScoreTable, path: &Path) -> Result<(), String> {
    let mut text = String::from("system,variable,lead_hours,rmse,acc,bias,cases\n");
    for ((column, lead, system), a) in table {
        text.push_str(&format!(
            "{system},{column},{lead},{:.6},{},{:.6},{}\n",
            a.rmse(),
            a.acc().map_or(String::new(), |v| format!("{v:.6}")),
            a.bias(),
            a.cases
        ));
    }
    crate::write_atomically(path, |partial| {
        std::fs::write(partial, &text).map_err(|e| crate::write_failure(partial, e))
    })
}

/// The table a person reads: per variable and lead, RMSE and ACC of the model and baselines.
pub fn format_table(table: &ScoreTable) -> String {
    let mut out = format!(
        "{:<10} {:>6} {:>11} {:>11} {:>11} {:>8} {:>8} {:>8} {:>10} {:>6}\n",
        "variable", "lead", "rmse model", "persistence", "climatology", "acc", "acc pers", "acc clim", "bias", "cases"
    );
    let mut keys: Vec<(&String, i64)> = table.keys().map(|(c, l, _)| (c, *l)).collect();
    keys.dedup();
    for (column, lead) in keys {
        let get = |s: &'static str| table.get(&(column.clone(), lead, s));
        let rmse = |s| get(s).map_or("-".into(), |a: &Aggregate| format!("{:.4}", a.rmse()));
        let acc = |s| {
            get(s)
                .and_then(|a: &Aggregate| a.acc())
                .map_or("-".into(), |v| format!("{v:.3}"))
        };
        out.push_str(&format!(
            "{:<10} {:>5}h {:>11} {:>11} {:>11} {:>8} {:>8} {:>8} {:>10} {:>6}\n",
            column,
            lead,
            rmse("model"),
            rmse("persistence"),
            rmse("climatology"),
            acc("model"),
            acc("persistence"),
            acc("climatology"),
            get("model").map_or("-".into(), |a| format!("{:.4}", a.bias())),
            get("model").map_or(0, |a| a.cases)
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_read_back_as_the_forecast_writes_them() {
        let (a, b) = parse_period("1996-01-05T00:00:00Z to 1996-01-15T18:00:00Z").unwrap();
        assert_eq!(a.to_rfc3339(), "1996-01-05T00:00:00+00:00");
        assert_eq!(b.to_rfc3339(), "1996-01-15T18:00:00+00:00");
        assert_eq!(parse_period("? to ?"), None);
        assert_eq!(parse_period("1996-01-05T00:00:00Z"), None);
    }
}
