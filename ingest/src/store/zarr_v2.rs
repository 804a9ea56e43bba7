//! Zarr v2 arrays and groups as anemoi-datasets (zarr-python ≤ 2.18) opens them: `.zgroup`,
//! `.zattrs`, `.zarray` with numpy dtypes and numcodecs compressors, `_ARRAY_DIMENSIONS` for
//! xarray. zarrs writes and reads them; the one dtype it has no v2 name for, numpy's
//! `datetime64[s]` (anemoi's `dates`), is eight little-endian bytes of seconds since the
//! epoch, so zarrs is told to read `<M8[s]` as int64 (a runtime alias of its own data type).

use std::sync::{Arc, Once};

use serde_json::json;
use zarrs::array::Array;
use zarrs::array::data_type::Int64DataType;
use zarrs::filesystem::FilesystemStore;
use zarrs::group::Group;
use zarrs::metadata::v2::{ArrayMetadataV2, GroupMetadataV2};
use zarrs::metadata::{ArrayMetadata, GroupMetadata};
use zarrs::plugin::ExtensionAliasesV2;

/// numpy's `datetime64[s]`, little-endian.
pub const DATETIME64_SECONDS: &str = "<M8[s]";

/// Lets zarrs open `<M8[s]` arrays, as int64 seconds.
pub fn register_datetime64() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        Int64DataType::aliases_v2_mut()
            .aliases_str
            .push(DATETIME64_SECONDS.into());
    });
}

pub enum Compression {
    None,
    /// numcodecs' `gzip` at this level.
    Gzip(u32),
}

/// A v2 array: numpy dtype (`<f4`, `<f8`, `<M8[s]`), shape, one chunk's shape, the fill
/// value as zarr-python writes it (`"NaN"`, 0), compression and dimension names.
pub struct ArraySpec<'a> {
    pub shape: &'a [u64],
    pub chunks: &'a [u64],
    pub dtype: &'a str,
    pub fill_value: serde_json::Value,
    pub compression: Compression,
    pub dimensions: &'a [&'a str],
}

/// Creates the array at `path` and stores its metadata.
pub fn create_array(
    store: &Arc<FilesystemStore>,
    path: &str,
    spec: ArraySpec,
) -> Result<Array<FilesystemStore>, String> {
    let ArraySpec {
        shape,
        chunks,
        dtype,
        fill_value,
        compression,
        dimensions,
    } = spec;
    register_datetime64();
    let compressor = match compression {
        Compression::None => serde_json::Value::Null,
        Compression::Gzip(level) => json!({"id": "gzip", "level": level}),
    };
    let mut attributes = serde_json::Map::new();
    attributes.insert("_ARRAY_DIMENSIONS".into(), json!(dimensions));
    let metadata: ArrayMetadataV2 = serde_json::from_value(json!({
        "zarr_format": 2,
        "shape": shape,
        "chunks": chunks,
        "dtype": dtype,
        "compressor": compressor,
        "fill_value": fill_value,
        "order": "C",
        "filters": null,
    }))
    .map_err(|e| format!("{path}: {e}"))?;
    let array = Array::new_with_metadata(
        store.clone(),
        path,
        ArrayMetadata::V2(metadata.with_attributes(attributes)),
    )
    .map_err(|e| format!("{path}: {e}"))?;
    array.store_metadata().map_err(|e| format!("{path}: {e}"))?;
    Ok(array)
}

/// The root group with its attributes (`.zgroup`, `.zattrs`).
pub fn store_root(
    store: &Arc<FilesystemStore>,
    attributes: serde_json::Map<String, serde_json::Value>,
) -> Result<(), String> {
    let metadata = GroupMetadataV2::new().with_attributes(attributes);
    let group = Group::new_with_metadata(store.clone(), "/", GroupMetadata::V2(metadata)).map_err(|e| e.to_string())?;
    group.store_metadata().map_err(|e| e.to_string())
}
