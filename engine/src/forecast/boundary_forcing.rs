//! A limited-area model's boundary band during a forecast: at every step the band's state comes
//! from a host (the analyses, for research and the demo; or a host model's forecast or another
//! reanalysis, on its own grid and interpolated onto the band's points), as in training. All of
//! it is checked before the first step: the host must have every variable and every valid
//! time the forecast reaches.

use std::path::PathBuf;

use chrono::{DateTime, TimeDelta, Utc};
use vejr_models::boundary::BoundaryWidth;
use vejr_models::checkpoint::CheckpointMetadata;

use crate::boundary_host::BoundaryHost;

/// What the checkpoint says of its band.
pub struct Band {
    pub width: BoundaryWidth,
    /// Per grid point.
    pub points: Vec<bool>,
}

/// The checkpoint's boundary band, None for a model without one.
pub fn band_of(meta: &CheckpointMetadata) -> Result<Option<Band>, String> {
    let Some(b) = meta.training.get("boundary").filter(|b| !b.is_null()) else {
        return Ok(None);
    };
    let bad = |what: &str| format!("the checkpoint's boundary record {what}");
    let width: BoundaryWidth = serde_json::from_value(b.get("width").cloned().ok_or_else(|| bad("has no width"))?)
        .map_err(|e| bad(&e.to_string()))?;
    let indices: Vec<usize> = serde_json::from_value(b.get("points").cloned().ok_or_else(|| bad("has no points"))?)
        .map_err(|e| bad(&e.to_string()))?;
    let mut points = vec![false; crate::model_grid::checkpoint_grid(meta)?.len()];
    for p in indices {
        *points.get_mut(p).ok_or_else(|| bad("names a point beyond the grid"))? = true;
    }
    Ok(Some(Band { width, points }))
}

pub struct BoundaryForcing {
    pub band: Band,
    host: BoundaryHost,
    reference: DateTime<Utc>,
    step: TimeDelta,
    /// Where the band came from, for the output's provenance.
    pub description: String,
}

impl BoundaryForcing {
    /// The host (`paths`: a store or NetCDF/GRIB files) for a forecast of `steps` steps from
    /// `reference`, checked whole.
    pub fn new(
        meta: &CheckpointMetadata,
        band: Band,
        paths: &[PathBuf],
        reference: DateTime<Utc>,
        steps: usize,
    ) -> Result<Self, String> {
        let grid = crate::model_grid::checkpoint_grid(meta)?;
        let (host, note) =
            BoundaryHost::open(paths, &grid, &super::columns_of(meta)).map_err(|m| format!("--boundary: {m}"))?;
        if let Some(note) = note {
            eprintln!("forecast: boundary: {note}");
        }
        let step = TimeDelta::seconds(meta.time_step_seconds);
        let valid: Vec<DateTime<Utc>> = (1..=steps as i32).map(|k| reference + step * k).collect();
        if let Some(problem) = host.missing(&valid) {
            return Err(format!("boundary: {problem}"));
        }
        Ok(Self {
            description: format!("{} ({} band)", host.description, band.width),
            band,
            host,
            reference,
            step,
        })
    }

    /// The host's state `[point][channel]` valid at step `k`'s time (k = 0 is t+Δt); only the
    /// band's points are used.
    pub fn state(&self, k: usize) -> Result<Vec<f32>, String> {
        self.host.state(self.reference + self.step * (k as i32 + 1))
    }
}
