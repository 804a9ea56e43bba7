//! `vejr inspect FILE…`: what a file holds, for a person or (with `--json`) a script.

use std::path::{Path, PathBuf};

use vejr_ingest::SourceHints;
use vejr_ingest::inspect::{Report, inspect};
use vejr_ingest::store::IngestConfig;

use crate::{CommandError, CommandResult};

pub fn run(files: &[PathBuf], json: bool, config: Option<&Path>) -> CommandResult {
    let hinted: Vec<(PathBuf, SourceHints)> = match config {
        Some(c) => IngestConfig::load(c)?.files(c)?,
        None => vec![],
    };
    let mut reports: Vec<Report> = Vec::new();
    for file in files {
        // A file named in the config is read with that config's hints.
        let canonical = std::fs::canonicalize(file).ok();
        let hints = hinted
            .iter()
            .find(|(p, _)| std::fs::canonicalize(p).ok() == canonical)
            .map(|(_, h)| h.clone())
            .unwrap_or_default();
        let report = inspect(file, &hints)?;
        if !json {
            println!("{report}");
        }
        reports.push(report);
    }
    if json {
        let text = serde_json::to_string_pretty(&reports).map_err(|e| CommandError::failure(e.to_string()))?;
        println!("{text}");
    }
    Ok(())
}
