//! The planned gathers and segment sums against Burn's scatter-add (`select_assign`) and
//! `select`: the same values and the same gradients, on random graphs with receivers that get
//! no edge and one node that gets or sends many.

use burn::backend::{Autodiff, NdArray};
use burn::tensor::{Int, Tensor, TensorData};
use vejr_models::gnn::aggregate::{sum_at_receivers, sum_at_receivers_by_scatter};
use vejr_models::gnn::graph_backend::gather_rows;
use vejr_models::gnn::interaction_network::EdgeIndex;
use vejr_models::gnn::segments::{PlanLayout, SegmentPlan};

mod common;
use common::{noise, random_graph};

type B = Autodiff<NdArray<f64>>;

fn tensor3(n: usize, latent: usize, seed: u64) -> Tensor<B, 3> {
    Tensor::from_data(
        TensorData::new(noise(2 * n * latent, seed), [2, n, latent]),
        &Default::default(),
    )
}

fn values(t: Tensor<NdArray<f64>, 3>) -> Vec<f64> {
    t.into_data().to_vec().unwrap()
}

fn assert_close(a: &[f64], b: &[f64], what: &str) {
    assert_eq!(a.len(), b.len(), "{what}: lengths");
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!((x - y).abs() <= 1e-12 * (1.0 + y.abs()), "{what}[{i}]: {x} vs {y}");
    }
}

#[test]
fn planned_sums_and_gathers_equal_select_and_select_assign_with_gradients() {
    let device = Default::default();
    for seed in 1..6 {
        let (num_senders, num_receivers, latent) = (37, 60, 5);
        let (senders, receivers) = random_graph(seed, num_senders, num_receivers);
        let edges = senders.len();
        let plan = SegmentPlan::new(&receivers, num_receivers);
        assert!(
            matches!(plan.layout, PlanLayout::Buckets { has_empty: true, .. }),
            "seed {seed}: {:?}",
            plan.layout
        );
        let index = EdgeIndex::<B>::new(&senders, &receivers, num_senders, num_receivers, &device);
        let receiver_index = Tensor::<B, 1, Int>::from_data(
            TensorData::new(receivers.iter().map(|&v| v as i64).collect::<Vec<_>>(), [edges]),
            &device,
        );
        let sender_index = Tensor::<B, 1, Int>::from_data(
            TensorData::new(senders.iter().map(|&v| v as i64).collect::<Vec<_>>(), [edges]),
            &device,
        );

        // Aggregation: values and the gradient with respect to the messages.
        let messages = tensor3(edges, latent, seed).require_grad();
        let weights = tensor3(num_receivers, latent, seed + 100);
        let planned = sum_at_receivers(messages.clone(), &index);
        let reference = sum_at_receivers_by_scatter(messages.clone(), receiver_index.clone(), num_receivers);
        assert_close(
            &values(planned.clone().inner()),
            &values(reference.clone().inner()),
            "sum",
        );
        let g_planned = (planned * weights.clone()).sum().backward();
        let g_reference = (reference * weights).sum().backward();
        assert_close(
            &values(messages.grad(&g_planned).unwrap()),
            &values(messages.grad(&g_reference).unwrap()),
            "sum gradient",
        );

        // Gathers of senders and of receivers: values and the gradient of the gathered rows.
        for (gather, plain, rows) in [
            (&index.senders, sender_index.clone(), num_senders),
            (&index.receivers, receiver_index.clone(), num_receivers),
        ] {
            let nodes = tensor3(rows, latent, seed + 200).require_grad();
            let weights = tensor3(edges, latent, seed + 300);
            let planned = gather_rows(nodes.clone(), gather);
            let reference = nodes.clone().select(1, plain);
            assert_close(
                &values(planned.clone().inner()),
                &values(reference.clone().inner()),
                "gather",
            );
            let g_planned = (planned * weights.clone()).sum().backward();
            let g_reference = (reference * weights).sum().backward();
            assert_close(
                &values(nodes.grad(&g_planned).unwrap()),
                &values(nodes.grad(&g_reference).unwrap()),
                "gather gradient",
            );
        }
    }
}

#[test]
fn fixed_degree_sums_are_reshapes_and_stay_exact() {
    // Every grid point has exactly three mesh→grid edges, sorted by receiver.
    let device = Default::default();
    let receivers: Vec<u32> = (0..40u32).flat_map(|r| [r, r, r]).collect();
    assert_eq!(
        SegmentPlan::new(&receivers, 40).layout,
        PlanLayout::Uniform { degree: 3 }
    );
    let senders: Vec<u32> = (0..120u32).map(|e| (e * 7) % 11).collect();
    let index = EdgeIndex::<B>::new(&senders, &receivers, 11, 40, &device);
    let messages = tensor3(120, 4, 9).require_grad();
    let receiver_index = Tensor::<B, 1, Int>::from_data(
        TensorData::new(receivers.iter().map(|&v| v as i64).collect::<Vec<_>>(), [120]),
        &device,
    );
    let planned = sum_at_receivers(messages.clone(), &index);
    let reference = sum_at_receivers_by_scatter(messages.clone(), receiver_index, 40);
    assert_close(&values(planned.clone().inner()), &values(reference.inner()), "sum");
    let grads = (planned * tensor3(40, 4, 10)).sum().backward();
    let g: Vec<f64> = values(messages.grad(&grads).unwrap());
    let w = noise(2 * 40 * 4, 10);
    // d/dm[e] of Σ w[r(e)]·out[r(e)] is w[r(e)].
    for b in 0..2 {
        for e in 0..120 {
            for c in 0..4 {
                assert_eq!(g[(b * 120 + e) * 4 + c], w[(b * 40 + e / 3) * 4 + c]);
            }
        }
    }
}

/// The CPU kernels against the same operations composed of Burn's own (what CUDA runs): the
/// composed bucketed sums and gathers, SiLU, LayerNorm and the linear layer with their
/// gradients.
#[test]
fn cpu_kernels_equal_the_composed_operations() {
    use burn::tensor::TensorPrimitive;
    use vejr_models::gnn::GraphBackend;
    use vejr_models::gnn::graph_backend::composed;
    type N = NdArray<f64>;
    let device = Default::default();
    let p = |t: Tensor<N, 3>| t.into_primitive().tensor();
    let p1 = |t: Tensor<N, 1>| t.into_primitive().tensor();
    let p2 = |t: Tensor<N, 2>| t.into_primitive().tensor();
    let v = |t: <N as burn::tensor::backend::BackendTypes>::FloatTensorPrimitive| {
        Tensor::<N, 1>::from_primitive(TensorPrimitive::Float(t))
            .flatten::<1>(0, 0)
            .into_data()
            .to_vec::<f64>()
            .unwrap()
    };
    let t3 = |n: usize, l: usize, seed: u64| {
        Tensor::<N, 3>::from_data(TensorData::new(noise(2 * n * l, seed), [2, n, l]), &device)
    };
    let t1 = |n: usize, seed: u64| Tensor::<N, 1>::from_data(TensorData::new(noise(n, seed), [n]), &device);

    let (senders, receivers) = random_graph(7, 37, 60);
    let edges = senders.len();
    let index = EdgeIndex::<N>::new(&senders, &receivers, 37, 60, &device);
    let messages = t3(edges, 5, 1);
    assert_close(
        &v(N::sum_segments(p(messages.clone()), &index.receivers.adjoint)),
        &v(composed::sum_segments(p(messages.clone()), &index.receivers.adjoint)),
        "segment sum",
    );
    let nodes = t3(37, 5, 2);
    assert_close(
        &v(N::gather_rows(p(nodes.clone()), &index.senders)),
        &v(composed::gather_rows(p(nodes), &index.senders)),
        "gather",
    );

    let (x, grad) = (t3(300, 16, 3), t3(300, 16, 4));
    assert_close(&v(N::silu(p(x.clone()))), &v(composed::silu::<N>(p(x.clone()))), "silu");
    assert_close(
        &v(N::silu_backward(p(x.clone()), p(grad.clone()))),
        &v(composed::silu_backward::<N>(p(x.clone()), p(grad.clone()))),
        "silu backward",
    );
    let (gamma, beta) = (t1(16, 5), t1(16, 6));
    assert_close(
        &v(<N as GraphBackend>::layer_norm(
            p(x.clone()),
            p1(gamma.clone()),
            p1(beta.clone()),
            1e-5,
        )),
        &v(composed::layer_norm::<N>(
            p(x.clone()),
            p1(gamma.clone()),
            p1(beta),
            1e-5,
        )),
        "layer norm",
    );
    let ours = <N as GraphBackend>::layer_norm_backward(p(x.clone()), p1(gamma.clone()), p(grad.clone()), 1e-5);
    let theirs = composed::layer_norm_backward::<N>(p(x.clone()), p1(gamma), p(grad.clone()), 1e-5);
    assert_close(&v(ours.0), &v(theirs.0), "layer norm dx");
    assert_close(&v(ours.1), &v(theirs.1), "layer norm dgamma");
    assert_close(&v(ours.2), &v(theirs.2), "layer norm dbeta");

    let w = Tensor::<N, 2>::from_data(TensorData::new(noise(16 * 9, 7), [16, 9]), &device);
    let bias = t1(9, 8);
    let grad9 = t3(300, 9, 9);
    assert_close(
        &v(<N as GraphBackend>::linear(
            p(x.clone()),
            p2(w.clone()),
            Some(p1(bias.clone())),
        )),
        &v(composed::linear::<N>(p(x.clone()), p2(w.clone()), Some(p1(bias)))),
        "linear",
    );
    let ours = <N as GraphBackend>::linear_backward(p(x.clone()), p2(w.clone()), p(grad9.clone()), true);
    let theirs = composed::linear_backward::<N>(p(x), p2(w), p(grad9), true);
    assert_close(&v(ours.0), &v(theirs.0), "linear dx");
    assert_close(&v(ours.1), &v(theirs.1), "linear dw");
    assert_close(&v(ours.2.unwrap()), &v(theirs.2.unwrap()), "linear dbias");
}
