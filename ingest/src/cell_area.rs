//! The area of the sphere each grid point stands for, so losses and scores weigh a place by its
//! size whatever the grid: a latitude band's share on latitude × longitude grids, the band split
//! among a row's points on reduced grids, and on projected and curvilinear grids the area the
//! points themselves span (a conformal projection's cells shrink as 1/k² away from its true
//! latitude: a hemispheric polar-stereographic grid's cells at 30°N cover 0.65 of those at 60°N).

use crate::grid::{Grid, GridKind};

type Vec3 = [f64; 3];

fn unit_vector(latitude: f64, longitude: f64) -> Vec3 {
    let (lat, lon) = (latitude.to_radians(), longitude.to_radians());
    [lat.cos() * lon.cos(), lat.cos() * lon.sin(), lat.sin()]
}

fn minus(a: Vec3, b: Vec3) -> Vec3 {
    [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
}

fn cross_norm(a: Vec3, b: Vec3) -> f64 {
    let c = [
        a[1] * b[2] - a[2] * b[1],
        a[2] * b[0] - a[0] * b[2],
        a[0] * b[1] - a[1] * b[0],
    ];
    (c[0] * c[0] + c[1] * c[1] + c[2] * c[2]).sqrt()
}

/// Steradians per point, in the data's order (row-major). Points with no structure to tell
/// their areas (an unstructured set, a grid of one row or column) weigh alike.
pub fn cell_areas(grid: &Grid) -> Vec<f64> {
    match (&grid.kind, &grid.points) {
        (_, None) => latitude_bands(&grid.latitudes)
            .into_iter()
            .flat_map(|band| std::iter::repeat_n(band / grid.longitudes.len() as f64, grid.longitudes.len()))
            .collect(),
        (GridKind::ReducedGaussian { points_per_row, .. } | GridKind::ReducedLatLon { points_per_row }, Some(p)) => {
            reduced(&p.latitudes, points_per_row).unwrap_or_else(|| equal(grid.len()))
        }
        (GridKind::Unstructured, _) => equal(grid.len()),
        (_, Some(p)) => structured(&p.latitudes, &p.longitudes, p.shape).unwrap_or_else(|| equal(grid.len())),
    }
}

fn equal(points: usize) -> Vec<f64> {
    vec![4.0 * std::f64::consts::PI / points.max(1) as f64; points]
}

/// The band between the midpoints to the neighbouring latitudes, as 2π |sin a − sin b|; the
/// first and last rows reach as far beyond themselves as to their neighbour, up to a pole.
fn latitude_bands(latitudes: &[f64]) -> Vec<f64> {
    let n = latitudes.len();
    if n < 2 {
        return vec![4.0 * std::f64::consts::PI; n];
    }
    (0..n)
        .map(|i| {
            let lat = latitudes[i];
            let a = if i > 0 {
                (lat + latitudes[i - 1]) / 2.0
            } else {
                lat + (lat - latitudes[1]) / 2.0
            };
            let b = if i + 1 < n {
                (lat + latitudes[i + 1]) / 2.0
            } else {
                lat + (lat - latitudes[n - 2]) / 2.0
            };
            let sine = |l: f64| l.clamp(-90.0, 90.0).to_radians().sin();
            2.0 * std::f64::consts::PI * (sine(a) - sine(b)).abs()
        })
        .collect()
}

/// Each row's band shared by its points (rows of no points, as ecCodes' reduced_ll sample has,
/// left out); None when the rows do not match the points.
fn reduced(latitudes: &[f64], points_per_row: &[usize]) -> Option<Vec<f64>> {
    if points_per_row.iter().sum::<usize>() != latitudes.len() {
        return None;
    }
    let rows: Vec<usize> = points_per_row.iter().copied().filter(|&n| n > 0).collect();
    let mut row_latitudes = Vec::with_capacity(rows.len());
    let mut at = 0;
    for &n in &rows {
        row_latitudes.push(latitudes[at]);
        at += n;
    }
    let bands = latitude_bands(&row_latitudes);
    Some(
        bands
            .iter()
            .zip(&rows)
            .flat_map(|(band, &n)| std::iter::repeat_n(band / n as f64, n))
            .collect(),
    )
}

/// |∂r/∂i × ∂r/∂j| of the points' unit vectors, by central differences (one-sided at the
/// edges): the area of the parallelogram a cell spans on the sphere, exact to second order on
/// a smooth grid. None for a grid of one row or one column.
fn structured(latitudes: &[f64], longitudes: &[f64], (ny, nx): (usize, usize)) -> Option<Vec<f64>> {
    if ny < 2 || nx < 2 || latitudes.len() != ny * nx {
        return None;
    }
    let r: Vec<Vec3> = latitudes
        .iter()
        .zip(longitudes)
        .map(|(&lat, &lon)| unit_vector(lat, lon))
        .collect();
    let difference = |at: usize, step: usize, index: usize, count: usize| -> Vec3 {
        let (before, after) = (index.saturating_sub(1), (index + 1).min(count - 1));
        let d = minus(r[at + (after - index) * step], r[at - (index - before) * step]);
        let span = (after - before) as f64;
        [d[0] / span, d[1] / span, d[2] / span]
    };
    Some(
        (0..ny * nx)
            .map(|p| {
                let (j, i) = (p / nx, p % nx);
                cross_norm(difference(p, 1, i, nx), difference(p, nx, j, ny))
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grid::PointCoordinates;
    use crate::projection::{PlaneGrid, PolarStereographic, Scanning};

    const SPHERE: f64 = 4.0 * std::f64::consts::PI;

    fn relative_error(a: f64, b: f64) -> f64 {
        (a - b).abs() / b.abs()
    }

    #[test]
    fn a_global_latitude_longitude_grid_covers_the_sphere_and_shrinks_with_cos_latitude() {
        let grid = Grid {
            kind: GridKind::RegularLatLon,
            latitudes: (0..=180).map(|i| 90.0 - i as f64).collect(),
            longitudes: (0..360).map(f64::from).collect(),
            points: None,
        };
        let areas = cell_areas(&grid);
        assert!(relative_error(areas.iter().sum(), SPHERE) < 1e-12);
        // 60°N against the equator: cos 60° = 0.5.
        let (at_60, at_0) = (areas[30 * 360], areas[90 * 360]);
        assert!(relative_error(at_60 / at_0, 0.5) < 1e-3, "{}", at_60 / at_0);
    }

    #[test]
    fn points_of_a_latitude_longitude_grid_get_the_areas_of_its_cells() {
        // The same 1° grid over 30–70°N given point by point (as a curvilinear NetCDF file
        // would): the spanned areas equal the bands' to second order.
        let (lats, lons): (Vec<f64>, Vec<f64>) = (0..=40)
            .flat_map(|j| (0..50).map(move |i| (70.0 - j as f64, 300.0 + i as f64)))
            .unzip();
        let grid = Grid {
            kind: GridKind::Unstructured,
            latitudes: vec![],
            longitudes: vec![],
            points: Some(PointCoordinates {
                shape: (41, 50),
                latitudes: lats.clone(),
                longitudes: lons.clone(),
            }),
        };
        assert!(
            cell_areas(&grid).windows(2).all(|w| w[0] == w[1]),
            "unstructured: alike"
        );
        let structured = structured(&lats, &lons, (41, 50)).unwrap();
        for (p, &lat) in lats.iter().enumerate() {
            let exact = 1f64.to_radians() * 2.0 * (0.5f64.to_radians()).sin() * lat.to_radians().cos();
            assert!(
                relative_error(structured[p], exact) < 1e-3,
                "{lat}: {} vs {exact}",
                structured[p]
            );
        }
    }

    #[test]
    fn polar_stereographic_cells_shrink_as_one_over_the_scale_factor_squared() {
        // A 150 km grid true at 60°N around the pole, out to about 30°N, points from the
        // projection's inverse.
        let plane = PlaneGrid {
            nx: 81,
            ny: 81,
            first_latitude: 0.0,
            first_longitude: 0.0,
            dx: 150_000.0,
            dy: 150_000.0,
            earth_radius: 6_371_229.0,
            scanning: Scanning::default(),
        };
        let projection = PolarStereographic {
            plane,
            true_latitude: 60.0,
            orientation: 0.0,
            south_pole: false,
        };
        // Spherical polar stereographic inverse (Snyder 21-15, 20-14, 20-16).
        let k0 = (1.0 + 60f64.to_radians().sin()) / 2.0;
        let inverse = |x: f64, y: f64| {
            let rho = (x * x + y * y).sqrt();
            let c = 2.0 * (rho / (2.0 * 6_371_229.0 * k0)).atan();
            (90.0 - c.to_degrees(), x.atan2(-y).to_degrees())
        };
        let (mut lats, mut lons) = (vec![], vec![]);
        for j in 0..81 {
            for i in 0..81 {
                let (x, y) = ((i as f64 - 40.0) * 150_000.0, (j as f64 - 40.0) * 150_000.0);
                let (lat, lon) = inverse(x, y);
                lats.push(lat);
                lons.push(lon.rem_euclid(360.0));
            }
        }
        // The points round-trip through vejr's forward formula (the test's inverse is right).
        let (x, y) = projection.forward(lats[0], lons[0]);
        assert!((x + 6e6).abs() < 1.0 && (y + 6e6).abs() < 1.0, "{x} {y}");
        let grid = Grid {
            kind: GridKind::PolarStereographic(projection),
            latitudes: vec![],
            longitudes: vec![],
            points: Some(PointCoordinates {
                shape: (81, 81),
                latitudes: lats.clone(),
                longitudes: lons,
            }),
        };
        let areas = cell_areas(&grid);
        let cell = (150_000.0 / 6_371_229.0f64).powi(2);
        for p in [40 * 81 + 40, 40 * 81 + 60, 20 * 81 + 40, 70 * 81 + 75, 3 * 81 + 5] {
            let k = (1.0 + 60f64.to_radians().sin()) / (1.0 + lats[p].to_radians().sin());
            assert!(
                relative_error(areas[p], cell / (k * k)) < 5e-3,
                "at {:.1}°N: {} against {}",
                lats[p],
                areas[p],
                cell / (k * k)
            );
        }
    }

    #[test]
    fn a_reduced_grid_shares_each_band_among_its_row() {
        let points_per_row = vec![4, 8, 8, 4];
        let row_latitudes = [67.5, 22.5, -22.5, -67.5];
        let (mut lats, mut lons) = (vec![], vec![]);
        for (row, &n) in points_per_row.iter().enumerate() {
            for i in 0..n {
                lats.push(row_latitudes[row]);
                lons.push(360.0 * i as f64 / n as f64);
            }
        }
        let grid = Grid {
            kind: GridKind::ReducedLatLon { points_per_row },
            latitudes: vec![],
            longitudes: vec![],
            points: Some(PointCoordinates {
                shape: (1, 24),
                latitudes: lats,
                longitudes: lons,
            }),
        };
        let areas = cell_areas(&grid);
        assert!(relative_error(areas.iter().sum(), SPHERE) < 1e-12);
        // The polar band (45–90°) over 4 points, the tropical (0–45°) over 8.
        let polar = 2.0 * std::f64::consts::PI * (1.0 - 45f64.to_radians().sin()) / 4.0;
        let tropical = 2.0 * std::f64::consts::PI * 45f64.to_radians().sin() / 8.0;
        assert!(relative_error(areas[0], polar) < 1e-12 && relative_error(areas[4], tropical) < 1e-12);
    }
}
