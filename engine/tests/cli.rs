//! The `vejr` binary as a user meets it: output, exit codes, one-line errors, nothing half-written.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use vejr_ingest::test_data::shared_file;

fn vejr(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vejr"))
        .args(args)
        .output()
        .expect("vejr runs")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn inspect_json_reports_real_values() {
    let grib = shared_file("grib/era5-2mt-2019-03-uk.grib");
    let nc = shared_file("netcdf/era5-pl-members-2017-01-cds2024.nc");
    let out = vejr(&["inspect", "--json", grib.to_str().unwrap(), nc.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let reports: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let uk = &reports[0];
    assert_eq!(uk["format"], "GRIB1");
    assert_eq!(uk["grid"]["shape"], serde_json::json!([33, 49]));
    assert_eq!(uk["time"]["count"], 744);
    assert_eq!(uk["time"]["step_seconds"], 3600);
    assert_eq!(uk["time"]["gaps"].as_array().unwrap().len(), 0);
    assert!((uk["variables"][0]["mean"].as_f64().unwrap() - 280.774).abs() < 1e-3);
    assert_eq!(uk["variables"][0]["nan_count"], 0);
    assert_eq!(
        (uk["grid"]["west"].as_f64(), uk["grid"]["east"].as_f64()),
        (Some(350.0), Some(2.0))
    );
    let ens = &reports[1];
    assert_eq!(ens["members"].as_array().unwrap().len(), 10);
    assert_eq!(ens["variables"][0]["levels"], serde_json::json!([500.0, 850.0]));
}

#[test]
fn inspect_text_names_time_gaps_and_missing_points() {
    let grib = shared_file("grib/fields_with_missing_values.grib");
    let out = vejr(&["inspect", grib.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("21699"),
        "NaN count of both fields (10808 + 10891) in:\n{text}"
    );
}

/// NCEP's layout of u and v, two fields in one GRIB2 message, made from libncarg-data's real
/// AWIPS-211 messages at every level they have: inspect lists u and v on all 19 levels, with
/// the statistics of ecCodes' values, and counts messages and fields apart.
#[test]
fn inspect_lists_u_and_v_of_multi_field_messages_on_every_level() {
    use eccodes::{CodesHandle, FallibleStreamingIterator, KeyRead, ProductKind};
    let awips = vejr_ingest::test_data::system_file("/usr/share/ncarg/data/grb/fh.0012_tl.press_gr.awp211.grb2");
    let dir = tempfile::tempdir().unwrap();
    let (bytes, v_values) = {
        let _guard = vejr_ingest::grib_reader::ECCODES
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let all = vejr_ingest::test_data::grib_messages(&awips);
        let mut handle = CodesHandle::new_from_file(&awips, ProductKind::GRIB).unwrap();
        let mut values: Vec<Vec<f64>> = Vec::new();
        while let Some(m) = handle.next().unwrap() {
            values.push(m.read_key("values").unwrap());
        }
        let mut bytes = Vec::new();
        let mut v_values = Vec::new();
        let mut levels = 0;
        for u in all
            .iter()
            .filter(|m| m.short_name == "u" && m.type_of_level == "isobaricInhPa")
        {
            let (j, v) = all
                .iter()
                .enumerate()
                .find(|(_, m)| m.short_name == "v" && m.type_of_level == u.type_of_level && m.level == u.level)
                .expect("v beside u");
            bytes.extend(vejr_ingest::test_data::splice_fields(&u.bytes, &[&v.bytes]));
            v_values.extend(values[j].iter().copied());
            levels += 1;
        }
        assert_eq!(levels, 19);
        (bytes, v_values)
    };
    let path = dir.path().join("uv.grib2");
    std::fs::write(&path, &bytes).unwrap();
    let out = vejr(&["inspect", path.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("(GRIB2, 19 messages holding 38 fields)"), "{text}");
    for name in ["u", "v"] {
        let row = text
            .lines()
            .find(|l| l.split_whitespace().next() == Some(name))
            .unwrap_or_else(|| panic!("{name} not listed in:\n{text}"));
        assert!(
            row.contains(
                "pressure_level 100,150,200,250,300,350,400,450,500,550,600,650,700,750,800,850,900,950,1000 "
            ),
            "every level of {name}: {row}"
        );
    }
    let out = vejr(&["inspect", "--json", path.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let report = &report[0];
    assert_eq!(
        (report["messages"].as_u64(), report["fields"].as_u64()),
        (Some(19), Some(38))
    );
    let v = report["variables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == "v")
        .unwrap();
    assert_eq!(v["levels"].as_array().unwrap().len() * 65 * 93, v_values.len());
    let mean = v_values.iter().sum::<f64>() / v_values.len() as f64;
    let (min, max) = v_values
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &x| (a.min(x), b.max(x)));
    assert!((v["mean"].as_f64().unwrap() - mean).abs() < 1e-4, "{v} against {mean}");
    assert_eq!((v["minimum"].as_f64(), v["maximum"].as_f64()), (Some(min), Some(max)));
}

const ETA_GRIB1: &str = "/usr/share/ncarg/data/grb/ced1.lf00.t00z.eta.grb";
const COSMO_SATELLITE: &str = "/usr/share/ncarg/data/grb/MET9_IR108_cosmode_0909210000.grb2";

/// A real GFS GRIB2 file (WAFS's octant grid, from libncarg-data): every variable listed.
#[test]
fn inspect_lists_every_variable_of_a_real_gfs_file() {
    let gfs = vejr_ingest::test_data::system_file("/usr/share/ncarg/data/grb/wafsgfs_L_t06z_intdsk60.grib2");
    let out = vejr(&["inspect", gfs.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    let source = vejr_ingest::open(&gfs, &vejr_ingest::SourceHints::default()).unwrap();
    let variables = &source.header().variables;
    assert_eq!(variables.len(), 29);
    for v in variables {
        assert!(
            text.lines()
                .any(|l| l.split_whitespace().next() == Some(v.name.as_str())),
            "{} not listed in:\n{text}",
            v.name
        );
    }
    assert!(text.contains("reduced lat-lon, 73 rows (3447 points)"), "{text}");
    assert!(!text.contains("global in longitude"), "an octant: {text}");
}

#[test]
fn bad_input_is_one_line_and_exit_code_2() {
    let corrupted = shared_file("grib/era5-levels-corrupted.grib");
    let dir = tempfile::tempdir().unwrap();
    let not_there = dir.path().join("nowhere.nc");
    for (args, expected) in [
        (
            vec!["inspect", corrupted.to_str().unwrap()],
            "era5-levels-corrupted.grib message 1",
        ),
        (vec!["inspect", not_there.to_str().unwrap()], "nowhere.nc"),
        // NCEP's Eta analyses after a 6 KiB EBCDIC header, on predefined grids with no grid
        // description (libncarg-data): found as GRIB, refused for what they are.
        (
            vec!["inspect", ETA_GRIB1],
            "ced1.lf00.t00z.eta.grb message 1: GRIB1 on predefined grid 6 without a grid description section",
        ),
        // NCL's NetCDF conversion of the same: its data name 2-D coordinates it lacks.
        (
            vec!["inspect", "/usr/share/ncarg/data/cdf/ced1.lf00.t00z.eta.nc"],
            "no variable on a latitude × longitude grid; V_GRD_6_SIGY's coordinates (gridlat_6 gridlon_6) are not in the file",
        ),
        // ICON's atmosphere output, whose coordinates live in the run's grid file.
        (
            vec!["inspect", "/usr/share/ncarg/data/nug/atm_phy_mag0004_1985.nc"],
            "cosmu0 is on an unstructured grid whose coordinates are in a separate grid file (ICON's)",
        ),
        // DWD's COSMO-DE synthetic satellite image: not a model field.
        (
            vec!["inspect", COSMO_SATELLITE],
            "MET9_IR108_cosmode_0909210000.grb2 message 1: product definition template 4.31 (satellite imagery",
        ),
    ] {
        let out = vejr(&args);
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        let err = stderr(&out);
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
        assert!(err.starts_with("vejr: error: ") && err.contains(expected), "{err}");
        assert!(out.stdout.is_empty());
    }
}

fn hourly_uk_config(dir: &Path) -> PathBuf {
    let config = dir.join("uk.toml");
    let body = format!(
        "[store]\npath = 'uk.zarr'\ntime_step = '1h'\n[[sources]]\nfiles = ['{}']\n[[variables]]\nname = '2t'\n",
        shared_file("grib/era5-2mt-2019-03-uk.grib").display()
    );
    std::fs::write(&config, body).unwrap();
    config
}

#[test]
fn ingest_killed_midway_leaves_no_store() {
    let dir = tempfile::tempdir().unwrap();
    let config = hourly_uk_config(dir.path());
    let store = dir.path().join("uk.zarr");
    let partial = dir.path().join("uk.zarr.partial");
    let mut killed_while_writing = false;
    for _ in 0..5 {
        let mut child = Command::new(env!("CARGO_BIN_EXE_vejr"))
            .args(["ingest", "--config", config.to_str().unwrap(), "--overwrite"])
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let started = Instant::now();
        while !partial.exists() && child.try_wait().unwrap().is_none() && started.elapsed() < Duration::from_secs(60) {
            std::thread::sleep(Duration::from_millis(1));
        }
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap(); // SIGKILL
            child.wait().unwrap();
            killed_while_writing = true;
            break;
        }
        // It finished before the kill landed: start again from nothing.
        std::fs::remove_dir_all(&store).unwrap();
    }
    assert!(killed_while_writing, "could not catch the ingest while it was writing");
    assert!(
        !store.exists(),
        "a killed ingest must not leave a store under the final name"
    );
    let err = vejr_ingest::store::Store::open(&store).err().unwrap().to_string();
    assert!(err.contains("unfinished ingest"), "{err}");

    // The next run cleans up and completes.
    let out = vejr(&["ingest", "--config", config.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!partial.exists());
    let s = vejr_ingest::store::Store::open(&store).unwrap();
    assert_eq!(s.dates.len(), 744);
    assert!(String::from_utf8_lossy(&out.stdout).contains("744 time steps"));
}

#[test]
fn every_option_of_every_command_says_what_it_is() {
    for command in ["inspect", "ingest", "train", "forecast", "evaluate"] {
        let out = vejr(&[command, "--help"]);
        assert!(out.status.success());
        let help = String::from_utf8_lossy(&out.stdout).into_owned();
        let options: Vec<&str> = help
            .lines()
            .skip_while(|l| !l.starts_with("Options:"))
            .skip(1)
            .take_while(|l| l.starts_with("  "))
            .collect();
        assert!(options.len() >= 2, "{command}: {help}");
        for line in options {
            // `  --name <NAME>  What it is`: two spaces or more between the flag and its help.
            let flag_and_text = line.trim_start();
            let text = flag_and_text.split_once("  ").map(|(_, t)| t.trim()).unwrap_or("");
            assert!(!text.is_empty(), "{command}: {line:?} has no help text");
        }
        let arguments: Vec<&str> = help
            .lines()
            .skip_while(|l| !l.starts_with("Arguments:"))
            .skip(1)
            .take_while(|l| l.starts_with("  "))
            .collect();
        for line in arguments {
            assert!(
                line.trim().split_once("  ").is_some(),
                "{command}: {line:?} has no help text"
            );
        }
    }
}

/// Usage errors (clap's) are the one line every other refusal is, exit 2; help is still help.
#[test]
fn usage_errors_are_one_line() {
    let forecast = ["forecast", "--checkpoint", "k.vejr", "--lead", "1d", "--out", "f.nc"];
    for (extra, expected) in [
        (
            vec!["--store", "s.zarr", "--date", "1996-01-17/1996-01-16"],
            "the series ends before it starts",
        ),
        (
            vec!["--store", "s.zarr", "--date", "1996-01-16/1996-01-17/0h"],
            "the step 0h must be positive",
        ),
        (
            vec!["--init", "a.nc", "--date", "1996-01-16"],
            "'--init <INIT>...' cannot be used with '--date <DATE>...'",
        ),
        (vec!["--no-such-flag"], "unexpected argument '--no-such-flag'"),
    ] {
        let out = vejr(&[&forecast[..], &extra].concat());
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.starts_with("vejr: error: ") && err.contains(expected), "{err}");
        assert!(
            !err.contains("Usage:") && err.trim_end().ends_with("(see vejr --help)"),
            "{err}"
        );
    }
    let help = vejr(&["forecast", "--help"]);
    assert!(help.status.success());
    assert!(String::from_utf8_lossy(&help.stdout).contains("Usage: vejr forecast"));
}
