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
