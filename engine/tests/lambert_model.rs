//! A limited-area model on a Lambert conformal grid, end to end: ingest → train → forecast →
//! evaluate, with no interpolation anywhere in vejr's own pipeline. The Lambert analyses are
//! real ERA5 2 m temperature (the shared UK sample), interpolated once by this test onto a
//! DANRA-style Lambert domain over the British Isles and written by ecCodes as GRIB2 template
//! 3.30, the form a national service's analyses come in.

use std::path::{Path, PathBuf};

use eccodes::KeyWrite;
use vejr_ingest::grid::GridKind;
use vejr_ingest::regrid::Regridder;
use vejr_ingest::test_data::{grib_from_sample, shared_file};
use vejr_ingest::{SourceHints, read_fields};

mod common;
use common::{evaluate_scores, stderr, train_config, uk_store, vejr};

const NX: usize = 14;
const NY: usize = 12;

/// The Lambert template message (Lambert over the British Isles, 40 km, spherical R = 6,367,470 m).
fn lambert_message() -> eccodes::KeyedMessage {
    let mut m = grib_from_sample(
        "regular_ll_sfc_grib2.tmpl",
        Some(30),
        &[
            ("shapeOfTheEarth", 1),
            ("scaleFactorOfRadiusOfSphericalEarth", 0),
            ("scaledValueOfRadiusOfSphericalEarth", 6_367_470),
            ("Nx", NX as i64),
            ("Ny", NY as i64),
            ("DxInMetres", 40_000),
            ("DyInMetres", 40_000),
            ("iScansNegatively", 0),
            ("jScansPositively", 1),
            ("bitsPerValue", 16),
        ],
        &[
            ("LaDInDegrees", 54.0),
            ("LoVInDegrees", 356.0),
            ("Latin1InDegrees", 54.0),
            ("Latin2InDegrees", 54.0),
            ("latitudeOfFirstGridPointInDegrees", 50.6),
            ("longitudeOfFirstGridPointInDegrees", 352.5),
        ],
    );
    m.write_key("shortName", "2t").unwrap();
    m
}

/// ERA5's March 2019 2 m temperature, 6-hourly, on the Lambert domain, as GRIB2.
fn lambert_analyses(dir: &Path) -> PathBuf {
    let era5 = read_fields(&shared_file("grib/era5-2mt-2019-03-uk.grib"), &SourceHints::default()).unwrap();
    let template_path = dir.join("template.grib2");
    {
        let _guard = vejr_ingest::grib_reader::ECCODES
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let mut m = lambert_message();
        m.write_key("values", &vec![280.0; NX * NY][..]).unwrap();
        m.write_to_file(&template_path, false).unwrap();
    }
    let lambert = read_fields(&template_path, &SourceHints::default()).unwrap().grid;
    assert!(matches!(lambert.kind, GridKind::LambertConformal(_)));
    let regridder = Regridder::new(&era5.grid, &lambert).unwrap();
    let times = era5.time.valid_times().unwrap().to_vec();
    let path = dir.join("lambert-2t.grib2");
    let _guard = vejr_ingest::grib_reader::ECCODES
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    let template = lambert_message();
    for (t, time) in times
        .iter()
        .enumerate()
        .filter(|(_, t)| t.format("%H").to_string().parse::<u32>().unwrap() % 6 == 0)
    {
        let mut values = Vec::new();
        regridder.apply(era5.field(&era5.variables[0], t, 0, 0), &mut values);
        assert!(
            values.iter().all(|v| v.is_finite()),
            "the Lambert domain lies inside ERA5's"
        );
        let mut m = template.try_clone().unwrap();
        m.write_key("dataDate", time.format("%Y%m%d").to_string().parse::<i64>().unwrap())
            .unwrap();
        m.write_key("dataTime", time.format("%H%M").to_string().parse::<i64>().unwrap())
            .unwrap();
        let values: Vec<f64> = values.iter().map(|&v| v as f64).collect();
        m.write_key("values", &values[..]).unwrap();
        m.write_to_file(&path, true).unwrap();
    }
    path
}

fn attribute(file: &netcdf::File, variable: &str, name: &str) -> Option<netcdf::AttributeValue> {
    file.variable(variable)?.attribute_value(name)?.ok()
}

#[test]
fn a_lambert_regional_model_trains_forecasts_and_is_scored_on_its_own_grid() {
    let dir = tempfile::tempdir().unwrap();
    let analyses = lambert_analyses(dir.path());

    // Ingest: the Lambert grid is kept as it is, its definition in the store.
    let ingest = dir.path().join("ingest.toml");
    std::fs::write(
        &ingest,
        format!(
            "[store]\npath = 'lambert.zarr'\nstart = '2019-03-01T00:00:00Z'\nend = '2019-03-31T18:00:00Z'\n\
             time_step = '6h'\nstatistics_end = '2019-03-24T18:00:00Z'\n[[sources]]\nfiles = ['{}']\n\
             [[variables]]\nname = '2t'\n",
            analyses.display()
        ),
    )
    .unwrap();
    let out = vejr(&["ingest", "--config", ingest.to_str().unwrap(), "--overwrite"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let store_path = dir.path().join("lambert.zarr");
    let store = vejr_ingest::store::Store::open(&store_path).unwrap();
    assert_eq!(store.grid.shape(), (NY, NX));
    let GridKind::LambertConformal(l) = &store.grid.kind else {
        panic!("{:?}", store.grid.kind)
    };
    assert_eq!(
        (l.plane.dx, l.central_meridian, l.plane.earth_radius),
        (40_000.0, 356.0, 6_367_470.0)
    );

    // Train with a boundary band one point wide.
    let config = train_config(
        dir.path(),
        &[("steps", "10"), ("validate_every", "10"), ("checkpoint_every", "10")],
    );
    let text = std::fs::read_to_string(&config).unwrap();
    let text = text
        .replace(&uk_store().display().to_string(), &store_path.display().to_string())
        .replace(
            "variables = ['2t']\n",
            "variables = ['2t']\nboundary_width_points = 1\n",
        );
    std::fs::write(&config, text).unwrap();
    let out = vejr(&["train", "--config", config.to_str().unwrap(), "--overwrite"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let band = 2 * NX + 2 * NY - 4;
    assert!(
        stderr(&out).contains(&format!("{band} of {} points", NX * NY)),
        "{}",
        stderr(&out)
    );
    let checkpoint = dir.path().join("run/checkpoints/step-0000010.vejr");

    // Forecast: NetCDF on the Lambert grid with its CF grid mapping, and GRIB2 template 3.30.
    let nc = dir.path().join("forecast.nc");
    let grib = dir.path().join("forecast.grib2");
    for (path, format) in [(&nc, "netcdf"), (&grib, "grib")] {
        let out = vejr(&[
            "forecast",
            "--checkpoint",
            checkpoint.to_str().unwrap(),
            "--store",
            store_path.to_str().unwrap(),
            "--date",
            "2019-03-26T00:00:00Z",
            "--lead",
            "24h",
            "--format",
            format,
            "--out",
            path.to_str().unwrap(),
        ]);
        assert!(out.status.success(), "{}", stderr(&out));
    }
    let file = netcdf::open(&nc).unwrap();
    let t2m = file.variable("t2m").expect("2t is written as t2m");
    let dims: Vec<String> = t2m.dimensions().iter().map(|d| d.name()).collect();
    assert_eq!(dims, ["time", "y", "x"]);
    assert_eq!(
        attribute(&file, "t2m", "grid_mapping"),
        Some(netcdf::AttributeValue::Str("crs".into()))
    );
    assert_eq!(
        attribute(&file, "crs", "grid_mapping_name"),
        Some(netcdf::AttributeValue::Str("lambert_conformal_conic".into()))
    );
    assert_eq!(
        attribute(&file, "crs", "standard_parallel"),
        Some(netcdf::AttributeValue::Doubles(vec![54.0, 54.0]))
    );
    assert_eq!(
        attribute(&file, "crs", "longitude_of_central_meridian"),
        Some(netcdf::AttributeValue::Double(356.0))
    );
    let latitude = file.variable("latitude").unwrap();
    assert_eq!(latitude.dimensions().len(), 2, "2-D latitude");
    let x: Vec<f64> = file.variable("x").unwrap().get_values(..).unwrap();
    assert!(x.windows(2).all(|w| (w[1] - w[0] - 40_000.0).abs() < 1e-6));
    let values: Vec<f32> = t2m.get_values(..).unwrap();
    assert_eq!(values.len(), 4 * NX * NY, "leads 6 to 24 h");
    assert!(values.iter().all(|v| (230.0..320.0).contains(v)));
    drop(file);

    // Both files read back on the store's grid, point for point.
    for path in [&nc, &grib] {
        let fields = read_fields(path, &SourceHints::default()).unwrap();
        assert!(fields.grid.same_points(&store.grid, 1e-6), "{}", path.display());
        assert!(
            matches!(fields.grid.kind, GridKind::LambertConformal(ref k) if k.plane.dx == 40_000.0 && k.standard_parallels == [54.0, 54.0]),
            "{}: {:?}",
            path.display(),
            fields.grid.kind
        );
    }

    // Evaluate against the store: scores for every lead, the band left out.
    let scores = evaluate_scores(&nc, &store_path, &dir.path().join("scores"));
    let rows: Vec<&str> = scores.lines().filter(|l| l.starts_with("model,2t")).collect();
    assert_eq!(rows.len(), 4, "{scores}");
    // The maps draw the Lambert points where they are.
    let maps: Vec<PathBuf> = std::fs::read_dir(dir.path().join("scores"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with("map_2t_"))
        .collect();
    assert!(!maps.is_empty());
    let grib_scores = evaluate_scores(&grib, &store_path, &dir.path().join("grib-scores"));
    assert!(grib_scores.lines().any(|l| l.starts_with("model,2t")), "{grib_scores}");
}
