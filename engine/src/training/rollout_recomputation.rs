//! Gradients of a long rollout with memory that does not grow with its length: a checkpoint
//! per rollout step. The forward pass keeps only the states (no autodiff graph); the backward
//! pass walks the rollout from its end, recomputes one step at a time with autodiff, and hands
//! the gradient with respect to that step's input states on to the steps that made them.
//!
//! Why by hand: Burn 0.21's checkpointing strategies decide per operation (memory-bound ones
//! are recomputed), so the graph of a k-step rollout still grows with k. Per-step
//! recomputation costs one extra forward pass and keeps one step's activations alive at a time.

use burn::module::AutodiffModule;
use burn::optim::{GradientsAccumulator, GradientsParams};
use burn::tensor::{ElementConversion, Tensor};
use vejr_models::gnn::GraphAutodiffBackend;
use vejr_models::{Forecaster, GraphTensors, Normalization};

use super::losses::{BatchTensors, step_loss};
use super::parameters;

/// The rollout loss (as [`super::losses::rollout_loss`] defines it, times `scale`) and the
/// gradient of it with respect to every parameter, flattened in the module's visiting order.
pub fn rollout_gradients<B: GraphAutodiffBackend>(
    model: &Forecaster<B>,
    graph: &GraphTensors<B>,
    norm: &Normalization,
    batch: &BatchTensors<B>,
    error_weights: &Tensor<B, 3>,
    scale: f64,
) -> (f64, Vec<f32>) {
    let steps = batch.targets.len();
    let loss_scale = scale / steps as f64;

    // Forward without a graph: states[0] = t−Δt, states[1] = t, states[k + 2] = step k's output.
    let inference = model.valid();
    let inner_graph = graph.inner();
    let inner = |t: &Tensor<B, 3>| t.clone().inner();
    let mut states = vec![inner(&batch.previous), inner(&batch.current)];
    for k in 0..steps {
        let next = inference.step(
            &inner_graph,
            norm,
            states[k].clone(),
            states[k + 1].clone(),
            inner(&batch.forcings[k]),
            batch.statics.as_ref().map(inner),
        );
        // The band forced as the loss's own rollout forces it (constant: no gradient).
        let next = match batch.boundary {
            Some(_) => batch.force_boundary(k, Tensor::<B, 3>::from_inner(next)).inner(),
            None => next,
        };
        states.push(next);
    }
    drop(inner_graph);

    // Backward, last step first. upstream[i] is ∂(loss of later steps)/∂states[i].
    let mut upstream: Vec<Option<Tensor<B::InnerBackend, 3>>> = vec![None; steps + 2];
    // Summed on the device, copied to the host once.
    let mut accumulated = GradientsAccumulator::new();
    let mut loss: Option<Tensor<B::InnerBackend, 1>> = None;
    for k in (0..steps).rev() {
        // The batch's own inputs (indices 0 and 1) need no gradient.
        let leaf = |i: usize| {
            let t = Tensor::<B, 3>::from_inner(states[i].clone());
            if i >= 2 { t.require_grad() } else { t }
        };
        let (previous, current) = (leaf(k), leaf(k + 1));
        let next = model.step(
            graph,
            norm,
            previous.clone(),
            current.clone(),
            batch.forcings[k].clone(),
            batch.statics.clone(),
        );
        let next = batch.force_boundary(k, next);
        let step = step_loss(
            next.clone(),
            batch.targets[k].clone(),
            batch.missing[k].clone(),
            batch.denominators[k].clone(),
            error_weights.clone(),
        ) * loss_scale;
        let step_value = step.clone().inner();
        loss = Some(match loss.take() {
            Some(sum) => sum + step_value,
            None => step_value,
        });
        // ⟨g, next⟩ with g held constant back-propagates g through this step.
        let objective = match upstream[k + 2].take() {
            Some(g) => step + (next * Tensor::from_inner(g)).sum(),
            None => step,
        };
        let mut grads = objective.backward();
        for (i, input) in [(k, previous), (k + 1, current)] {
            if let Some(g) = input.grad_remove(&mut grads) {
                upstream[i] = Some(match upstream[i].take() {
                    Some(sum) => sum + g,
                    None => g,
                });
            }
        }
        accumulated.accumulate(model, GradientsParams::from_grads(grads, model));
    }
    let loss = loss.expect("at least one rollout step").into_scalar().elem::<f64>();
    (loss, parameters::flatten_gradients(model, accumulated.grads()))
}
