//! `metrics.jsonl`: one JSON object per line, train loss every step and validation scores
//! every N steps. A resumed run first drops the lines past its checkpoint, so the file reads as
//! one uninterrupted run.

use std::io::Write;
use std::path::{Path, PathBuf};

pub struct MetricsLog {
    path: PathBuf,
    file: std::fs::File,
}

impl MetricsLog {
    /// Opens `path` for appending; with `keep_until = Some(step)`, lines of later steps go.
    pub fn open(path: &Path, keep_until: Option<usize>) -> std::io::Result<Self> {
        if let Some(step) = keep_until
            && path.exists()
        {
            let text = std::fs::read_to_string(path)?;
            let kept: String = text
                .lines()
                .filter(|line| {
                    serde_json::from_str::<serde_json::Value>(line)
                        .ok()
                        .and_then(|v| v["step"].as_u64())
                        .is_some_and(|s| s as usize <= step)
                })
                .map(|l| format!("{l}\n"))
                .collect();
            let tmp = path.with_extension("jsonl.partial");
            std::fs::write(&tmp, kept)?;
            std::fs::rename(&tmp, path)?;
        }
        let file = std::fs::OpenOptions::new().create(true).append(true).open(path)?;
        Ok(Self {
            path: path.to_owned(),
            file,
        })
    }

    pub fn write(&mut self, record: &serde_json::Value) -> Result<(), String> {
        writeln!(self.file, "{record}").map_err(|e| format!("{}: {e}", self.path.display()))
    }
}
