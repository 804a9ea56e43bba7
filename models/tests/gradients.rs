//! Gradients of the whole forecaster against central finite differences, in f64.
//!
//! A test binary of its own: Burn 0.21 keeps the default float type per device type, so f32
//! tests in the same process would turn this one's parameters into f32.

use burn::backend::{Autodiff, NdArray};
use burn::tensor::{Tensor, TensorData};
use vejr_models::graph::WeatherGraph;
use vejr_models::{ForecasterConfig, GraphTensors};

mod common;
use common::{coarse_global, noise};

#[test]
fn gradients_match_finite_differences() {
    type B = Autodiff<NdArray<f64>>;
    let device = Default::default();
    burn::tensor::backend::set_default_float_dtype::<B>(&device, burn::tensor::DType::F64).unwrap();
    let grid = coarse_global(30.0);
    let graph = WeatherGraph::build(&grid, 1).unwrap();
    let tensors = GraphTensors::<B>::new(&graph, &device);
    let config = ForecasterConfig::new(16, 2, 1, 2);
    let model = config.init::<B>(&device);
    let width = config.grid_inputs() - 3;
    let n = grid.len() * width;
    let inputs = noise(n, 1);
    let weights = Tensor::<B, 3>::from_data(TensorData::new(noise(grid.len() * 2, 2), [1, grid.len(), 2]), &device);
    let loss_of = |values: &[f64]| -> Tensor<B, 1> {
        let x = Tensor::<B, 3>::from_data(TensorData::new(values.to_vec(), [1, grid.len(), width]), &device);
        (model.forward(x, &tensors) * weights.clone()).sum()
    };

    let x = Tensor::<B, 3>::from_data(TensorData::new(inputs.clone(), [1, grid.len(), width]), &device).require_grad();
    let loss = (model.forward(x.clone(), &tensors) * weights.clone()).sum();
    let grads = loss.backward();
    let analytic: Vec<f64> = x.grad(&grads).unwrap().into_data().to_vec().unwrap();

    let h = 1e-6;
    for i in (0..n).step_by(n / 12) {
        let (mut plus, mut minus) = (inputs.clone(), inputs.clone());
        plus[i] += h;
        minus[i] -= h;
        let f = |v: &[f64]| loss_of(v).into_data().to_vec::<f64>().unwrap()[0];
        let numeric = (f(&plus) - f(&minus)) / (2.0 * h);
        let scale = numeric.abs().max(analytic[i].abs()).max(1e-3);
        assert!(
            (numeric - analytic[i]).abs() / scale < 1e-5,
            "input {i}: numeric {numeric} vs analytic {}",
            analytic[i]
        );
    }
}
