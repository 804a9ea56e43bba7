//! The training store on real data: what goes in comes out, statistics are right, and bad
//! combinations of files are refused before anything is written.

use std::path::{Path, PathBuf};

use chrono::{TimeDelta, TimeZone, Utc};
use vejr_ingest::store::{IngestConfig, IngestOptions, Store, ingest};
use vejr_ingest::test_data::{shared_file, system_file};
use vejr_ingest::{SourceHints, read_fields};

const UK_GRIB: &str = "grib/era5-2mt-2019-03-uk.grib";
/// Every message of the UK GRIB file has the same length, so byte ranges split it by time.
const UK_MESSAGE_BYTES: usize = 3360;

fn write_config(dir: &Path, body: &str) -> PathBuf {
    let path = dir.join("ingest.toml");
    std::fs::write(&path, body).unwrap();
    path
}

fn run(config_path: &Path) -> vejr_ingest::Result<vejr_ingest::store::IngestReport> {
    let config = IngestConfig::load(config_path)?;
    ingest(
        &config,
        config_path,
        &IngestOptions {
            quiet: true,
            ..Default::default()
        },
    )
}

fn uk_config(files: &[&Path], extra_store: &str) -> String {
    let files: Vec<String> = files.iter().map(|f| format!("'{}'", f.display())).collect();
    format!(
        "[store]\npath = 'uk.zarr'\ntime_step = '6h'\n{extra_store}\n[[sources]]\nfiles = [{}]\n[[variables]]\nname = '2t'\n",
        files.join(", ")
    )
}

#[test]
fn uk_store_round_trip_statistics_and_tendencies() {
    let dir = tempfile::tempdir().unwrap();
    let grib = shared_file(UK_GRIB);
    let config = write_config(
        dir.path(),
        &uk_config(&[&grib], "statistics_end = '2019-03-24T18:00:00Z'"),
    );
    let report = run(&config).unwrap();
    assert_eq!((report.times, report.columns, report.gridpoints), (124, 1, 33 * 49));

    let store = Store::open(&dir.path().join("uk.zarr")).unwrap();
    let fields = read_fields(&grib, &SourceHints::default()).unwrap();
    let hourly = fields.time.valid_times().unwrap();
    assert_eq!(store.dates.len(), 124);
    assert_eq!(store.dates[0], Utc.with_ymd_and_hms(2019, 3, 1, 0, 0, 0).unwrap());
    assert_eq!(store.time_step, TimeDelta::hours(6));
    assert!(store.grid.same_points(&fields.grid, 0.0));
    assert_eq!(store.columns[0].name, "2t");
    assert_eq!(store.columns[0].units.as_deref(), Some("K"));

    // Every stored step is bit-identical to the decoded field at that time.
    let v = &fields.variables[0];
    for (t, date) in store.dates.iter().enumerate() {
        let h = hourly.binary_search(date).unwrap();
        assert_eq!(store.read_time(t).unwrap(), fields.field(v, h, 0, 0), "{date}");
    }

    // Statistics over 1–24 March only, tendencies over 6 hours within it.
    let in_period: Vec<usize> = store
        .dates
        .iter()
        .enumerate()
        .filter(|(_, d)| **d <= store.statistics_end)
        .map(|(t, _)| t)
        .collect();
    assert_eq!(in_period.len(), 96);
    let values: Vec<f64> = in_period
        .iter()
        .flat_map(|&t| store.read_time(t).unwrap())
        .map(|x| x as f64)
        .collect();
    let mean = values.iter().sum::<f64>() / values.len() as f64;
    let stdev = (values.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / values.len() as f64).sqrt();
    assert!((store.mean[0] - mean).abs() < 1e-6 && (store.stdev[0] - stdev).abs() < 1e-6);
    assert_eq!(store.minimum[0], values.iter().copied().fold(f64::INFINITY, f64::min));
    assert_eq!(
        store.maximum[0],
        values.iter().copied().fold(f64::NEG_INFINITY, f64::max)
    );

    let diffs: Vec<f64> = in_period
        .windows(2)
        .flat_map(|w| {
            let (a, b) = (store.read_time(w[0]).unwrap(), store.read_time(w[1]).unwrap());
            a.into_iter().zip(b).map(|(x, y)| (y - x) as f64).collect::<Vec<_>>()
        })
        .collect();
    let tmean = diffs.iter().sum::<f64>() / diffs.len() as f64;
    let tstd = (diffs.iter().map(|x| (x - tmean).powi(2)).sum::<f64>() / diffs.len() as f64).sqrt();
    assert!(
        (store.tendency_mean[0] - tmean).abs() < 1e-6,
        "{} vs {tmean}",
        store.tendency_mean[0]
    );
    assert!((store.tendency_stdev[0] - tstd).abs() < 1e-6);
    // Six-hour changes of 2 m temperature are smaller than its spread over the month.
    assert!(store.tendency_stdev[0] < store.stdev[0]);
    assert!(store.mask.iter().all(|&m| m) && store.fixed_missing_mask);
    assert_eq!(store.read_sample(3, &[0]).unwrap(), store.read_time(3).unwrap());
}

fn split_uk(dir: &Path, pieces: &[(usize, usize, &str)]) -> Vec<PathBuf> {
    let bytes = std::fs::read(shared_file(UK_GRIB)).unwrap();
    assert_eq!(bytes.len(), 744 * UK_MESSAGE_BYTES);
    pieces
        .iter()
        .map(|&(from, to, name)| {
            let path = dir.join(name);
            std::fs::write(&path, &bytes[from * UK_MESSAGE_BYTES..to * UK_MESSAGE_BYTES]).unwrap();
            path
        })
        .collect()
}

#[test]
fn several_files_concatenate_in_time_order() {
    let dir = tempfile::tempdir().unwrap();
    // Named so that the glob order is not the time order.
    let parts = split_uk(dir.path(), &[(0, 300, "b-early.grib"), (300, 744, "a-late.grib")]);
    let glob = dir.path().join("*.grib");
    let config = write_config(dir.path(), &uk_config(&[&glob], ""));
    run(&config).unwrap();
    let split = Store::open(&dir.path().join("uk.zarr")).unwrap();

    let whole_dir = tempfile::tempdir().unwrap();
    let config = write_config(whole_dir.path(), &uk_config(&[&shared_file(UK_GRIB)], ""));
    run(&config).unwrap();
    let whole = Store::open(&whole_dir.path().join("uk.zarr")).unwrap();
    assert_eq!(split.dates, whole.dates);
    for t in 0..whole.dates.len() {
        assert_eq!(split.read_time(t).unwrap(), whole.read_time(t).unwrap());
    }
    assert_eq!(split.mean, whole.mean);
    drop(parts);
}

#[test]
fn duplicated_times_are_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let parts = split_uk(dir.path(), &[(0, 400, "a.grib"), (300, 744, "b.grib")]);
    let config = write_config(dir.path(), &uk_config(&[&parts[0], &parts[1]], ""));
    let text = run(&config).unwrap_err().to_string();
    assert!(text.contains("duplicated time 2019-03-13T12:00Z"), "{text}");
    assert!(!dir.path().join("uk.zarr").exists());
}

#[test]
fn gaps_are_an_error_unless_allowed() {
    let dir = tempfile::tempdir().unwrap();
    // Drop 2019-03-10 00Z .. 11 23Z.
    let parts = split_uk(dir.path(), &[(0, 216, "a.grib"), (264, 744, "b.grib")]);
    let config = write_config(dir.path(), &uk_config(&[&parts[0], &parts[1]], ""));
    let text = run(&config).unwrap_err().to_string();
    assert!(
        text.contains("gap in the data: no 2t at 2019-03-10T00:00Z and 7 more"),
        "{text}"
    );
    assert!(text.contains("allow_gaps"), "{text}");
    assert!(!dir.path().join("uk.zarr").exists());

    let config = write_config(dir.path(), &uk_config(&[&parts[0], &parts[1]], "allow_gaps = true"));
    run(&config).unwrap();
    let store = Store::open(&dir.path().join("uk.zarr")).unwrap();
    assert_eq!(store.dates.len(), 124 - 8);
    let missing = store.attributes["missing_dates"].as_array().unwrap();
    assert_eq!(missing.len(), 8);
    assert_eq!(missing[0], "2019-03-10T00:00:00");
    // Stored around: every other date reads back, the gap's dates are not there to read.
    assert!(
        store
            .time_index(Utc.with_ymd_and_hms(2019, 3, 10, 0, 0, 0).unwrap())
            .is_none()
    );
    let after = store
        .time_index(Utc.with_ymd_and_hms(2019, 3, 12, 0, 0, 0).unwrap())
        .unwrap();
    assert_eq!(after, 36);
    assert!(store.read_time(after).unwrap().iter().all(|v| v.is_finite()));
    anemoi_layout(
        &dir.path().join("uk.zarr"),
        124,
        33 * 49,
        &[36, 37, 38, 39, 40, 41, 42, 43],
    );
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))).unwrap()
}

/// The store as anemoi-datasets 0.5 (zarr-python 2.18) opens it, read from its files: Zarr v2
/// metadata, `data[time, variable, ensemble, cell]` in float32 one time per chunk, `dates` in
/// numpy datetime64[s] on a regular axis with the gaps (`gap_slots`) in place and listed in
/// `missing_dates`, no chunk written for them, the statistics anemoi reads, and its attributes.
fn anemoi_layout(store: &Path, axis: u64, cells: u64, gap_slots: &[u64]) {
    assert_eq!(json(&store.join(".zgroup"))["zarr_format"], 2);
    let attributes = json(&store.join(".zattrs"));
    for key in [
        "variables",
        "frequency",
        "resolution",
        "field_shape",
        "start_date",
        "end_date",
        "missing_dates",
    ] {
        assert!(attributes.get(key).is_some(), "no {key} in .zattrs");
    }
    assert_eq!(attributes["frequency"], "6h");
    assert_eq!(attributes["variables"], serde_json::json!(["2t"]));
    let data = json(&store.join("data/.zarray"));
    assert_eq!(data["zarr_format"], 2);
    assert_eq!(data["dtype"], "<f4");
    assert_eq!(data["shape"], serde_json::json!([axis, 1, 1, cells]));
    assert_eq!(data["chunks"], serde_json::json!([1, 1, 1, cells]));
    assert_eq!(data["compressor"]["id"], "gzip");
    assert_eq!(data["fill_value"], "NaN");
    assert_eq!(
        json(&store.join("data/.zattrs"))["_ARRAY_DIMENSIONS"],
        serde_json::json!(["time", "variable", "ensemble", "cell"])
    );
    let dates = json(&store.join("dates/.zarray"));
    assert_eq!(
        (dates["dtype"].as_str(), dates["compressor"].is_null()),
        (Some("<M8[s]"), true)
    );
    let seconds: Vec<i64> = std::fs::read(store.join("dates/0"))
        .unwrap()
        .chunks(8)
        .map(|b| i64::from_le_bytes(b.try_into().unwrap()))
        .collect();
    assert_eq!(seconds.len() as u64, axis);
    assert!(seconds.windows(2).all(|w| w[1] - w[0] == 6 * 3600), "a regular axis");
    let first = Utc.timestamp_opt(seconds[0], 0).unwrap();
    let missing: Vec<String> = gap_slots
        .iter()
        .map(|&k| {
            (first + TimeDelta::hours(6 * k as i64))
                .format("%Y-%m-%dT%H:%M:%S")
                .to_string()
        })
        .collect();
    assert_eq!(attributes["missing_dates"], serde_json::json!(missing));
    for k in 0..axis {
        let chunk = store.join(format!("data/{k}.0.0.0"));
        assert_eq!(chunk.exists(), !gap_slots.contains(&k), "{}", chunk.display());
    }
    for name in ["mean", "stdev", "minimum", "maximum", "latitudes", "longitudes"] {
        assert_eq!(json(&store.join(format!("{name}/.zarray")))["dtype"], "<f8", "{name}");
    }
}

#[test]
fn bad_configs_are_refused_before_writing() {
    let dir = tempfile::tempdir().unwrap();
    let grib = shared_file(UK_GRIB);
    let cases = [
        (
            uk_config(&[&grib], "").replace("name = '2t'", "name = 'msl'"),
            "variable \"msl\" is in no source file (available: 2t)",
        ),
        (
            uk_config(&[&grib], "start = '2019-02-01T00:00:00Z'"),
            "outside the data",
        ),
        (uk_config(&[&dir.path().join("nothing-*.grib")], ""), "no file matches"),
        (uk_config(&[&grib], "").replace("'6h'", "'6 hours please'"), "duration"),
    ];
    for (body, expected) in cases {
        let config = write_config(dir.path(), &body);
        let text = run(&config).unwrap_err().to_string();
        assert!(text.contains(expected), "{text}");
        assert_eq!(text.lines().count(), 1);
        assert!(!dir.path().join("uk.zarr").exists());
    }
}

#[test]
fn blizzard_analyses_with_metadata_from_the_config() {
    let dir = tempfile::tempdir().unwrap();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    for name in ["P", "T", "U", "V", "U500", "V500"] {
        system_file(&format!("/usr/share/ncarg/data/cdf/{name}storm.cdf"));
    }
    let mut config = IngestConfig::load(&repo.join("configs/demo.toml")).unwrap();
    config.store.path = dir.path().join("blizzard.zarr");
    config.store.allow_gaps = false;
    let text = ingest(
        &config,
        &repo.join("configs/demo.toml"),
        &IngestOptions {
            quiet: true,
            ..Default::default()
        },
    )
    .unwrap_err()
    .to_string();
    assert!(
        text.contains("Tstorm.cdf: variable t: missing at every grid point at 1996-01-09T06:00Z"),
        "{text}"
    );
    assert!(!config.store.path.exists());
    config.store.allow_gaps = true;
    ingest(
        &config,
        &repo.join("configs/demo.toml"),
        &IngestOptions {
            quiet: true,
            ..Default::default()
        },
    )
    .unwrap();
    let store = Store::open(&config.store.path).unwrap();
    let names: Vec<&str> = store.columns.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["msl", "t", "u", "u_500", "v", "v_500"]);
    // U500storm.cdf's `u` has no level axis; the config's level hint puts it on 500 hPa, next
    // to the surface `u` of the same name.
    let u500 = &store.columns[3];
    assert_eq!(
        (u500.variable.as_str(), u500.level_type.as_str(), u500.level),
        ("u", "pressure_level", 500.0)
    );
    assert_eq!(
        (store.columns[2].level_type.as_str(), store.columns[2].level),
        ("surface", 0.0)
    );
    // Some analyses are missing at every point (t and v at 09 06Z, v_500 at 14 00Z, v at 14 06Z):
    // those times are gaps, left out.
    assert_eq!(store.dates.len(), 61);
    let gap = Utc.with_ymd_and_hms(1996, 1, 9, 6, 0, 0).unwrap();
    assert!(store.time_index(gap).is_none());
    let missing: Vec<&str> = store.attributes["missing_dates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(
        missing,
        ["1996-01-09T06:00:00", "1996-01-14T00:00:00", "1996-01-14T06:00:00"]
    );
    assert_eq!(store.dates[0], Utc.with_ymd_and_hms(1996, 1, 5, 0, 0, 0).unwrap());
    assert_eq!(store.dates[60], Utc.with_ymd_and_hms(1996, 1, 20, 18, 0, 0).unwrap());
    assert_eq!(store.grid.shape(), (33, 36));
    assert_eq!((store.grid.latitudes[0], store.grid.longitudes[0]), (60.0, 220.0));
    // The 224 points missing from every field are the store's mask.
    assert_eq!(store.mask.iter().filter(|m| !**m).count(), 224);
    let msl = store.read_time(0).unwrap()[..store.grid.len()].to_vec();
    assert_eq!(msl.iter().filter(|x| x.is_nan()).count(), 224);
    assert!(
        msl.iter()
            .filter(|x| !x.is_nan())
            .all(|&p| (95_000.0..106_000.0).contains(&p)),
        "sea-level pressure in Pa"
    );
    assert!(store.fixed_missing_mask);
    assert_eq!(
        store.statistics_end,
        Utc.with_ymd_and_hms(1996, 1, 15, 18, 0, 0).unwrap()
    );
    assert!(store.stdev.iter().all(|s| s.is_finite() && *s > 0.0));
}

#[test]
fn global_store_on_a_coarser_target_grid() {
    let dir = tempfile::tempdir().unwrap();
    let nc = shared_file("netcdf/ncep-r2-pr_wtr-2022-daily.nc");
    let body = format!(
        "[store]\npath = 'pw.zarr'\ntime_step = '1d'\nend = '2022-01-31T00:00:00Z'\n[store.grid]\nresolution = 5.625\n\
         [[sources]]\nfiles = ['{}']\n[[variables]]\nname = 'pr_wtr'\n",
        nc.display()
    );
    run(&write_config(dir.path(), &body)).unwrap();
    let store = Store::open(&dir.path().join("pw.zarr")).unwrap();
    assert_eq!(store.grid.shape(), (33, 64));
    assert_eq!(store.dates.len(), 31);
    let fields = read_fields(&nc, &SourceHints::default()).unwrap();
    let source = fields.field(&fields.variables[0], 0, 0, 0);
    let target = store.read_time(0).unwrap();
    assert!(
        target.iter().all(|x| x.is_finite()),
        "a global source covers the whole target grid"
    );
    // Where target and source points coincide (every 5.625° is not on the 2.5° grid, but 0°E and
    // 45°E at the equator are), bilinear interpolation returns the source value.
    for lon in [0.0, 45.0] {
        let s = source[fields.grid.nearest(0.0, lon)];
        let t = target[store.grid.nearest(0.0, lon)];
        assert_eq!(s, t, "at 0°N {lon}°E");
    }
    let (lo, hi) = source
        .iter()
        .fold((f32::MAX, f32::MIN), |(a, b), &x| (a.min(x), b.max(x)));
    assert!(
        target.iter().all(|&x| x >= lo && x <= hi),
        "interpolation stays within the source range"
    );
}

/// Stores written by earlier vejr versions are Zarr v3: they still open, and read the same.
/// (Made here by converting a new store's metadata with zarrs, chunks left where they are.)
#[test]
fn zarr_v3_stores_still_open() {
    use std::sync::Arc;
    use zarrs::array::{Array, ArrayMetadataOptions};
    use zarrs::config::{MetadataConvertVersion, MetadataEraseVersion};
    use zarrs::group::{Group, GroupMetadataOptions};

    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        &uk_config(&[&shared_file(UK_GRIB)], "statistics_end = '2019-03-24T18:00:00Z'"),
    );
    run(&config).unwrap();
    let path = dir.path().join("uk.zarr");
    let v2 = Store::open(&path).unwrap();
    let (dates, first, last) = (v2.dates.clone(), v2.read_time(0).unwrap(), v2.read_time(123).unwrap());

    let storage = Arc::new(zarrs::filesystem::FilesystemStore::new(&path).unwrap());
    for entry in std::fs::read_dir(&path).unwrap() {
        let entry = entry.unwrap().path();
        if entry.join(".zarray").exists() {
            let name = format!("/{}", entry.file_name().unwrap().to_string_lossy());
            let array = Array::open(storage.clone(), &name).unwrap();
            array
                .store_metadata_opt(
                    &ArrayMetadataOptions::default().with_metadata_convert_version(MetadataConvertVersion::V3),
                )
                .unwrap();
            array.erase_metadata_opt(MetadataEraseVersion::V2).unwrap();
        }
    }
    let group = Group::open(storage.clone(), "/").unwrap();
    group
        .store_metadata_opt(&GroupMetadataOptions::default().with_metadata_convert_version(MetadataConvertVersion::V3))
        .unwrap();
    group.erase_metadata_opt(MetadataEraseVersion::V2).unwrap();
    assert!(path.join("zarr.json").exists() && !path.join(".zgroup").exists());

    let v3 = Store::open(&path).unwrap();
    assert_eq!(v3.dates, dates);
    assert_eq!(v3.read_time(0).unwrap(), first);
    assert_eq!(v3.read_time(123).unwrap(), last);
}
