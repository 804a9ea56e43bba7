//! The icosahedron GraphCast uses (same vertices, faces and orientation), split `k` times into
//! four triangles per face with new vertices projected onto the unit sphere. Vertices of a
//! coarser level keep their indices at every finer level, so the multimesh is the finest
//! level's vertices with the faces (and so the edges) of every level.
//!
//! GraphCast computes the vertices in float32 (numpy `float32` arrays: midpoints, norms and
//! divisions in single precision); they are computed the same way here, then widened to f64.

use std::collections::HashMap;

pub type Vec3 = [f64; 3];

#[derive(Clone, Debug)]
pub struct TriangularMesh {
    pub vertices: Vec<Vec3>,
    /// Counter-clockwise seen from outside.
    pub faces: Vec<[u32; 3]>,
}

/// Regular icosahedron with circumscribed unit sphere, rotated as GraphCast rotates it
/// (about the y axis by half the supplement of the dihedral angle).
pub fn icosahedron() -> TriangularMesh {
    let phi = (1.0 + 5f64.sqrt()) / 2.0;
    let mut vertices: Vec<[f32; 3]> = Vec::with_capacity(12);
    for c1 in [1.0f32, -1.0] {
        for c2 in [phi as f32, -phi as f32] {
            vertices.push([c1, c2, 0.0]);
            vertices.push([0.0, c1, c2]);
            vertices.push([c2, 0.0, c1]);
        }
    }
    let norm = (1.0 + phi * phi).sqrt() as f32;
    let angle_between_faces = 2.0 * (phi / 3f64.sqrt()).asin();
    let a = (std::f64::consts::PI - angle_between_faces) / 2.0;
    let (s, c) = a.sin_cos();
    // GraphCast multiplies row vectors by scipy's rotation matrix about y (so applies its
    // transpose), in float64, and stores the result as float32.
    let vertices = vertices
        .into_iter()
        .map(|[x, y, z]| {
            let [x, y, z] = [(x / norm) as f64, (y / norm) as f64, (z / norm) as f64];
            [
                (x * c + z * -s) as f32 as f64,
                y as f32 as f64,
                (x * s + z * c) as f32 as f64,
            ]
        })
        .collect();
    let faces = vec![
        [0, 1, 2],
        [0, 6, 1],
        [8, 0, 2],
        [8, 4, 0],
        [3, 8, 2],
        [3, 2, 7],
        [7, 2, 1],
        [0, 4, 6],
        [4, 11, 6],
        [6, 11, 5],
        [1, 5, 7],
        [4, 10, 11],
        [4, 8, 10],
        [10, 8, 3],
        [10, 3, 9],
        [11, 10, 9],
        [11, 9, 5],
        [5, 9, 7],
        [9, 3, 7],
        [1, 6, 5],
    ];
    TriangularMesh { vertices, faces }
}

/// Midpoint of two unit vectors projected onto the sphere, in float32 as GraphCast computes it:
/// `mean(0)` in float32, then `/= np.linalg.norm`, whose float32 dot product (OpenBLAS `sdot`)
/// rounds each square to float32 and sums them in float64. Plain float32 sums move 15,350 of
/// the 40,962 level-6 vertices by up to 2e-7 and 4 grid-to-mesh edges at 0.25°.
fn child_vertex(p: &Vec3, q: &Vec3) -> Vec3 {
    let m: [f32; 3] = [0, 1, 2].map(|i| (p[i] as f32 + q[i] as f32) / 2.0);
    let squares: f64 = m.iter().map(|&x| (x * x) as f64).sum();
    let norm = (squares as f32).sqrt();
    m.map(|x| (x / norm) as f64)
}

/// Splits every face into four, keeping orientation; parents keep their vertex indices.
pub fn split(mesh: &TriangularMesh) -> TriangularMesh {
    let mut vertices = mesh.vertices.clone();
    let mut midpoints: HashMap<(u32, u32), u32> = HashMap::with_capacity(mesh.faces.len() * 3 / 2);
    let mut midpoint = |a: u32, b: u32, vertices: &mut Vec<Vec3>| -> u32 {
        let key = (a.min(b), a.max(b));
        *midpoints.entry(key).or_insert_with(|| {
            vertices.push(child_vertex(&vertices[a as usize], &vertices[b as usize]));
            (vertices.len() - 1) as u32
        })
    };
    let mut faces = Vec::with_capacity(mesh.faces.len() * 4);
    for &[i1, i2, i3] in &mesh.faces {
        let i12 = midpoint(i1, i2, &mut vertices);
        let i23 = midpoint(i2, i3, &mut vertices);
        let i31 = midpoint(i3, i1, &mut vertices);
        faces.extend([[i1, i12, i31], [i12, i2, i23], [i31, i23, i3], [i12, i23, i31]]);
    }
    TriangularMesh { vertices, faces }
}

/// Meshes of levels 0..=level, coarse to fine.
pub fn hierarchy(level: usize) -> Vec<TriangularMesh> {
    let mut meshes = vec![icosahedron()];
    for _ in 0..level {
        let next = split(meshes.last().expect("non-empty"));
        meshes.push(next);
    }
    meshes
}

/// Directed edges of every face of every level (each undirected edge both ways, since the
/// surface is closed and consistently oriented): the multimesh.
pub fn multimesh_edges(meshes: &[TriangularMesh]) -> Vec<(u32, u32)> {
    meshes
        .iter()
        .flat_map(|m| m.faces.iter().flat_map(|&[a, b, c]| [(a, b), (b, c), (c, a)]))
        .collect()
}

pub fn normalize(v: Vec3) -> Vec3 {
    let n = (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]).sqrt();
    [v[0] / n, v[1] / n, v[2] / n]
}

pub fn distance(a: &Vec3, b: &Vec3) -> f64 {
    ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2) + (a[2] - b[2]).powi(2)).sqrt()
}

/// Unit vector of a latitude and longitude in degrees.
pub fn lat_lon_to_xyz(lat: f64, lon: f64) -> Vec3 {
    let (lat, lon) = (lat.to_radians(), lon.to_radians());
    [lat.cos() * lon.cos(), lat.cos() * lon.sin(), lat.sin()]
}

/// (latitude, longitude) in degrees, longitude in [0, 360).
pub fn xyz_to_lat_lon(v: &Vec3) -> (f64, f64) {
    let lat = v[2].clamp(-1.0, 1.0).asin().to_degrees();
    let lon = v[1].atan2(v[0]).to_degrees().rem_euclid(360.0);
    (lat, lon)
}

/// Longest edge of a mesh's faces: GraphCast's unit for the grid-to-mesh radius (computed, as
/// there, in float32).
pub fn longest_edge(mesh: &TriangularMesh) -> f64 {
    mesh.faces
        .iter()
        .flat_map(|&[a, b, c]| [(a, b), (b, c), (c, a)])
        .map(|(a, b)| {
            let (p, q) = (&mesh.vertices[a as usize], &mesh.vertices[b as usize]);
            let d: [f32; 3] = [0, 1, 2].map(|i| p[i] as f32 - q[i] as f32);
            (d[0] * d[0] + d[1] * d[1] + d[2] * d[2]).sqrt()
        })
        .fold(0.0f32, f32::max) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_and_face_counts_per_level() {
        let meshes = hierarchy(6);
        for (k, m) in meshes.iter().enumerate() {
            assert_eq!(m.vertices.len(), 10 * 4usize.pow(k as u32) + 2, "level {k}");
            assert_eq!(m.faces.len(), 20 * 4usize.pow(k as u32));
            assert!(m.vertices.iter().all(|v| (distance(v, &[0.0; 3]) - 1.0).abs() < 1e-6));
        }
        // Coarser vertices keep their place in finer levels.
        assert_eq!(meshes[2].vertices[..42], meshes[6].vertices[..42]);
        let edges = multimesh_edges(&meshes);
        assert_eq!(meshes[6].vertices.len(), 40_962);
        assert_eq!(edges.len(), 327_660);
        let unique: std::collections::HashSet<_> = edges.iter().collect();
        assert_eq!(unique.len(), edges.len(), "no edge appears at two levels");
        assert!(
            edges.iter().all(|&(a, b)| unique.contains(&(b, a))),
            "every edge both ways"
        );
    }

    #[test]
    fn faces_are_counter_clockwise_from_outside() {
        for m in hierarchy(2) {
            for &[a, b, c] in &m.faces {
                let (a, b, c) = (m.vertices[a as usize], m.vertices[b as usize], m.vertices[c as usize]);
                let normal = cross(&sub(&b, &a), &sub(&c, &a));
                assert!(dot(&normal, &a) > 0.0);
            }
        }
    }

    #[test]
    fn lat_lon_round_trip() {
        for (lat, lon) in [(0.0, 0.0), (45.0, 350.0), (-89.0, 10.0), (60.0, 180.0)] {
            let (la, lo) = xyz_to_lat_lon(&lat_lon_to_xyz(lat, lon));
            assert!(
                (la - lat).abs() < 1e-9 && (lo - lon).abs() < 1e-9,
                "{lat} {lon} -> {la} {lo}"
            );
        }
    }

    fn sub(a: &Vec3, b: &Vec3) -> Vec3 {
        [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
    }
    fn cross(a: &Vec3, b: &Vec3) -> Vec3 {
        [
            a[1] * b[2] - a[2] * b[1],
            a[2] * b[0] - a[0] * b[2],
            a[0] * b[1] - a[1] * b[0],
        ]
    }
    fn dot(a: &Vec3, b: &Vec3) -> f64 {
        a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
    }
}
