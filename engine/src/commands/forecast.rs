//! `vejr forecast --checkpoint K (--init FILE… | --store S --date D) [--boundary HOST…] --lead 10d --out F.nc`.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use vejr_models::checkpoint;

use crate::backend::DeviceKind;
use crate::forecast::{self, initial_condition};
use crate::{CommandError, CommandResult};

pub struct ForecastArgs<'a> {
    pub checkpoint: &'a Path,
    pub init: &'a [PathBuf],
    pub store: Option<&'a Path>,
    pub date: Option<DateTime<Utc>>,
    pub lead: &'a str,
    pub out: &'a Path,
    pub overwrite: bool,
    pub format: forecast::OutputFormat,
    pub write_initial_state: bool,
    pub variables: &'a [String],
    /// The host a limited-area model takes its boundary band from (a store or files); the
    /// initial condition's store by default.
    pub boundary: &'a [PathBuf],
    pub device: DeviceKind,
}

pub fn run(a: &ForecastArgs) -> CommandResult {
    let meta = checkpoint::read_metadata(a.checkpoint).map_err(|e| CommandError::bad_input(e.to_string()))?;
    let steps = forecast::parse_lead(a.lead, meta.time_step_seconds).map_err(CommandError::bad_input)?;
    if steps == 0 {
        return Err(CommandError::bad_input("--lead must be at least one step"));
    }
    let inputs = std::iter::once(a.checkpoint)
        .chain(a.init.iter().map(PathBuf::as_path))
        .chain(a.store);
    for input in inputs {
        if crate::same_file(a.out, input) {
            return Err(CommandError::bad_input(format!(
                "--out {} is an input of this forecast; choose another name",
                a.out.display()
            )));
        }
    }
    if a.out.exists() && !a.overwrite && !a.out.is_dir() {
        return Err(CommandError::bad_input(format!(
            "--out {} exists; pass --overwrite to replace it",
            a.out.display()
        )));
    }
    if a.out.is_dir() {
        return Err(CommandError::bad_input(format!(
            "--out {} is a directory",
            a.out.display()
        )));
    }
    let initial = match (a.init.is_empty(), a.store, a.date) {
        (false, None, None) => initial_condition::from_files(a.init, &meta),
        (true, Some(store), Some(date)) => initial_condition::from_store(store, date, &meta),
        _ => {
            return Err(CommandError::bad_input(
                "give either --init FILE… or both --store and --date",
            ));
        }
    }
    .map_err(CommandError::bad_input)?;
    let reference = initial.reference_time;
    let boundary = match (
        forecast::boundary_forcing::band_of(&meta).map_err(CommandError::bad_input)?,
        a.boundary,
    ) {
        (None, []) => None,
        (None, _) => {
            return Err(CommandError::bad_input(
                "--boundary: this checkpoint's model has no boundary band (a global model, or one trained without)",
            ));
        }
        (Some(band), paths) => {
            let host: Vec<PathBuf> = match (paths, a.store) {
                ([], Some(store)) => vec![store.to_owned()],
                ([], None) => {
                    return Err(CommandError::bad_input(format!(
                        "this limited-area model takes its boundary band ({}) from a host at every step: give --boundary STORE or FILES",
                        band.width
                    )));
                }
                (given, _) => given.to_vec(),
            };
            Some(
                forecast::boundary_forcing::BoundaryForcing::new(&meta, band, &host, reference, steps)
                    .map_err(CommandError::bad_input)?,
            )
        }
    };
    let output = forecast::OutputRequest {
        path: a.out,
        format: a.format,
        write_initial_state: a.write_initial_state,
        variables: a.variables,
    };
    let report = match a.device {
        DeviceKind::Cpu => forecast::run::<crate::backend::Cpu>(
            a.checkpoint,
            &meta,
            initial,
            steps,
            &output,
            boundary,
            &Default::default(),
        )?,
        #[cfg(feature = "cuda")]
        DeviceKind::Cuda => forecast::run::<crate::backend::Gpu>(
            a.checkpoint,
            &meta,
            initial,
            steps,
            &output,
            boundary,
            &crate::backend::cuda_device(0)?,
        )?,
        #[cfg(not(feature = "cuda"))]
        DeviceKind::Cuda => return Err(crate::backend::cuda_missing()),
    };
    let simulated_days = (steps as f64 * meta.time_step_seconds as f64) / 86_400.0;
    println!(
        "forecast from {} to +{} h in {:.1}s ({:.3} s/step, {:.1} simulated days per minute), peak memory {} MiB",
        reference.format("%Y-%m-%dT%H:%MZ"),
        steps as i64 * meta.time_step_seconds / 3600,
        report.seconds,
        report.seconds / report.steps as f64,
        simulated_days / (report.seconds / 60.0).max(1e-9),
        report
            .peak_rss_kib
            .map_or("?".into(), |k| format!("{:.1}", k as f64 / 1024.0))
    );
    println!("forecast: {}", report.path.display());
    Ok(())
}
