//! Times the forecaster on a global grid and prints one JSON line: vejr's side of the PyTorch
//! comparison (benches/peer/compare.sh) and the GPU measurements (benches/gpu/run.sh).
//!
//!   forecaster-timing RESOLUTION MESH_LEVEL [LATENT=64] [LAYERS=4] [REPEATS=5] [--device cpu|cuda|wgpu]
//!                     [--rollout N] [--forward-only] [--channels C=13]
//!   forecaster-timing --check-cuda CHECKPOINT
//!
//! Timings: the median of REPEATS forward passes and of REPEATS forward + backward passes
//! (after one warm-up each; REPEATS = 0 times the one cold pass); `--rollout N` also times N forward passes in a row, each fed the
//! previous output as its state (random weights); `--forward-only` skips the backward passes.
//! The line also gives the seconds to build the graph and the process's peak resident memory.
//! `--check-cuda` runs one forward and one
//! backward pass of a checkpoint's model on the CPU and on CUDA with the same weights and
//! input, and prints the largest relative differences of the forecast, the loss and the input
//! gradient (exit 1 above 1e-4). Criterion (benches/forecaster.rs) is the CPU benchmark of
//! record; this exists so both sides of a comparison can be alternated from one script.

use std::time::Instant;

use burn::backend::{Autodiff, NdArray};
use burn::tensor::{Tensor, TensorData};
use vejr_benches::global_grid;
use vejr_models::ForecasterConfig;
use vejr_models::gnn::GraphAutodiffBackend;
use vejr_models::graph::WeatherGraph;

#[global_allocator]
static ALLOCATOR: vejr_engine::allocator::Allocator = mimalloc::MiMalloc;

/// The state's channels unless `--channels` says otherwise (the peer comparison's width).
const CHANNELS: usize = 13;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn inputs(points: usize, width: usize) -> Vec<f32> {
    (0..points * width)
        .map(|i| ((i * 7919) % 1000) as f32 / 500.0 - 1.0)
        .collect()
}

struct Timings {
    forward: f64,
    forward_backward: f64,
    rollout: Option<f64>,
}

fn time<A: GraphAutodiffBackend>(
    graph: &WeatherGraph,
    config: &ForecasterConfig,
    values: &[f32],
    repeats: usize,
    rollout: usize,
    forward_only: bool,
    device: &A::Device,
) -> Timings {
    type Inner<A> = <A as burn::tensor::backend::AutodiffBackend>::InnerBackend;
    let points = graph.num_grid_nodes();
    let width = values.len() / points;
    let sync = || A::sync(device).expect("device synchronises");

    let tensors = vejr_engine::backend::graph_tensors::<Inner<A>>(config, graph, 1, device).unwrap_or_else(|e| {
        eprintln!("forecaster-timing: {}", e.message);
        std::process::exit(2)
    });
    let model = config.init::<Inner<A>>(device);
    let x = Tensor::<Inner<A>, 3>::from_data(TensorData::new(values.to_vec(), [1, points, width]), device);
    let mut forward = Vec::new();
    for i in 0..=repeats {
        let t = Instant::now();
        let _ = model.forward(x.clone(), &tensors).into_data();
        // REPEATS = 0: the one cold pass, kernel compilation included (the largest graphs).
        if i > 0 || repeats == 0 {
            forward.push(t.elapsed().as_secs_f64());
        }
    }
    let rollout = (rollout > 0).then(|| {
        let t = Instant::now();
        let mut x = x.clone();
        for _ in 0..rollout {
            let next = model.forward(x.clone(), &tensors);
            // The new state replaces the first channels, as a rollout's does.
            x = x.slice_assign([0..1, 0..points, 0..config.state_channels], next);
        }
        let _ = x.into_data();
        t.elapsed().as_secs_f64()
    });

    if forward_only {
        return Timings {
            forward: median(forward),
            forward_backward: f64::NAN,
            rollout,
        };
    }
    let tensors = vejr_engine::backend::graph_tensors::<A>(config, graph, 1, device).expect("checked above");
    let model = config.init::<A>(device);
    let x = Tensor::<A, 3>::from_data(TensorData::new(values.to_vec(), [1, points, width]), device);
    let mut forward_backward = Vec::new();
    for i in 0..=repeats {
        let t = Instant::now();
        let loss = model.forward(x.clone(), &tensors).powi_scalar(2).mean();
        let _ = loss.backward();
        sync();
        if i > 0 || repeats == 0 {
            forward_backward.push(t.elapsed().as_secs_f64());
        }
    }
    Timings {
        forward: median(forward),
        forward_backward: median(forward_backward),
        rollout,
    }
}

/// The forecast, the loss and the input gradient of one forward + backward pass.
#[cfg(feature = "cuda")]
fn one_step<A: GraphAutodiffBackend>(
    model: vejr_models::Forecaster<A>,
    graph: &WeatherGraph,
    values: &[f32],
    device: &A::Device,
) -> (Vec<f32>, f32, Vec<f32>) {
    let points = graph.num_grid_nodes();
    let tensors = vejr_models::GraphTensors::<A>::new(graph, device);
    let x = Tensor::<A, 3>::from_data(
        TensorData::new(values.to_vec(), [1, points, values.len() / points]),
        device,
    )
    .require_grad();
    let y = model.forward(x.clone(), &tensors);
    let loss = y.clone().powi_scalar(2).mean();
    let grads = loss.backward();
    let forecast = y.inner().into_data().convert::<f32>().to_vec().unwrap();
    let loss = loss.inner().into_data().convert::<f32>().to_vec::<f32>().unwrap()[0];
    let gradient = x.grad(&grads).unwrap().into_data().convert::<f32>().to_vec().unwrap();
    (forecast, loss, gradient)
}

#[cfg(feature = "cuda")]
fn largest_relative_difference(a: &[f32], b: &[f32]) -> f64 {
    let scale = b.iter().fold(0f64, |m, v| m.max(v.abs() as f64)).max(1e-30);
    a.iter()
        .zip(b)
        .fold(0f64, |m, (x, y)| m.max((*x as f64 - *y as f64).abs()))
        / scale
}

#[cfg(feature = "cuda")]
fn check_cuda(path: &std::path::Path) -> i32 {
    use vejr_models::checkpoint::{self, Expectation};
    type Cpu = Autodiff<NdArray>;
    type Gpu = Autodiff<vejr_engine::backend::Gpu>;
    let (cpu_model, meta) =
        checkpoint::load::<Cpu>(path, &Expectation::default(), &Default::default()).unwrap_or_else(|e| {
            eprintln!("forecaster-timing: {e}");
            std::process::exit(2)
        });
    let gpu_device = vejr_engine::backend::cuda_device(0).unwrap_or_else(|e| {
        eprintln!("forecaster-timing: {}", e.message);
        std::process::exit(2)
    });
    let (gpu_model, _) = checkpoint::load::<Gpu>(path, &Expectation::default(), &gpu_device).expect("loads twice");
    let grid = vejr_models::graph::GridPoints {
        latitudes: meta.latitudes.clone(),
        longitudes: meta.longitudes.clone(),
        points: None,
    };
    let graph = WeatherGraph::build(&grid, meta.model.mesh_level).expect("graph");
    let values = inputs(grid.len(), meta.model.grid_inputs() - 3);
    let (f_cpu, l_cpu, g_cpu) = one_step(cpu_model, &graph, &values, &Default::default());
    let (f_gpu, l_gpu, g_gpu) = one_step(gpu_model, &graph, &values, &gpu_device);
    let forecast = largest_relative_difference(&f_gpu, &f_cpu);
    let loss = ((l_gpu - l_cpu) / l_cpu).abs() as f64;
    let gradient = largest_relative_difference(&g_gpu, &g_cpu);
    println!(
        "{{\"check\": \"cuda against cpu\", \"checkpoint\": \"{}\", \"forecast\": {forecast:.3e}, \"loss\": {loss:.3e}, \"input_gradient\": {gradient:.3e}}}",
        path.display()
    );
    i32::from(forecast.max(loss).max(gradient) > 1e-4)
}

#[cfg(not(feature = "cuda"))]
fn check_cuda(_: &std::path::Path) -> i32 {
    eprintln!("forecaster-timing: --check-cuda: built without CUDA (cargo build --features cuda)");
    2
}

/// The process's peak resident set (VmHWM), in MiB: what the forward pass needed at most.
fn peak_resident_mib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024)
}

fn main() {
    vejr_engine::allocator::keep_freed_memory();
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut flag = |name: &str| {
        args.iter().position(|a| a == name).map(|i| {
            let value = args.get(i + 1).cloned().unwrap_or_default();
            args.drain(i..(i + 2).min(args.len()));
            value
        })
    };
    if let Some(path) = flag("--check-cuda") {
        std::process::exit(check_cuda(std::path::Path::new(&path)));
    }
    let device = flag("--device").unwrap_or_else(|| "cpu".into());
    let channels: usize = flag("--channels").map_or(CHANNELS, |n| n.parse().expect("--channels N"));
    let rollout: usize = flag("--rollout").map_or(0, |n| n.parse().expect("--rollout N"));
    let forward_only = match args.iter().position(|a| a == "--forward-only") {
        Some(i) => {
            args.remove(i);
            true
        }
        None => false,
    };
    let arg = |i: usize, default: &str| args.get(i).cloned().unwrap_or_else(|| default.to_string());
    let resolution: f64 = arg(0, "1").parse().expect("RESOLUTION in degrees");
    let level: usize = arg(1, "5").parse().expect("MESH_LEVEL");
    let latent: usize = arg(2, "64").parse().expect("LATENT");
    let layers: usize = arg(3, "4").parse().expect("LAYERS");
    let repeats: usize = arg(4, "5").parse().expect("REPEATS");

    // WeatherBench's 5.625° grid has no poles; 1° and finer have them (GraphCast's grids).
    let grid = global_grid(resolution, resolution < 5.0);
    let started = Instant::now();
    let graph = WeatherGraph::build(&grid, level).expect("graph");
    let graph_s = started.elapsed().as_secs_f64();
    let config = ForecasterConfig::new(latent, layers, level, channels);
    // The forecaster adds the 3 position features itself.
    let width = config.grid_inputs() - 3;
    let values = inputs(grid.len(), width);
    let timings = match device.as_str() {
        "cpu" => time::<Autodiff<NdArray>>(
            &graph,
            &config,
            &values,
            repeats,
            rollout,
            forward_only,
            &Default::default(),
        ),
        #[cfg(feature = "wgpu")]
        "wgpu" => time::<Autodiff<vejr_engine::backend::Wgpu>>(
            &graph,
            &config,
            &values,
            repeats,
            rollout,
            forward_only,
            &vejr_engine::backend::wgpu_device().unwrap_or_else(|e| {
                eprintln!("forecaster-timing: {}", e.message);
                std::process::exit(2)
            }),
        ),
        #[cfg(feature = "cuda")]
        "cuda" => time::<Autodiff<vejr_engine::backend::Gpu>>(
            &graph,
            &config,
            &values,
            repeats,
            rollout,
            forward_only,
            &vejr_engine::backend::cuda_device(0).unwrap_or_else(|e| {
                eprintln!("forecaster-timing: {}", e.message);
                std::process::exit(2)
            }),
        ),
        other => {
            let built: Vec<&str> = [
                ("cpu", true),
                ("cuda", cfg!(feature = "cuda")),
                ("wgpu", cfg!(feature = "wgpu")),
            ]
            .iter()
            .filter_map(|&(name, on)| on.then_some(name))
            .collect();
            eprintln!(
                "forecaster-timing: --device {other}: this build has {} (cargo build --features cuda or wgpu for more)",
                built.join(", ")
            );
            std::process::exit(2)
        }
    };
    println!(
        "{{\"side\": \"vejr\", \"device\": \"{device}\", \"resolution\": {resolution}, \"mesh_level\": {level}, \"latent\": {latent}, \
         \"layers\": {layers}, \"grid_points\": {}, \"grid_rows\": {}, \"mesh_nodes\": {}, \"mesh_edges\": {}, \
         \"grid_to_mesh_edges\": {}, \"mesh_to_grid_edges\": {}, \"input_width\": {}, \"output_width\": {channels}, \
         \"graph_s\": {graph_s:.2}, \"forward_s\": {:.4}, \"forward_backward_s\": {}, \"rollout_steps\": {rollout}, \"rollout_s\": {}, \
         \"peak_resident_mib\": {}}}",
        grid.len(),
        grid.latitudes.len(),
        graph.num_mesh_nodes,
        graph.mesh.senders.len(),
        graph.grid_to_mesh.senders.len(),
        graph.mesh_to_grid.senders.len(),
        width + 3,
        timings.forward,
        if timings.forward_backward.is_nan() {
            "null".to_string()
        } else {
            format!("{:.4}", timings.forward_backward)
        },
        timings.rollout.map_or("null".to_string(), |s| format!("{s:.3}")),
        peak_resident_mib().map_or("null".to_string(), |m| m.to_string()),
    );
}
