//! Grids that are not latitudes × longitudes, read natively: every point's latitude, longitude
//! and value equal to what ecCodes itself gives for the message (`grib_get_data`: its
//! `latitudes`, `longitudes` and `values`), and the projection kept so outputs can be written on
//! it (the projection coordinates of every point, from our formulas, fall on the regular x/y
//! axes the grid's first point and spacing define). Files are written by ecCodes from its own
//! samples with realistic parameters: DANRA's Lambert, a rotated grid, a polar stereographic
//! one, and ecCodes' reduced lat-lon sample as shipped.

use std::path::Path;

use eccodes::{CodesHandle, FallibleStreamingIterator, KeyRead, KeyWrite, ProductKind};
use vejr_ingest::grid::GridKind;
use vejr_ingest::parameter_identity::samples_path;
use vejr_ingest::test_data::grib_from_sample;
use vejr_ingest::{SourceHints, read_fields};

/// ecCodes' own reading of the first message of `path`: (latitudes, longitudes, values).
fn grib_get_data(path: &Path) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let _guard = vejr_ingest::grib_reader::ECCODES
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    let mut handle = CodesHandle::new_from_file(path, ProductKind::GRIB).unwrap();
    let m = handle.next().unwrap().unwrap();
    (
        m.read_key("latitudes").unwrap(),
        m.read_key("longitudes").unwrap(),
        m.read_key("values").unwrap(),
    )
}

/// Writes one message from `sample` with the given keys and a field that varies from point to point.
fn write_from_sample(path: &Path, sample: &str, template: Option<i64>, ints: &[(&str, i64)], floats: &[(&str, f64)]) {
    let _guard = vejr_ingest::grib_reader::ECCODES
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    let mut m = grib_from_sample(sample, template, ints, floats);
    m.write_key("bitsPerValue", 24i64).unwrap();
    let n: i64 = m.read_key("numberOfDataPoints").unwrap();
    let values: Vec<f64> = (0..n).map(|p| 250.0 + 0.01 * p as f64 + (p % 7) as f64).collect();
    m.write_key("values", &values[..]).unwrap();
    m.write_to_file(path, false).unwrap();
}

/// vejr's points and values equal ecCodes' at every point (checked at all, reported at the first miss).
fn assert_same_as_eccodes(path: &Path) -> vejr_ingest::Fields {
    let (lats, lons, values) = grib_get_data(path);
    let fields = read_fields(path, &SourceHints::default()).unwrap();
    assert_eq!(fields.grid.len(), values.len());
    let field = fields.field(&fields.variables[0], 0, 0, 0);
    for p in 0..values.len() {
        let (lat, lon) = fields.grid.point(p);
        assert!(
            (lat - lats[p]).abs() < 1e-9,
            "point {p}: latitude {lat} vs ecCodes {}",
            lats[p]
        );
        let dlon = (lon - lons[p]).rem_euclid(360.0);
        assert!(
            dlon.min(360.0 - dlon) < 1e-9,
            "point {p}: longitude {lon} vs ecCodes {}",
            lons[p]
        );
        assert!(
            (field[p] as f64 - values[p]).abs() < 1e-3,
            "point {p}: {} vs {}",
            field[p],
            values[p]
        );
    }
    fields
}

/// Our projection coordinates of each point (from ecCodes' latitude and longitude) lie on the
/// axes our description gives, within `metres`.
fn assert_on_axes(
    fields: &vejr_ingest::Fields,
    forward: impl Fn(f64, f64) -> (f64, f64),
    axes: (Vec<f64>, Vec<f64>),
    metres: f64,
) {
    let (x, y) = axes;
    for p in 0..fields.grid.len() {
        let (lat, lon) = fields.grid.point(p);
        let (px, py) = forward(lat, lon);
        let (j, i) = (p / x.len(), p % x.len());
        assert!(
            (px - x[i]).abs() < metres && (py - y[j]).abs() < metres,
            "point {p} ({lat}, {lon}): ({px}, {py}) vs axes ({}, {})",
            x[i],
            y[j]
        );
    }
}

#[test]
fn lambert_conformal_grib2_danra_projection() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("danra.grib2");
    write_from_sample(
        &path,
        "regular_ll_sfc_grib2.tmpl",
        Some(30),
        &[
            ("shapeOfTheEarth", 1),
            ("scaleFactorOfRadiusOfSphericalEarth", 0),
            ("scaledValueOfRadiusOfSphericalEarth", 6_367_470),
            ("Nx", 40),
            ("Ny", 30),
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
    let fields = assert_same_as_eccodes(&path);
    assert_eq!(fields.grid.shape(), (30, 40));
    let GridKind::LambertConformal(l) = &fields.grid.kind else {
        panic!("{:?}", fields.grid.kind)
    };
    assert_eq!(
        (l.plane.nx, l.plane.ny, l.plane.dx, l.plane.earth_radius),
        (40, 30, 25_000.0, 6_367_470.0)
    );
    assert_eq!((l.central_meridian, l.standard_parallels), (25.0, [56.7, 56.7]));
    assert!(l.plane.scanning.j_positive && !l.plane.scanning.i_negative);
    assert_on_axes(&fields, |a, o| l.forward(a, o), l.axes(), 1.0);
    assert!(fields.grid.describe().contains("Lambert"));
}

#[test]
fn lambert_conformal_grib1_type_3() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lambert.grib1");
    write_from_sample(
        &path,
        "GRIB1.tmpl",
        None,
        &[
            ("dataRepresentationType", 3),
            ("Nx", 20),
            ("Ny", 15),
            ("DxInMetres", 50_000),
            ("DyInMetres", 50_000),
            ("iScansNegatively", 0),
            ("jScansPositively", 1),
        ],
        &[
            ("LoVInDegrees", 262.5),
            ("Latin1InDegrees", 50.0),
            ("Latin2InDegrees", 50.0),
            ("latitudeOfFirstGridPointInDegrees", 30.0),
            ("longitudeOfFirstGridPointInDegrees", 240.0),
        ],
    );
    let fields = assert_same_as_eccodes(&path);
    let GridKind::LambertConformal(l) = &fields.grid.kind else {
        panic!("{:?}", fields.grid.kind)
    };
    assert_eq!((l.plane.nx, l.plane.ny), (20, 15));
    assert_on_axes(&fields, |a, o| l.forward(a, o), l.axes(), 1.0);
}

#[test]
fn rotated_lat_lon_grib2() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rotated.grib2");
    // A COSMO-like rotated grid: pole at 40°N 170°W (southern pole 40°S 10°E).
    write_from_sample(
        &path,
        "rotated_ll_sfc_grib2.tmpl",
        None,
        &[("Ni", 21), ("Nj", 11)],
        &[
            ("latitudeOfFirstGridPointInDegrees", 5.0),
            ("longitudeOfFirstGridPointInDegrees", 350.0),
            ("latitudeOfLastGridPointInDegrees", 0.0),
            ("longitudeOfLastGridPointInDegrees", 0.0),
            ("iDirectionIncrementInDegrees", 0.5),
            ("jDirectionIncrementInDegrees", 0.5),
            ("latitudeOfSouthernPoleInDegrees", -40.0),
            ("longitudeOfSouthernPoleInDegrees", 10.0),
        ],
    );
    let fields = assert_same_as_eccodes(&path);
    assert_eq!(fields.grid.shape(), (11, 21));
    let GridKind::RotatedLatLon(r) = &fields.grid.kind else {
        panic!("{:?}", fields.grid.kind)
    };
    assert_eq!(r.north_pole(), (40.0, -170.0));
    // The rotated equator and meridian 0 cross at the pole's antipode of the rotation: the
    // grid's last point (rotated 0°, 0°) is 50°N 10°E in geographical coordinates.
    let (lat, lon) = fields.grid.point(fields.grid.len() - 1);
    assert!((lat - 50.0).abs() < 1e-6 && (lon - 10.0).abs() < 1e-6, "{lat} {lon}");
    // Our rotation (what places a NetCDF rotated grid that has only its axes) gives ecCodes'
    // points from the rotated axes, to the 1e-5° ecCodes rounds them to.
    let (x, y) = r.axes();
    for p in 0..fields.grid.len() {
        let (a, b) = r.geographic(y[p / x.len()], x[p % x.len()]);
        let (lat, lon) = fields.grid.point(p);
        let d = (b - lon).rem_euclid(360.0);
        assert!(
            (a - lat).abs() < 1e-5 && d.min(360.0 - d) < 1e-5,
            "point {p}: ({a}, {b}) vs ecCodes ({lat}, {lon})"
        );
    }
}

#[test]
fn polar_stereographic_grib2() {
    // Both row directions: the axes follow the points as ecCodes lists them.
    for j_positive in [1, 0] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("polar.grib2");
        write_from_sample(
            &path,
            "polar_stereographic_sfc_grib2.tmpl",
            None,
            &[
                ("Nx", 16),
                ("Ny", 31),
                ("DxInMetres", 25_000),
                ("DyInMetres", 25_000),
                ("jScansPositively", j_positive),
            ],
            &[
                ("latitudeOfFirstGridPointInDegrees", 60.0),
                ("longitudeOfFirstGridPointInDegrees", 350.0),
                ("LaDInDegrees", 60.0),
                ("orientationOfTheGridInDegrees", 0.0),
            ],
        );
        let fields = assert_same_as_eccodes(&path);
        let GridKind::PolarStereographic(p) = &fields.grid.kind else {
            panic!("{:?}", fields.grid.kind)
        };
        assert!(!p.south_pole);
        assert_on_axes(&fields, |a, o| p.forward(a, o), p.axes(), 1.0);
    }
}

#[test]
fn reduced_lat_lon_sample_is_read_as_its_points() {
    let path = samples_path().join("reduced_ll_sfc_grib2.tmpl");
    let fields = assert_same_as_eccodes(&path);
    let GridKind::ReducedLatLon { points_per_row } = &fields.grid.kind else {
        panic!("{:?}", fields.grid.kind)
    };
    assert_eq!(points_per_row.len(), 501);
    assert_eq!(fields.grid.shape(), (1, points_per_row.iter().sum::<usize>()));
    assert!(fields.grid.is_global_in_longitude());
}

/// A CF Lambert file as DANRA or MEPS come (projection coordinates in km, 2-D latitude and
/// longitude, a `grid_mapping` variable): the grid and its definition, not interpolated.
#[test]
fn cf_lambert_netcdf_is_read_with_its_grid_mapping() {
    let dir = tempfile::tempdir().unwrap();
    // The points of a DANRA-style domain as ecCodes computes them.
    let grib = dir.path().join("danra.grib2");
    write_from_sample(
        &grib,
        "regular_ll_sfc_grib2.tmpl",
        Some(30),
        &[
            ("shapeOfTheEarth", 1),
            ("scaleFactorOfRadiusOfSphericalEarth", 0),
            ("scaledValueOfRadiusOfSphericalEarth", 6_367_470),
            ("Nx", 6),
            ("Ny", 4),
            ("DxInMetres", 2_500),
            ("DyInMetres", 2_500),
            ("iScansNegatively", 0),
            ("jScansPositively", 1),
        ],
        &[
            ("LaDInDegrees", 56.7),
            ("LoVInDegrees", 25.0),
            ("Latin1InDegrees", 56.7),
            ("Latin2InDegrees", 56.7),
            ("latitudeOfFirstGridPointInDegrees", 55.0),
            ("longitudeOfFirstGridPointInDegrees", 10.0),
        ],
    );
    let from_grib = read_fields(&grib, &SourceHints::default()).unwrap();
    let GridKind::LambertConformal(l) = &from_grib.grid.kind else {
        panic!()
    };
    let (x, y) = l.axes();
    let (lat, lon) = from_grib.grid.point_coordinates();
    let path = dir.path().join("danra.nc");
    {
        let mut f = netcdf::create(&path).unwrap();
        f.add_dimension("time", 1).unwrap();
        f.add_dimension("y", 4).unwrap();
        f.add_dimension("x", 6).unwrap();
        let mut v = f.add_variable::<f64>("time", &["time"]).unwrap();
        v.put_attribute("units", "hours since 2020-01-01 00:00").unwrap();
        v.put_values(&[0.0], ..).unwrap();
        for (name, values) in [("x", &x), ("y", &y)] {
            let mut v = f.add_variable::<f64>(name, &[name]).unwrap();
            v.put_attribute("units", "km").unwrap();
            v.put_attribute("standard_name", format!("projection_{name}_coordinate"))
                .unwrap();
            v.put_values(&values.iter().map(|m| m / 1000.0).collect::<Vec<_>>(), ..)
                .unwrap();
        }
        for (name, values, units) in [("lat", &lat, "degrees_north"), ("lon", &lon, "degrees_east")] {
            let mut v = f.add_variable::<f64>(name, &["y", "x"]).unwrap();
            v.put_attribute("units", units).unwrap();
            v.put_values(values, ..).unwrap();
        }
        let mut crs = f.add_variable::<i32>("lambert_projection", &[]).unwrap();
        crs.put_attribute("grid_mapping_name", "lambert_conformal_conic")
            .unwrap();
        crs.put_attribute("standard_parallel", 56.7).unwrap();
        crs.put_attribute("longitude_of_central_meridian", 25.0).unwrap();
        crs.put_attribute("latitude_of_projection_origin", 56.7).unwrap();
        crs.put_attribute("earth_radius", 6_367_470.0).unwrap();
        let mut t = f.add_variable::<f32>("t2m", &["time", "y", "x"]).unwrap();
        t.put_attribute("units", "K").unwrap();
        t.put_attribute("grid_mapping", "lambert_projection").unwrap();
        t.put_attribute("coordinates", "lat lon").unwrap();
        t.put_values(&(0..24).map(|p| 270.0 + p as f32).collect::<Vec<_>>(), ..)
            .unwrap();
    }
    let fields = read_fields(&path, &SourceHints::default()).unwrap();
    assert_eq!(fields.grid.shape(), (4, 6));
    assert!(fields.grid.same_points(&from_grib.grid, 1e-9));
    let GridKind::LambertConformal(n) = &fields.grid.kind else {
        panic!("{:?}", fields.grid.kind)
    };
    assert!(
        (n.plane.dx - 2_500.0).abs() < 1e-6 && (n.plane.dy - 2_500.0).abs() < 1e-6,
        "km read as km"
    );
    assert_eq!(
        (n.standard_parallels, n.central_meridian, n.plane.earth_radius),
        ([56.7, 56.7], 25.0, 6_367_470.0)
    );
    assert!(n.plane.scanning.j_positive && !n.plane.scanning.i_negative);
    assert_eq!(fields.variables.len(), 1, "lat and lon are coordinates, not data");
    assert_eq!(fields.field(&fields.variables[0], 0, 0, 0)[7], 277.0);
}

/// Points with only a latitude and longitude each (cfgrib's `values` dimension).
#[test]
fn unstructured_points_from_netcdf() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("points.nc");
    {
        let mut f = netcdf::create(&path).unwrap();
        f.add_dimension("time", 2).unwrap();
        f.add_dimension("values", 5).unwrap();
        let mut v = f.add_variable::<f64>("time", &["time"]).unwrap();
        v.put_attribute("units", "hours since 2020-01-01 00:00").unwrap();
        v.put_values(&[0.0, 6.0], ..).unwrap();
        for (name, values, units) in [
            ("latitude", vec![60.0, 55.0, 50.0, 45.0, -10.0], "degrees_north"),
            ("longitude", vec![-5.0, 0.0, 5.0, 10.0, 200.0], "degrees_east"),
        ] {
            let mut v = f.add_variable::<f64>(name, &["values"]).unwrap();
            v.put_attribute("units", units).unwrap();
            v.put_values(&values, ..).unwrap();
        }
        let mut t = f.add_variable::<f32>("msl", &["time", "values"]).unwrap();
        t.put_attribute("units", "Pa").unwrap();
        t.put_values(&(0..10).map(|p| 100_000.0 + p as f32).collect::<Vec<_>>(), ..)
            .unwrap();
    }
    let fields = read_fields(&path, &SourceHints::default()).unwrap();
    assert_eq!(fields.grid.kind, GridKind::Unstructured);
    assert_eq!(fields.grid.shape(), (1, 5));
    assert_eq!(fields.grid.point(0), (60.0, 355.0));
    assert_eq!(
        fields.field(&fields.variables[0], 1, 0, 0),
        &[100_005.0, 100_006.0, 100_007.0, 100_008.0, 100_009.0]
    );
}

/// NDFD's Lambert grids run every second row backwards (alternative row scanning): put in plain
/// row order on read, each row's points step east along x as the projection says.
#[test]
fn lambert_with_alternate_rows_is_put_in_row_order() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ndfd-like.grib2");
    write_from_sample(
        &path,
        "regular_ll_sfc_grib2.tmpl",
        Some(30),
        &[
            ("shapeOfTheEarth", 1),
            ("scaleFactorOfRadiusOfSphericalEarth", 0),
            ("scaledValueOfRadiusOfSphericalEarth", 6_371_200),
            ("Nx", 9),
            ("Ny", 7),
            ("DxInMetres", 5_079),
            ("DyInMetres", 5_079),
            ("iScansNegatively", 0),
            ("jScansPositively", 1),
            ("alternativeRowScanning", 1),
        ],
        &[
            ("LaDInDegrees", 25.0),
            ("LoVInDegrees", 265.0),
            ("Latin1InDegrees", 25.0),
            ("Latin2InDegrees", 25.0),
            ("latitudeOfFirstGridPointInDegrees", 35.0),
            ("longitudeOfFirstGridPointInDegrees", 260.0),
        ],
    );
    let (_, _, values) = grib_get_data(&path);
    let fields = read_fields(&path, &SourceHints::default()).unwrap();
    let GridKind::LambertConformal(l) = &fields.grid.kind else {
        panic!("{:?}", fields.grid.kind)
    };
    assert_on_axes(&fields, |a, o| l.forward(a, o), l.axes(), 1.0);
    let field = fields.field(&fields.variables[0], 0, 0, 0);
    // Row 1, column 0 (on the axes, checked above) holds the last value of the file's second row.
    let (p, file) = (9, 2 * 9 - 1);
    assert!((field[p] as f64 - values[file]).abs() < 1e-3);
}
