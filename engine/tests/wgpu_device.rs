//! `vejr forecast --device wgpu` and `vejr train --device wgpu` end to end on wgpu's CPU
//! adapter (Mesa's lavapipe, `CUBECL_WGPU_DEFAULT_DEVICE=Cpu`): the CubeCL path as a user runs
//! it, equal to the CPU's forecast within f32 rounding.

#![cfg(feature = "wgpu")]

mod common;

use common::{read_all, stderr, train_config, uk_store, vejr};
use std::process::Command;

fn vejr_on_lavapipe(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_vejr"))
        .args(args)
        .env("HDF5_USE_FILE_LOCKING", "FALSE")
        .env("CUBECL_WGPU_DEFAULT_DEVICE", "Cpu")
        .output()
        .expect("vejr runs")
}

#[test]
fn forecast_and_train_on_wgpu_equal_the_cpu() {
    let dir = tempfile::tempdir().unwrap();
    let config = train_config(
        dir.path(),
        &[("steps", "4"), ("checkpoint_every", "4"), ("validate_every", "4")],
    );
    let out = vejr(&["train", "--config", config.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let checkpoint = dir.path().join("run/best.vejr");
    let forecast = |device: &str, out: &std::path::Path| {
        vejr_on_lavapipe(&[
            "forecast",
            "--checkpoint",
            checkpoint.to_str().unwrap(),
            "--store",
            uk_store().to_str().unwrap(),
            "--date",
            "2019-03-27T00",
            "--lead",
            "18h",
            "--device",
            device,
            "--out",
            out.to_str().unwrap(),
        ])
    };
    let (on_cpu, on_wgpu) = (dir.path().join("cpu.nc"), dir.path().join("wgpu.nc"));
    for (device, path) in [("cpu", &on_cpu), ("wgpu", &on_wgpu)] {
        let out = forecast(device, path);
        assert!(out.status.success(), "--device {device}: {}", stderr(&out));
    }
    let (a, b) = (read_all(&on_wgpu, "t2m"), read_all(&on_cpu, "t2m"));
    assert_eq!(a.len(), b.len());
    let worst = a.iter().zip(&b).map(|(x, y)| (x - y).abs()).fold(0f32, f32::max);
    // 2 m temperature near 280 K: 1e-5 relative is about 3 mK.
    assert!(worst < 280.0 * 1e-5, "wgpu and CPU forecasts differ by {worst} K");

    // Training on wgpu: the same steps as on the CPU, losses and gradient norms alike.
    let mut runs = Vec::new();
    for device in ["cpu", "wgpu"] {
        let run = dir.path().join(device);
        std::fs::create_dir_all(&run).unwrap();
        let config = train_config(
            &run,
            &[("steps", "3"), ("checkpoint_every", "3"), ("validate_every", "3")],
        );
        let out = vejr_on_lavapipe(&["train", "--config", config.to_str().unwrap(), "--device", device]);
        assert!(out.status.success(), "train --device {device}: {}", stderr(&out));
        runs.push(common::metrics(&run.join("run")));
    }
    let train = |m: &[serde_json::Value], key: &str| -> Vec<f64> {
        m.iter()
            .filter(|r| r["kind"] == "train")
            .map(|r| r[key].as_f64().unwrap())
            .collect()
    };
    for key in ["loss", "gradient_norm"] {
        let (cpu, wgpu) = (train(&runs[0], key), train(&runs[1], key));
        assert_eq!(cpu.len(), 3);
        for (step, (a, b)) in wgpu.iter().zip(&cpu).enumerate() {
            assert!(
                (a - b).abs() <= 1e-4 * b.abs(),
                "step {}: {key} {a} on wgpu, {b} on the CPU",
                step + 1
            );
        }
    }
}
