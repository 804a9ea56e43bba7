//! A forecast's horizontal coordinates on a grid that is not latitudes × longitudes, written
//! as CF has them: a projected grid on dimensions (y, x) with its projection coordinates, 2-D
//! latitude and longitude, and the `grid_mapping` variable DANRA, MEPS and cf-xarray read
//! (CF 1.8 §5.6); a reduced or unstructured grid on one dimension `values` with a latitude and
//! longitude per point, as cfgrib writes reduced Gaussian fields.

use vejr_ingest::{Grid, GridKind};

/// The variable holding the grid mapping's parameters.
pub const GRID_MAPPING: &str = "crs";

/// Writes the coordinates and returns the horizontal dimensions, outermost first.
pub fn write_coordinates(file: &mut netcdf::FileMut, grid: &Grid) -> Result<Vec<&'static str>, netcdf::Error> {
    let points = grid.points.as_ref().expect("a grid given point by point");
    let (ny, nx) = points.shape;
    let axes = match &grid.kind {
        GridKind::LambertConformal(l) => Some(l.axes()),
        GridKind::PolarStereographic(p) => Some(p.axes()),
        GridKind::RotatedLatLon(r) => Some(r.axes()),
        _ => None,
    };
    let horizontal: Vec<&'static str> = if axes.is_some() || ny > 1 {
        vec!["y", "x"]
    } else {
        vec!["values"]
    };
    match horizontal.as_slice() {
        [y, x] => {
            file.add_dimension(y, ny)?;
            file.add_dimension(x, nx)?;
        }
        _ => {
            file.add_dimension("values", nx)?;
        }
    }
    if let Some((x, y)) = axes {
        let rotated = matches!(grid.kind, GridKind::RotatedLatLon(_));
        for (name, values, axis) in [("x", x, "X"), ("y", y, "Y")] {
            let mut v = file.add_variable::<f64>(name, &[name])?;
            let (standard, units) = match (rotated, axis) {
                (true, "X") => ("grid_longitude", "degrees"),
                (true, _) => ("grid_latitude", "degrees"),
                (false, "X") => ("projection_x_coordinate", "m"),
                (false, _) => ("projection_y_coordinate", "m"),
            };
            v.put_attribute("standard_name", standard)?;
            v.put_attribute("long_name", standard)?;
            v.put_attribute("units", units)?;
            v.put_attribute("axis", axis)?;
            v.put_values(&values, ..)?;
        }
        write_grid_mapping(file, &grid.kind)?;
    }
    for (name, values, units) in [
        ("latitude", &points.latitudes, "degrees_north"),
        ("longitude", &points.longitudes, "degrees_east"),
    ] {
        let mut v = file.add_variable::<f64>(name, &horizontal)?;
        v.put_attribute("standard_name", name)?;
        v.put_attribute("long_name", name)?;
        v.put_attribute("units", units)?;
        v.put_values(values, ..)?;
    }
    Ok(horizontal)
}

/// Whether data variables name a grid mapping (projected grids) or only their coordinates.
pub fn has_grid_mapping(grid: &Grid) -> bool {
    matches!(
        grid.kind,
        GridKind::LambertConformal(_) | GridKind::PolarStereographic(_) | GridKind::RotatedLatLon(_)
    )
}

/// A reduced grid has no CF grid mapping: its data variables say what it is as cfgrib writes it
/// (`GRIB_gridType`, `GRIB_N`); the rows are the runs of equal latitude.
pub fn describe_reduced(v: &mut netcdf::VariableMut, grid: &Grid) -> Result<(), netcdf::Error> {
    match &grid.kind {
        GridKind::ReducedGaussian { n, .. } => {
            v.put_attribute("GRIB_gridType", "reduced_gg")?;
            v.put_attribute("GRIB_N", *n as i64)?;
        }
        GridKind::ReducedLatLon { .. } => {
            v.put_attribute("GRIB_gridType", "reduced_ll")?;
        }
        _ => {}
    }
    Ok(())
}

fn write_grid_mapping(file: &mut netcdf::FileMut, kind: &GridKind) -> Result<(), netcdf::Error> {
    let mut v = file.add_variable::<i32>(GRID_MAPPING, &[])?;
    match kind {
        GridKind::LambertConformal(l) => {
            v.put_attribute("grid_mapping_name", "lambert_conformal_conic")?;
            v.put_attribute("standard_parallel", l.standard_parallels.to_vec())?;
            v.put_attribute("longitude_of_central_meridian", l.central_meridian)?;
            v.put_attribute("latitude_of_projection_origin", l.origin_latitude)?;
            v.put_attribute("false_easting", 0.0)?;
            v.put_attribute("false_northing", 0.0)?;
            v.put_attribute("earth_radius", l.plane.earth_radius)?;
        }
        GridKind::PolarStereographic(p) => {
            v.put_attribute("grid_mapping_name", "polar_stereographic")?;
            v.put_attribute("straight_vertical_longitude_from_pole", p.orientation)?;
            v.put_attribute("latitude_of_projection_origin", if p.south_pole { -90.0 } else { 90.0 })?;
            v.put_attribute("standard_parallel", p.true_latitude)?;
            v.put_attribute("false_easting", 0.0)?;
            v.put_attribute("false_northing", 0.0)?;
            v.put_attribute("earth_radius", p.plane.earth_radius)?;
        }
        GridKind::RotatedLatLon(r) => {
            let (pole_latitude, pole_longitude) = r.north_pole();
            v.put_attribute("grid_mapping_name", "rotated_latitude_longitude")?;
            v.put_attribute("grid_north_pole_latitude", pole_latitude)?;
            v.put_attribute("grid_north_pole_longitude", pole_longitude)?;
            v.put_attribute("north_pole_grid_longitude", 0.0)?;
            v.put_attribute("earth_radius", r.earth_radius)?;
        }
        _ => unreachable!("only projections have a grid mapping"),
    }
    Ok(())
}
