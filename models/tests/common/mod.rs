//! Helpers shared by the model test binaries (not every binary uses every one).

#![allow(dead_code)]

use vejr_models::checkpoint::CheckpointMetadata;
use vejr_models::graph::GridPoints;
use vejr_models::{ForecasterConfig, Normalization};

pub fn coarse_global(resolution: f64) -> GridPoints {
    GridPoints {
        latitudes: (0..=(180.0 / resolution) as usize)
            .map(|i| 90.0 - i as f64 * resolution)
            .collect(),
        longitudes: (0..(360.0 / resolution) as usize)
            .map(|j| j as f64 * resolution)
            .collect(),
        points: None,
    }
}

/// Deterministic pseudo-random numbers for inputs (no RNG state shared with Burn).
pub fn noise(n: usize, seed: u64) -> Vec<f64> {
    let mut x = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((x >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
        })
        .collect()
}

/// Edges sorted by receiver, as the graph builder makes them: receiver 0 gets many edges
/// (a pole), some receivers none, sender 1 sends many.
pub fn random_graph(seed: u64, senders: usize, receivers: usize) -> (Vec<u32>, Vec<u32>) {
    let r = noise(4 * receivers + 200, seed);
    let mut pairs: Vec<(u32, u32)> = Vec::new();
    for k in 0..receivers {
        let degree = if k == 0 {
            150
        } else if r[k] < -0.6 {
            0
        } else {
            1 + ((r[k] + 1.0) * 3.0) as usize
        };
        for j in 0..degree {
            let u = r[(k * 3 + j * 7) % r.len()];
            let sender = if j % 3 == 0 {
                1
            } else {
                ((u + 1.0) / 2.0 * senders as f64) as usize % senders
            };
            pairs.push((sender as u32, k as u32));
        }
    }
    pairs.sort_by_key(|&(s, r)| (r, s));
    pairs.into_iter().unzip()
}

/// A checkpoint's metadata for a test model: columns v0…, identity normalisation.
pub fn metadata(grid: &GridPoints, config: &ForecasterConfig) -> CheckpointMetadata {
    let c = config.state_channels;
    CheckpointMetadata {
        model: config.clone(),
        columns: (0..c).map(|i| format!("v{i}")).collect(),
        column_details: serde_json::json!([]),
        static_fields: vec![],
        latitudes: grid.latitudes.clone(),
        longitudes: grid.longitudes.clone(),
        grid: None,
        time_step_seconds: 21_600,
        normalization: Normalization {
            mean: vec![0.0; c],
            stdev: vec![1.0; c],
            tendency_mean: vec![0.0; c],
            tendency_stdev: vec![1.0; c],
        },
        training: serde_json::json!({}),
        vejr_version: "test".into(),
        git_revision: "test".into(),
    }
}
