//! Graphs on disk: building the 0.25° graph takes seconds, loading it far less. The file names
//! the grid and mesh level it belongs to, and loading checks them.
//!
//! Layout: a JSON header line, then little-endian arrays in a fixed order.

use std::io::{BufReader, BufWriter, Read, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{EdgeSet, GraphError, GridPoints, WeatherGraph};

const FORMAT: &str = "vejr-graph";
/// 2: mesh vertices as GraphCast's numpy computes them (float64 sums of float32 squares).
const VERSION: u32 = 2;

#[derive(Serialize, Deserialize)]
struct Header {
    format: String,
    version: u32,
    mesh_level: usize,
    grid_shape: [usize; 2],
    grid_fingerprint: u64,
    regional: bool,
    num_mesh_nodes: usize,
    edges: [usize; 3],
}

fn cache_error(path: &Path, message: impl std::fmt::Display) -> GraphError {
    GraphError::Cache {
        path: path.display().to_string(),
        message: message.to_string(),
    }
}

impl WeatherGraph {
    /// Writes atomically: a temporary file, fsync, rename.
    pub fn save(&self, path: &Path) -> Result<(), GraphError> {
        let header = Header {
            format: FORMAT.into(),
            version: VERSION,
            mesh_level: self.mesh_level,
            grid_shape: self.grid_shape,
            grid_fingerprint: self.grid_fingerprint,
            regional: self.regional,
            num_mesh_nodes: self.num_mesh_nodes,
            edges: [self.grid_to_mesh.len(), self.mesh.len(), self.mesh_to_grid.len()],
        };
        let tmp = path.with_extension("partial");
        let write = || -> std::io::Result<()> {
            let file = std::fs::File::create(&tmp)?;
            let mut w = BufWriter::new(file);
            serde_json::to_writer(&mut w, &header)?;
            w.write_all(b"\n")?;
            write_f32(&mut w, &self.grid_node_features)?;
            write_f32(&mut w, &self.mesh_node_features)?;
            let lat_lon: Vec<f64> = self.mesh_lat_lon.iter().flatten().copied().collect();
            for v in lat_lon {
                w.write_all(&v.to_le_bytes())?;
            }
            for set in [&self.grid_to_mesh, &self.mesh, &self.mesh_to_grid] {
                write_u32(&mut w, &set.senders)?;
                write_u32(&mut w, &set.receivers)?;
                write_f32(&mut w, &set.features)?;
            }
            let file = w.into_inner().map_err(|e| e.into_error())?;
            file.sync_all()
        };
        write().map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            cache_error(path, e)
        })?;
        std::fs::rename(&tmp, path).map_err(|e| cache_error(path, e))
    }

    /// Loads a cached graph, refusing one built for another grid or mesh level.
    pub fn load(path: &Path, grid: &GridPoints, mesh_level: usize) -> Result<Self, GraphError> {
        let file = std::fs::File::open(path).map_err(|e| cache_error(path, e))?;
        let mut r = BufReader::new(file);
        let mut line = Vec::new();
        for byte in r.by_ref().bytes() {
            let b = byte.map_err(|e| cache_error(path, e))?;
            if b == b'\n' {
                break;
            }
            line.push(b);
            if line.len() > 1 << 16 {
                return Err(cache_error(path, "not a vejr graph file"));
            }
        }
        let header: Header = serde_json::from_slice(&line).map_err(|_| cache_error(path, "not a vejr graph file"))?;
        if header.format != FORMAT || header.version != VERSION {
            return Err(cache_error(
                path,
                format!(
                    "format {} version {}, expected {FORMAT} {VERSION}",
                    header.format, header.version
                ),
            ));
        }
        let grid_nodes = header.grid_shape[0] * header.grid_shape[1];
        let nf = super::features::NODE_FEATURES;
        let ef = super::features::EDGE_FEATURES;
        let truncated = |e: std::io::Error| cache_error(path, format!("truncated or damaged: {e}"));
        let grid_node_features = read_f32(&mut r, grid_nodes * nf).map_err(truncated)?;
        let mesh_node_features = read_f32(&mut r, header.num_mesh_nodes * nf).map_err(truncated)?;
        let mut bytes = vec![0u8; header.num_mesh_nodes * 16];
        r.read_exact(&mut bytes).map_err(truncated)?;
        let mesh_lat_lon = bytes
            .chunks_exact(16)
            .map(|c| {
                [
                    f64::from_le_bytes(c[..8].try_into().expect("8")),
                    f64::from_le_bytes(c[8..].try_into().expect("8")),
                ]
            })
            .collect();
        let mut sets = Vec::new();
        for n in header.edges {
            let senders = read_u32(&mut r, n).map_err(truncated)?;
            let receivers = read_u32(&mut r, n).map_err(truncated)?;
            let features = read_f32(&mut r, n * ef).map_err(truncated)?;
            sets.push(EdgeSet {
                senders,
                receivers,
                features,
            });
        }
        if r.read(&mut [0u8; 1]).map_err(truncated)? != 0 {
            return Err(cache_error(path, "trailing bytes after the last array"));
        }
        let mesh_to_grid = sets.pop().expect("three sets");
        let mesh = sets.pop().expect("three sets");
        let grid_to_mesh = sets.pop().expect("three sets");
        let graph = Self {
            mesh_level: header.mesh_level,
            grid_shape: header.grid_shape,
            grid_fingerprint: header.grid_fingerprint,
            regional: header.regional,
            num_mesh_nodes: header.num_mesh_nodes,
            grid_node_features,
            mesh_node_features,
            mesh_lat_lon,
            grid_to_mesh,
            mesh,
            mesh_to_grid,
        };
        graph
            .check_matches(grid, mesh_level)
            .map_err(|m| cache_error(path, m))?;
        Ok(graph)
    }

    /// The cached graph at `path` if it belongs to this grid and level; otherwise built and cached.
    pub fn load_or_build(path: &Path, grid: &GridPoints, mesh_level: usize) -> Result<Self, GraphError> {
        if path.exists()
            && let Ok(g) = Self::load(path, grid, mesh_level)
        {
            return Ok(g);
        }
        let graph = Self::build(grid, mesh_level)?;
        graph.save(path)?;
        Ok(graph)
    }
}

fn write_f32(w: &mut impl Write, values: &[f32]) -> std::io::Result<()> {
    for v in values {
        w.write_all(&v.to_le_bytes())?;
    }
    Ok(())
}

fn write_u32(w: &mut impl Write, values: &[u32]) -> std::io::Result<()> {
    for v in values {
        w.write_all(&v.to_le_bytes())?;
    }
    Ok(())
}

fn read_f32(r: &mut impl Read, n: usize) -> std::io::Result<Vec<f32>> {
    let mut bytes = vec![0u8; n * 4];
    r.read_exact(&mut bytes)?;
    Ok(bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes(c.try_into().expect("4")))
        .collect())
}

fn read_u32(r: &mut impl Read, n: usize) -> std::io::Result<Vec<u32>> {
    let mut bytes = vec![0u8; n * 4];
    r.read_exact(&mut bytes)?;
    Ok(bytes
        .chunks_exact(4)
        .map(|c| u32::from_le_bytes(c.try_into().expect("4")))
        .collect())
}
