//! Parameters and gradients as one flat host vector, in the module's own visiting order: what
//! an MPI all-reduce sums, what global-norm clipping measures, and what tests compare.

use burn::module::{AutodiffModule, Module, ModuleVisitor, Param};
use burn::optim::GradientsParams;
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{Tensor, TensorData};

fn host_values<B: Backend, const D: usize>(t: Tensor<B, D>) -> Vec<f32> {
    t.into_data()
        .convert::<f32>()
        .to_vec::<f32>()
        .expect("float tensor data converts to f32")
}

struct WeightCollector {
    values: Vec<Vec<f32>>,
}

impl<B: Backend> ModuleVisitor<B> for WeightCollector {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        self.values.push(host_values(param.val()));
    }
}

/// Every parameter tensor's values, in visiting order.
pub fn weights<B: Backend, M: Module<B>>(module: &M) -> Vec<Vec<f32>> {
    let mut collector = WeightCollector { values: Vec::new() };
    module.visit(&mut collector);
    collector.values
}

struct GradientCollector<'a> {
    grads: &'a mut GradientsParams,
    flat: Vec<f32>,
}

impl<B: AutodiffBackend> ModuleVisitor<B> for GradientCollector<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        match self.grads.remove::<B::InnerBackend, D>(param.id) {
            Some(g) => self.flat.extend(host_values(g)),
            // A parameter the loss does not reach has a zero gradient.
            None => self
                .flat
                .extend(std::iter::repeat_n(0.0, param.val().shape().num_elements())),
        }
    }
}

struct GradientRegister<'a, B: AutodiffBackend> {
    flat: &'a [f32],
    offset: usize,
    grads: GradientsParams,
    device: burn::tensor::Device<B::InnerBackend>,
}

impl<B: AutodiffBackend> ModuleVisitor<B> for GradientRegister<'_, B> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        let shape = param.val().shape();
        let n = shape.num_elements();
        let values = self.flat[self.offset..self.offset + n].to_vec();
        self.offset += n;
        let data = TensorData::new(values, shape).convert_dtype(<B::FloatElem as burn::tensor::Element>::dtype());
        let tensor = Tensor::<B::InnerBackend, D>::from_data(data, &self.device);
        self.grads.register(param.id, tensor);
    }
}

/// The gradients of `module`'s parameters as one vector (taken out of `grads`).
pub fn flatten_gradients<B: AutodiffBackend, M: AutodiffModule<B>>(module: &M, mut grads: GradientsParams) -> Vec<f32> {
    let mut collector = GradientCollector {
        grads: &mut grads,
        flat: Vec::new(),
    };
    module.visit(&mut collector);
    collector.flat
}

/// The inverse of [`flatten_gradients`].
pub fn unflatten_gradients<B: AutodiffBackend, M: AutodiffModule<B>>(
    module: &M,
    flat: &[f32],
    device: &burn::tensor::Device<B::InnerBackend>,
) -> GradientsParams {
    let mut register = GradientRegister::<B> {
        flat,
        offset: 0,
        grads: GradientsParams::new(),
        device: device.clone(),
    };
    module.visit(&mut register);
    assert_eq!(register.offset, flat.len(), "gradient vector does not fit the model");
    register.grads
}

/// Scales the gradient so its global L2 norm is at most `limit` (0: no limit); returns the
/// norm before clipping. Global, as GraphCast clips, not per tensor as Burn's clipping does.
pub fn clip_global_norm(flat: &mut [f32], limit: f64) -> f64 {
    let norm = flat.iter().map(|&g| g as f64 * g as f64).sum::<f64>().sqrt();
    if limit > 0.0 && norm > limit {
        let scale = (limit / norm) as f32;
        flat.iter_mut().for_each(|g| *g *= scale);
    }
    norm
}

/// Largest difference between two sets of weights relative to each tensor's largest value.
pub fn max_relative_difference(a: &[Vec<f32>], b: &[Vec<f32>]) -> f64 {
    assert_eq!(a.len(), b.len(), "different numbers of parameter tensors");
    a.iter()
        .zip(b)
        .map(|(x, y)| {
            let scale = x.iter().map(|v| v.abs() as f64).fold(0.0, f64::max).max(1e-12);
            let diff = x
                .iter()
                .zip(y)
                .map(|(p, q)| (*p as f64 - *q as f64).abs())
                .fold(0.0, f64::max);
            diff / scale
        })
        .fold(0.0, f64::max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clipping_bounds_the_global_norm_and_keeps_direction() {
        let mut g = vec![3.0, 4.0, 0.0];
        assert_eq!(clip_global_norm(&mut g, 1.0), 5.0);
        assert!((g[0] - 0.6).abs() < 1e-6 && (g[1] - 0.8).abs() < 1e-6);
        let mut h = vec![0.3, 0.4];
        clip_global_norm(&mut h, 1.0);
        assert_eq!(h, vec![0.3, 0.4]);
    }
}
