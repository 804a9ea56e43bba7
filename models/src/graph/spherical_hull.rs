//! The convex hull of a set of points on the sphere, and the distance to its outline: the edge of
//! a domain given as points without rows (an unstructured set, a reduced grid cut to an area).
//! Points within a hemisphere are projected gnomonically about their mean direction, where great
//! circles are straight lines, so the plane hull there is the spherical one.

use super::icosahedral_mesh::Vec3;

fn dot(a: Vec3, b: Vec3) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

fn cross(a: Vec3, b: Vec3) -> Vec3 {
    [
        a[1] * b[2] - a[2] * b[1],
        a[2] * b[0] - a[0] * b[2],
        a[0] * b[1] - a[1] * b[0],
    ]
}

fn normalised(a: Vec3) -> Option<Vec3> {
    let n = dot(a, a).sqrt();
    (n > 1e-12).then(|| [a[0] / n, a[1] / n, a[2] / n])
}

/// Angle between two unit vectors, radians.
fn angle(a: Vec3, b: Vec3) -> f64 {
    dot(cross(a, b), cross(a, b)).sqrt().atan2(dot(a, b))
}

/// The hull's corners in order round it; None when the points do not lie well within one
/// hemisphere (a global set has no outline) or are fewer than three distinct directions.
pub fn spherical_hull(points: &[Vec3]) -> Option<Vec<Vec3>> {
    let sum = points
        .iter()
        .fold([0.0; 3], |s, p| [s[0] + p[0], s[1] + p[1], s[2] + p[2]]);
    let centre = normalised(sum)?;
    // 85° from the centre at most: beyond, the projection stretches without bound.
    if points.iter().any(|&p| dot(p, centre) < 0.087) {
        return None;
    }
    let helper = if centre[2].abs() < 0.9 {
        [0.0, 0.0, 1.0]
    } else {
        [1.0, 0.0, 0.0]
    };
    let e1 = normalised(cross(helper, centre))?;
    let e2 = cross(centre, e1);
    let mut plane: Vec<(f64, f64, usize)> = points
        .iter()
        .enumerate()
        .map(|(k, &p)| {
            // On a grid of 1e-10 (under a millimetre): points a projection puts on one line
            // (a meridian here) have one x exactly, so they sort along it and stay collinear.
            let d = dot(p, centre);
            let snap = |v: f64| (v * 1e10).round() / 1e10;
            (snap(dot(p, e1) / d), snap(dot(p, e2) / d), k)
        })
        .collect();
    plane.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
    // Andrew's monotone chain, counter-clockwise, collinear points dropped.
    let turn = |o: (f64, f64, usize), a: (f64, f64, usize), b: (f64, f64, usize)| {
        (a.0 - o.0) * (b.1 - o.1) - (a.1 - o.1) * (b.0 - o.0)
    };
    let mut hull: Vec<(f64, f64, usize)> = Vec::with_capacity(2 * plane.len());
    for pass in 0..2 {
        let start = hull.len();
        let ordered: Box<dyn Iterator<Item = &(f64, f64, usize)>> = if pass == 0 {
            Box::new(plane.iter())
        } else {
            Box::new(plane.iter().rev())
        };
        for &q in ordered {
            while hull.len() >= start + 2 && turn(hull[hull.len() - 2], hull[hull.len() - 1], q) <= 0.0 {
                hull.pop();
            }
            hull.push(q);
        }
        hull.pop();
    }
    (hull.len() >= 3).then(|| hull.iter().map(|&(_, _, k)| points[k]).collect())
}

/// Great-circle distance (radians) from `p` to the hull's outline: to the nearest point of its
/// edges, each the shorter arc between consecutive corners.
pub fn distance_to_outline(p: Vec3, hull: &[Vec3]) -> f64 {
    let n = hull.len();
    (0..n)
        .map(|k| {
            let (a, b) = (hull[k], hull[(k + 1) % n]);
            match normalised(cross(a, b)) {
                // Where p's foot on the great circle lies between a and b, the arc is nearest there.
                Some(normal) if dot(cross(a, p), normal) >= 0.0 && dot(cross(p, b), normal) >= 0.0 => {
                    dot(p, normal).abs().min(1.0).asin()
                }
                _ => angle(p, a).min(angle(p, b)),
            }
        })
        .fold(f64::INFINITY, f64::min)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::icosahedral_mesh::lat_lon_to_xyz;

    #[test]
    fn the_hull_of_a_box_is_its_corners_and_interior_points_are_as_far_as_the_nearest_side() {
        // Points of a 10° box on the equator; its hull is the four corners.
        let points: Vec<Vec3> = (0..=10)
            .flat_map(|j| (0..=10).map(move |i| lat_lon_to_xyz(j as f64 - 5.0, i as f64)))
            .collect();
        let hull = spherical_hull(&points).unwrap();
        assert_eq!(hull.len(), 4);
        for corner in [(-5.0, 0.0), (-5.0, 10.0), (5.0, 0.0), (5.0, 10.0)] {
            let c = lat_lon_to_xyz(corner.0, corner.1);
            assert!(hull.iter().any(|&h| angle(h, c) < 1e-9), "{corner:?} in the hull");
        }
        // The centre is 5° from the meridian sides (a great circle each); 1° in from the west
        // side, 1°.
        let centre = lat_lon_to_xyz(0.0, 5.0);
        assert!((distance_to_outline(centre, &hull).to_degrees() - 5.0).abs() < 0.01);
        let near_west = lat_lon_to_xyz(0.0, 1.0);
        assert!((distance_to_outline(near_west, &hull).to_degrees() - 1.0).abs() < 1e-9);
        // Beyond a corner the nearest point is the corner.
        let outside = lat_lon_to_xyz(-6.0, -1.0);
        let expected = angle(outside, lat_lon_to_xyz(-5.0, 0.0));
        assert!((distance_to_outline(outside, &hull) - expected).abs() < 1e-12);
    }

    #[test]
    fn a_global_set_has_no_hull() {
        let points: Vec<Vec3> = (0..12)
            .flat_map(|j| (0..24).map(move |i| lat_lon_to_xyz(-82.5 + 15.0 * j as f64, 15.0 * i as f64)))
            .collect();
        assert!(spherical_hull(&points).is_none());
    }
}
