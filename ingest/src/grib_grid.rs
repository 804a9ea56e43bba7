//! A GRIB message's grid keys as a [`Grid`] and the layout of its values: regular lat-lon
//! and Gaussian grids in any scanning mode; Lambert conformal, rotated lat-lon, polar
//! stereographic, reduced Gaussian and reduced lat-lon grids kept as their own points, with the
//! coordinates ecCodes computes for them.

use std::path::Path;

use eccodes::{KeyRead, KeyedMessage};

use crate::error::{IngestError, Result};
use crate::grib_reader::key;
use crate::grid::{Grid, GridKind, Reorder};
use crate::projection::{LambertConformal, PlaneGrid, PolarStereographic, RotatedLatLon, Scanning};

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
    /// One value per point: the file's order, or with `order` set, row `j` and column `i` of
    /// the grid is file value `order[j * nx + i]` (a structured grid scanned with alternate
    /// rows, put in plain row order).
    Points { count: usize, order: Option<Vec<usize>> },
}

pub(crate) fn read_grid(msg: &KeyedMessage, path: &Path, number: usize) -> Result<(Grid, Layout)> {
    let grib_error = |message: String| IngestError::Grib {
        path: path.to_owned(),
        message_number: number,
        message,
    };
    let grid_type: String = key(msg, "gridType").map_err(|e| grib_error(format!("key gridType: {e}")))?;
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
        "lambert" | "rotated_ll" | "polar_stereographic" | "reduced_gg" | "reduced_ll" => {
            let kind = point_grid_kind(&grid_type, msg).map_err(grib_error)?;
            let latitudes: Vec<f64> = msg
                .read_key("latitudes")
                .map_err(|e| grib_error(format!("key latitudes: {e}")))?;
            let longitudes: Vec<f64> = msg
                .read_key("longitudes")
                .map_err(|e| grib_error(format!("key longitudes: {e}")))?;
            let shape = match &kind {
                GridKind::LambertConformal(g) => (g.plane.ny, g.plane.nx),
                GridKind::RotatedLatLon(g) => (g.nj, g.ni),
                GridKind::PolarStereographic(g) => (g.plane.ny, g.plane.nx),
                _ => (1, latitudes.len()),
            };
            let count = latitudes.len();
            let order = plain_row_order(msg, shape).map_err(grib_error)?;
            // Whether ecCodes lists the points in the file's order (row 1 then starts at the far
            // end) or already in plain row order (its Lambert iterator does): the first point of
            // row 1 lies next to the first of row 0.
            let coordinates_in_file_order = order.is_some() && {
                let chord = |a: usize, b: usize| {
                    let xyz = |k: usize| {
                        let (la, lo) = (latitudes[k].to_radians(), longitudes[k].to_radians());
                        [la.cos() * lo.cos(), la.cos() * lo.sin(), la.sin()]
                    };
                    let (p, q) = (xyz(a), xyz(b));
                    (0..3).map(|k| (p[k] - q[k]).powi(2)).sum::<f64>()
                };
                let nx = shape.1;
                chord(0, 2 * nx - 1) < chord(0, nx)
            };
            let (latitudes, longitudes) = match &order {
                Some(o) if coordinates_in_file_order => (
                    o.iter().map(|&k| latitudes[k]).collect(),
                    o.iter().map(|&k| longitudes[k]).collect(),
                ),
                _ => (latitudes, longitudes),
            };
            let mut kind = kind;
            directions_from_points(&mut kind, &latitudes, &longitudes, shape);
            let grid = Grid::from_points(kind, shape, latitudes, longitudes).map_err(grid_error)?;
            Ok((grid, Layout::Points { count, order }))
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

/// The definition of a grid vejr keeps as points, from the message's grid keys.
fn point_grid_kind(grid_type: &str, msg: &KeyedMessage) -> std::result::Result<GridKind, String> {
    let l = |name: &str| key::<i64>(msg, name).map_err(|e| format!("key {name}: {e}"));
    let d = |name: &str| key::<f64>(msg, name).map_err(|e| format!("key {name}: {e}"));
    // The points are put in plain row order on read (`plain_row_order`): what is kept is the
    // direction of the first row and of the rows.
    let scanning = || -> std::result::Result<Scanning, String> {
        Ok(Scanning {
            i_negative: l("iScansNegatively")? == 1,
            j_positive: l("jScansPositively")? == 1,
        })
    };
    let earth_radius = || -> std::result::Result<f64, String> {
        d("radius").map_err(|_| {
            format!(
                "{grid_type} grid on an ellipsoidal Earth (shapeOfTheEarth {}) is not supported; vejr's projections are spherical",
                l("shapeOfTheEarth").unwrap_or(-1)
            )
        })
    };
    let points_per_row = || -> std::result::Result<Vec<usize>, String> {
        let pl: Vec<i64> = msg.read_key("pl").map_err(|e| format!("key pl: {e}"))?;
        Ok(pl.iter().map(|&p| p as usize).collect())
    };
    let plane = || -> std::result::Result<PlaneGrid, String> {
        let (dx, dy) = (d("DxInMetres")?, d("DyInMetres")?);
        if !(dx > 0.0 && dy > 0.0) {
            return Err(format!(
                "{grid_type} grid with spacing Dx = {dx} m, Dy = {dy} m: every point would coincide"
            ));
        }
        Ok(PlaneGrid {
            nx: l("Nx")? as usize,
            ny: l("Ny")? as usize,
            first_latitude: d("latitudeOfFirstGridPointInDegrees")?,
            first_longitude: d("longitudeOfFirstGridPointInDegrees")?,
            dx,
            dy,
            earth_radius: earth_radius()?,
            scanning: scanning()?,
        })
    };
    Ok(match grid_type {
        "lambert" => GridKind::LambertConformal(LambertConformal {
            plane: plane()?,
            origin_latitude: d("LaDInDegrees")?,
            central_meridian: d("LoVInDegrees")?,
            standard_parallels: [d("Latin1InDegrees")?, d("Latin2InDegrees")?],
        }),
        "rotated_ll" => {
            let angle = d("angleOfRotationInDegrees").unwrap_or(0.0);
            if angle.abs() > 1e-9 {
                return Err(format!(
                    "rotated grid with an angle of rotation ({angle}°) is not supported"
                ));
            }
            GridKind::RotatedLatLon(RotatedLatLon {
                ni: l("Ni")? as usize,
                nj: l("Nj")? as usize,
                first_latitude: d("latitudeOfFirstGridPointInDegrees")?,
                first_longitude: d("longitudeOfFirstGridPointInDegrees")?,
                di: d("iDirectionIncrementInDegrees")?,
                dj: d("jDirectionIncrementInDegrees")?,
                south_pole_latitude: d("latitudeOfSouthernPoleInDegrees")?,
                south_pole_longitude: d("longitudeOfSouthernPoleInDegrees")?,
                earth_radius: earth_radius()?,
                scanning: scanning()?,
            })
        }
        "polar_stereographic" => GridKind::PolarStereographic(PolarStereographic {
            plane: plane()?,
            true_latitude: d("LaDInDegrees")?,
            orientation: d("orientationOfTheGridInDegrees")?,
            south_pole: l("southPoleOnProjectionPlane")? == 1,
        }),
        "reduced_gg" => GridKind::ReducedGaussian {
            n: l("N")? as usize,
            points_per_row: points_per_row()?,
        },
        "reduced_ll" => GridKind::ReducedLatLon {
            points_per_row: points_per_row()?,
        },
        other => unreachable!("{other} is not a point grid"),
    })
}

/// The permutation that puts a structured grid scanned with alternate rows (NDFD's
/// boustrophedon) in plain row order, None when it already is.
fn plain_row_order(msg: &KeyedMessage, (ny, nx): (usize, usize)) -> std::result::Result<Option<Vec<usize>>, String> {
    let l = |name: &str| key::<i64>(msg, name).map_err(|e| format!("key {name}: {e}"));
    let by_columns = l("jPointsAreConsecutive")? != 0;
    let alternate = l("alternativeRowScanning").unwrap_or(0) != 0;
    if by_columns {
        // Which way ecCodes lists such points cannot be told from distances (a transposed grid
        // looks as regular), and no operational projected grid is scanned so.
        return Err("a projected grid scanned by columns (jPointsAreConsecutive) is not supported".into());
    }
    if !alternate {
        return Ok(None);
    }
    if ny < 2 {
        return Err("a grid without rows scanned with alternate rows".into());
    }
    Ok(Some(
        (0..ny)
            .flat_map(|j| (0..nx).map(move |i| (j, i)))
            // Every second row runs back.
            .map(|(j, i)| j * nx + if j % 2 == 1 { nx - 1 - i } else { i })
            .collect(),
    ))
}

/// The directions of a projected grid's rows and columns as its points run, in projection
/// coordinates. They are what the scanning keys say, except where an ecCodes iterator lists
/// the points another way (its polar stereographic one runs rows towards +y whatever
/// `jScansPositively` says): the CF axes written later must follow the points as stored.
fn directions_from_points(kind: &mut GridKind, latitudes: &[f64], longitudes: &[f64], (ny, nx): (usize, usize)) {
    let projection: &GridKind = kind;
    let forward = |p: usize| match projection {
        GridKind::LambertConformal(l) => Some(l.forward(latitudes[p], longitudes[p])),
        GridKind::PolarStereographic(s) => Some(s.forward(latitudes[p], longitudes[p])),
        _ => None,
    };
    let (Some(first), Some(along), Some(down)) = (
        forward(0),
        (nx > 1).then(|| forward(1)).flatten(),
        (ny > 1).then(|| forward(nx)).flatten(),
    ) else {
        return;
    };
    let scanning = match kind {
        GridKind::LambertConformal(l) => &mut l.plane.scanning,
        GridKind::PolarStereographic(s) => &mut s.plane.scanning,
        _ => return,
    };
    scanning.i_negative = along.0 < first.0;
    scanning.j_positive = down.1 > first.1;
}
