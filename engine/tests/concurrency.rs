//! Two writers, one target: two `ingest`s of one store, two `train`s into one directory, two
//! `forecast`s to one file and two `evaluate`s into one directory, started together, 20 rounds
//! each. In every round exactly one succeeds and what is on disk is its output; the other is
//! refused at once with one line naming the first, exit 2. A holder killed with SIGKILL does not
//! block the next run.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use common::{stderr, train_config, uk_store, vejr};
use vejr_ingest::store::Store;
use vejr_ingest::test_data::shared_file;

const ROUNDS: usize = 20;

fn spawn(args: &[String]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_vejr"))
        .args(args)
        .env("HDF5_USE_FILE_LOCKING", "FALSE")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("vejr starts")
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| s.to_string()).collect()
}

/// Runs `a` and `b` together; returns which one succeeded (0 or 1), having checked that the
/// other was refused with one line naming the lock's holder.
fn race(what: &str, round: usize, a: &[String], b: &[String]) -> usize {
    let (first, second) = (spawn(a), spawn(b));
    let outputs: [Output; 2] = [first.wait_with_output().unwrap(), second.wait_with_output().unwrap()];
    let succeeded: Vec<usize> = (0..2).filter(|&k| outputs[k].status.success()).collect();
    assert_eq!(
        succeeded.len(),
        1,
        "{what} round {round}: {} succeeded\n--- a:\n{}\n--- b:\n{}",
        succeeded.len(),
        stderr(&outputs[0]),
        stderr(&outputs[1])
    );
    let winner = succeeded[0];
    let loser = &outputs[1 - winner];
    let err = stderr(loser);
    assert_eq!(loser.status.code(), Some(2), "{what} round {round}: {err}");
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "{what} round {round}: one line, not:\n{err}");
    assert!(
        lines[0].starts_with("vejr: error: ") && lines[0].contains("is being written by another vejr (pid "),
        "{what} round {round}: {err}"
    );
    winner
}

fn ingest_config(dir: &Path, name: &str, end: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(
        &path,
        format!(
            "[store]\npath = 'uk.zarr'\nstart = '2019-03-01T00:00:00Z'\nend = '{end}'\ntime_step = '6h'\n\
             statistics_end = '2019-03-10T18:00:00Z'\n[store.grid]\nresolution = 0.5\narea = [58.0, -10.0, 50.0, 2.0]\n\
             [[sources]]\nfiles = ['{}']\n[[variables]]\nname = '2t'\n",
            shared_file("grib/era5-2mt-2019-03-uk.grib").display()
        ),
    )
    .unwrap();
    path
}

#[test]
fn two_ingests_of_one_store() {
    let dir = tempfile::tempdir().unwrap();
    let a = ingest_config(dir.path(), "a.toml", "2019-03-20T18:00:00Z");
    let b = ingest_config(dir.path(), "b.toml", "2019-03-31T18:00:00Z");
    let args = |c: &Path| strings(&["ingest", "--config", c.to_str().unwrap(), "--overwrite"]);
    for round in 0..ROUNDS {
        let winner = race("ingest", round, &args(&a), &args(&b));
        let store = Store::open(&dir.path().join("uk.zarr")).unwrap();
        assert_eq!(
            store.dates.len(),
            [80, 124][winner],
            "round {round}: the store is the winner's"
        );
        let left: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| !n.ends_with(".toml") && n != "uk.zarr")
            .collect();
        assert!(left.is_empty(), "round {round}: left behind: {left:?}");
    }
}

#[test]
fn two_trains_into_one_directory() {
    let dir = tempfile::tempdir().unwrap();
    let configs: Vec<PathBuf> = [("a", "4"), ("b", "6")]
        .iter()
        .map(|(name, steps)| {
            let sub = dir.path().join(name);
            std::fs::create_dir(&sub).unwrap();
            let shared_run = format!("'{}'", dir.path().join("run").display());
            train_config(
                &sub,
                &[("output", &shared_run), ("steps", steps), ("validate_every", steps)],
            )
        })
        .collect();
    let args = |c: &Path| strings(&["train", "--config", c.to_str().unwrap(), "--overwrite"]);
    for round in 0..ROUNDS {
        let winner = race("train", round, &args(&configs[0]), &args(&configs[1]));
        let run = dir.path().join("run");
        let steps: Vec<u64> = common::metrics(&run)
            .iter()
            .filter_map(|r| r["step"].as_u64())
            .collect();
        assert_eq!(
            steps.iter().max(),
            Some(&[4, 6][winner]),
            "round {round}: metrics are the winner's"
        );
        let checkpoints: Vec<String> = std::fs::read_dir(run.join("checkpoints"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        let last = format!("step-{:07}.vejr", [4, 6][winner]);
        assert!(checkpoints.contains(&last), "round {round}: {checkpoints:?}");
        if winner == 0 {
            assert!(
                !checkpoints.contains(&"step-0000006.vejr".to_string()),
                "{checkpoints:?}"
            );
        }
        assert!(run.join("best.vejr").is_file(), "round {round}");
    }
}

/// A checkpoint and two forecasts from it, for the forecast and evaluate races.
fn checkpoint(dir: &Path) -> PathBuf {
    let config = train_config(dir, &[]);
    let out = vejr(&["train", "--config", config.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    dir.join("run/best.vejr")
}

fn forecast_args(checkpoint: &Path, date: &str, lead: &str, out: &Path) -> Vec<String> {
    strings(&[
        "forecast",
        "--checkpoint",
        checkpoint.to_str().unwrap(),
        "--store",
        uk_store().to_str().unwrap(),
        "--date",
        date,
        "--lead",
        lead,
        "--out",
        out.to_str().unwrap(),
        "--overwrite",
    ])
}

#[test]
fn two_forecasts_to_one_file_and_two_evaluates_into_one_directory() {
    let dir = tempfile::tempdir().unwrap();
    let checkpoint = checkpoint(dir.path());
    let target = dir.path().join("f.nc");
    let leads = ["12h", "48h"];
    for round in 0..ROUNDS {
        let winner = race(
            "forecast",
            round,
            &forecast_args(&checkpoint, "2019-03-26T00", leads[0], &target),
            &forecast_args(&checkpoint, "2019-03-26T00", leads[1], &target),
        );
        let times = netcdf::open(&target).unwrap().dimension("time").unwrap().len();
        assert_eq!(times, [2, 8][winner], "round {round}: the file is the winner's");
    }

    let (short, long) = (dir.path().join("short.nc"), dir.path().join("long.nc"));
    for (lead, path) in [("12h", &short), ("24h", &long)] {
        let out = vejr(
            &forecast_args(&checkpoint, "2019-03-27T00", lead, path)
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>(),
        );
        assert!(out.status.success(), "{}", stderr(&out));
    }
    let scores = dir.path().join("scores");
    let args = |f: &Path| {
        strings(&[
            "evaluate",
            "--forecast",
            f.to_str().unwrap(),
            "--truth",
            uk_store().to_str().unwrap(),
            "--out",
            scores.to_str().unwrap(),
        ])
    };
    for round in 0..ROUNDS {
        let winner = race("evaluate", round, &args(&short), &args(&long));
        let csv = std::fs::read_to_string(scores.join("scores.csv")).unwrap();
        let leads: std::collections::BTreeSet<&str> =
            csv.lines().skip(1).map(|l| l.split(',').nth(2).unwrap()).collect();
        assert_eq!(
            leads.len(),
            [2, 4][winner],
            "round {round}: scores.csv is the winner's: {csv}"
        );
    }
}

/// A run killed while it holds its lock leaves the lock file, but not the lock: the next run
/// goes ahead.
#[test]
fn a_killed_holder_does_not_block_the_next_run() {
    let dir = tempfile::tempdir().unwrap();
    let config = train_config(
        dir.path(),
        &[("steps", "400"), ("checkpoint_every", "400"), ("validate_every", "400")],
    );
    let args = strings(&["train", "--config", config.to_str().unwrap(), "--overwrite"]);
    let mut holder = spawn(&args);
    let lock = dir.path().join(".run.vejr-lock");
    let held = format!("pid {}:", holder.id());
    let started = std::time::Instant::now();
    while !std::fs::read_to_string(&lock).is_ok_and(|t| t.starts_with(&held)) {
        assert!(
            holder.try_wait().unwrap().is_none(),
            "the holder ended before its lock was seen"
        );
        assert!(started.elapsed().as_secs() < 120, "no lock file {}", lock.display());
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // While it runs, a second is refused naming it.
    let out = vejr(&args.iter().map(String::as_str).collect::<Vec<_>>());
    common::assert_refused(&out, &["being written by another vejr", &held]);
    holder.kill().unwrap();
    holder.wait().unwrap();
    assert!(lock.exists(), "SIGKILL leaves the lock file");
    let short = train_config(dir.path(), &[]);
    let out = vejr(&["train", "--config", short.to_str().unwrap(), "--overwrite"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!lock.exists(), "the next run's lock file is removed when it ends");
}
