//! Helpers shared by the model test binaries.

use vejr_models::graph::GridPoints;

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
