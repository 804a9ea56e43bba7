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
        let (mut found, unfinished): (Vec<PathBuf>, Vec<PathBuf>) = glob::glob(&text)
            .map_err(|e| CommandError::bad_input(format!("{option} {text}: {e}")))?
            .flatten()
            .partition(|p| !unfinished_write(p));
        if !unfinished.is_empty() {
            eprintln!(
                "evaluate: {option} {text}: left out {} unfinished write(s) (a run killed, or still running): {}",
                unfinished.len(),
                unfinished
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        if found.is_empty() {
            return Err(CommandError::bad_input(format!("{option} {text}: no file matches")));
        }
        found.sort();
        paths.extend(found);
    }
    Ok(paths)
}

/// vejr's temporary names (`F.nc.partial`, `scores.partial.csv`, a store's `S.zarr.partial`)
/// and lock files: never a forecast or an analysis.
fn unfinished_write(path: &Path) -> bool {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    name.ends_with(".partial") || name.contains(".partial.") || name.ends_with(".vejr-lock")
}

/// Forecasts scored together are one system's: files from two checkpoints, or vejr's beside
/// another system's, would be averaged into one "model" row.
fn one_model(forecasts: &[ForecastFile]) -> CommandResult {
    let first = &forecasts[0];
    let describe = |f: &ForecastFile| match &f.model {
        Some(m) => format!(
            "{} from checkpoint {} (fnv1a {})",
            f.path.display(),
            m.checkpoint,
            m.fnv1a
        ),
        None => format!(
            "{} from a system other than vejr (no checkpoint named)",
            f.path.display()
        ),
    };
    let fingerprint = |f: &ForecastFile| f.model.as_ref().map(|m| m.fnv1a.clone());
    if let Some(other) = forecasts.iter().find(|f| fingerprint(f) != fingerprint(first)) {
        return Err(CommandError::bad_input(format!(
            "the forecasts are from two models: {} and {}; score each model in its own evaluate",
            describe(first),
            describe(other)
        )));
    }
    Ok(())
}

/// One forecast per initial time: the same case twice (a forecast's .nc and .grib2, or one
/// file given twice) would count it double.
fn one_forecast_per_start(forecasts: &[ForecastFile]) -> CommandResult {
    let mut seen: std::collections::BTreeMap<chrono::DateTime<chrono::Utc>, &Path> = Default::default();
    for f in forecasts {
        if let Some(before) = seen.insert(f.reference_time, &f.path) {
            return Err(CommandError::bad_input(format!(
                "{} and {} both start at {}: one case given twice (one forecast in two formats?); give each forecast once",
                before.display(),
                f.path.display(),
                f.reference_time.format("%Y-%m-%dT%H:%MZ")
            )));
        }
    }
    Ok(())
}

/// Persistence is every score's first baseline, and starts from the analysis at each
/// forecast's initial time.
fn truth_has_initial_times(truth: &Analyses, forecasts: &[ForecastFile]) -> CommandResult {
    // Nothing in common is the first thing to say, and evaluate says it.
    if !forecasts[0]
        .columns
        .iter()
        .any(|c| truth.find(&c.key).is_ok_and(|found| found.is_some()))
    {
        return Ok(());
    }
    let lacking: Vec<&ForecastFile> = forecasts
        .iter()
        .filter(|f| truth.times.binary_search(&f.reference_time).is_err())
        .collect();
    if let Some(first) = lacking.first() {
        return Err(CommandError::bad_input(format!(
            "the truth {} has no analysis at {} (the initial time of {}{}): persistence, the baseline every score stands beside, starts from it; give a truth that covers the forecasts' initial times",
            truth.description,
            first.reference_time.format("%Y-%m-%dT%H:%MZ"),
            first.path.display(),
            if lacking.len() > 1 {
                format!(", and of {} more forecast(s)", lacking.len() - 1)
            } else {
                String::new()
            }
        )));
    }
    Ok(())
}

/// `--out` must be a directory or not there yet, with a name the system takes.
fn check_out(out: &Path) -> CommandResult {
    if let Some(why) = vejr_ingest::output_name::too_long(out) {
        return Err(CommandError::bad_input(format!("--out {why}")));
    }
    match std::fs::metadata(out) {
        Ok(m) if !m.is_dir() => Err(CommandError::bad_input(format!(
            "--out {} is a file, not a directory for the scores and charts",
            out.display()
        ))),
        _ => Ok(()),
    }
}

pub fn run(a: &EvaluateArgs) -> CommandResult {
    let mut paths = a.forecasts.to_vec();
    if let Some(pattern) = a.glob {
        paths.extend(expand("--forecasts", &[PathBuf::from(pattern)])?);
    }
    if paths.is_empty() {
        return Err(CommandError::bad_input("give --forecast FILE or --forecasts GLOB"));
    }
    check_out(a.out)?;
    let _lock = crate::output_lock::OutputLock::acquire_making_directory("--out", a.out)?;
    let forecasts = paths
        .iter()
        .map(|p| ForecastFile::open(p))
        .collect::<Result<Vec<_>, _>>()
        .map_err(CommandError::bad_input)?;
    one_model(&forecasts)?;
    one_forecast_per_start(&forecasts)?;
    let mut truth = Analyses::open(&expand("--truth", a.truth)?).map_err(CommandError::bad_input)?;
    truth_has_initial_times(&truth, &forecasts)?;
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
    // Every output is written aside and moved into --out only once all are complete: a full
    // disk or a late refusal leaves --out as it was.
    let staging = Staging::new(a.out)?;
    let names = write_outputs(a, &forecasts, &truth, &evaluation, &staging.dir)?;
    staging.publish(&names)?;
    for name in names {
        let kind = if name.ends_with(".csv") { "scores" } else { "plot" };
        println!("{kind}: {}", a.out.join(name).display());
    }
    Ok(())
}

/// The staging directory beside `--out`, removed unless published.
struct Staging {
    dir: PathBuf,
    out: PathBuf,
}

impl Staging {
    fn new(out: &Path) -> CommandResult<Self> {
        let dir = vejr_ingest::output_name::with_suffix(out, ".partial");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir(&dir).map_err(|e| CommandError::failure(crate::write_failure(&dir, e)))?;
        Ok(Self {
            dir,
            out: out.to_owned(),
        })
    }

    /// Moves the complete outputs into place: the whole directory when --out is new, file by
    /// file (renames, which a full disk cannot stop) into one that exists.
    fn publish(self, names: &[String]) -> CommandResult {
        let failed = |p: &Path, e: std::io::Error| CommandError::failure(crate::write_failure(p, e));
        if std::fs::symlink_metadata(&self.out).is_err() {
            std::fs::rename(&self.dir, &self.out).map_err(|e| failed(&self.out, e))?;
        } else {
            for name in names {
                let to = self.out.join(name);
                std::fs::rename(self.dir.join(name), &to).map_err(|e| failed(&to, e))?;
            }
        }
        if let Ok(d) = std::fs::File::open(&self.out) {
            let _ = d.sync_all();
        }
        Ok(())
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Writes the scores, charts and maps into `dir`, returning their names.
fn write_outputs(
    a: &EvaluateArgs,
    forecasts: &[ForecastFile],
    truth: &Analyses,
    evaluation: &verification::Evaluation,
    dir: &Path,
) -> CommandResult<Vec<String>> {
    let table = &evaluation.table;
    let csv = dir.join("scores.csv");
    verification::write_csv(table, &csv).map_err(CommandError::failure)?;
    let mut written = vec![csv];
    if a.by_reference_time {
        let path = dir.join("scores_by_reference_time.csv");
        verification::write_cases_csv(&evaluation.cases, &path).map_err(CommandError::failure)?;
        written.push(path);
    }
    print!("{}", verification::format_table(table, &evaluation.cases));

    let mut pictures = Vec::new();
    let columns: Vec<&String> = evaluation.truth_columns.keys().collect();
    let cases = describe_cases(forecasts);
    for &column in &columns {
        // Charts in the truth's units (what the scores are in), shown as a forecaster reads them.
        let tc = evaluation.truth_columns[column];
        let units = DisplayUnits::of(truth.columns[tc].units.as_deref());
        // Without a climatology there is no ACC to draw.
        let has_acc = table
            .iter()
            .any(|((c, _, _), scores)| c == column && scores.acc().is_some());
        for (acc, name) in [(false, "rmse"), (true, "acc")] {
            if acc && !has_acc {
                continue;
            }
            let path = dir.join(format!("{name}_{column}.png"));
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
        let path = dir.join(format!("map_{map_column}_{lead:03}h.png"));
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
    Ok(written
        .iter()
        .chain(&pictures)
        .map(|p| p.file_name().expect("a file in dir").to_string_lossy().into_owned())
        .collect())
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
