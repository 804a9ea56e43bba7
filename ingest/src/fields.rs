//! The canonical in-memory form of what a file holds: variables × levels × members × time on one grid.
//!
//! Whatever the file's own layout, after reading the data is `f32`, missing points are NaN,
//! latitudes run north→south and longitudes ascend in [0, 360).

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::grid::Grid;

/// What a variable's vertical coordinate is.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum LevelType {
    /// A single level at or near the surface (2 m temperature, mean sea-level pressure).
    Surface,
    /// Isobaric levels in hPa.
    Pressure,
    /// Hybrid model levels (ERA5 `ml`).
    Model,
    /// Anything else, by the name the file gives it.
    Other(String),
}

impl LevelType {
    pub fn label(&self) -> &str {
        match self {
            Self::Surface => "surface",
            Self::Pressure => "pressure_level",
            Self::Model => "model_level",
            Self::Other(name) => name,
        }
    }
}

/// The leading axis of a file's data.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum TimeAxis {
    /// Valid times, UTC.
    Valid(Vec<DateTime<Utc>>),
    /// The data's leading axis is not time (monthly climatologies indexed by `month`, say):
    /// kept with its name and values so nobody mistakes it for time.
    Other { name: String, values: Vec<f64> },
    /// No leading axis at all: one field per variable.
    Absent,
}

impl TimeAxis {
    pub fn len(&self) -> usize {
        match self {
            Self::Valid(times) => times.len(),
            Self::Other { values, .. } => values.len(),
            Self::Absent => 1,
        }
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    pub fn valid_times(&self) -> Option<&[DateTime<Utc>]> {
        match self {
            Self::Valid(times) => Some(times),
            _ => None,
        }
    }
}

/// Metadata of one variable as read (after the config filled in what the file lacked).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct VariableInfo {
    pub name: String,
    pub long_name: Option<String>,
    pub standard_name: Option<String>,
    pub units: Option<String>,
    pub level_type: LevelType,
    /// Level values (hPa for pressure levels); one entry `0.0` for single-level variables.
    pub levels: Vec<f64>,
    /// ecCodes' paramId, when the file gives it (GRIB, or a NetCDF `GRIB_paramId` attribute).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub param_id: Option<i64>,
}

impl VariableInfo {
    /// `t_500`-style names, one per level; plain `name` for single-level variables.
    pub fn level_names(&self) -> Vec<String> {
        if self.level_type == LevelType::Surface {
            vec![self.name.clone()]
        } else {
            self.levels
                .iter()
                .map(|l| format!("{}_{}", self.name, format_level(*l)))
                .collect()
        }
    }
}

pub fn format_level(level: f64) -> String {
    if level.fract() == 0.0 {
        format!("{}", level as i64)
    } else {
        format!("{level}")
    }
}

/// A variable and its values, laid out `[time][level][member][latitude][longitude]`.
#[derive(Clone, Debug)]
pub struct Variable {
    pub info: VariableInfo,
    pub data: Vec<f32>,
}

/// Everything read from one or more files that share a grid and time axis.
#[derive(Clone, Debug)]
pub struct Fields {
    pub grid: Grid,
    pub time: TimeAxis,
    /// Ensemble member numbers; `[0]` for deterministic data.
    pub members: Vec<i64>,
    pub variables: Vec<Variable>,
}

impl Fields {
    pub fn variable(&self, name: &str) -> Option<&Variable> {
        self.variables.iter().find(|v| v.info.name == name)
    }

    /// The 2-D field (row-major, north→south, lon ascending) of `variable` at (`time`, `level`, `member`) indices.
    pub fn field<'a>(&self, variable: &'a Variable, time: usize, level: usize, member: usize) -> &'a [f32] {
        let points = self.grid.len();
        let levels = variable.info.levels.len();
        let members = self.members.len();
        let start = ((time * levels + level) * members + member) * points;
        &variable.data[start..start + points]
    }

    pub fn level_index(variable: &Variable, level: f64) -> Option<usize> {
        variable.info.levels.iter().position(|l| (l - level).abs() < 1e-6)
    }
}
