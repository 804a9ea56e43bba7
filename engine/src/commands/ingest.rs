//! `vejr ingest --config C`: files → training store.

use std::path::Path;

use vejr_ingest::store::{IngestConfig, IngestOptions, ingest};

use crate::{CommandResult, provenance};

pub fn run(config_path: &Path, overwrite: bool) -> CommandResult {
    let config = IngestConfig::load(config_path)?;
    let _lock = crate::output_lock::OutputLock::acquire_making_directory("store.path", &config.store.path)?;
    let options = IngestOptions {
        overwrite,
        provenance: provenance(),
        quiet: false,
    };
    let report = ingest(&config, config_path, &options)?;
    println!(
        "store {}: {} time steps × {} variables × {} grid points, {:.1} MB, written in {:.1}s",
        report.path.display(),
        report.times,
        report.columns,
        report.gridpoints,
        report.bytes as f64 / 1e6,
        report.seconds
    );
    Ok(())
}
