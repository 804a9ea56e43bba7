//! The graph builder against GraphCast's published numbers and on a real regional grid.

use vejr_models::graph::icosahedral_mesh::{distance, lat_lon_to_xyz};
use vejr_models::graph::{GridPoints, WeatherGraph};

fn regular_global(resolution: f64) -> GridPoints {
    let rows = (180.0 / resolution).round() as usize + 1;
    let columns = (360.0 / resolution).round() as usize;
    GridPoints {
        latitudes: (0..rows).map(|i| 90.0 - i as f64 * resolution).collect(),
        longitudes: (0..columns).map(|j| j as f64 * resolution).collect(),
        points: None,
    }
}

fn xyz_of_mesh(graph: &WeatherGraph, m: u32) -> [f64; 3] {
    let [lat, lon] = graph.mesh_lat_lon[m as usize];
    lat_lon_to_xyz(lat, lon)
}

#[test]
fn quarter_degree_level_6_matches_graphcast_edge_counts() {
    let grid = regular_global(0.25);
    assert_eq!(grid.len(), 721 * 1440);
    let graph = WeatherGraph::build(&grid, 6).unwrap();
    assert!(!graph.regional);
    assert_eq!(graph.num_mesh_nodes, 40_962);
    assert_eq!(graph.mesh.len(), 327_660);
    // GraphCast's paper gives 1,618,746. GraphCast's own code (graphcast/icosahedral_mesh.py and
    // grid_mesh_connectivity.py, run with numpy 2.4 / OpenBLAS 0.3.31 and scipy 1.17 cKDTree) on
    // float32 coordinates, as its released ERA5 datasets have them, builds 1,618,818 on a mesh
    // whose every vertex equals ours bit for bit; so do we (1,618,824 from float64 coordinates).
    // The paper's count needs a radius about 1.7e-5 (relative) shorter: paper and code
    // disagree by 0.005 %.
    assert_eq!(graph.grid_to_mesh.len(), 1_618_818);
    assert!((graph.grid_to_mesh.len() as f64 / 1_618_746.0 - 1.0).abs() < 5e-5);
    assert_eq!(graph.mesh_to_grid.len(), 3_114_720);

    let mut received = vec![0u32; graph.num_mesh_nodes];
    for &r in &graph.grid_to_mesh.receivers {
        received[r as usize] += 1;
    }
    assert!(
        received.iter().all(|&n| n > 0),
        "every mesh node receives a grid-to-mesh edge"
    );

    // Exactly three mesh-to-grid edges per grid point (edges sorted by receiver), from a
    // triangle whose spherical interior contains the point.
    let positions = grid.positions();
    let m2g = &graph.mesh_to_grid;
    for g in (0..grid.len()).step_by(97) {
        let r = &m2g.receivers[3 * g..3 * g + 3];
        assert!(r.iter().all(|&x| x as usize == g));
        let [a, b, c] = [0, 1, 2].map(|k| xyz_of_mesh(&graph, m2g.senders[3 * g + k]));
        let p = positions[g];
        let (u, v, w) = barycentric(&p, &a, &b, &c);
        assert!(
            u >= -1e-9 && v >= -1e-9 && w >= -1e-9,
            "grid point {g} outside its triangle: {u} {v} {w}"
        );
    }
}

/// Barycentric coordinates of the projection of `p` onto the plane of (a, b, c) along the ray from the centre.
fn barycentric(p: &[f64; 3], a: &[f64; 3], b: &[f64; 3], c: &[f64; 3]) -> (f64, f64, f64) {
    let det = |x: &[f64; 3], y: &[f64; 3], z: &[f64; 3]| {
        x[0] * (y[1] * z[2] - y[2] * z[1]) - x[1] * (y[0] * z[2] - y[2] * z[0]) + x[2] * (y[0] * z[1] - y[1] * z[0])
    };
    let total = det(a, b, c);
    (det(p, b, c) / total, det(a, p, c) / total, det(a, b, p) / total)
}

#[test]
fn regional_uk_graph_keeps_mesh_near_the_domain() {
    let path = vejr_ingest::test_data::shared_file("grib/era5-2mt-2019-03-uk.grib");
    let source = vejr_ingest::open(&path, &Default::default()).unwrap();
    let g = &source.header().grid;
    let grid = GridPoints {
        latitudes: g.latitudes.clone(),
        longitudes: g.longitudes.clone(),
        points: None,
    };
    for level in [2, 4, 6] {
        let graph = WeatherGraph::build(&grid, level).unwrap();
        assert!(graph.regional);
        let full = 10 * 4usize.pow(level as u32) + 2;
        assert!(
            graph.num_mesh_nodes < full / 5,
            "level {level}: {} of {full} mesh nodes kept",
            graph.num_mesh_nodes
        );

        let mut sends = vec![false; grid.len()];
        let mut receives = vec![0; grid.len()];
        graph
            .grid_to_mesh
            .senders
            .iter()
            .for_each(|&s| sends[s as usize] = true);
        graph
            .mesh_to_grid
            .receivers
            .iter()
            .for_each(|&r| receives[r as usize] += 1);
        assert!(sends.iter().all(|&s| s), "level {level}: every grid point sends");
        assert!(
            receives.iter().all(|&r| r == 3),
            "level {level}: every grid point receives from three mesh nodes"
        );

        // No mesh node far outside: each lies within 1.6 finest edges of some grid point.
        let edge = vejr_models::graph::icosahedral_mesh::longest_edge(
            vejr_models::graph::icosahedral_mesh::hierarchy(level).last().unwrap(),
        );
        let positions = grid.positions();
        for m in 0..graph.num_mesh_nodes as u32 {
            let p = xyz_of_mesh(&graph, m);
            let nearest = positions.iter().map(|g| distance(g, &p)).fold(f64::INFINITY, f64::min);
            assert!(
                nearest <= 1.6 * edge + 1e-9,
                "level {level}: mesh node {m} is {nearest} from the domain"
            );
        }
        // Mesh edges connect kept nodes only, both ways.
        let edges: std::collections::HashSet<(u32, u32)> = graph
            .mesh
            .senders
            .iter()
            .copied()
            .zip(graph.mesh.receivers.iter().copied())
            .collect();
        assert!(edges.iter().all(|&(s, r)| edges.contains(&(r, s))));
    }
}

#[test]
fn edges_are_sorted_by_receiver_and_deterministic() {
    let grid = regular_global(5.625);
    let a = WeatherGraph::build(&grid, 2).unwrap();
    let b = WeatherGraph::build(&grid, 2).unwrap();
    assert_eq!(a, b);
    for set in [&a.grid_to_mesh, &a.mesh, &a.mesh_to_grid] {
        assert!(set.receivers.windows(2).all(|w| w[0] <= w[1]));
        assert_eq!(set.features.len(), set.len() * 4);
        // Normalised lengths: the longest edge of each set has length 1.
        let longest = set.features.chunks(4).map(|f| f[0]).fold(0.0f32, f32::max);
        assert!((longest - 1.0).abs() < 1e-6);
    }
    assert_eq!(a.grid_node_features.len(), grid.len() * 3);
}

#[test]
fn cache_round_trip_and_refusals() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("graph.bin");
    let grid = regular_global(5.625);
    let graph = WeatherGraph::build(&grid, 2).unwrap();
    graph.save(&path).unwrap();
    assert_eq!(WeatherGraph::load(&path, &grid, 2).unwrap(), graph);

    let other = regular_global(11.25);
    let err = WeatherGraph::load(&path, &other, 2).unwrap_err().to_string();
    assert!(err.contains("built for a 33×64 grid, asked for 17×32"), "{err}");
    let err = WeatherGraph::load(&path, &grid, 3).unwrap_err().to_string();
    assert!(err.contains("mesh level 2, asked for level 3"), "{err}");
    let mut shifted = grid.clone();
    shifted.longitudes.iter_mut().for_each(|l| *l += 1.0);
    assert!(
        WeatherGraph::load(&path, &shifted, 2)
            .unwrap_err()
            .to_string()
            .contains("different coordinates")
    );

    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() - 10]).unwrap();
    assert!(
        WeatherGraph::load(&path, &grid, 2)
            .unwrap_err()
            .to_string()
            .contains("truncated")
    );
    // load_or_build replaces a damaged cache.
    let rebuilt = WeatherGraph::load_or_build(&path, &grid, 2).unwrap();
    assert_eq!(rebuilt, graph);
    assert_eq!(WeatherGraph::load(&path, &grid, 2).unwrap(), graph);
}
