//! A file opened for reading: its header (grid, time axis, variables) and random access to
//! one (variable, time) slab at a time, so that nothing needs the whole file in memory.

use std::io::Read;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use rayon::prelude::*;
use serde::Serialize;

use crate::error::{IngestError, Result};
use crate::fields::{Fields, TimeAxis, Variable, VariableInfo};
use crate::grid::Grid;
use crate::hints::SourceHints;
use crate::{grib_reader, netcdf_reader};

#[derive(Clone, Debug, Serialize)]
pub struct Header {
    pub path: PathBuf,
    /// `GRIB1`, `GRIB2`, `NetCDF3`, `NetCDF4`, …
    pub format: String,
    pub grid: Grid,
    pub time: TimeAxis,
    pub members: Vec<i64>,
    pub variables: Vec<VariableInfo>,
    /// The one time the file's fields were forecast from, when it says so (a forecast: GRIB
    /// messages sharing dataDate/dataTime at several steps; a NetCDF scalar
    /// `forecast_reference_time`). None for analyses.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference_time: Option<DateTime<Utc>>,
    /// GRIB: the messages in the file and the fields they hold (a GRIB2 message may hold
    /// several, NCEP's u and v).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grib_messages: Option<GribCounts>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct GribCounts {
    pub messages: usize,
    pub fields: usize,
}

pub trait FieldSource: Send + Sync {
    fn header(&self) -> &Header;

    /// Values of `variable` at time index `time`, laid out `[level][member][latitude][longitude]`
    /// in the canonical orientation, missing points NaN.
    fn read(&self, variable: usize, time: usize) -> Result<Vec<f32>>;
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum FileKind {
    Grib,
    Netcdf,
}

/// Tells GRIB from NetCDF by the first bytes, not by the file name.
pub fn detect(path: &Path) -> Result<FileKind> {
    let mut file = std::fs::File::open(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => IngestError::NotFound { path: path.to_owned() },
        _ => IngestError::io(path, e),
    })?;
    let mut head = vec![0u8; 64 * 1024];
    let mut n = 0;
    while n < head.len() {
        match file.read(&mut head[n..]).map_err(|e| IngestError::io(path, e))? {
            0 => break,
            k => n += k,
        }
    }
    let head = &head[..n];
    let magic = &head[..n.min(8)];
    // GRIB from NCEP's and the WMO's feeds comes after a bulletin heading (`****0000…`,
    // `HTXA98 KWBC …`), a Fortran record length or, in NCEP's older files, a 6 KiB EBCDIC
    // header (libncarg-data's Eta file); ecCodes skips to the first `GRIB`.
    // A message starts `GRIB`, with its edition (1 or 2) in its eighth byte: text that merely
    // mentions GRIB is not one.
    let grib_within_heading = head.windows(8).any(|w| &w[..4] == b"GRIB" && matches!(w[7], 1 | 2));
    if magic.starts_with(b"CDF") || magic.starts_with(b"\x89HDF") {
        Ok(FileKind::Netcdf)
    } else if magic.starts_with(b"GRIB") || grib_within_heading {
        Ok(FileKind::Grib)
    } else if n == 0 {
        Err(IngestError::Empty { path: path.to_owned() })
    } else {
        Err(IngestError::UnknownFormat {
            path: path.to_owned(),
            magic: String::from_utf8_lossy(magic).into_owned(),
        })
    }
}

pub fn open(path: &Path, hints: &SourceHints) -> Result<Box<dyn FieldSource>> {
    Ok(match detect(path)? {
        FileKind::Grib => Box::new(grib_reader::GribSource::open(path, hints)?),
        FileKind::Netcdf => Box::new(netcdf_reader::NetcdfSource::open(path, hints)?),
    })
}

/// Reads a whole file into memory, decoding time steps in parallel.
pub fn read_fields(path: &Path, hints: &SourceHints) -> Result<Fields> {
    let source = open(path, hints)?;
    let header = source.header().clone();
    let times = header.time.len();
    let mut variables = Vec::with_capacity(header.variables.len());
    for (v, info) in header.variables.iter().enumerate() {
        let slabs: Vec<Vec<f32>> = (0..times)
            .into_par_iter()
            .map(|t| source.read(v, t))
            .collect::<Result<_>>()?;
        variables.push(Variable {
            info: info.clone(),
            data: slabs.concat(),
        });
    }
    Ok(Fields {
        grid: header.grid,
        time: header.time,
        members: header.members,
        variables,
    })
}
