//! NetCDF 3 and 4 through netCDF-C, with CF decoding: packing, fill values, time units,
//! and the dimension names real reanalysis files use.

use std::path::Path;
use std::sync::Mutex;

use netcdf::AttributeValue;

use crate::error::{IngestError, Result};
use crate::fields::{LevelType, TimeAxis, VariableInfo};
use crate::grid::{Grid, GridKind, Reorder};
use crate::hints::SourceHints;
use crate::netcdf_axes::{
    axis_variable, coordinate_values, forecast_reference_time, is_axis, is_evenly_spaced, level_axis, read_time,
};
use crate::source::{FieldSource, Header};

const LATITUDE_NAMES: &[&str] = &["latitude", "lat", "g0_lat_0", "nav_lat", "lat2d"];
const LONGITUDE_NAMES: &[&str] = &["longitude", "lon", "g0_lon_1", "nav_lon", "lon2d"];
const TIME_NAMES: &[&str] = &["time", "valid_time", "t"];
const LEVEL_NAMES: &[&str] = &["level", "pressure_level", "isobaricInhPa", "plev", "lev", "levelist"];
const MEMBER_NAMES: &[&str] = &["number", "member", "realization", "ensemble", "ens"];
/// netCDF-C's default fill for floats, which applies when a float variable has no `_FillValue`.
const NC_FILL_FLOAT: f64 = 9.969_209_968_386_869e36;

#[derive(Clone, Copy, Debug, PartialEq)]
enum Role {
    Time,
    Level,
    Member,
    Latitude,
    Longitude,
    /// A leading axis that is not time (e.g. `month` of a monthly climatology).
    Other,
}

#[derive(Debug)]
struct Packing {
    scale: f64,
    offset: f64,
    fills: Vec<f64>,
}

impl Packing {
    fn decode(&self, raw: f64) -> f32 {
        if raw.is_nan() || self.fills.contains(&raw) {
            f32::NAN
        } else {
            (raw * self.scale + self.offset) as f32
        }
    }
}

#[derive(Debug)]
struct DataVariable {
    file_name: String,
    roles: Vec<Role>,
    shape: Vec<usize>,
    /// Canonical level index → level index in the file (pressure levels ascend, as in GRIB).
    level_order: Vec<usize>,
    packing: Packing,
}

pub struct NetcdfSource {
    header: Header,
    file: Mutex<netcdf::File>,
    variables: Vec<DataVariable>,
    reorder: Reorder,
}

pub(crate) fn attribute_numbers(value: AttributeValue) -> Vec<f64> {
    use AttributeValue::*;
    match value {
        Uchar(v) => vec![v as f64],
        Schar(v) => vec![v as f64],
        Ushort(v) => vec![v as f64],
        Short(v) => vec![v as f64],
        Uint(v) => vec![v as f64],
        Int(v) => vec![v as f64],
        Ulonglong(v) => vec![v as f64],
        Longlong(v) => vec![v as f64],
        Float(v) => vec![v as f64],
        Double(v) => vec![v],
        Uchars(v) => v.into_iter().map(f64::from).collect(),
        Schars(v) => v.into_iter().map(f64::from).collect(),
        Ushorts(v) => v.into_iter().map(f64::from).collect(),
        Shorts(v) => v.into_iter().map(f64::from).collect(),
        Uints(v) => v.into_iter().map(f64::from).collect(),
        Ints(v) => v.into_iter().map(f64::from).collect(),
        Ulonglongs(v) => v.into_iter().map(|x| x as f64).collect(),
        Longlongs(v) => v.into_iter().map(|x| x as f64).collect(),
        Floats(v) => v.into_iter().map(f64::from).collect(),
        Doubles(v) => v,
        Str(_) | Strs(_) => vec![],
    }
}

/// A variable's attributes, listed once. Asking netCDF-C for an attribute a NetCDF4 variable
/// lacks makes HDF5 print an error trace to stderr; listing what is there does not.
pub(crate) type Attributes = std::collections::HashMap<String, AttributeValue>;

pub(crate) fn attributes(var: &netcdf::Variable) -> Attributes {
    var.attributes()
        .filter_map(|a| Some((a.name().to_owned(), a.value().ok()?)))
        .collect()
}

pub(crate) fn attr_string(attrs: &Attributes, name: &str) -> Option<String> {
    match attrs.get(name)? {
        AttributeValue::Str(s) => Some(s.clone()),
        AttributeValue::Strs(s) => Some(s.join(" ")),
        _ => None,
    }
}

fn attr_number(attrs: &Attributes, name: &str) -> Option<f64> {
    attrs
        .get(name)
        .and_then(|v| attribute_numbers(v.clone()).first().copied())
}

fn is_float_type(var: &netcdf::Variable) -> bool {
    matches!(var.vartype(), netcdf::types::NcVariableType::Float(_))
}

/// netCDF-C turns HDF5's automatic error printing off when it initialises, but a thread-safe
/// HDF5 keeps that setting per thread: on rayon workers and test threads HDF5 would print a
/// trace to stderr for every attribute netCDF-C probes for and does not find. Errors still
/// reach us through netCDF-C's return codes.
fn quiet_hdf5_on_this_thread() {
    thread_local!(static QUIET: std::cell::Cell<bool> = const { std::cell::Cell::new(false) });
    QUIET.with(|quiet| {
        if !quiet.get() {
            let _lock = hdf5_sys::LOCK.lock();
            // SAFETY: H5Eset_auto2 with the default stack and no handler only changes this
            // thread's error-printing setting; HDF5 is serialised by netcdf's global lock.
            unsafe { hdf5_sys::h5e::H5Eset_auto2(hdf5_sys::h5e::H5E_DEFAULT, None, std::ptr::null_mut()) };
            quiet.set(true);
        }
    });
}

impl NetcdfSource {
    pub fn open(path: &Path, hints: &SourceHints) -> Result<Self> {
        quiet_hdf5_on_this_thread();
        let file = netcdf::open(path).map_err(|e| IngestError::netcdf(path, e))?;
        let format = netcdf_format(path);
        refuse_truncated_classic(&file, path)?;

        let time_names: Vec<&str> = match &hints.time_dimension {
            Some(name) => vec![name.as_str()],
            None => TIME_NAMES.to_vec(),
        };
        // Per-point coordinates (a projection's 2-D latitude and longitude, or a point set's 1-D
        // ones) when no data variable has latitude and longitude axes.
        let auxiliary =
            crate::netcdf_grid_mapping::auxiliary_coordinates(&file, path, LATITUDE_NAMES, LONGITUDE_NAMES)?;
        let aux_role = |dim: &str| -> Option<Role> {
            let dims = &auxiliary.as_ref()?.dimensions;
            if dims.last().is_some_and(|d| d == dim) {
                Some(Role::Longitude)
            } else if dims.len() == 2 && dims[0] == dim {
                Some(Role::Latitude)
            } else {
                None
            }
        };
        let role_of = |dim: &str| -> Role {
            if let Some(role) = aux_role(dim) {
                return role;
            }
            let coordinate_says = |key: &str| axis_variable(&file, dim).and_then(|v| attr_string(&attributes(&v), key));
            let standard_name = coordinate_says("standard_name").unwrap_or_default();
            let units = coordinate_says("units").unwrap_or_default();
            if time_names.contains(&dim) || (hints.time_dimension.is_none() && units.contains(" since ")) {
                Role::Time
            } else if LATITUDE_NAMES.contains(&dim) || standard_name == "latitude" || units == "degrees_north" {
                Role::Latitude
            } else if LONGITUDE_NAMES.contains(&dim) || standard_name == "longitude" || units == "degrees_east" {
                Role::Longitude
            } else if LEVEL_NAMES.contains(&dim)
                || matches!(standard_name.as_str(), "air_pressure" | "height" | "altitude" | "depth")
                || coordinate_says("axis").as_deref() == Some("Z")
            {
                Role::Level
            } else if MEMBER_NAMES.contains(&dim) || standard_name == "realization" {
                Role::Member
            } else {
                Role::Other
            }
        };

        // Data variables: everything on the horizontal grid that is not itself a coordinate.
        let mut candidates = Vec::new();
        // Cell bounds (`lat_bnds(y, x, nv4)`, CF's `bounds`) describe coordinates, not data.
        let bounds: Vec<String> = file
            .variables()
            .filter_map(|v| attr_string(&attributes(&v), "bounds"))
            .collect();
        for var in file.variables() {
            let name = var.name();
            let dims: Vec<String> = var.dimensions().iter().map(|d| d.name()).collect();
            if is_axis(&file, &var) || bounds.contains(&name) {
                continue;
            }
            if auxiliary
                .as_ref()
                .is_some_and(|a| a.latitude_name == name || a.longitude_name == name)
            {
                continue;
            }
            let roles: Vec<Role> = dims.iter().map(|d| role_of(d)).collect();
            let has = |r: Role| roles.iter().filter(|&&x| x == r).count() == 1;
            let point_set = auxiliary.as_ref().is_some_and(|a| a.dimensions.len() == 1);
            if !((has(Role::Latitude) || point_set) && has(Role::Longitude)) {
                continue;
            }
            if let Some(a) = &auxiliary
                && a.dimensions.len() == 2
                && roles.iter().position(|&r| r == Role::Latitude) > roles.iter().position(|&r| r == Role::Longitude)
            {
                return Err(IngestError::variable(
                    path,
                    &name,
                    format!(
                        "stored as ({}, {}): vejr reads (y, x) order only",
                        a.dimensions[1], a.dimensions[0]
                    ),
                ));
            }
            candidates.push((name, dims, roles));
        }
        if candidates.is_empty() {
            let absent = crate::netcdf_grid_mapping::absent_coordinates(&file);
            return Err(IngestError::netcdf(
                path,
                format!(
                    "no variable on a latitude × longitude grid{}",
                    absent.unwrap_or_default()
                ),
            ));
        }

        let dim_named = |role: Role| -> Option<String> {
            candidates
                .iter()
                .find_map(|(_, dims, roles)| roles.iter().position(|&r| r == role).map(|i| dims[i].clone()))
        };
        let (lat_dim, lon_dim) = (
            dim_named(Role::Latitude).unwrap_or_default(),
            dim_named(Role::Longitude).expect("checked above"),
        );
        let (grid, reorder) = match &auxiliary {
            Some(aux) => {
                let kind = crate::netcdf_grid_mapping::grid_kind(&file, path, &candidates[0].0, aux)?;
                let shape = aux.shape(&file);
                let grid = Grid::from_points(kind, shape, aux.latitudes.clone(), aux.longitudes.clone()).map_err(
                    |message| IngestError::Grid {
                        path: path.to_owned(),
                        message,
                    },
                )?;
                let reorder = Reorder {
                    rows: (0..shape.0).collect(),
                    columns: (0..shape.1).collect(),
                };
                (grid, reorder)
            }
            None => {
                let latitudes = coordinate_values(&file, path, &lat_dim)?;
                let longitudes = coordinate_values(&file, path, &lon_dim)?;
                let kind = if is_evenly_spaced(&latitudes) {
                    GridKind::RegularLatLon
                } else {
                    GridKind::RegularGaussian { n: latitudes.len() / 2 }
                };
                Grid::from_file_coordinates(kind, &latitudes, &longitudes).map_err(|message| IngestError::Grid {
                    path: path.to_owned(),
                    message,
                })?
            }
        };

        // The leading axis: time if there is one, else the one non-spatial axis the data has.
        let time = match dim_named(Role::Time) {
            Some(dim) => TimeAxis::Valid(read_time(&file, path, &dim, hints)?),
            None => match dim_named(Role::Other) {
                Some(dim) => {
                    let values = match axis_variable(&file, &dim) {
                        Some(_) => coordinate_values(&file, path, &dim)?,
                        None => (0..file.dimension_len(&dim).unwrap_or(0)).map(|i| i as f64).collect(),
                    };
                    TimeAxis::Other { name: dim, values }
                }
                None => TimeAxis::Absent,
            },
        };
        if hints.time_dimension.is_some() && !matches!(time, TimeAxis::Valid(_)) {
            return Err(IngestError::Time {
                path: path.to_owned(),
                message: format!(
                    "the config names time dimension {:?}, which no data variable has",
                    hints.time_dimension.as_deref().unwrap_or("")
                ),
            });
        }
        let members: Vec<i64> = match dim_named(Role::Member) {
            Some(dim) => coordinate_values(&file, path, &dim)?
                .into_iter()
                .map(|m| m as i64)
                .collect(),
            None => vec![0],
        };

        let mut infos = Vec::new();
        let mut variables = Vec::new();
        for (name, dims, roles) in candidates {
            let var = file.variable(&name).expect("listed above");
            let attrs = attributes(&var);
            for (dim, role) in dims.iter().zip(&roles) {
                let expected = match role {
                    Role::Latitude => Some(&lat_dim),
                    Role::Longitude => Some(&lon_dim),
                    _ => None,
                };
                if let Some(expected) = expected
                    && dim != expected
                {
                    return Err(IngestError::variable(
                        path,
                        &name,
                        format!("on dimension {dim}, other variables on {expected}"),
                    ));
                }
            }
            if roles.iter().filter(|&&r| r == Role::Other).count() > usize::from(matches!(time, TimeAxis::Other { .. }))
            {
                return Err(IngestError::variable(
                    path,
                    &name,
                    format!("has dimensions {dims:?}, more than time, level, member, latitude and longitude"),
                ));
            }
            let (level_type, file_levels) = match roles.iter().position(|&r| r == Role::Level) {
                Some(i) => level_axis(&file, path, &dims[i])?,
                None => (LevelType::Surface, vec![0.0]),
            };
            let mut level_order: Vec<usize> = (0..file_levels.len()).collect();
            if level_type == LevelType::Pressure {
                level_order.sort_by(|&a, &b| file_levels[a].total_cmp(&file_levels[b]));
            }
            let levels: Vec<f64> = level_order.iter().map(|&i| file_levels[i]).collect();
            let mut fills: Vec<f64> = ["_FillValue", "missing_value"]
                .iter()
                .filter_map(|key| attrs.get(*key).cloned())
                .flat_map(attribute_numbers)
                .collect();
            if !attrs.contains_key("_FillValue") && is_float_type(&var) {
                fills.push(NC_FILL_FLOAT);
                fills.push(NC_FILL_FLOAT as f32 as f64);
            }
            let packing = Packing {
                scale: attr_number(&attrs, "scale_factor").unwrap_or(1.0),
                offset: attr_number(&attrs, "add_offset").unwrap_or(0.0),
                fills,
            };
            let mut info = VariableInfo {
                // vejr's own forecasts name 2t `t2m`, as the CDS does, and keep the store's name.
                name: attr_string(&attrs, "vejr_store_name").unwrap_or_else(|| name.clone()),
                long_name: attr_string(&attrs, "long_name"),
                standard_name: attr_string(&attrs, "standard_name"),
                units: attr_string(&attrs, "units"),
                level_type,
                levels,
                // cfgrib and ecCodes-converted files keep the GRIB parameter.
                param_id: attr_number(&attrs, "GRIB_paramId").map(|p| p as i64),
            };
            hints
                .apply(&name, &mut info)
                .map_err(|m| IngestError::variable(path, &name, m))?;
            let shape = var.dimensions().iter().map(|d| d.len()).collect();
            infos.push(info);
            variables.push(DataVariable {
                file_name: name,
                roles,
                shape,
                level_order,
                packing,
            });
        }
        for name in hints.variables.keys() {
            if !variables.iter().any(|v| &v.file_name == name) {
                return Err(IngestError::variable(
                    path,
                    name,
                    "named in the config but not in the file",
                ));
            }
        }

        let reference_time = forecast_reference_time(&file, path)?;
        let header = Header {
            path: path.to_owned(),
            format,
            grid,
            time,
            members,
            variables: infos,
            reference_time,
            grib_messages: None,
        };
        Ok(Self {
            header,
            file: Mutex::new(file),
            variables,
            reorder,
        })
    }
}

impl FieldSource for NetcdfSource {
    fn header(&self) -> &Header {
        &self.header
    }

    fn read(&self, variable: usize, time: usize) -> Result<Vec<f32>> {
        quiet_hdf5_on_this_thread();
        let var = &self.variables[variable];
        let path = &self.header.path;
        let raw: Vec<f64> = {
            let file = self.file.lock().unwrap_or_else(|e| e.into_inner());
            let nc = file.variable(&var.file_name).expect("variable listed at open");
            let extents: Vec<netcdf::Extent> = var
                .roles
                .iter()
                .map(|role| match role {
                    Role::Time | Role::Other => (time..time + 1).into(),
                    _ => (..).into(),
                })
                .collect();
            nc.get_values::<f64, _>(extents)
                .map_err(|e| IngestError::variable(path, &var.file_name, e.to_string()))?
        };

        // Strides of the slab as read (the leading axis has length one and drops out).
        let mut strides = vec![0usize; var.shape.len()];
        let mut stride = 1;
        for (i, role) in var.roles.iter().enumerate().rev() {
            strides[i] = stride;
            if !matches!(role, Role::Time | Role::Other) {
                stride *= var.shape[i];
            }
        }
        let find = |role: Role| var.roles.iter().position(|&r| r == role);
        let axis = |role: Role| find(role).map(|i| (var.shape[i], strides[i])).unwrap_or((1, 0));
        let (levels, level_stride) = axis(Role::Level);
        let (members, member_stride) = axis(Role::Member);
        let (_, lat_stride) = axis(Role::Latitude);
        let (_, lon_stride) = axis(Role::Longitude);

        let points = self.header.grid.len();
        let mut out = Vec::with_capacity(levels * members * points);
        for l in 0..levels {
            for m in 0..members {
                let base = var.level_order[l] * level_stride + m * member_stride;
                for &r in &self.reorder.rows {
                    let row = base + r * lat_stride;
                    out.extend(
                        self.reorder
                            .columns
                            .iter()
                            .map(|&c| var.packing.decode(raw[row + c * lon_stride])),
                    );
                }
            }
        }
        Ok(out)
    }
}

/// netCDF reads a cut-short classic file as if complete, with zeros for the missing bytes.
fn refuse_truncated_classic(file: &netcdf::File, path: &Path) -> Result<()> {
    let mut magic = [0u8; 4];
    let length = std::fs::File::open(path)
        .and_then(|mut f| {
            std::io::Read::read_exact(&mut f, &mut magic)?;
            Ok(f.metadata()?.len())
        })
        .map_err(|e| IngestError::io(path, e))?;
    let Some(layout) = crate::classic_format_size::layout(file, &magic) else {
        return Ok(());
    };
    match layout.cut(length) {
        None => Ok(()),
        Some(what) => Err(IngestError::netcdf(
            path,
            format!(
                "truncated: {what} is cut off (the file has {length} bytes, its header declares at least {})",
                layout.needed()
            ),
        )),
    }
}

fn netcdf_format(path: &Path) -> String {
    let mut magic = [0u8; 4];
    let read = std::fs::File::open(path).and_then(|mut f| std::io::Read::read_exact(&mut f, &mut magic));
    match (read, magic) {
        (Ok(()), [b'C', b'D', b'F', 1]) => "NetCDF3 classic".into(),
        (Ok(()), [b'C', b'D', b'F', 2]) => "NetCDF3 64-bit offset".into(),
        (Ok(()), [b'C', b'D', b'F', 5]) => "NetCDF3 64-bit data".into(),
        (Ok(()), [0x89, b'H', b'D', b'F']) => "NetCDF4/HDF5".into(),
        _ => "NetCDF".into(),
    }
}
