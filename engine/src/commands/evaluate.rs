//! `vejr evaluate --forecast F… | --forecasts GLOB --truth STORE|FILES [--climatology STORE|FILES] --out DIR`.

use std::path::{Path, PathBuf};

use vejr_ingest::parameter_identity::ParameterKey;

use crate::verification::climatology::Climatology;
use crate::verification::display_units::DisplayUnits;
use crate::verification::maps::{MapCase, map_panels};
use crate::verification::score_charts::score_chart;
use crate::verification::{self, Analyses, ForecastFile};
use crate::{CommandError, CommandResult};

pub struct EvaluateArgs<'a> {
    pub forecasts: &'a [PathBuf],
    pub glob: Option<&'a str>,
    pub truth: &'a [PathBuf],
    pub climatology: &'a [PathBuf],
    pub out: &'a Path,
    pub map_variable: Option<&'a str>,
    pub map_leads: &'a [i64],
    pub by_reference_time: bool,
}

/// Paths as given, a glob (`era5/*.grib`, quoted so that the shell leaves it) expanded.
pub(crate) fn expand(option: &str, given: &[PathBuf]) -> Result<Vec<PathBuf>, CommandError> {
    let mut paths = Vec::new();
    for p in given {
        let text = p.to_string_lossy();
        if p.exists() || !text.contains(['*', '?', '[']) {
            paths.push(p.clone());
            continue;
        }
        let mut found: Vec<PathBuf> = glob::glob(&text)
            .map_err(|e| CommandError::bad_input(format!("{option} {text}: {e}")))?
            .flatten()
            .collect();
        if found.is_empty() {
            return Err(CommandError::bad_input(format!("{option} {text}: no file matches")));
        }
        found.sort();
        paths.extend(found);
    }
    Ok(paths)
}

pub fn run(a: &EvaluateArgs) -> CommandResult {
    let mut paths = a.forecasts.to_vec();
    if let Some(pattern) = a.glob {
        paths.extend(expand("--forecasts", &[PathBuf::from(pattern)])?);
    }
    if paths.is_empty() {
        return Err(CommandError::bad_input("give --forecast FILE or --forecasts GLOB"));
    }
    let forecasts = paths
        .iter()
        .map(|p| ForecastFile::open(p))
        .collect::<Result<Vec<_>, _>>()
        .map_err(CommandError::bad_input)?;
    let mut truth = Analyses::open(&expand("--truth", a.truth)?).map_err(CommandError::bad_input)?;
    if let Some(note) = truth
        .interpolate_onto(&forecasts[0].grid)
        .map_err(CommandError::bad_input)?
    {
        eprintln!("evaluate: truth: {note}");
    }
    // Climatology for the valid times scored, from the truth or from --climatology.
    let needed: Vec<_> = forecasts.iter().flat_map(ForecastFile::valid_times).collect();
    let climatology = if a.climatology.is_empty() {
        Climatology::from_analyses(&truth, &needed).map_err(CommandError::failure)?
    } else {
        let mut c = Analyses::open(&expand("--climatology", a.climatology)?).map_err(CommandError::bad_input)?;
        if let Some(note) = c
            .interpolate_onto(&truth.target.clone())
            .map_err(CommandError::bad_input)?
        {
            eprintln!("evaluate: climatology: {note}");
        }
        let order = truth
            .columns
            .iter()
            .map(|col| c.find(&ParameterKey::of_column(col)))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|m| CommandError::bad_input(format!("{m} in the climatology {}", c.description)))?;
        let missing: Vec<&str> = truth
            .columns
            .iter()
            .zip(&order)
            .filter(|(_, o)| o.is_none())
            .map(|(col, _)| col.name.as_str())
            .collect();
        if !missing.is_empty() {
            eprintln!(
                "evaluate: the climatology {} has no {}: no ACC or climatology baseline for them",
                c.description,
                missing.join(", ")
            );
        }
        Climatology::from_analyses(&c, &needed)
            .map_err(CommandError::failure)?
            .reordered(&order)
    };
    eprintln!("evaluate: {}", climatology.describe());
    let evaluation = verification::evaluate(&forecasts, &truth, &climatology).map_err(CommandError::bad_input)?;
    if !evaluation.unscored.is_empty() {
        eprintln!(
            "evaluate: not scored, not in the truth {}: {}",
            truth.description,
            evaluation.unscored.join(", ")
        );
    }
    for line in verification::period_warnings(&forecasts) {
        eprintln!("evaluate: warning: {line}");
    }
    let table = &evaluation.table;
    std::fs::create_dir_all(a.out).map_err(|e| CommandError::failure(format!("{}: {e}", a.out.display())))?;
    let csv = a.out.join("scores.csv");
    verification::write_csv(table, &csv).map_err(CommandError::failure)?;
    let mut written = vec![csv];
    if a.by_reference_time {
        let path = a.out.join("scores_by_reference_time.csv");
        verification::write_cases_csv(&evaluation.cases, &path).map_err(CommandError::failure)?;
        written.push(path);
    }
    print!("{}", verification::format_table(table, &evaluation.cases));

    let mut pictures = Vec::new();
    let columns: Vec<&String> = evaluation.truth_columns.keys().collect();
    let cases = describe_cases(&forecasts);
    for &column in &columns {
        // Charts in the truth's units (what the scores are in), shown as a forecaster reads them.
        let tc = evaluation.truth_columns[column];
        let units = DisplayUnits::of(truth.columns[tc].units.as_deref());
        for (acc, name) in [(false, "rmse"), (true, "acc")] {
            let path = a.out.join(format!("{name}_{column}.png"));
            score_chart(table, column, acc, &units, &cases, &path).map_err(CommandError::failure)?;
            pictures.push(path);
        }
    }
    let first = &forecasts[0];
    let map_column = match a.map_variable {
        Some(name) => name,
        None => first
            .columns
            .iter()
            .map(|c| c.name.as_str())
            .find(|n| evaluation.truth_columns.contains_key(*n))
            .expect("evaluate scored a column"),
    };
    let c = first
        .column(map_column)
        .ok_or_else(|| CommandError::bad_input(format!("--map-variable {map_column} is not in the forecast")))?;
    let &tc = evaluation
        .truth_columns
        .get(map_column)
        .ok_or_else(|| CommandError::bad_input(format!("--map-variable {map_column} is not in the truth")))?;
    let leads: Vec<i64> = if a.map_leads.is_empty() {
        let all: Vec<i64> = first
            .lead_hours
            .iter()
            .map(|h| h.round() as i64)
            .filter(|&h| h > 0)
            .collect();
        match (all.first(), all.last()) {
            (Some(&a), Some(&b)) => vec![a, b],
            _ => return Err(CommandError::bad_input("the forecast has no lead time after 0 to map")),
        }
    } else {
        a.map_leads.to_vec()
    };
    for lead in leads {
        let Some(k) = first.lead_hours.iter().position(|h| h.round() as i64 == lead) else {
            return Err(CommandError::bad_input(format!(
                "--map-leads: the forecast has no +{lead} h"
            )));
        };
        let valid = first.reference_time + chrono::TimeDelta::hours(lead);
        let Some(observed) = truth.field(tc, valid).map_err(CommandError::failure)? else {
            continue;
        };
        let mut forecast = first.field(c, k).map_err(CommandError::failure)?;
        let truth_units = truth.columns[tc].units.as_deref();
        let column = &first.columns[c];
        if let Some(how) = truth_units
            .map(|target| {
                vejr_ingest::units::field_conversion(
                    column.units.as_deref(),
                    Some(target),
                    column.standard_name.as_deref(),
                    "the truth's",
                )
            })
            .transpose()
            .map_err(|m| CommandError::bad_input(format!("{}: {map_column} {m}", first.path.display())))?
            .flatten()
        {
            how.apply(&mut forecast);
        }
        // The boundary band is the host's, not the model's: drawn as missing, out of the RMSE.
        if let Some(band) = &first.boundary_band {
            for (v, &b) in forecast.iter_mut().zip(band) {
                if b {
                    *v = f32::NAN;
                }
            }
        }
        let path = a.out.join(format!("map_{map_column}_{lead:03}h.png"));
        let title = format!(
            "{map_column} +{lead} h from {} (valid {}){}",
            first.reference_time.format("%Y-%m-%d %HZ"),
            valid.format("%Y-%m-%d %HZ"),
            if forecasts.len() > 1 {
                format!(": the first of {} forecasts", forecasts.len())
            } else {
                String::new()
            }
        );
        let (map_latitudes, map_longitudes) = match &first.grid.points {
            Some(p) => (p.latitudes.clone(), p.longitudes.clone()),
            None => (first.grid.latitudes.clone(), first.grid.longitudes.clone()),
        };
        let case = MapCase {
            latitudes: &map_latitudes,
            longitudes: &map_longitudes,
            per_point: !first.grid.is_product(),
            forecast: &forecast,
            truth: &observed,
            units: DisplayUnits::of(truth_units),
            variable: map_column,
            title,
        };
        if let Some(note) = map_panels(&case, &path).map_err(CommandError::failure)? {
            eprintln!("evaluate: {note}");
        }
        pictures.push(path);
    }
    for p in written {
        println!("scores: {}", p.display());
    }
    for p in pictures {
        println!("plot: {}", p.display());
    }
    Ok(())
}

/// "1 forecast from 1996-01-16 00Z", "12 forecasts, 2019-03-01 00Z to 2019-03-12 00Z".
fn describe_cases(forecasts: &[ForecastFile]) -> String {
    let times: Vec<_> = forecasts.iter().map(|f| f.reference_time).collect();
    let (first, last) = (times.iter().min(), times.iter().max());
    match (forecasts.len(), first, last) {
        (1, Some(t), _) => format!("1 forecast from {}", t.format("%Y-%m-%d %HZ")),
        (n, Some(a), Some(b)) => format!(
            "{n} forecasts, {} to {}",
            a.format("%Y-%m-%d %HZ"),
            b.format("%Y-%m-%d %HZ")
        ),
        _ => String::new(),
    }
}
