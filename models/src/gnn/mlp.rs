//! GraphCast's MLP: one hidden layer with SiLU, LayerNorm on the output (except for the final
//! output layer, which must be free to produce any tendency).

use burn::config::Config;
use burn::module::Module;
use burn::nn::{LayerNorm, LayerNormConfig, Linear, LinearConfig};
use burn::tensor::Tensor;
use burn::tensor::backend::Backend;

use super::graph_backend::{self, GraphBackend};

#[derive(Config, Debug)]
pub struct MlpConfig {
    pub input: usize,
    pub hidden: usize,
    pub output: usize,
    #[config(default = true)]
    pub layer_norm: bool,
}

#[derive(Module, Debug)]
pub struct Mlp<B: GraphBackend> {
    hidden: Linear<B>,
    output: Linear<B>,
    norm: Option<LayerNorm<B>>,
}

/// Burn's default, written out because the fused LayerNorm needs it at hand.
const LAYER_NORM_EPSILON: f64 = 1e-5;

impl MlpConfig {
    pub fn init<B: GraphBackend>(&self, device: &B::Device) -> Mlp<B> {
        Mlp {
            hidden: LinearConfig::new(self.input, self.hidden).init(device),
            output: LinearConfig::new(self.hidden, self.output).init(device),
            norm: self.layer_norm.then(|| {
                LayerNormConfig::new(self.output)
                    .with_epsilon(LAYER_NORM_EPSILON)
                    .init(device)
            }),
        }
    }
}

/// SiLU as x / (1 + e^−x). Burn 0.21's built-in `silu` loses precision on f64 ndarray tensors
/// (finite differences through it wander in the third digit), which would hide real gradient
/// errors from the gradient check; this form keeps the backend's full precision. The exponent
/// is capped at 80 so that e^−x never overflows (which would make the gradient inf/inf = NaN);
/// below x = −80 SiLU and its slope are zero to within f32 anyway.
pub fn silu<B: Backend, const D: usize>(x: Tensor<B, D>) -> Tensor<B, D> {
    x.clone() / (x.neg().clamp_max(80.0).exp() + 1.0)
}

impl<B: GraphBackend> Mlp<B> {
    pub fn forward(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        self.forward_from_hidden(apply(&self.hidden, x))
    }

    /// The rest of the MLP from the hidden layer's pre-activation, for callers that compute
    /// that themselves from parts of the input ([`Self::hidden_part`]). SiLU and LayerNorm run
    /// as one operation each ([`GraphBackend`]).
    pub fn forward_from_hidden(&self, hidden: Tensor<B, 3>) -> Tensor<B, 3> {
        let y = apply(&self.output, graph_backend::silu(hidden));
        match &self.norm {
            Some(norm) => {
                let gamma = norm.gamma.val();
                let beta = match &norm.beta {
                    Some(beta) => beta.val(),
                    None => gamma.zeros_like(),
                };
                graph_backend::layer_norm(y, gamma, beta, LAYER_NORM_EPSILON)
            }
            None => y,
        }
    }

    /// The hidden layer applied to input columns `columns` alone, without the bias: the
    /// hidden layer of a concatenated input `[a, b, …]` is the sum of such parts plus
    /// [`Self::hidden_bias`]. The parameters keep the layout of the concatenated input, so
    /// checkpoints do not change.
    pub fn hidden_part(&self, x: Tensor<B, 3>, columns: std::ops::Range<usize>, with_bias: bool) -> Tensor<B, 3> {
        let weight = self.hidden.weight.val();
        let [_, outputs] = weight.dims();
        let bias = if with_bias {
            self.hidden.bias.as_ref().map(|b| b.val())
        } else {
            None
        };
        graph_backend::linear(x, weight.slice([columns, 0..outputs]), bias)
    }
}

/// A Burn `Linear` layer through [`GraphBackend::linear`] (one operation, its parameters as
/// they are).
fn apply<B: GraphBackend>(layer: &Linear<B>, x: Tensor<B, 3>) -> Tensor<B, 3> {
    graph_backend::linear(x, layer.weight.val(), layer.bias.as_ref().map(|b| b.val()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::{Autodiff, NdArray};
    use burn::tensor::TensorData;

    #[test]
    fn silu_values_and_gradients_stay_finite_for_large_inputs() {
        type B = Autodiff<NdArray>;
        let device = Default::default();
        let x = Tensor::<B, 1>::from_data(
            TensorData::new(vec![-1000.0f32, -90.0, -1.0, 0.0, 2.0, 1000.0], [6]),
            &device,
        )
        .require_grad();
        let y = silu(x.clone());
        let values: Vec<f32> = y.clone().into_data().to_vec().unwrap();
        let grads = y.sum().backward();
        let slopes: Vec<f32> = x.grad(&grads).unwrap().into_data().to_vec().unwrap();
        assert!(
            values.iter().chain(&slopes).all(|v| v.is_finite()),
            "{values:?} {slopes:?}"
        );
        assert!((values[2] + 0.268_941_4).abs() < 1e-6 && values[3] == 0.0 && values[5] == 1000.0);
        assert!((slopes[3] - 0.5).abs() < 1e-6 && (slopes[5] - 1.0).abs() < 1e-6 && slopes[0].abs() < 1e-6);
    }
}
