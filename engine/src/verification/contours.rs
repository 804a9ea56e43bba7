//! Isolines (isobars on pressure maps) by marching squares on a regular latitude–longitude grid.

/// A line piece from one cell edge to another, in (longitude, latitude).
pub type Segment = ((f64, f64), (f64, f64));

/// The levels `k · interval` inside `lo..hi`.
pub fn levels(lo: f64, hi: f64, interval: f64) -> Vec<f64> {
    if !(interval > 0.0 && lo.is_finite() && hi.is_finite()) || (hi - lo) / interval > 1000.0 {
        return Vec::new();
    }
    let first = (lo / interval).ceil() as i64;
    let last = (hi / interval).floor() as i64;
    (first..=last).map(|k| k as f64 * interval).collect()
}

/// The pieces of the isoline `level` of `values` (row-major `latitudes × longitudes`); cells
/// with a missing corner are left out. A saddle cell is split by its centre's mean, as usual.
pub fn isoline(latitudes: &[f64], longitudes: &[f64], values: &[f64], level: f64) -> Vec<Segment> {
    let (ny, nx) = (latitudes.len(), longitudes.len());
    let mut out = Vec::new();
    if ny < 2 || nx < 2 || values.len() != ny * nx {
        return out;
    }
    for r in 0..ny - 1 {
        for c in 0..nx - 1 {
            // Corners anticlockwise from the top left: (r, c), (r, c+1), (r+1, c+1), (r+1, c).
            let corners = [(r, c), (r, c + 1), (r + 1, c + 1), (r + 1, c)];
            let v = corners.map(|(i, j)| values[i * nx + j]);
            if v.iter().any(|x| !x.is_finite()) {
                continue;
            }
            let at = |k: usize| (longitudes[corners[k].1], latitudes[corners[k].0]);
            // Where the level crosses the edge between corners a and b, worked out from the
            // edge's first corner in grid order so that both cells sharing it get the same point.
            let cross = |a: usize, b: usize| {
                let (a, b) = if corners[a] < corners[b] { (a, b) } else { (b, a) };
                let t = (level - v[a]) / (v[b] - v[a]);
                let (pa, pb) = (at(a), at(b));
                (pa.0 + t * (pb.0 - pa.0), pa.1 + t * (pb.1 - pa.1))
            };
            let above: Vec<bool> = v.iter().map(|&x| x > level).collect();
            let edges: Vec<(usize, usize)> = (0..4)
                .map(|k| (k, (k + 1) % 4))
                .filter(|&(a, b)| above[a] != above[b])
                .collect();
            match edges.len() {
                2 => out.push((cross(edges[0].0, edges[0].1), cross(edges[1].0, edges[1].1))),
                4 => {
                    // Saddle: pair each edge with its neighbour on the side the centre is on.
                    let centre_above = v.iter().sum::<f64>() / 4.0 > level;
                    let pairs = if above[0] == centre_above {
                        [(1, 2), (3, 0)]
                    } else {
                        [(0, 1), (2, 3)]
                    };
                    for (i, j) in pairs {
                        out.push((cross(edges[i].0, edges[i].1), cross(edges[j].0, edges[j].1)));
                    }
                }
                _ => {}
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_are_the_multiples_inside_the_range() {
        assert_eq!(levels(997.3, 1009.0, 4.0), vec![1000.0, 1004.0, 1008.0]);
        assert!(levels(0.0, f64::NAN, 4.0).is_empty());
        assert!(levels(0.0, 1e9, 4.0).is_empty());
    }

    #[test]
    fn a_circular_low_gives_a_closed_ring_at_the_right_radius() {
        // p = 1000 + r² hPa around (10 °E, 50 °N): the 1004.1 hPa isobar is the circle r = √4.1
        // (a level between grid values, so that no crossing falls on a grid point).
        let latitudes: Vec<f64> = (0..41).map(|i| 60.0 - i as f64 * 0.5).collect();
        let longitudes: Vec<f64> = (0..41).map(|j| j as f64 * 0.5).collect();
        let values: Vec<f64> = latitudes
            .iter()
            .flat_map(|&lat| {
                longitudes
                    .iter()
                    .map(move |&lon| 1000.0 + (lon - 10.0).powi(2) + (lat - 50.0).powi(2))
            })
            .collect();
        let segments = isoline(&latitudes, &longitudes, &values, 1004.1);
        assert!(segments.len() > 16);
        for (a, b) in &segments {
            for p in [a, b] {
                let r = (p.0 - 10.0).hypot(p.1 - 50.0);
                assert!((r - 4.1f64.sqrt()).abs() < 0.05, "point {p:?} at radius {r}");
            }
        }
        // Closed: every end point is shared by exactly two pieces.
        let key = |p: &(f64, f64)| ((p.0 * 1e6).round() as i64, (p.1 * 1e6).round() as i64);
        let mut count = std::collections::HashMap::new();
        for (a, b) in &segments {
            *count.entry(key(a)).or_insert(0) += 1;
            *count.entry(key(b)).or_insert(0) += 1;
        }
        assert!(count.values().all(|&n| n == 2));
    }

    #[test]
    fn missing_corners_leave_their_cells_out() {
        let latitudes = [1.0, 0.0];
        let longitudes = [0.0, 1.0];
        assert_eq!(isoline(&latitudes, &longitudes, &[0.0, 2.0, 0.0, 2.0], 1.0).len(), 1);
        assert!(isoline(&latitudes, &longitudes, &[0.0, f64::NAN, 0.0, 2.0], 1.0).is_empty());
    }
}
