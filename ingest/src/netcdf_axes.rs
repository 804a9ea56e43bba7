//! The axes of a NetCDF file as CF describes them: coordinate values, time (units, calendar,
//! order), a forecast's reference time and vertical levels.

use std::path::Path;

use crate::cf_time;
use crate::error::{IngestError, Result};
use crate::fields::LevelType;
use crate::hints::SourceHints;
use crate::netcdf_reader::{attr_string, attributes};

/// A dimension's coordinate variable: the one named after it, or, in files that name it
/// otherwise (`lat(latitude)`, `plvl(level)`, as NCAR's older example files do), the only
/// numeric 1-D variable on that dimension.
pub(crate) fn axis_variable<'f>(file: &'f netcdf::File, dim: &str) -> Option<netcdf::Variable<'f>> {
    if let Some(v) = file.variable(dim) {
        return Some(v);
    }
    let mut on_dim = file.variables().filter(|v| {
        let dims = v.dimensions();
        dims.len() == 1 && dims[0].name() == dim && !matches!(v.vartype(), netcdf::types::NcVariableType::Char)
    });
    let only = on_dim.next()?;
    on_dim.next().is_none().then_some(only)
}

/// Whether `var` is the coordinate variable of its one dimension.
pub(crate) fn is_axis(file: &netcdf::File, var: &netcdf::Variable) -> bool {
    let dims = var.dimensions();
    dims.len() == 1 && axis_variable(file, &dims[0].name()).is_some_and(|a| a.name() == var.name())
}

pub(crate) fn coordinate_values(file: &netcdf::File, path: &Path, dim: &str) -> Result<Vec<f64>> {
    match axis_variable(file, dim) {
        Some(var) => var
            .get_values::<f64, _>(..)
            .map_err(|e| IngestError::variable(path, dim, e.to_string())),
        None => Err(IngestError::variable(path, dim, "dimension has no coordinate variable")),
    }
}

pub(crate) fn read_time(
    file: &netcdf::File,
    path: &Path,
    dim: &str,
    hints: &SourceHints,
) -> Result<Vec<chrono::DateTime<chrono::Utc>>> {
    let time_error = |message: String| IngestError::Time {
        path: path.to_owned(),
        message,
    };
    let var = axis_variable(file, dim);
    let values = match &var {
        Some(_) => coordinate_values(file, path, dim)?,
        None => (0..file.dimension_len(dim).unwrap_or(0)).map(|i| i as f64).collect(),
    };
    let units = hints
        .time_units
        .clone()
        .or_else(|| var.as_ref().and_then(|v| attr_string(&attributes(v), "units")))
        .ok_or_else(|| {
            time_error(format!(
                "{dim} has no units; give time_units in the ingest config (e.g. \"hours since 1996-01-05 00:00\")"
            ))
        })?;
    let units = cf_time::parse_units(&units)
        .map_err(|e| match hints.time_units {
            // A month or day number (climatologies) is not a time: the config can say which it is.
            None => format!("{e}; give time_units in the ingest config (e.g. \"days since 2000-01-01\")"),
            Some(_) => e,
        })
        .map_err(time_error)?;
    let calendar = hints
        .calendar
        .clone()
        .or_else(|| var.as_ref().and_then(|v| attr_string(&attributes(v), "calendar")));
    cf_time::check_calendar(calendar.as_deref(), &units.reference).map_err(time_error)?;
    let times = cf_time::decode(&values, &units).map_err(time_error)?;
    // Reanalysis files keep time in order; a value out of order is a damaged one (a flipped bit
    // turned 2019 into the year 124511 in a test), and would otherwise stretch the store.
    if let Some(i) = times.windows(2).position(|w| w[1] <= w[0]) {
        let f = |t: &chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%dT%H:%MZ").to_string();
        return Err(time_error(format!(
            "{dim} is not increasing at index {}: {} then {} (a damaged or unsorted file)",
            i + 1,
            f(&times[i]),
            f(&times[i + 1])
        )));
    }
    Ok(times)
}

/// A forecast's one reference time: a scalar (or length-one) variable whose standard name is
/// `forecast_reference_time`. The CDS labels its `valid_time` axis so too; an axis of many
/// times is no forecast's one start and is passed over.
pub(crate) fn forecast_reference_time(
    file: &netcdf::File,
    path: &Path,
) -> Result<Option<chrono::DateTime<chrono::Utc>>> {
    for var in file.variables() {
        let attrs = attributes(&var);
        if attr_string(&attrs, "standard_name").as_deref() != Some("forecast_reference_time") {
            continue;
        }
        if var.dimensions().iter().map(|d| d.len()).product::<usize>() != 1 {
            continue;
        }
        let time_error = |message: String| IngestError::Time {
            path: path.to_owned(),
            message: format!("{}: {message}", var.name()),
        };
        let units = attr_string(&attrs, "units").ok_or_else(|| time_error("no units".into()))?;
        let units = cf_time::parse_units(&units).map_err(time_error)?;
        let values = var
            .get_values::<f64, _>(..)
            .map_err(|e| IngestError::variable(path, &var.name(), e.to_string()))?;
        return Ok(cf_time::decode(&values, &units).map_err(time_error)?.first().copied());
    }
    Ok(None)
}

pub(crate) fn level_axis(file: &netcdf::File, path: &Path, dim: &str) -> Result<(LevelType, Vec<f64>)> {
    let values = coordinate_values(file, path, dim)?;
    let units = axis_variable(file, dim)
        .and_then(|v| attr_string(&attributes(&v), "units"))
        .unwrap_or_default()
        .to_ascii_lowercase();
    let pressure_named = ["pressure_level", "isobaricinhpa", "plev", "level", "lev", "levelist"]
        .contains(&dim.to_ascii_lowercase().as_str());
    Ok(match units.as_str() {
        "pa" => (LevelType::Pressure, values.iter().map(|v| v / 100.0).collect()),
        "hpa" | "millibars" | "millibar" | "mbar" | "mb" => (LevelType::Pressure, values),
        "" if pressure_named => (LevelType::Pressure, values),
        _ if dim.contains("hybrid") || dim.contains("model") => (LevelType::Model, values),
        _ if pressure_named && units == "1" => (LevelType::Model, values),
        _ => (LevelType::Other(dim.to_owned()), values),
    })
}

pub(crate) fn is_evenly_spaced(values: &[f64]) -> bool {
    if values.len() < 3 {
        return true;
    }
    let step = values[1] - values[0];
    values
        .windows(2)
        .all(|w| ((w[1] - w[0]) - step).abs() <= 1e-4 * step.abs().max(1e-9))
}
