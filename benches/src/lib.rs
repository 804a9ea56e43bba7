//! What the criterion benchmarks in benches/ share.

use vejr_models::graph::GridPoints;

/// A global regular grid: WeatherBench's 5.625° grid has no poles (32 × 64); GraphCast's 1° and
/// 0.25° grids have them (181 × 360, 721 × 1440).
pub fn global_grid(resolution: f64, poles: bool) -> GridPoints {
    let rows = (180.0 / resolution).round() as usize + usize::from(poles);
    let first = if poles { 90.0 } else { 90.0 - resolution / 2.0 };
    GridPoints {
        latitudes: (0..rows).map(|i| first - i as f64 * resolution).collect(),
        longitudes: (0..(360.0 / resolution).round() as usize)
            .map(|j| j as f64 * resolution)
            .collect(),
        points: None,
    }
}
