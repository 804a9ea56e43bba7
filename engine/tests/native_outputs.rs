//! Forecasts written on the model's own grid read back on the same points, with the same
//! definition: rotated lat-lon (GRIB2 3.1, CF `rotated_latitude_longitude`), polar
//! stereographic (3.20, CF `polar_stereographic`) and the real reduced Gaussian N48 file of the
//! shared data (GRIB2 3.40 from ecCodes' N48 sample; NetCDF on a `values` dimension). The
//! Lambert case runs end to end in lambert_model.rs.

use std::path::Path;

use chrono::{DateTime, TimeDelta, Utc};
use eccodes::KeyWrite;
use vejr_engine::forecast::ForecastOutput;
use vejr_engine::forecast::grib_output::GribWriter;
use vejr_engine::forecast::netcdf_output::{ForecastWriter, OutputGrid};
use vejr_ingest::store::Column;
use vejr_ingest::test_data::{grib_from_sample, shared_file};
use vejr_ingest::{Grid, GridKind, SourceHints, read_fields};

fn grid_from_sample(path: &Path, sample: &str, ints: &[(&str, i64)], floats: &[(&str, f64)]) -> Grid {
    {
        let _guard = vejr_ingest::grib_reader::ECCODES
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let mut m = grib_from_sample(sample, None, ints, floats);
        let n = (ints[0].1 * ints[1].1) as usize;
        m.write_key("values", &vec![280.0; n][..]).unwrap();
        m.write_to_file(path, false).unwrap();
    }
    read_fields(path, &SourceHints::default()).unwrap().grid
}

/// Writes a two-step forecast of 2 m temperature on `grid` as NetCDF and GRIB2 and reads both back.
fn round_trip(dir: &Path, grid: &Grid) {
    let mut column = Column::bare("2t", "surface", 0.0);
    column.units = Some("K".into());
    let reference: DateTime<Utc> = "2019-03-26T00:00:00Z".parse().unwrap();
    let field = |k: usize| -> Vec<f32> { (0..grid.len()).map(|p| 270.0 + (p % 17) as f32 + k as f32).collect() };
    let nc = dir.join("f.nc");
    let grib = dir.join("f.grib2");
    let mut writers: Vec<Box<dyn ForecastOutput>> = vec![
        Box::new(
            ForecastWriter::create(
                &nc,
                std::slice::from_ref(&column),
                OutputGrid::of(grid),
                reference,
                &[],
                None,
            )
            .unwrap(),
        ),
        Box::new(
            GribWriter::create(
                &grib,
                std::slice::from_ref(&column),
                OutputGrid::of(grid),
                reference,
                Default::default(),
            )
            .unwrap(),
        ),
    ];
    for w in &mut writers {
        for k in 1..=2 {
            w.write_step(reference + TimeDelta::hours(6 * k as i64), &field(k))
                .unwrap();
        }
    }
    for w in writers {
        w.finish().unwrap();
    }
    for path in [&nc, &grib] {
        let back = read_fields(path, &SourceHints::default()).unwrap();
        assert!(back.grid.same_points(grid, 1e-5), "{}: other points", path.display());
        assert_eq!(
            std::mem::discriminant(&back.grid.kind),
            std::mem::discriminant(&grid.kind),
            "{}: {:?}",
            path.display(),
            back.grid.kind
        );
        if matches!(grid.kind, GridKind::ReducedGaussian { .. }) {
            assert_eq!(back.grid.kind, grid.kind, "{}: the same rows", path.display());
        }
        let values = back.field(&back.variables[0], 1, 0, 0);
        let worst = values
            .iter()
            .zip(field(2))
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(worst < 0.01, "{}: values differ by {worst}", path.display());
    }
}

#[test]
fn rotated_lat_lon_forecasts_keep_their_grid() {
    let dir = tempfile::tempdir().unwrap();
    let grid = grid_from_sample(
        &dir.path().join("rotated.grib2"),
        "rotated_ll_sfc_grib2.tmpl",
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
    assert!(matches!(grid.kind, GridKind::RotatedLatLon(_)));
    round_trip(dir.path(), &grid);
    let file = netcdf::open(dir.path().join("f.nc")).unwrap();
    let mapping = file.variable("crs").unwrap();
    let text = |k: &str| mapping.attribute_value(k).unwrap().unwrap();
    assert_eq!(
        text("grid_mapping_name"),
        netcdf::AttributeValue::Str("rotated_latitude_longitude".into())
    );
    assert_eq!(text("grid_north_pole_latitude"), netcdf::AttributeValue::Double(40.0));
    assert_eq!(
        text("grid_north_pole_longitude"),
        netcdf::AttributeValue::Double(-170.0)
    );
}

#[test]
fn polar_stereographic_forecasts_keep_their_grid() {
    let dir = tempfile::tempdir().unwrap();
    let grid = grid_from_sample(
        &dir.path().join("polar.grib2"),
        "polar_stereographic_sfc_grib2.tmpl",
        &[("Nx", 16), ("Ny", 12), ("DxInMetres", 25_000), ("DyInMetres", 25_000)],
        &[
            ("latitudeOfFirstGridPointInDegrees", 60.0),
            ("longitudeOfFirstGridPointInDegrees", 350.0),
            ("LaDInDegrees", 60.0),
            ("orientationOfTheGridInDegrees", 0.0),
        ],
    );
    assert!(matches!(grid.kind, GridKind::PolarStereographic(_)));
    round_trip(dir.path(), &grid);
}

#[test]
fn reduced_gaussian_forecasts_keep_their_grid() {
    let dir = tempfile::tempdir().unwrap();
    let grid = read_fields(&shared_file("grib/reduced_gg.grib"), &SourceHints::default())
        .unwrap()
        .grid;
    assert!(matches!(grid.kind, GridKind::ReducedGaussian { n: 48, .. }));
    round_trip(dir.path(), &grid);
    let file = netcdf::open(dir.path().join("f.nc")).unwrap();
    let dims: Vec<String> = file
        .variable("t2m")
        .unwrap()
        .dimensions()
        .iter()
        .map(|d| d.name())
        .collect();
    assert_eq!(dims, ["time", "values"]);
}
