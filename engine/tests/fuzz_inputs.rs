//! A seeded random sweep over damaged inputs built from the real files in `../shared/data`:
//! truncations, flipped bytes and zeroed runs of NetCDF3, NetCDF4/HDF5 and GRIB files (through
//! `inspect` and `ingest`), every kind of damage to a checkpoint (through `forecast`), and
//! hostile values in an ingest config. Whatever the damage: no panic, no signal, no library
//! noise; either a clean run or exit 2 with exactly one `vejr: error:` line and nothing left
//! under the output's final or temporary name. The cases are drawn from a fixed seed, so a
//! failure names a case that reproduces (`VEJR_FUZZ_SEED` draws another sweep).

mod common;

use std::path::Path;
use std::process::Output;

use common::{stderr, train_config, uk_store, vejr};
use vejr_ingest::test_data::shared_file;

/// xorshift64*: the sweep needs reproducible draws, not a cryptographic generator.
struct Draw(u64);

impl Draw {
    fn new() -> Self {
        let seed = std::env::var("VEJR_FUZZ_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0x5eed_1996_0116_u64);
        Draw(seed | 1)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// One way of damaging a file, described for the failure message.
enum Damage {
    Truncate(usize),
    Flip(usize, u8),
    Zero(usize, usize),
}

impl Damage {
    fn draw(draw: &mut Draw, len: usize) -> Self {
        // Headers hold what decides how the rest is read: half the damage goes into the first 4 KB.
        let offset = |d: &mut Draw| {
            if d.below(2) == 0 {
                d.below(len.min(4096))
            } else {
                d.below(len)
            }
        };
        match draw.below(3) {
            0 => Damage::Truncate(offset(draw)),
            1 => Damage::Flip(offset(draw), 1 << draw.below(8)),
            _ => {
                let at = offset(draw);
                Damage::Zero(at, (1 + draw.below(256)).min(len - at))
            }
        }
    }
    fn apply(&self, bytes: &[u8]) -> Vec<u8> {
        let mut out = bytes.to_vec();
        match *self {
            Damage::Truncate(at) => out.truncate(at),
            Damage::Flip(at, bit) => out[at] ^= bit,
            Damage::Zero(at, n) => out[at..at + n].fill(0),
        }
        out
    }
    fn describe(&self) -> String {
        match self {
            Damage::Truncate(at) => format!("cut at byte {at}"),
            Damage::Flip(at, bit) => format!("bit {bit:#04x} flipped at byte {at}"),
            Damage::Zero(at, n) => format!("{n} bytes zeroed at {at}"),
        }
    }
}

/// No panic, no signal, no stray stderr; a refusal is exit 2 and one `vejr: error:` line.
/// Returns whether the command succeeded.
fn assert_clean(out: &Output, case: &str) -> bool {
    let err = stderr(out);
    let code = out
        .status
        .code()
        .unwrap_or_else(|| panic!("{case}: ended by a signal ({:?}): {err}", out.status));
    assert!(!err.contains("panicked"), "{case}: {err}");
    if code == 0 {
        return true;
    }
    assert_eq!(code, 2, "{case}: {err}");
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    let errors = lines.iter().filter(|l| l.starts_with("vejr: error: ")).count();
    assert_eq!(errors, 1, "{case}: {err}");
    // Progress lines may come first; nothing else does (no ecCodes or HDF5 diagnostics).
    for l in &lines {
        assert!(
            l.starts_with("vejr: error: ") || l.starts_with("ingest: ") || l.starts_with("opening"),
            "{case}: stray line {l:?} in {err}"
        );
    }
    false
}

fn ingest_config(dir: &Path, file: &Path, variable: &str, extra_store: &str) -> std::path::PathBuf {
    let config = dir.join("ingest.toml");
    std::fs::write(
        &config,
        format!(
            "[store]\npath = 'out.zarr'\ntime_step = '1h'\n{extra_store}[[sources]]\nfiles = ['{}']\n[[variables]]\nname = '{variable}'\n",
            file.display()
        ),
    )
    .unwrap();
    config
}

fn assert_no_partial_store(dir: &Path, succeeded: bool, case: &str) {
    assert!(!dir.join("out.zarr.partial").exists(), "{case}: partial store left");
    assert_eq!(
        dir.join("out.zarr").exists(),
        succeeded,
        "{case}: store present after a refusal"
    );
    let _ = std::fs::remove_dir_all(dir.join("out.zarr"));
}

#[test]
fn damaged_netcdf_and_grib_files_are_read_or_refused_cleanly() {
    let mut draw = Draw::new();
    let dir = tempfile::tempdir().unwrap();
    let grib = std::fs::read(shared_file("grib/era5-2mt-2019-03-uk.grib")).unwrap();
    // (name, bytes, variable, whether every cut loses data). GRIB: the first 24 hours; a cut
    // inside its last message's padding loses nothing and is read.
    let files: [(&str, Vec<u8>, &str, bool); 3] = [
        (
            "legacy.nc",
            std::fs::read(shared_file("netcdf/era5-t2m-2019-03-uk-legacy.nc")).unwrap(),
            "t2m",
            true,
        ),
        (
            "cds2024.nc",
            std::fs::read(shared_file("netcdf/era5-t2m-2019-03-uk-cds2024.nc")).unwrap(),
            "t2m",
            true,
        ),
        ("first-day.grib", grib[..24 * 3360].to_vec(), "2t", false),
    ];
    let (mut refused, mut read) = (0, 0);
    for (name, bytes, variable, every_cut_loses) in &files {
        for k in 0..16 {
            let damage = Damage::draw(&mut draw, bytes.len());
            let case = format!("{name}, {}", damage.describe());
            let path = dir.path().join(format!("{k}-{name}"));
            std::fs::write(&path, damage.apply(bytes)).unwrap();
            let ok = assert_clean(&vejr(&["inspect", path.to_str().unwrap()]), &format!("inspect {case}"));
            if *every_cut_loses && matches!(damage, Damage::Truncate(_)) {
                assert!(!ok, "inspect {case}: a cut-short file was read as whole");
            }
            if ok {
                read += 1
            } else {
                refused += 1
            }
            // Every fourth case also through ingest: a store, or none and no partial one.
            if k % 4 == 0 {
                let config = ingest_config(dir.path(), &path, variable, "");
                let out = vejr(&["ingest", "--config", config.to_str().unwrap()]);
                let ok = assert_clean(&out, &format!("ingest {case}"));
                assert_no_partial_store(dir.path(), ok, &case);
            }
            std::fs::remove_file(&path).unwrap();
        }
    }
    // The sweep exercised both outcomes (a flip in a value is still a file).
    assert!(refused >= 10 && read >= 1, "{refused} refused, {read} read");
}

#[test]
fn any_damage_to_a_checkpoint_is_refused() {
    let mut draw = Draw::new();
    let dir = tempfile::tempdir().unwrap();
    let config = train_config(dir.path(), &[("steps", "2"), ("checkpoint_every", "2")]);
    let out = vejr(&["train", "--config", config.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let bytes = std::fs::read(dir.path().join("run/checkpoints/step-0000002.vejr")).unwrap();
    let forecast_out = dir.path().join("f.nc");
    for k in 0..24 {
        let damage = Damage::draw(&mut draw, bytes.len());
        let case = format!("checkpoint {}", damage.describe());
        let path = dir.path().join(format!("damaged-{k}.vejr"));
        std::fs::write(&path, damage.apply(&bytes)).unwrap();
        let out = vejr(&[
            "forecast",
            "--checkpoint",
            path.to_str().unwrap(),
            "--store",
            uk_store().to_str().unwrap(),
            "--date",
            "2019-03-27T12:00:00Z",
            "--lead",
            "6h",
            "--out",
            forecast_out.to_str().unwrap(),
        ]);
        // Every byte is under a checksum: no damage may pass.
        assert!(!assert_clean(&out, &case), "{case}: forecast ran");
        assert!(
            !forecast_out.exists() && !dir.path().join("f.nc.partial").exists(),
            "{case}"
        );
        std::fs::remove_file(&path).unwrap();
    }
}

#[test]
fn hostile_ingest_config_values_are_refused_or_honoured() {
    let mut draw = Draw::new();
    let dir = tempfile::tempdir().unwrap();
    let grib = std::fs::read(shared_file("grib/era5-2mt-2019-03-uk.grib")).unwrap();
    let file = dir.path().join("first-day.grib");
    std::fs::write(&file, &grib[..24 * 3360]).unwrap();
    let numbers = [
        "0", "-1", "1e-9", "1e308", "-1e308", "nan", "inf", "-inf", "0.0001", "360", "720", "1e20",
    ];
    let texts = [
        "''",
        "'0h'",
        "'-6h'",
        "'1e9d'",
        "'6 hours'",
        "'x'",
        "'1h1h'",
        "'99999999999999999999s'",
    ];
    let dates = [
        "'1e9-01-01T00:00:00Z'",
        "'2019-02-30T00:00:00Z'",
        "'2019-03-01'",
        "'0000-01-01T00:00:00Z'",
    ];
    for k in 0..30 {
        let mut n = || numbers[draw.below(numbers.len())];
        let (a, b, c, d) = (n(), n(), n(), n());
        let store = match k % 5 {
            0 => format!("[store.grid]\nresolution = {a}\n"),
            1 => format!("[store.grid]\nresolution = 0.5\narea = [{a}, {b}, {c}, {d}]\n"),
            2 => format!("start = {}\n", dates[draw.below(dates.len())]),
            3 => format!("statistics_end = {}\n", dates[draw.below(dates.len())]),
            _ => String::new(),
        };
        let config = ingest_config(dir.path(), &file, "2t", "");
        let mut text = std::fs::read_to_string(&config).unwrap();
        if k % 5 == 4 {
            text = text.replace("'1h'", texts[draw.below(texts.len())]);
        }
        // Keys under [store] go before [store.grid] and [[sources]].
        let (head, tail) = text.split_at(text.find("[[sources]]").unwrap());
        let (keys, grid): (String, String) = if store.starts_with("[store.grid]") {
            (String::new(), store)
        } else {
            (store, String::new())
        };
        let text = format!("{head}{keys}{grid}{tail}");
        let text = text.replacen(
            "[[variables]]\nname = '2t'\n",
            &format!("[[variables]]\nname = '2t'\nvalid_range = [{a}, {b}]\n"),
            (k % 3 == 0) as usize,
        );
        std::fs::write(&config, &text).unwrap();
        let case = format!("config:\n{text}");
        let out = vejr(&["ingest", "--config", config.to_str().unwrap()]);
        let ok = assert_clean(&out, &case);
        assert_no_partial_store(dir.path(), ok, &case);
    }
}

/// What the sweep found first: one damaged time value stretched a store to millions of steps.
/// Out of order, it is refused by the reader; last in the file, by the store's size.
#[test]
fn a_damaged_time_value_is_refused_before_the_store_is_sized() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&[f64], &str); 2] = [
        (
            &[0.0, 1.0, 2.6e7],
            "is 26000000 time steps, more than the 10000000 vejr stores",
        ),
        (&[0.0, 2.6e7, 2.0], "time is not increasing at index 2"),
    ];
    for (case, (hours, expected)) in cases.into_iter().enumerate() {
        // A file of its own per case: a child process that another test thread forks while this
        // one has the file open inherits HDF5's lock on it (HDF5 opens without O_CLOEXEC) and
        // holds it while it runs, so re-creating the same file could fail (EACCES) in CI.
        let file = dir.path().join(format!("far-{case}.nc"));
        let mut f = netcdf::create(&file).unwrap();
        f.add_dimension("time", 3).unwrap();
        f.add_dimension("latitude", 2).unwrap();
        f.add_dimension("longitude", 2).unwrap();
        for (name, units, values) in [
            ("time", "hours since 2019-03-01 00:00:00", hours),
            ("latitude", "degrees_north", &[51.0, 50.0][..]),
            ("longitude", "degrees_east", &[0.0, 1.0][..]),
        ] {
            let mut v = f.add_variable::<f64>(name, &[name]).unwrap();
            v.put_attribute("units", units).unwrap();
            v.put_values(values, ..).unwrap();
        }
        let mut v = f
            .add_variable::<f32>("t2m", &["time", "latitude", "longitude"])
            .unwrap();
        v.put_attribute("units", "K").unwrap();
        v.put_values(&[280.0f32; 12], ..).unwrap();
        drop(f);
        let config = ingest_config(dir.path(), &file, "t2m", "allow_gaps = true\n");
        let out = vejr(&["ingest", "--config", config.to_str().unwrap()]);
        assert!(!assert_clean(&out, expected), "ingested");
        assert!(stderr(&out).contains(expected), "{}", stderr(&out));
        assert_no_partial_store(dir.path(), false, expected);
    }
}
