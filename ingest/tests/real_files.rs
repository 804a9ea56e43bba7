//! Readers checked against the real reanalysis files in ../shared/data, with values worked
//! out independently (ecCodes' grib_get_data, ncdump, xarray) and written into the issue.

use chrono::{TimeZone, Utc};
use vejr_ingest::test_data::shared_file;
use vejr_ingest::{Fields, GridKind, IngestError, LevelType, SourceHints, TimeAxis, read_fields};

fn read(relative: &str) -> Fields {
    let path = shared_file(relative);
    read_fields(&path, &SourceHints::default()).unwrap_or_else(|e| panic!("{e}"))
}

fn times(fields: &Fields) -> &[chrono::DateTime<Utc>] {
    fields.time.valid_times().expect("file has valid times")
}

fn mean_of_all(fields: &Fields, name: &str) -> f64 {
    let v = fields.variable(name).unwrap();
    let finite: Vec<f64> = v.data.iter().filter(|x| !x.is_nan()).map(|&x| x as f64).collect();
    finite.iter().sum::<f64>() / finite.len() as f64
}

fn value_at(fields: &Fields, name: &str, time: usize, level: usize, member: usize, lat: f64, lon: f64) -> f32 {
    let v = fields.variable(name).unwrap();
    fields.field(v, time, level, member)[fields.grid.nearest(lat, lon)]
}

#[test]
fn era5_uk_two_metre_temperature_grib1() {
    let f = read("grib/era5-2mt-2019-03-uk.grib");
    assert_eq!(f.grid.shape(), (33, 49));
    assert_eq!(f.grid.kind, GridKind::RegularLatLon);
    let t = times(&f);
    assert_eq!(t.len(), 744);
    assert_eq!(t[0], Utc.with_ymd_and_hms(2019, 3, 1, 0, 0, 0).unwrap());
    assert_eq!(t[743], Utc.with_ymd_and_hms(2019, 3, 31, 23, 0, 0).unwrap());
    assert!(t.windows(2).all(|w| (w[1] - w[0]).num_hours() == 1));
    assert_eq!(f.variables.len(), 1);
    let name = &f.variables[0].info.name;
    assert_eq!(name, "2t");
    assert_eq!(f.variables[0].info.units.as_deref(), Some("K"));
    assert_eq!(f.variables[0].info.standard_name.as_deref(), Some("air_temperature"));
    assert_eq!(f.variables[0].info.level_type, LevelType::Surface);

    assert!((value_at(&f, name, 0, 0, 0, 58.0, -10.0) - 282.4248).abs() < 1e-3);
    assert!((value_at(&f, name, 743, 0, 0, 50.0, 2.0) - 281.4548).abs() < 1e-3);
    let mid = t
        .iter()
        .position(|&x| x == Utc.with_ymd_and_hms(2019, 3, 15, 12, 0, 0).unwrap())
        .unwrap();
    assert!((value_at(&f, name, mid, 0, 0, 55.0, -3.0) - 281.3066).abs() < 1e-3);
    assert!((mean_of_all(&f, name) - 280.774).abs() < 1e-3);

    // Canonical orientation: north→south, longitudes ascending in [0, 360).
    assert_eq!(f.grid.latitudes[0], 58.0);
    assert_eq!(f.grid.longitudes[0], 0.0);
    assert!(f.grid.longitudes.windows(2).all(|w| w[0] < w[1]));
    assert!(f.grid.longitudes.iter().all(|&l| (0.0..360.0).contains(&l)));
}

#[test]
fn uk_grib_and_both_netcdf_layouts_agree() {
    let grib = read("grib/era5-2mt-2019-03-uk.grib");
    for nc in [
        "netcdf/era5-t2m-2019-03-uk-legacy.nc",
        "netcdf/era5-t2m-2019-03-uk-cds2024.nc",
    ] {
        let f = read(nc);
        assert_eq!(times(&f), times(&grib), "{nc}");
        assert!(f.grid.same_points(&grib.grid, 1e-6), "{nc}");
        let (a, b) = (&f.variable("t2m").unwrap().data, &grib.variables[0].data);
        assert_eq!(a.len(), b.len());
        let worst = a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0f32, f32::max);
        assert!(worst <= 1e-3, "{nc}: max difference {worst} K");
    }
}

#[test]
fn ensemble_pressure_levels_grib_and_netcdf_agree() {
    let grib = read("grib/era5-levels-members.grib");
    let nc = read("netcdf/era5-pl-members-2017-01-cds2024.nc");
    for f in [&grib, &nc] {
        assert_eq!(f.members, (0..10).collect::<Vec<i64>>());
        assert_eq!(times(f).len(), 4);
        assert_eq!(f.grid.shape(), (61, 120));
        assert_eq!((f.grid.latitudes[0], f.grid.latitudes[60]), (90.0, -90.0));
    }
    assert_eq!(times(&grib), times(&nc));
    for name in ["z", "t"] {
        let (g, n) = (grib.variable(name).unwrap(), nc.variable(name).unwrap());
        assert_eq!(g.info.level_type, LevelType::Pressure);
        assert_eq!(n.info.level_type, LevelType::Pressure);
        assert_eq!(g.info.levels, vec![500.0, 850.0]);
        for (li, level) in g.info.levels.iter().enumerate() {
            let ln = Fields::level_index(n, *level).unwrap();
            for t in 0..4 {
                for m in 0..10 {
                    let (a, b) = (grib.field(g, t, li, m), nc.field(n, t, ln, m));
                    let worst = a
                        .iter()
                        .zip(b)
                        .map(|(x, y)| (x - y).abs() / y.abs().max(1.0))
                        .fold(0.0f32, f32::max);
                    assert!(
                        worst < 1e-5,
                        "{name} {level} hPa t{t} m{m}: relative difference {worst}"
                    );
                }
            }
        }
    }
    let z = grib.variable("z").unwrap();
    let z500 = grib.field(z, 0, Fields::level_index(z, 500.0).unwrap(), 0);
    let mean = z500.iter().map(|&x| x as f64).sum::<f64>() / z500.len() as f64;
    // The issue quotes 53995.23; ecCodes' own `grib_get_data` averages these 7,320 values to 53995.2489.
    assert!((mean - 53995.2489).abs() < 1e-3, "mean z500 {mean}");
}

#[test]
fn grib_bitmap_becomes_nan() {
    let f = read("grib/fields_with_missing_values.grib");
    let v = &f.variables[0];
    let missing: Vec<usize> = (0..times(&f).len())
        .map(|t| f.field(v, t, 0, 0).iter().filter(|x| x.is_nan()).count())
        .collect();
    assert_eq!(missing, vec![10_808, 10_891]);
    assert!(
        v.data
            .iter()
            .filter(|x| !x.is_nan())
            .all(|&x| (150.0..350.0).contains(&x)),
        "no missing-value sentinel leaks through"
    );
}

#[test]
fn grib2_regular_gaussian_latitudes() {
    let f = read("grib/regular_gg_ml_g2.grib");
    assert_eq!(f.grid.shape(), (160, 320));
    assert_eq!(f.grid.kind, GridKind::RegularGaussian { n: 80 });
    assert!((f.grid.latitudes[0] - 89.1415).abs() < 1e-4);
    assert!((f.grid.latitudes[159] + 89.1415).abs() < 1e-4);
    // Gaussian latitudes are not evenly spaced.
    let gaps: Vec<f64> = f.grid.latitudes.windows(2).map(|w| w[0] - w[1]).collect();
    assert!((gaps[0] - gaps[80]).abs() > 1e-6);
    assert_eq!(f.variables[0].info.level_type, LevelType::Model);
    assert_eq!(f.variables[0].info.levels.len(), 3);

    let g = read("grib/regular_gg_pl.grib");
    assert_eq!(g.grid.shape(), (96, 192));
    assert!((g.grid.latitudes[0] - 88.572).abs() < 1e-3);
}

#[test]
fn reduced_gaussian_is_kept_as_its_points_and_interpolates_to_the_regular_grid() {
    let reduced = read("grib/reduced_gg.grib");
    let regular = read("grib/regular_gg_pl.grib");
    let GridKind::ReducedGaussian { n, points_per_row } = &reduced.grid.kind else {
        panic!("{:?}", reduced.grid.kind)
    };
    assert_eq!(*n, 48);
    let total: usize = points_per_row.iter().sum();
    assert_eq!(reduced.grid.shape(), (1, total));
    assert!(total < 96 * 192, "fewer points than the regular grid");
    let v = &reduced.variables[0];
    assert_eq!(v.data.len(), total);
    assert!(v.data.iter().all(|x| x.is_finite()));
    // Rows north to south, each starting at 0°E, with the row's own spacing.
    let (lat0, lon0) = reduced.grid.point(0);
    let (_, lon1) = reduced.grid.point(1);
    assert!((lat0 - regular.grid.latitudes[0]).abs() < 1e-3 && lon0 == 0.0);
    assert!((lon1 - 360.0 / points_per_row[0] as f64).abs() < 1e-6);

    // Onto the regular Gaussian grid of the same N: each point lies between its row's points.
    let regridder = vejr_ingest::regrid::Regridder::new(&reduced.grid, &regular.grid).unwrap();
    let mut out = Vec::new();
    regridder.apply(&v.data, &mut out);
    assert_eq!(out.len(), 96 * 192);
    assert!(out.iter().all(|x| x.is_finite()));
    // On a row of the full 192 points the values are the reduced grid's own.
    let start: usize = points_per_row[..48].iter().sum();
    assert_eq!(points_per_row[48], 192);
    for j in [0, 17, 100, 191] {
        assert!((out[48 * 192 + j] - v.data[start + j]).abs() < 1e-3 * v.data[start + j].abs().max(1.0));
    }
}

#[test]
fn eraint_monthly_means_keep_month_axis_and_wrap_longitudes() {
    let f = read("netcdf/eraint_uvz.nc");
    match &f.time {
        TimeAxis::Other { name, values } => {
            assert_eq!(name, "month");
            assert_eq!(values, &vec![1.0, 7.0]);
        }
        other => panic!("month must not be read as time: {other:?}"),
    }
    assert_eq!(f.grid.shape(), (241, 480));
    assert!(f.grid.longitudes.iter().all(|&l| (0.0..360.0).contains(&l)));
    assert_eq!(f.grid.longitudes[0], 0.0);
    let z = f.variable("z").unwrap();
    assert_eq!(z.info.level_type, LevelType::Pressure);
    let z500 = f.field(z, 0, Fields::level_index(z, 500.0).unwrap(), 0);
    let mean = z500.iter().map(|&x| x as f64).sum::<f64>() / z500.len() as f64;
    assert!((mean - 53882.10).abs() < 0.01, "mean January z500 {mean}");
}

#[test]
fn ncep_reanalysis2_daily_netcdf4_classic() {
    let f = read("netcdf/ncep-r2-pr_wtr-2022-daily.nc");
    let t = times(&f);
    assert_eq!(t.len(), 151);
    assert_eq!(t[0], Utc.with_ymd_and_hms(2022, 1, 1, 0, 0, 0).unwrap());
    assert_eq!(t[150], Utc.with_ymd_and_hms(2022, 5, 31, 0, 0, 0).unwrap());
    assert_eq!(f.grid.shape(), (73, 144));
    let v = f.variable("pr_wtr").unwrap();
    assert!((v.data[0] - 2.40).abs() < 1e-3, "first value {}", v.data[0]);
    assert!((mean_of_all(&f, "pr_wtr") - 18.327).abs() < 1e-3);
}

#[test]
fn analyses_and_forecasts_give_valid_times() {
    let f = read("grib/pl_regular_ll.grib");
    let t = times(&f);
    assert_eq!(t.len(), 8);
    assert_eq!(t[0], Utc.with_ymd_and_hms(2024, 6, 3, 0, 0, 0).unwrap());
    assert!(t.windows(2).all(|w| (w[1] - w[0]).num_hours() == 6));
    let names: Vec<&str> = f.variables.iter().map(|v| v.info.name.as_str()).collect();
    for n in ["t", "r", "u", "v", "z"] {
        assert!(names.contains(&n), "{n} in {names:?}");
        let v = f.variable(n).unwrap();
        assert_eq!(v.info.level_type, LevelType::Pressure);
        assert_eq!((v.info.levels[0], *v.info.levels.last().unwrap()), (300.0, 1000.0));
    }
    assert!((mean_of_all(&f, "t") - 259.125).abs() < 1e-3);
    let z = f.variable("z").unwrap();
    let first = f.field(z, 0, Fields::level_index(z, 500.0).unwrap(), 0)[0];
    assert!((first - 53_619.5).abs() < 0.01, "{first}");
}

#[test]
fn damaged_grib_names_the_message() {
    // The first message's length field is broken (1,588 bytes declared for a 22,068-byte message).
    let path = shared_file("grib/era5-levels-corrupted.grib");
    let err = read_fields(&path, &SourceHints::default()).unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, IngestError::Grib { message_number: 1, .. }), "{text}");
    assert!(
        text.contains("era5-levels-corrupted.grib") && text.contains("message 1"),
        "{text}"
    );
    assert_eq!(text.lines().count(), 1);
}

#[test]
fn truncated_grib_is_an_error_not_fewer_fields() {
    let original = std::fs::read(shared_file("grib/era5-2mt-2019-03-uk.grib")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("truncated.grib");
    std::fs::write(&path, &original[..original.len() - 1000]).unwrap();
    let text = read_fields(&path, &SourceHints::default()).unwrap_err().to_string();
    assert!(
        text.contains("truncated.grib") && text.contains("message 744"),
        "{text}"
    );
}

#[test]
fn unsupported_grids_are_named() {
    for (sample, kind) in [("lambert_bf_grib2.tmpl", "lambert_bf"), ("sh_sfc_grib2.tmpl", "sh")] {
        let path = std::path::Path::new("/usr/share/eccodes/samples").join(sample);
        let text = read_fields(&path, &SourceHints::default()).unwrap_err().to_string();
        assert!(
            text.contains(&format!("unsupported grid type {kind}")) && text.contains("message 1"),
            "{text}"
        );
    }
    // ecCodes' polar stereographic sample has no grid spacing: every point would be the same.
    let path = std::path::Path::new("/usr/share/eccodes/samples/polar_stereographic_sfc_grib2.tmpl");
    let text = read_fields(path, &SourceHints::default()).unwrap_err().to_string();
    assert!(text.contains("message 1") && text.contains("Dx = 0 m"), "{text}");
}

#[test]
fn not_a_data_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.nc");
    std::fs::write(&path, "hello").unwrap();
    let text = read_fields(&path, &SourceHints::default()).unwrap_err().to_string();
    assert!(text.contains("not a NetCDF or GRIB file"), "{text}");
}
