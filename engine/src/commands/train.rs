//! `vejr train --config C [--resume]`: train a forecaster on a store, one process or many
//! (mpirun / srun), and say where the checkpoints went.

use std::path::Path;
use std::time::Duration;

use crate::backend::{self, DeviceKind};
use crate::run_config::RunConfig;
use crate::training::config::Precision;
use crate::training::distributed::Distributed;
use crate::training::{TrainOptions, TrainReport, train};
use crate::{CommandError, CommandResult};

pub fn run(config_path: &Path, options: &TrainOptions, device: DeviceKind) -> CommandResult {
    let config = RunConfig::load(config_path).map_err(CommandError::bad_input)?;
    let timeout = std::env::var("VEJR_COLLECTIVE_TIMEOUT_S")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(900);
    let dist = Distributed::init(Duration::from_secs(timeout)).map_err(CommandError::bad_input)?;
    // Rank 0 writes the run directory; it alone holds the lock (a refusal ends it, and mpirun
    // or srun the job).
    let _lock = match (&config.training, dist.is_root()) {
        (Some(t), true) => Some(crate::output_lock::OutputLock::acquire_making_directory(
            "training.output",
            &t.output,
        )?),
        _ => None,
    };
    // gradient_checkpointing is the step's business (training::rollout_recomputation), not the
    // backend's: one autodiff backend per device and precision.
    let precision = config.training.as_ref().map_or(Precision::F32, |t| t.precision);
    let args = (&config, config_path, options, &dist);
    let report = match (device, precision) {
        (DeviceKind::Cpu, Precision::Bf16) => {
            return Err(CommandError::bad_input(format!(
                "config {}: precision = \"bf16\" needs --device cuda (ndarray computes in f32)",
                config_path.display()
            )));
        }
        (DeviceKind::Cpu, Precision::F32) => {
            train::<backend::CpuAutodiff>(args.0, args.1, args.2, args.3, &Default::default())?
        }
        #[cfg(feature = "cuda")]
        (DeviceKind::Cuda, precision) => {
            let gpu = backend::cuda_device(dist.local_rank)?;
            match precision {
                Precision::F32 => train::<backend::GpuAutodiff>(args.0, args.1, args.2, args.3, &gpu)?,
                Precision::Bf16 => train::<backend::GpuBf16Autodiff>(args.0, args.1, args.2, args.3, &gpu)?,
            }
        }
        #[cfg(not(feature = "cuda"))]
        (DeviceKind::Cuda, _) => return Err(crate::backend::cuda_missing()),
        #[cfg(feature = "wgpu")]
        (DeviceKind::Wgpu, Precision::F32) => {
            train::<backend::WgpuAutodiff>(args.0, args.1, args.2, args.3, &backend::wgpu_device()?)?
        }
        #[cfg(feature = "wgpu")]
        (DeviceKind::Wgpu, Precision::Bf16) => {
            return Err(CommandError::bad_input(format!(
                "config {}: precision = \"bf16\" needs --device cuda",
                config_path.display()
            )));
        }
        #[cfg(not(feature = "wgpu"))]
        (DeviceKind::Wgpu, _) => return Err(crate::backend::wgpu_missing()),
    };
    if dist.is_root() {
        summary(&report, dist.size);
    }
    Ok(())
}

fn summary(r: &TrainReport, ranks: usize) {
    println!(
        "trained steps {}..{} in {:.1}s ({:.1} samples/s over {ranks} rank(s)); best validation loss {}; peak memory {} MiB",
        r.first_step,
        r.first_step + r.steps_done,
        r.seconds,
        r.samples_per_second,
        r.best_validation_loss.map_or("-".into(), |l| format!("{l:.5}")),
        crate::forecast::peak_rss_kib().map_or("?".into(), |k| format!("{:.0}", k as f64 / 1024.0))
    );
    if let Some(v) = &r.validation {
        println!(
            "validation RMSE at +{}h, step {}{}, over {} sample(s) of the validation period:",
            v.lead_hours,
            v.step,
            if v.chose_best { " (best.vejr)" } else { "" },
            v.samples
        );
        println!(
            "  {:<12} {:<12} {:>12} {:>12} {:>8}",
            "variable", "units", "model", "persistence", "ratio"
        );
        for (name, units, model, persistence) in &v.rmse {
            println!(
                "  {name:<12} {units:<12} {model:>12.4} {persistence:>12.4} {:>8.2}",
                model / persistence.max(f64::MIN_POSITIVE)
            );
        }
    }
    if let Some(c) = &r.last_checkpoint {
        println!("checkpoint: {}", c.display());
    }
    println!(
        "best: {}  metrics: {}",
        r.run_dir.join("best.vejr").display(),
        r.run_dir.join("metrics.jsonl").display()
    );
}
