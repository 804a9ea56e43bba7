//! The one way tests find the real reanalysis files in `../shared/data`.
//!
//! `VEJR_SHARED_DATA` overrides the location. When `CI` is set, missing data is a failure,
//! never a skip: a test that cannot see its data must not pass.

use std::path::{Path, PathBuf};

pub fn shared_data_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("VEJR_SHARED_DATA") {
        return PathBuf::from(dir);
    }
    // CARGO_MANIFEST_DIR is a crate directory; the workspace root is its parent.
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("crate has a parent directory");
    workspace.join("../shared/data")
}

/// Path of `relative` (e.g. `grib/era5-2mt-2019-03-uk.grib`) in the shared data.
///
/// Panics with the exact location looked at when the file is missing: with `CI` set that is
/// the contract; without it, a developer without the data still learns why the test failed.
pub fn shared_file(relative: &str) -> PathBuf {
    let path = shared_data_dir().join(relative);
    if !path.is_file() {
        let ci = std::env::var_os("CI").is_some();
        panic!(
            "real test data {} is missing{}; set VEJR_SHARED_DATA to the directory holding grib/ and netcdf/",
            path.display(),
            if ci {
                " (CI is set: the shared data must be present)"
            } else {
                ""
            }
        );
    }
    path
}

/// A file from a Debian package the Makefile installs (the blizzard analyses in libncarg-data),
/// with the same loud failure as [`shared_file`].
pub fn system_file(path: &str) -> PathBuf {
    let p = PathBuf::from(path);
    if !p.is_file() {
        panic!("{path} is missing; install the Debian package that ships it (`make deps` does)");
    }
    p
}

/// A GRIB message made by ecCodes from one of its samples (`/usr/share/eccodes/samples`) with
/// the given grid keys: for tests of grids no shared file has (Lambert, rotated, polar). Hold
/// [`crate::grib_reader::ECCODES`] while using it. `template` switches the grid definition
/// template first (30 for Lambert on a regular sample); a structured grid's point count is set
/// from its `Ni`/`Nx` × `Nj`/`Ny`, which GRIB2 would otherwise keep from the sample.
pub fn grib_from_sample(
    sample: &str,
    template: Option<i64>,
    ints: &[(&str, i64)],
    floats: &[(&str, f64)],
) -> eccodes::KeyedMessage {
    use eccodes::{CodesHandle, FallibleStreamingIterator, KeyWrite, ProductKind};
    let path = crate::parameter_identity::samples_path().join(sample);
    let mut handle = CodesHandle::new_from_file(&path, ProductKind::GRIB)
        .unwrap_or_else(|e| panic!("ecCodes sample {}: {e}", path.display()));
    let mut m = handle.next().unwrap().unwrap().try_clone().unwrap();
    if let Some(t) = template {
        m.write_key("gridDefinitionTemplateNumber", t).unwrap();
    }
    for &(key, value) in ints {
        m.write_key(key, value).unwrap_or_else(|e| panic!("{key}: {e}"));
    }
    for &(key, value) in floats {
        m.write_key(key, value).unwrap_or_else(|e| panic!("{key}: {e}"));
    }
    let get = |names: [&str; 2]| ints.iter().find(|(k, _)| names.contains(k)).map(|&(_, v)| v);
    if let (Some(ni), Some(nj)) = (get(["Ni", "Nx"]), get(["Nj", "Ny"])) {
        // GRIB1 derives it (read-only there).
        let _ = m.write_key("numberOfDataPoints", ni * nj);
    }
    m
}

/// `first` (a GRIB2 message) with the fields (sections 4–7) of each of `others` appended before
/// its end section and section 0's total length fixed: a multi-field message as NCEP writes u
/// and v, made from real single-field messages. Section framing here is written apart from the
/// reader's (crate::grib2_fields) on purpose: a test of one by the other.
pub fn splice_fields(first: &[u8], others: &[&[u8]]) -> Vec<u8> {
    let mut out = first[..first.len() - 4].to_vec();
    for other in others {
        for section in grib2_sections(other).into_iter().filter(|s| s[4] >= 4) {
            out.extend_from_slice(&section);
        }
    }
    out.extend_from_slice(b"7777");
    let total = out.len() as u64;
    out[8..16].copy_from_slice(&total.to_be_bytes());
    out
}

/// The sections after section 0 of a GRIB2 message, each with its 5-byte header.
pub fn grib2_sections(message: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut at = 16;
    while &message[at..at + 4] != b"7777" {
        let length = u32::from_be_bytes(message[at..at + 4].try_into().expect("4 bytes")) as usize;
        out.push(message[at..at + length].to_vec());
        at += length;
    }
    out
}

/// A GRIB message as bytes, with what tells it apart.
pub struct GribMessage {
    pub short_name: String,
    pub type_of_level: String,
    pub level: i64,
    pub bytes: Vec<u8>,
}

/// Every message of a GRIB file as ecCodes frames them. Hold [`crate::grib_reader::ECCODES`]
/// while using it.
pub fn grib_messages(path: &Path) -> Vec<GribMessage> {
    use eccodes::{CodesHandle, FallibleStreamingIterator, KeyRead, ProductKind};
    let file = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut handle = CodesHandle::new_from_file(path, ProductKind::GRIB).expect("a GRIB file");
    let mut out = Vec::new();
    while let Some(m) = handle.next().expect("a readable message") {
        let offset: i64 = m.read_key_unchecked("offset").expect("offset");
        let length: i64 = m.read_key_unchecked("totalLength").expect("totalLength");
        out.push(GribMessage {
            short_name: m.read_key("shortName").expect("shortName"),
            type_of_level: m.read_key("typeOfLevel").expect("typeOfLevel"),
            level: m.read_key("level").expect("level"),
            bytes: file[offset as usize..(offset + length) as usize].to_vec(),
        });
    }
    out
}
