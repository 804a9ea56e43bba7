//! `vejr evaluate --forecast F… | --forecasts GLOB --truth STORE [--climatology STORE] --out DIR`.

use std::path::{Path, PathBuf};

use vejr_ingest::store::Store;

use crate::verification::climatology::Climatology;
use crate::verification::display_units::DisplayUnits;
use crate::verification::maps::{MapCase, map_panels};
use crate::verification::score_charts::score_chart;
use crate::verification::{self, ForecastFile};
use crate::{CommandError, CommandResult};

pub struct EvaluateArgs<'a> {
    pub forecasts: &'a [PathBuf],
    pub glob: Option<&'a str>,
    pub truth: &'a Path,
    pub climatology: Option<&'a Path>,
    pub out: &'a Path,
    pub map_variable: Option<&'a str>,
    pub map_leads: &'a [i64],
}

pub fn run(a: &EvaluateArgs) -> CommandResult {
    let mut paths = a.forecasts.to_vec();
    if let Some(pattern) = a.glob {
        let found: Vec<PathBuf> = glob::glob(pattern)
            .map_err(|e| CommandError::bad_input(format!("--forecasts {pattern}: {e}")))?
            .flatten()
            .collect();
        if found.is_empty() {
            return Err(CommandError::bad_input(format!(
                "--forecasts {pattern}: no file matches"
            )));
        }
        paths.extend(found);
    }
    if paths.is_empty() {
        return Err(CommandError::bad_input("give --forecast FILE or --forecasts GLOB"));
    }
    let forecasts = paths
        .iter()
        .map(|p| ForecastFile::open(p))
        .collect::<Result<Vec<_>, _>>()
        .map_err(CommandError::bad_input)?;
    let truth = Store::open(a.truth)?;
    // Climatology for the valid times scored, from the truth or from --climatology STORE.
    let needed: Vec<_> = forecasts.iter().flat_map(ForecastFile::valid_times).collect();
    let climatology = match a.climatology {
        Some(path) => {
            let c = Store::open(path)?;
            let order = truth
                .columns
                .iter()
                .map(|col| {
                    c.column_index(&col.name).ok_or_else(|| {
                        CommandError::bad_input(format!("{}: no {} in the climatology", path.display(), col.name))
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            Climatology::from_store(&c, &needed)
                .map_err(CommandError::failure)?
                .reordered(&order)
        }
        None => Climatology::from_store(&truth, &needed).map_err(CommandError::failure)?,
    };
    eprintln!("evaluate: {}", climatology.describe());
    let table = verification::evaluate(&forecasts, &truth, &climatology).map_err(CommandError::bad_input)?;
    for line in verification::period_warnings(&forecasts) {
        eprintln!("evaluate: warning: {line}");
    }
    std::fs::create_dir_all(a.out).map_err(|e| CommandError::failure(format!("{}: {e}", a.out.display())))?;
    let csv = a.out.join("scores.csv");
    verification::write_csv(&table, &csv).map_err(CommandError::failure)?;
    print!("{}", verification::format_table(&table));

    let mut pictures = Vec::new();
    let columns: Vec<String> = forecasts[0].columns.iter().map(|c| c.0.clone()).collect();
    let cases = describe_cases(&forecasts);
    for column in &columns {
        // Charts in the truth's units (what the scores are in), shown as a forecaster reads them.
        let units = DisplayUnits::of(
            truth
                .column_index(column)
                .and_then(|tc| truth.columns[tc].units.as_deref()),
        );
        for (acc, name) in [(false, "rmse"), (true, "acc")] {
            let path = a.out.join(format!("{name}_{column}.png"));
            score_chart(&table, column, acc, &units, &cases, &path).map_err(CommandError::failure)?;
            pictures.push(path);
        }
    }
    let first = &forecasts[0];
    let map_column = a.map_variable.unwrap_or(&columns[0]);
    let c = first
        .columns
        .iter()
        .position(|x| x.0 == map_column)
        .ok_or_else(|| CommandError::bad_input(format!("--map-variable {map_column} is not in the forecast")))?;
    let tc = truth.column_index(map_column).expect("checked by evaluate");
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
        let Some(t) = truth.time_index(valid) else { continue };
        let observed = truth.read_sample(t, &[tc])?[..truth.grid.len()].to_vec();
        let mut forecast = first.field(c, k).map_err(CommandError::failure)?;
        let truth_units = truth.columns[tc].units.as_deref();
        if let Some(how) = truth_units
            .map(|target| {
                vejr_ingest::units::field_conversion(
                    first.units[c].as_deref(),
                    Some(target),
                    first.standard_names[c].as_deref(),
                    "the truth's",
                )
            })
            .transpose()
            .map_err(|m| CommandError::bad_input(format!("{}: {map_column} {m}", first.path.display())))?
            .flatten()
        {
            how.apply(&mut forecast);
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
        let case = MapCase {
            latitudes: &first.latitudes,
            longitudes: &first.longitudes,
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
    println!("scores: {}", csv.display());
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
