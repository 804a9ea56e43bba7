//! The run directory's checkpoints: `checkpoints/step-NNNNNNN.vejr` every N steps (the last K
//! kept) and `best.vejr` by validation loss. Each is one file written atomically by
//! `vejr_models::checkpoint`, carrying the weights, what inference needs and (after them) the
//! training state: steps done, best validation loss, and the optimiser's moments.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainingProgress {
    /// Optimiser steps completed.
    pub step: usize,
    pub best_validation_loss: Option<f64>,
    pub seed: u64,
    pub batch_size: usize,
}

/// `progress` as a JSON line followed by the optimiser record.
pub fn encode_state(progress: &TrainingProgress, optimizer: &[u8]) -> Vec<u8> {
    let mut out = serde_json::to_vec(progress).expect("progress serialises");
    out.push(b'\n');
    out.extend_from_slice(optimizer);
    out
}

pub fn decode_state(bytes: &[u8]) -> Result<(TrainingProgress, Vec<u8>), String> {
    let newline = bytes
        .iter()
        .position(|&b| b == b'\n')
        .ok_or("no training state (an inference-only checkpoint cannot resume a run)")?;
    let progress = serde_json::from_slice(&bytes[..newline]).map_err(|e| format!("training state: {e}"))?;
    Ok((progress, bytes[newline + 1..].to_vec()))
}

pub fn checkpoint_dir(run: &Path) -> PathBuf {
    run.join("checkpoints")
}

pub fn step_path(run: &Path, step: usize) -> PathBuf {
    checkpoint_dir(run).join(format!("step-{step:07}.vejr"))
}

pub fn best_path(run: &Path) -> PathBuf {
    run.join("best.vejr")
}

/// Step checkpoints in the run, oldest first (unfinished `.partial` writes are not listed).
pub fn list(run: &Path) -> Vec<(usize, PathBuf)> {
    let mut out: Vec<(usize, PathBuf)> = std::fs::read_dir(checkpoint_dir(run))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let step = name.strip_prefix("step-")?.strip_suffix(".vejr")?.parse().ok()?;
            Some((step, e.path()))
        })
        .collect();
    out.sort();
    out
}

/// Removes all but the newest `keep` step checkpoints.
pub fn prune(run: &Path, keep: usize) {
    let all = list(run);
    for (_, path) in all.iter().take(all.len().saturating_sub(keep)) {
        let _ = std::fs::remove_file(path);
    }
}

/// Leftovers of writes that a killed run never finished.
pub fn remove_partials(run: &Path) {
    for dir in [run.to_path_buf(), checkpoint_dir(run)] {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            if entry.file_name().to_string_lossy().ends_with(".partial") {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_round_trips_and_listing_ignores_partials() {
        let p = TrainingProgress {
            step: 7,
            best_validation_loss: Some(0.5),
            seed: 3,
            batch_size: 4,
        };
        let bytes = encode_state(&p, &[1, 2, b'\n', 3]);
        assert_eq!(decode_state(&bytes).unwrap(), (p, vec![1, 2, b'\n', 3]));
        assert!(decode_state(&[]).is_err());

        let run = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(checkpoint_dir(run.path())).unwrap();
        for s in [10, 2, 30] {
            std::fs::write(step_path(run.path(), s), b"x").unwrap();
        }
        std::fs::write(checkpoint_dir(run.path()).join("step-0000040.vejr.partial"), b"x").unwrap();
        assert_eq!(
            list(run.path()).iter().map(|e| e.0).collect::<Vec<_>>(),
            vec![2, 10, 30]
        );
        prune(run.path(), 2);
        assert_eq!(list(run.path()).iter().map(|e| e.0).collect::<Vec<_>>(), vec![10, 30]);
        remove_partials(run.path());
        assert_eq!(std::fs::read_dir(checkpoint_dir(run.path())).unwrap().count(), 2);
    }
}
