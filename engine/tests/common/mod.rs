//! What the engine's test binaries share: running `vejr`, and a small real training store
//! (the UK ERA5 2 m temperature, six-hourly, on a 0.5° grid) built once per test binary.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use vejr_ingest::test_data::shared_file;

pub fn vejr(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vejr"))
        .args(args)
        // HDF5 opens files without O_CLOEXEC: a vejr that one test thread spawns while another
        // thread is writing a NetCDF4 file inherits that file's descriptor and its flock, and a
        // second vejr then fails to open the finished file ("HDF error"). A test harness
        // artefact (vejr itself is one thread of HDF5 use), so the lock is off for tests only.
        .env("HDF5_USE_FILE_LOCKING", "FALSE")
        .output()
        .expect("vejr runs")
}

/// `vejr evaluate --forecast FORECAST --truth TRUTH --out OUT`, which must succeed: its scores.csv.
#[allow(dead_code)] // not every test binary evaluates
pub fn evaluate_scores(forecast: &Path, truth: &Path, out: &Path) -> String {
    let out_dir = out.to_str().unwrap();
    let result = vejr(&[
        "evaluate",
        "--forecast",
        forecast.to_str().unwrap(),
        "--truth",
        truth.to_str().unwrap(),
        "--out",
        out_dir,
    ]);
    assert!(result.status.success(), "{}", stderr(&result));
    std::fs::read_to_string(out.join("scores.csv")).unwrap()
}

/// `vejr ARGS` with every file it writes limited to `bytes` (RLIMIT_FSIZE, SIGXFSZ ignored so
/// the write fails with EFBIG instead of killing the process): a disk that fills up, without
/// privileges to mount a small one.
pub fn vejr_with_file_limit(args: &[&str], bytes: u64) -> std::process::Output {
    use std::os::unix::process::CommandExt;
    let mut command = Command::new(env!("CARGO_BIN_EXE_vejr"));
    command.args(args).env("HDF5_USE_FILE_LOCKING", "FALSE");
    // SAFETY: async-signal-safe calls only, between fork and exec.
    unsafe {
        command.pre_exec(move || {
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            let limit = libc::rlimit {
                rlim_cur: bytes,
                rlim_max: bytes,
            };
            if libc::setrlimit(libc::RLIMIT_FSIZE, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    command.output().expect("vejr runs")
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The UK sample as a store: 1–31 March 2019, 6-hourly, 17 × 25 points; statistics from 1–24 March.
pub fn uk_store() -> &'static Path {
    static STORE: OnceLock<PathBuf> = OnceLock::new();
    STORE.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("uk-store-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let config = dir.join("ingest.toml");
        std::fs::write(
            &config,
            format!(
                "[store]\npath = 'uk.zarr'\nstart = '2019-03-01T00:00:00Z'\nend = '2019-03-31T18:00:00Z'\n\
                 time_step = '6h'\nstatistics_end = '2019-03-24T18:00:00Z'\n[store.grid]\nresolution = 0.5\n\
                 area = [58.0, -10.0, 50.0, 2.0]\n[[sources]]\nfiles = ['{}']\n[[variables]]\nname = '2t'\n",
                shared_file("grib/era5-2mt-2019-03-uk.grib").display()
            ),
        )
        .unwrap();
        let out = vejr(&["ingest", "--config", config.to_str().unwrap(), "--overwrite"]);
        assert!(out.status.success(), "{}", stderr(&out));
        dir.join("uk.zarr")
    })
}

/// A training config on the UK store; `training` lines replace the defaults of the same key.
/// The model of [`train_config`]: small enough to train in seconds.
const DEFAULT_MODEL: &str = "latent = 16\nprocessor_layers = 1\nmesh_level = 2";

/// Replaces the model section of a config that [`train_config`] wrote.
pub fn set_model(config: &Path, model: &str) {
    let text = std::fs::read_to_string(config).unwrap();
    assert!(
        text.contains(DEFAULT_MODEL),
        "{} was not written by train_config",
        config.display()
    );
    std::fs::write(config, text.replacen(DEFAULT_MODEL, model, 1)).unwrap();
}

pub fn train_config(dir: &Path, training: &[(&str, &str)]) -> PathBuf {
    let mut keys: Vec<(String, String)> = [
        ("output", "'run'"),
        ("train_start", "'2019-03-01T00:00:00Z'"),
        ("train_end", "'2019-03-24T18:00:00Z'"),
        ("validation_start", "'2019-03-25T00:00:00Z'"),
        ("validation_end", "'2019-03-31T18:00:00Z'"),
        ("steps", "6"),
        ("batch_size", "4"),
        ("learning_rate", "3e-3"),
        ("warmup_steps", "2"),
        ("seed", "7"),
        ("checkpoint_every", "2"),
        ("validate_every", "3"),
        ("validation_samples", "4"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    for (k, v) in training {
        match keys.iter_mut().find(|(key, _)| key == k) {
            Some(entry) => entry.1 = v.to_string(),
            None => keys.push((k.to_string(), v.to_string())),
        }
    }
    let (curriculum, keys): (Vec<_>, Vec<_>) = keys.into_iter().partition(|(k, _)| k == "curriculum");
    let mut body = format!(
        "[model]\n{DEFAULT_MODEL}\n[data]\nstore = '{}'\nvariables = ['2t']\n[training]\n",
        uk_store().display()
    );
    for (k, v) in keys {
        body.push_str(&format!("{k} = {v}\n"));
    }
    for (_, v) in curriculum {
        body.push_str(&v);
    }
    let path = dir.join("train.toml");
    std::fs::write(&path, body).unwrap();
    path
}

/// Every parameter of a checkpoint's model.
pub fn checkpoint_weights(path: &Path) -> Vec<Vec<f32>> {
    type B = burn::backend::NdArray;
    let (model, _) = vejr_models::checkpoint::load::<B>(path, &Default::default(), &Default::default())
        .unwrap_or_else(|e| panic!("{e}"));
    vejr_engine::training::parameters::weights::<B, _>(&model)
}

pub fn metrics(run: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(run.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Hours `hours` of the real UK 2 m temperature (CDS legacy NetCDF, unpacked) written as a plain
/// float NetCDF variable `name` labelled `units` (no `units` attribute when empty), after `change`
/// has had its way with the values in kelvin (a conversion, or damage).
pub fn uk_temperature(
    path: &Path,
    name: &str,
    units: &str,
    hours: std::ops::Range<usize>,
    change: impl Fn(&mut [f32]),
) {
    let source = netcdf::open(shared_file("netcdf/era5-t2m-2019-03-uk-legacy.nc")).unwrap();
    let read = |n: &str| -> Vec<f64> { source.variable(n).unwrap().get_values::<f64, _>(..).unwrap() };
    let (latitudes, longitudes, times) = (read("latitude"), read("longitude"), read("time"));
    let t2m = source.variable("t2m").unwrap();
    let number = |n: &str| match t2m.attribute_value(n).unwrap().unwrap() {
        netcdf::AttributeValue::Double(v) => v,
        other => panic!("{n}: {other:?}"),
    };
    let (scale, offset) = (number("scale_factor"), number("add_offset"));
    let packed: Vec<i16> = t2m.get_values::<i16, _>((hours.clone(), .., ..)).unwrap();
    let mut values: Vec<f32> = packed.iter().map(|&p| (p as f64 * scale + offset) as f32).collect();
    change(&mut values);
    let time_units = match source
        .variable("time")
        .unwrap()
        .attribute_value("units")
        .unwrap()
        .unwrap()
    {
        netcdf::AttributeValue::Str(s) => s,
        other => panic!("time units {other:?}"),
    };
    let mut file = netcdf::create(path).unwrap();
    file.add_dimension("time", hours.len()).unwrap();
    file.add_dimension("latitude", latitudes.len()).unwrap();
    file.add_dimension("longitude", longitudes.len()).unwrap();
    for (n, u, v) in [
        ("latitude", "degrees_north", &latitudes[..]),
        ("longitude", "degrees_east", &longitudes[..]),
        ("time", time_units.as_str(), &times[hours.clone()]),
    ] {
        let mut var = file.add_variable::<f64>(n, &[n]).unwrap();
        var.put_attribute("units", u).unwrap();
        var.put_values(v, ..).unwrap();
    }
    let mut v = file
        .add_variable::<f32>(name, &["time", "latitude", "longitude"])
        .unwrap();
    if !units.is_empty() {
        v.put_attribute("units", units).unwrap();
    }
    v.put_values(&values, ..).unwrap();
}

/// Exit code 2, exactly one error line containing every `expected` piece, no panic, no stdout.
pub fn assert_refused(out: &Output, expected: &[&str]) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    let errors: Vec<&str> = err.lines().filter(|l| l.starts_with("vejr: error: ")).collect();
    assert_eq!(errors.len(), 1, "{err}");
    assert!(!err.contains("panicked"), "{err}");
    for piece in expected {
        assert!(errors[0].contains(piece), "{piece:?} not in {err}");
    }
    assert!(out.stdout.is_empty(), "{}", String::from_utf8_lossy(&out.stdout));
}

/// Every value of `variable` in a NetCDF file.
pub fn read_all(path: &Path, variable: &str) -> Vec<f32> {
    let file = netcdf::open(path).unwrap();
    file.variable(variable).unwrap().get_values::<f32, _>(..).unwrap()
}
