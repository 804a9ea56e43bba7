//! The boundary band of a limited-area model, as DMI's neural-lam has it: the grid points
//! within a given width of the domain's lateral edge take their state from a host (analyses or
//! a host model) at every step instead of from the network, and are left out of the loss. A
//! regional model without them has no way to know what weather flows in across its edge, and
//! loses to persistence once the edge errors reach the interior.

use serde::{Deserialize, Serialize};

use crate::graph::GridPoints;
use crate::graph::icosahedral_mesh::lat_lon_to_xyz;
use crate::graph::spatial_index::SpatialIndex;
use crate::graph::spherical_hull::{distance_to_outline, spherical_hull};

/// Mean Earth radius (km), for widths given in kilometres.
const EARTH_RADIUS_KM: f64 = 6371.0;

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BoundaryWidth {
    /// Rows and columns of grid points in from the edge.
    Points(usize),
    /// Great-circle distance from the outermost interior points.
    Kilometres(f64),
}

impl std::fmt::Display for BoundaryWidth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Points(n) => write!(f, "{n} grid points"),
            Self::Kilometres(km) => write!(f, "{km} km"),
        }
    }
}

/// Per point of the grid (row-major), whether it is in the band. The edge is the grid's own (a
/// regional box, or a projected domain's rows and columns) and any point outside the domain
/// (`inside` false: missing in the data), so a domain of irregular outline gets a band along
/// its real edge. A grid without rows (an unstructured set, a reduced grid cut to an area) has
/// the convex hull of its points for edge, and takes a width in kilometres only.
pub fn boundary_band(grid: &GridPoints, inside: &[bool], width: BoundaryWidth) -> Result<Vec<bool>, String> {
    let [ny, nx] = grid.shape();
    assert_eq!(inside.len(), ny * nx, "one inside flag per grid point");
    if grid.points.is_some() && ny == 1 {
        return band_without_rows(grid, inside, width);
    }
    // Chebyshev steps from the outside: 1 on the outermost interior ring.
    let mut steps = vec![usize::MAX; ny * nx];
    let mut frontier: Vec<usize> = Vec::new();
    for j in 0..ny {
        for i in 0..nx {
            let p = j * nx + i;
            if !inside[p] {
                continue;
            }
            let on_edge = j == 0 || i == 0 || j + 1 == ny || i + 1 == nx;
            let next_to_outside = (j.saturating_sub(1)..(j + 2).min(ny))
                .any(|jj| (i.saturating_sub(1)..(i + 2).min(nx)).any(|ii| !inside[jj * nx + ii]));
            if on_edge || next_to_outside {
                steps[p] = 1;
                frontier.push(p);
            }
        }
    }
    let reach = match width {
        BoundaryWidth::Points(n) => n,
        BoundaryWidth::Kilometres(_) => 1,
    };
    let mut ring = 1;
    while ring < reach && !frontier.is_empty() {
        let mut next = Vec::new();
        for &p in &frontier {
            let (j, i) = (p / nx, p % nx);
            for jj in j.saturating_sub(1)..(j + 2).min(ny) {
                for ii in i.saturating_sub(1)..(i + 2).min(nx) {
                    let q = jj * nx + ii;
                    if inside[q] && steps[q] == usize::MAX {
                        steps[q] = ring + 1;
                        next.push(q);
                    }
                }
            }
        }
        frontier = next;
        ring += 1;
    }
    Ok(match width {
        BoundaryWidth::Points(n) => steps.iter().map(|&s| s <= n).collect(),
        BoundaryWidth::Kilometres(km) => {
            let xyz = |p: usize| {
                let (lat, lon) = grid.lat_lon(p);
                lat_lon_to_xyz(lat, lon)
            };
            let edge: Vec<_> = (0..ny * nx).filter(|&p| steps[p] == 1).map(xyz).collect();
            // Chord length of the great-circle distance.
            let radius = 2.0 * (km / EARTH_RADIUS_KM / 2.0).sin();
            let index = SpatialIndex::new(&edge, radius.max(1e-6));
            (0..ny * nx)
                .map(|p| inside[p] && !index.within(&xyz(p), radius).is_empty())
                .collect()
        }
    })
}

fn band_without_rows(grid: &GridPoints, inside: &[bool], width: BoundaryWidth) -> Result<Vec<bool>, String> {
    let km = match width {
        BoundaryWidth::Kilometres(km) => km,
        BoundaryWidth::Points(n) => {
            return Err(format!(
                "a band of {n} grid points needs a grid with rows, and this one ({} points) has none: give boundary_width_km",
                grid.len()
            ));
        }
    };
    let xyz: Vec<_> = (0..grid.len())
        .map(|p| {
            let (lat, lon) = grid.lat_lon(p);
            lat_lon_to_xyz(lat, lon)
        })
        .collect();
    let domain: Vec<_> = xyz.iter().zip(inside).filter(|(_, i)| **i).map(|(p, _)| *p).collect();
    let hull = spherical_hull(&domain)
        .ok_or("the grid's points have no outline to put a band along (they reach round the globe)")?;
    Ok(xyz
        .iter()
        .zip(inside)
        .map(|(&p, &i)| i && distance_to_outline(p, &hull) * EARTH_RADIUS_KM <= km)
        .collect())
}

/// True when the grid wraps round the globe in longitude: it has no lateral edge there.
pub fn is_global(longitudes: &[f64]) -> bool {
    let n = longitudes.len();
    if n < 2 {
        return false;
    }
    let step = longitudes.windows(2).map(|w| w[1] - w[0]).fold(f64::INFINITY, f64::min);
    (n as f64 * step - 360.0).abs() < step * 0.5
}

/// Channels [`boundary_inputs`] adds for a model of `state_channels`.
pub fn boundary_input_channels(state_channels: usize) -> usize {
    state_channels + 1
}

/// What a limited-area model sees of its boundary for one step: the band's state at t+Δt from
/// the host, normalised, zero outside the band (and where the host has no value), and the
/// band itself (1 in it), `[batch, points, channels + 1]`. Appended to the step's forcings.
/// `band` is `[batch, points, 1]`, 1 in the band.
pub fn boundary_inputs<B: burn::tensor::backend::Backend>(
    norm: &crate::Normalization,
    next_state: burn::tensor::Tensor<B, 3>,
    band: burn::tensor::Tensor<B, 3>,
) -> burn::tensor::Tensor<B, 3> {
    let state = norm.normalize(next_state) * band.clone();
    burn::tensor::Tensor::cat(vec![state, band], 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn axis(first: f64, step: f64, n: usize) -> Vec<f64> {
        (0..n).map(|k| first + step * k as f64).collect()
    }

    fn draw(band: &[bool], nx: usize) -> Vec<String> {
        band.chunks(nx)
            .map(|row| row.iter().map(|&b| if b { '#' } else { '.' }).collect())
            .collect()
    }

    #[test]
    fn a_box_gets_a_frame_of_the_given_width() {
        let (lat, lon) = (axis(60.0, -1.0, 6), axis(10.0, 1.0, 7));
        let band = boundary_band(
            &GridPoints::axes(lat.clone(), lon.clone()),
            &[true; 42],
            BoundaryWidth::Points(2),
        )
        .unwrap();
        assert_eq!(
            draw(&band, 7),
            ["#######", "#######", "##...##", "##...##", "#######", "#######"]
        );
    }

    #[test]
    fn missing_points_are_edge_too() {
        let (lat, lon) = (axis(60.0, -1.0, 7), axis(10.0, 1.0, 7));
        let mut inside = [true; 49];
        // The north-east corner is outside the domain.
        for p in [5, 6, 12, 13] {
            inside[p] = false;
        }
        let band = boundary_band(
            &GridPoints::axes(lat.clone(), lon.clone()),
            &inside,
            BoundaryWidth::Points(1),
        )
        .unwrap();
        assert_eq!(
            draw(&band, 7),
            [
                "#####..", "#...#..", "#...###", "#.....#", "#.....#", "#.....#", "#######"
            ],
            "outside points are not in the band; the band follows their edge"
        );
    }

    #[test]
    fn kilometres_measure_from_the_edge_on_the_sphere() {
        // 0.5° at 55°N: about 56 km between rows, 32 km between columns.
        let (lat, lon) = (axis(58.0, -0.5, 17), axis(350.0, 0.5, 25));
        let band = boundary_band(
            &GridPoints::axes(lat.clone(), lon.clone()),
            &[true; 17 * 25],
            BoundaryWidth::Kilometres(100.0),
        )
        .unwrap();
        let rows = draw(&band, 25);
        // North edge: rows 0, 1 (56 km) and 2 (111 km > 100) → two rows; the middle row
        // (58 − 4° = 54°N, 0.5° of longitude = 33 km): columns 0..=3 (99 km) of the west edge.
        assert!(rows[0].chars().all(|c| c == '#') && rows[1].chars().all(|c| c == '#'));
        assert_eq!(&rows[2][5..20], "...............", "{rows:#?}");
        assert_eq!(&rows[8][..5], "####.", "{rows:#?}");
        assert_eq!(&rows[8][20..], ".####", "{rows:#?}");
    }

    /// A grid without rows has the hull of its points for edge: on a box near the equator
    /// (whose sides are nearly great circles) the band by kilometres is the one the box's rows
    /// and columns give, but for points within a few km of the width, where the box's
    /// parallels and the hull's great circles part.
    #[test]
    fn a_grid_without_rows_is_banded_from_the_hull_of_its_points() {
        let (lat, lon) = (axis(5.0, -0.5, 21), axis(0.0, 0.5, 31));
        let by_rows = boundary_band(
            &GridPoints::axes(lat.clone(), lon.clone()),
            &[true; 21 * 31],
            BoundaryWidth::Kilometres(150.0),
        )
        .unwrap();
        let (lats, lons): (Vec<f64>, Vec<f64>) = lat.iter().flat_map(|&a| lon.iter().map(move |&b| (a, b))).unzip();
        let points = GridPoints {
            latitudes: lats.clone(),
            longitudes: lons.clone(),
            points: Some(crate::graph::PointLayout {
                shape: [1, 21 * 31],
                global: false,
            }),
        };
        let by_hull = boundary_band(&points, &[true; 21 * 31], BoundaryWidth::Kilometres(150.0)).unwrap();
        let banded = by_hull.iter().filter(|&&b| b).count();
        assert!(banded > 200 && banded < 21 * 31 - 100, "{banded}");
        for p in 0..by_rows.len() {
            if by_rows[p] != by_hull[p] {
                // Only where a point is within 5 km of the width from the nearest side.
                let to_side = [5.0 - lats[p], lats[p] + 5.0, lons[p], 15.0 - lons[p]]
                    .into_iter()
                    .fold(f64::INFINITY, f64::min);
                assert!(
                    (to_side.to_radians() * EARTH_RADIUS_KM - 150.0).abs() < 5.0,
                    "point {p} ({}, {}): rows {}, hull {}",
                    lats[p],
                    lons[p],
                    by_rows[p],
                    by_hull[p]
                );
            }
        }
        let refused = boundary_band(&points, &[true; 21 * 31], BoundaryWidth::Points(2)).unwrap_err();
        assert!(
            refused.contains("needs a grid with rows") && refused.contains("boundary_width_km"),
            "{refused}"
        );
    }

    #[test]
    fn only_regional_grids_have_an_edge_in_longitude() {
        assert!(is_global(&axis(0.0, 2.5, 144)));
        assert!(!is_global(&axis(220.0, 2.5, 36)));
    }
}
