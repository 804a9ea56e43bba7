//! The store's grid as the model, the checkpoint and the outputs see it. A latitude × longitude
//! grid travels as its two axes (as it always has, so older checkpoints read unchanged); any
//! other grid as every point's coordinates plus its definition (projection and shape).

use serde_json::json;
use vejr_ingest::{Grid, GridKind};
use vejr_models::checkpoint::CheckpointMetadata;
use vejr_models::graph::{GridPoints, PointLayout};

/// The graph's view of a grid.
pub fn model_grid(grid: &Grid) -> GridPoints {
    match &grid.points {
        None => GridPoints::axes(grid.latitudes.clone(), grid.longitudes.clone()),
        Some(points) => GridPoints {
            latitudes: points.latitudes.clone(),
            longitudes: points.longitudes.clone(),
            points: Some(PointLayout {
                shape: [points.shape.0, points.shape.1],
                global: grid.is_global_point_set(),
            }),
        },
    }
}

/// What a checkpoint records: (latitudes, longitudes, definition).
pub fn checkpoint_record(grid: &Grid) -> (Vec<f64>, Vec<f64>, Option<serde_json::Value>) {
    match &grid.points {
        None => (grid.latitudes.clone(), grid.longitudes.clone(), None),
        Some(points) => (
            points.latitudes.clone(),
            points.longitudes.clone(),
            Some(json!({ "kind": grid.kind, "shape": [points.shape.0, points.shape.1] })),
        ),
    }
}

/// The grid a checkpoint was trained on.
pub fn checkpoint_grid(meta: &CheckpointMetadata) -> Result<Grid, String> {
    let Some(definition) = &meta.grid else {
        return Ok(Grid {
            kind: if is_evenly_spaced(&meta.latitudes) {
                GridKind::RegularLatLon
            } else {
                GridKind::RegularGaussian {
                    n: meta.latitudes.len() / 2,
                }
            },
            latitudes: meta.latitudes.clone(),
            longitudes: meta.longitudes.clone(),
            points: None,
        });
    };
    let kind: GridKind = serde_json::from_value(definition["kind"].clone())
        .map_err(|e| format!("the checkpoint's grid definition: {e}"))?;
    let shape: (usize, usize) =
        serde_json::from_value(definition["shape"].clone()).map_err(|e| format!("the checkpoint's grid shape: {e}"))?;
    Grid::from_points(kind, shape, meta.latitudes.clone(), meta.longitudes.clone())
        .map_err(|e| format!("the checkpoint's grid: {e}"))
}

fn is_evenly_spaced(values: &[f64]) -> bool {
    let steps: Vec<f64> = values.windows(2).map(|w| w[1] - w[0]).collect();
    steps.iter().all(|s| (s - steps[0]).abs() < 1e-6)
}
