//! The training store: zarr in the anemoi-datasets layout.
//!
//! `data[time, variable, ensemble, gridpoint]` (f32, one time step per chunk), `dates`,
//! `latitudes`, `longitudes` (per grid point), per-variable `mean`, `stdev`, `minimum`,
//! `maximum` (and anemoi's `sums`, `squares`, `count`, `has_nans`), tendency statistics over
//! one time step (`statistics_tendencies_<step>_*`), and variable names and provenance in the
//! attributes. Stores are written as Zarr v2, as anemoi-datasets 0.5 (zarr-python 2) opens
//! them: `dates` in numpy datetime64[s] on a regular axis, gaps kept in place (no chunk, NaN)
//! and listed in `missing_dates`. Stores from earlier vejr versions (Zarr v3, int64 dates,
//! gaps left out) still open.

pub mod config;
mod ingest_plan;
pub mod reader;
pub mod writer;
pub mod zarr_v2;

use serde::{Deserialize, Serialize};

pub use config::IngestConfig;
pub use reader::Store;
pub use writer::{IngestOptions, IngestReport, ingest};

/// One column of `data`: a variable at one level.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Column {
    /// `2t`, `t_850`: the name in the store's `variables` attribute.
    pub name: String,
    pub variable: String,
    pub level_type: String,
    /// hPa for pressure levels; 0 for single-level variables.
    pub level: f64,
    pub units: Option<String>,
    pub standard_name: Option<String>,
    pub long_name: Option<String>,
}

impl Column {
    /// A column without units or CF names (tests, and stores that never had them): `name` is
    /// `variable` or `variable_level`.
    pub fn bare(name: &str, level_type: &str, level: f64) -> Self {
        Column {
            name: name.into(),
            variable: name.split('_').next().unwrap_or(name).into(),
            level_type: level_type.into(),
            level,
            units: None,
            standard_name: None,
            long_name: None,
        }
    }
}

pub(crate) fn tendency_prefix(step: &str) -> String {
    format!("statistics_tendencies_{step}")
}
