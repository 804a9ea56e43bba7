//! The forecaster on CPU (Burn ndarray): one forward step and one forward + backward step at
//! 5.625° (mesh level 4) and 1° (mesh level 5), latent 64; and building the 0.25° graph.

use std::time::Duration;

use burn::backend::{Autodiff, NdArray};
use burn::tensor::{Tensor, TensorData};
use criterion::{Criterion, criterion_group, criterion_main};
use vejr_benches::global_grid;
use vejr_models::graph::WeatherGraph;
use vejr_models::{ForecasterConfig, GraphTensors};

// The allocator the vejr binary runs with (engine/src/main.rs).
#[global_allocator]
static ALLOCATOR: vejr_engine::allocator::Allocator = mimalloc::MiMalloc;

const CHANNELS: usize = 13;

fn inputs<B: burn::tensor::backend::Backend>(points: usize, width: usize, device: &B::Device) -> Tensor<B, 3> {
    let values: Vec<f32> = (0..points * width)
        .map(|i| ((i * 7919) % 1000) as f32 / 500.0 - 1.0)
        .collect();
    Tensor::from_data(TensorData::new(values, [1, points, width]), device)
}

fn steps(c: &mut Criterion) {
    vejr_engine::allocator::keep_freed_memory();
    // WeatherBench's 5.625° grid has no poles (32 × 64); GraphCast's 1° grid has them (181 × 360).
    for (name, grid, level) in [
        ("5p625deg", global_grid(5.625, false), 4),
        ("1deg", global_grid(1.0, true), 5),
    ] {
        let graph = WeatherGraph::build(&grid, level).unwrap();
        let config = ForecasterConfig::new(64, 4, level, CHANNELS);
        let width = config.grid_inputs() - 3;

        let device = Default::default();
        let tensors = GraphTensors::<NdArray>::new(&graph, &device);
        let model = config.init::<NdArray>(&device);
        let x = inputs::<NdArray>(grid.len(), width, &device);
        let mut group = c.benchmark_group(format!("forecaster_{name}"));
        group.sample_size(10).measurement_time(Duration::from_secs(20));
        group.bench_function("forward", |b| b.iter(|| model.forward(x.clone(), &tensors).into_data()));

        type A = Autodiff<NdArray>;
        let tensors = GraphTensors::<A>::new(&graph, &device);
        let model = config.init::<A>(&device);
        let x = inputs::<A>(grid.len(), width, &device);
        group.bench_function("forward_backward", |b| {
            b.iter(|| {
                let loss = model.forward(x.clone(), &tensors).powi_scalar(2).mean();
                loss.backward()
            })
        });
        group.finish();
    }
}

fn graph_build(c: &mut Criterion) {
    let grid = global_grid(0.25, true);
    let mut group = c.benchmark_group("graph");
    group.sample_size(10).measurement_time(Duration::from_secs(30));
    group.bench_function("build_0p25deg_level6", |b| {
        b.iter(|| WeatherGraph::build(&grid, 6).unwrap())
    });
    group.finish();
}

criterion_group!(benches, steps, graph_build);
criterion_main!(benches);
