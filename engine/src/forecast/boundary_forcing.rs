//! A limited-area model's boundary band during a forecast: at every step the band's state comes
//! from a host (the analyses, for research and the demo; or a host model's forecast or another
//! reanalysis, on its own grid and interpolated onto the band's points), as in training. All of
//! it is checked before the first step: the host must have every variable and every valid
//! time the forecast reaches.

use std::path::PathBuf;

use chrono::{DateTime, TimeDelta, Utc};
use vejr_ingest::parameter_identity::ParameterKey;
use vejr_ingest::units::{Conversion, field_conversion};
use vejr_models::boundary::BoundaryWidth;
use vejr_models::checkpoint::CheckpointMetadata;

use crate::analyses::Analyses;

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
    host: Analyses,
    /// Per model channel: the host's column and the conversion to the checkpoint's units.
    channels: Vec<(usize, Option<Conversion>)>,
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
        let mut host = Analyses::open(paths).map_err(|m| format!("--boundary: {m}"))?;
        if let Some(note) = host
            .interpolate_onto(&crate::model_grid::checkpoint_grid(meta)?)
            .map_err(|m| format!("--boundary: {m}"))?
        {
            eprintln!("forecast: boundary: {note}");
        }
        let mut problems = Vec::new();
        let mut channels = Vec::new();
        for column in super::columns_of(meta) {
            let found = host.find(&ParameterKey::of_column(&column));
            let c = match found {
                Ok(Some(c)) => c,
                Ok(None) => {
                    problems.push(format!("{} is not in the host", column.name));
                    continue;
                }
                Err(m) => {
                    problems.push(m);
                    continue;
                }
            };
            let have = &host.columns[c];
            let conversion = match column.units.as_deref() {
                None => None,
                target => match field_conversion(
                    have.units.as_deref(),
                    target,
                    have.standard_name.as_deref(),
                    "the checkpoint's",
                ) {
                    Ok(conversion) => conversion,
                    Err(m) => {
                        problems.push(format!("{} {m}", have.name));
                        None
                    }
                },
            };
            channels.push((c, conversion));
        }
        let step = TimeDelta::seconds(meta.time_step_seconds);
        let missing: Vec<DateTime<Utc>> = (1..=steps as i32)
            .map(|k| reference + step * k)
            .filter(|t| host.times.binary_search(t).is_err())
            .collect();
        if let (Some(first), Some(last)) = (missing.first(), missing.last()) {
            problems.push(format!(
                "the host has no state at {} valid time(s) of the forecast ({} to {}); its times run {} to {}",
                missing.len(),
                first.format("%Y-%m-%dT%H:%MZ"),
                last.format("%Y-%m-%dT%H:%MZ"),
                host.times
                    .first()
                    .map_or("-".into(), |t| t.format("%Y-%m-%dT%H:%MZ").to_string()),
                host.times
                    .last()
                    .map_or("-".into(), |t| t.format("%Y-%m-%dT%H:%MZ").to_string()),
            ));
        }
        if !problems.is_empty() {
            return Err(format!("boundary from {}: {}", host.description, problems.join("; ")));
        }
        Ok(Self {
            description: format!("{} ({} band)", host.description, band.width),
            band,
            host,
            channels,
            reference,
            step,
        })
    }

    /// The host's state `[point][channel]` valid at step `k`'s time (k = 0 is t+Δt); only the
    /// band's points are used.
    pub fn state(&self, k: usize) -> Result<Vec<f32>, String> {
        let valid = self.reference + self.step * (k as i32 + 1);
        let c = self.channels.len();
        let points = self.band.points.len();
        let mut out = vec![0.0f32; points * c];
        for (channel, (column, conversion)) in self.channels.iter().enumerate() {
            let mut field = self
                .host
                .field(*column, valid)?
                .ok_or_else(|| format!("boundary: {} lost its state at {valid}", self.host.description))?;
            if let Some(how) = conversion {
                how.apply(&mut field);
            }
            for (p, v) in field.into_iter().enumerate() {
                out[p * c + channel] = v;
            }
        }
        Ok(out)
    }
}
