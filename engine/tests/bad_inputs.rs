//! Bad input, built by the tests from the real files in `../shared/data`: cut-short files, inf
//! and out-of-range values, impossible configs, a reader that stops reading. Every case: exit
//! code 2, one `vejr: error:` line naming what and where, nothing written, no panic.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::{assert_refused, checkpoint_weights, stderr, train_config, uk_temperature, vejr, vejr_with_file_limit};
use vejr_ingest::test_data::shared_file;

fn ingest_config(dir: &Path, file: &Path, variable: &str, extra: &str) -> PathBuf {
    let config = dir.join("ingest.toml");
    std::fs::write(
        &config,
        format!(
            "[store]\npath = 'out.zarr'\ntime_step = '1h'\n[[sources]]\nfiles = ['{}']\n[[variables]]\nname = '{variable}'\n{extra}",
            file.display()
        ),
    )
    .unwrap();
    config
}

/// Nothing under the store's final name or its temporary one.
fn assert_no_store(dir: &Path) {
    for name in ["out.zarr", "out.zarr.partial"] {
        assert!(!dir.join(name).exists(), "{name} was left behind");
    }
}

#[test]
fn netcdf3_cut_short_at_any_offset_is_refused_naming_file_and_variable() {
    let original = shared_file("netcdf/era5-t2m-2019-03-uk-legacy.nc");
    let bytes = std::fs::read(&original).unwrap();
    let dir = tempfile::tempdir().unwrap();
    // The half, the last byte, inside the last time step, and inside the coordinates.
    for cut in [bytes.len() / 2, bytes.len() - 1, bytes.len() - 3000, 1500] {
        let path = dir.path().join(format!("cut-{cut}.nc"));
        std::fs::write(&path, &bytes[..cut]).unwrap();
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        let variable = if cut > 10_000 { "variable t2m" } else { "variable " };
        assert_refused(
            &vejr(&["inspect", path.to_str().unwrap()]),
            &[&name, "truncated", variable],
        );
        let config = ingest_config(dir.path(), &path, "t2m", "");
        assert_refused(
            &vejr(&["ingest", "--config", config.to_str().unwrap()]),
            &[&name, "truncated", variable],
        );
        assert_no_store(dir.path());
    }
    // The complete file still reads: the check is not refusing everything.
    let out = vejr(&["inspect", original.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn grib_cut_inside_a_message_is_refused_naming_the_message() {
    let original = shared_file("grib/era5-2mt-2019-03-uk.grib");
    let bytes = std::fs::read(&original).unwrap();
    // 744 messages of 3,360 bytes with their padding: cut the last one by 50 bytes and by half,
    // and one mid-file. (A cut of a few bytes removes padding only and loses nothing.)
    let message = 3360;
    let dir = tempfile::tempdir().unwrap();
    for (cut, number) in [
        (bytes.len() - 50, "message 744"),
        (bytes.len() - message / 2, "message 744"),
        (371 * message + 1000, "message 372"),
    ] {
        let path = dir.path().join(format!("cut-{cut}.grib"));
        std::fs::write(&path, &bytes[..cut]).unwrap();
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        assert_refused(
            &vejr(&["inspect", path.to_str().unwrap()]),
            &[&name, number, "truncated"],
        );
    }
    // A flipped byte in a section length: ecCodes' own complaints join vejr's one line
    // instead of preceding it.
    for (offset, number) in [(8, "message 1"), (2 * message + 10, "message 3")] {
        let mut spoilt = bytes[..3 * message].to_vec();
        spoilt[offset] ^= 0xff;
        let path = dir.path().join(format!("flipped-{offset}.grib"));
        std::fs::write(&path, &spoilt).unwrap();
        let out = vejr(&["inspect", path.to_str().unwrap()]);
        assert_refused(
            &out,
            &[
                number,
                "ecCodes: grib_handle_new_from_message: No final 7777 in message!",
            ],
        );
        assert_eq!(stderr(&out).lines().count(), 1, "{}", stderr(&out));
    }
}

#[test]
fn infinite_and_unphysical_values_are_refused_at_ingest_naming_file_variable_and_time() {
    let dir = tempfile::tempdir().unwrap();
    type Spoil = fn(&mut [f32]);
    let cases: [(&str, &str, Spoil, &[&str]); 3] = [
        // A damaged scale factor decodes to inf.
        (
            "inf.nc",
            "K",
            |v| v[2 * 1617 + 100] = f32::INFINITY,
            &["inf.nc", "t2m", "2019-03-01T02:00Z", "1 infinite value(s)"],
        ),
        // An undeclared fill value.
        (
            "fill.nc",
            "K",
            |v| v[5] = 1e30,
            &[
                "fill.nc",
                "t2m",
                "2019-03-01T00:00Z",
                "outside the physical range 150..350",
            ],
        ),
        // Celsius labelled as kelvin.
        (
            "celsius.nc",
            "K",
            |v| v.iter_mut().for_each(|x| *x -= 273.15),
            &["celsius.nc", "1617 value(s) of 1617"],
        ),
    ];
    for (name, units, spoil, expected) in cases {
        let path = dir.path().join(name);
        uk_temperature(&path, "t2m", units, 0..4, spoil);
        let config = ingest_config(dir.path(), &path, "t2m", "");
        assert_refused(&vejr(&["ingest", "--config", config.to_str().unwrap()]), expected);
        assert_no_store(dir.path());
    }
    // The same file unspoiled ingests, and a configured range is honoured.
    let path = dir.path().join("good.nc");
    uk_temperature(&path, "t2m", "K", 0..4, |_| {});
    let config = ingest_config(dir.path(), &path, "t2m", "");
    let out = vejr(&["ingest", "--config", config.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let store_before = std::fs::read(dir.path().join("out.zarr/.zattrs")).unwrap();
    let config = ingest_config(dir.path(), &path, "t2m", "valid_range = [285.0, 350.0]\n");
    assert_refused(
        &vejr(&["ingest", "--config", config.to_str().unwrap(), "--overwrite"]),
        &["good.nc", "outside the physical range 285..350"],
    );
    // A refused --overwrite leaves the old store as it was.
    assert_eq!(
        std::fs::read(dir.path().join("out.zarr/.zattrs")).unwrap(),
        store_before
    );
    assert!(!dir.path().join("out.zarr.partial").exists());
    // An accepted one replaces it (atomically: the old and the new directory are exchanged).
    let config = ingest_config(dir.path(), &path, "t2m", "valid_range = [250.0, 350.0]\n");
    let out = vejr(&["ingest", "--config", config.to_str().unwrap(), "--overwrite"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(dir.path().join("out.zarr/.zattrs").exists() && !dir.path().join("out.zarr.partial").exists());
}

#[test]
fn impossible_configs_are_refused_before_any_compute_naming_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let model = |m: &str| ("model", m.to_string());
    let training = |k: &str, v: &str| ("training", format!("{k} = {v}"));
    let cases = [
        (model("latent = 0"), "latent = 0 must lie in 1..=4096"),
        (
            model("mesh_level = 40"),
            "mesh_level = 40 is beyond the finest mesh vejr builds (8",
        ),
        (model("mesh_level = 12"), "mesh_level = 12 is beyond"),
        (model("processor_layers = 0"), "processor_layers = 0 must lie in 1..="),
        (
            training("weight_decay", "-0.1"),
            "weight_decay must be zero or positive, not -0.1",
        ),
        (training("beta_1", "1.0"), "beta_1 must lie in [0, 1), not 1"),
        (training("beta_2", "-0.5"), "beta_2 must lie in [0, 1), not -0.5"),
        (
            training("gradient_clip", "-1.0"),
            "gradient_clip must be zero (off) or positive, not -1",
        ),
    ];
    for ((section, line), expected) in cases {
        let case = tempfile::tempdir_in(dir.path()).unwrap();
        let config = train_config(case.path(), &[]);
        let text = std::fs::read_to_string(&config).unwrap();
        let text = match section {
            "model" => {
                let key = line.split(" = ").next().unwrap();
                let old = text.lines().find(|l| l.starts_with(&format!("{key} = "))).unwrap();
                text.replacen(old, &line, 1)
            }
            _ => text.replacen("[training]\n", &format!("[training]\n{line}\n"), 1),
        };
        std::fs::write(&config, text).unwrap();
        let out = vejr(&["train", "--config", config.to_str().unwrap()]);
        assert_refused(&out, &[expected]);
        assert!(!case.path().join("run").exists(), "{expected}: run directory created");
    }

    let grid = shared_file("grib/era5-2mt-2019-03-uk.grib");
    let config = ingest_config(dir.path(), &grid, "2t", "");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        text.replacen("[[sources]]", "[store.grid]\nresolution = 0.0001\n[[sources]]", 1),
    )
    .unwrap();
    assert_refused(
        &vejr(&["ingest", "--config", config.to_str().unwrap()]),
        &["resolution 0.0001 gives", "grid points, more than the"],
    );
    assert_no_store(dir.path());
}

#[test]
fn a_reader_that_stops_reading_ends_vejr_quietly() {
    let file = shared_file("grib/era5-2mt-2019-03-uk.grib");
    let f = file.to_str().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_vejr"))
        .args(["inspect", f, f, f, f, f, f, f, f])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    // The reader is gone (as `| head -1` leaves it); vejr's next write meets a broken pipe.
    let out = child.wait_with_output().unwrap();
    assert!(!first.is_empty());
    let err = stderr(&out);
    assert!(!err.contains("panicked") && !err.contains("Broken pipe"), "{err}");
    use std::os::unix::process::ExitStatusExt;
    assert!(
        out.status.success() || out.status.signal() == Some(13),
        "ended by {:?}: {err}",
        out.status
    );
}

#[test]
fn an_empty_file_and_a_missing_store_are_bad_input_for_every_command() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.nc");
    std::fs::write(&empty, b"").unwrap();
    let missing = dir.path().join("missing.zarr");
    let (e, m) = (empty.to_str().unwrap(), missing.to_str().unwrap());
    let out_dir = dir.path().join("scores");
    let config = ingest_config(dir.path(), &empty, "t2m", "");
    let run = tempfile::tempdir_in(dir.path()).unwrap();
    let train = train_config(run.path(), &[]);
    let text = std::fs::read_to_string(&train).unwrap();
    let store_line = text.lines().find(|l| l.starts_with("store = ")).unwrap();
    std::fs::write(&train, text.replacen(store_line, &format!("store = '{m}'"), 1)).unwrap();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["inspect", e], "empty.nc: file is empty"),
        (
            vec!["ingest", "--config", config.to_str().unwrap()],
            "empty.nc: file is empty",
        ),
        (
            vec![
                "evaluate",
                "--forecast",
                e,
                "--truth",
                m,
                "--out",
                out_dir.to_str().unwrap(),
            ],
            "empty.nc",
        ),
        (
            vec!["train", "--config", train.to_str().unwrap()],
            "missing.zarr: not a vejr/zarr store",
        ),
        (
            vec![
                "forecast",
                "--checkpoint",
                e,
                "--store",
                m,
                "--date",
                "2019-03-25T00:00:00Z",
                "--lead",
                "6h",
                "--out",
                "f.nc",
            ],
            "not a vejr checkpoint",
        ),
    ];
    for (args, expected) in cases {
        assert_refused(&vejr(&args), &[expected]);
    }
    assert_no_store(dir.path());
    assert!(!out_dir.join("scores.csv").exists());
}

/// One `vejr: error:` line, exit 1 (a runtime fault, not bad input), no panic.
fn assert_write_failed(out: &Output, expected: &str) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let errors: Vec<&str> = err.lines().filter(|l| l.starts_with("vejr: error: ")).collect();
    assert_eq!(errors.len(), 1, "{err}");
    assert!(errors[0].contains(expected) && !err.contains("panicked"), "{err}");
}

#[test]
fn a_store_or_checkpoint_that_cannot_be_written_leaves_nothing_behind() {
    // A disk that fills up (RLIMIT_FSIZE: every write past the limit fails with EFBIG).
    let dir = tempfile::tempdir().unwrap();
    let grib = std::fs::read(shared_file("grib/era5-2mt-2019-03-uk.grib")).unwrap();
    let first_day = dir.path().join("first-day.grib");
    std::fs::write(&first_day, &grib[..24 * 3360]).unwrap();
    let config = ingest_config(dir.path(), &first_day, "2t", "");
    let out = vejr_with_file_limit(&["ingest", "--config", config.to_str().unwrap()], 2048);
    assert_write_failed(&out, "out.zarr");
    assert_no_store(dir.path());

    // Training: the checkpoint written at step 2 survives a failed write at step 4, loads, and
    // no temporary or half checkpoint is left beside it.
    let run = tempfile::tempdir_in(dir.path()).unwrap();
    let train = train_config(run.path(), &[("steps", "4"), ("checkpoint_every", "2")]);
    let out = vejr(&["train", "--config", train.to_str().unwrap(), "--stop-at-step", "2"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let checkpoints = run.path().join("run/checkpoints");
    let first = checkpoints.join("step-0000002.vejr");
    let before = std::fs::read(&first).unwrap();
    let best = run.path().join("run/best.vejr");
    let best_before = std::fs::read(&best).ok();
    let out = vejr_with_file_limit(
        &["train", "--config", train.to_str().unwrap(), "--resume"],
        before.len() as u64 / 2,
    );
    assert_write_failed(&out, "checkpoint");
    assert_eq!(std::fs::read(&best).ok(), best_before, "best.vejr changed");
    let partial: Vec<_> = std::fs::read_dir(run.path().join("run"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("partial") || n.contains("tmp"))
        .collect();
    assert!(partial.is_empty(), "{partial:?}");
    let left: Vec<String> = std::fs::read_dir(&checkpoints)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(left, ["step-0000002.vejr"], "left in the checkpoint directory");
    assert_eq!(std::fs::read(&first).unwrap(), before);
    assert!(!checkpoint_weights(&first).is_empty());
}
