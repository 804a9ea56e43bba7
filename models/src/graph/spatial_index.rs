//! Radius queries among points on the unit sphere: a hash of cubic cells in 3-D, so a query
//! looks at the few cells its ball overlaps instead of every point.

use std::collections::HashMap;

use super::icosahedral_mesh::Vec3;

pub struct SpatialIndex<'a> {
    points: &'a [Vec3],
    cell: f64,
    cells: HashMap<(i32, i32, i32), Vec<u32>>,
}

impl<'a> SpatialIndex<'a> {
    /// `cell` should be about the query radius.
    pub fn new(points: &'a [Vec3], cell: f64) -> Self {
        let mut cells: HashMap<(i32, i32, i32), Vec<u32>> = HashMap::new();
        for (i, p) in points.iter().enumerate() {
            cells.entry(key(p, cell)).or_default().push(i as u32);
        }
        Self { points, cell, cells }
    }

    /// Indices of points within `radius` (chord distance, inclusive), ascending.
    pub fn within(&self, centre: &Vec3, radius: f64) -> Vec<u32> {
        let reach = (radius / self.cell).ceil() as i32;
        let (cx, cy, cz) = key(centre, self.cell);
        let r2 = radius * radius;
        let mut out = Vec::new();
        for dx in -reach..=reach {
            for dy in -reach..=reach {
                for dz in -reach..=reach {
                    if let Some(ids) = self.cells.get(&(cx + dx, cy + dy, cz + dz)) {
                        for &i in ids {
                            let p = &self.points[i as usize];
                            let d2 =
                                (p[0] - centre[0]).powi(2) + (p[1] - centre[1]).powi(2) + (p[2] - centre[2]).powi(2);
                            if d2 <= r2 {
                                out.push(i);
                            }
                        }
                    }
                }
            }
        }
        out.sort_unstable();
        out
    }
}

fn key(p: &Vec3, cell: f64) -> (i32, i32, i32) {
    (
        (p[0] / cell).floor() as i32,
        (p[1] / cell).floor() as i32,
        (p[2] / cell).floor() as i32,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::icosahedral_mesh::{distance, hierarchy};

    #[test]
    fn matches_brute_force() {
        let mesh = &hierarchy(3)[3];
        let index = SpatialIndex::new(&mesh.vertices, 0.1);
        for radius in [0.05, 0.1, 0.25] {
            for centre in mesh.vertices.iter().step_by(37) {
                let brute: Vec<u32> = (0..mesh.vertices.len() as u32)
                    .filter(|&i| distance(&mesh.vertices[i as usize], centre) <= radius)
                    .collect();
                assert_eq!(index.within(centre, radius), brute);
            }
        }
    }
}
