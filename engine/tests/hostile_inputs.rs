//! Inputs a hostile (or hurried) user gives: forecasts of two models scored as one, a glob that
//! picks up a killed run's leftovers, a truth that lacks the initial time or is too short for a
//! climatology, an --out that is a file, names at the filesystem's limit, link loops, a store
//! whose anemoi attributes were edited. Each is refused with one line and exit 2, leaving
//! nothing, or handled and said.

mod common;

use std::path::{Path, PathBuf};

use common::{assert_refused, stderr, train_config, uk_store, vejr};
use vejr_ingest::test_data::shared_file;

fn train(dir: &Path, seed: &str) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let config = train_config(dir, &[("seed", seed)]);
    let out = vejr(&["train", "--config", config.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    dir.join("run/best.vejr")
}

fn forecast(checkpoint: &Path, date: &str, out: &Path, extra: &[&str]) -> std::process::Output {
    vejr(
        &[
            &[
                "forecast",
                "--checkpoint",
                checkpoint.to_str().unwrap(),
                "--store",
                uk_store().to_str().unwrap(),
                "--date",
                date,
                "--lead",
                "12h",
                "--out",
                out.to_str().unwrap(),
            ][..],
            extra,
        ]
        .concat(),
    )
}

fn evaluate(forecasts: &[&Path], truth: &Path, out: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["evaluate".to_string()];
    for f in forecasts {
        args.extend(["--forecast".into(), f.to_str().unwrap().into()]);
    }
    args.extend(["--truth".into(), truth.to_str().unwrap().into()]);
    args.extend(["--out".into(), out.to_str().unwrap().into()]);
    args.extend(extra.iter().map(|s| s.to_string()));
    vejr(&args.iter().map(String::as_str).collect::<Vec<_>>())
}

/// The UK analyses from 27 March 06 UTC: no 27 March 00 UTC, and under five days.
fn late_store(dir: &Path) -> PathBuf {
    let config = dir.join("late.toml");
    std::fs::write(
        &config,
        format!(
            "[store]\npath = 'late.zarr'\nstart = '2019-03-27T06:00:00Z'\nend = '2019-03-31T18:00:00Z'\ntime_step = '6h'\n\
             [store.grid]\nresolution = 0.5\narea = [58.0, -10.0, 50.0, 2.0]\n[[sources]]\nfiles = ['{}']\n\
             [[variables]]\nname = '2t'\n",
            shared_file("grib/era5-2mt-2019-03-uk.grib").display()
        ),
    )
    .unwrap();
    let out = vejr(&["ingest", "--config", config.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    dir.join("late.zarr")
}

#[test]
fn evaluate_refuses_what_it_cannot_score_honestly() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (train(&dir.path().join("a"), "7"), train(&dir.path().join("b"), "8"));
    let forecasts = dir.path().join("forecasts");
    std::fs::create_dir(&forecasts).unwrap();
    let (a0, a6, b6) = (
        forecasts.join("a-2019032700.nc"),
        forecasts.join("a-2019032706.nc"),
        dir.path().join("b-2019032706.nc"),
    );
    for (k, date, out) in [
        (&a, "2019-03-27T00", &a0),
        (&a, "2019-03-27T06", &a6),
        (&b, "2019-03-27T06", &b6),
    ] {
        let o = forecast(k, date, out, &[]);
        assert!(o.status.success(), "{}", stderr(&o));
    }
    let scores = dir.path().join("scores");

    // Two models are two rows, not one.
    let out = evaluate(&[&a0, &b6], uk_store(), &scores, &[]);
    assert_refused(
        &out,
        &[
            "the forecasts are from two models",
            "a-2019032700.nc",
            "b-2019032706.nc",
        ],
    );
    assert!(!scores.exists());

    // A glob leaves a killed run's unfinished file out, and says so.
    std::fs::write(forecasts.join("a-2019032712.nc.partial"), b"half a forecast").unwrap();
    let pattern = format!("{}/a-*", forecasts.display());
    let out = vejr(&[
        "evaluate",
        "--forecasts",
        &pattern,
        "--truth",
        uk_store().to_str().unwrap(),
        "--out",
        scores.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("left out 1 unfinished write(s)"),
        "{}",
        stderr(&out)
    );
    let csv = std::fs::read_to_string(scores.join("scores.csv")).unwrap();
    assert!(
        csv.lines().any(|l| l.starts_with("model,2t,12,") && l.ends_with(",2")),
        "{csv}"
    );

    // --out naming a file is refused before any forecast is read.
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"keep me").unwrap();
    let out = evaluate(&[&a0], uk_store(), &file, &[]);
    assert_refused(&out, &["--out", "a-file is a file"]);
    assert!(
        !stderr(&out).contains("climatology"),
        "refused before scoring: {}",
        stderr(&out)
    );
    assert_eq!(std::fs::read(&file).unwrap(), b"keep me");

    // A truth without the initial time: no persistence, refused before anything is written.
    let late = late_store(dir.path());
    let none = dir.path().join("no-scores");
    let out = evaluate(&[&a0], &late, &none, &[]);
    assert_refused(&out, &["has no analysis at 2019-03-27T00:00Z", "persistence"]);
    assert!(!none.exists());

    // A truth of under five days, most of them scored: no climatology from it, said, and no
    // climatology scores or ACC that would be the truth against itself.
    let out = evaluate(&[&a6], &late, &none, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("evaluate: no climatology"), "{}", stderr(&out));
    let csv = std::fs::read_to_string(none.join("scores.csv")).unwrap();
    assert!(!csv.contains("climatology,"), "{csv}");
    assert!(
        csv.lines().skip(1).all(|l| l.split(',').nth(4) == Some("")),
        "no ACC: {csv}"
    );
}

#[test]
fn names_at_the_limit_and_links_that_lead_nowhere() {
    let dir = tempfile::tempdir().unwrap();
    let checkpoint = train(&dir.path().join("k"), "7");
    // 250 characters: legal, and so must its temporary name be (".partial" would pass 255).
    let long = dir.path().join(format!("{}.nc", "f".repeat(247)));
    let out = forecast(&checkpoint, "2019-03-27T00", &long, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(long.is_file());
    let left: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("partial") || n.contains("lock"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
    // 300: said before any work, as a name too long, exit 2.
    let too_long = dir.path().join(format!("{}.nc", "f".repeat(297)));
    let out = forecast(&checkpoint, "2019-03-27T00", &too_long, &[]);
    assert_refused(&out, &["file name too long (300 bytes"]);
    let out = evaluate(&[&long], uk_store(), &too_long, &[]);
    assert_refused(&out, &["file name too long (300 bytes"]);

    // A link loop (or a dangling link) is something there: replaced only with --overwrite.
    let looped = dir.path().join("loop.nc");
    std::os::unix::fs::symlink(&looped, &looped).unwrap();
    let out = forecast(&checkpoint, "2019-03-27T00", &looped, &[]);
    assert_refused(&out, &["loop.nc exists", "--overwrite"]);
    assert!(std::fs::symlink_metadata(&looped).unwrap().file_type().is_symlink());
    let out = forecast(&checkpoint, "2019-03-27T00", &looped, &["--overwrite"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(std::fs::symlink_metadata(&looped).unwrap().is_file());
}

/// anemoi reads the store's columns by its `variables` attribute: one edited apart from
/// vejr's own column list is refused, before anyone reads swapped fields.
#[test]
fn a_store_whose_anemoi_variables_disagree_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("edited.zarr");
    let out = std::process::Command::new("cp")
        .args(["-r", uk_store().to_str().unwrap(), store.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success());
    let attributes = store.join(".zattrs");
    let mut json: serde_json::Value = serde_json::from_slice(&std::fs::read(&attributes).unwrap()).unwrap();
    json["variables"] = serde_json::json!(["t2m"]);
    std::fs::write(&attributes, serde_json::to_vec(&json).unwrap()).unwrap();
    let checkpoint = train(&dir.path().join("k"), "7");
    let out = vejr(&[
        "forecast",
        "--checkpoint",
        checkpoint.to_str().unwrap(),
        "--store",
        store.to_str().unwrap(),
        "--date",
        "2019-03-27T00",
        "--lead",
        "6h",
        "--out",
        dir.path().join("f.nc").to_str().unwrap(),
    ]);
    assert_refused(
        &out,
        &["the variables attribute (anemoi's) lists [t2m], vejr's columns are [2t]"],
    );
}

/// An ingest that fails after its last step prints its one line, and no progress line that
/// reads like success before it (stderr is a file here, as under cron or a batch scheduler).
#[test]
fn a_failed_ingest_says_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let nc = dir.path().join("gap.nc");
    {
        let mut file = netcdf::create(&nc).unwrap();
        file.add_dimension("time", 3).unwrap();
        file.add_dimension("latitude", 2).unwrap();
        file.add_dimension("longitude", 3).unwrap();
        for (name, units, values) in [
            ("time", "hours since 2019-03-01 00:00:00", vec![0.0, 6.0, 12.0]),
            ("latitude", "degrees_north", vec![55.0, 54.0]),
            ("longitude", "degrees_east", vec![0.0, 1.0, 2.0]),
        ] {
            let mut v = file.add_variable::<f64>(name, &[name]).unwrap();
            v.put_attribute("units", units).unwrap();
            v.put_values(&values, ..).unwrap();
        }
        let mut v = file
            .add_variable::<f32>("t2m", &["time", "latitude", "longitude"])
            .unwrap();
        v.put_attribute("units", "K").unwrap();
        let values: Vec<f32> = (0..18)
            .map(|k| if (6..12).contains(&k) { f32::NAN } else { 280.0 })
            .collect();
        v.put_values(&values, ..).unwrap();
    }
    let config = dir.path().join("ingest.toml");
    std::fs::write(
        &config,
        format!(
            "[store]\npath = 'gap.zarr'\ntime_step = '6h'\n[[sources]]\nfiles = ['{}']\n[[variables]]\nname = 't2m'\n",
            nc.display()
        ),
    )
    .unwrap();
    let out = vejr(&["ingest", "--config", config.to_str().unwrap()]);
    assert_refused(&out, &["missing at every grid point at 2019-03-01T06:00Z"]);
    assert_eq!(stderr(&out).lines().count(), 1, "{}", stderr(&out));
    assert!(!dir.path().join("gap.zarr").exists());
}
