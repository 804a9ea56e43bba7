//! A GRIB message's grid keys as a [`Grid`] and the layout of its values: regular lat-lon
//! and Gaussian grids in any scanning mode, and global reduced Gaussian grids (interpolated to
//! regular rows by [`reduced_gaussian`]).

use std::path::Path;

use eccodes::{KeyRead, KeyedMessage};

use crate::error::{IngestError, Result};
use crate::grib_reader::key;
use crate::grid::{Grid, GridKind, Reorder};
use crate::reduced_gaussian;

/// How a message's values map onto the canonical grid.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Layout {
    Regular {
        ni: usize,
        nj: usize,
        column_major: bool,
        /// Alternative row scanning (scanning mode bit 5): every second row runs the other way.
        alternate_rows: bool,
        reorder: Reorder,
    },
    ReducedGaussian {
        points_per_row: Vec<usize>,
        reorder: Reorder,
    },
}

pub(crate) fn read_grid(msg: &KeyedMessage, path: &Path, number: usize) -> Result<(Grid, Layout)> {
    let grib_error = |message: String| IngestError::Grib {
        path: path.to_owned(),
        message_number: number,
        message,
    };
    let grid_type: String = key(msg, "gridType").map_err(|e| grib_error(e.to_string()))?;
    let l = |name: &str| key::<i64>(msg, name).map_err(|e| grib_error(format!("key {name}: {e}")));
    let d = |name: &str| key::<f64>(msg, name).map_err(|e| grib_error(format!("key {name}: {e}")));
    let grid_error = |message: String| IngestError::Grid {
        path: path.to_owned(),
        message: format!("message {number}: {message}"),
    };
    match grid_type.as_str() {
        "regular_ll" | "regular_gg" => {
            let (ni, nj) = (l("Ni")? as usize, l("Nj")? as usize);
            let alternate_rows = l("alternativeRowScanning").unwrap_or(0) != 0;
            if alternate_rows && l("jPointsAreConsecutive")? == 1 {
                return Err(grib_error(
                    "alternative scanning of columns (j points consecutive) is not supported".into(),
                ));
            }
            let j_positive = l("jScansPositively")? == 1;
            let latitudes: Vec<f64> = if grid_type == "regular_ll" {
                let (lat1, lat2) = (
                    d("latitudeOfFirstGridPointInDegrees")?,
                    d("latitudeOfLastGridPointInDegrees")?,
                );
                linear(lat1, lat2, nj)
            } else {
                let mut lats: Vec<f64> = msg
                    .read_key("distinctLatitudes")
                    .map_err(|e| grib_error(format!("key distinctLatitudes: {e}")))?;
                if lats.len() != nj {
                    return Err(grib_error(format!("{} distinct latitudes for Nj = {nj}", lats.len())));
                }
                lats.sort_by(|a, b| if j_positive { a.total_cmp(b) } else { b.total_cmp(a) });
                lats
            };
            let longitudes = file_longitudes(msg, ni).map_err(grib_error)?;
            let kind = if grid_type == "regular_ll" {
                GridKind::RegularLatLon
            } else {
                GridKind::RegularGaussian { n: l("N")? as usize }
            };
            let (grid, reorder) = Grid::from_file_coordinates(kind, &latitudes, &longitudes).map_err(grid_error)?;
            let column_major = l("jPointsAreConsecutive")? == 1;
            Ok((
                grid,
                Layout::Regular {
                    ni,
                    nj,
                    column_major,
                    alternate_rows,
                    reorder,
                },
            ))
        }
        "reduced_gg" => {
            let n = l("N")? as usize;
            let pl: Vec<i64> = msg.read_key("pl").map_err(|e| grib_error(format!("key pl: {e}")))?;
            let points_per_row: Vec<usize> = pl.iter().map(|&p| p as usize).collect();
            let mut latitudes: Vec<f64> = msg
                .read_key("distinctLatitudes")
                .map_err(|e| grib_error(format!("key distinctLatitudes: {e}")))?;
            latitudes.sort_by(|a, b| b.total_cmp(a));
            if latitudes.len() != points_per_row.len() || l("jScansPositively")? != 0 {
                return Err(grib_error(
                    "only global reduced Gaussian grids scanned north to south are supported".into(),
                ));
            }
            let lon1 = d("longitudeOfFirstGridPointInDegrees")?;
            let lon2 = d("longitudeOfLastGridPointInDegrees")?;
            let widest = *points_per_row.iter().max().unwrap_or(&1) as f64;
            if lon1.abs() > 1e-6 || (lon2 - (360.0 - 360.0 / widest)).abs() > 1e-3 {
                return Err(grib_error(format!(
                    "reduced Gaussian grid is not global in longitude ({lon1}..{lon2}); only global ones are interpolated"
                )));
            }
            let columns = reduced_gaussian::regular_columns(&points_per_row);
            let longitudes: Vec<f64> = (0..columns).map(|i| 360.0 * i as f64 / columns as f64).collect();
            let (grid, reorder) = Grid::from_file_coordinates(GridKind::RegularGaussian { n }, &latitudes, &longitudes)
                .map_err(grid_error)?;
            Ok((
                grid,
                Layout::ReducedGaussian {
                    points_per_row,
                    reorder,
                },
            ))
        }
        other => Err(IngestError::UnsupportedGrid {
            path: path.to_owned(),
            grid_type: other.to_owned(),
            message_number: number,
        }),
    }
}

fn linear(first: f64, last: f64, n: usize) -> Vec<f64> {
    if n == 1 {
        return vec![first];
    }
    (0..n)
        .map(|j| first + (last - first) * j as f64 / (n - 1) as f64)
        .collect()
}

fn file_longitudes(msg: &KeyedMessage, ni: usize) -> std::result::Result<Vec<f64>, String> {
    let d = |name: &str| key::<f64>(msg, name).map_err(|e| format!("key {name}: {e}"));
    let (lon1, lon2) = (
        d("longitudeOfFirstGridPointInDegrees")?,
        d("longitudeOfLastGridPointInDegrees")?,
    );
    let negative = key::<i64>(msg, "iScansNegatively").map_err(|e| e.to_string())? == 1;
    let span = if negative {
        (lon1 - lon2).rem_euclid(360.0)
    } else {
        (lon2 - lon1).rem_euclid(360.0)
    };
    let sign = if negative { -1.0 } else { 1.0 };
    Ok(if ni == 1 {
        vec![lon1]
    } else {
        (0..ni)
            .map(|i| lon1 + sign * span * i as f64 / (ni - 1) as f64)
            .collect()
    })
}
