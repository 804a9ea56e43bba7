//! One optimisation step, as every rank takes it: GraphCast's loss over the batch's rollout,
//! backward through the whole rollout, gradients summed over ranks and clipped by their global
//! norm (after the sum, so every rank clips alike), then AdamW.

use burn::optim::{GradientsParams, Optimizer};
use burn::tensor::{ElementConversion, Tensor};
use vejr_models::gnn::GraphAutodiffBackend;
use vejr_models::{Forecaster, GraphTensors, Normalization};

use super::distributed::Distributed;
use super::losses::{self, BatchTensors};
use super::{parameters, rollout_recomputation};

/// What a step needs besides the model, the optimiser and the batch; the same for every step.
pub struct StepContext<'a, B: GraphAutodiffBackend> {
    pub graph: &'a GraphTensors<B>,
    pub normalization: &'a Normalization,
    pub error_weights: &'a Tensor<B, 3>,
    /// Samples over all ranks: each rank's loss is its share of the global mean.
    pub global_batch: usize,
    pub gradient_clip: f64,
    /// Recompute each rollout step in the backward pass (`gradient_checkpointing`): memory
    /// flat in the rollout length for one more forward pass.
    pub recompute_rollout: bool,
    pub dist: &'a Distributed,
    pub device: &'a B::Device,
}

pub struct StepOutcome {
    /// The global batch's loss (summed over ranks).
    pub loss: f64,
    /// Global norm of the summed gradients before clipping.
    pub gradient_norm: f64,
}

pub fn training_step<B, O>(
    model: Forecaster<B>,
    optimizer: &mut O,
    batch: &BatchTensors<B>,
    learning_rate: f64,
    cx: &StepContext<B>,
) -> Result<(Forecaster<B>, StepOutcome), String>
where
    B: GraphAutodiffBackend,
    O: Optimizer<Forecaster<B>, B>,
{
    let scale = 1.0 / cx.global_batch as f64;
    let (loss, mut flat) = if cx.recompute_rollout {
        rollout_recomputation::rollout_gradients(&model, cx.graph, cx.normalization, batch, cx.error_weights, scale)
    } else {
        let loss = losses::rollout_loss(&model, cx.graph, cx.normalization, batch, cx.error_weights, |_, _| {}) * scale;
        let value = loss.clone().into_scalar().elem::<f64>();
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        (value, parameters::flatten_gradients(&model, grads))
    };
    let mut loss_sum = [loss];
    cx.dist.all_reduce_sum(&mut flat);
    cx.dist.all_reduce_sum_f64(&mut loss_sum);
    if !loss_sum[0].is_finite() {
        return Err(format!(
            "loss is {}: check the store for bad values or lower the learning rate",
            loss_sum[0]
        ));
    }
    let gradient_norm = parameters::clip_global_norm(&mut flat, cx.gradient_clip);
    let grads = parameters::unflatten_gradients::<B, _>(&model, &flat, cx.device);
    let model = optimizer.step(learning_rate, model, grads);
    Ok((
        model,
        StepOutcome {
            loss: loss_sum[0],
            gradient_norm,
        },
    ))
}
