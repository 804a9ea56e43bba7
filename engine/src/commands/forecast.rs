//! `vejr forecast --checkpoint K (--init FILE… | --store S --date D…) [--boundary HOST…] --lead 10d --out F.nc`:
//! one forecast, or a series from several initial times (a hindcast) with the model loaded once.

use std::path::{Path, PathBuf};

use std::time::Instant;

use chrono::{DateTime, TimeDelta, Utc};
use vejr_models::checkpoint::{self, CheckpointMetadata};
use vejr_models::gnn::GraphBackend;

use crate::backend::DeviceKind;
use crate::date_argument::{self, InitialTimes};
use crate::forecast::{self, initial_condition};
use crate::output_lock::OutputLock;
use crate::{CommandError, CommandResult};

pub struct ForecastArgs<'a> {
    pub checkpoint: &'a Path,
    pub init: &'a [PathBuf],
    pub store: Option<&'a Path>,
    /// Initial times in the store: one, several, or series (`START/END[/STEP]`).
    pub dates: &'a [InitialTimes],
    pub lead: &'a str,
    /// The file, or with `{reference_time}` in its name one file per initial time.
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
    // None: the reference time is the --init files', known once they are read.
    let starts: Vec<Option<DateTime<Utc>>> = match (a.init.is_empty(), a.store, a.dates.is_empty()) {
        (false, None, true) => vec![None],
        (true, Some(_), false) => date_argument::expand(a.dates, TimeDelta::seconds(meta.time_step_seconds))
            .map_err(CommandError::bad_input)?
            .into_iter()
            .map(Some)
            .collect(),
        _ => {
            return Err(CommandError::bad_input(
                "give either --init FILE… or both --store and --date",
            ));
        }
    };
    check_format(a.out, a.format)?;
    let templated = a.out.to_string_lossy().contains(date_argument::REFERENCE_TIME);
    if starts.len() > 1 && !templated {
        return Err(CommandError::bad_input(format!(
            "--out {}: {} forecasts need {} in the file name (forecast-{}.nc)",
            a.out.display(),
            starts.len(),
            date_argument::REFERENCE_TIME,
            date_argument::REFERENCE_TIME
        )));
    }
    // Every output a series will write, and every start's analyses, are checked before the
    // first forecast runs: a series of hundreds should not stop at its 300th.
    if let (Some(store), true) = (a.store, starts.len() > 1) {
        let band = forecast::boundary_forcing::band_of(&meta).map_err(CommandError::bad_input)?;
        let host_is_store = band.is_some() && a.boundary.is_empty();
        unavailable_starts(store, &starts, steps, &meta, host_is_store)?;
    }
    let outputs: Vec<PathBuf> = starts
        .iter()
        .flatten()
        .map(|start| date_argument::output_path(a.out, *start))
        .collect();
    for out in &outputs {
        check_output(a, out)?;
    }
    // Directories only once every check has passed: a refusal leaves nothing behind.
    for out in &outputs {
        make_directory(out)?;
    }
    // Every output is this run's alone from here to its end; checked again under the lock,
    // as another run may have written it since.
    let _locks = lock_outputs(a, &outputs)?;
    match a.device {
        DeviceKind::Cpu => forecasts::<crate::backend::Cpu>(a, &meta, &starts, steps, &Default::default()),
        #[cfg(feature = "cuda")]
        DeviceKind::Cuda => {
            forecasts::<crate::backend::Gpu>(a, &meta, &starts, steps, &crate::backend::cuda_device(0)?)
        }
        #[cfg(not(feature = "cuda"))]
        DeviceKind::Cuda => Err(crate::backend::cuda_missing()),
        #[cfg(feature = "wgpu")]
        DeviceKind::Wgpu => {
            forecasts::<crate::backend::Wgpu>(a, &meta, &starts, steps, &crate::backend::wgpu_device()?)
        }
        #[cfg(not(feature = "wgpu"))]
        DeviceKind::Wgpu => Err(crate::backend::wgpu_missing()),
    }
}

/// Refuses a series when the store lacks any start's analyses at t and t−Δt or, for a
/// limited-area model whose host is the store, its state at any step.
fn unavailable_starts(
    store: &Path,
    starts: &[Option<DateTime<Utc>>],
    steps: usize,
    meta: &CheckpointMetadata,
    host_is_store: bool,
) -> CommandResult {
    let opened = vejr_ingest::store::Store::open(store).map_err(|e| CommandError::bad_input(e.to_string()))?;
    let step = TimeDelta::seconds(meta.time_step_seconds);
    let fmt = |t: DateTime<Utc>| t.format("%Y-%m-%dT%H:%MZ").to_string();
    let mut problems = Vec::new();
    for &start in starts.iter().flatten() {
        let lacking = [start - step, start]
            .into_iter()
            .map(|t| (t, "no analysis at"))
            .chain(
                (1..=steps as i32)
                    .filter(|_| host_is_store)
                    .map(|k| (start + step * k, "no boundary state at")),
            )
            .find(|&(t, _)| opened.time_index(t).is_none());
        if let Some((t, what)) = lacking {
            problems.push(format!("{} ({what} {})", fmt(start), fmt(t)));
        }
    }
    if problems.is_empty() {
        return Ok(());
    }
    let shown: Vec<&str> = problems.iter().take(3).map(String::as_str).collect();
    Err(CommandError::bad_input(format!(
        "--date: {} of {} starts cannot run from {}: {}{}; nothing was run",
        problems.len(),
        starts.len(),
        store.display(),
        shown.join(", "),
        if problems.len() > 3 { ", …" } else { "" }
    )))
}

/// Locks each output (see output_lock), then checks it again.
fn lock_outputs(a: &ForecastArgs, outputs: &[PathBuf]) -> CommandResult<Vec<OutputLock>> {
    // A series holds one lock file per forecast: as many descriptors as the system allows.
    crate::output_lock::allow_descriptors(outputs.len() + 64);
    let mut locks = Vec::with_capacity(outputs.len());
    for out in outputs {
        locks.push(OutputLock::acquire(out)?);
        check_output(a, out)?;
    }
    Ok(locks)
}

/// `--format grib --out x.nc` would write GRIB under a NetCDF name (and the reverse): refused
/// when the extension names the other format.
fn check_format(out: &Path, format: forecast::OutputFormat) -> CommandResult {
    let extension = out
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    let names = match extension.as_str() {
        "nc" | "nc4" | "netcdf" | "cdf" => forecast::OutputFormat::Netcdf,
        "grib" | "grib2" | "grb" | "grb2" | "grib1" | "grb1" => forecast::OutputFormat::Grib,
        _ => return Ok(()),
    };
    if names == format {
        return Ok(());
    }
    let (given, other) = match format {
        forecast::OutputFormat::Netcdf => ("netcdf (the default)", "grib"),
        forecast::OutputFormat::Grib => ("grib", "netcdf"),
    };
    Err(CommandError::bad_input(format!(
        "--out {}: a .{extension} name for --format {given}; give --format {other} or a name that says {}",
        out.display(),
        match format {
            forecast::OutputFormat::Netcdf => ".nc",
            forecast::OutputFormat::Grib => ".grib2",
        }
    )))
}

/// The output must not be an input, a directory, or (without --overwrite) an existing file.
fn check_output(a: &ForecastArgs, out: &Path) -> CommandResult {
    if let Some(why) = vejr_ingest::output_name::too_long(out) {
        return Err(CommandError::bad_input(format!("--out {why}")));
    }
    let inputs = std::iter::once(a.checkpoint)
        .chain(a.init.iter().map(PathBuf::as_path))
        .chain(a.store)
        .chain(a.boundary.iter().map(PathBuf::as_path));
    for input in inputs {
        if crate::same_file(out, input) {
            return Err(CommandError::bad_input(format!(
                "--out {} is an input of this forecast; choose another name",
                out.display()
            )));
        }
    }
    if out.is_dir() {
        return Err(CommandError::bad_input(format!(
            "--out {} is a directory",
            out.display()
        )));
    }
    // Not `exists()`, which follows links: a dangling link or a loop is there too.
    if std::fs::symlink_metadata(out).is_ok() && !a.overwrite {
        return Err(CommandError::bad_input(format!(
            "--out {} exists; pass --overwrite to replace it",
            out.display()
        )));
    }
    Ok(())
}

/// Makes the output's directory, as `train` and `evaluate` make theirs (netCDF would say
/// "Permission denied" for a directory that is not there).
fn make_directory(out: &Path) -> CommandResult {
    if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty() && !p.is_dir()) {
        std::fs::create_dir_all(parent).map_err(|e| {
            CommandError::failure(format!(
                "--out {}: cannot make {}: {e}",
                out.display(),
                parent.display()
            ))
        })?;
    }
    Ok(())
}

/// Loads the model once and runs a forecast from each start.
fn forecasts<B: GraphBackend>(
    a: &ForecastArgs,
    meta: &CheckpointMetadata,
    starts: &[Option<DateTime<Utc>>],
    steps: usize,
    device: &B::Device,
) -> CommandResult {
    let loaded = forecast::LoadedModel::<B>::load(a.checkpoint, meta, device)?;
    let started = Instant::now();
    let n = starts.len();
    let mut written = Vec::with_capacity(n);
    for (i, start) in starts.iter().enumerate() {
        let in_series = |e: CommandError| match start {
            Some(date) if n > 1 => CommandError {
                message: format!(
                    "forecast {} of {n}, from {}: {}{}",
                    i + 1,
                    date.format("%Y-%m-%dT%H:%MZ"),
                    e.message,
                    match i {
                        0 => String::new(),
                        1 => "; the forecast before it is written".into(),
                        _ => format!("; the {i} before it are written"),
                    }
                ),
                ..e
            },
            _ => e,
        };
        if let Some(date) = start
            && n > 1
        {
            println!("forecast {} of {n}: from {}", i + 1, date.format("%Y-%m-%dT%H:%MZ"));
        }
        let report = one_forecast(a, meta, &loaded, *start, steps, device).map_err(in_series)?;
        let simulated_days = (steps as f64 * meta.time_step_seconds as f64) / 86_400.0;
        println!(
            "forecast from {} to +{} h in {:.1}s ({:.3} s/step, {:.1} simulated days per minute), peak memory {} MiB",
            report.reference_time.format("%Y-%m-%dT%H:%MZ"),
            steps as i64 * meta.time_step_seconds / 3600,
            report.seconds,
            report.seconds / report.steps as f64,
            simulated_days / (report.seconds / 60.0).max(1e-9),
            report
                .peak_rss_kib
                .map_or("?".into(), |k| format!("{:.1}", k as f64 / 1024.0))
        );
        println!("forecast: {}", report.path.display());
        written.push(report.path);
    }
    if n > 1 {
        let seconds = started.elapsed().as_secs_f64();
        println!(
            "{n} forecasts to +{} h in {seconds:.1}s ({:.2} s each): {} … {}",
            steps as i64 * meta.time_step_seconds / 3600,
            seconds / n as f64,
            written[0].display(),
            written[n - 1].display()
        );
    }
    Ok(())
}

fn one_forecast<B: GraphBackend>(
    a: &ForecastArgs,
    meta: &CheckpointMetadata,
    loaded: &forecast::LoadedModel<B>,
    start: Option<DateTime<Utc>>,
    steps: usize,
    device: &B::Device,
) -> CommandResult<forecast::ForecastReport> {
    let initial = match (start, a.store) {
        (Some(date), Some(store)) => initial_condition::from_store(store, date, meta),
        _ => initial_condition::from_files(a.init, meta),
    }
    .map_err(CommandError::bad_input)?;
    let reference = initial.reference_time;
    let out = date_argument::output_path(a.out, reference);
    let _lock = match start {
        None => {
            check_output(a, &out)?;
            make_directory(&out)?;
            let lock = OutputLock::acquire(&out)?;
            check_output(a, &out)?;
            Some(lock)
        }
        Some(_) => None,
    };
    let boundary = match (
        forecast::boundary_forcing::band_of(meta).map_err(CommandError::bad_input)?,
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
                forecast::boundary_forcing::BoundaryForcing::new(meta, band, &host, reference, steps)
                    .map_err(CommandError::bad_input)?,
            )
        }
    };
    let output = forecast::OutputRequest {
        path: &out,
        format: a.format,
        write_initial_state: a.write_initial_state,
        variables: a.variables,
    };
    forecast::run(loaded, meta, initial, steps, &output, boundary, device)
}
