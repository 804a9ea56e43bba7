//! The graph on a Lambert conformal domain, DANRA's projection (DMI's reanalysis: lat₀ = the
//! standard parallel = 56.7°N, lon₀ = 25°E, spherical earth of radius 6,367,470 m), its 789 × 589
//! points at 2.5 km subsampled tenfold (79 × 59 at 25 km) for test speed. The points' latitudes
//! and longitudes come from ecCodes (a GRIB2 template 3.30 message), not from projection code of
//! ours. Every point must be connected both ways, and the mesh must follow the domain's outline:
//! no node beyond the margin, fewer nodes than a latitude–longitude box around it would keep.

use eccodes::{KeyRead, KeyWrite};
use vejr_ingest::test_data::grib_from_sample;
use vejr_models::graph::icosahedral_mesh::{hierarchy, lat_lon_to_xyz, longest_edge};
use vejr_models::graph::{GRID_TO_MESH_RADIUS, WeatherGraph};

const NX: usize = 79;
const NY: usize = 59;

/// (latitudes, longitudes) of every point, as ecCodes computes them.
fn danra_points() -> (Vec<f64>, Vec<f64>) {
    let _guard = vejr_ingest::grib_reader::ECCODES
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    let mut m = grib_from_sample(
        "regular_ll_sfc_grib2.tmpl",
        Some(30),
        &[
            ("shapeOfTheEarth", 1),
            ("scaleFactorOfRadiusOfSphericalEarth", 0),
            ("scaledValueOfRadiusOfSphericalEarth", 6_367_470),
            ("Nx", NX as i64),
            ("Ny", NY as i64),
            ("DxInMetres", 25_000),
            ("DyInMetres", 25_000),
            ("iScansNegatively", 0),
            ("jScansPositively", 1),
        ],
        &[
            ("LaDInDegrees", 56.7),
            ("LoVInDegrees", 25.0),
            ("Latin1InDegrees", 56.7),
            ("Latin2InDegrees", 56.7),
            ("latitudeOfFirstGridPointInDegrees", 47.6),
            ("longitudeOfFirstGridPointInDegrees", 355.0),
        ],
    );
    m.write_key("values", &vec![0.0; NX * NY][..]).unwrap();
    let grid_type: String = m.read_key("gridType").unwrap();
    assert_eq!(grid_type, "lambert");
    (m.read_key("latitudes").unwrap(), m.read_key("longitudes").unwrap())
}

#[test]
fn a_lambert_domain_is_covered_exactly() {
    let (lat, lon) = danra_points();
    assert_eq!(lat.len(), NX * NY);
    // Denmark is inside, far from the edges.
    let copenhagen = lat
        .iter()
        .zip(&lon)
        .any(|(&a, &o)| (a - 55.7).abs() < 0.2 && ((o + 360.0) % 360.0 - 12.6).abs() < 0.3);
    assert!(copenhagen, "the domain covers Copenhagen");

    let level = 5;
    let graph = WeatherGraph::build_on_points(&lat, &lon, [NY, NX], level).unwrap();
    assert!(graph.regional);
    let mut into_mesh = vec![0usize; NX * NY];
    for &s in &graph.grid_to_mesh.senders {
        into_mesh[s as usize] += 1;
    }
    let mut from_mesh = vec![0usize; NX * NY];
    for &r in &graph.mesh_to_grid.receivers {
        from_mesh[r as usize] += 1;
    }
    assert!(into_mesh.iter().all(|&n| n >= 1), "a point sends to no mesh node");
    assert!(
        from_mesh.iter().all(|&n| n == 3),
        "a point lacks its containing triangle"
    );

    // No kept mesh node beyond the margin: the grid-to-mesh radius plus one mesh edge.
    let edge = longest_edge(hierarchy(level).last().unwrap());
    let margin = GRID_TO_MESH_RADIUS * edge + edge;
    let points: Vec<_> = lat.iter().zip(&lon).map(|(&a, &o)| lat_lon_to_xyz(a, o)).collect();
    let chord =
        |a: &[f64; 3], b: &[f64; 3]| ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2) + (a[2] - b[2]).powi(2)).sqrt();
    for &[a, o] in &graph.mesh_lat_lon {
        let node = lat_lon_to_xyz(a, o);
        let nearest = points.iter().map(|p| chord(p, &node)).fold(f64::INFINITY, f64::min);
        assert!(
            nearest <= margin * 1.001,
            "mesh node {a:.2}°N {o:.2}°E is {nearest} from the domain"
        );
    }
    // A latitude–longitude box around the domain (with the same margin) keeps more.
    let finest = hierarchy(level).pop().unwrap();
    let (south, north) = (
        lat.iter().copied().fold(90.0, f64::min),
        lat.iter().copied().fold(-90.0, f64::max),
    );
    let east_of = |o: f64| (o + 180.0).rem_euclid(360.0) - 180.0;
    let (west, east) = (
        lon.iter().map(|&o| east_of(o)).fold(180.0, f64::min),
        lon.iter().map(|&o| east_of(o)).fold(-180.0, f64::max),
    );
    let pad = margin.to_degrees();
    let in_box = finest
        .vertices
        .iter()
        .map(vejr_models::graph::icosahedral_mesh::xyz_to_lat_lon)
        .filter(|&(a, o)| {
            let o = east_of(o);
            a >= south - pad
                && a <= north + pad
                && o >= west - pad / a.to_radians().cos()
                && o <= east + pad / a.to_radians().cos()
        })
        .count();
    assert!(
        graph.num_mesh_nodes < in_box,
        "{} mesh nodes on the domain, {in_box} in a box around it",
        graph.num_mesh_nodes
    );
}
