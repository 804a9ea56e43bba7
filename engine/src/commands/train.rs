//! `vejr train --config C [--resume]`: train a forecaster on a store, one process or many
//! (mpirun / srun), and say where the checkpoints went.

use std::path::Path;
use std::time::Duration;

use crate::backend::DeviceKind;
use crate::run_config::RunConfig;
use crate::training::distributed::Distributed;
use crate::training::{TrainOptions, TrainReport, train};
use crate::{CommandError, CommandResult};

pub fn run(config_path: &Path, options: &TrainOptions, device: DeviceKind) -> CommandResult {
    let config = RunConfig::load(config_path).map_err(CommandError::bad_input)?;
    let timeout = std::env::var("VEJR_COLLECTIVE_TIMEOUT_S")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(900);
    let dist = Distributed::init(Duration::from_secs(timeout)).map_err(CommandError::failure)?;
    let report = match device {
        DeviceKind::Cpu => {
            train::<crate::backend::CpuAutodiff>(&config, config_path, options, &dist, &Default::default())?
        }
        #[cfg(feature = "cuda")]
        DeviceKind::Cuda => {
            let gpu = burn::backend::cuda::CudaDevice::new(dist.local_rank);
            train::<crate::backend::GpuAutodiff>(&config, config_path, options, &dist, &gpu)?
        }
        #[cfg(not(feature = "cuda"))]
        DeviceKind::Cuda => return Err(crate::backend::cuda_missing()),
    };
    if dist.is_root() {
        summary(&report, dist.size);
    }
    Ok(())
}

fn summary(r: &TrainReport, ranks: usize) {
    println!(
        "trained steps {}..{} in {:.1}s ({:.1} samples/s over {ranks} rank(s)); best validation loss {}",
        r.first_step,
        r.first_step + r.steps_done,
        r.seconds,
        r.samples_per_second,
        r.best_validation_loss.map_or("-".into(), |l| format!("{l:.5}"))
    );
    if let Some(c) = &r.last_checkpoint {
        println!("checkpoint: {}", c.display());
    }
    println!(
        "best: {}  metrics: {}",
        r.run_dir.join("best.vejr").display(),
        r.run_dir.join("metrics.jsonl").display()
    );
}
