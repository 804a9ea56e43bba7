//! `vejr train`: GraphCast's recipe (weighted MSE of tendencies, AdamW with warm-up and cosine
//! decay, global-norm clipping, an autoregressive curriculum), data parallel over MPI ranks,
//! checkpointed and resumable bit for bit.

pub mod checkpoints;
pub mod config;
pub mod data_loader;
pub mod distributed;
pub mod losses;
pub mod metrics;
pub mod parameters;
pub mod rollout_recomputation;
pub mod schedule;
pub mod step;
mod validation;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use burn::module::{AutodiffModule, Module};
use burn::optim::{AdamWConfig, Optimizer};
use burn::record::{FullPrecisionSettings, NamedMpkBytesRecorder, Recorder};
use vejr_ingest::progress::Progress;
use vejr_ingest::store::Store;
use vejr_models::checkpoint::{self, CheckpointMetadata, Expectation};
use vejr_models::gnn::GraphAutodiffBackend;
use vejr_models::graph::WeatherGraph;
use vejr_models::{Forecaster, Normalization};

use crate::run_config::RunConfig;
use crate::{CommandError, CommandResult};
use checkpoints::TrainingProgress;
use data_loader::{Loader, LoaderPlan, SampleReader};
use distributed::Distributed;
use losses::{BatchTensors, LossWeights};
use metrics::MetricsLog;
use schedule::LearningRateSchedule;

#[derive(Clone, Debug, Default)]
pub struct TrainOptions {
    pub resume: bool,
    pub overwrite: bool,
    /// Stop (with a checkpoint) after this many steps, as a job with a wall-time limit would.
    pub stop_at_step: Option<usize>,
}

#[derive(Clone, Debug)]
pub struct TrainReport {
    pub run_dir: PathBuf,
    pub first_step: usize,
    pub steps_done: usize,
    pub seconds: f64,
    pub samples_per_second: f64,
    pub last_checkpoint: Option<PathBuf>,
    pub best_validation_loss: Option<f64>,
    /// The validation that chose best.vejr in this run (else the last one): per variable, its
    /// units and the RMSE of the model and of persistence.
    pub validation: Option<ValidationSummary>,
}

#[derive(Clone, Debug)]
pub struct ValidationSummary {
    pub step: usize,
    pub chose_best: bool,
    pub samples: usize,
    /// Lead of the RMSE: the validation rollout's steps × the store's time step.
    pub lead_hours: f64,
    pub rmse: Vec<(String, String, f64, f64)>,
}

/// The store's statistics of the selected columns.
pub fn normalization(store: &Store, columns: &[usize]) -> Normalization {
    let pick = |v: &[f64]| columns.iter().map(|&c| v[c] as f32).collect::<Vec<f32>>();
    Normalization {
        mean: pick(&store.mean),
        stdev: pick(&store.stdev),
        tendency_mean: pick(&store.tendency_mean),
        tendency_stdev: pick(&store.tendency_stdev),
    }
    .guarded()
}

type OptimizerRecord<B> = <burn::optim::adaptor::OptimizerAdaptor<burn::optim::AdamW, Forecaster<B>, B> as Optimizer<
    Forecaster<B>,
    B,
>>::Record;

fn recorder() -> NamedMpkBytesRecorder<FullPrecisionSettings> {
    NamedMpkBytesRecorder::<FullPrecisionSettings>::new()
}

pub fn train<B: GraphAutodiffBackend>(
    config: &RunConfig,
    config_path: &Path,
    options: &TrainOptions,
    dist: &Distributed,
    device: &B::Device,
) -> CommandResult<TrainReport> {
    let bad = |m: String| CommandError::bad_input(format!("config {}: {m}", config_path.display()));
    let t = config
        .training
        .clone()
        .ok_or_else(|| bad("no [training] section".into()))?;
    let store = Arc::new(Store::open(&config.data.store)?);
    let plan = config::plan(config, &store, dist.size).map_err(bad)?;
    let run = t.output.clone();
    let end_step = options.stop_at_step.map_or(t.steps, |s| s.min(t.steps));

    let existing = checkpoints::list(&run);
    if options.resume && existing.is_empty() {
        return Err(bad(format!("--resume: no checkpoint in {}", run.display())));
    }
    if !options.resume && !existing.is_empty() && !options.overwrite {
        return Err(bad(format!(
            "{} already holds a run: pass --resume to continue it or --overwrite to start again",
            run.display()
        )));
    }
    if dist.is_root() {
        if options.overwrite && !options.resume {
            for p in [
                checkpoints::checkpoint_dir(&run),
                run.join("metrics.jsonl"),
                checkpoints::best_path(&run),
            ] {
                let _ = std::fs::remove_dir_all(&p).or_else(|_| std::fs::remove_file(&p));
            }
        }
        std::fs::create_dir_all(checkpoints::checkpoint_dir(&run))
            .map_err(|e| CommandError::failure(format!("{}: {e}", run.display())))?;
        checkpoints::remove_partials(&run);
    }

    // The graph: rank 0 builds (or reuses) the cache, the others read it once it is there.
    let grid = data_loader::grid_points(&store);
    let grid_record = crate::model_grid::checkpoint_record(&store.grid);
    let cache = run.join("graph.cache");
    let graph_result = if dist.is_root() {
        WeatherGraph::load_or_build(&cache, &grid, t_mesh(config))
    } else {
        dist.barrier();
        WeatherGraph::load(&cache, &grid, t_mesh(config))
    };
    if dist.is_root() {
        dist.barrier();
    }
    let graph = graph_result.map_err(|e| CommandError::failure(e.to_string()))?;
    let graph_tensors =
        crate::backend::graph_tensors::<B>(&config.forecaster(grid.len()), &graph, t.batch_size, device)?;

    let norm = normalization(&store, &plan.columns);
    let selected: Vec<&vejr_ingest::store::Column> = plan.columns.iter().map(|&c| &store.columns[c]).collect();
    let weights = LossWeights::new(losses::grid_area_weights(&store.grid), &selected, &t.variable_weights)
        .with_boundary(plan.boundary.clone());
    if let Some(width) = plan.boundary_width
        && dist.is_root()
    {
        eprintln!(
            "train: boundary band of {width}: {} of {} points forced from the analyses and left out of the loss",
            plan.boundary.iter().filter(|&&b| b).count(),
            plan.boundary.len()
        );
    }
    let error_weights = losses::error_weights::<B>(&weights, &norm, device);

    B::seed(device, t.seed);
    let mut model = config.forecaster(grid.len()).init_seeded::<B>(t.seed, device);
    let mut optimizer = AdamWConfig::new()
        .with_beta_1(t.beta_1 as f32)
        .with_beta_2(t.beta_2 as f32)
        .with_epsilon(1e-8)
        .with_weight_decay(t.weight_decay as f32)
        .init::<B, Forecaster<B>>();
    let mut progress_state = TrainingProgress {
        step: 0,
        best_validation_loss: None,
        seed: t.seed,
        batch_size: t.batch_size,
    };
    let columns: Vec<String> = config.data.variables.clone();
    if options.resume {
        let (step, path) = existing.last().expect("checked above").clone();
        let expected = Expectation {
            columns: Some(&columns),
            latitudes: Some(&grid_record.0),
            longitudes: Some(&grid_record.1),
            time_step_seconds: Some(store.time_step.num_seconds()),
        };
        let (loaded, saved_meta) = checkpoint::load::<B>(&path, &expected, device).map_err(|e| bad(e.to_string()))?;
        let changed = changes_since(&saved_meta, config, &t, &store, grid.len(), &norm);
        if !changed.is_empty() {
            return Err(bad(format!(
                "--resume from {}: the config no longer describes that run ({}); train anew with --overwrite or restore the config",
                path.display(),
                changed.join("; ")
            )));
        }
        let state = checkpoint::read_training_state(&path).map_err(|e| CommandError::failure(e.to_string()))?;
        let (saved, optimizer_bytes) =
            checkpoints::decode_state(&state).map_err(|e| CommandError::failure(format!("{}: {e}", path.display())))?;
        if (saved.seed, saved.batch_size) != (t.seed, t.batch_size) {
            return Err(bad(format!(
                "--resume from {} (seed {}, batch_size {}) with seed {} and batch_size {} would not continue the same run",
                path.display(),
                saved.seed,
                saved.batch_size,
                t.seed,
                t.batch_size
            )));
        }
        let record: OptimizerRecord<B> = recorder()
            .load(optimizer_bytes, device)
            .map_err(|e| CommandError::failure(format!("{}: optimiser state: {e}", path.display())))?;
        optimizer = optimizer.load_record(record);
        model = loaded;
        debug_assert_eq!(saved.step, step);
        progress_state = saved;
    }
    if dist.size > 1 {
        // Every rank starts from rank 0's weights.
        let mut bytes = if dist.is_root() {
            recorder()
                .record(model.clone().into_record(), ())
                .map_err(|e| CommandError::failure(e.to_string()))?
        } else {
            Vec::new()
        };
        dist.broadcast_bytes(&mut bytes);
        let record = recorder()
            .load(bytes, device)
            .map_err(|e| CommandError::failure(format!("weights from rank 0: {e}")))?;
        model = model.load_record(record);
    }
    let first_step = progress_state.step;
    if end_step < first_step {
        return Err(bad(format!(
            "--stop-at-step {end_step} is below the step the run has reached ({first_step})"
        )));
    }

    let mut metrics = if dist.is_root() {
        Some(
            MetricsLog::open(&run.join("metrics.jsonl"), Some(first_step))
                .map_err(|e| CommandError::failure(format!("{}: {e}", run.display())))?,
        )
    } else {
        None
    };
    let reader = SampleReader::new(store.clone(), plan.columns.clone(), plan.static_columns.clone())
        .map_err(CommandError::failure)?;
    let (reader, boundary_host) = with_boundary_host(reader, config, &plan, &t, &store, dist.is_root())?;
    let reader = Arc::new(reader);
    let curriculum = t.clone();
    let loader = Loader::start(
        reader.clone(),
        LoaderPlan {
            samples: plan.train_samples.clone(),
            rollout_at: Box::new(move |s| curriculum.rollout_at(s)),
            seed: t.seed,
            global_batch: t.batch_size,
            rank: dist.rank,
            ranks: dist.size,
        },
        first_step..end_step,
        t.prefetch,
    );
    let schedule = LearningRateSchedule {
        peak: t.learning_rate,
        final_rate: t.final_learning_rate,
        warmup_steps: t.warmup_steps,
        total_steps: t.steps,
    };
    let validator = validation::Validator::<B>::new(
        graph_tensors.inner(),
        &norm,
        &weights,
        &plan,
        &t,
        reader.clone(),
        device,
    );
    let metadata = |progress: &TrainingProgress| CheckpointMetadata {
        model: config.forecaster(grid.len()),
        columns: columns.clone(),
        column_details: serde_json::to_value(&selected).unwrap_or_default(),
        static_fields: config.data.static_fields.clone(),
        latitudes: grid_record.0.clone(),
        longitudes: grid_record.1.clone(),
        grid: grid_record.2.clone(),
        time_step_seconds: store.time_step.num_seconds(),
        normalization: norm.clone(),
        training: serde_json::json!({
            "store": store.path.display().to_string(),
            "train_start": t.train_start, "train_end": t.train_end,
            "validation_start": t.validation_start, "validation_end": t.validation_end,
            "steps": progress.step, "batch_size": t.batch_size, "seed": t.seed, "ranks": dist.size,
            "best_validation_loss": progress.best_validation_loss,
            "validation_rollout": t.validation_rollout,
            // The store's mask: forecasts from files accept missing values there only.
            "outside_domain": store.mask.iter().enumerate().filter(|(_, inside)| !**inside).map(|(p, _)| p).collect::<Vec<_>>(),
            // The boundary band: forecasts take it from a host at every step.
            "boundary": plan.boundary_width.map(|width| serde_json::json!({
                "width": width,
                "host": boundary_host.as_deref().unwrap_or("the store's analyses"),
                "points": plan.boundary.iter().enumerate().filter(|(_, b)| **b).map(|(p, _)| p).collect::<Vec<_>>(),
            })),
        }),
        vejr_version: env!("CARGO_PKG_VERSION").into(),
        git_revision: env!("VEJR_GIT_REVISION").into(),
    };

    if dist.is_root() {
        eprintln!(
            "train: {} parameters, {} training samples, {} validation samples, steps {}..{end_step} of {}, {} rank(s), run {}",
            model.num_params(),
            plan.train_samples[0].len(),
            plan.validation_samples.len(),
            first_step,
            t.steps,
            dist.size,
            run.display()
        );
    }
    let bar = if dist.is_root() {
        Progress::new("train", (end_step - first_step) as u64, "steps")
    } else {
        Progress::hidden()
    };
    let started = Instant::now();
    let mut last_checkpoint = None;
    let mut validation: Option<ValidationSummary> = None;
    let step_context = step::StepContext {
        graph: &graph_tensors,
        normalization: &norm,
        error_weights: &error_weights,
        global_batch: t.batch_size,
        gradient_clip: t.gradient_clip,
        recompute_rollout: t.gradient_checkpointing,
        dist,
        device,
    };
    let boundary_inputs = plan.boundary_inputs;
    let run_steps = || -> Result<(), String> {
        for step in first_step..end_step {
            injected_rank_fault(dist.rank, step);
            let (produced, batch) = loader.next()?;
            debug_assert_eq!(produced, step);
            let step_started = Instant::now();
            let mut tensors = BatchTensors::<B>::new(&batch, columns.len(), &weights.area, device).with_boundary(
                &weights.boundary,
                columns.len(),
                device,
            );
            if boundary_inputs {
                tensors = tensors.with_boundary_inputs(&norm);
            }
            let lr = schedule.at(step);
            let (next, outcome) = step::training_step(model, &mut optimizer, &tensors, lr, &step_context)
                .map_err(|e| format!("step {step}: {e}"))?;
            model = next;
            let (loss, grad_norm) = (outcome.loss, outcome.gradient_norm);
            progress_state.step = step + 1;

            let done = step + 1;
            let rate = t.batch_size as f64 / step_started.elapsed().as_secs_f64().max(1e-9);
            bar.inc(1);
            bar.set_message(&format!("train loss {:.4} lr {lr:.2e}", loss));
            if let Some(m) = metrics.as_mut() {
                m.write(&serde_json::json!({
                    "step": done, "kind": "train", "loss": loss, "learning_rate": lr,
                    "rollout": batch.targets.len(), "gradient_norm": grad_norm, "samples_per_second": rate,
                }))?;
            }
            let last = done == end_step;
            if dist.is_root() && (done % t.validate_every == 0 || last) {
                let scores = validator.run(&model.valid())?;
                let improved = progress_state.best_validation_loss.is_none_or(|b| scores.loss < b);
                if improved {
                    progress_state.best_validation_loss = Some(scores.loss);
                }
                if improved || validation.as_ref().is_none_or(|v: &ValidationSummary| !v.chose_best) {
                    validation = Some(ValidationSummary {
                        step: done,
                        chose_best: improved,
                        samples: scores.samples,
                        lead_hours: (t.validation_rollout as i64 * store.time_step.num_seconds()) as f64 / 3600.0,
                        rmse: scores
                            .rmse
                            .iter()
                            .map(|(name, model, persistence)| {
                                let units = selected
                                    .iter()
                                    .find(|c| &c.name == name)
                                    .and_then(|c| c.units.clone())
                                    .unwrap_or_default();
                                (name.clone(), units, *model, *persistence)
                            })
                            .collect(),
                    });
                }
                bar.set_message(&format!(
                    "validation loss {:.4} (persistence {:.4})",
                    scores.loss, scores.persistence_loss
                ));
                if let Some(m) = metrics.as_mut() {
                    m.write(&scores.to_json(done))?;
                }
                if improved {
                    save(
                        &checkpoints::best_path(&run),
                        &model,
                        &metadata(&progress_state),
                        &progress_state,
                        &optimizer,
                    )?;
                }
            }
            if dist.is_root() && (done % t.checkpoint_every == 0 || last) {
                let path = checkpoints::step_path(&run, done);
                save(&path, &model, &metadata(&progress_state), &progress_state, &optimizer)?;
                checkpoints::prune(&run, t.keep_checkpoints);
                last_checkpoint = Some(path);
            }
        }
        Ok(())
    };
    if let Err(e) = run_steps() {
        if dist.size > 1 {
            // Alone in this failure: take the other ranks down rather than leave them waiting.
            eprintln!("vejr: error: rank {}: {e}", dist.rank);
            dist.abort(crate::exit::FAILURE);
        }
        return Err(CommandError::failure(e));
    }
    let seconds = bar.finish().as_secs_f64().max(started.elapsed().as_secs_f64());
    let steps_done = end_step - first_step;
    Ok(TrainReport {
        run_dir: run,
        first_step,
        steps_done,
        seconds,
        samples_per_second: (steps_done * t.batch_size) as f64 / seconds.max(1e-9),
        last_checkpoint,
        best_validation_loss: progress_state.best_validation_loss,
        validation,
    })
}

/// Fault injection for the tests of a rank that dies or hangs: `VEJR_TEST_RANK_FAULT=R:S:die`
/// aborts rank R at step S, `R:S:stall` makes it wait forever.
fn injected_rank_fault(rank: usize, step: usize) {
    let Ok(spec) = std::env::var("VEJR_TEST_RANK_FAULT") else {
        return;
    };
    let parts: Vec<&str> = spec.split(':').collect();
    if let [r, s, kind] = parts.as_slice()
        && r.parse() == Ok(rank)
        && s.parse() == Ok(step)
    {
        match *kind {
            "die" => std::process::abort(),
            "stall" => loop {
                std::thread::sleep(std::time::Duration::from_secs(3600));
            },
            _ => {}
        }
    }
}

fn t_mesh(config: &RunConfig) -> usize {
    config.model.mesh_level
}

fn save<B: GraphAutodiffBackend>(
    path: &Path,
    model: &Forecaster<B>,
    metadata: &CheckpointMetadata,
    progress: &TrainingProgress,
    optimizer: &impl Optimizer<Forecaster<B>, B>,
) -> Result<(), String> {
    let optimizer_bytes = recorder()
        .record(optimizer.to_record(), ())
        .map_err(|e| e.to_string())?;
    let state = checkpoints::encode_state(progress, &optimizer_bytes);
    checkpoint::save_with_training_state(path, model, metadata, &state).map_err(|e| e.to_string())
}

/// What differs between the run a checkpoint was written by and the one `config` describes:
/// the model, the static fields, the store and its statistics, the data periods. Resuming
/// across any of these would train one model and label it as another.
fn changes_since(
    saved: &CheckpointMetadata,
    config: &RunConfig,
    t: &config::TrainingSection,
    store: &Store,
    grid_points: usize,
    norm: &Normalization,
) -> Vec<String> {
    let mut changed = Vec::new();
    let now = serde_json::to_value(config.forecaster(grid_points)).unwrap_or_default();
    let then = serde_json::to_value(&saved.model).unwrap_or_default();
    if let (Some(now), Some(then)) = (now.as_object(), then.as_object()) {
        for (key, value) in now {
            let before = then.get(key).cloned().unwrap_or_default();
            // Checkpoints from before grid_points was recorded say 0: "not recorded".
            let unrecorded = key == "grid_points" && before == 0;
            if &before != value && !unrecorded {
                changed.push(format!("model {key} {before} → {value}"));
            }
        }
    }
    if saved.static_fields != config.data.static_fields {
        changed.push(format!(
            "data.static_fields {:?} → {:?}",
            saved.static_fields, config.data.static_fields
        ));
    }
    // The boundary band decides what the loss sees: a different one is a different run.
    let band_then = saved
        .training
        .get("boundary")
        .and_then(|b| b.get("width"))
        .cloned()
        .unwrap_or_default();
    let band_now = config
        .data
        .boundary_width()
        .ok()
        .flatten()
        .and_then(|w| serde_json::to_value(w).ok())
        .unwrap_or_default();
    if band_then != band_now {
        changed.push(format!("boundary band {band_then} → {band_now}"));
    }
    let current = serde_json::json!({
        "store": store.path.display().to_string(),
        "train_start": t.train_start, "train_end": t.train_end,
        "validation_start": t.validation_start, "validation_end": t.validation_end,
    });
    for (key, value) in current.as_object().into_iter().flatten() {
        let before = saved.training.get(key).cloned().unwrap_or_default();
        if &before != value {
            changed.push(format!("{key} {before} → {value}"));
        }
    }
    if &saved.normalization != norm && changed.iter().all(|c| !c.starts_with("store ")) {
        changed.push(format!(
            "the statistics of store {} (rebuilt since?)",
            store.path.display()
        ));
    }
    changed
}

/// The training boundary's host when `[data] boundary_host` names one: it must have every
/// variable trained on and a state at every time of the training and validation periods.
/// Returns the reader that takes the band from it, and the host's description.
fn with_boundary_host(
    reader: SampleReader,
    config: &RunConfig,
    plan: &config::TrainingPlan,
    t: &config::TrainingSection,
    store: &Store,
    root: bool,
) -> Result<(SampleReader, Option<String>), CommandError> {
    if config.data.boundary_host.is_empty() {
        return Ok((reader, None));
    }
    if plan.boundary.is_empty() {
        return Err(CommandError::bad_input(
            "[data] boundary_host names a host, and there is no boundary band (set boundary_width_points or boundary_width_km)",
        ));
    }
    let paths = crate::commands::evaluate::expand("[data] boundary_host", &config.data.boundary_host)?;
    let columns: Vec<vejr_ingest::store::Column> = plan.columns.iter().map(|&c| store.columns[c].clone()).collect();
    let (host, note) =
        crate::boundary_host::BoundaryHost::open(&paths, &store.grid, &columns).map_err(CommandError::bad_input)?;
    let needed: Vec<chrono::DateTime<chrono::Utc>> = store
        .dates
        .iter()
        .filter(|d| (t.train_start..=t.train_end).contains(*d) || (t.validation_start..=t.validation_end).contains(*d))
        .copied()
        .collect();
    if let Some(problem) = host.missing(&needed) {
        return Err(CommandError::bad_input(format!("[data] boundary_host: {problem}")));
    }
    if root {
        if let Some(note) = note {
            eprintln!("train: boundary host: {note}");
        }
        eprintln!("train: boundary band from {}", host.description);
    }
    let description = host.description.clone();
    Ok((
        reader.with_boundary_host(host, plan.boundary.clone()),
        Some(description),
    ))
}
