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

    /// `self.forward(x) + residual`, as one operation on the CPU ([`Self::forward_from_hidden_plus`]).
    pub fn forward_plus(&self, x: Tensor<B, 3>, residual: Tensor<B, 3>) -> Tensor<B, 3> {
        self.tail(apply(&self.hidden, x), Some(residual))
    }

    /// The rest of the MLP from the hidden layer's pre-activation, for callers that compute
    /// that themselves from parts of the input ([`Self::hidden_part`]).
    pub fn forward_from_hidden(&self, hidden: Tensor<B, 3>) -> Tensor<B, 3> {
        self.tail(hidden, None)
    }

    /// `self.forward_from_hidden(hidden) + residual`: a residual connection joined to the
    /// MLP's last operation ([`GraphBackend::mlp_tail`]: on the CPU one pass over memory for
    /// SiLU, the output layer, LayerNorm and the residual).
    pub fn forward_from_hidden_plus(&self, hidden: Tensor<B, 3>, residual: Tensor<B, 3>) -> Tensor<B, 3> {
        self.tail(hidden, Some(residual))
    }

    fn tail(&self, hidden: Tensor<B, 3>, residual: Option<Tensor<B, 3>>) -> Tensor<B, 3> {
        let norm = self.norm.as_ref().map(|norm| {
            let gamma = norm.gamma.val();
            let beta = match &norm.beta {
                Some(beta) => beta.val(),
                None => gamma.zeros_like(),
            };
            (gamma, beta, LAYER_NORM_EPSILON)
        });
        graph_backend::mlp_tail(
            hidden,
            self.output.weight.val(),
            self.output.bias.as_ref().map(|b| b.val()),
            norm,
            residual,
        )
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

impl<B: GraphBackend> Mlp<B> {
    /// [`Self::hidden_part`] (no bias) plus the gathered node parts `from[senders] +
    /// to[receivers]`: an edge MLP's hidden layer from its parts, one operation on the CPU.
    pub fn hidden_part_gather_add(
        &self,
        x: Tensor<B, 3>,
        columns: std::ops::Range<usize>,
        from: Tensor<B, 3>,
        senders: &super::segments::Gather<B>,
        to: Tensor<B, 3>,
        receivers: &super::segments::Gather<B>,
    ) -> Tensor<B, 3> {
        let weight = self.hidden.weight.val();
        let [_, outputs] = weight.dims();
        graph_backend::linear_gather_add(x, weight.slice([columns, 0..outputs]), from, senders, to, receivers)
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
