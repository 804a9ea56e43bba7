//! Real regional and global model output in NetCDF, from the NCL user guide's data in
//! libncarg-data (a Debian package the Makefile installs): EURO-CORDEX on its rotated grid
//! (EUR-11, with and without 2-D latitude and longitude), a CMIP5 ocean on its bipolar
//! curvilinear grid, ICON's triangular grid (cell centres in radians, CDO's absolute time axis)
//! and CAM-SE's unstructured cubed sphere. Each is read on its own points, as the file or its
//! grid mapping places them.

use std::path::PathBuf;

use vejr_ingest::grid::GridKind;
use vejr_ingest::test_data::system_file;
use vejr_ingest::{SourceHints, read_fields};

fn nug(name: &str) -> PathBuf {
    system_file(&format!("/usr/share/ncarg/data/nug/{name}"))
}

fn values(path: &std::path::Path, variable: &str) -> Vec<f64> {
    let file = netcdf::open(path).unwrap();
    file.variable(variable).unwrap().get_values::<f64, _>(..).unwrap()
}

fn same_longitude(a: f64, b: f64, tolerance: f64) -> bool {
    let d = (a - b).rem_euclid(360.0);
    d.min(360.0 - d) < tolerance
}

/// EUR-11 as CDO left it (rotated axes and the pole, no latitude or longitude): vejr places each
/// point by rotating the axes about the pole. The same model's land fraction file has the 2-D
/// latitude and longitude COSMO-CLM wrote, on axes that extend EUR-11's by 13 points on every
/// side: vejr's points equal the model's own.
#[test]
fn euro_cordex_rotated_grid_without_coordinates_is_placed_by_its_pole() {
    let eur11 = nug("tas_rotated_grid_EUR11.nc");
    let fields = read_fields(&eur11, &SourceHints::default()).unwrap();
    assert_eq!(fields.grid.shape(), (412, 424));
    let GridKind::RotatedLatLon(r) = &fields.grid.kind else {
        panic!("{:?}", fields.grid.kind)
    };
    assert_eq!(r.north_pole(), (39.25, -162.0));
    let tas = fields.variable("tas").unwrap();
    assert_eq!(tas.info.levels, vec![2.0], "the 2 m height axis is a level");

    let land = nug("FR-LAND_regional_model_0.11deg.nc");
    let (lat, lon) = (values(&land, "lat"), values(&land, "lon"));
    let (rlat_eur, rlat_land) = (values(&eur11, "rlat"), values(&land, "rlat"));
    assert_eq!(rlat_eur[0], rlat_land[13]);
    for j in (0..412).step_by(37) {
        for i in (0..424).step_by(41) {
            let (a, b) = fields.grid.point(j * 424 + i);
            let at = (j + 13) * 450 + (i + 13);
            assert!(
                (a - lat[at]).abs() < 1e-4 && same_longitude(b, lon[at], 1e-4),
                "rotated point ({j}, {i}): vejr ({a}, {b}), COSMO-CLM ({}, {})",
                lat[at],
                lon[at]
            );
        }
    }

    // The land fraction file itself reads on its 2-D coordinates, as a rotated grid.
    let fields = read_fields(&land, &SourceHints::default()).unwrap();
    assert!(matches!(fields.grid.kind, GridKind::RotatedLatLon(_)));
    assert_eq!(fields.grid.shape(), (438, 450));
}

/// MPI-ESM's ocean (CMIP5) on its bipolar grid: 2-D latitude and longitude with cell bounds
/// (`lat_bnds(y, x, nv4)`), which are coordinates, not data.
#[test]
fn cmip5_ocean_on_a_curvilinear_grid_is_read_on_its_points() {
    let path = nug("tos_ocean_bipolar_grid.nc");
    let fields = read_fields(&path, &SourceHints::default()).unwrap();
    assert_eq!(fields.grid.shape(), (220, 256));
    assert_eq!(fields.variables.len(), 1, "tos only; its bounds are not data");
    let (lat, lon) = (values(&path, "lat"), values(&path, "lon"));
    for p in (0..lat.len()).step_by(97) {
        let (a, b) = fields.grid.point(p);
        assert!(
            (a - lat[p]).abs() < 1e-9 && same_longitude(b, lon[p], 1e-9),
            "point {p}"
        );
    }
    // Land is the file's _FillValue, missing here.
    let raw = values(&path, "tos");
    let tos = &fields.variable("tos").unwrap().data;
    assert_eq!(
        tos.iter().filter(|v| v.is_nan()).count(),
        raw.iter().filter(|&&v| v >= 1e20).count()
    );
}

/// ICON's ocean on its triangular grid: cell centres in radians, and CDO's absolute time axis
/// (`day as %Y%m%d.%f`).
#[test]
fn icon_triangular_grid_in_radians_with_an_absolute_time_axis() {
    let path = nug("triangular_grid_ICON.nc");
    let fields = read_fields(&path, &SourceHints::default()).unwrap();
    assert_eq!(fields.grid.len(), 20480);
    assert!(matches!(fields.grid.kind, GridKind::Unstructured));
    let (clat, clon) = (values(&path, "clat"), values(&path, "clon"));
    for p in (0..clat.len()).step_by(101) {
        let (a, b) = fields.grid.point(p);
        assert!(
            (a - clat[p].to_degrees()).abs() < 1e-9 && same_longitude(b, clon[p].to_degrees(), 1e-9),
            "cell {p}"
        );
    }
    let day = values(&path, "time")[0];
    let time = fields.time.valid_times().unwrap()[0];
    assert_eq!(time.format("%Y%m%d").to_string(), format!("{}", day.floor() as u64));
    let salinity = fields.variable("S").unwrap();
    assert_eq!(salinity.info.levels, vec![10.0, 30.0, 50.0], "depth levels");
}

/// CAM-SE's cubed sphere as one `ncol` dimension with latitude and longitude per column.
#[test]
fn cam_se_unstructured_columns_are_read_as_points() {
    let path = nug("camse_unstructured_grid.nc");
    let fields = read_fields(&path, &SourceHints::default()).unwrap();
    assert_eq!(fields.grid.len(), 48602);
    let (lat, lon) = (values(&path, "lat"), values(&path, "lon"));
    for p in (0..lat.len()).step_by(211) {
        let (a, b) = fields.grid.point(p);
        assert!(
            (a - lat[p]).abs() < 1e-9 && same_longitude(b, lon[p], 1e-9),
            "column {p}"
        );
    }
    let t850 = &fields.variable("T850").unwrap().data;
    assert!(t850.iter().all(|v| (200.0..320.0).contains(v)));
}

/// NCL's T42 July winds (an EZPLOT dataset): 1-D `lat(latitude)`, `lon(longitude)` and
/// `plvl(level)` are the axes of dimensions named otherwise, the longitudes repeat 0° as 360°
/// (the cyclic column plotting adds), and time is a month number. The grid is read as the
/// Gaussian T42 grid it is, the repeated column once; the month number needs the config's
/// `time_units`, and without it the refusal names the units.
#[test]
fn axes_named_apart_from_their_dimensions_and_a_cyclic_column() {
    let path = system_file("/usr/share/ncarg/data/cdf/ex01B1_uv300.hs.nc");
    let e = read_fields(&path, &SourceHints::default()).unwrap_err().to_string();
    assert!(
        e.contains("ex01B1_uv300.hs.nc") && e.contains("time units \"Month\"") && e.contains("give time_units"),
        "{e}"
    );

    let hints = SourceHints {
        time_units: Some("days since 1990-07-01".into()),
        ..Default::default()
    };
    let fields = read_fields(&path, &hints).unwrap();
    assert_eq!(
        fields.grid.shape(),
        (64, 128),
        "129 file columns, the last repeating the first"
    );
    assert!(
        matches!(fields.grid.kind, GridKind::RegularGaussian { n: 32 }),
        "{:?}",
        fields.grid.kind
    );
    assert!(fields.grid.is_global_in_longitude());
    let file_lat = values(&path, "lat");
    let names: Vec<&str> = fields.variables.iter().map(|v| v.info.name.as_str()).collect();
    assert_eq!(names, ["U", "V"]);
    let u = fields.variable("U").unwrap();
    assert_eq!(u.info.levels, vec![300.0], "plvl(level), in mb");
    // Rows north to south, as the file's (south to north) reversed; values as the file has them.
    let raw = values(&path, "U");
    let north = file_lat.iter().cloned().fold(f64::MIN, f64::max);
    assert_eq!(fields.grid.latitudes[0], north);
    let file_row = file_lat.iter().position(|&l| l == north).unwrap();
    let t = 1;
    let (rows, file_columns, columns) = (64, 129, 128);
    for i in (0..columns).step_by(9) {
        let file = raw[(t * rows + file_row) * file_columns + i];
        let ours = u.data[t * rows * columns + i];
        assert_eq!(ours as f64, file, "column {i}");
    }
}

/// NCL's SEAM example (a spectral-element model's surface pressure): 2-D `lat2d(lat, lon)` and
/// `lon2d(lat, lon)` on dimensions named `lat` and `lon` that have no axes of their own. Its
/// time variable was defined and never written (netCDF's fill value): refused, saying so, once
/// the grid is found.
#[test]
fn two_dimensional_coordinates_named_lat2d_and_lon2d_and_a_time_never_written() {
    let path = system_file("/usr/share/ncarg/data/cdf/seam.nc");
    let hints = SourceHints {
        time_units: Some("days since 2000-01-01".into()),
        ..Default::default()
    };
    let e = read_fields(&path, &hints).unwrap_err().to_string();
    assert!(
        e.contains("seam.nc") && e.contains("time axis was never written"),
        "{e}"
    );
}
