//! Bilinear interpolation from one canonical grid onto a regular lat-lon target grid,
//! for stores built at a coarser resolution than the files (ERA5 0.25° → 5.625°, say).

use crate::grid::{Grid, GridKind, wrap_longitude};

/// Regular lat-lon grid with spacing `resolution` over `[north, west, south, east]`, or global.
pub fn regular_grid(resolution: f64, area: Option<[f64; 4]>) -> Result<Grid, String> {
    let [north, west, south, east] = area.unwrap_or([90.0, 0.0, -90.0, 360.0 - resolution]);
    if north < south {
        return Err(format!("area north {north} is south of {south}"));
    }
    let rows = ((north - south) / resolution + 1e-6).floor() as usize + 1;
    let width = (east - west).rem_euclid(360.0);
    let width = if width == 0.0 && east != west { 360.0 } else { width };
    let columns = ((width / resolution + 1e-6).floor() as usize + 1).min((360.0 / resolution).round() as usize);
    let latitudes: Vec<f64> = (0..rows).map(|i| north - i as f64 * resolution).collect();
    let longitudes: Vec<f64> = (0..columns).map(|j| west + j as f64 * resolution).collect();
    Grid::from_file_coordinates(GridKind::RegularLatLon, &latitudes, &longitudes).map(|(g, _)| g)
}

/// Four source points and weights per target point.
pub struct Regridder {
    pub target: Grid,
    neighbours: Vec<[usize; 4]>,
    weights: Vec<[f32; 4]>,
}

impl Regridder {
    /// From a latitude × longitude grid or a reduced grid (linear along each row, then between
    /// the rows, as ECMWF interpolates reduced Gaussian fields) onto any points.
    pub fn new(source: &Grid, target: &Grid) -> Result<Self, String> {
        let rows = SourceRows::of(source)?;
        let global = source.is_global_in_longitude();
        let row_latitudes: Vec<f64> = rows.rows.iter().map(|r| r.latitude).collect();
        let mut neighbours = Vec::with_capacity(target.len());
        let mut weights = Vec::with_capacity(target.len());
        for p in 0..target.len() {
            let (lat, lon) = target.point(p);
            let lon = wrap_longitude(lon);
            let bracket = bracket_latitude(&row_latitudes, lat, global).and_then(|(i0, i1, wy)| {
                let (a, b) = (&rows.rows[i0], &rows.rows[i1]);
                let west = bracket_longitude(&rows.longitudes[a.start..a.start + a.len], lon, a.step, global)?;
                let east = bracket_longitude(&rows.longitudes[b.start..b.start + b.len], lon, b.step, global)?;
                Some((a.start, b.start, wy, west, east))
            });
            match bracket {
                Some((s0, s1, wy, (j0, j1, wx0), (k0, k1, wx1))) => {
                    neighbours.push([s0 + j0, s0 + j1, s1 + k0, s1 + k1]);
                    weights.push([
                        ((1.0 - wy) * (1.0 - wx0)) as f32,
                        ((1.0 - wy) * wx0) as f32,
                        (wy * (1.0 - wx1)) as f32,
                        (wy * wx1) as f32,
                    ]);
                }
                // Outside the source domain: missing, not extrapolated.
                None => {
                    neighbours.push([usize::MAX; 4]);
                    weights.push([0.0; 4]);
                }
            }
        }
        Ok(Self {
            target: target.clone(),
            neighbours,
            weights,
        })
    }

    pub fn apply(&self, field: &[f32], out: &mut Vec<f32>) {
        out.extend(self.neighbours.iter().zip(&self.weights).map(|(n, w)| {
            if n[0] == usize::MAX {
                return f32::NAN;
            }
            let mut value = 0.0;
            for k in 0..4 {
                if w[k] != 0.0 {
                    value += w[k] * field[n[k]];
                }
            }
            value
        }));
    }
}

/// A source grid as rows of points along latitude circles, north to south: each row's points
/// are at `longitudes[start..start + len]`, ascending.
struct SourceRows {
    rows: Vec<SourceRow>,
    longitudes: Vec<f64>,
}

struct SourceRow {
    latitude: f64,
    start: usize,
    len: usize,
    step: f64,
}

impl SourceRows {
    fn of(source: &Grid) -> Result<Self, String> {
        let step = |l: &[f64]| l.windows(2).map(|w| w[1] - w[0]).fold(360.0, f64::min);
        let Some(points) = &source.points else {
            let nx = source.longitudes.len();
            let longitudes: Vec<f64> = (0..source.len()).map(|p| source.longitudes[p % nx]).collect();
            let lon_step = step(&source.longitudes);
            let rows = (0..source.latitudes.len())
                .map(|i| SourceRow {
                    latitude: source.latitudes[i],
                    start: i * nx,
                    len: nx,
                    step: lon_step,
                })
                .collect();
            return Ok(Self { rows, longitudes });
        };
        let points_per_row = match &source.kind {
            GridKind::ReducedGaussian { points_per_row, .. } | GridKind::ReducedLatLon { points_per_row } => {
                points_per_row
            }
            _ => {
                return Err(format!(
                    "interpolating from a {} grid is not supported; store it on its own grid (leave store.grid unset)",
                    source.describe()
                ));
            }
        };
        let mut rows = Vec::with_capacity(points_per_row.len());
        let mut start = 0;
        for &len in points_per_row {
            let row = &points.longitudes[start..start + len];
            if row.windows(2).any(|w| w[1] <= w[0]) {
                return Err("a reduced grid row whose longitudes do not ascend from 0°".into());
            }
            rows.push(SourceRow {
                latitude: points.latitudes[start],
                start,
                len,
                step: step(row),
            });
            start += len;
        }
        rows.sort_by(|a, b| b.latitude.total_cmp(&a.latitude));
        Ok(Self {
            rows,
            longitudes: points.longitudes.clone(),
        })
    }
}

/// Rows above and below `lat` (latitudes descending) and the weight of the lower one.
/// Beyond the outermost rows of a global grid (Gaussian grids stop short of the poles) the
/// nearest row is used; beyond a regional grid the point is outside.
fn bracket_latitude(latitudes: &[f64], lat: f64, global: bool) -> Option<(usize, usize, f64)> {
    let n = latitudes.len();
    let tolerance = 1e-9;
    if lat > latitudes[0] + tolerance {
        return global.then_some((0, 0, 0.0));
    }
    if lat < latitudes[n - 1] - tolerance {
        return global.then_some((n - 1, n - 1, 0.0));
    }
    let i1 = latitudes.iter().position(|&l| l <= lat + tolerance).unwrap_or(n - 1);
    if i1 == 0 || (latitudes[i1] - lat).abs() <= tolerance {
        return Some((i1, i1, 0.0));
    }
    let i0 = i1 - 1;
    let wy = (latitudes[i0] - lat) / (latitudes[i0] - latitudes[i1]);
    Some((i0, i1, wy))
}

/// Columns either side of `lon` (ascending in [0, 360), cyclic) and the weight of the eastern one.
/// A pair further apart than one grid step straddles the outside of a regional domain.
fn bracket_longitude(longitudes: &[f64], lon: f64, step: f64, global: bool) -> Option<(usize, usize, f64)> {
    let n = longitudes.len();
    if let Some(j) = longitudes.iter().position(|&l| (l - lon).abs() < 1e-9) {
        return Some((j, j, 0.0));
    }
    let j1 = longitudes.partition_point(|&l| l < lon);
    let (j0, west) = if j1 == 0 {
        (n - 1, longitudes[n - 1] - 360.0)
    } else {
        (j1 - 1, longitudes[j1 - 1])
    };
    let (j1, east) = if j1 == n {
        (0, longitudes[0] + 360.0)
    } else {
        (j1, longitudes[j1])
    };
    if !global && east - west > step * 1.5 {
        return None;
    }
    Some((j0, j1, (lon - west) / (east - west)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bilinear_is_exact_for_fields_linear_in_lat_and_lon() {
        let source = regular_grid(1.0, None).unwrap();
        let target = regular_grid(2.5, Some([60.0, 10.0, -60.0, 350.0])).unwrap();
        let f = |lat: f64, lon: f64| (2.0 * lat + 0.5 * lon) as f32;
        let field: Vec<f32> = source
            .latitudes
            .iter()
            .flat_map(|&la| source.longitudes.iter().map(move |&lo| f(la, lo)))
            .collect();
        let mut out = Vec::new();
        Regridder::new(&source, &target).unwrap().apply(&field, &mut out);
        for (i, &la) in target.latitudes.iter().enumerate() {
            for (j, &lo) in target.longitudes.iter().enumerate() {
                assert!(
                    (out[i * target.longitudes.len() + j] - f(la, lo)).abs() < 1e-3,
                    "{la} {lo}"
                );
            }
        }
        assert_eq!(regular_grid(5.625, None).unwrap().shape(), (33, 64));
    }

    #[test]
    fn outside_a_regional_source_is_missing() {
        let lons: Vec<f64> = (0..9).map(|j| -10.0 + j as f64).collect();
        let (source, _) = Grid::from_file_coordinates(GridKind::RegularLatLon, &[58.0, 54.0, 50.0], &lons).unwrap();
        let target = regular_grid(1.0, Some([58.0, -12.0, 50.0, -2.0])).unwrap();
        let field = vec![1.0f32; source.len()];
        let mut out = Vec::new();
        Regridder::new(&source, &target).unwrap().apply(&field, &mut out);
        let nx = target.longitudes.len();
        // -12°, -11° lie west of the source domain; -10° .. -2° inside.
        let row: Vec<f32> = out[..nx].to_vec();
        let inside: Vec<bool> = target
            .longitudes
            .iter()
            .map(|&l| !(348.0..350.0).contains(&l))
            .collect();
        for (v, inside) in row.iter().zip(inside) {
            assert_eq!(v.is_nan(), !inside, "{row:?}");
        }
    }
}
