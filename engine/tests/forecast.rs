//! `vejr forecast` and `vejr evaluate` with a model trained on the UK ERA5 sample: the file's
//! CF layout, streaming (no output when killed, memory flat in lead time), refusals of bad
//! initial conditions, and scores against persistence on real days the model never saw.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use vejr_ingest::test_data::shared_file;

mod common;
use common::{
    evaluate_scores, read_all, set_model, stderr, stdout, train_config, uk_store, vejr, vejr_with_file_limit,
};

/// The test-sized model trained on 1–24 March (once per test binary).
fn checkpoint() -> &'static Path {
    static CHECKPOINT: OnceLock<PathBuf> = OnceLock::new();
    CHECKPOINT.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("forecast-model-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let config = train_config(
            &dir,
            &[
                ("steps", "300"),
                ("warmup_steps", "10"),
                ("validate_every", "300"),
                ("checkpoint_every", "300"),
                // Fine-tuned on 4-step rollouts, as GraphCast is, for forecasts beyond one step.
                (
                    "curriculum",
                    "[[training.curriculum]]\nfrom_step = 0\nrollout = 1\n[[training.curriculum]]\nfrom_step = 200\nrollout = 4\n",
                ),
            ],
        );
        // configs/test-tiny.toml's model, with 8 learned features per grid point: the sample has
        // 2 m temperature alone, no land–sea mask to tell the model where the coast is.
        set_model(
            &config,
            "latent = 32\nprocessor_layers = 2\nmesh_level = 2\ntrainable_grid_features = 8",
        );
        let out = vejr(&["train", "--config", config.to_str().unwrap(), "--overwrite"]);
        assert!(out.status.success(), "{}", stderr(&out));
        dir.join("run/checkpoints/step-0000300.vejr")
    })
}

fn forecast(date: &str, lead: &str, out: &Path) -> std::process::Output {
    vejr(&forecast_args(date, lead, out))
}

/// `vejr forecast --init FILE`: the initial condition from analysis files.
fn forecast_from_files(init: &Path, lead: &str, out: &Path) -> std::process::Output {
    vejr(&[
        "forecast",
        "--checkpoint",
        checkpoint().to_str().unwrap(),
        "--init",
        init.to_str().unwrap(),
        "--lead",
        lead,
        "--out",
        out.to_str().unwrap(),
    ])
}

fn forecast_args<'a>(date: &'a str, lead: &'a str, out: &'a Path) -> Vec<&'a str> {
    vec![
        "forecast",
        "--checkpoint",
        checkpoint().to_str().unwrap(),
        "--store",
        uk_store().to_str().unwrap(),
        "--date",
        date,
        "--lead",
        lead,
        "--out",
        out.to_str().unwrap(),
    ]
}

fn text_attribute(v: Option<netcdf::AttributeValue>) -> String {
    match v {
        Some(netcdf::AttributeValue::Str(s)) => s,
        other => panic!("expected a text attribute, got {other:?}"),
    }
}

#[test]
fn forecast_file_is_cf_with_lead_and_valid_times() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f.nc");
    let out = forecast("2019-03-25T00:00:00Z", "1d", &path);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("simulated days per minute"), "{}", stdout(&out));
    let file = netcdf::open(&path).unwrap();
    let global = |name: &str| text_attribute(file.attribute(name).and_then(|a| a.value().ok()));
    assert_eq!(global("Conventions"), "CF-1.8");
    assert!(global("vejr_version").starts_with(env!("CARGO_PKG_VERSION")));
    assert_eq!(global("checkpoint_fnv1a").len(), 16);
    assert!(global("training_period").starts_with("2019-03-01T00:00:00Z to 2019-03-24T18:00:00Z"));
    assert!(global("initial_condition").contains("2019-03-25T00:00Z"));
    let attr =
        |var: &str, name: &str| text_attribute(file.variable(var).unwrap().attribute_value(name).and_then(|v| v.ok()));
    assert_eq!(attr("time", "units"), "hours since 2019-03-25 00:00:00");
    assert_eq!(attr("time", "standard_name"), "time");
    assert_eq!(attr("time", "axis"), "T");
    assert_eq!(attr("forecast_period", "standard_name"), "forecast_period");
    assert_eq!(
        attr("forecast_reference_time", "standard_name"),
        "forecast_reference_time"
    );
    assert_eq!(attr("latitude", "units"), "degrees_north");
    assert_eq!(attr("longitude", "axis"), "X");
    // CF names begin with a letter: the store's 2t is t2m, as in the CDS's ERA5 NetCDF.
    assert_eq!(attr("t2m", "vejr_store_name"), "2t");
    // The parameter, as cfgrib writes it: readers match 167, not a name.
    let param_id = file.variable("t2m").unwrap().attribute_value("GRIB_paramId");
    assert!(
        matches!(param_id, Some(Ok(netcdf::AttributeValue::Longlong(167)))),
        "{param_id:?}"
    );
    assert_eq!(attr("t2m", "units"), "K");
    assert_eq!(attr("t2m", "standard_name"), "air_temperature", "from ecCodes' cfName");
    // 2 m above ground, as a CF scalar coordinate.
    assert_eq!(
        attr("t2m", "coordinates"),
        "forecast_reference_time forecast_period height2m"
    );
    assert_eq!(attr("height2m", "standard_name"), "height");
    assert_eq!(attr("height2m", "units"), "m");
    assert_eq!(attr("height2m", "positive"), "up");
    assert_eq!(
        file.variable("height2m").unwrap().get_values::<f64, _>(..).unwrap(),
        vec![2.0]
    );
    let values = |name: &str| file.variable(name).unwrap().get_values::<f64, _>(..).unwrap();
    assert_eq!(values("forecast_period"), vec![6.0, 12.0, 18.0, 24.0]);
    assert_eq!(values("time"), vec![6.0, 12.0, 18.0, 24.0]);
    assert_eq!(values("forecast_reference_time"), vec![0.0]);
    assert_eq!(values("latitude").len(), 17);
    let t2m = file.variable("t2m").unwrap().get_values::<f32, _>((3, .., ..)).unwrap();
    assert_eq!(t2m.len(), 17 * 25);
    assert!(
        t2m.iter().all(|v| (250.0..310.0).contains(v)),
        "a 2 m temperature in kelvin"
    );
}

/// GRIB2 through ecCodes: read back by the ingest reader (ecCodes again), the same fields at the
/// same valid times as the NetCDF, on the UK domain that straddles the Greenwich meridian.
#[test]
fn grib_output_holds_the_same_forecast_as_netcdf() {
    let dir = tempfile::tempdir().unwrap();
    let (nc, grib) = (dir.path().join("f.nc"), dir.path().join("f.grib2"));
    let out = forecast("2019-03-26T06:00:00Z", "18h", &nc);
    assert!(out.status.success(), "{}", stderr(&out));
    let mut args = forecast_args("2019-03-26T06:00:00Z", "18h", &grib);
    args.extend(["--format", "grib"]);
    let out = vejr(&args);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!dir.path().join("f.grib2.partial").exists());

    let fields = vejr_ingest::read_fields(&grib, &Default::default()).unwrap();
    let vejr_ingest::TimeAxis::Valid(times) = &fields.time else {
        panic!("GRIB valid times expected, got {:?}", fields.time)
    };
    let hours: Vec<String> = times.iter().map(|t| t.format("%d %H").to_string()).collect();
    assert_eq!(hours, ["26 12", "26 18", "27 00"]);
    assert_eq!(fields.grid.shape(), (17, 25));
    assert_eq!(fields.grid.longitude_bounds(), (350.0, 2.0));
    let variable = fields.variable("2t").expect("2t in the GRIB file");

    // The file runs west to east across Greenwich (−10°…2°), as a map or cdo's field mean
    // needs it; read back, it is the store's order again, as the GRIB file is.
    let file = netcdf::open(&nc).unwrap();
    let lons = file.variable("longitude").unwrap().get_values::<f64, _>(..).unwrap();
    assert!(lons.windows(2).all(|w| (w[1] - w[0] - 0.5).abs() < 1e-9), "{lons:?}");
    assert_eq!((lons[0], lons[lons.len() - 1]), (-10.0, 2.0));
    let from_nc = vejr_ingest::read_fields(&nc, &Default::default()).unwrap();
    assert_eq!(
        from_nc.grid.longitudes, fields.grid.longitudes,
        "same canonical column order once read"
    );
    // Read back under the store's name (the file names it t2m, with vejr_store_name = 2t).
    let nc_variable = from_nc.variable("2t").expect("2t in the NetCDF file");
    for k in 0..3 {
        let expected = from_nc.field(nc_variable, k, 0, 0);
        let got = fields.field(variable, k, 0, 0);
        let worst = expected
            .iter()
            .zip(got)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        // 16-bit packing over a ~30 K range: steps of about 0.5 mK.
        assert!(worst < 0.01, "lead {k}: GRIB and NetCDF differ by {worst} K");
    }
}

/// Writes the store's analyses at `times` as a GRIB2 file on the checkpoint's grid, through the
/// forecast's own GRIB writer (a GRIB analysis file as an NWP centre would hand it over), with
/// `spoil` applied to the fields first.
fn analyses_as_grib(path: &Path, times: [&str; 2], spoil: impl Fn(usize, &mut [f32])) {
    use vejr_engine::forecast::{ForecastOutput, columns_of, grib_output::GribWriter, netcdf_output::OutputGrid};
    let meta = vejr_models::checkpoint::read_metadata(checkpoint()).unwrap();
    let store = vejr_ingest::store::Store::open(uk_store()).unwrap();
    let times: Vec<chrono::DateTime<chrono::Utc>> = times.iter().map(|t| t.parse().unwrap()).collect();
    let grid = OutputGrid {
        latitudes: &meta.latitudes,
        longitudes: &meta.longitudes,
        native: None,
    };
    // GRIB carries a reference time and a lead; the reader turns them into valid times.
    let reference = times[0] - chrono::TimeDelta::hours(6);
    let mut writer: Box<dyn ForecastOutput> =
        Box::new(GribWriter::create(path, &columns_of(&meta), grid, reference, Default::default()).unwrap());
    for (k, &time) in times.iter().enumerate() {
        let mut field = store.read_sample(store.time_index(time).unwrap(), &[0]).unwrap();
        spoil(k, &mut field);
        writer.write_step(time, &field).unwrap();
    }
    writer.finish().unwrap();
}

/// `--init FILE`: the same forecast as from the store's analyses at that date, and one line and
/// exit 2, writing nothing, when a field of the initial condition has a missing value.
#[test]
fn forecast_from_grib_analyses_and_refusal_of_missing_values() {
    let dir = tempfile::tempdir().unwrap();
    let analyses = dir.path().join("analyses.grib2");
    analyses_as_grib(&analyses, ["2019-03-27T06:00:00Z", "2019-03-27T12:00:00Z"], |_, _| {});
    let (from_file, from_store) = (dir.path().join("init.nc"), dir.path().join("store.nc"));
    let out = forecast_from_files(&analyses, "12h", &from_file);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = forecast("2019-03-27T12:00:00Z", "12h", &from_store);
    assert!(out.status.success(), "{}", stderr(&out));
    let (a, b) = (netcdf::open(&from_file).unwrap(), netcdf::open(&from_store).unwrap());
    let time_units = |f: &netcdf::File| {
        text_attribute(
            f.variable("time")
                .unwrap()
                .attribute_value("units")
                .and_then(|v| v.ok()),
        )
    };
    assert_eq!(
        time_units(&a),
        "hours since 2019-03-27 12:00:00",
        "t is the file's last time"
    );
    let provenance = text_attribute(a.attribute("initial_condition").and_then(|x| x.value().ok()));
    assert!(provenance.contains("analyses.grib2"), "{provenance}");
    for k in 0..2 {
        let read = |f: &netcdf::File| f.variable("t2m").unwrap().get_values::<f32, _>((k, .., ..)).unwrap();
        let worst = read(&a)
            .iter()
            .zip(read(&b))
            .map(|(x, y)| (x - y).abs())
            .fold(0.0f32, f32::max);
        // The inputs can differ by GRIB's 16-bit packing (under 1 mK); here they do not, as
        // ERA5's values were 16-bit packed to begin with.
        assert!(
            worst < 0.01,
            "step {k}: from GRIB and from the store differ by {worst} K"
        );
    }

    let spoilt = dir.path().join("spoilt.grib2");
    analyses_as_grib(&spoilt, ["2019-03-27T06:00:00Z", "2019-03-27T12:00:00Z"], |k, field| {
        if k == 1 {
            field[200] = f32::NAN;
        }
    });
    let refused = dir.path().join("refused.nc");
    let out = forecast_from_files(&spoilt, "12h", &refused);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(
        err.contains("2t at 2019-03-27T12:00Z has 1 missing or non-finite values"),
        "{err}"
    );
    assert!(!refused.exists() && !dir.path().join("refused.nc.partial").exists());

    // A temperature no atmosphere has (a damaged scale factor, °C labelled K) is refused too.
    analyses_as_grib(&spoilt, ["2019-03-27T06:00:00Z", "2019-03-27T12:00:00Z"], |k, field| {
        if k == 0 {
            field[7] = 1000.0;
        }
    });
    let out = forecast_from_files(&spoilt, "12h", &refused);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        // (1000 K comes back from GRIB's packing as 1000.007.)
        err.contains("2t at 2019-03-27T06:00Z has 1 value(s) of 425 outside the physical range 150..350 (e.g. 1000.0"),
        "{err}"
    );
    assert!(!refused.exists() && !dir.path().join("refused.nc.partial").exists());
}

#[test]
fn killed_forecast_leaves_no_file_and_memory_is_flat_in_lead_time() {
    let dir = tempfile::tempdir().unwrap();
    let peak = |steps: &str| -> f64 {
        let out = forecast("2019-03-25T00:00:00Z", steps, &dir.path().join(format!("f{steps}.nc")));
        assert!(out.status.success(), "{}", stderr(&out));
        let text = stdout(&out);
        let mib = text.split("peak memory ").nth(1).unwrap().split(' ').next().unwrap();
        mib.parse().unwrap()
    };
    let (short, long) = (peak("4"), peak("40"));
    assert!(
        long <= short * 1.10,
        "peak RSS {long} MiB for 40 steps vs {short} MiB for 4"
    );

    let path = dir.path().join("killed.nc");
    let partial = dir.path().join("killed.nc.partial");
    let mut child = Command::new(env!("CARGO_BIN_EXE_vejr"))
        .args(["forecast", "--checkpoint", checkpoint().to_str().unwrap(), "--store"])
        .args([
            uk_store().to_str().unwrap(),
            "--date",
            "2019-03-25T00:00:00Z",
            "--lead",
            "400",
        ])
        .args(["--out", path.to_str().unwrap()])
        .env("VEJR_TEST_FORECAST_STEP_DELAY_MS", "20")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while !partial.exists() && started.elapsed() < Duration::from_secs(120) {
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(Duration::from_millis(300));
    assert!(child.try_wait().unwrap().is_none(), "the long forecast ended too soon");
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        partial.exists() && !path.exists(),
        "a killed forecast must leave no killed.nc"
    );
}

/// The CDS 2024 NetCDF's last day of 2 m temperature, its longitudes moved `degrees` east.
fn uk_temperature_moved_east(path: &Path, degrees: f64) {
    cds_temperature(path, degrees, 0);
}

/// 24 hours of the CDS 2024 NetCDF's 2 m temperature ending `hours_before_end` before its last
/// time, longitudes moved `degrees` east, as the CDS names it (`t2m`).
fn cds_temperature(path: &Path, degrees: f64, hours_before_end: usize) {
    let source = netcdf::open(shared_file("netcdf/era5-t2m-2019-03-uk-cds2024.nc")).unwrap();
    let read = |n: &str| -> Vec<f64> { source.variable(n).unwrap().get_values::<f64, _>(..).unwrap() };
    let (lat, lon, time) = (read("latitude"), read("longitude"), read("valid_time"));
    let lon: Vec<f64> = lon.iter().map(|x| x + degrees).collect();
    let n = time.len() - hours_before_end;
    let t2m: Vec<f32> = source
        .variable("t2m")
        .unwrap()
        .get_values::<f32, _>((n - 24..n, .., ..))
        .unwrap();
    let mut file = netcdf::create(path).unwrap();
    for (name, len) in [("time", 24), ("latitude", lat.len()), ("longitude", lon.len())] {
        file.add_dimension(name, len).unwrap();
    }
    for (name, units, values) in [
        ("time", "seconds since 1970-01-01", &time[n - 24..n]),
        ("latitude", "degrees_north", &lat[..]),
        ("longitude", "degrees_east", &lon[..]),
    ] {
        let mut v = file.add_variable::<f64>(name, &[name]).unwrap();
        v.put_attribute("units", units).unwrap();
        v.put_values(values, ..).unwrap();
    }
    let mut v = file
        .add_variable::<f32>("t2m", &["time", "latitude", "longitude"])
        .unwrap();
    v.put_attribute("units", "K").unwrap();
    v.put_values(&t2m, ..).unwrap();
}

/// `--init` with the Copernicus CDS's own NetCDF (`t2m`, 0.25°, interpolated onto the model's
/// 0.5° as the store was) gives the store's forecast, and vejr's own output starts the next one.
#[test]
fn forecast_from_cds_netcdf_and_from_vejr_s_own_output() {
    let dir = tempfile::tempdir().unwrap();
    let cds = dir.path().join("cds.nc");
    cds_temperature(&cds, 0.0, 5); // ends 2019-03-31T18:00Z
    let (from_cds, from_store) = (dir.path().join("cds-f.nc"), dir.path().join("store-f.nc"));
    let out = forecast_from_files(&cds, "12h", &from_cds);
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("forecast: interpolating") && err.contains("onto the checkpoint's regular lat-lon 17 × 25 grid"),
        "{err}"
    );
    let out = forecast("2019-03-31T18:00:00Z", "12h", &from_store);
    assert!(out.status.success(), "{}", stderr(&out));
    let read = |p: &Path| read_all(p, "t2m");
    let (a, b) = (read(&from_cds), read(&from_store));
    let worst = a.iter().zip(&b).map(|(x, y)| (x - y).abs()).fold(0.0f32, f32::max);
    // The same ERA5 analyses, GRIB-decoded for the store and NetCDF-decoded here.
    assert!(worst < 0.05, "CDS and store starts differ by {worst} K");

    // vejr's own output (t2m, vejr_store_name = 2t): its last two times start the next forecast,
    // named by the reference time the files give.
    let next = dir.path().join("next-{reference_time}.nc");
    let out = forecast_from_files(&from_store, "6h", &next);
    assert!(out.status.success(), "{}", stderr(&out));
    let file = netcdf::open(dir.path().join("next-2019040106.nc")).unwrap();
    let units = text_attribute(
        file.variable("time")
            .unwrap()
            .attribute_value("units")
            .and_then(|v| v.ok()),
    );
    assert_eq!(units, "hours since 2019-04-01 06:00:00");
}

/// `--date` as forecasters type it, and an existing forecast kept unless `--overwrite`.
#[test]
fn short_dates_and_an_existing_forecast_kept_unless_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    let (short, full) = (dir.path().join("short.nc"), dir.path().join("full.nc"));
    let out = forecast("2019-03-27T12", "6h", &short);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = forecast("2019-03-27T12:00:00Z", "6h", &full);
    assert!(out.status.success(), "{}", stderr(&out));
    let read = |p: &Path| read_all(p, "t2m");
    assert_eq!(read(&short), read(&full));

    let before = std::fs::read(&short).unwrap();
    let out = forecast("2019-03-26", "12h", &short);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("short.nc exists; pass --overwrite to replace it"), "{err}");
    assert_eq!(std::fs::read(&short).unwrap(), before, "refused, yet the file changed");
    let mut args = forecast_args("2019-03-26", "12h", &short);
    args.push("--overwrite");
    let out = vejr(&args);
    assert!(out.status.success(), "{}", stderr(&out));
    let file = netcdf::open(&short).unwrap();
    let units = text_attribute(
        file.variable("time")
            .unwrap()
            .attribute_value("units")
            .and_then(|v| v.ok()),
    );
    assert_eq!(units, "hours since 2019-03-26 00:00:00");
    assert!(!dir.path().join("short.nc.partial").exists());
}

#[test]
fn a_series_of_initial_times_gives_one_forecast_each_or_is_refused_before_it_starts() {
    let dir = tempfile::tempdir().unwrap();
    // Into a directory not yet there, made as train and evaluate make theirs.
    let series = dir.path().join("hindcast");
    let template = series.join("f-{reference_time}.nc");
    let out = forecast("2019-03-26T00/2019-03-26T12", "12h", &template);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("3 forecasts to +12 h"), "{}", stdout(&out));
    for (stamp, units) in [
        ("2019032600", "hours since 2019-03-26 00:00:00"),
        ("2019032606", "hours since 2019-03-26 06:00:00"),
        ("2019032612", "hours since 2019-03-26 12:00:00"),
    ] {
        let file = netcdf::open(series.join(format!("f-{stamp}.nc"))).unwrap();
        let time = file.variable("time").unwrap();
        assert_eq!(
            text_attribute(time.attribute_value("units").and_then(|v| v.ok())),
            units
        );
    }
    // The same numbers as the forecast from that time alone.
    let single = dir.path().join("single.nc");
    let out = forecast("2019-03-26T06", "12h", &single);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        read_all(&single, "t2m"),
        read_all(&series.join("f-2019032606.nc"), "t2m")
    );

    // Several forecasts into one name, or over a file already there: refused before any runs.
    let one = dir.path().join("one.nc");
    let out = forecast("2019-03-26/2019-03-27", "6h", &one);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("5 forecasts need {reference_time} in the file name"),
        "{}",
        stderr(&out)
    );
    assert!(!one.exists());
    let out = forecast("2019-03-25T18/2019-03-26T00", "6h", &template);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("f-2019032600.nc exists; pass --overwrite"),
        "{}",
        stderr(&out)
    );
    assert!(!series.join("f-2019032518.nc").exists());

    // A start the store lacks refuses the series before any forecast runs, naming it, and
    // before any directory is made.
    let never = dir.path().join("never");
    let template = never.join("f-{reference_time}.nc");
    let mut args = forecast_args("2019-03-27T12", "6h", &template);
    let at = args.iter().position(|a| *a == "2019-03-27T12").unwrap();
    args.insert(at + 1, "2019-04-02T00");
    let out = vejr(&args);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(
        err.contains("--date: 1 of 2 starts cannot run from ")
            && err.contains("2019-04-02T00:00Z (no analysis at 2019-04-01T18:00Z); nothing was run"),
        "{err}"
    );
    assert!(!never.exists());
}

#[test]
fn bad_initial_conditions_get_one_line_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let out_path = dir.path().join("f.nc");
    let elsewhere = dir.path().join("elsewhere.nc");
    uk_temperature_moved_east(&elsewhere, 20.0);
    let other_variables = shared_file("netcdf/era5-pl-members-2017-01-cds2024.nc");
    for (init, expected) in [
        (
            &elsewhere,
            "elsewhere.nc (regular lat-lon 33 × 49) does not cover 425 of the checkpoint's 425 points",
        ),
        (&other_variables, "2t at 2017-01-"),
    ] {
        let out = forecast_from_files(init, "24h", &out_path);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
        assert!(err.contains(expected), "{expected}: {err}");
        assert!(!out_path.exists() && !dir.path().join("f.nc.partial").exists());
    }
    let out = forecast("2019-04-02T00:00:00Z", "24h", &out_path);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("no analysis at 2019-04-02T00:00Z"),
        "{}",
        stderr(&out)
    );
    let out = forecast("2019-03-25T00:00:00Z", "5h", &out_path);
    assert!(stderr(&out).contains("not a positive multiple"), "{}", stderr(&out));

    // Leads beyond any sane forecast (one overflowed chrono, one would run for years).
    for (lead, expected) in [
        ("10000000000000d", "out of range"),
        (
            "1000000000d",
            "beyond the longest forecast vejr runs (100 days, 400 model steps)",
        ),
        ("101d", "beyond the longest forecast"),
        ("401", "beyond the longest forecast"),
        ("0", "at least one model step"),
    ] {
        let out = forecast("2019-03-25T00:00:00Z", lead, &out_path);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{lead}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
        assert!(err.contains(expected) && !err.contains("panicked"), "{lead}: {err}");
        assert!(!out_path.exists());
    }

    // --out naming an input (here the checkpoint itself) is refused and the input kept.
    let before = std::fs::read(checkpoint()).unwrap();
    let out = forecast("2019-03-25T00:00:00Z", "24h", checkpoint());
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("is an input of this forecast"),
        "{}",
        stderr(&out)
    );
    assert_eq!(std::fs::read(checkpoint()).unwrap(), before);

    // A checkpoint whose metadata lost one byte's worth of truth is refused, not used.
    let damaged = dir.path().join("damaged.vejr");
    let mut bytes = before;
    let at = bytes.windows(6).position(|w| w == b"\"mean\"").unwrap();
    let digit = at + bytes[at..].iter().position(u8::is_ascii_digit).unwrap();
    bytes[digit] = if bytes[digit] == b'1' { b'2' } else { b'1' };
    std::fs::write(&damaged, &bytes).unwrap();
    let mut args = forecast_args("2019-03-25T00:00:00Z", "24h", &out_path);
    args[2] = damaged.to_str().unwrap();
    let out = vejr(&args);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("damaged metadata (checksum mismatch)"),
        "{}",
        stderr(&out)
    );
    assert!(!out_path.exists());
}

#[test]
fn model_beats_persistence_on_unseen_days() {
    let dir = tempfile::tempdir().unwrap();
    for day in 25..=30 {
        for hour in ["00", "12"] {
            let date = format!("2019-03-{day}T{hour}:00:00Z");
            let out = forecast(&date, "24h", &dir.path().join(format!("f-{day}{hour}.nc")));
            assert!(out.status.success(), "{}", stderr(&out));
        }
    }
    let scores = dir.path().join("scores");
    let glob = format!("{}/f-*.nc", dir.path().display());
    let out = vejr(&[
        "evaluate",
        "--forecasts",
        &glob,
        "--truth",
        uk_store().to_str().unwrap(),
        "--out",
        scores.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    println!("{}", stdout(&out));
    // Unseen in training, but best.vejr was chosen on these days: evaluate says so.
    assert!(
        stderr(&out).contains(
            "12 of 12 forecast(s) verify inside the checkpoint's validation period (2019-03-25 00Z to 2019-03-31 18Z)"
        ),
        "{}",
        stderr(&out)
    );
    assert!(!stderr(&out).contains("training period"), "{}", stderr(&out));
    let csv = std::fs::read_to_string(scores.join("scores.csv")).unwrap();
    let rmse = |system: &str, lead: &str| -> (f64, usize) {
        let row: Vec<&str> = csv
            .lines()
            .find(|l| l.starts_with(&format!("{system},2t,{lead},")))
            .unwrap_or_else(|| panic!("no {system} +{lead} h in\n{csv}"))
            .split(',')
            .collect();
        (row[3].parse().unwrap(), row[6].parse().unwrap())
    };
    // +24 h is the hard case: 24-hour persistence has the diurnal cycle exactly.
    for lead in ["6", "24"] {
        let (model, cases) = rmse("model", lead);
        let (persistence, _) = rmse("persistence", lead);
        assert_eq!(cases, 12);
        assert!(
            model < persistence,
            "+{lead} h: model RMSE {model} K, persistence {persistence} K"
        );
    }
    assert!(scores.join("map_2t_006h.png").is_file() && scores.join("rmse_2t.png").is_file());
}

#[test]
fn a_write_that_fails_half_way_leaves_no_file_one_line_and_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    let nc = dir.path().join("f.nc");
    let out = vejr_with_file_limit(&forecast_args("2019-03-25T00:00:00Z", "5d", &nc), 16 * 1024);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let errors: Vec<&str> = err.lines().filter(|l| l.starts_with("vejr: error: ")).collect();
    assert_eq!(errors.len(), 1, "{err}");
    assert!(errors[0].contains("f.nc"), "{err}");
    assert!(
        std::fs::read_dir(dir.path()).unwrap().next().is_none(),
        "files left behind"
    );

    // The same forecast without the limit, then scored with charts too big for the limit.
    let out = forecast("2019-03-25T00:00:00Z", "5d", &nc);
    assert!(out.status.success(), "{}", stderr(&out));
    let scores = dir.path().join("scores");
    let args = [
        "evaluate",
        "--forecast",
        nc.to_str().unwrap(),
        "--truth",
        uk_store().to_str().unwrap(),
        "--out",
        scores.to_str().unwrap(),
    ];
    let out = vejr_with_file_limit(&args, 16 * 1024);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains(".png"), "{err}");
    // The outputs are one unit: none of them, and no staging directory, is left.
    let left: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name != "f.nc")
        .collect();
    assert!(
        left.is_empty(),
        "scores, a chart or a temporary file was left: {left:?}"
    );
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// A store with one time's chunk deleted: evaluate and forecast refuse it naming the time,
/// instead of scoring without that lead (zarr reads a missing chunk as NaN everywhere).
#[test]
fn a_store_missing_a_chunk_is_refused_naming_the_time() {
    let dir = tempfile::tempdir().unwrap();
    let forecast_file = dir.path().join("f.nc");
    let out = forecast("2019-03-25T00:00:00Z", "24h", &forecast_file);
    assert!(out.status.success(), "{}", stderr(&out));
    let damaged = dir.path().join("damaged.zarr");
    copy_tree(uk_store(), &damaged);
    // 6-hourly from 1 March: index 98 is 25 March 12 UTC, the forecast's +12 h.
    std::fs::remove_file(damaged.join("data/98.0.0.0")).unwrap();
    let scores = dir.path().join("scores");
    let out = vejr(&[
        "evaluate",
        "--forecast",
        forecast_file.to_str().unwrap(),
        "--truth",
        damaged.to_str().unwrap(),
        "--out",
        scores.to_str().unwrap(),
    ]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("data chunk 98.0.0.0 (2019-03-25T12:00Z) is missing"),
        "{err}"
    );
    assert!(!scores.join("scores.csv").exists());
    let mut args = forecast_args("2019-03-25T12:00:00Z", "6h", &forecast_file);
    args[4] = damaged.to_str().unwrap();
    args.push("--overwrite");
    let out = vejr(&args);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("data chunk 98.0.0.0 (2019-03-25T12:00Z) is missing"),
        "{}",
        stderr(&out)
    );

    // In a series the damage is found when that forecast reads it: the series stops there,
    // saying which forecast and what is already written.
    let template = dir.path().join("series-{reference_time}.nc");
    let mut args = forecast_args("2019-03-25T00", "6h", &template);
    args[4] = damaged.to_str().unwrap();
    let at = args.iter().position(|a| *a == "2019-03-25T00").unwrap();
    args.insert(at + 1, "2019-03-25T12");
    let out = vejr(&args);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_eq!(err.lines().filter(|l| l.starts_with("vejr: error")).count(), 1, "{err}");
    assert!(
        err.trim_end().lines().last().unwrap().starts_with("vejr: error"),
        "{err}"
    );
    assert!(
        err.contains("forecast 2 of 2, from 2019-03-25T12:00Z: ")
            && err.contains("data chunk 98.0.0.0 (2019-03-25T12:00Z) is missing")
            && err.contains("the forecast before it is written"),
        "{err}"
    );
    assert!(dir.path().join("series-2019032500.nc").exists());
    assert!(!dir.path().join("series-2019032512.nc").exists());
    assert!(!dir.path().join("series-2019032512.nc.partial").exists());
}

/// `--write-initial-state`: lead 0 is the store's analysis at the initial time, and evaluate
/// scores from the first step (lead 0 is no forecast).
#[test]
fn initial_state_written_as_lead_zero_when_asked_and_not_scored() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f.nc");
    let mut args = forecast_args("2019-03-31T12:00:00Z", "6h", &path);
    args.push("--write-initial-state");
    let out = vejr(&args);
    assert!(out.status.success(), "{}", stderr(&out));
    let forecast = vejr_engine::verification::ForecastFile::open(&path).unwrap();
    assert_eq!(forecast.lead_hours, vec![0.0, 6.0]);
    let store = vejr_ingest::store::Store::open(uk_store()).unwrap();
    let t = store.time_index("2019-03-31T12:00:00Z".parse().unwrap()).unwrap();
    let analysis = store.read_sample(t, &[store.column_index("2t").unwrap()]).unwrap();
    let column = forecast.column("2t").unwrap();
    let lead_zero = forecast.field(column, 0).unwrap();
    let worst = lead_zero
        .iter()
        .zip(&analysis[..store.grid.len()])
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(worst < 1e-3, "lead 0 differs from the analysis by {worst} K");
    let moved = forecast.field(column, 1).unwrap();
    assert!(
        moved.iter().zip(&lead_zero).any(|(a, b)| (a - b).abs() > 0.01),
        "+6 h is a forecast"
    );

    let csv = evaluate_scores(&path, uk_store(), &dir.path().join("scores"));
    assert!(csv.lines().any(|l| l.starts_with("model,2t,6,")), "{csv}");
    assert!(!csv.lines().any(|l| l.contains(",2t,0,")), "{csv}");
}

/// `evaluate` scores vejr's GRIB2 forecasts as it scores its NetCDF ones, against raw analysis
/// files as against the store built from them: the CDS NetCDF names 2 m temperature `t2m`
/// (found as the forecasts' `2t` by ecCodes' NetCDF name for it) on its 0.25° grid
/// (interpolated onto the model's 0.5°, as ingest did), the ERA5 GRIB `2t` likewise. And the
/// scores of each forecast laid out by (reference time, lead time) when asked.
#[test]
fn evaluate_reads_grib_forecasts_and_raw_analysis_files() {
    let dir = tempfile::tempdir().unwrap();
    for day in ["26", "27"] {
        let date = format!("2019-03-{day}T00:00:00Z");
        let out = forecast(&date, "12h", &dir.path().join(format!("f-{day}.nc")));
        assert!(out.status.success(), "{}", stderr(&out));
        let grib = dir.path().join(format!("g-{day}.grib2"));
        let mut args = forecast_args(&date, "12h", &grib);
        args.extend(["--format", "grib"]);
        let out = vejr(&args);
        assert!(out.status.success(), "{}", stderr(&out));
    }
    let evaluate = |forecasts: &str, truth: &Path, name: &str, extra: &[&str]| -> (String, String) {
        let scores = dir.path().join(name);
        let glob = format!("{}/{forecasts}", dir.path().display());
        let mut args = vec![
            "evaluate",
            "--forecasts",
            &glob,
            "--truth",
            truth.to_str().unwrap(),
            "--out",
            scores.to_str().unwrap(),
        ];
        args.extend(extra);
        let out = vejr(&args);
        assert!(out.status.success(), "{name}: {}", stderr(&out));
        (
            std::fs::read_to_string(scores.join("scores.csv")).unwrap(),
            stderr(&out),
        )
    };
    let rmse = |csv: &str, system: &str, lead: &str| -> f64 {
        let row = csv
            .lines()
            .find(|l| l.starts_with(&format!("{system},2t,{lead},")))
            .unwrap_or_else(|| panic!("no {system} +{lead} h in\n{csv}"));
        let fields: Vec<&str> = row.split(',').collect();
        assert_eq!(fields[6], "2", "two forecasts scored: {row}");
        fields[3].parse().unwrap()
    };
    let (store_nc, _) = evaluate("f-*.nc", uk_store(), "store-nc", &["--by-reference-time"]);
    let (store_grib, _) = evaluate("g-*.grib2", uk_store(), "store-grib", &[]);
    let cds = shared_file("netcdf/era5-t2m-2019-03-uk-cds2024.nc");
    let (cds_nc, said) = evaluate("f-*.nc", &cds, "cds-nc", &[]);
    assert!(said.contains("truth: interpolating"), "{said}");
    let (grib_grib, _) = evaluate(
        "g-*.grib2",
        &shared_file("grib/era5-2mt-2019-03-uk.grib"),
        "grib-grib",
        &[],
    );
    // Analyses of something else (NCEP's precipitable water) score nothing: one line, exit 2.
    let other = dir.path().join("other");
    let out = vejr(&[
        "evaluate",
        "--forecast",
        dir.path().join("f-26.nc").to_str().unwrap(),
        "--truth",
        shared_file("netcdf/ncep-r2-pr_wtr-2022-daily.nc").to_str().unwrap(),
        "--out",
        other.to_str().unwrap(),
    ]);
    common::assert_refused(&out, &["no forecast variable (2t) is in the truth", "pr_wtr"]);
    assert!(!other.exists(), "nothing written for a refused evaluation");
    for lead in ["6", "12"] {
        let reference = rmse(&store_nc, "model", lead);
        let persistence = rmse(&store_nc, "persistence", lead);
        assert!(reference > 0.1, "+{lead} h: a forecast has errors ({reference} K)");
        for (what, csv, tolerance) in [
            // 16-bit GRIB packing moves values by about 0.5 mK.
            ("GRIB forecasts against the store", &store_grib, 2e-3),
            ("NetCDF forecasts against the CDS NetCDF", &cds_nc, 1e-5),
            ("GRIB forecasts against the ERA5 GRIB", &grib_grib, 2e-3),
        ] {
            let model = rmse(csv, "model", lead);
            assert!(
                (model - reference).abs() < tolerance,
                "{what}, +{lead} h: RMSE {model} K, against the store {reference} K"
            );
            let p = rmse(csv, "persistence", lead);
            assert!(
                (p - persistence).abs() < 1e-5,
                "{what}: persistence {p} K, {persistence} K"
            );
        }
    }
    // Per forecast: two reference times, and their mean square errors make the aggregate's.
    let cases = std::fs::read_to_string(dir.path().join("store-nc/scores_by_reference_time.csv")).unwrap();
    assert!(
        cases.starts_with("system,variable,reference_time,lead_hours,rmse,acc,bias\n"),
        "{cases}"
    );
    let rows: Vec<Vec<&str>> = cases
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect::<Vec<_>>())
        .filter(|r| r[0] == "model" && r[3] == "12")
        .collect();
    let times: Vec<&str> = rows.iter().map(|r| r[2]).collect();
    assert_eq!(times, ["2019-03-26T00:00:00Z", "2019-03-27T00:00:00Z"]);
    let mean_square = rows.iter().map(|r| r[4].parse::<f64>().unwrap().powi(2)).sum::<f64>() / 2.0;
    let aggregate = rmse(&store_nc, "model", "12");
    assert!(
        (mean_square.sqrt() - aggregate).abs() < 1e-4,
        "per-forecast RMSEs {:?} do not make the aggregate {aggregate}",
        rows.iter().map(|r| r[4]).collect::<Vec<_>>()
    );
}
