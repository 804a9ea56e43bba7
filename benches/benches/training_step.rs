//! One training step on CPU (Burn ndarray), exactly as `vejr train` takes it
//! (`vejr_engine::training::step::training_step`): the weighted loss, backward, the (single-rank)
//! all-reduce, global-norm clipping and AdamW; at 5.625° (mesh level 4) and 1° (mesh level 5),
//! latent 64, 4 processor layers, batch 1, one rollout step.

use std::time::Duration;

use burn::backend::{Autodiff, NdArray};
use burn::optim::AdamWConfig;
use criterion::{Criterion, criterion_group, criterion_main};
use vejr_benches::global_grid;
use vejr_engine::training::data_loader::Batch;
use vejr_engine::training::distributed::Distributed;
use vejr_engine::training::losses::{self, BatchTensors, LossWeights};
use vejr_engine::training::step::{StepContext, training_step};
use vejr_models::forcings::FORCING_CHANNELS;
use vejr_models::graph::WeatherGraph;
use vejr_models::{Forecaster, ForecasterConfig, GraphTensors, Normalization};

// The allocator the vejr binary runs with (engine/src/main.rs).
#[global_allocator]
static ALLOCATOR: vejr_engine::allocator::Allocator = mimalloc::MiMalloc;

const CHANNELS: usize = 13;
type A = Autodiff<NdArray>;

fn field(n: usize, salt: usize) -> Vec<f32> {
    (0..n)
        .map(|i| (((i + salt) * 7919) % 1000) as f32 / 500.0 - 1.0)
        .collect()
}

fn steps(c: &mut Criterion) {
    vejr_engine::allocator::keep_freed_memory();
    for (name, grid, level) in [
        ("5p625deg", global_grid(5.625, false), 4),
        ("1deg", global_grid(1.0, true), 5),
    ] {
        let graph = WeatherGraph::build(&grid, level).unwrap();
        let device = Default::default();
        let graph_tensors = GraphTensors::<A>::new(&graph, &device);
        let config = ForecasterConfig::new(64, 4, level, CHANNELS);
        let mut model: Forecaster<A> = config.init(&device);
        let mut optimizer = AdamWConfig::new()
            .with_beta_2(0.95)
            .with_epsilon(1e-8)
            .with_weight_decay(0.1)
            .init::<A, Forecaster<A>>();
        let normalization = Normalization {
            mean: vec![0.0; CHANNELS],
            stdev: vec![1.0; CHANNELS],
            tendency_mean: vec![0.0; CHANNELS],
            tendency_stdev: vec![0.5; CHANNELS],
        };
        let weights = LossWeights {
            area: losses::area_weights(&grid.latitudes, grid.longitudes.len()),
            channel: vec![1.0; CHANNELS],
            boundary: Vec::new(),
        };
        let error_weights = losses::error_weights::<A>(&weights, &normalization, &device);
        let points = grid.len();
        let batch = Batch {
            size: 1,
            previous: field(points * CHANNELS, 1),
            current: field(points * CHANNELS, 2),
            targets: vec![field(points * CHANNELS, 3)],
            forcings: vec![field(points * 3 * FORCING_CHANNELS, 4)],
            statics: None,
            times: vec![chrono::DateTime::UNIX_EPOCH],
        };
        let tensors = BatchTensors::<A>::new(&batch, CHANNELS, &weights.area, &device);
        let dist = Distributed::single();
        let cx = StepContext {
            graph: &graph_tensors,
            normalization: &normalization,
            error_weights: &error_weights,
            global_batch: 1,
            gradient_clip: 32.0,
            recompute_rollout: false,
            dist: &dist,
            device: &device,
        };
        let mut group = c.benchmark_group(format!("training_step_{name}"));
        group.sample_size(10).measurement_time(Duration::from_secs(30));
        group.bench_function("forward_backward_adamw", |b| {
            b.iter(|| {
                let (next, outcome) = training_step(model.clone(), &mut optimizer, &tensors, 1e-4, &cx).unwrap();
                model = next;
                outcome.loss
            })
        });
        group.finish();
    }
}

criterion_group!(benches, steps);
criterion_main!(benches);
