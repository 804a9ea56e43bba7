//! Edges between the grid and the mesh, as GraphCast builds them: grid→mesh from every grid
//! point to the mesh nodes within a radius; mesh→grid from the three vertices of the finest
//! mesh triangle that contains the grid point.

use rayon::prelude::*;

use super::icosahedral_mesh::{TriangularMesh, Vec3};
use super::spatial_index::SpatialIndex;

/// (grid point, mesh node) pairs with the mesh node within `radius` of the grid point,
/// among mesh nodes for which `usable` is true.
pub fn grid_to_mesh(grid: &[Vec3], mesh: &[Vec3], usable: &[bool], radius: f64) -> Vec<(u32, u32)> {
    let index = SpatialIndex::new(mesh, radius);
    grid.par_iter()
        .enumerate()
        .flat_map_iter(|(g, p)| {
            index
                .within(p, radius)
                .into_iter()
                .filter(|&m| usable[m as usize])
                .map(move |m| (g as u32, m))
        })
        .collect()
}

/// For each grid point, the finest-mesh face containing it, among faces whose vertices are all
/// usable. `None` for a point no usable face contains.
pub fn containing_faces(
    grid: &[Vec3],
    mesh: &TriangularMesh,
    usable: &[bool],
    edge_length: f64,
) -> Vec<Option<[u32; 3]>> {
    let mut faces_of_vertex: Vec<Vec<u32>> = vec![Vec::new(); mesh.vertices.len()];
    for (f, face) in mesh.faces.iter().enumerate() {
        if face.iter().all(|&v| usable[v as usize]) {
            for &v in face {
                faces_of_vertex[v as usize].push(f as u32);
            }
        }
    }
    let index = SpatialIndex::new(&mesh.vertices, edge_length);
    grid.par_iter()
        .map(|p| {
            // Every vertex of the containing triangle lies within one edge length of the point.
            let mut best: Option<(f64, u32)> = None;
            for v in index.within(p, edge_length * 1.0001) {
                for &f in &faces_of_vertex[v as usize] {
                    let score = containment(p, &mesh.faces[f as usize], &mesh.vertices);
                    if best.is_none_or(|(s, _)| score > s) {
                        best = Some((score, f));
                    }
                }
            }
            // Non-negative: inside or on the boundary (a point on an edge is in either face).
            best.filter(|(s, _)| *s >= -1e-12).map(|(_, f)| mesh.faces[f as usize])
        })
        .collect()
}

/// The smallest of the three signed volumes p·(a×b), p·(b×c), p·(c×a): non-negative exactly when
/// the ray through `p` passes through the counter-clockwise triangle (a, b, c).
fn containment(p: &Vec3, face: &[u32; 3], vertices: &[Vec3]) -> f64 {
    let [a, b, c] = face.map(|i| vertices[i as usize]);
    triple(p, &a, &b).min(triple(p, &b, &c)).min(triple(p, &c, &a))
}

fn triple(p: &Vec3, a: &Vec3, b: &Vec3) -> f64 {
    let cross = [
        a[1] * b[2] - a[2] * b[1],
        a[2] * b[0] - a[0] * b[2],
        a[0] * b[1] - a[1] * b[0],
    ];
    p[0] * cross[0] + p[1] * cross[1] + p[2] * cross[2]
}
