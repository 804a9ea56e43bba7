use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use vejr_engine::backend::DeviceKind;
use vejr_engine::commands;
use vejr_engine::training::TrainOptions;

// Every tensor operation allocates its output; see vejr_engine::allocator.
#[global_allocator]
static ALLOCATOR: vejr_engine::allocator::Allocator = mimalloc::MiMalloc;

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
        /// NetCDF (3 or 4) or GRIB (1 or 2) files.
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
        /// The ingest config (TOML): store, sources, variables.
        #[arg(long)]
        config: PathBuf,
        /// Replace the store if it exists.
        #[arg(long)]
        overwrite: bool,
    },
    /// Train a forecaster on a store (under mpirun or srun: data parallel, one rank per device).
    Train {
        /// The training config (TOML): model, data, training.
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
        /// Where the network runs: cpu; cuda (a build with --features cuda and an NVIDIA GPU); wgpu
        /// (a build with --features wgpu and a Vulkan or Metal GPU; CUBECL_WGPU_DEFAULT_DEVICE=Cpu
        /// for a CPU one, Mesa's lavapipe).
        #[arg(long, value_enum, default_value = "cpu")]
        device: DeviceKind,
    },
    /// Run a trained model forward from an initial condition and write CF-NetCDF or GRIB2.
    Forecast {
        /// The trained model (a .vejr checkpoint written by vejr train).
        #[arg(long)]
        checkpoint: PathBuf,
        /// Analysis files (NetCDF or GRIB) holding t−Δt and t of every variable.
        #[arg(long, num_args = 1.., conflicts_with_all = ["store", "date"])]
        init: Vec<PathBuf>,
        /// Start from this store's analyses at --date.
        #[arg(long, requires = "date")]
        store: Option<PathBuf>,
        /// Initial time, UTC: 1996-01-16, 1996-01-16T06, 1996-01-16T06:00 or 1996-01-16T06:00:00Z;
        /// several, or a series START/END (every model step) or START/END/STEP (1996-01-16/1996-01-31/1d),
        /// one forecast from each with the model loaded once.
        #[arg(long, num_args = 1.., requires = "store", value_parser = vejr_engine::date_argument::parse_initial_times)]
        date: Vec<vejr_engine::date_argument::InitialTimes>,
        /// How far ahead: 240h, 10d, or a number of model steps.
        #[arg(long)]
        lead: String,
        /// The forecast file to write (NetCDF or GRIB2, by --format); `{reference_time}` in the
        /// name becomes the initial time, YYYYMMDDHH (needed for several --date).
        #[arg(long)]
        out: PathBuf,
        /// Replace --out if it exists (it is replaced only once the new forecast is complete).
        #[arg(long)]
        overwrite: bool,
        /// Write the initial state as lead 0, the first time step (as anemoi-inference does).
        #[arg(long)]
        write_initial_state: bool,
        /// Write only these variables: msl,t_850 (one level), t (all its levels) or t2m; all when absent.
        #[arg(long, value_delimiter = ',')]
        variables: Vec<String>,
        /// A limited-area model's host: the store or NetCDF/GRIB files (analyses, or a host
        /// model's forecast, on any grid) its boundary band takes at every step; default --store.
        #[arg(long, num_args = 1..)]
        boundary: Vec<PathBuf>,
        /// netcdf: CF-1.8 NetCDF4; grib: GRIB2 through ecCodes on the model's grid (lat-lon,
        /// Lambert, rotated, polar stereographic, reduced Gaussian), ecCodes short names.
        #[arg(long, value_enum, default_value = "netcdf")]
        format: vejr_engine::forecast::OutputFormat,
        /// Where the network runs: cpu; cuda (a build with --features cuda and an NVIDIA GPU); wgpu
        /// (a build with --features wgpu and a Vulkan or Metal GPU; CUBECL_WGPU_DEFAULT_DEVICE=Cpu
        /// for a CPU one, Mesa's lavapipe).
        #[arg(long, value_enum, default_value = "cpu")]
        device: DeviceKind,
    },
    /// Score forecasts against analyses (RMSE, ACC, bias), with persistence and climatology.
    Evaluate {
        /// Forecast files: vejr's NetCDF or GRIB2, or any NetCDF/GRIB forecast that gives its
        /// reference time.
        #[arg(long = "forecast")]
        forecasts: Vec<PathBuf>,
        /// A glob of forecast files (quoted), scores aggregated by lead time.
        #[arg(long = "forecasts")]
        glob: Option<String>,
        /// The verifying analyses: a store, or NetCDF/GRIB files (several, or a quoted glob);
        /// variables are matched by paramId, ecCodes' NetCDF name or CF standard name, and level.
        #[arg(long, num_args = 1.., required = true)]
        truth: Vec<PathBuf>,
        /// A store or analysis files whose statistics-period mean is the climatology (default:
        /// the truth's).
        #[arg(long, num_args = 1..)]
        climatology: Vec<PathBuf>,
        /// Directory for scores.csv and the PNG charts.
        #[arg(long)]
        out: PathBuf,
        /// Variable drawn on the maps (default: the first).
        #[arg(long)]
        map_variable: Option<String>,
        /// Lead times in hours for the maps (default: first and last).
        #[arg(long, value_delimiter = ',')]
        map_leads: Vec<i64>,
        /// Also write scores_by_reference_time.csv: every forecast's scores, laid out by
        /// (reference time, lead time).
        #[arg(long)]
        by_reference_time: bool,
    },
}

fn main() -> ExitCode {
    // A reader that stops reading (`vejr inspect … | head -1`) ends vejr quietly, as it ends
    // other Unix tools; Rust ignores SIGPIPE and println! would panic on the broken pipe.
    // SAFETY: restores the default disposition of one signal before any thread starts.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    vejr_engine::allocator::keep_freed_memory();
    // ecCodes' own log lines would come before vejr's one line; they join it instead.
    vejr_ingest::eccodes_log::capture();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => usage_error(e),
    };
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
        Command::Forecast {
            checkpoint,
            init,
            store,
            date,
            lead,
            out,
            overwrite,
            write_initial_state,
            variables,
            boundary,
            format,
            device,
        } => commands::forecast::run(&commands::forecast::ForecastArgs {
            checkpoint,
            init,
            store: store.as_deref(),
            dates: date,
            lead,
            out,
            overwrite: *overwrite,
            format: *format,
            write_initial_state: *write_initial_state,
            variables,
            boundary,
            device: *device,
        }),
        Command::Evaluate {
            forecasts,
            glob,
            truth,
            climatology,
            out,
            map_variable,
            map_leads,
            by_reference_time,
        } => commands::evaluate::run(&commands::evaluate::EvaluateArgs {
            forecasts,
            glob: glob.as_deref(),
            truth,
            climatology,
            out,
            map_variable: map_variable.as_deref(),
            map_leads,
            by_reference_time: *by_reference_time,
        }),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("vejr: error: {}", e.message.replace('\n', " "));
            // After a failed write HDF5 may still hold the file in a state its exit handler
            // crashes on (a full disk ended in SIGSEGV after the message): vejr's own files are
            // cleaned up by now, so leave without running the C libraries' exit handlers.
            use std::io::Write;
            let _ = std::io::stdout().flush();
            let _ = std::io::stderr().flush();
            // SAFETY: ends the process; nothing of Rust's is left to run.
            unsafe { libc::_exit(e.code) }
        }
    }
}

/// Help and version as clap prints them; every other usage error as the one line every vejr
/// refusal is, exit 2 (clap's own is several lines, with a usage block).
fn usage_error(e: clap::Error) -> ! {
    use clap::error::ErrorKind;
    if matches!(
        e.kind(),
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        e.exit();
    }
    eprintln!(
        "vejr: error: {}",
        vejr_engine::one_line_usage_error(&e.render().to_string())
    );
    std::process::exit(vejr_engine::exit::BAD_INPUT);
}
