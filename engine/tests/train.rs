//! `vejr train` on real data: it learns, resumes bit for bit, survives a kill in the middle of
//! a checkpoint write, gives the same weights on two MPI ranks as on one process, and refuses
//! bad configs before any compute.

use std::process::Command;
use std::time::{Duration, Instant};

use vejr_engine::training::parameters::max_relative_difference;

mod common;
use common::{checkpoint_weights, metrics, set_model, stderr, stdout, train_config, uk_store, vejr};

#[test]
fn bad_configs_stop_at_start_up_with_one_line() {
    type Overrides<'a> = &'a [(&'a str, &'a str)];
    let cases: [(Overrides, &str, &str); 6] = [
        (
            &[("precision", "'bf16'")],
            "precision = \"bf16\" needs --device cuda",
            "",
        ),
        (
            &[("variable_weights", "{ msl = 2.0 }")],
            "variable_weights names msl",
            "weights",
        ),
        (
            &[("train_start", "'2019-02-20T00:00:00Z'")],
            "training period 2019-02-20T00:00Z",
            "outside store",
        ),
        (
            &[("validation_start", "'2019-03-20T00:00:00Z'")],
            "validation period overlaps the training period",
            "",
        ),
        (
            &[(
                "curriculum",
                "[[training.curriculum]]\nfrom_step = 0\nrollout = 1\n[[training.curriculum]]\nfrom_step = 3\nrollout = 120\n",
            )],
            "rollout of 120 steps (curriculum from step 3) is longer than the training data allows",
            "",
        ),
        (
            &[("validation_rollout", "0")],
            "validation_rollout must be at least 1",
            "",
        ),
    ];
    for (overrides, expected, also) in cases {
        let dir = tempfile::tempdir().unwrap();
        let config = train_config(dir.path(), overrides);
        let out = vejr(&["train", "--config", config.to_str().unwrap()]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
        assert!(err.contains(expected) && err.contains(also), "{expected}: {err}");
        assert!(
            !dir.path().join("run").exists(),
            "nothing is written before the checks pass"
        );
    }
    // An unknown variable, named with what the store has.
    let dir = tempfile::tempdir().unwrap();
    let config = train_config(dir.path(), &[]);
    let text = std::fs::read_to_string(&config)
        .unwrap()
        .replace("['2t']", "['2t', 'msl']");
    std::fs::write(&config, text).unwrap();
    let out = vejr(&["train", "--config", config.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("unknown variable msl") && stderr(&out).contains("has 2t"),
        "{}",
        stderr(&out)
    );
}

/// srun without a PMI plugin starts independent single processes that would each train alone
/// into the same run directory: refused (srun's environment as it gives it to each task).
#[test]
fn srun_tasks_that_mpi_does_not_connect_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let config = train_config(dir.path(), &[]);
    let out = Command::new(env!("CARGO_BIN_EXE_vejr"))
        .args(["train", "--config", config.to_str().unwrap()])
        .env("SLURM_STEP_NUM_TASKS", "2")
        .env("SLURM_PROCID", "1")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("srun --mpi=pmix"), "{}", stderr(&out));
    assert!(!dir.path().join("run").exists());
}

#[test]
fn learns_real_weather_better_than_persistence() {
    let dir = tempfile::tempdir().unwrap();
    let config = train_config(
        dir.path(),
        &[
            ("steps", "120"),
            ("warmup_steps", "10"),
            ("validate_every", "60"),
            ("checkpoint_every", "60"),
            ("validation_samples", "0"),
        ],
    );
    let out = vejr(&["train", "--config", config.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("trained steps 0..120"), "{}", stdout(&out));
    let m = metrics(&dir.path().join("run"));
    assert_eq!(m.iter().filter(|r| r["kind"] == "train").count(), 120);
    let last = m.iter().rfind(|r| r["kind"] == "validation").unwrap();
    // 25–31 March, 26 samples, none seen in training.
    assert_eq!(last["samples"], 26);
    let (model, persistence) = (
        last["loss"].as_f64().unwrap(),
        last["persistence_loss"].as_f64().unwrap(),
    );
    assert!(
        model < persistence,
        "validation loss {model} is not below persistence {persistence}"
    );
    let (rmse, p_rmse) = (
        last["rmse"]["2t"].as_f64().unwrap(),
        last["persistence_rmse"]["2t"].as_f64().unwrap(),
    );
    assert!(
        rmse < p_rmse && rmse > 0.1,
        "2t RMSE {rmse} K vs persistence {p_rmse} K"
    );
    assert!(dir.path().join("run/best.vejr").is_file());
    // The summary names the validation behind best.vejr and its scores per variable.
    let summary = stdout(&out);
    let best_step = m
        .iter()
        .filter(|r| r["kind"] == "validation")
        .min_by(|a, b| a["loss"].as_f64().unwrap().total_cmp(&b["loss"].as_f64().unwrap()))
        .unwrap()["step"]
        .as_u64()
        .unwrap();
    let best = m
        .iter()
        .find(|r| r["kind"] == "validation" && r["step"] == best_step)
        .unwrap();
    assert!(
        summary.contains(&format!(
            "validation RMSE at +6h, step {best_step} (best.vejr), over 26 sample(s)"
        )),
        "{summary}"
    );
    let row = summary
        .lines()
        .find(|l| l.trim_start().starts_with("2t "))
        .unwrap_or_else(|| panic!("no 2t row in {summary}"));
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(cells[1], "K", "{row}");
    let printed: f64 = cells[2].parse().unwrap();
    assert!((printed - best["rmse"]["2t"].as_f64().unwrap()).abs() < 1e-3, "{row}");
}

/// With `validation_rollout`, each validation sample is rolled out that many steps: fewer
/// samples fit the period, and the RMSE reported is the last step's (+24 h here); persistence's
/// is recomputed here from the store itself.
#[test]
fn validation_rolls_out_the_configured_steps() {
    let dir = tempfile::tempdir().unwrap();
    let config = train_config(
        dir.path(),
        &[
            ("steps", "2"),
            ("validate_every", "2"),
            ("checkpoint_every", "2"),
            ("validation_samples", "0"),
            ("validation_rollout", "4"),
        ],
    );
    let out = vejr(&["train", "--config", config.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("validation RMSE at +24h, step 2 (best.vejr), over 23 sample(s)"),
        "{}",
        stdout(&out)
    );
    let m = metrics(&dir.path().join("run"));
    let validation = m.iter().rfind(|r| r["kind"] == "validation").unwrap();
    // 28 analyses from 25 March 00Z to 31 March 18Z: 2 inputs and 4 targets fit 23 times.
    assert_eq!(validation["samples"], 23);

    let store = vejr_ingest::store::Store::open(uk_store()).unwrap();
    let area = vejr_engine::training::losses::grid_area_weights(&store.grid);
    let column = store.column_index("2t").unwrap();
    let first = chrono::DateTime::parse_from_rfc3339("2019-03-25T00:00:00Z").unwrap();
    let last = chrono::DateTime::parse_from_rfc3339("2019-03-31T18:00:00Z").unwrap();
    let (mut sum, mut weight, mut samples) = (0.0f64, 0.0f64, 0);
    for t in 1..store.dates.len().saturating_sub(4) {
        if store.dates[t - 1] < first || store.dates[t + 4] > last {
            continue;
        }
        samples += 1;
        let now = store.read_sample(t, &[column]).unwrap();
        let later = store.read_sample(t + 4, &[column]).unwrap();
        for ((a, b), w) in now.iter().zip(&later).zip(&area) {
            sum += *w as f64 * (*b as f64 - *a as f64).powi(2);
            weight += *w as f64;
        }
    }
    assert_eq!(samples, 23);
    let expected = (sum / weight).sqrt();
    let reported = validation["persistence_rmse"]["2t"].as_f64().unwrap();
    assert!(
        (reported - expected).abs() < 1e-4 * expected,
        "persistence RMSE at +24 h: reported {reported}, from the store {expected}"
    );
    let model = validation["rmse"]["2t"].as_f64().unwrap();
    assert!(model.is_finite() && model > 0.0, "{validation}");
}

#[test]
fn resumed_run_continues_bit_for_bit() {
    let whole = tempfile::tempdir().unwrap();
    let config = train_config(whole.path(), &[]);
    let out = vejr(&["train", "--config", config.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));

    let split = tempfile::tempdir().unwrap();
    let config = train_config(split.path(), &[]);
    let c = config.to_str().unwrap();
    let out = vejr(&["train", "--config", c, "--stop-at-step", "3"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let again = vejr(&["train", "--config", c]);
    assert_eq!(
        again.status.code(),
        Some(2),
        "a second start must not overwrite a run silently"
    );
    // --stop-at-step below the step reached: one line, exit 2 (once a subtraction overflow).
    let out = vejr(&["train", "--config", c, "--resume", "--stop-at-step", "1"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("--stop-at-step 1 is below the step the run has reached (3)"),
        "{}",
        stderr(&out)
    );
    // Resuming with another model or other data periods would train one run and label it as
    // another: refused, naming each difference; the config restored, the run goes on.
    let original = std::fs::read_to_string(&config).unwrap();
    set_model(&config, "latent = 32\nprocessor_layers = 1\nmesh_level = 2");
    std::fs::write(
        &config,
        std::fs::read_to_string(&config)
            .unwrap()
            .replace("2019-03-24T18", "2019-03-23T18"),
    )
    .unwrap();
    let out = vejr(&["train", "--config", c, "--resume"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("the config no longer describes that run"), "{err}");
    assert!(err.contains("model latent 16 → 32"), "{err}");
    assert!(
        err.contains("train_end \"2019-03-24T18:00:00Z\" → \"2019-03-23T18:00:00Z\""),
        "{err}"
    );
    std::fs::write(&config, original).unwrap();
    let out = vejr(&["train", "--config", c, "--resume"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("trained steps 3..6"), "{}", stdout(&out));

    let a = checkpoint_weights(&whole.path().join("run/checkpoints/step-0000006.vejr"));
    let b = checkpoint_weights(&split.path().join("run/checkpoints/step-0000006.vejr"));
    let bits = |w: &Vec<Vec<f32>>| w.iter().flatten().map(|v| v.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&a), bits(&b), "resumed weights differ from the uninterrupted run");
    let losses = |run: &std::path::Path| {
        metrics(run)
            .iter()
            .filter(|r| r["kind"] == "train")
            .map(|r| r["loss"].as_f64().unwrap())
            .collect::<Vec<_>>()
    };
    assert_eq!(losses(&whole.path().join("run")), losses(&split.path().join("run")));
}

/// Burn's autodiff checkpointing recomputes activations in the backward pass: the same
/// arithmetic, so the same weights, over a 3-step rollout back-propagated through. The step
/// gradients are summed in another order (per step, then across steps), so the weights agree
/// to f32 rounding (1e-5 relative), not bitwise; dropping a step's upstream gradient moves
/// them by far more.
#[test]
fn gradient_checkpointing_changes_memory_not_results() {
    let curriculum = ("curriculum", "[[training.curriculum]]\nfrom_step = 0\nrollout = 3\n");
    let plain = tempfile::tempdir().unwrap();
    let config = train_config(plain.path(), &[("steps", "3"), curriculum]);
    let out = vejr(&["train", "--config", config.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let checkpointed = tempfile::tempdir().unwrap();
    let config = train_config(
        checkpointed.path(),
        &[("steps", "3"), curriculum, ("gradient_checkpointing", "true")],
    );
    let out = vejr(&["train", "--config", config.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let a = checkpoint_weights(&plain.path().join("run/checkpoints/step-0000003.vejr"));
    let b = checkpoint_weights(&checkpointed.path().join("run/checkpoints/step-0000003.vejr"));
    let initial_difference = vejr_engine::training::parameters::max_relative_difference(&a, &b);
    assert!(
        initial_difference <= 1e-5,
        "checkpointed training differs by {initial_difference}"
    );
}

/// The point of checkpointing: the activations kept for the backward pass do not grow with
/// the rollout. A model wide enough that its activations dominate the process; from 2 to 12
/// rollout steps, checkpointed training may grow by a tenth of what plain back-propagation
/// through the rollout grows by (what is left is the batch itself: targets and forcings of
/// every step, which any rollout loss needs).
#[test]
fn gradient_checkpointing_keeps_memory_flat_in_the_rollout() {
    let peak = |rollout: usize, checkpointing: bool| -> f64 {
        let dir = tempfile::tempdir().unwrap();
        let curriculum = format!("[[training.curriculum]]\nfrom_step = 0\nrollout = {rollout}\n");
        let config = train_config(
            dir.path(),
            &[
                ("steps", "1"),
                ("validate_every", "100"),
                ("checkpoint_every", "100"),
                ("curriculum", &curriculum),
                ("gradient_checkpointing", &checkpointing.to_string()),
            ],
        );
        set_model(&config, "latent = 64\nprocessor_layers = 4\nmesh_level = 4");
        let out = vejr(&["train", "--config", config.to_str().unwrap()]);
        assert!(out.status.success(), "{}", stderr(&out));
        let summary = stdout(&out);
        let mib = summary
            .split("peak memory ")
            .nth(1)
            .and_then(|rest| rest.split(" MiB").next())
            .unwrap_or_else(|| panic!("no peak memory in the summary: {summary}"));
        mib.parse().unwrap()
    };
    let plain = peak(12, false) - peak(2, false);
    let checkpointed = peak(12, true) - peak(2, true);
    assert!(
        plain > 200.0,
        "plain back-propagation grew by only {plain} MiB from rollout 2 to 12: the test no longer \
         measures what it should"
    );
    assert!(
        checkpointed <= 0.1 * plain,
        "checkpointed training grew by {checkpointed} MiB from rollout 2 to 12, plain by {plain} MiB"
    );
}

#[test]
fn killed_during_a_checkpoint_write_resumes_from_the_previous_one() {
    let dir = tempfile::tempdir().unwrap();
    let config = train_config(dir.path(), &[]);
    let c = config.to_str().unwrap();
    let run = dir.path().join("run");
    let partial = run.join("checkpoints/step-0000004.vejr.partial");
    let mut child = Command::new(env!("CARGO_BIN_EXE_vejr"))
        .args(["train", "--config", c])
        .env("VEJR_TEST_CHECKPOINT_WRITE_DELAY_MS", "2000")
        .stderr(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while !partial.exists() && started.elapsed() < Duration::from_secs(300) {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(partial.exists(), "never saw the step-4 checkpoint being written");
    child.kill().unwrap(); // SIGKILL, in the middle of the write
    child.wait().unwrap();

    // Every checkpoint under its final name loads; the one being written is not among them.
    let finished: Vec<_> = std::fs::read_dir(run.join("checkpoints"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "vejr"))
        .collect();
    assert!(!finished.is_empty());
    for path in &finished {
        checkpoint_weights(path);
    }
    assert!(!run.join("checkpoints/step-0000004.vejr").exists());

    let out = vejr(&["train", "--config", c, "--resume"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("trained steps 2..6"), "{}", stdout(&out));
    assert!(!partial.exists());
    checkpoint_weights(&run.join("checkpoints/step-0000006.vejr"));
}

fn mpirun() -> Option<&'static str> {
    let found = Command::new("mpirun")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found && std::env::var_os("CI").is_some() {
        panic!("mpirun not found: `make deps` installs openmpi-bin");
    }
    found.then_some("mpirun")
}

fn train_on_two_ranks(mpirun: &str, config: &std::path::Path) -> std::process::Output {
    train_on_two_ranks_with(mpirun, config, &[])
}

fn train_on_two_ranks_with(mpirun: &str, config: &std::path::Path, env: &[(&str, &str)]) -> std::process::Output {
    mpirun_command(mpirun, config, env).output().unwrap()
}

fn mpirun_command(mpirun: &str, config: &std::path::Path, env: &[(&str, &str)]) -> Command {
    let mut command = Command::new(mpirun);
    command
        .args(["-np", "2", "--oversubscribe", "--allow-run-as-root"])
        .args([
            env!("CARGO_BIN_EXE_vejr"),
            "train",
            "--config",
            config.to_str().unwrap(),
        ])
        // Containers often forbid the shared-memory transport's single-copy mechanism.
        .env("OMPI_MCA_btl_vader_single_copy_mechanism", "none")
        .envs(env.iter().copied());
    command
}

/// A rank that dies (mpirun ends the job) or hangs (the other rank's watchdog ends it): the job
/// stops with a message naming what happened instead of waiting for its wall-time limit.
#[test]
fn a_dead_or_hung_rank_ends_the_job_with_a_message() {
    let Some(mpirun) = mpirun() else {
        panic!("mpirun not found: install openmpi-bin (make deps) to run the data-parallel test");
    };
    for (fault, timeout, expected) in [
        ("1:2:die", "900", "rank 1"),
        ("1:2:stall", "5", "rank 0 of 2 waited 5 s for the other ranks"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let config = train_config(dir.path(), &[("steps", "6")]);
        // A job that never ends is the failure under test: it is killed and reported, not waited
        // for until CI's own limit. (A liveness bound, not a speed measurement.)
        let mut child = mpirun_command(
            mpirun,
            &config,
            &[("VEJR_TEST_RANK_FAULT", fault), ("VEJR_COLLECTIVE_TIMEOUT_S", timeout)],
        )
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
        let started = Instant::now();
        while child.try_wait().unwrap().is_none() {
            if started.elapsed() > Duration::from_secs(600) {
                child.kill().unwrap();
                panic!("{fault}: the job hung instead of ending");
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        let out = child.wait_with_output().unwrap();
        let all = format!("{}{}", stdout(&out), stderr(&out));
        assert!(!out.status.success(), "{fault}: the job must fail\n{all}");
        assert!(all.contains(expected), "{fault}: expected {expected:?} in\n{all}");
        assert!(!dir.path().join("run/checkpoints/step-0000006.vejr").exists());
    }
}

#[test]
fn two_mpi_ranks_give_the_weights_of_one_process() {
    let Some(mpirun) = mpirun() else {
        panic!("mpirun not found: install openmpi-bin (make deps) to run the data-parallel test");
    };
    let overrides = [("steps", "5"), ("validate_every", "5"), ("checkpoint_every", "5")];
    let single = tempfile::tempdir().unwrap();
    let config = train_config(single.path(), &overrides);
    let out = vejr(&["train", "--config", config.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));

    let multi = tempfile::tempdir().unwrap();
    let config = train_config(multi.path(), &overrides);
    let out = train_on_two_ranks(mpirun, &config);
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    assert!(stderr(&out).contains("2 rank(s)"), "{}", stderr(&out));

    let a = checkpoint_weights(&single.path().join("run/checkpoints/step-0000005.vejr"));
    let b = checkpoint_weights(&multi.path().join("run/checkpoints/step-0000005.vejr"));
    let difference = max_relative_difference(&a, &b);
    assert!(difference <= 1e-5, "max relative difference {difference:e}");
    // The weights did move: the comparison is not of two untouched initialisations.
    let untouched = tempfile::tempdir().unwrap();
    let config = train_config(
        untouched.path(),
        &[
            ("steps", "5"),
            ("learning_rate", "1e-12"),
            ("validate_every", "5"),
            ("checkpoint_every", "5"),
        ],
    );
    assert!(vejr(&["train", "--config", config.to_str().unwrap()]).status.success());
    let c = checkpoint_weights(&untouched.path().join("run/checkpoints/step-0000005.vejr"));
    assert!(max_relative_difference(&a, &c) > 1e-3);

    // A global batch that does not split evenly is refused on every rank.
    let odd = tempfile::tempdir().unwrap();
    let config = train_config(odd.path(), &[("batch_size", "3")]);
    let out = train_on_two_ranks(mpirun, &config);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("batch_size 3 does not divide among 2 ranks"),
        "{}",
        stderr(&out)
    );
}
