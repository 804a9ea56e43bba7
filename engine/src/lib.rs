//! vejr-engine: what the `vejr` command drives: inspection, ingest, training, forecasts and
//! their verification.

pub mod allocator;
pub mod analyses;
pub mod backend;
pub mod boundary_host;
pub mod commands;
pub mod date_argument;
pub mod forecast;
pub mod kernel_cache;
pub mod model_grid;
pub mod output_lock;
pub mod run_config;
pub mod training;
pub mod verification;

/// Exit codes every `vejr` command keeps: 0 success, 1 runtime failure, 2 bad usage or bad input.
pub mod exit {
    pub const FAILURE: i32 = 1;
    pub const BAD_INPUT: i32 = 2;
}

/// An error with the exit code it deserves.
#[derive(Debug)]
pub struct CommandError {
    pub code: i32,
    pub message: String,
}

impl CommandError {
    pub fn bad_input(message: impl Into<String>) -> Self {
        Self {
            code: exit::BAD_INPUT,
            message: message.into(),
        }
    }
    pub fn failure(message: impl Into<String>) -> Self {
        Self {
            code: exit::FAILURE,
            message: message.into(),
        }
    }
}

impl From<vejr_ingest::IngestError> for CommandError {
    fn from(e: vejr_ingest::IngestError) -> Self {
        let code = if e.is_bad_input() {
            exit::BAD_INPUT
        } else {
            exit::FAILURE
        };
        Self {
            code,
            message: e.to_string(),
        }
    }
}

pub type CommandResult<T = ()> = Result<T, CommandError>;

/// clap's rendered usage error as one line: its message, without the usage block and the
/// "For more information" hint, which become a pointer to --help.
pub fn one_line_usage_error(rendered: &str) -> String {
    let lines: Vec<&str> = rendered
        .lines()
        .map(str::trim)
        .take_while(|l| !l.starts_with("Usage:") && !l.starts_with("For more information"))
        .filter(|l| !l.is_empty())
        .collect();
    let text = lines.join("; ");
    let text = text.strip_prefix("error: ").unwrap_or(&text);
    format!("{text} (see vejr --help)")
}

/// Version and git revision, for provenance in everything vejr writes.
pub fn provenance() -> serde_json::Map<String, serde_json::Value> {
    let mut map = serde_json::Map::new();
    map.insert("vejr_version".into(), env!("CARGO_PKG_VERSION").into());
    map.insert("git_revision".into(), env!("VEJR_GIT_REVISION").into());
    map.insert("command".into(), std::env::args().collect::<Vec<_>>().join(" ").into());
    map.insert("created".into(), chrono::Utc::now().to_rfc3339().into());
    map
}

/// Whether two paths name one existing file (through links and `..`): an output must never
/// overwrite the input it is computed from.
pub fn same_file(a: &std::path::Path, b: &std::path::Path) -> bool {
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// The one line for a failed write of `path`: HDF5 and others report a full disk as a generic
/// error ("NetCDF: HDF error"), so the free space of the file's filesystem is looked at and
/// named when it has run out.
pub fn write_failure(path: &std::path::Path, err: impl std::fmt::Display) -> String {
    if out_of_space(path) {
        format!("{}: no space left on device ({err})", path.display())
    } else {
        format!("{}: {err}", path.display())
    }
}

/// Whether the filesystem that holds `path` has (all but) run out: under 1 MiB left.
fn out_of_space(path: &std::path::Path) -> bool {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => std::path::Path::new("."),
    };
    free_bytes(dir).is_some_and(|free| free < 1 << 20)
}

/// Bytes an unprivileged writer may still use on the filesystem holding `dir`.
pub fn free_bytes(dir: &std::path::Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    let mut stat = std::mem::MaybeUninit::<libc::statvfs>::uninit();
    // SAFETY: a NUL-terminated path and a buffer statvfs fills on success.
    if unsafe { libc::statvfs(c.as_ptr(), stat.as_mut_ptr()) } != 0 {
        return None;
    }
    // SAFETY: statvfs returned 0, so it filled the buffer.
    let stat = unsafe { stat.assume_init() };
    Some(stat.f_bavail.saturating_mul(stat.f_frsize))
}

/// Writes `path` as `write` fills it under a temporary name (`NAME.partial.EXT`, so that
/// writers that go by the extension still know the format), fsyncs it and renames it into
/// place; on any error the temporary file is removed and nothing is left under either name.
pub fn write_atomically(
    path: &std::path::Path,
    write: impl FnOnce(&std::path::Path) -> Result<(), String>,
) -> Result<(), String> {
    let extension = path
        .extension()
        .map(|e| e.to_string_lossy().into_owned())
        .unwrap_or_default();
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let suffix = if extension.is_empty() {
        String::new()
    } else {
        format!(".{extension}")
    };
    let partial = path.with_file_name(vejr_ingest::output_name::shortened(&format!("{stem}.partial"), &suffix));
    let result = write(&partial)
        .and_then(|()| {
            std::fs::File::open(&partial)
                .and_then(|f| f.sync_all())
                .map_err(|e| write_failure(&partial, e))
        })
        .and_then(|()| std::fs::rename(&partial, path).map_err(|e| write_failure(path, e)));
    if let Err(message) = result {
        let _ = std::fs::remove_file(&partial);
        return Err(if out_of_space(path) && !message.contains("no space left") {
            format!("{}: no space left on device ({message})", path.display())
        } else {
            message
        });
    }
    Ok(())
}
