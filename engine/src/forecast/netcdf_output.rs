//! The forecast as CF-1.8 NetCDF4, written one lead time at a time so memory stays flat
//! however long the forecast. The file exists as `F.nc.partial` until the last step is in and
//! synced; only then is it renamed to `F.nc`.
//!
//! Layout: `time` (valid time, unlimited) with `forecast_period` (lead time) and the scalar
//! `forecast_reference_time`; `pressure_level` when any variable has levels; `latitude`
//! (north to south, as the model's grid) and `longitude`, increasing west to east across the
//! domain (a domain across Greenwich runs −10°…2°, see `longitude_order`). One chunk per time
//! step, deflated.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use vejr_ingest::store::Column;

pub struct ForecastWriter {
    file: Option<netcdf::FileMut>,
    partial: PathBuf,
    path: PathBuf,
    /// Per output variable: its NetCDF name and, per level, the state channel (None: not predicted).
    variables: Vec<(String, Vec<Option<usize>>)>,
    points: (usize, usize),
    /// File column `j` holds the model's column `columns[j]`.
    columns: Vec<usize>,
    reference_time: DateTime<Utc>,
    written: usize,
}

/// The variable that marks a limited-area forecast's boundary band.
pub const BOUNDARY_BAND: &str = "boundary_band";

pub struct OutputGrid<'a> {
    pub latitudes: &'a [f64],
    pub longitudes: &'a [f64],
    /// A grid that is not latitudes × longitudes (then `latitudes` and `longitudes` are every
    /// point's): written on its own dimensions, with its grid mapping.
    pub native: Option<&'a vejr_ingest::Grid>,
}

impl<'a> OutputGrid<'a> {
    /// The output grid of a checkpoint's grid.
    pub fn of(grid: &'a vejr_ingest::Grid) -> Self {
        match &grid.points {
            Some(points) => Self {
                latitudes: &points.latitudes,
                longitudes: &points.longitudes,
                native: Some(grid),
            },
            None => Self {
                latitudes: &grid.latitudes,
                longitudes: &grid.longitudes,
                native: None,
            },
        }
    }

    /// (rows, columns) of the data.
    pub fn shape(&self) -> (usize, usize) {
        match self.native {
            Some(g) => g.shape(),
            None => (self.latitudes.len(), self.longitudes.len()),
        }
    }
}

/// CF names begin with a letter (CF 2.3). ERA5's digit-first short names get the names the
/// Copernicus CDS uses in its NetCDF, ecCodes' cfVarName: 2t → t2m, 10u → u10, 2d → d2m; names
/// ecCodes does not know put their digits last. The store's name stays in the
/// `vejr_store_name` attribute.
pub fn netcdf_name(name: &str) -> String {
    let digits = name.chars().take_while(|c| c.is_ascii_digit()).count();
    if digits == 0 || digits == name.len() {
        return name.to_owned();
    }
    match vejr_ingest::parameter_identity::eccodes_parameter(name) {
        Some(p) if p.cf_var_name.starts_with(|c: char| c.is_ascii_alphabetic()) => p.cf_var_name,
        _ => format!("{}{}", &name[digits..], &name[..digits]),
    }
}

/// The height of a 2 m or 10 m variable: ecCodes' short names say it (`2t`, `10u`, `100v`),
/// as does a `heightAboveGround` level.
pub fn height_above_ground(c: &Column) -> Option<f64> {
    if c.level_type == "heightAboveGround" {
        return Some(c.level);
    }
    if c.level_type != "surface" {
        return None;
    }
    let digits = c.name.chars().take_while(|ch| ch.is_ascii_digit()).count();
    let rest = &c.name[digits..];
    (digits > 0 && !rest.is_empty() && rest.chars().all(|ch| ch.is_ascii_alphabetic()))
        .then(|| c.name[..digits].parse().ok())
        .flatten()
}

fn height_name(h: f64) -> String {
    format!("height{}m", vejr_ingest::fields::format_level(h))
}

pub fn partial_path(path: &Path) -> PathBuf {
    vejr_ingest::output_name::with_suffix(path, ".partial")
}

fn nc(path: &Path, e: impl std::fmt::Display) -> String {
    format!("{}: {e}", path.display())
}

impl ForecastWriter {
    pub fn create(
        path: &Path,
        columns: &[Column],
        grid: OutputGrid,
        reference_time: DateTime<Utc>,
        attributes: &[(&str, String)],
        boundary_band: Option<&[bool]>,
    ) -> Result<Self, String> {
        let partial = partial_path(path);
        let _ = std::fs::remove_file(&partial);
        let mut file = netcdf::create_with(&partial, netcdf::Options::NETCDF4).map_err(|e| nc(&partial, e))?;
        let e = |err: netcdf::Error| nc(&partial, err);
        let (ny, nx) = grid.shape();

        let mut levels: Vec<f64> = columns
            .iter()
            .filter(|c| c.level_type == "pressure_level")
            .map(|c| c.level)
            .collect();
        levels.sort_by(|a, b| b.total_cmp(a));
        levels.dedup();

        file.add_unlimited_dimension("time").map_err(e)?;
        if !levels.is_empty() {
            file.add_dimension("pressure_level", levels.len()).map_err(e)?;
        }
        let horizontal: Vec<&str> = match grid.native {
            Some(native) => super::native_grid::write_coordinates(&mut file, native).map_err(e)?,
            None => {
                file.add_dimension("latitude", ny).map_err(e)?;
                file.add_dimension("longitude", nx).map_err(e)?;
                vec!["latitude", "longitude"]
            }
        };

        let since = format!("hours since {}", reference_time.format("%Y-%m-%d %H:%M:%S"));
        {
            let mut v = file.add_variable::<f64>("time", &["time"]).map_err(e)?;
            for (k, val) in [
                ("standard_name", "time"),
                ("long_name", "valid time"),
                ("axis", "T"),
                ("calendar", "proleptic_gregorian"),
            ] {
                v.put_attribute(k, val).map_err(e)?;
            }
            v.put_attribute("units", since.as_str()).map_err(e)?;
        }
        {
            let mut v = file.add_variable::<f64>("forecast_period", &["time"]).map_err(e)?;
            v.put_attribute("standard_name", "forecast_period").map_err(e)?;
            v.put_attribute("long_name", "lead time").map_err(e)?;
            v.put_attribute("units", "hours").map_err(e)?;
        }
        {
            let mut v = file.add_variable::<f64>("forecast_reference_time", &[]).map_err(e)?;
            v.put_attribute("standard_name", "forecast_reference_time").map_err(e)?;
            v.put_attribute("long_name", "initial time of the forecast")
                .map_err(e)?;
            v.put_attribute("units", since.as_str()).map_err(e)?;
            v.put_attribute("calendar", "proleptic_gregorian").map_err(e)?;
            v.put_value(0.0f64, ..).map_err(e)?;
        }
        if !levels.is_empty() {
            let mut v = file
                .add_variable::<f64>("pressure_level", &["pressure_level"])
                .map_err(e)?;
            v.put_attribute("standard_name", "air_pressure").map_err(e)?;
            v.put_attribute("long_name", "pressure level").map_err(e)?;
            v.put_attribute("units", "hPa").map_err(e)?;
            v.put_attribute("positive", "down").map_err(e)?;
            v.put_attribute("axis", "Z").map_err(e)?;
            v.put_values(&levels, ..).map_err(e)?;
        }
        // Longitudes that are not evenly spaced are written as the model has them; a native
        // grid keeps its own order.
        let (file_columns, longitudes) = match super::longitude_order::west_to_east(grid.longitudes) {
            Some(order) if grid.native.is_none() => (order.columns, order.longitudes),
            _ => ((0..nx).collect(), grid.longitudes.to_vec()),
        };
        let axes: &[(&str, &[f64], &str, &str, &str)] = if grid.native.is_some() {
            &[]
        } else {
            &[
                ("latitude", grid.latitudes, "degrees_north", "latitude", "Y"),
                ("longitude", longitudes.as_slice(), "degrees_east", "longitude", "X"),
            ]
        };
        for &(name, values, units, standard, axis) in axes {
            let mut v = file.add_variable::<f64>(name, &[name]).map_err(e)?;
            v.put_attribute("standard_name", standard).map_err(e)?;
            v.put_attribute("long_name", standard).map_err(e)?;
            v.put_attribute("units", units).map_err(e)?;
            v.put_attribute("axis", axis).map_err(e)?;
            v.put_values(values, ..).map_err(e)?;
        }

        // Output variables: one per store variable, levelled ones on pressure_level. A
        // single-level variable that shares its name with a levelled one (a surface `u` next
        // to `u` on 500 hPa) is written `u_surface`.
        let levelled_names: Vec<String> = columns
            .iter()
            .filter(|c| c.level_type == "pressure_level")
            .map(|c| netcdf_name(&c.variable))
            .collect();
        let mut heights: Vec<f64> = Vec::new();
        let mut variables: Vec<(String, Vec<Option<usize>>)> = Vec::new();
        for (channel, c) in columns.iter().enumerate() {
            let levelled = c.level_type == "pressure_level";
            let store_name = if levelled { c.variable.clone() } else { c.name.clone() };
            let mut name = netcdf_name(&store_name);
            if !levelled && levelled_names.contains(&name) {
                name = format!("{name}_{}", c.level_type);
            }
            // 2 m and 10 m variables carry their height as a scalar coordinate (CF 5.7).
            let height = height_above_ground(c);
            if let Some(h) = height
                && !heights.contains(&h)
            {
                let mut v = file.add_variable::<f64>(&height_name(h), &[]).map_err(e)?;
                for (k, val) in [
                    ("standard_name", "height"),
                    ("long_name", "height above ground"),
                    ("units", "m"),
                    ("positive", "up"),
                    ("axis", "Z"),
                ] {
                    v.put_attribute(k, val).map_err(e)?;
                }
                v.put_value(h, ..).map_err(e)?;
                heights.push(h);
            }
            let slot = match variables.iter().position(|(n, _)| *n == name) {
                Some(i) => i,
                None => {
                    let width = if levelled { levels.len() } else { 1 };
                    let mut dims: Vec<&str> = if levelled {
                        vec!["time", "pressure_level"]
                    } else {
                        vec!["time"]
                    };
                    dims.extend(&horizontal);
                    let mut v = file.add_variable::<f32>(&name, &dims).map_err(e)?;
                    let mut chunk: Vec<usize> = if levelled { vec![1, width] } else { vec![1] };
                    chunk.extend(if horizontal.len() == 2 { vec![ny, nx] } else { vec![nx] });
                    v.set_chunking(&chunk).map_err(e)?;
                    v.set_compression(4, true).map_err(e)?;
                    v.set_fill_value(f32::NAN).map_err(e)?;
                    if let Some(s) = &c.standard_name {
                        v.put_attribute("standard_name", s.as_str()).map_err(e)?;
                    }
                    v.put_attribute(
                        "long_name",
                        c.long_name.clone().unwrap_or_else(|| name.clone()).as_str(),
                    )
                    .map_err(e)?;
                    v.put_attribute("units", c.units.clone().unwrap_or_else(|| "1".into()).as_str())
                        .map_err(e)?;
                    let mut coordinates = match height {
                        Some(h) => format!("forecast_reference_time forecast_period {}", height_name(h)),
                        None => "forecast_reference_time forecast_period".to_owned(),
                    };
                    if let Some(native) = grid.native {
                        coordinates.push_str(" latitude longitude");
                        if super::native_grid::has_grid_mapping(native) {
                            v.put_attribute("grid_mapping", super::native_grid::GRID_MAPPING)
                                .map_err(e)?;
                        }
                        super::native_grid::describe_reduced(&mut v, native).map_err(e)?;
                    }
                    v.put_attribute("coordinates", coordinates.as_str()).map_err(e)?;
                    v.put_attribute("vejr_store_name", store_name.as_str()).map_err(e)?;
                    // As cfgrib and the CDS write it: readers match the parameter, not the name.
                    if let Some(p) = vejr_ingest::parameter_identity::eccodes_parameter(&c.variable) {
                        v.put_attribute("GRIB_paramId", p.param_id).map_err(e)?;
                    }
                    variables.push((name.clone(), vec![None; width]));
                    variables.len() - 1
                }
            };
            let level = if levelled {
                levels.iter().position(|&l| l == c.level).expect("collected above")
            } else {
                0
            };
            variables[slot].1[level] = Some(channel);
        }

        file.add_attribute("Conventions", "CF-1.8").map_err(e)?;
        file.add_attribute("title", "vejr machine-learned forecast")
            .map_err(e)?;
        file.add_attribute("source", "vejr graph neural network forecaster")
            .map_err(e)?;
        for (k, v) in attributes {
            file.add_attribute(k, v.as_str()).map_err(e)?;
        }
        // A limited-area model's boundary band: its values came from the host, not the model,
        // and `vejr evaluate` leaves it out of the scores.
        if let Some(band) = boundary_band {
            let mut v = file.add_variable::<i8>(BOUNDARY_BAND, &horizontal).map_err(e)?;
            v.put_attribute(
                "long_name",
                "boundary band of the limited-area model: state from the host, not the model",
            )
            .map_err(e)?;
            v.put_attribute("flag_values", vec![0i8, 1]).map_err(e)?;
            v.put_attribute("flag_meanings", "interior boundary_band").map_err(e)?;
            let values: Vec<i8> = (0..ny)
                .flat_map(|j| file_columns.iter().map(move |&c| i8::from(band[j * nx + c])))
                .collect();
            v.put_values(&values, ..).map_err(e)?;
        }
        Ok(Self {
            file: Some(file),
            partial,
            path: path.to_owned(),
            variables,
            points: (ny, nx),
            columns: file_columns,
            reference_time,
            written: 0,
        })
    }
}

impl super::ForecastOutput for ForecastWriter {
    /// Appends the state `[gridpoint][channel]` valid at `valid_time`.
    fn write_step(&mut self, valid_time: DateTime<Utc>, state: &[f32]) -> Result<(), String> {
        let partial = self.partial.clone();
        let e = |err: netcdf::Error| crate::write_failure(&partial, err);
        let file = self.file.as_mut().ok_or("forecast file already closed")?;
        let k = self.written;
        let hours = (valid_time - self.reference_time).num_seconds() as f64 / 3600.0;
        let channels = state.len() / (self.points.0 * self.points.1);
        file.variable_mut("time")
            .ok_or("no time variable")?
            .put_value(hours, [k])
            .map_err(e)?;
        file.variable_mut("forecast_period")
            .ok_or("no forecast_period variable")?
            .put_value(hours, [k])
            .map_err(e)?;
        let (ny, nx) = self.points;
        let n = ny * nx;
        for (name, levels) in &self.variables {
            let mut values = vec![f32::NAN; levels.len() * n];
            for (l, channel) in levels.iter().enumerate() {
                if let Some(c) = channel {
                    for r in 0..ny {
                        for (j, &column) in self.columns.iter().enumerate() {
                            values[l * n + r * nx + j] = state[(r * nx + column) * channels + c];
                        }
                    }
                }
            }
            let mut v = file.variable_mut(name).ok_or("variable vanished")?;
            let mut extents: Vec<netcdf::Extent> = vec![(k..k + 1).into()];
            extents.extend((1..v.dimensions().len()).map(|_| netcdf::Extent::from(..)));
            v.put_values(&values, extents).map_err(e)?;
        }
        self.written += 1;
        Ok(())
    }

    /// Closes, syncs and renames the file to its final name.
    fn finish(mut self: Box<Self>) -> Result<PathBuf, String> {
        let file = self.file.take();
        let published = (|| {
            if let Some(file) = file {
                file.close().map_err(|e| crate::write_failure(&self.partial, e))?;
            }
            std::fs::File::open(&self.partial)
                .and_then(|f| f.sync_all())
                .map_err(|e| crate::write_failure(&self.partial, e))?;
            std::fs::rename(&self.partial, &self.path).map_err(|e| crate::write_failure(&self.path, e))
        })();
        if let Err(e) = published {
            let _ = std::fs::remove_file(&self.partial);
            return Err(e);
        }
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            let _ = std::fs::File::open(dir).and_then(|d| d.sync_all());
        }
        Ok(self.path.clone())
    }
}

impl Drop for ForecastWriter {
    /// An unfinished forecast (an error half way) leaves no file behind.
    fn drop(&mut self) {
        if self.file.take().is_some() {
            let _ = std::fs::remove_file(&self.partial);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Column, height_above_ground, height_name, netcdf_name};

    #[test]
    fn heights_come_from_short_names_and_height_levels() {
        let c = |name: &str, level_type: &str, level: f64| Column::bare(name, level_type, level);
        assert_eq!(height_above_ground(&c("2t", "surface", 0.0)), Some(2.0));
        assert_eq!(height_above_ground(&c("10u", "surface", 0.0)), Some(10.0));
        assert_eq!(height_above_ground(&c("100v", "surface", 0.0)), Some(100.0));
        assert_eq!(height_above_ground(&c("t_2", "heightAboveGround", 2.0)), Some(2.0));
        assert_eq!(height_above_ground(&c("msl", "surface", 0.0)), None);
        assert_eq!(height_above_ground(&c("u_500", "pressure_level", 500.0)), None);
        assert_eq!(height_above_ground(&c("2", "surface", 0.0)), None);
        assert_eq!(height_name(2.0), "height2m");
    }

    #[test]
    fn netcdf_names_begin_with_a_letter() {
        let names = ["2t", "2d", "10u", "100v", "msl", "u500", "2", "7xyz"].map(netcdf_name);
        assert_eq!(names, ["t2m", "d2m", "u10", "v100", "msl", "u500", "2", "xyz7"]);
    }
}
