//! `vejr evaluate`: forecasts against analyses, next to persistence and climatology on the same
//! cases, per variable, level and lead time.

pub mod climatology;
pub mod coastlines;
pub mod colour_scales;
pub mod contours;
pub mod display_units;
pub mod forecast_files;
pub mod maps;
pub mod score_charts;
pub mod scores;

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{DateTime, TimeDelta, Utc};

pub use crate::analyses::Analyses;
pub use forecast_files::ForecastFile;

use climatology::Climatology;
use scores::{Aggregate, FieldScores, field_scores, grid_weights};

pub const SYSTEMS: [&str; 3] = ["model", "persistence", "climatology"];

/// Scores keyed by (column, lead hours, system).
pub type ScoreTable = BTreeMap<(String, i64, &'static str), Aggregate>;

/// Scores of each forecast, keyed by (column, reference time, lead hours, system): the
/// (reference time, lead time) layout.
pub type CaseTable = BTreeMap<(String, DateTime<Utc>, i64, &'static str), FieldScores>;

pub struct Evaluation {
    pub table: ScoreTable,
    pub cases: CaseTable,
    /// Per forecast column name, the truth's column it is scored against.
    pub truth_columns: BTreeMap<String, usize>,
    /// Forecast variables the truth does not have, left unscored.
    pub unscored: Vec<String>,
}

/// Scores every forecast against `truth`, with persistence (the analysis at the reference time)
/// and `climatology` as baselines on the same cases. Each forecast variable is found in the
/// truth by what it is (`2t` in a forecast, `t2m` in a CDS file); one the truth lacks is left
/// out and listed, and nothing in common at all is an error.
pub fn evaluate(forecasts: &[ForecastFile], truth: &Analyses, climatology: &Climatology) -> Result<Evaluation, String> {
    let mut table = ScoreTable::new();
    let mut cases = CaseTable::new();
    let mut truth_columns = BTreeMap::new();
    let mut unscored = Vec::new();
    for f in forecasts {
        if !f.grid.same_points(&truth.target, 1e-6) {
            return Err(format!(
                "{} is on a {} grid, the truth {} on {}",
                f.path.display(),
                f.grid.describe(),
                truth.description,
                truth.target.describe()
            ));
        }
        let mut weights = grid_weights(&f.grid);
        // A limited-area forecast's boundary band holds its host's values, not the model's:
        // scored there, every system would look better than it is.
        if let Some(band) = &f.boundary_band {
            for (w, &b) in weights.iter_mut().zip(band) {
                if b {
                    *w = 0.0;
                }
            }
        }
        for (c, column) in f.columns.iter().enumerate() {
            let name = &column.name;
            let Some(tc) = truth
                .find(&column.key)
                .map_err(|m| format!("{} in the truth {}", m, truth.description))?
            else {
                if !unscored.contains(name) {
                    unscored.push(name.clone());
                }
                continue;
            };
            truth_columns.insert(name.clone(), tc);
            // Scored in the truth's units: a forecast in °C against analyses in K is converted
            // (said once per file and variable), one in units that do not convert is refused.
            let conversion = match truth.columns[tc].units.as_deref() {
                None => None,
                target => vejr_ingest::units::field_conversion(
                    column.units.as_deref(),
                    target,
                    column.standard_name.as_deref(),
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
            let initial = truth.field(tc, f.reference_time)?;
            for (k, &hours) in f.lead_hours.iter().enumerate() {
                // Lead 0 (--write-initial-state) is the initial condition, not a forecast:
                // WeatherBench 2 scores from the first step.
                if hours <= 0.0 {
                    continue;
                }
                let valid = f.reference_time + TimeDelta::seconds((hours * 3600.0).round() as i64);
                let Some(observed) = truth.field(tc, valid)? else {
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
                        cases.insert((name.clone(), f.reference_time, lead, system), s);
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
        return Err(if truth_columns.is_empty() {
            format!(
                "no forecast variable ({}) is in the truth {} (it has {})",
                unscored.join(", "),
                truth.description,
                truth
                    .columns
                    .iter()
                    .map(|c| c.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        } else {
            format!(
                "no forecast lead time has an analysis in the truth {} to score against",
                truth.description
            )
        });
    }
    Ok(Evaluation {
        table,
        cases,
        truth_columns,
        unscored,
    })
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

/// The scores of each forecast, one row per (system, variable, reference time, lead time), as
/// WeatherBench 2 and xarray lay out forecasts from many initial times.
pub fn write_cases_csv(cases: &CaseTable, path: &Path) -> Result<(), String> {
    let mut text = String::from("system,variable,reference_time,lead_hours,rmse,acc,bias\n");
    for ((column, reference_time, lead, system), s) in cases {
        text.push_str(&format!(
            "{system},{column},{},{lead},{:.6},{},{:.6}\n",
            reference_time.format("%Y-%m-%dT%H:%M:%SZ"),
            s.mse.sqrt(),
            s.acc.map_or(String::new(), |v| format!("{v:.6}")),
            s.bias
        ));
    }
    crate::write_atomically(path, |partial| {
        std::fs::write(partial, &text).map_err(|e| crate::write_failure(partial, e))
    })
}

/// The table a person reads: per variable and lead, RMSE and ACC of the model and baselines,
/// and in how many of the forecasts the model's RMSE is below persistence's: over several
/// cases an aggregate can be carried by a few of them, and one case is weather, not skill.
/// A last line counts the (variable, lead) pairs where the model beats persistence.
pub fn format_table(table: &ScoreTable, cases: &CaseTable) -> String {
    let mut out = format!(
        "{:<10} {:>6} {:>11} {:>11} {:>11} {:>8} {:>8} {:>8} {:>10} {:>6} {:>10}\n",
        "variable",
        "lead",
        "rmse model",
        "persistence",
        "climatology",
        "acc",
        "acc pers",
        "acc clim",
        "bias",
        "cases",
        "< pers in"
    );
    let mut keys: Vec<(&String, i64)> = table.keys().map(|(c, l, _)| (c, *l)).collect();
    keys.dedup();
    let beating = cases_beating_persistence(cases);
    let (mut pairs, mut wins) = (0, 0);
    for (column, lead) in keys {
        let get = |s: &'static str| table.get(&(column.clone(), lead, s));
        let rmse = |s| get(s).map_or("-".into(), |a: &Aggregate| format!("{:.4}", a.rmse()));
        let acc = |s| {
            get(s)
                .and_then(|a: &Aggregate| a.acc())
                .map_or("-".into(), |v| format!("{v:.3}"))
        };
        if let (Some(m), Some(p)) = (get("model"), get("persistence")) {
            pairs += 1;
            wins += usize::from(m.rmse() < p.rmse());
        }
        out.push_str(&format!(
            "{:<10} {:>5}h {:>11} {:>11} {:>11} {:>8} {:>8} {:>8} {:>10} {:>6} {:>10}\n",
            column,
            lead,
            rmse("model"),
            rmse("persistence"),
            rmse("climatology"),
            acc("model"),
            acc("persistence"),
            acc("climatology"),
            get("model").map_or("-".into(), |a| format!("{:.4}", a.bias())),
            get("model").map_or(0, |a| a.cases),
            beating
                .get(&(column.as_str(), lead))
                .map_or("-".into(), |(k, n)| format!("{k}/{n}"))
        ));
    }
    if pairs > 0 {
        out.push_str(&format!(
            "the model's RMSE is below persistence's at {wins} of {pairs} (variable, lead) pairs\n"
        ));
    }
    out
}

/// Per (variable, lead): (forecasts where the model's RMSE is below persistence's, forecasts
/// scored by both), in one pass over the cases (a year of hindcasts has millions).
fn cases_beating_persistence(cases: &CaseTable) -> BTreeMap<(&str, i64), (usize, usize)> {
    let mut counts = BTreeMap::new();
    for ((column, reference, lead, system), model) in cases {
        if *system != "model" {
            continue;
        }
        if let Some(persistence) = cases.get(&(column.clone(), *reference, *lead, "persistence")) {
            let (k, n) = counts.entry((column.as_str(), *lead)).or_insert((0, 0));
            *n += 1;
            *k += usize::from(model.mse < persistence.mse);
        }
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two forecasts: the model wins one by far and loses the other by a little, so it wins
    /// the aggregate at +6 h in 1 of 2 cases; at +12 h it loses both.
    #[test]
    fn the_table_says_in_how_many_forecasts_the_model_beats_persistence() {
        let (mut table, mut cases) = (ScoreTable::new(), CaseTable::new());
        let day = |d: u32| {
            chrono::NaiveDate::from_ymd_opt(1996, 1, d)
                .unwrap()
                .and_hms_opt(0, 0, 0)
                .unwrap()
                .and_utc()
        };
        for (lead, reference, model, persistence) in [
            (6, 16, 1.0, 9.0),
            (6, 17, 5.0, 4.0),
            (12, 16, 3.0, 2.0),
            (12, 17, 3.0, 2.0),
        ] {
            for (system, mse) in [("model", model), ("persistence", persistence)] {
                let s = FieldScores {
                    mse,
                    bias: 0.0,
                    acc: None,
                };
                cases.insert(("msl".into(), day(reference), lead, system), s);
                table.entry(("msl".into(), lead, system)).or_default().add(s);
            }
        }
        let text = format_table(&table, &cases);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].ends_with("< pers in"), "{text}");
        assert!(
            lines[1].starts_with("msl") && lines[1].contains("6h") && lines[1].ends_with(" 1/2"),
            "{text}"
        );
        assert!(lines[2].contains("12h") && lines[2].ends_with(" 0/2"), "{text}");
        assert_eq!(
            lines[3],
            "the model's RMSE is below persistence's at 1 of 2 (variable, lead) pairs"
        );
    }
}
