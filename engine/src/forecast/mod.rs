//! `vejr forecast`: initial condition → autoregressive rollout → CF-NetCDF, each lead time
//! written as soon as it is computed.

pub mod boundary_forcing;
pub mod grib_native_grid;
pub mod grib_output;
pub mod grib_provenance;
pub mod initial_condition;
pub mod longitude_order;
pub mod native_grid;
pub mod netcdf_output;

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::tensor::{Bool, Tensor, TensorData};
use chrono::TimeDelta;
use vejr_ingest::progress::Progress;
use vejr_ingest::store::Column;
use vejr_models::checkpoint::{self, CheckpointMetadata, Expectation};
use vejr_models::forcings::FORCING_CHANNELS;
use vejr_models::gnn::GraphBackend;
use vejr_models::graph::WeatherGraph;
use vejr_models::{Forecaster, GraphTensors};

use crate::{CommandError, CommandResult};
use boundary_forcing::BoundaryForcing;
use initial_condition::InitialCondition;
use netcdf_output::{ForecastWriter, OutputGrid};

/// What `vejr forecast` writes: CF-NetCDF (the default) or GRIB2.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    Netcdf,
    Grib,
}

/// A forecast file being written one lead time at a time, under a temporary name until
/// `finish` renames it (dropping it unfinished removes it).
pub trait ForecastOutput {
    /// Appends the state `[gridpoint][channel]` valid at `valid_time`.
    fn write_step(&mut self, valid_time: chrono::DateTime<chrono::Utc>, state: &[f32]) -> Result<(), String>;
    /// Syncs and renames the file to its final name.
    fn finish(self: Box<Self>) -> Result<PathBuf, String>;
}

/// The longest forecast vejr runs: beyond ~15 days a medium-range model's skill is gone, and
/// a mistyped lead (1e9 days) would otherwise run for years.
pub const MAX_LEAD_DAYS: i64 = 100;

/// `--lead`: `240h`, `10d` or a number of model steps; at most [`MAX_LEAD_DAYS`].
pub fn parse_lead(text: &str, step_seconds: i64) -> Result<usize, String> {
    let t = text.trim();
    let max_steps = MAX_LEAD_DAYS * 86_400 / step_seconds;
    let too_long = || {
        format!("--lead {t} is beyond the longest forecast vejr runs ({MAX_LEAD_DAYS} days, {max_steps} model steps)")
    };
    if let Ok(steps) = t.parse::<u64>() {
        return if steps == 0 {
            Err(format!("--lead {t}: at least one model step"))
        } else if steps > max_steps as u64 {
            Err(too_long())
        } else {
            Ok(steps as usize)
        };
    }
    let d = vejr_ingest::store::config::parse_duration(t).map_err(|e| format!("--lead {t}: {e}"))?;
    if d.num_seconds() > MAX_LEAD_DAYS * 86_400 {
        return Err(too_long());
    }
    if d.num_seconds() <= 0 || d.num_seconds() % step_seconds != 0 {
        return Err(format!(
            "--lead {t} is not a positive multiple of the model's {} h step",
            step_seconds as f64 / 3600.0
        ));
    }
    Ok((d.num_seconds() / step_seconds) as usize)
}

pub struct ForecastReport {
    pub path: PathBuf,
    pub reference_time: chrono::DateTime<chrono::Utc>,
    pub steps: usize,
    pub seconds: f64,
    pub peak_rss_kib: Option<u64>,
}

/// The process's peak resident memory (Linux), for the summary and the memory test.
pub fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

pub fn columns_of(meta: &CheckpointMetadata) -> Vec<Column> {
    serde_json::from_value(meta.column_details.clone()).unwrap_or_else(|_| {
        meta.columns
            .iter()
            .map(|n| Column {
                name: n.clone(),
                variable: n.clone(),
                level_type: "surface".into(),
                level: 0.0,
                units: None,
                standard_name: None,
                long_name: None,
            })
            .collect()
    })
}

/// Where and how the forecast is written.
pub struct OutputRequest<'a> {
    pub path: &'a Path,
    pub format: OutputFormat,
    /// The initial state as lead 0, the first time step (as anemoi-inference writes it).
    pub write_initial_state: bool,
    /// Only these (store column names `t_850`, variable names `t` for all its levels, or the
    /// NetCDF names `t2m`); every column when empty.
    pub variables: &'a [String],
}

/// The channels `--variables` asks for, in the checkpoint's order.
pub fn select_channels(columns: &[Column], wanted: &[String]) -> Result<Vec<usize>, String> {
    if wanted.is_empty() {
        return Ok((0..columns.len()).collect());
    }
    let mut chosen = vec![false; columns.len()];
    for w in wanted {
        let mut found = false;
        for (i, c) in columns.iter().enumerate() {
            if &c.name == w || &c.variable == w || netcdf_output::netcdf_name(&c.name) == *w {
                chosen[i] = true;
                found = true;
            }
        }
        if !found {
            let names: Vec<&str> = columns.iter().map(|c| c.name.as_str()).collect();
            return Err(format!(
                "--variables {w}: the model has no such variable (it has {})",
                names.join(", ")
            ));
        }
    }
    Ok((0..columns.len()).filter(|&i| chosen[i]).collect())
}

/// A writer that gets only some channels of each state.
struct SelectedChannels {
    inner: Box<dyn ForecastOutput>,
    channels: Vec<usize>,
    total: usize,
}

impl ForecastOutput for SelectedChannels {
    fn write_step(&mut self, valid_time: chrono::DateTime<chrono::Utc>, state: &[f32]) -> Result<(), String> {
        let picked: Vec<f32> = state
            .chunks(self.total)
            .flat_map(|point| self.channels.iter().map(move |&c| point[c]))
            .collect();
        self.inner.write_step(valid_time, &picked)
    }

    fn finish(self: Box<Self>) -> Result<PathBuf, String> {
        self.inner.finish()
    }
}

/// A checkpoint's network, graph and grid, loaded once for every forecast a command runs (a
/// hindcast series of hundreds would otherwise rebuild the graph for each).
pub struct LoadedModel<'a, B: GraphBackend> {
    path: &'a Path,
    model: Forecaster<B>,
    tensors: GraphTensors<B>,
    grid: vejr_models::graph::GridPoints,
    checkpoint_grid: vejr_ingest::Grid,
    fingerprint: String,
}

impl<'a, B: GraphBackend> LoadedModel<'a, B> {
    pub fn load(path: &'a Path, meta: &CheckpointMetadata, device: &B::Device) -> CommandResult<Self> {
        let expected = Expectation {
            columns: Some(&meta.columns),
            latitudes: Some(&meta.latitudes),
            longitudes: Some(&meta.longitudes),
            time_step_seconds: Some(meta.time_step_seconds),
        };
        let (model, _): (Forecaster<B>, _) =
            checkpoint::load(path, &expected, device).map_err(|e| CommandError::bad_input(e.to_string()))?;
        let checkpoint_grid = crate::model_grid::checkpoint_grid(meta).map_err(CommandError::bad_input)?;
        let grid = crate::model_grid::model_grid(&checkpoint_grid);
        let graph =
            WeatherGraph::build(&grid, meta.model.mesh_level).map_err(|e| CommandError::failure(e.to_string()))?;
        let tensors = crate::backend::graph_tensors::<B>(&meta.model, &graph, 1, device)?;
        Ok(Self {
            path,
            model,
            tensors,
            grid,
            checkpoint_grid,
            fingerprint: checkpoint_fingerprint(path),
        })
    }
}

pub fn run<B: GraphBackend>(
    loaded: &LoadedModel<B>,
    meta: &CheckpointMetadata,
    initial: InitialCondition,
    steps: usize,
    output: &OutputRequest,
    boundary: Option<BoundaryForcing>,
    device: &B::Device,
) -> CommandResult<ForecastReport> {
    let (out, format) = (output.path, output.format);
    let LoadedModel {
        path: checkpoint_path,
        model,
        tensors,
        grid,
        checkpoint_grid,
        fingerprint,
    } = loaded;
    let points = grid.len();
    let channels = meta.columns.len();
    let state = |v: Vec<f32>| vejr_models::float_tensor::<B, 3>(v, [1, points, channels], device);
    let statics = initial
        .statics
        .clone()
        .map(|s| vejr_models::float_tensor::<B, 3>(s.clone(), [1, points, s.len() / points], device));
    let step = TimeDelta::seconds(meta.time_step_seconds);
    let reference = initial.reference_time;

    let training = &meta.training;
    let attributes = [
        (
            "vejr_version",
            format!("{} ({})", env!("CARGO_PKG_VERSION"), env!("VEJR_GIT_REVISION")),
        ),
        ("checkpoint", checkpoint_path.display().to_string()),
        ("checkpoint_fnv1a", fingerprint.clone()),
        (
            "checkpoint_vejr_version",
            format!("{} ({})", meta.vejr_version, meta.git_revision),
        ),
        ("training_period", period(training, "train")),
        // What best.vejr was chosen on: `vejr evaluate` says so when it scores those days.
        ("validation_period", period(training, "validation")),
        ("initial_condition", initial.sources.join(", ")),
        (
            "boundary_condition",
            boundary
                .as_ref()
                .map_or("none (a global model, or no boundary band)".into(), |b| {
                    b.description.clone()
                }),
        ),
        (
            "history",
            format!(
                "{} {}",
                chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ"),
                std::env::args().collect::<Vec<_>>().join(" ")
            ),
        ),
    ];
    let all_columns = columns_of(meta);
    let channels = select_channels(&all_columns, output.variables).map_err(CommandError::bad_input)?;
    let columns: Vec<Column> = channels.iter().map(|&c| all_columns[c].clone()).collect();
    let output_grid = OutputGrid::of(checkpoint_grid);
    // A variable GRIB cannot name or a grid it cannot describe is the user's input, found before
    // any compute.
    let mut writer: Box<dyn ForecastOutput> = match format {
        OutputFormat::Netcdf => Box::new(
            ForecastWriter::create(
                out,
                &columns,
                output_grid,
                reference,
                &attributes,
                boundary.as_ref().map(|b| b.band.points.as_slice()),
            )
            .map_err(CommandError::failure)?,
        ),
        OutputFormat::Grib => {
            let provenance = grib_provenance::GribProvenance {
                vejr_version: attributes[0].1.clone(),
                checkpoint: checkpoint_path.display().to_string(),
                checkpoint_fnv1a: fingerprint.clone(),
                training_period: period(training, "train"),
                validation_period: period(training, "validation"),
                ..Default::default()
            }
            .with_band(boundary.as_ref().map(|b| b.band.points.as_slice()));
            Box::new(
                grib_output::GribWriter::create(out, &columns, output_grid, reference, provenance)
                    .map_err(CommandError::bad_input)?,
            )
        }
    };
    if channels.len() < all_columns.len() {
        writer = Box::new(SelectedChannels {
            inner: writer,
            channels,
            total: all_columns.len(),
        });
    }

    // The first thing that went wrong inside the rollout: a host that cannot give its state is
    // the input's fault (exit 2), a write that fails is not (exit 1).
    let failure: RefCell<Option<CommandError>> = RefCell::new(None);
    // A model that sees its band's next state gets the host's at every step.
    let band_input = boundary.as_ref().filter(|_| meta.model.boundary_channels > 0).map(|b| {
        let band: Vec<f32> = b.band.points.iter().map(|&p| f32::from(u8::from(p))).collect();
        vejr_models::float_tensor::<B, 3>(band, [1, points, 1], device)
    });
    if meta.model.boundary_channels > 0 && band_input.is_none() {
        return Err(CommandError::bad_input(
            "the checkpoint's model takes its boundary band's next state as input, and no host is given",
        ));
    }
    // The host's state at step k's end is read once: the boundary inputs take it before the
    // step, the band after it.
    let last_host: RefCell<Option<(usize, Vec<f32>)>> = RefCell::new(None);
    let host_state = |forcing: &BoundaryForcing, k: usize| -> Result<Vec<f32>, String> {
        if let Some((at, values)) = last_host.borrow().as_ref()
            && *at == k
        {
            return Ok(values.clone());
        }
        let values = forcing.state(k)?;
        *last_host.borrow_mut() = Some((k, values.clone()));
        Ok(values)
    };
    let forcings_of = |k: usize| {
        let v = vejr_models::forcings::step_forcings(grid, reference + step * k as i32, step);
        let forcings = vejr_models::float_tensor::<B, 3>(v, [1, points, 3 * FORCING_CHANNELS], device);
        let (Some(forcing), Some(band)) = (&boundary, &band_input) else {
            return forcings;
        };
        let host = host_state(forcing, k).unwrap_or_else(|e| {
            failure.borrow_mut().get_or_insert(CommandError::bad_input(e));
            vec![0.0; points * meta.columns.len()]
        });
        let inputs = vejr_models::boundary::boundary_inputs(&meta.normalization, state(host), band.clone());
        Tensor::cat(vec![forcings, inputs], 2)
    };
    let bar = Progress::new("forecast", steps as u64, "steps");
    let started = Instant::now();
    // Fault injection for the test that kills a forecast mid-write (a tiny model finishes the
    // longest allowed lead in a second): with VEJR_TEST_FORECAST_STEP_DELAY_MS set, each
    // step pauses after its write.
    let test_step_delay = std::env::var("VEJR_TEST_FORECAST_STEP_DELAY_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .map(std::time::Duration::from_millis);
    let band_mask = boundary.as_ref().map(|b| {
        let mask: Vec<bool> = b
            .band
            .points
            .iter()
            .flat_map(|&p| std::iter::repeat_n(p, meta.columns.len()))
            .collect();
        Tensor::<B, 3, Bool>::from_data(TensorData::new(mask, [1, points, meta.columns.len()]), device)
    });
    if output.write_initial_state {
        writer
            .write_step(reference, &initial.current)
            .map_err(CommandError::failure)?;
    }
    model.rollout(
        tensors,
        &meta.normalization,
        state(initial.previous),
        state(initial.current),
        forcings_of,
        statics,
        steps,
        |k, next| {
            let (Some(forcing), Some(mask)) = (&boundary, &band_mask) else {
                return next;
            };
            match host_state(forcing, k) {
                Ok(host) => next.mask_where(mask.clone(), state(host)),
                Err(e) => {
                    failure.borrow_mut().get_or_insert(CommandError::bad_input(e));
                    next
                }
            }
        },
        |k, next| {
            if failure.borrow().is_some() {
                return;
            }
            let values: Vec<f32> = next.clone().into_data().convert::<f32>().to_vec().unwrap_or_default();
            if let Err(e) = writer.write_step(reference + step * (k as i32 + 1), &values) {
                failure.borrow_mut().get_or_insert(CommandError::failure(e));
            }
            if let Some(delay) = test_step_delay {
                std::thread::sleep(delay);
            }
            bar.inc(1);
        },
    );
    if let Some(e) = failure.into_inner() {
        return Err(e);
    }
    bar.finish();
    let path = writer.finish().map_err(CommandError::failure)?;
    Ok(ForecastReport {
        path,
        reference_time: reference,
        steps,
        seconds: started.elapsed().as_secs_f64(),
        peak_rss_kib: peak_rss_kib(),
    })
}

fn checkpoint_fingerprint(path: &Path) -> String {
    let bytes = std::fs::read(path).unwrap_or_default();
    let h = bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
    });
    format!("{h:016x}")
}

/// `"1996-01-05T00:00:00Z to 1996-01-15T18:00:00Z"` from a checkpoint's training section.
fn period(training: &serde_json::Value, which: &str) -> String {
    format!(
        "{} to {}",
        training[format!("{which}_start")].as_str().unwrap_or("?"),
        training[format!("{which}_end")].as_str().unwrap_or("?")
    )
}
