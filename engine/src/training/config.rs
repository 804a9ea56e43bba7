//! The `[training]` section of a run config and its checks against the store, all made before
//! any compute: a wrong variable, a date range the store does not cover, a validation period
//! overlapping training or a rollout longer than the data stops the run at start-up.

use std::collections::BTreeMap;
use std::path::PathBuf;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use vejr_ingest::store::Store;

use super::data_loader::sample_times;
use crate::run_config::RunConfig;

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainingSection {
    /// Run directory (checkpoints, metrics.jsonl, graph cache), relative to the config file.
    pub output: PathBuf,
    pub train_start: DateTime<Utc>,
    pub train_end: DateTime<Utc>,
    pub validation_start: DateTime<Utc>,
    pub validation_end: DateTime<Utc>,
    #[serde(default)]
    pub test_start: Option<DateTime<Utc>>,
    #[serde(default)]
    pub test_end: Option<DateTime<Utc>>,
    /// Optimiser steps in the whole run (the schedule's length).
    pub steps: usize,
    /// Samples per step over all ranks; each of N ranks takes batch_size / N.
    pub batch_size: usize,
    pub learning_rate: f64,
    #[serde(default)]
    pub warmup_steps: usize,
    #[serde(default)]
    pub final_learning_rate: f64,
    #[serde(default = "defaults::weight_decay")]
    pub weight_decay: f64,
    #[serde(default = "defaults::beta_1")]
    pub beta_1: f64,
    #[serde(default = "defaults::beta_2")]
    pub beta_2: f64,
    /// Global gradient-norm limit (over all parameters, after the all-reduce); 0 turns it off.
    #[serde(default = "defaults::gradient_clip")]
    pub gradient_clip: f64,
    #[serde(default = "defaults::seed")]
    pub seed: u64,
    /// Rollout lengths: from `from_step` on, each sample is rolled out `rollout` steps.
    #[serde(default = "defaults::curriculum")]
    pub curriculum: Vec<CurriculumStage>,
    #[serde(default = "defaults::every")]
    pub checkpoint_every: usize,
    #[serde(default = "defaults::keep")]
    pub keep_checkpoints: usize,
    #[serde(default = "defaults::every")]
    pub validate_every: usize,
    /// Validation samples per validation (spread over the period); 0 = all of them.
    #[serde(default)]
    pub validation_samples: usize,
    /// Steps each validation sample is rolled out (as Anemoi validates): the validation loss,
    /// and so best.vejr, then measure the multi-step forecast a run is for, not the one-step
    /// fit, which a model trained on little data keeps improving while its longer forecasts
    /// get worse. The RMSE reported is that of the last step.
    #[serde(default = "defaults::validation_rollout")]
    pub validation_rollout: usize,
    /// Batches decoded ahead of the model.
    #[serde(default = "defaults::prefetch")]
    pub prefetch: usize,
    /// Loss weight per variable (store column or variable name); others weigh 1.
    #[serde(default)]
    pub variable_weights: BTreeMap<String, f64>,
    /// For long rollouts on little memory: each rollout step is recomputed in the backward pass
    /// instead of kept, so memory is flat in the rollout length (one more forward pass).
    #[serde(default)]
    pub gradient_checkpointing: bool,
    /// Floating-point type of weights and activations: f32, or bf16 (CUDA only).
    #[serde(default)]
    pub precision: Precision,
}

#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    #[default]
    F32,
    Bf16,
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CurriculumStage {
    pub from_step: usize,
    pub rollout: usize,
}

mod defaults {
    pub fn weight_decay() -> f64 {
        0.1
    }
    pub fn beta_1() -> f64 {
        0.9
    }
    pub fn beta_2() -> f64 {
        0.95
    }
    pub fn gradient_clip() -> f64 {
        32.0
    }
    pub fn seed() -> u64 {
        42
    }
    pub fn curriculum() -> Vec<super::CurriculumStage> {
        vec![super::CurriculumStage {
            from_step: 0,
            rollout: 1,
        }]
    }
    pub fn validation_rollout() -> usize {
        1
    }
    pub fn every() -> usize {
        100
    }
    pub fn keep() -> usize {
        3
    }
    pub fn prefetch() -> usize {
        4
    }
}

impl TrainingSection {
    /// Rollout length at `step` (the curriculum's stage in force then).
    pub fn rollout_at(&self, step: usize) -> usize {
        self.curriculum
            .iter()
            .filter(|s| s.from_step <= step)
            .map(|s| s.rollout)
            .next_back()
            .unwrap_or(1)
    }

    pub fn max_rollout(&self) -> usize {
        self.curriculum.iter().map(|s| s.rollout).max().unwrap_or(1)
    }

    /// The training, validation and (when given) test periods.
    pub fn periods(&self) -> Vec<(&'static str, Period)> {
        let mut ranges = vec![
            ("training", (self.train_start, self.train_end)),
            ("validation", (self.validation_start, self.validation_end)),
        ];
        if let (Some(s), Some(e)) = (self.test_start, self.test_end) {
            ranges.push(("test", (s, e)));
        }
        ranges
    }

    /// Everything about the section that needs no store: values in range, a curriculum that
    /// starts at step 0, periods that are ordered and disjoint (`vejr train` and the configs test).
    pub fn check(&self) -> Result<(), String> {
        let t = self;
        if t.steps == 0
            || t.batch_size == 0
            || t.checkpoint_every == 0
            || t.validate_every == 0
            || t.keep_checkpoints == 0
        {
            return Err(
                "steps, batch_size, checkpoint_every, validate_every and keep_checkpoints must be positive".into(),
            );
        }
        if !(t.learning_rate > 0.0 && t.learning_rate.is_finite()) {
            return Err(format!("learning_rate must be positive, not {}", t.learning_rate));
        }
        if !(t.final_learning_rate >= 0.0 && t.final_learning_rate.is_finite()) {
            return Err(format!(
                "final_learning_rate must be zero or positive, not {}",
                t.final_learning_rate
            ));
        }
        if !(t.weight_decay >= 0.0 && t.weight_decay.is_finite()) {
            return Err(format!("weight_decay must be zero or positive, not {}", t.weight_decay));
        }
        for (name, beta) in [("beta_1", t.beta_1), ("beta_2", t.beta_2)] {
            if !(0.0..1.0).contains(&beta) {
                return Err(format!("{name} must lie in [0, 1), not {beta}"));
            }
        }
        // 0 turns clipping off; a negative norm has no meaning.
        if !(t.gradient_clip >= 0.0 && t.gradient_clip.is_finite()) {
            return Err(format!(
                "gradient_clip must be zero (off) or positive, not {}",
                t.gradient_clip
            ));
        }
        if t.curriculum.is_empty() || t.curriculum[0].from_step != 0 || t.curriculum.iter().any(|s| s.rollout == 0) {
            return Err("curriculum must start at from_step = 0 with rollouts of at least 1".into());
        }
        if t.curriculum.windows(2).any(|w| w[1].from_step <= w[0].from_step) {
            return Err("curriculum stages must have increasing from_step".into());
        }

        if self.test_start.is_some() != self.test_end.is_some() {
            return Err("test_start and test_end go together".into());
        }
        let ranges = self.periods();
        for (name, (start, end)) in &ranges {
            if start > end {
                return Err(format!("{name} period starts ({start}) after it ends ({end})"));
            }
        }
        for i in 0..ranges.len() {
            for j in i + 1..ranges.len() {
                if overlaps(ranges[i].1, ranges[j].1) {
                    return Err(format!(
                        "{} period overlaps the {} period: they must be disjoint",
                        ranges[j].0, ranges[i].0
                    ));
                }
            }
        }
        Ok(())
    }
}

/// What a checked config resolves to against its store.
#[derive(Clone, Debug)]
pub struct TrainingPlan {
    /// Store column indices of the predicted variables and the static fields.
    pub columns: Vec<usize>,
    pub static_columns: Vec<usize>,
    /// Time indices a training sample may start from, per rollout length (1..=max).
    pub train_samples: Vec<Vec<usize>>,
    pub validation_samples: Vec<usize>,
    /// Per grid point, whether it is in the boundary band (empty: no band).
    pub boundary: Vec<bool>,
    pub boundary_width: Option<vejr_models::boundary::BoundaryWidth>,
    /// The network sees the band's state at the end of each step (`[data] boundary_inputs`).
    pub boundary_inputs: bool,
}

/// A closed interval of valid times.
pub type Period = (DateTime<Utc>, DateTime<Utc>);

fn overlaps(a: Period, b: Period) -> bool {
    a.0 <= b.1 && b.0 <= a.1
}

/// Every start-up check; the error is one line saying what is wrong and where.
pub fn plan(config: &RunConfig, store: &Store, ranks: usize) -> Result<TrainingPlan, String> {
    let t = config
        .training
        .as_ref()
        .ok_or("no [training] section: this config describes a model, not a training run")?;
    let find = |name: &String| {
        store.column_index(name).ok_or_else(|| {
            let names: Vec<&str> = store.columns.iter().map(|c| c.name.as_str()).collect();
            format!(
                "unknown variable {name}: store {} has {}",
                store.path.display(),
                names.join(", ")
            )
        })
    };
    let columns = config.data.variables.iter().map(find).collect::<Result<Vec<_>, _>>()?;
    let static_columns = config
        .data
        .static_fields
        .iter()
        .map(find)
        .collect::<Result<Vec<_>, _>>()?;
    for name in t.variable_weights.keys() {
        let known = config.data.variables.iter().any(|v| v == name)
            || columns.iter().any(|&c| &store.columns[c].variable == name);
        if !known {
            return Err(format!(
                "variable_weights names {name}, which is not among data.variables"
            ));
        }
    }
    t.check()?;
    if t.batch_size % ranks != 0 {
        return Err(format!(
            "batch_size {} does not divide among {ranks} ranks: each rank must take the same share",
            t.batch_size
        ));
    }
    let (first, last) = (store.dates[0], store.dates[store.dates.len() - 1]);
    for (name, (start, end)) in t.periods() {
        if start < first || end > last {
            return Err(format!(
                "{name} period {} to {} is outside store {} ({} to {})",
                start.format("%Y-%m-%dT%H:%MZ"),
                end.format("%Y-%m-%dT%H:%MZ"),
                store.path.display(),
                first.format("%Y-%m-%dT%H:%MZ"),
                last.format("%Y-%m-%dT%H:%MZ")
            ));
        }
    }

    let range = (t.train_start, t.train_end);
    let train_samples: Vec<Vec<usize>> = (1..=t.max_rollout())
        .map(|k| sample_times(&store.dates, store.time_step, range, k))
        .collect();
    for stage in &t.curriculum {
        let available = train_samples[stage.rollout - 1].len();
        if available < t.batch_size {
            return Err(format!(
                "rollout of {} steps (curriculum from step {}) is longer than the training data allows: {available} samples \
                 of 2 inputs + {} targets without a gap in {} to {}, fewer than batch_size {}",
                stage.rollout,
                stage.from_step,
                stage.rollout,
                t.train_start.format("%Y-%m-%dT%H:%MZ"),
                t.train_end.format("%Y-%m-%dT%H:%MZ"),
                t.batch_size
            ));
        }
    }
    if t.validation_rollout == 0 {
        return Err("validation_rollout must be at least 1 (steps each validation sample is rolled out)".into());
    }
    let validation_samples = sample_times(
        &store.dates,
        store.time_step,
        (t.validation_start, t.validation_end),
        t.validation_rollout,
    );
    if validation_samples.is_empty() {
        return Err(format!(
            "the validation period {} to {} holds no sample of 2 inputs + {} target(s) without a gap (validation_rollout {})",
            t.validation_start.format("%Y-%m-%dT%H:%MZ"),
            t.validation_end.format("%Y-%m-%dT%H:%MZ"),
            t.validation_rollout,
            t.validation_rollout
        ));
    }
    let boundary_width = config.data.boundary_width()?;
    let boundary = match boundary_width {
        None => Vec::new(),
        Some(_) if store.grid.is_global_in_longitude() => {
            return Err(format!(
                "a boundary band needs a limited-area domain, and store {} is global in longitude",
                store.path.display()
            ));
        }
        Some(width) => {
            let grid = crate::model_grid::model_grid(&store.grid);
            let band = vejr_models::boundary::boundary_band(&grid, &store.mask, width)
                .map_err(|e| format!("boundary band of store {}: {e}", store.path.display()))?;
            let (inside, banded) = (
                store.mask.iter().filter(|&&m| m).count(),
                band.iter().filter(|&&b| b).count(),
            );
            if banded >= inside {
                return Err(format!(
                    "a boundary band of {width} covers the whole domain of store {} ({inside} points): nothing is left to predict",
                    store.path.display()
                ));
            }
            band
        }
    };
    Ok(TrainingPlan {
        columns,
        static_columns,
        train_samples,
        validation_samples,
        boundary,
        boundary_width,
        boundary_inputs: config.boundary_inputs(),
    })
}
