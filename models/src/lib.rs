//! vejr-models: graph construction (icosahedral multimesh, grid↔mesh connectivity) and the
//! encoder–processor–decoder forecaster, generic over `B: Backend`. Files are never read here
//! except the model's own graph cache and checkpoints: the engine hands over grids and statistics.

pub mod boundary;
pub mod checkpoint;
pub mod forcings;
pub mod forecaster;
pub mod gnn;
pub mod graph;
pub mod normalization;
pub mod solar_radiation;

pub use forecaster::{Forecaster, ForecasterConfig, GraphTensors};
pub use normalization::Normalization;

use burn::tensor::backend::Backend;
use burn::tensor::{Element, Tensor, TensorData};

/// A float tensor in the backend's own float type from f32 values (graph features and
/// statistics are f32; an f64 backend must not end up mixing precisions).
pub fn float_tensor<B: Backend, const D: usize>(
    values: Vec<f32>,
    shape: [usize; D],
    device: &B::Device,
) -> Tensor<B, D> {
    let data = TensorData::new(values, shape).convert_dtype(<B::FloatElem as Element>::dtype());
    Tensor::from_data(data, device)
}
