//! The graph the forecaster runs on: an icosahedral multimesh and its connections to the grid.
//!
//! Global grids use the whole mesh. Regional grids (a national service's own area) keep the
//! mesh nodes within a margin of the domain, and the edges among them, so no compute is spent
//! far from the area while every grid point still sends to and receives from the mesh.

pub mod cache;
pub mod features;
pub mod grid_mesh_connectivity;
pub mod icosahedral_mesh;
pub mod spatial_index;
pub mod spherical_hull;

use rayon::prelude::*;

use icosahedral_mesh::{Vec3, hierarchy, longest_edge, multimesh_edges};

/// Grid-to-mesh radius in units of the longest finest-mesh edge (GraphCast's choice).
pub const GRID_TO_MESH_RADIUS: f64 = 0.6;

#[derive(Debug, thiserror::Error)]
pub enum GraphError {
    #[error("grid point {index} ({lat:.3}°N, {lon:.3}°E) lies in no mesh triangle")]
    Uncovered { index: usize, lat: f64, lon: f64 },
    #[error("graph cache {path}: {message}")]
    Cache { path: String, message: String },
}

/// A point's unit vector, computed in float32 from float32 coordinates, as GraphCast does with
/// ERA5's float32 latitude and longitude.
pub fn position(lat: f64, lon: f64) -> Vec3 {
    let phi = (lon as f32).to_radians();
    let theta = (90.0 - lat as f32).to_radians();
    [
        (phi.cos() * theta.sin()) as f64,
        (phi.sin() * theta.sin()) as f64,
        theta.cos() as f64,
    ]
}

/// Grid coordinates: the axes of a latitude × longitude grid in vejr's convention (latitudes
/// north→south, longitudes ascending in [0, 360)), or, with `points` set, every point's own
/// latitude and longitude (a projection, a reduced grid, an unstructured set), row-major.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct GridPoints {
    pub latitudes: Vec<f64>,
    pub longitudes: Vec<f64>,
    pub points: Option<PointLayout>,
}

/// The layout of a grid given point by point.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PointLayout {
    /// (rows, columns) of the data; (1, points) for a set without rows.
    pub shape: [usize; 2],
    /// The points cover the globe (a reduced Gaussian grid): no lateral boundary, whole mesh.
    pub global: bool,
}

impl GridPoints {
    pub fn axes(latitudes: Vec<f64>, longitudes: Vec<f64>) -> Self {
        Self {
            latitudes,
            longitudes,
            points: None,
        }
    }

    pub fn len(&self) -> usize {
        match self.points {
            Some(p) => p.shape[0] * p.shape[1],
            None => self.latitudes.len() * self.longitudes.len(),
        }
    }

    /// (rows, columns) of the data.
    pub fn shape(&self) -> [usize; 2] {
        match self.points {
            Some(p) => p.shape,
            None => [self.latitudes.len(), self.longitudes.len()],
        }
    }

    /// Latitude and longitude of point `p` (row-major), degrees.
    pub fn lat_lon(&self, p: usize) -> (f64, f64) {
        match self.points {
            Some(_) => (self.latitudes[p], self.longitudes[p]),
            None => {
                let nx = self.longitudes.len();
                (self.latitudes[p / nx], self.longitudes[p % nx])
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Unit vectors, row-major like the data.
    pub fn positions(&self) -> Vec<Vec3> {
        if self.points.is_some() {
            return (0..self.len())
                .map(|p| {
                    let (lat, lon) = self.lat_lon(p);
                    position(lat, lon)
                })
                .collect();
        }
        self.latitudes
            .iter()
            .flat_map(|&lat| self.longitudes.iter().map(move |&lon| position(lat, lon)))
            .collect()
    }

    /// Global when the longitudes go all the way round and the latitudes reach within a grid
    /// step of both poles.
    pub fn is_global(&self) -> bool {
        if let Some(p) = self.points {
            return p.global;
        }
        let step = |v: &[f64]| v.windows(2).map(|w| (w[1] - w[0]).abs()).fold(f64::INFINITY, f64::min);
        let (dlon, dlat) = (step(&self.longitudes), step(&self.latitudes));
        let lon_global = (self.longitudes.len() as f64 * dlon - 360.0).abs() < dlon * 0.5;
        let north = self.latitudes.first().copied().unwrap_or(0.0);
        let south = self.latitudes.last().copied().unwrap_or(0.0);
        lon_global && north >= 90.0 - 1.5 * dlat && south <= -90.0 + 1.5 * dlat
    }

    /// FNV-1a of the coordinates' bits: identifies a grid in caches and checkpoints.
    pub fn fingerprint(&self) -> u64 {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for v in self.latitudes.iter().chain(&self.longitudes) {
            for b in v.to_bits().to_le_bytes() {
                h = (h ^ b as u64).wrapping_mul(0x0100_0000_01b3);
            }
        }
        let [rows, columns] = self.shape();
        h ^ ((rows as u64) << 32 | columns as u64)
    }
}

/// Directed edges sorted by (receiver, sender), with their features
/// (`features::EDGE_FEATURES` per edge).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EdgeSet {
    pub senders: Vec<u32>,
    pub receivers: Vec<u32>,
    pub features: Vec<f32>,
}

impl EdgeSet {
    fn new(mut pairs: Vec<(u32, u32)>, sender_positions: &[Vec3], receiver_positions: &[Vec3]) -> Self {
        pairs.par_sort_unstable_by_key(|&(s, r)| (r, s));
        let (senders, receivers): (Vec<u32>, Vec<u32>) = pairs.into_iter().unzip();
        let features = features::edge_features(&senders, &receivers, sender_positions, receiver_positions);
        Self {
            senders,
            receivers,
            features,
        }
    }

    pub fn len(&self) -> usize {
        self.senders.len()
    }

    pub fn is_empty(&self) -> bool {
        self.senders.is_empty()
    }

    /// Consecutive ranges of at most `max_edges` edges, cut only between receivers (one
    /// receiver with more edges than that gets a range of its own). The edges are sorted by
    /// receiver, so the ranges' receivers are disjoint: sums at the receivers taken per range
    /// add up exactly, each receiver's from one range alone. A device that binds at most so
    /// many bytes per buffer runs an edge set too large for it range by range.
    pub fn receiver_chunks(&self, max_edges: usize) -> Vec<std::ops::Range<usize>> {
        let n = self.len();
        let max_edges = max_edges.max(1);
        let mut chunks = Vec::with_capacity(n / max_edges + 1);
        let mut start = 0;
        while start < n {
            let mut end = start.saturating_add(max_edges).min(n);
            while end < n && end > start && self.receivers[end] == self.receivers[end - 1] {
                end -= 1;
            }
            if end == start {
                end = start + self.receivers[start..].partition_point(|&r| r == self.receivers[start]);
            }
            chunks.push(start..end);
            start = end;
        }
        chunks
    }
}

#[cfg(test)]
mod tests {
    use super::EdgeSet;

    #[test]
    fn receiver_chunks_cover_every_edge_once_and_split_no_receiver() {
        let receivers = vec![0, 0, 0, 1, 2, 2, 3, 3, 3, 3, 3, 4];
        let set = EdgeSet {
            senders: (0..receivers.len() as u32).collect(),
            receivers,
            features: Vec::new(),
        };
        assert_eq!(set.receiver_chunks(usize::MAX), vec![0..12]);
        assert_eq!(set.receiver_chunks(12), vec![0..12]);
        assert_eq!(set.receiver_chunks(4), vec![0..4, 4..6, 6..11, 11..12]);
        assert_eq!(set.receiver_chunks(6), vec![0..6, 6..12]);
        for max in 1..14 {
            let chunks = set.receiver_chunks(max);
            assert_eq!(chunks.first().unwrap().start, 0);
            assert_eq!(chunks.last().unwrap().end, 12);
            for pair in chunks.windows(2) {
                assert_eq!(pair[0].end, pair[1].start);
                assert_ne!(
                    set.receivers[pair[0].end - 1],
                    set.receivers[pair[1].start],
                    "{max}: {chunks:?}"
                );
            }
            for c in &chunks {
                let one_receiver = set.receivers[c.start] == set.receivers[c.end - 1];
                assert!(c.len() <= max || one_receiver, "{max}: {chunks:?}");
            }
        }
        assert!(EdgeSet::default().receiver_chunks(3).is_empty());
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct WeatherGraph {
    pub mesh_level: usize,
    pub grid_shape: [usize; 2],
    pub grid_fingerprint: u64,
    pub regional: bool,
    pub num_mesh_nodes: usize,
    /// `features::NODE_FEATURES` per node.
    pub grid_node_features: Vec<f32>,
    pub mesh_node_features: Vec<f32>,
    /// (latitude, longitude) of each mesh node, degrees.
    pub mesh_lat_lon: Vec<[f64; 2]>,
    pub grid_to_mesh: EdgeSet,
    pub mesh: EdgeSet,
    pub mesh_to_grid: EdgeSet,
}

impl WeatherGraph {
    pub fn build(grid: &GridPoints, mesh_level: usize) -> Result<Self, GraphError> {
        Self::build_from(
            &grid.positions(),
            |g| grid.lat_lon(g),
            grid.shape(),
            grid.fingerprint(),
            !grid.is_global(),
            mesh_level,
        )
    }

    /// The graph of any set of points on the sphere (a Lambert, rotated or polar-stereographic
    /// domain, an unstructured set): `latitudes[p]`, `longitudes[p]` per point, `shape` the
    /// data's (rows, columns) with rows × columns points. Such a domain is regional: the mesh
    /// keeps the nodes within the grid-to-mesh radius plus one mesh edge of some point, so it
    /// follows the domain's own outline, not a latitude–longitude box around it.
    pub fn build_on_points(
        latitudes: &[f64],
        longitudes: &[f64],
        shape: [usize; 2],
        mesh_level: usize,
    ) -> Result<Self, GraphError> {
        assert_eq!(latitudes.len(), longitudes.len(), "one longitude per latitude");
        assert_eq!(latitudes.len(), shape[0] * shape[1], "shape covers the points");
        let grid = GridPoints {
            latitudes: latitudes.to_vec(),
            longitudes: longitudes.to_vec(),
            points: Some(PointLayout { shape, global: false }),
        };
        Self::build(&grid, mesh_level)
    }

    fn build_from(
        grid_xyz: &[Vec3],
        lat_lon: impl Fn(usize) -> (f64, f64),
        grid_shape: [usize; 2],
        grid_fingerprint: u64,
        regional: bool,
        mesh_level: usize,
    ) -> Result<Self, GraphError> {
        let meshes = hierarchy(mesh_level);
        let finest = meshes.last().expect("level 0 at least");
        let edge = longest_edge(finest);
        let radius = GRID_TO_MESH_RADIUS * edge;

        // Regional: keep mesh nodes within reach of the domain (the grid-to-mesh radius plus one
        // edge, which covers every triangle containing a grid point).
        let usable: Vec<bool> = if regional {
            let index = spatial_index::SpatialIndex::new(grid_xyz, radius + edge);
            finest
                .vertices
                .par_iter()
                .map(|v| !index.within(v, radius + edge).is_empty())
                .collect()
        } else {
            vec![true; finest.vertices.len()]
        };
        let mut new_index = vec![u32::MAX; usable.len()];
        let mut kept: Vec<Vec3> = Vec::new();
        for (i, &u) in usable.iter().enumerate() {
            if u {
                new_index[i] = kept.len() as u32;
                kept.push(finest.vertices[i]);
            }
        }

        let g2m: Vec<(u32, u32)> = grid_mesh_connectivity::grid_to_mesh(grid_xyz, &finest.vertices, &usable, radius)
            .into_iter()
            .map(|(g, m)| (g, new_index[m as usize]))
            .collect();
        let faces = grid_mesh_connectivity::containing_faces(grid_xyz, finest, &usable, edge);
        let mut m2g = Vec::with_capacity(grid_xyz.len() * 3);
        for (g, face) in faces.iter().enumerate() {
            let Some(face) = face else {
                let (lat, lon) = lat_lon(g);
                return Err(GraphError::Uncovered { index: g, lat, lon });
            };
            m2g.extend(face.iter().map(|&m| (new_index[m as usize], g as u32)));
        }
        let mesh_edges: Vec<(u32, u32)> = multimesh_edges(&meshes)
            .into_iter()
            .filter(|&(s, r)| usable[s as usize] && usable[r as usize])
            .map(|(s, r)| (new_index[s as usize], new_index[r as usize]))
            .collect();

        Ok(Self {
            mesh_level,
            grid_shape,
            grid_fingerprint,
            regional,
            num_mesh_nodes: kept.len(),
            grid_node_features: features::node_features(grid_xyz),
            mesh_node_features: features::node_features(&kept),
            mesh_lat_lon: kept
                .iter()
                .map(icosahedral_mesh::xyz_to_lat_lon)
                .map(|(a, b)| [a, b])
                .collect(),
            grid_to_mesh: EdgeSet::new(g2m, grid_xyz, &kept),
            mesh: EdgeSet::new(mesh_edges, &kept, &kept),
            mesh_to_grid: EdgeSet::new(m2g, &kept, grid_xyz),
        })
    }

    pub fn num_grid_nodes(&self) -> usize {
        self.grid_shape[0] * self.grid_shape[1]
    }

    /// Whether this graph was built for `grid` at `mesh_level`; the difference in words if not.
    pub fn check_matches(&self, grid: &GridPoints, mesh_level: usize) -> Result<(), String> {
        let shape = grid.shape();
        if shape != self.grid_shape {
            return Err(format!(
                "built for a {}×{} grid, asked for {}×{}",
                self.grid_shape[0], self.grid_shape[1], shape[0], shape[1]
            ));
        }
        if grid.fingerprint() != self.grid_fingerprint {
            return Err(format!(
                "built for another {}×{} grid (different coordinates)",
                shape[0], shape[1]
            ));
        }
        if mesh_level != self.mesh_level {
            return Err(format!(
                "built at mesh level {}, asked for level {mesh_level}",
                self.mesh_level
            ));
        }
        Ok(())
    }
}
