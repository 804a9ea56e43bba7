//! The CubeCL kernels of message passing (what CUDA runs) on Burn's wgpu backend with Mesa's
//! software Vulkan driver, lavapipe: the kernels and the forecaster built on them equal the CPU's
//! (ndarray) within f32 rounding, forward, backward, over a rollout and through a training
//! step, on a global and on a regional (the demo's) graph; and a graph's degrees compile no
//! kernel of their own. Runs without a GPU.
//!
//! One test, run in order: kernels compile once per process (lavapipe compiles each in about a
//! second), and the compilation log that the first part reads is the process's.

#![cfg(feature = "wgpu")]

use burn::backend::wgpu::WgpuDevice;
use burn::backend::{Autodiff, NdArray};
use burn::module::{AutodiffModule, Module};
use burn::optim::{GradientsParams, Optimizer, SgdConfig};
use burn::tensor::backend::Backend;
use burn::tensor::{Tensor, TensorData};
use vejr_models::checkpoint::{self, Expectation};
use vejr_models::gnn::GraphBackend;
use vejr_models::gnn::aggregate::sum_at_receivers;
use vejr_models::gnn::graph_backend::{gather_add, gather_rows};
use vejr_models::gnn::interaction_network::EdgeIndex;
use vejr_models::graph::{GridPoints, WeatherGraph};
use vejr_models::{Forecaster, ForecasterConfig, GraphTensors, Normalization};

mod common;
use common::{coarse_global, metadata, noise, random_graph};

/// Burn's CubeCL backend on wgpu, without Burn's fusion: what vejr runs on a GPU.
type W = vejr_models::gnn::cube_backend::Wgpu;
type C = NdArray<f32>;

/// lavapipe: wgpu's CPU adapter.
fn gpu() -> WgpuDevice {
    WgpuDevice::Cpu
}

fn to_vec<B: Backend, const D: usize>(t: Tensor<B, D>) -> Vec<f32> {
    t.into_data().convert::<f32>().to_vec().unwrap()
}

fn tensor<B: Backend, const D: usize>(values: Vec<f32>, shape: [usize; D], device: &B::Device) -> Tensor<B, D> {
    Tensor::from_data(TensorData::new(values, shape), device)
}

fn random(n: usize, seed: u64) -> Vec<f32> {
    noise(n, seed).into_iter().map(|v| v as f32).collect()
}

/// `a` equals `b` within f32 rounding of different summation orders (matmuls, reductions):
/// the relative error ‖a − b‖₂ / ‖b‖₂ within `tolerance`, and no single value off by more
/// than 10 × `tolerance` of the largest.
fn assert_close(a: &[f32], b: &[f32], tolerance: f64, what: &str) {
    assert_eq!(a.len(), b.len(), "{what}: lengths");
    assert!(a.iter().all(|v| v.is_finite()), "{what}: not finite");
    let norm = |v: &mut dyn Iterator<Item = f64>| v.map(|x| x * x).sum::<f64>().sqrt();
    let difference = norm(&mut a.iter().zip(b).map(|(x, y)| *x as f64 - *y as f64));
    let size = norm(&mut b.iter().map(|&y| y as f64)).max(1e-30);
    assert!(
        difference <= tolerance * size,
        "{what}: relative error {:e} (‖a − b‖ {difference:e}, ‖b‖ {size:e})",
        difference / size
    );
    let scale = b.iter().fold(0f32, |m, v| m.max(v.abs())).max(1e-30) as f64;
    let (worst, at) = a
        .iter()
        .zip(b)
        .enumerate()
        .map(|(i, (x, y))| ((*x as f64 - *y as f64).abs(), i))
        .fold((0f64, 0), |m, d| if d.0 > m.0 { d } else { m });
    assert!(
        worst <= 10.0 * tolerance * scale,
        "{what}: value {at} differs by {worst:e} ({} vs {}), {:e} of the largest value",
        a[at],
        b[at],
        worst / scale
    );
}

fn gathers_and_segment_sums_equal_the_cpu_kernels_with_gradients() {
    let device = gpu();
    for seed in 1..4 {
        let (num_senders, num_receivers, latent) = (37, 60, 5);
        let (senders, receivers) = random_graph(seed, num_senders, num_receivers);
        let edges = senders.len();
        let on_cpu =
            EdgeIndex::<Autodiff<C>>::new(&senders, &receivers, num_senders, num_receivers, &Default::default());
        let on_gpu = EdgeIndex::<Autodiff<W>>::new(&senders, &receivers, num_senders, num_receivers, &device);
        let messages = random(2 * edges * latent, seed);
        let nodes_s = random(2 * num_senders * latent, seed + 1);
        let nodes_r = random(2 * num_receivers * latent, seed + 2);
        let weights_r = random(2 * num_receivers * latent, seed + 3);
        let weights_e = random(2 * edges * latent, seed + 4);

        macro_rules! run {
            ($B:ty, $index:expr, $device:expr) => {{
                let m = tensor::<$B, 3>(messages.clone(), [2, edges, latent], $device).require_grad();
                let s = tensor::<$B, 3>(nodes_s.clone(), [2, num_senders, latent], $device).require_grad();
                let r = tensor::<$B, 3>(nodes_r.clone(), [2, num_receivers, latent], $device).require_grad();
                let summed = sum_at_receivers(m.clone(), $index);
                let gathered = gather_rows(s.clone(), &$index.senders);
                let added = gather_add(
                    m.clone(),
                    s.clone(),
                    &$index.senders,
                    r.clone(),
                    &$index.receivers,
                );
                let loss = (summed.clone() * tensor::<$B, 3>(weights_r.clone(), [2, num_receivers, latent], $device))
                    .sum()
                    + (added.clone() * tensor::<$B, 3>(weights_e.clone(), [2, edges, latent], $device)).sum()
                    + (gathered.clone() * tensor::<$B, 3>(weights_e.clone(), [2, edges, latent], $device)).sum();
                let grads = loss.backward();
                [
                    to_vec(summed.inner()),
                    to_vec(gathered.inner()),
                    to_vec(added.inner()),
                    to_vec(m.grad(&grads).unwrap()),
                    to_vec(s.grad(&grads).unwrap()),
                    to_vec(r.grad(&grads).unwrap()),
                ]
            }};
        }
        let cpu = run!(Autodiff<C>, &on_cpu, &Default::default());
        let wgpu = run!(Autodiff<W>, &on_gpu, &device);
        for (what, (a, b)) in [
            "segment sum",
            "gather",
            "gather-add",
            "gradient of the messages",
            "gradient of the senders",
            "gradient of the receivers",
        ]
        .iter()
        .zip(wgpu.iter().zip(&cpu))
        {
            assert_close(a, b, 1e-6, &format!("seed {seed}: {what}"));
        }
    }
}

/// The same model on both backends, through a checkpoint (as a forecast loads one).
fn both<BC: GraphBackend, BG: GraphBackend<Device = WgpuDevice>>(
    grid: &GridPoints,
    config: &ForecasterConfig,
    dir: &std::path::Path,
) -> (Forecaster<BC>, Forecaster<BG>)
where
    BC::Device: Default,
{
    let model = config.init::<C>(&Default::default());
    let path = dir.join("model.vejr");
    let meta = metadata(grid, config);
    checkpoint::save(&path, &model, &meta).unwrap();
    let expected = Expectation {
        columns: Some(&meta.columns),
        latitudes: Some(&grid.latitudes),
        longitudes: Some(&grid.longitudes),
        time_step_seconds: Some(21_600),
    };
    (
        checkpoint::load::<BC>(&path, &expected, &Default::default()).unwrap().0,
        checkpoint::load::<BG>(&path, &expected, &gpu()).unwrap().0,
    )
}

/// The demo's grid: 33 × 36 points, 20–60°N by 140–52.5°W.
fn demo_grid() -> GridPoints {
    GridPoints {
        latitudes: (0..33).map(|i| 60.0 - 1.25 * i as f64).collect(),
        longitudes: (0..36).map(|j| 220.0 + 2.5 * j as f64).collect(),
        points: None,
    }
}

/// `edge_chunk`: the encoder's and decoder's edges run on wgpu in chunks of at most so many
/// (as on a device that binds less than the whole set), on the CPU in one piece.
fn forward_backward_and_rollout(grid: GridPoints, mesh_level: usize, edge_chunk: usize, what: &str) {
    let dir = tempfile::tempdir().unwrap();
    let channels = 3;
    let config = ForecasterConfig::new(16, 2, mesh_level, channels);
    let graph = WeatherGraph::build(&grid, mesh_level).unwrap();
    let g = grid.len();
    // The position features are the forecaster's own.
    let width = config.grid_inputs() - vejr_models::graph::features::NODE_FEATURES;
    let inputs = random(g * width, 11);
    let weights = random(g * channels, 12);

    // Forward, and the gradient of every parameter.
    let (cpu, wgpu) = both::<Autodiff<C>, Autodiff<W>>(&grid, &config, dir.path());
    macro_rules! gradients {
        ($B:ty, $model:expr, $device:expr, $chunk:expr) => {{
            let tensors = GraphTensors::<$B>::with_edge_chunks(&graph, $device, $chunk);
            let out = $model.forward(tensor::<$B, 3>(inputs.clone(), [1, g, width], $device), &tensors);
            let loss = (out.clone() * tensor::<$B, 3>(weights.clone(), [1, g, channels], $device)).sum();
            let grads = loss.backward();
            let mut all = vec![to_vec(out.inner())];
            let params = GradientsParams::from_grads(grads, &$model);
            $model.visit(&mut Collect {
                grads: &params,
                out: &mut all,
            });
            all
        }};
    }
    struct Collect<'a> {
        grads: &'a GradientsParams,
        out: &'a mut Vec<Vec<f32>>,
    }
    impl<B: burn::tensor::backend::AutodiffBackend> burn::module::ModuleVisitor<B> for Collect<'_> {
        fn visit_float<const D: usize>(&mut self, param: &burn::module::Param<Tensor<B, D>>) {
            if let Some(g) = self.grads.get::<B::InnerBackend, D>(param.id) {
                self.out.push(to_vec(g));
            }
        }
    }
    let on_cpu = gradients!(Autodiff<C>, cpu, &Default::default(), usize::MAX);
    let on_gpu = gradients!(Autodiff<W>, wgpu, &gpu(), edge_chunk);
    assert_eq!(on_cpu.len(), on_gpu.len());
    assert!(on_cpu.len() > 20, "{} gradients", on_cpu.len());
    assert_close(&on_gpu[0], &on_cpu[0], 1e-5, &format!("{what}: forward"));
    for (k, (a, b)) in on_gpu.iter().zip(&on_cpu).enumerate().skip(1) {
        assert_close(a, b, 1e-5, &format!("{what}: gradient of parameter {k}"));
    }

    // A training step moves the weights alike (plain SGD: Adam divides by the gradient's own
    // size, so a parameter whose gradient is rounding noise moves by ±lr on either backend).
    let step = |model: Forecaster<Autodiff<W>>| {
        let tensors = GraphTensors::<Autodiff<W>>::with_edge_chunks(&graph, &gpu(), edge_chunk);
        let out = model.forward(tensor(inputs.clone(), [1, g, width], &gpu()), &tensors);
        let loss = (out * tensor::<Autodiff<W>, 3>(weights.clone(), [1, g, channels], &gpu())).sum();
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        SgdConfig::new().init().step(1e-2, model, grads)
    };
    let step_cpu = |model: Forecaster<Autodiff<C>>| {
        let tensors = GraphTensors::<Autodiff<C>>::new(&graph, &Default::default());
        let out = model.forward(tensor(inputs.clone(), [1, g, width], &Default::default()), &tensors);
        let loss = (out * tensor::<Autodiff<C>, 3>(weights.clone(), [1, g, channels], &Default::default())).sum();
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        SgdConfig::new().init().step(1e-2, model, grads)
    };
    let (cpu, wgpu) = both::<Autodiff<C>, Autodiff<W>>(&grid, &config, dir.path());
    let (cpu, wgpu) = (step_cpu(cpu).valid(), step(wgpu).valid());
    let params = |m: &dyn Fn(&mut Vec<Vec<f32>>)| {
        let mut v = Vec::new();
        m(&mut v);
        v
    };
    struct Weights<'a>(&'a mut Vec<Vec<f32>>);
    impl<B: Backend> burn::module::ModuleVisitor<B> for Weights<'_> {
        fn visit_float<const D: usize>(&mut self, param: &burn::module::Param<Tensor<B, D>>) {
            self.0.push(to_vec(param.val()));
        }
    }
    let a = params(&|v| cpu.visit(&mut Weights(v)));
    let b = params(&|v| wgpu.visit(&mut Weights(v)));
    for (k, (x, y)) in b.iter().zip(&a).enumerate() {
        assert_close(x, y, 1e-5, &format!("{what}: weight {k} after a training step"));
    }

    // A three-step rollout.
    let norm = Normalization {
        mean: vec![280.0, 0.0, 0.0],
        stdev: vec![10.0, 5.0, 5.0],
        tendency_mean: vec![0.0; 3],
        tendency_stdev: vec![1.0, 2.0, 2.0],
    };
    let state = |seed| {
        random(g * channels, seed)
            .into_iter()
            .map(|v| v * 5.0)
            .collect::<Vec<f32>>()
    };
    let forcing_width = 3 * vejr_models::forcings::FORCING_CHANNELS;
    let forcing = random(g * forcing_width, 21);
    macro_rules! rollout {
        ($B:ty, $model:expr, $device:expr, $chunk:expr) => {{
            let tensors = GraphTensors::<$B>::with_edge_chunks(&graph, $device, $chunk);
            let last = $model.rollout(
                &tensors,
                &norm,
                tensor::<$B, 3>(state(1), [1, g, channels], $device),
                tensor::<$B, 3>(state(2), [1, g, channels], $device),
                |_| tensor::<$B, 3>(forcing.clone(), [1, g, forcing_width], $device),
                None,
                3,
                |_, s| s,
                |_, _| {},
            );
            to_vec(last)
        }};
    }
    let a = rollout!(C, cpu, &Default::default(), usize::MAX);
    let b = rollout!(W, wgpu, &gpu(), edge_chunk);
    assert_close(&b, &a, 1e-5, &format!("{what}: 3-step rollout"));
}

/// Kernels compiled so far, by name, from CubeCL's compilation log (written by a task of
/// its own: read once the count stops changing).
fn compiled(log: &std::path::Path) -> Vec<String> {
    let read = || {
        std::fs::read_to_string(log)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.strip_prefix("[Compiling kernel]"))
            .map(|name| name.trim().to_owned())
            .collect::<Vec<_>>()
    };
    let mut last = read();
    for _ in 0..50 {
        std::thread::sleep(std::time::Duration::from_millis(100));
        let now = read();
        if now.len() == last.len() {
            return now;
        }
        last = now;
    }
    last
}

/// A segment sum, a gather and a gather-add on two graphs of many different degrees compile
/// three kernels, vejr's, and the second graph none: no per-degree select, reduce or cat.
fn message_passing_compiles_three_kernels_whatever_the_degrees(log: &std::path::Path) {
    let device = gpu();
    let latent = 8;
    let mut distinct_degrees = Vec::new();
    for (k, seed) in [11u64, 12].into_iter().enumerate() {
        let (num_senders, num_receivers) = (41 + 9 * k, 70 + 13 * k);
        let (senders, receivers) = if k == 0 {
            random_graph(seed, num_senders, num_receivers)
        } else {
            // Degrees 0 to 12, every one of them.
            (0..num_receivers as u32)
                .flat_map(|r| (0..r % 13).map(move |j| ((r * 7 + j * 3) % num_senders as u32, r)))
                .unzip()
        };
        let mut degree = vec![0usize; num_receivers];
        receivers.iter().for_each(|&r| degree[r as usize] += 1);
        degree.sort_unstable();
        degree.dedup();
        distinct_degrees.push(degree);
        let index = EdgeIndex::<W>::new(&senders, &receivers, num_senders, num_receivers, &device);
        let edges = senders.len();
        let m = tensor::<W, 3>(random(edges * latent, seed), [1, edges, latent], &device);
        let s = tensor::<W, 3>(
            random(num_senders * latent, seed + 1),
            [1, num_senders, latent],
            &device,
        );
        let r = tensor::<W, 3>(
            random(num_receivers * latent, seed + 2),
            [1, num_receivers, latent],
            &device,
        );
        let _ = to_vec(sum_at_receivers(m.clone(), &index));
        let _ = to_vec(gather_rows(s.clone(), &index.senders));
        let _ = to_vec(gather_add(m, s, &index.senders, r, &index.receivers));
        let names = compiled(log);
        let mut expected = vec![
            "vejr_models::gnn::cube_kernels::gather_add::GatherAdd".to_string(),
            "vejr_models::gnn::cube_kernels::gather_rows::GatherRows".to_string(),
            "vejr_models::gnn::cube_kernels::segment_sum::SegmentSum".to_string(),
        ];
        expected.sort();
        let mut got = names.clone();
        got.sort();
        assert_eq!(got, expected, "graph {k}: compiled {names:?}");
    }
    assert_ne!(distinct_degrees[0], distinct_degrees[1]);
    assert!(distinct_degrees.iter().all(|d| d.len() >= 6), "{distinct_degrees:?}");
}

/// SiLU and LayerNorm are one kernel each on a CubeCL backend (Burn composes them of several)
/// and equal the CPU's.
fn silu_and_layer_norm_are_one_kernel_each(log: &std::path::Path) {
    use vejr_models::gnn::graph_backend::{layer_norm, silu};
    let before = compiled(log);
    let (rows, latent) = (37, 16);
    let values = random(2 * rows * latent, 31)
        .into_iter()
        .map(|v| v * 30.0)
        .collect::<Vec<f32>>();
    let gamma = random(latent, 32);
    let beta = random(latent, 33);
    macro_rules! both_ops {
        ($B:ty, $device:expr) => {{
            let x = tensor::<$B, 3>(values.clone(), [2, rows, latent], $device);
            let g = Tensor::<$B, 1>::from_data(TensorData::new(gamma.clone(), [latent]), $device);
            let b = Tensor::<$B, 1>::from_data(TensorData::new(beta.clone(), [latent]), $device);
            (to_vec(silu(x.clone())), to_vec(layer_norm(x, g, b, 1e-5)))
        }};
    }
    let (silu_gpu, norm_gpu) = both_ops!(W, &gpu());
    let (silu_cpu, norm_cpu) = both_ops!(C, &Default::default());
    assert_close(&silu_gpu, &silu_cpu, 1e-5, "silu");
    assert_close(&norm_gpu, &norm_cpu, 1e-5, "layer norm");
    let mut new: Vec<String> = compiled(log).into_iter().filter(|k| !before.contains(k)).collect();
    new.sort();
    assert_eq!(
        new,
        vec![
            "vejr_models::gnn::cube_kernels::layer_norm::LayerNorm".to_string(),
            "vejr_models::gnn::cube_kernels::silu::Silu".to_string(),
        ],
        "compiled for SiLU and LayerNorm"
    );
}

#[test]
fn the_cubecl_path_on_lavapipe() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("cubecl-compilation.log");
    let mut config = burn_cubecl::cubecl::config::CubeClRuntimeConfig::default();
    config.compilation.logger.level = burn_cubecl::cubecl::config::compilation::CompilationLogLevel::Basic;
    config.compilation.logger.file = Some(log.clone());
    config.compilation.logger.append = false;
    <burn_cubecl::cubecl::config::CubeClRuntimeConfig as burn_cubecl::cubecl::config::RuntimeConfig>::set(config);

    message_passing_compiles_three_kernels_whatever_the_degrees(&log);
    silu_and_layer_norm_are_one_kernel_each(&log);
    gathers_and_segment_sums_equal_the_cpu_kernels_with_gradients();
    // 5.625° (33 × 64) on mesh level 4, as the 5.625° config; the demo's regional domain.
    forward_backward_and_rollout(coarse_global(5.625), 4, usize::MAX, "5.625°, mesh 4");
    forward_backward_and_rollout(demo_grid(), 4, 500, "the demo's regional graph, edges in chunks of 500");
    edge_sets_beyond_the_buffer_limit_run_in_chunks_and_the_rest_is_refused_by_name();
}

/// lavapipe binds at most 128 MiB per buffer (its storage-buffer range). On GraphCast's 0.25°
/// graph at latent 32 the 3,114,720 mesh-to-grid edges' latents (× 32 × 4 bytes: 380 MiB) run
/// in chunks that fit; the grid's inputs at 13 channels (1,038,240 points × 44 × 4 bytes,
/// 174 MiB) cannot be split and are named up front; at 4 channels everything fits.
fn edge_sets_beyond_the_buffer_limit_run_in_chunks_and_the_rest_is_refused_by_name() {
    let limit = W::max_tensor_bytes(&gpu()).expect("wgpu has a binding limit");
    assert!(limit >= 1 << 20, "a binding limit of {limit} bytes");
    assert_eq!(C::max_tensor_bytes(&Default::default()), None);
    let graph = WeatherGraph::build(&coarse_global(0.25), 6).unwrap();
    let narrow = ForecasterConfig::new(32, 2, 6, 4);
    let (whole, what) = narrow.largest_tensor(&graph, 1, usize::MAX);
    assert_eq!(whole, graph.mesh_to_grid.len() as u64 * 32 * 4, "{what}");
    assert!(
        whole > limit && what.contains("mesh-to-grid edges × latent 32"),
        "{what}"
    );
    let chunk = narrow.edge_chunk(1, Some(limit));
    assert!(graph.mesh_to_grid.receiver_chunks(chunk).len() >= 3);
    let (bytes, what) = narrow.largest_tensor(&graph, 1, chunk);
    assert!(bytes <= limit, "{bytes} bytes ({what}) beyond lavapipe's {limit}");
    let wide = ForecasterConfig::new(32, 2, 6, 13);
    let (bytes, what) = wide.largest_tensor(&graph, 1, wide.edge_chunk(1, Some(limit)));
    assert!(bytes > limit, "{bytes} bytes ({what}) fit lavapipe's {limit}");
    assert!(what.contains("1038240 grid points × 44 channels"), "{what}");
    let small = WeatherGraph::build(&coarse_global(5.625), 4).unwrap();
    let config = ForecasterConfig::new(32, 2, 4, 13);
    let (bytes, what) = config.largest_tensor(&small, 4, config.edge_chunk(4, Some(limit)));
    assert!(bytes < limit, "{bytes} bytes ({what}) beyond lavapipe's {limit}");
    assert!(what.starts_with("4 samples × "), "{what}");
}
