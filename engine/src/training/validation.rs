//! Validation during training: the loss of forecasts of `validation_rollout` steps over the
//! validation period, the same loss for persistence, and per-variable RMSE of the last step in
//! physical units, without autodiff.

use std::sync::Arc;

use burn::tensor::ElementConversion;
use vejr_models::gnn::GraphAutodiffBackend;
use vejr_models::{Forecaster, GraphTensors, Normalization};

use super::config::{TrainingPlan, TrainingSection};
use super::data_loader::SampleReader;
use super::losses::{self, BatchTensors, LossWeights};

pub struct Validator<B: GraphAutodiffBackend> {
    graph: GraphTensors<B::InnerBackend>,
    norm: Normalization,
    weights: LossWeights,
    error_weights: burn::tensor::Tensor<B::InnerBackend, 3>,
    samples: Vec<usize>,
    batch_size: usize,
    rollout: usize,
    reader: Arc<SampleReader>,
    columns: Vec<String>,
    device: burn::tensor::Device<B::InnerBackend>,
    boundary_inputs: bool,
}

pub struct Scores {
    pub loss: f64,
    pub persistence_loss: f64,
    pub rmse: Vec<(String, f64, f64)>,
    pub samples: usize,
}

impl Scores {
    pub fn to_json(&self, step: usize) -> serde_json::Value {
        let rmse: serde_json::Map<String, serde_json::Value> =
            self.rmse.iter().map(|(n, m, _)| (n.clone(), (*m).into())).collect();
        let persistence: serde_json::Map<String, serde_json::Value> =
            self.rmse.iter().map(|(n, _, p)| (n.clone(), (*p).into())).collect();
        serde_json::json!({
            "step": step, "kind": "validation", "loss": self.loss, "persistence_loss": self.persistence_loss,
            "rmse": rmse, "persistence_rmse": persistence, "samples": self.samples,
        })
    }
}

impl<B: GraphAutodiffBackend> Validator<B> {
    pub fn new(
        graph: GraphTensors<B::InnerBackend>,
        norm: &Normalization,
        weights: &LossWeights,
        plan: &TrainingPlan,
        training: &TrainingSection,
        reader: Arc<SampleReader>,
        device: &B::Device,
    ) -> Self {
        let all = &plan.validation_samples;
        // Evenly spread when only some are wanted.
        let samples = match training.validation_samples {
            n if n == 0 || n >= all.len() => all.clone(),
            n => (0..n).map(|i| all[i * all.len() / n]).collect(),
        };
        let device: burn::tensor::Device<B::InnerBackend> = device.clone();
        Self {
            graph,
            norm: norm.clone(),
            weights: weights.clone(),
            error_weights: losses::error_weights(weights, norm, &device),
            samples,
            batch_size: training.batch_size,
            rollout: training.validation_rollout,
            columns: plan
                .columns
                .iter()
                .map(|&c| reader.store.columns[c].name.clone())
                .collect(),
            reader,
            device,
            boundary_inputs: plan.boundary_inputs,
        }
    }

    pub fn run(&self, model: &Forecaster<B::InnerBackend>) -> Result<Scores, String> {
        let c = self.columns.len();
        let (mut loss, mut persistence) = (0.0, 0.0);
        let mut model_se = vec![(0.0, 0.0); c];
        let mut persistence_se = vec![(0.0, 0.0); c];
        for chunk in self.samples.chunks(self.batch_size) {
            let batch = self.reader.batch(chunk, self.rollout)?;
            let last = self.rollout - 1;
            let mut tensors = BatchTensors::<B::InnerBackend>::new(&batch, c, &self.weights.area, &self.device)
                .with_boundary(&self.weights.boundary, c, &self.device);
            if self.boundary_inputs {
                tensors = tensors.with_boundary_inputs(&self.norm);
            }
            let mut predicted = Vec::new();
            let l = losses::rollout_loss(model, &self.graph, &self.norm, &tensors, &self.error_weights, |k, s| {
                if k != last {
                    return;
                }
                predicted = s
                    .clone()
                    .into_data()
                    .convert::<f32>()
                    .to_vec::<f32>()
                    .unwrap_or_default();
            });
            loss += l.into_scalar().elem::<f64>();
            persistence += losses::persistence_loss(&tensors, &self.error_weights)
                .into_scalar()
                .elem::<f64>();
            let add = |acc: &mut Vec<(f64, f64)>, pred: &[f32]| {
                for (a, s) in acc.iter_mut().zip(losses::channel_squared_errors(
                    pred,
                    &batch.targets[last],
                    &self.weights.area,
                    c,
                )) {
                    a.0 += s.0;
                    a.1 += s.1;
                }
            };
            add(&mut model_se, &predicted);
            add(&mut persistence_se, &batch.current);
        }
        let n = self.samples.len() as f64;
        let rmse = |s: &(f64, f64)| (s.0 / s.1.max(1e-12)).sqrt();
        Ok(Scores {
            loss: loss / n,
            persistence_loss: persistence / n,
            rmse: self
                .columns
                .iter()
                .enumerate()
                .map(|(i, name)| (name.clone(), rmse(&model_se[i]), rmse(&persistence_se[i])))
                .collect(),
            samples: self.samples.len(),
        })
    }
}
