//! The boundary band of a limited-area model, as DMI's neural-lam has it: the grid points
//! within a given width of the domain's lateral edge take their state from a host (analyses or
//! a host model) at every step instead of from the network, and are left out of the loss. A
//! regional model without them has no way to know what weather flows in across its edge, and
//! loses to persistence once the edge errors reach the interior.

use serde::{Deserialize, Serialize};

use crate::graph::GridPoints;
use crate::graph::icosahedral_mesh::lat_lon_to_xyz;
use crate::graph::spatial_index::SpatialIndex;

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
/// its real edge.
pub fn boundary_band(grid: &GridPoints, inside: &[bool], width: BoundaryWidth) -> Vec<bool> {
    let [ny, nx] = grid.shape();
    assert_eq!(inside.len(), ny * nx, "one inside flag per grid point");
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
    match width {
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
    }
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
        );
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
        );
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
        );
        let rows = draw(&band, 25);
        // North edge: rows 0, 1 (56 km) and 2 (111 km > 100) → two rows; the middle row
        // (58 − 4° = 54°N, 0.5° of longitude = 33 km): columns 0..=3 (99 km) of the west edge.
        assert!(rows[0].chars().all(|c| c == '#') && rows[1].chars().all(|c| c == '#'));
        assert_eq!(&rows[2][5..20], "...............", "{rows:#?}");
        assert_eq!(&rows[8][..5], "####.", "{rows:#?}");
        assert_eq!(&rows[8][20..], ".####", "{rows:#?}");
    }

    #[test]
    fn only_regional_grids_have_an_edge_in_longitude() {
        assert!(is_global(&axis(0.0, 2.5, 144)));
        assert!(!is_global(&axis(220.0, 2.5, 36)));
    }
}
