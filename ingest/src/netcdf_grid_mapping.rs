//! NetCDF grids that are not latitude × longitude axes: CF projections (`grid_mapping` with
//! `x`/`y` and 2-D `latitude`/`longitude`, as DANRA, MEPS and vejr's own outputs have them),
//! other curvilinear grids (2-D coordinates only) and unstructured points (1-D `values` with
//! latitude and longitude per point, as cfgrib writes reduced Gaussian fields).

use std::path::Path;

use crate::error::{IngestError, Result};
use crate::grid::GridKind;
use crate::projection::{LambertConformal, PlaneGrid, PolarStereographic, RotatedLatLon, Scanning};

/// Per-point coordinates found as auxiliary coordinate variables.
pub(crate) struct AuxiliaryCoordinates {
    /// The horizontal dimensions: (y, x), or the one dimension of a point set.
    pub dimensions: Vec<String>,
    pub latitude_name: String,
    pub longitude_name: String,
    pub latitudes: Vec<f64>,
    pub longitudes: Vec<f64>,
}

impl AuxiliaryCoordinates {
    pub fn shape(&self, file: &netcdf::File) -> (usize, usize) {
        let len = |d: &str| file.dimension_len(d).unwrap_or(0);
        match self.dimensions.as_slice() {
            [y, x] => (len(y), len(x)),
            [points] => (1, len(points)),
            _ => (0, 0),
        }
    }
}

/// A text attribute.
fn string(var: &netcdf::Variable, key: &str) -> Option<String> {
    match var.attribute_value(key).and_then(|a| a.ok()) {
        Some(netcdf::AttributeValue::Str(s)) => Some(s),
        _ => None,
    }
}

/// Why no grid was found, when the file tells: an ICON field without coordinates (they are in
/// the run's grid file), or "; V's coordinates (lat lon) are not in the file" for a variable
/// whose `coordinates` attribute names variables the file lacks (NCL's conversions of NCEP
/// GRIB name 2-D coordinates they did not write).
pub(crate) fn absent_coordinates(file: &netcdf::File) -> Option<String> {
    // ICON writes its fields without coordinates; they are in the run's grid file.
    let icon = file.variables().find_map(|var| {
        (string(&var, "grid_type").as_deref() == Some("unstructured") && string(&var, "coordinates").is_none()).then(|| {
            format!(
                "; {} is on an unstructured grid whose coordinates are in a separate grid file (ICON's): add them first (cdo setgrid,GRIDFILE)",
                var.name()
            )
        })
    });
    icon.or_else(|| {
        file.variables().find_map(|var| {
            let named = string(&var, "coordinates")?;
            let missing: Vec<&str> = named
                .split_whitespace()
                .filter(|c| file.variable(c).is_none())
                .collect();
            (!missing.is_empty()).then(|| {
                format!(
                    "; {}'s coordinates ({}) are not in the file",
                    var.name(),
                    missing.join(" ")
                )
            })
        })
    })
}

/// Latitude and longitude variables that are not axes of their own (`lat(y, x)`, `lat(values)`),
/// or, for a rotated grid that has only its rotated axes (EURO-CORDEX files after CDO), the
/// points those axes and the pole give.
pub(crate) fn auxiliary_coordinates(
    file: &netcdf::File,
    path: &Path,
    latitude_names: &[&str],
    longitude_names: &[&str],
) -> Result<Option<AuxiliaryCoordinates>> {
    let find = |names: &[&str], standard_name: &str, units: &str| {
        file.variables().find(|v| {
            let dims: Vec<String> = v.dimensions().iter().map(|d| d.name()).collect();
            let is_axis = crate::netcdf_axes::is_axis(file, v);
            let says = |key: &str, value: &str| {
                v.attribute_value(key)
                    .and_then(|a| a.ok())
                    .is_some_and(|a| matches!(a, netcdf::AttributeValue::Str(s) if s == value))
            };
            !is_axis
                && (1..=2).contains(&dims.len())
                && (names.contains(&v.name().as_str()) || says("standard_name", standard_name) || says("units", units))
        })
    };
    let (Some(lat), Some(lon)) = (
        find(latitude_names, "latitude", "degrees_north"),
        find(longitude_names, "longitude", "degrees_east"),
    ) else {
        return rotated_axes(file, path);
    };
    let dims = |v: &netcdf::Variable| v.dimensions().iter().map(|d| d.name()).collect::<Vec<_>>();
    if dims(&lat) != dims(&lon) {
        return Err(IngestError::Grid {
            path: path.to_owned(),
            message: format!(
                "{}{:?} and {}{:?} are on different dimensions",
                lat.name(),
                dims(&lat),
                lon.name(),
                dims(&lon)
            ),
        });
    }
    // ICON's and SCRIP's cell centres come in radians.
    let values = |v: &netcdf::Variable| {
        let scale = match string(v, "units").as_deref() {
            Some("radian" | "radians") => 180.0 / std::f64::consts::PI,
            _ => 1.0,
        };
        v.get_values::<f64, _>(..)
            .map(|values| values.into_iter().map(|x| x * scale).collect::<Vec<f64>>())
            .map_err(|e| IngestError::variable(path, &v.name(), e.to_string()))
    };
    Ok(Some(AuxiliaryCoordinates {
        dimensions: dims(&lat),
        latitude_name: lat.name(),
        longitude_name: lon.name(),
        latitudes: values(&lat)?,
        longitudes: values(&lon)?,
    }))
}

/// The points of a rotated grid given by its 1-D `grid_latitude` and `grid_longitude` axes and a
/// `rotated_latitude_longitude` grid mapping alone, row-major over (rotated latitude, rotated
/// longitude). None when the file has no such grid.
fn rotated_axes(file: &netcdf::File, path: &Path) -> Result<Option<AuxiliaryCoordinates>> {
    let axis = |standard_name: &str| {
        file.variables().find(|v| {
            let dims: Vec<String> = v.dimensions().iter().map(|d| d.name()).collect();
            dims.len() == 1 && dims[0] == v.name() && string(v, "standard_name").as_deref() == Some(standard_name)
        })
    };
    let mapping = file
        .variables()
        .find(|v| string(v, "grid_mapping_name").as_deref() == Some("rotated_latitude_longitude"));
    let (Some(rlat), Some(rlon), Some(mapping)) = (axis("grid_latitude"), axis("grid_longitude"), mapping) else {
        return Ok(None);
    };
    let number = |key: &str| {
        mapping
            .attribute_value(key)
            .and_then(|a| a.ok())
            .and_then(|a| crate::netcdf_reader::attribute_numbers(a).first().copied())
            .ok_or_else(|| IngestError::Grid {
                path: path.to_owned(),
                message: format!("grid_mapping {} has no {key}", mapping.name()),
            })
    };
    let pole = RotatedLatLon::from_north_pole(
        number("grid_north_pole_latitude")?,
        number("grid_north_pole_longitude")?,
    );
    let values = |v: &netcdf::Variable| {
        v.get_values::<f64, _>(..)
            .map_err(|e| IngestError::variable(path, &v.name(), e.to_string()))
    };
    let (ys, xs) = (values(&rlat)?, values(&rlon)?);
    let (latitudes, longitudes) = ys
        .iter()
        .flat_map(|&y| {
            let pole = &pole;
            xs.iter().map(move |&x| pole.geographic(y, x))
        })
        .unzip();
    Ok(Some(AuxiliaryCoordinates {
        dimensions: vec![rlat.name(), rlon.name()],
        latitude_name: rlat.name(),
        longitude_name: rlon.name(),
        latitudes,
        longitudes,
    }))
}

/// A reduced grid as cfgrib (and vejr) write one, rows told by `GRIB_gridType` and found as
/// runs of equal latitude; any other point set is unstructured.
fn reduced_or_unstructured(file: &netcdf::File, data_variable: &str, coordinates: &AuxiliaryCoordinates) -> GridKind {
    let attribute = |key: &str| file.variable(data_variable)?.attribute_value(key)?.ok();
    let grid_type = match attribute("GRIB_gridType") {
        Some(netcdf::AttributeValue::Str(s)) => s,
        _ => return GridKind::Unstructured,
    };
    if coordinates.dimensions.len() != 1 {
        return GridKind::Unstructured;
    }
    let mut points_per_row: Vec<usize> = Vec::new();
    for (p, lat) in coordinates.latitudes.iter().enumerate() {
        if p > 0 && coordinates.latitudes[p - 1] == *lat {
            *points_per_row.last_mut().expect("a row started") += 1;
        } else {
            points_per_row.push(1);
        }
    }
    match grid_type.as_str() {
        "reduced_gg" => GridKind::ReducedGaussian {
            n: attribute("GRIB_N")
                .and_then(|a| crate::netcdf_reader::attribute_numbers(a).first().copied())
                .map_or(points_per_row.len() / 2, |n| n as usize),
            points_per_row,
        },
        "reduced_ll" => GridKind::ReducedLatLon { points_per_row },
        _ => GridKind::Unstructured,
    }
}

/// The grid a data variable's `grid_mapping` names, or an unstructured set of points.
pub(crate) fn grid_kind(
    file: &netcdf::File,
    path: &Path,
    data_variable: &str,
    coordinates: &AuxiliaryCoordinates,
) -> Result<GridKind> {
    let err = |message: String| IngestError::Grid {
        path: path.to_owned(),
        message,
    };
    let Some(mapping_name) = file.variable(data_variable).and_then(|v| string(&v, "grid_mapping")) else {
        return Ok(reduced_or_unstructured(file, data_variable, coordinates));
    };
    let mapping = file.variable(&mapping_name).ok_or_else(|| {
        err(format!(
            "{data_variable}: grid_mapping {mapping_name} is not in the file"
        ))
    })?;
    let numbers = |key: &str| -> Vec<f64> {
        mapping
            .attribute_value(key)
            .and_then(|a| a.ok())
            .map(crate::netcdf_reader::attribute_numbers)
            .unwrap_or_default()
    };
    let number = |key: &str| -> Result<f64> {
        numbers(key)
            .first()
            .copied()
            .ok_or_else(|| err(format!("grid_mapping {mapping_name} has no {key}")))
    };
    let earth_radius = numbers("earth_radius").first().copied().unwrap_or(6_371_229.0);
    let [y_dim, x_dim] = coordinates.dimensions.as_slice() else {
        return Err(err(format!(
            "grid_mapping {mapping_name} on one dimension: a projection needs y and x"
        )));
    };
    // Projection coordinates in metres (km when said so), or rotated degrees.
    let axis = |dim: &str| -> Result<Vec<f64>> {
        let var = file
            .variable(dim)
            .ok_or_else(|| err(format!("grid_mapping {mapping_name}: no coordinate variable {dim}")))?;
        let scale = match string(&var, "units").as_deref() {
            Some("km") => 1000.0,
            _ => 1.0,
        };
        let values = var
            .get_values::<f64, _>(..)
            .map_err(|e| IngestError::variable(path, dim, e.to_string()))?;
        if values.len() < 2 {
            return Err(err(format!("{dim}: a projection axis needs two points at least")));
        }
        Ok(values.into_iter().map(|v| v * scale).collect())
    };
    let (y, x) = (axis(y_dim)?, axis(x_dim)?);
    let (dx, dy) = (x[1] - x[0], y[1] - y[0]);
    let scanning = Scanning {
        i_negative: dx < 0.0,
        j_positive: dy > 0.0,
    };
    let plane = PlaneGrid {
        nx: x.len(),
        ny: y.len(),
        first_latitude: coordinates.latitudes[0],
        first_longitude: coordinates.longitudes[0],
        dx: dx.abs(),
        dy: dy.abs(),
        earth_radius,
        scanning,
    };
    let kind = string(&mapping, "grid_mapping_name").unwrap_or_default();
    Ok(match kind.as_str() {
        "lambert_conformal_conic" => {
            let parallels = numbers("standard_parallel");
            let standard_parallels = match parallels.as_slice() {
                [one] => [*one, *one],
                [a, b] => [*a, *b],
                _ => {
                    return Err(err(format!(
                        "grid_mapping {mapping_name}: standard_parallel needs one or two values"
                    )));
                }
            };
            GridKind::LambertConformal(LambertConformal {
                plane,
                origin_latitude: number("latitude_of_projection_origin")?,
                central_meridian: number("longitude_of_central_meridian")?,
                standard_parallels,
            })
        }
        "rotated_latitude_longitude" => {
            let pole_latitude = number("grid_north_pole_latitude")?;
            let pole_longitude = number("grid_north_pole_longitude")?;
            if numbers("north_pole_grid_longitude")
                .first()
                .is_some_and(|v| v.abs() > 1e-9)
            {
                return Err(err(format!(
                    "grid_mapping {mapping_name}: a rotated grid with north_pole_grid_longitude ≠ 0 is not supported"
                )));
            }
            GridKind::RotatedLatLon(RotatedLatLon {
                ni: x.len(),
                nj: y.len(),
                first_latitude: y[0],
                first_longitude: x[0],
                di: dx.abs(),
                dj: dy.abs(),
                south_pole_latitude: -pole_latitude,
                south_pole_longitude: (pole_longitude + 180.0).rem_euclid(360.0),
                earth_radius,
                scanning,
            })
        }
        "polar_stereographic" => {
            let origin = number("latitude_of_projection_origin")?;
            GridKind::PolarStereographic(PolarStereographic {
                plane,
                true_latitude: numbers("standard_parallel").first().copied().unwrap_or(origin),
                orientation: number("straight_vertical_longitude_from_pole")?,
                south_pole: origin < 0.0,
            })
        }
        other => {
            return Err(err(format!(
                "grid_mapping {mapping_name}: {other:?} is not supported (Lambert conformal, rotated lat-lon and polar stereographic are)"
            )));
        }
    })
}
