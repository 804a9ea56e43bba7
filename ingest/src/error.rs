//! One error type for everything between a file on disk and the training store.
//!
//! Every variant names *where* the problem is (file, variable, message number) because the
//! user sees exactly one line and must be able to act on it.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("{path}: {message}")]
    Io { path: PathBuf, message: String },

    #[error("{path}: no such file")]
    NotFound { path: PathBuf },

    #[error("{path}: not a NetCDF or GRIB file (first bytes {magic:?})")]
    UnknownFormat { path: PathBuf, magic: String },

    #[error("{path}: NetCDF: {message}")]
    Netcdf { path: PathBuf, message: String },

    #[error("{path} message {message_number}: {message}")]
    Grib {
        path: PathBuf,
        message_number: usize,
        message: String,
    },

    #[error("{path}: unsupported grid type {grid_type} in message {message_number}")]
    UnsupportedGrid {
        path: PathBuf,
        grid_type: String,
        message_number: usize,
    },

    #[error("{path}: variable {variable}: {message}")]
    Variable {
        path: PathBuf,
        variable: String,
        message: String,
    },

    #[error("{path}: time axis: {message}")]
    Time { path: PathBuf, message: String },

    #[error("{path}: grid: {message}")]
    Grid { path: PathBuf, message: String },

    #[error("config {path}: {message}")]
    Config { path: PathBuf, message: String },

    #[error("store {path}: {message}")]
    Store { path: PathBuf, message: String },

    /// A store that is not one, or not whole: bad input, like a bad file.
    #[error("store {path}: {message}")]
    BadStore { path: PathBuf, message: String },

    #[error("{path}: file is empty")]
    Empty { path: PathBuf },
}

pub type Result<T, E = IngestError> = std::result::Result<T, E>;

impl IngestError {
    pub fn io(path: impl Into<PathBuf>, err: impl std::fmt::Display) -> Self {
        Self::Io {
            path: path.into(),
            message: err.to_string(),
        }
    }
    pub fn netcdf(path: impl Into<PathBuf>, err: impl std::fmt::Display) -> Self {
        Self::Netcdf {
            path: path.into(),
            message: err.to_string(),
        }
    }
    pub fn variable(path: impl Into<PathBuf>, variable: &str, message: impl Into<String>) -> Self {
        Self::Variable {
            path: path.into(),
            variable: variable.to_owned(),
            message: message.into(),
        }
    }
    pub fn store(path: impl Into<PathBuf>, err: impl std::fmt::Display) -> Self {
        Self::Store {
            path: path.into(),
            message: err.to_string(),
        }
    }
    pub fn config(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Self::Config {
            path: path.into(),
            message: message.into(),
        }
    }

    /// Input problems (exit code 2) as opposed to failures of the machine (exit code 1).
    pub fn is_bad_input(&self) -> bool {
        !matches!(self, Self::Io { .. } | Self::Store { .. })
    }
}
