//! Units, from files the tests build out of the real UK ERA5 2 m temperature and ERA-Interim
//! geopotential: a field in other units than the store's or checkpoint's is converted with one
//! line saying so (ingest, `forecast --init`, `evaluate`), one in units that do not convert is
//! refused (exit 2, one line naming file and variable, nothing written).

mod common;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use common::{assert_refused, read_all, stderr, train_config, uk_store, uk_temperature, vejr};
use vejr_ingest::test_data::shared_file;

fn ingest_config(dir: &Path, files: &[&Path], variable: &str, extra: &str) -> PathBuf {
    let config = dir.join("ingest.toml");
    let files: Vec<String> = files.iter().map(|f| format!("'{}'", f.display())).collect();
    std::fs::write(
        &config,
        format!(
            "[store]\npath = 'out.zarr'\ntime_step = '1h'\n[[sources]]\nfiles = [{}]\n{extra}[[variables]]\nname = '{variable}'\n",
            files.join(", ")
        ),
    )
    .unwrap();
    config
}

fn store_values(path: &Path) -> (Vec<f32>, Option<String>) {
    let store = vejr_ingest::store::Store::open(path).unwrap();
    let values = (0..store.dates.len())
        .flat_map(|t| store.read_time(t).unwrap())
        .collect();
    (values, store.columns[0].units.clone())
}

fn largest_difference(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

#[test]
fn ingest_converts_celsius_to_the_store_s_kelvin_and_refuses_what_does_not_convert() {
    let dir = tempfile::tempdir().unwrap();
    let kelvin = dir.path().join("kelvin.nc");
    uk_temperature(&kelvin, "t2m", "K", 0..6, |_| {});
    let out = vejr(&[
        "ingest",
        "--config",
        ingest_config(dir.path(), &[&kelvin], "t2m", "").to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!stderr(&out).contains("converting"), "{}", stderr(&out));
    let (reference, units) = store_values(&dir.path().join("out.zarr"));
    assert_eq!(units.as_deref(), Some("K"));

    // The case: a file in °C becomes a store in K, with the line saying so.
    for spelling in ["degC", "Celsius", "°C"] {
        let celsius = dir.path().join("celsius.nc");
        uk_temperature(&celsius, "t2m", spelling, 0..6, |v| {
            v.iter_mut().for_each(|k| *k -= 273.15)
        });
        let config = ingest_config(dir.path(), &[&celsius], "t2m", "");
        let out = vejr(&["ingest", "--config", config.to_str().unwrap(), "--overwrite"]);
        let err = stderr(&out);
        assert!(out.status.success(), "{err}");
        assert!(
            err.contains(&format!(
                "ingest: converting t2m: {spelling} → K (+273.15) in celsius.nc"
            )),
            "{err}"
        );
        let (values, units) = store_values(&dir.path().join("out.zarr"));
        assert_eq!(units.as_deref(), Some("K"));
        assert!(largest_difference(&values, &reference) < 1e-4, "{spelling}");
    }

    // Two files in different units make one store in the first's units (kelvin here).
    let (early, late) = (dir.path().join("early.nc"), dir.path().join("late.nc"));
    uk_temperature(&early, "t2m", "K", 0..3, |_| {});
    uk_temperature(&late, "t2m", "degC", 3..6, |v| v.iter_mut().for_each(|k| *k -= 273.15));
    let config = ingest_config(dir.path(), &[&early, &late], "t2m", "");
    let out = vejr(&["ingest", "--config", config.to_str().unwrap(), "--overwrite"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stderr(&out).matches("converting").count(), 1, "{}", stderr(&out));
    assert!(largest_difference(&store_values(&dir.path().join("out.zarr")).0, &reference) < 1e-4);

    // A store asked for in °C holds °C, its physical range converted with it.
    let config = ingest_config(dir.path(), &[&kelvin], "t2m", "");
    let text = std::fs::read_to_string(&config).unwrap() + "units = 'degC'\n";
    std::fs::write(&config, text).unwrap();
    let out = vejr(&["ingest", "--config", config.to_str().unwrap(), "--overwrite"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let (values, units) = store_values(&dir.path().join("out.zarr"));
    assert_eq!(units.as_deref(), Some("degC"));
    let back: Vec<f32> = values.iter().map(|c| c + 273.15).collect();
    assert!(largest_difference(&back, &reference) < 1e-4);

    // Refused, naming file and variable, the old store left as it was.
    let before = std::fs::read(dir.path().join("out.zarr/.zattrs")).unwrap();
    let wrong = dir.path().join("wrong.nc");
    let hinted = "[sources.variables.t2m]\nunits = 'K'\n";
    let cases: [(&str, &str, &[&str]); 4] = [
        (
            "Pa",
            "",
            &[
                "wrong.nc",
                "t2m",
                "is in \"Pa\", the store's units are \"K\"",
                "does not convert",
            ],
        ),
        (
            "bananas",
            "",
            &["wrong.nc", "t2m", "\"bananas\" are not units udunits knows"],
        ),
        ("", "", &["wrong.nc", "t2m", "has no units where the store's are \"K\""]),
        // A hint describes the file; it may not relabel °C as K.
        (
            "degC",
            hinted,
            &[
                "wrong.nc",
                "t2m",
                "the file gives units \"degC\", the config's hint \"K\"",
            ],
        ),
    ];
    for (units, extra, expected) in cases {
        uk_temperature(&wrong, "t2m", units, 0..6, |_| {});
        let config = ingest_config(dir.path(), &[&wrong], "t2m", extra);
        let out = vejr(&["ingest", "--config", config.to_str().unwrap(), "--overwrite"]);
        assert_refused(&out, expected);
        assert_eq!(std::fs::read(dir.path().join("out.zarr/.zattrs")).unwrap(), before);
        assert!(!dir.path().join("out.zarr.partial").exists());
    }
}

/// ERA-Interim's geopotential (two monthly means, given six hours apart as a time axis),
/// rewritten as geopotential height in metres, with or without saying it is one.
fn geopotential_height(path: &Path, standard_name: Option<&str>) -> Vec<f32> {
    let source = netcdf::open(shared_file("netcdf/eraint_uvz.nc")).unwrap();
    let mut file = netcdf::create(path).unwrap();
    let z = source.variable("z").unwrap();
    let mut dims: Vec<String> = z.dimensions().iter().map(|d| d.name()).collect();
    for (i, d) in z.dimensions().iter().enumerate() {
        let name = if i == 0 { "time".to_owned() } else { d.name() };
        file.add_dimension(&name, d.len()).unwrap();
        let mut out = file.add_variable::<f64>(&name, &[&name]).unwrap();
        if i == 0 {
            out.put_attribute("units", "hours since 2000-01-01 00:00:00").unwrap();
            let hours: Vec<f64> = (0..d.len()).map(|k| 6.0 * k as f64).collect();
            out.put_values(&hours, ..).unwrap();
            continue;
        }
        let v = source.variable(&name).unwrap();
        if let Some(Ok(units)) = v.attribute_value("units") {
            out.put_attribute("units", units).unwrap();
        }
        out.put_values(&v.get_values::<f64, _>(..).unwrap(), ..).unwrap();
    }
    dims[0] = "time".into();
    let z = source.variable("z").unwrap();
    let number = |n: &str| match z.attribute_value(n).unwrap().unwrap() {
        netcdf::AttributeValue::Double(v) => v,
        other => panic!("{n}: {other:?}"),
    };
    let (scale, offset) = (number("scale_factor"), number("add_offset"));
    let packed: Vec<i16> = z.get_values::<i16, _>(..).unwrap();
    let geopotential: Vec<f32> = packed.iter().map(|&p| (p as f64 * scale + offset) as f32).collect();
    let height: Vec<f32> = geopotential.iter().map(|g| g / 9.80665).collect();
    let dims: Vec<&str> = dims.iter().map(String::as_str).collect();
    let mut v = file.add_variable::<f32>("z", &dims).unwrap();
    v.put_attribute("units", "m").unwrap();
    if let Some(s) = standard_name {
        v.put_attribute("standard_name", s).unwrap();
    }
    v.put_values(&height, ..).unwrap();
    geopotential
}

#[test]
fn geopotential_height_becomes_geopotential_only_when_the_file_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let said = dir.path().join("height.nc");
    let geopotential = geopotential_height(&said, Some("geopotential_height"));
    let config = ingest_config(dir.path(), &[&said], "z", "");
    let text = std::fs::read_to_string(&config).unwrap().replace("'1h'", "'6h'");
    std::fs::write(&config, text).unwrap();
    let out = vejr(&["ingest", "--config", config.to_str().unwrap()]);
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("converting z: m → m**2 s**-2 (×9.80665) in height.nc"),
        "{err}"
    );
    let store = vejr_ingest::store::Store::open(&dir.path().join("out.zarr")).unwrap();
    assert_eq!(store.columns[0].units.as_deref(), Some("m**2 s**-2"));
    assert_eq!(store.columns[0].standard_name.as_deref(), Some("geopotential"));
    // The store's level order may differ from the file's: compare sorted values.
    let mut stored = store.read_time(0).unwrap();
    let mut original = geopotential[..stored.len()].to_vec();
    stored.sort_by(f32::total_cmp);
    original.sort_by(f32::total_cmp);
    let worst = stored
        .iter()
        .zip(&original)
        .map(|(a, b)| (a - b).abs() / b.abs().max(1.0))
        .fold(0.0f32, f32::max);
    assert!(worst < 1e-5, "relative difference {worst}");

    // Metres with nothing saying they are a geopotential height: refused.
    let unsaid = dir.path().join("metres.nc");
    geopotential_height(&unsaid, None);
    let text = std::fs::read_to_string(&config)
        .unwrap()
        .replace("height.nc", "metres.nc");
    std::fs::write(&config, text).unwrap();
    assert_refused(
        &vejr(&["ingest", "--config", config.to_str().unwrap(), "--overwrite"]),
        &["metres.nc", "z", "only when the variable is geopotential height"],
    );
}

/// A model trained briefly on the UK store (2 m temperature in K): enough to compare forecasts.
fn checkpoint() -> &'static Path {
    static CHECKPOINT: OnceLock<PathBuf> = OnceLock::new();
    CHECKPOINT.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("units-model-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let config = train_config(&dir, &[("steps", "4"), ("checkpoint_every", "4")]);
        let out = vejr(&["train", "--config", config.to_str().unwrap(), "--overwrite"]);
        assert!(out.status.success(), "{}", stderr(&out));
        dir.join("run/checkpoints/step-0000004.vejr")
    })
}

#[test]
fn forecast_init_and_evaluate_convert_to_the_checkpoint_s_and_truth_s_units() {
    let dir = tempfile::tempdir().unwrap();
    let store = vejr_ingest::store::Store::open(uk_store()).unwrap();
    // t−Δt and t from the store, written as a NetCDF analysis file in the given units.
    let analyses = |path: &Path, units: &str, from_kelvin: fn(f32) -> f32| {
        let times = ["2019-03-27T06:00:00Z", "2019-03-27T12:00:00Z"];
        let times: Vec<chrono::DateTime<chrono::Utc>> = times.iter().map(|t| t.parse().unwrap()).collect();
        let mut file = netcdf::create(path).unwrap();
        file.add_dimension("time", 2).unwrap();
        let (ny, nx) = store.grid.shape();
        file.add_dimension("latitude", ny).unwrap();
        file.add_dimension("longitude", nx).unwrap();
        let (lat, lon) = (store.grid.latitudes.clone(), store.grid.longitudes.clone());
        let hours: Vec<f64> = times.iter().map(|t| (t.timestamp() / 3600) as f64).collect();
        for (n, u, v) in [
            ("latitude", "degrees_north", &lat),
            ("longitude", "degrees_east", &lon),
            ("time", "hours since 1970-01-01 00:00:00", &hours),
        ] {
            let mut var = file.add_variable::<f64>(n, &[n]).unwrap();
            var.put_attribute("units", u).unwrap();
            var.put_values(v, ..).unwrap();
        }
        let values: Vec<f32> = times
            .iter()
            .flat_map(|&t| store.read_sample(store.time_index(t).unwrap(), &[0]).unwrap())
            .map(from_kelvin)
            .collect();
        let mut v = file
            .add_variable::<f32>("2t", &["time", "latitude", "longitude"])
            .unwrap();
        v.put_attribute("units", units).unwrap();
        v.put_values(&values, ..).unwrap();
    };
    let forecast = |init: &Path, out: &Path| {
        vejr(&[
            "forecast",
            "--checkpoint",
            checkpoint().to_str().unwrap(),
            "--init",
            init.to_str().unwrap(),
            "--lead",
            "12h",
            "--out",
            out.to_str().unwrap(),
        ])
    };
    let (kelvin, celsius) = (dir.path().join("kelvin.nc"), dir.path().join("celsius.nc"));
    analyses(&kelvin, "K", |k| k);
    analyses(&celsius, "degC", |k| k - 273.15);
    let (from_kelvin, from_celsius) = (dir.path().join("f-kelvin.nc"), dir.path().join("f-celsius.nc"));
    let out = forecast(&kelvin, &from_kelvin);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = forecast(&celsius, &from_celsius);
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("forecast: converting 2t: degC → K (+273.15) in"), "{err}");
    let (a, b) = (read_all(&from_kelvin, "t2m"), read_all(&from_celsius, "t2m"));
    assert!(largest_difference(&a, &b) < 1e-3, "{}", largest_difference(&a, &b));

    let wrong = dir.path().join("pascal.nc");
    analyses(&wrong, "Pa", |k| k);
    let refused = dir.path().join("refused.nc");
    assert_refused(
        &forecast(&wrong, &refused),
        &[
            "pascal.nc",
            "2t",
            "the checkpoint's units are \"K\"",
            "does not convert",
        ],
    );
    assert!(!refused.exists() && !dir.path().join("refused.nc.partial").exists());

    // The forecast rewritten in °C scores as the one in K; in pascal it is refused.
    let relabel = |path: &Path, units: &str, convert: fn(f32) -> f32| {
        std::fs::copy(&from_kelvin, path).unwrap();
        let mut file = netcdf::append(path).unwrap();
        let mut v = file.variable_mut("t2m").unwrap();
        let values: Vec<f32> = v.get_values::<f32, _>(..).unwrap().into_iter().map(convert).collect();
        v.put_values(&values, ..).unwrap();
        v.put_attribute("units", units).unwrap();
    };
    let evaluate = |forecast: &Path, scores: &Path| {
        vejr(&[
            "evaluate",
            "--forecast",
            forecast.to_str().unwrap(),
            "--truth",
            uk_store().to_str().unwrap(),
            "--out",
            scores.to_str().unwrap(),
        ])
    };
    let in_celsius = dir.path().join("in-celsius.nc");
    relabel(&in_celsius, "degC", |k| k - 273.15);
    let (scores_k, scores_c) = (dir.path().join("scores-k"), dir.path().join("scores-c"));
    let out = evaluate(&from_kelvin, &scores_k);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = evaluate(&in_celsius, &scores_c);
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("evaluate: converting 2t: degC → K (+273.15)"), "{err}");
    let rows = |dir: &Path| -> Vec<Vec<f64>> {
        std::fs::read_to_string(dir.join("scores.csv"))
            .unwrap()
            .lines()
            .skip(1)
            .map(|l| l.split(',').skip(2).map(|x| x.parse().unwrap_or(f64::NAN)).collect())
            .collect()
    };
    let (k, c) = (rows(&scores_k), rows(&scores_c));
    assert_eq!(k.len(), c.len());
    for (x, y) in k.iter().flatten().zip(c.iter().flatten()) {
        assert!(
            (x - y).abs() <= 1e-3 * (1.0 + x.abs()) || (x.is_nan() && y.is_nan()),
            "{x} vs {y}"
        );
    }
    let in_pascal = dir.path().join("in-pascal.nc");
    relabel(&in_pascal, "Pa", |k| k);
    let scores_p = dir.path().join("scores-p");
    assert_refused(
        &evaluate(&in_pascal, &scores_p),
        &["in-pascal.nc", "2t", "the truth's units are \"K\"", "does not convert"],
    );
    assert!(!scores_p.join("scores.csv").exists());
}
