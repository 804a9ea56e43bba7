//! Normalisation as GraphCast does it: inputs by the per-variable mean and standard deviation,
//! outputs as tendencies normalised by the statistics of the change over one time step.

use burn::tensor::Tensor;
use burn::tensor::backend::Backend;
use serde::{Deserialize, Serialize};

/// Where `x` is NaN or infinite. Not `is_nan`: Burn 0.21's ndarray backend compares the tensor
/// with itself by reference there and finds no NaN at all.
pub fn not_finite<B: Backend, const D: usize>(x: Tensor<B, D>) -> Tensor<B, D, burn::tensor::Bool> {
    x.abs().lower_equal_elem(f32::MAX as f64).bool_not()
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Normalization {
    pub mean: Vec<f32>,
    pub stdev: Vec<f32>,
    pub tendency_mean: Vec<f32>,
    pub tendency_stdev: Vec<f32>,
}

impl Normalization {
    pub fn channels(&self) -> usize {
        self.mean.len()
    }

    /// Standard deviations of zero (a constant field) would divide by zero: use one instead.
    pub fn guarded(mut self) -> Self {
        for s in self.stdev.iter_mut().chain(self.tendency_stdev.iter_mut()) {
            if !(s.is_finite() && *s > 0.0) {
                *s = 1.0;
            }
        }
        self
    }

    fn row<B: Backend>(values: &[f32], device: &B::Device) -> Tensor<B, 3> {
        crate::float_tensor(values.to_vec(), [1, 1, values.len()], device)
    }

    /// Physical `[batch, grid, C]` → normalised, missing points (NaN) → 0 (the mean).
    pub fn normalize<B: Backend>(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        let device = x.device();
        let y = (x - Self::row::<B>(&self.mean, &device)) / Self::row::<B>(&self.stdev, &device);
        y.clone().mask_fill(not_finite(y), 0.0)
    }

    /// Next state from the current one and a normalised tendency.
    pub fn apply_tendency<B: Backend>(&self, current: Tensor<B, 3>, tendency: Tensor<B, 3>) -> Tensor<B, 3> {
        let device = current.device();
        current
            + tendency * Self::row::<B>(&self.tendency_stdev, &device)
            + Self::row::<B>(&self.tendency_mean, &device)
    }

    /// The normalised tendency that takes `current` to `next` (the training target).
    pub fn tendency_target<B: Backend>(&self, current: Tensor<B, 3>, next: Tensor<B, 3>) -> Tensor<B, 3> {
        let device = current.device();
        (next - current - Self::row::<B>(&self.tendency_mean, &device)) / Self::row::<B>(&self.tendency_stdev, &device)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::NdArray;

    #[test]
    fn missing_values_normalise_to_the_mean() {
        let device = Default::default();
        let norm = Normalization {
            mean: vec![10.0],
            stdev: vec![2.0],
            tendency_mean: vec![0.0],
            tendency_stdev: vec![1.0],
        };
        let x = crate::float_tensor::<NdArray, 3>(vec![12.0, f32::NAN, f32::INFINITY, 8.0], [1, 4, 1], &device);
        let y: Vec<f32> = norm.normalize(x).into_data().to_vec().unwrap();
        assert_eq!(y, vec![1.0, 0.0, 0.0, -1.0]);
    }
}
