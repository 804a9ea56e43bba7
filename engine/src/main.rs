use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use vejr_engine::backend::DeviceKind;
use vejr_engine::commands;
use vejr_engine::training::TrainOptions;

/// vejr: machine-learned weather forecasting from reanalysis.
#[derive(Parser)]
#[command(name = "vejr", version = concat!(env!("CARGO_PKG_VERSION"), " (", env!("VEJR_GIT_REVISION"), ")"))]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Describe NetCDF or GRIB files: variables, time axis, grid, statistics.
    Inspect {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
        /// Read files named in this ingest config with the metadata it supplies.
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Build a training store (zarr) from the files an ingest config names.
    Ingest {
        #[arg(long)]
        config: PathBuf,
        /// Replace the store if it exists.
        #[arg(long)]
        overwrite: bool,
    },
    /// Train a forecaster on a store (under mpirun or srun: data parallel, one rank per device).
    Train {
        #[arg(long)]
        config: PathBuf,
        /// Continue the run in the config's output directory from its last checkpoint.
        #[arg(long)]
        resume: bool,
        /// Start again, deleting the output directory's checkpoints and metrics.
        #[arg(long, conflicts_with = "resume")]
        overwrite: bool,
        /// Stop after this many steps (with a checkpoint), to resume later: for wall-time limits.
        #[arg(long)]
        stop_at_step: Option<usize>,
        #[arg(long, value_enum, default_value = "cpu")]
        device: DeviceKind,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Inspect { files, json, config } => commands::inspect::run(files, *json, config.as_deref()),
        Command::Ingest { config, overwrite } => commands::ingest::run(config, *overwrite),
        Command::Train {
            config,
            resume,
            overwrite,
            stop_at_step,
            device,
        } => {
            let options = TrainOptions {
                resume: *resume,
                overwrite: *overwrite,
                stop_at_step: *stop_at_step,
            };
            commands::train::run(config, &options, *device)
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("vejr: error: {}", e.message.replace('\n', " "));
            ExitCode::from(e.code as u8)
        }
    }
}
