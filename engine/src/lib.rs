//! vejr-engine: what the `vejr` command drives: inspection, ingest, training, forecasts and
//! their verification.

pub mod allocator;
pub mod backend;
pub mod commands;
pub mod forecast;
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
