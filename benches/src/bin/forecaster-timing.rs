//! vejr's side of the PyTorch comparison (benches/peer/compare.sh): times one forward and one
//! forward + backward of the forecaster on a global grid, with the same shape the peer script
//! builds, and prints one JSON line (medians in seconds, the graph's sizes, the input width).
//!
//!   forecaster-timing RESOLUTION MESH_LEVEL [LATENT=64] [LAYERS=4] [REPEATS=5]
//!
//! Criterion (benches/forecaster.rs) is the benchmark of record; this exists so that both
//! sides can be alternated from one script in one sitting.

use std::time::Instant;

use burn::backend::{Autodiff, NdArray};
use burn::tensor::{Tensor, TensorData};
use vejr_benches::global_grid;
use vejr_models::graph::WeatherGraph;
use vejr_models::{ForecasterConfig, GraphTensors};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const CHANNELS: usize = 13;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize, default: &str| args.get(i).cloned().unwrap_or_else(|| default.to_string());
    let resolution: f64 = arg(0, "1").parse().expect("RESOLUTION in degrees");
    let level: usize = arg(1, "5").parse().expect("MESH_LEVEL");
    let latent: usize = arg(2, "64").parse().expect("LATENT");
    let layers: usize = arg(3, "4").parse().expect("LAYERS");
    let repeats: usize = arg(4, "5").parse().expect("REPEATS");

    // WeatherBench's 5.625° grid has no poles; 1° and finer have them (GraphCast's grids).
    let grid = global_grid(resolution, resolution < 5.0);
    let graph = WeatherGraph::build(&grid, level).expect("graph");
    let config = ForecasterConfig::new(latent, layers, level, CHANNELS);
    // The forecaster adds the 3 position features itself.
    let width = config.grid_inputs() - 3;
    let values: Vec<f32> = (0..grid.len() * width)
        .map(|i| ((i * 7919) % 1000) as f32 / 500.0 - 1.0)
        .collect();
    let device = Default::default();

    let tensors = GraphTensors::<NdArray>::new(&graph, &device);
    let model = config.init::<NdArray>(&device);
    let x = Tensor::<NdArray, 3>::from_data(TensorData::new(values.clone(), [1, grid.len(), width]), &device);
    let mut forward = Vec::new();
    for i in 0..=repeats {
        let t = Instant::now();
        let _ = model.forward(x.clone(), &tensors).into_data();
        if i > 0 {
            forward.push(t.elapsed().as_secs_f64());
        }
    }

    type A = Autodiff<NdArray>;
    let tensors = GraphTensors::<A>::new(&graph, &device);
    let model = config.init::<A>(&device);
    let x = Tensor::<A, 3>::from_data(TensorData::new(values, [1, grid.len(), width]), &device);
    let mut forward_backward = Vec::new();
    for i in 0..=repeats {
        let t = Instant::now();
        let loss = model.forward(x.clone(), &tensors).powi_scalar(2).mean();
        let _ = loss.backward();
        if i > 0 {
            forward_backward.push(t.elapsed().as_secs_f64());
        }
    }
    println!(
        "{{\"side\": \"vejr\", \"resolution\": {resolution}, \"mesh_level\": {level}, \"latent\": {latent}, \
         \"layers\": {layers}, \"grid_points\": {}, \"grid_rows\": {}, \"mesh_nodes\": {}, \"mesh_edges\": {}, \
         \"grid_to_mesh_edges\": {}, \"mesh_to_grid_edges\": {}, \"input_width\": {}, \"output_width\": {CHANNELS}, \
         \"forward_s\": {:.4}, \"forward_backward_s\": {:.4}}}",
        grid.len(),
        grid.latitudes.len(),
        graph.num_mesh_nodes,
        graph.mesh.senders.len(),
        graph.grid_to_mesh.senders.len(),
        graph.mesh_to_grid.senders.len(),
        width + 3,
        median(forward),
        median(forward_backward),
    );
}
