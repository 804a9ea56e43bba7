//! Checkpoints: the weights and everything inference needs (model config, variables and
//! levels, grid, mesh level, time step, normalisation, training data range, code version),
//! in one file written atomically (temporary name, fsync, rename) and checked on load.
//!
//! Layout: a magic line, one line of JSON metadata, the weights as Burn's named MessagePack
//! record, then (in training checkpoints) the training state the engine needs to resume:
//! opaque bytes here. The metadata carries lengths and checksums of both, and (since format 2)
//! a line after it carries the checksum of the metadata line itself, so one changed byte
//! anywhere in the file is refused with a message instead of half-loading or, worse, loading
//! with a different normalisation. Format 1 files (no metadata checksum) still load.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;

use crate::gnn::GraphBackend;
use burn::module::Module;
use burn::record::{FullPrecisionSettings, NamedMpkBytesRecorder, Recorder};
use serde::{Deserialize, Serialize};

use crate::forecaster::{Forecaster, ForecasterConfig};
use crate::normalization::Normalization;

const MAGIC: &str = "vejr-checkpoint 2";
/// Checkpoints written before the metadata had its own checksum.
const MAGIC_1: &str = "vejr-checkpoint 1";

#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error("checkpoint {path}: {message}")]
    Io { path: String, message: String },
    #[error("checkpoint {path} does not fit: {differences}")]
    Mismatch { path: String, differences: String },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CheckpointMetadata {
    pub model: ForecasterConfig,
    /// Store column names in channel order (`msl`, `t_850`, …).
    pub columns: Vec<String>,
    /// Units, standard names and levels of the columns, as the store describes them.
    pub column_details: serde_json::Value,
    pub static_fields: Vec<String>,
    /// The grid's latitude and longitude axes or, when `grid` is set, every point's coordinates.
    pub latitudes: Vec<f64>,
    pub longitudes: Vec<f64>,
    /// The definition of a grid that is not latitudes × longitudes (projection, shape), as the
    /// store records it, so forecasts are written on it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grid: Option<serde_json::Value>,
    pub time_step_seconds: i64,
    pub normalization: Normalization,
    /// Training data range, store, steps taken, …
    pub training: serde_json::Value,
    pub vejr_version: String,
    pub git_revision: String,
}

/// What a caller needs a checkpoint to fit.
#[derive(Clone, Debug, Default)]
pub struct Expectation<'a> {
    pub columns: Option<&'a [String]>,
    pub latitudes: Option<&'a [f64]>,
    pub longitudes: Option<&'a [f64]>,
    pub time_step_seconds: Option<i64>,
}

#[derive(Serialize, Deserialize)]
struct Envelope {
    metadata: CheckpointMetadata,
    weights_bytes: u64,
    weights_fnv1a: u64,
    #[serde(default)]
    training_state_bytes: u64,
    #[serde(default)]
    training_state_fnv1a: u64,
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
    })
}

fn io_error(path: &Path, message: impl std::fmt::Display) -> CheckpointError {
    CheckpointError::Io {
        path: path.display().to_string(),
        message: message.to_string(),
    }
}

pub fn save<B: GraphBackend>(
    path: &Path,
    model: &Forecaster<B>,
    metadata: &CheckpointMetadata,
) -> Result<(), CheckpointError> {
    save_with_training_state(path, model, metadata, &[])
}

/// Like [`save`], with the engine's training state (optimiser, schedule position, data order)
/// after the weights, in the same atomic write: weights and state can never disagree.
pub fn save_with_training_state<B: GraphBackend>(
    path: &Path,
    model: &Forecaster<B>,
    metadata: &CheckpointMetadata,
    training_state: &[u8],
) -> Result<(), CheckpointError> {
    let weights = NamedMpkBytesRecorder::<FullPrecisionSettings>::new()
        .record(model.clone().into_record(), ())
        .map_err(|e| io_error(path, format!("cannot serialise weights: {e}")))?;
    let envelope = Envelope {
        metadata: metadata.clone(),
        weights_bytes: weights.len() as u64,
        weights_fnv1a: fnv1a(&weights),
        training_state_bytes: training_state.len() as u64,
        training_state_fnv1a: fnv1a(training_state),
    };
    let header = serde_json::to_string(&envelope).map_err(|e| io_error(path, e))?;
    let mut tmp_name = path.file_name().unwrap_or_default().to_os_string();
    tmp_name.push(".partial");
    let tmp = path.with_file_name(tmp_name);
    let write = || -> std::io::Result<()> {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(MAGIC.as_bytes())?;
        file.write_all(b"\n")?;
        file.write_all(header.as_bytes())?;
        file.write_all(b"\n")?;
        file.write_all(format!("fnv1a {:016x}\n", fnv1a(header.as_bytes())).as_bytes())?;
        file.write_all(&weights)?;
        file.write_all(training_state)?;
        if let Some(delay) = test_write_delay() {
            file.flush()?;
            std::thread::sleep(delay);
        }
        file.sync_all()
    };
    write().map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        io_error(path, e)
    })?;
    std::fs::rename(&tmp, path).map_err(|e| io_error(path, e))?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        let _ = std::fs::File::open(dir).and_then(|d| d.sync_all());
    }
    Ok(())
}

/// Fault injection for the tests that kill a run in the middle of a checkpoint write: with
/// `VEJR_TEST_CHECKPOINT_WRITE_DELAY_MS` set, every write pauses before its fsync and rename.
fn test_write_delay() -> Option<std::time::Duration> {
    std::env::var("VEJR_TEST_CHECKPOINT_WRITE_DELAY_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .map(std::time::Duration::from_millis)
}

/// The training state saved with [`save_with_training_state`] (empty for inference checkpoints).
pub fn read_training_state(path: &Path) -> Result<Vec<u8>, CheckpointError> {
    let (envelope, rest) = read(path, true)?;
    Ok(rest[envelope.weights_bytes as usize..].to_vec())
}

/// Reads the metadata alone (cheap: no weights decoded).
pub fn read_metadata(path: &Path) -> Result<CheckpointMetadata, CheckpointError> {
    Ok(read(path, false)?.0.metadata)
}

/// Model options added after checkpoints were first written, with the value that means "not
/// used" (Burn's config deserialiser has no defaults): older checkpoints keep loading.
const LATER_MODEL_FIELDS: [(&str, u64); 3] = [
    ("trainable_grid_features", 0),
    ("grid_points", 0),
    ("boundary_channels", 0),
];

fn with_later_model_fields(header: &mut serde_json::Value) {
    if let Some(model) = header
        .get_mut("metadata")
        .and_then(|m| m.get_mut("model"))
        .and_then(|m| m.as_object_mut())
    {
        for (name, value) in LATER_MODEL_FIELDS {
            model.entry(name).or_insert(value.into());
        }
    }
}

fn read(path: &Path, with_weights: bool) -> Result<(Envelope, Vec<u8>), CheckpointError> {
    let file = std::fs::File::open(path).map_err(|e| io_error(path, e))?;
    let file_bytes = file.metadata().map_err(|e| io_error(path, e))?.len();
    // Lines are read with a bound: a damaged file without newlines must not be read whole.
    let mut r = BufReader::new(file);
    let line = |r: &mut BufReader<std::fs::File>, what: &str| -> Result<String, CheckpointError> {
        let mut bytes = Vec::new();
        r.by_ref()
            .take(file_bytes.min(1 << 30))
            .read_until(b'\n', &mut bytes)
            .map_err(|e| io_error(path, e))?;
        if bytes.pop() != Some(b'\n') {
            return Err(io_error(path, format!("damaged file (its {what} line is cut off)")));
        }
        String::from_utf8(bytes).map_err(|_| io_error(path, format!("damaged {what} (not UTF-8)")))
    };
    let magic = line(&mut r, "first").map_err(|_| io_error(path, "not a vejr checkpoint"))?;
    let version = match magic.as_str() {
        MAGIC => 2,
        MAGIC_1 => 1,
        _ => return Err(io_error(path, "not a vejr checkpoint")),
    };
    let header_line = line(&mut r, "metadata")?;
    let mut consumed = magic.len() as u64 + header_line.len() as u64 + 2;
    if version >= 2 {
        let sum = line(&mut r, "checksum")?;
        consumed += sum.len() as u64 + 1;
        if sum != format!("fnv1a {:016x}", fnv1a(header_line.as_bytes())) {
            return Err(io_error(path, "damaged metadata (checksum mismatch)"));
        }
    }
    let damaged = |e: serde_json::Error| io_error(path, format!("damaged metadata: {e}"));
    let mut header: serde_json::Value = serde_json::from_str(&header_line).map_err(damaged)?;
    with_later_model_fields(&mut header);
    let envelope: Envelope = serde_json::from_value(header).map_err(damaged)?;
    let body_bytes = file_bytes - consumed.min(file_bytes);
    let expected = envelope.weights_bytes.checked_add(envelope.training_state_bytes);
    if expected != Some(body_bytes) {
        return Err(io_error(
            path,
            format!(
                "damaged file (holds {body_bytes} bytes after its metadata, which declares {} + {})",
                envelope.weights_bytes, envelope.training_state_bytes
            ),
        ));
    }
    if !with_weights {
        return Ok((envelope, Vec::new()));
    }
    // The lengths are bounded by the file's size now: this allocation is what is there.
    let mut body = Vec::with_capacity(body_bytes as usize);
    r.read_to_end(&mut body).map_err(|e| io_error(path, e))?;
    let split = (envelope.weights_bytes as usize).min(body.len());
    let (weights, state) = body.split_at(split);
    if body.len() as u64 != body_bytes
        || fnv1a(weights) != envelope.weights_fnv1a
        || fnv1a(state) != envelope.training_state_fnv1a
    {
        return Err(io_error(
            path,
            format!("damaged file ({} of {body_bytes} bytes, checksum mismatch)", body.len()),
        ));
    }
    Ok((envelope, body))
}

/// Loads a checkpoint onto `device`, refusing it (naming every difference) when it does not
/// fit `expected`.
pub fn load<B: GraphBackend>(
    path: &Path,
    expected: &Expectation,
    device: &B::Device,
) -> Result<(Forecaster<B>, CheckpointMetadata), CheckpointError> {
    let (envelope, weights) = read(path, true)?;
    let metadata = envelope.metadata;
    let differences = differences(&metadata, expected);
    if !differences.is_empty() {
        return Err(CheckpointError::Mismatch {
            path: path.display().to_string(),
            differences: differences.join("; "),
        });
    }
    let weights = weights[..envelope.weights_bytes as usize].to_vec();
    let record = NamedMpkBytesRecorder::<FullPrecisionSettings>::new()
        .load(weights, device)
        .map_err(|e| io_error(path, format!("weights do not fit the model config: {e}")))?;
    let model = metadata.model.init::<B>(device).load_record(record);
    Ok((model, metadata))
}

/// Every way the checkpoint differs from what is expected, in words.
pub fn differences(metadata: &CheckpointMetadata, expected: &Expectation) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(columns) = expected.columns
        && columns != metadata.columns.as_slice()
    {
        let missing: Vec<&String> = metadata.columns.iter().filter(|c| !columns.contains(c)).collect();
        let extra: Vec<&String> = columns.iter().filter(|c| !metadata.columns.contains(c)).collect();
        out.push(if missing.is_empty() && extra.is_empty() {
            format!(
                "variables in another order (checkpoint: {})",
                metadata.columns.join(", ")
            )
        } else {
            format!(
                "variables differ (checkpoint has {}; missing here: {}; not in checkpoint: {})",
                metadata.columns.join(", "),
                list(&missing),
                list(&extra)
            )
        });
    }
    let grid_text = |lat: &[f64], lon: &[f64]| {
        format!(
            "{}×{} grid {:.3}..{:.3}°N {:.3}..{:.3}°E",
            lat.len(),
            lon.len(),
            lat[lat.len() - 1],
            lat[0],
            lon[0],
            lon[lon.len() - 1]
        )
    };
    if let (Some(lat), Some(lon)) = (expected.latitudes, expected.longitudes) {
        let same = |a: &[f64], b: &[f64]| a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-6);
        if !(same(lat, &metadata.latitudes) && same(lon, &metadata.longitudes)) {
            out.push(format!(
                "grid differs (checkpoint: {}; here: {})",
                grid_text(&metadata.latitudes, &metadata.longitudes),
                grid_text(lat, lon)
            ));
        }
    }
    if let Some(step) = expected.time_step_seconds
        && step != metadata.time_step_seconds
    {
        out.push(format!(
            "time step differs (checkpoint: {} s; here: {step} s)",
            metadata.time_step_seconds
        ));
    }
    out
}

fn list(items: &[&String]) -> String {
    if items.is_empty() {
        "none".into()
    } else {
        items.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
    }
}
