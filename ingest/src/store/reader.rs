//! Random access to a training store: one time step (all or some variables) at a time.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use zarrs::array::Array;
use zarrs::filesystem::FilesystemStore;
use zarrs::group::Group;

use super::config::parse_duration;
use super::{Column, tendency_prefix};
use crate::error::{IngestError, Result};
use crate::grid::{Grid, GridKind};

pub struct Store {
    pub path: PathBuf,
    data: Array<FilesystemStore>,
    pub columns: Vec<Column>,
    /// The times with data, ascending (a gap's dates are left out; see `missing_dates`).
    pub dates: Vec<DateTime<Utc>>,
    /// Where each of `dates` is on the store's time axis (anemoi's layout keeps gaps in place;
    /// vejr's earlier Zarr v3 stores left them out).
    slots: Vec<u64>,
    pub time_step: TimeDelta,
    pub grid: Grid,
    pub members: Vec<i64>,
    pub mean: Vec<f64>,
    pub stdev: Vec<f64>,
    pub minimum: Vec<f64>,
    pub maximum: Vec<f64>,
    pub tendency_mean: Vec<f64>,
    pub tendency_stdev: Vec<f64>,
    /// true where every field of the store has a value.
    pub mask: Vec<bool>,
    /// Whether every field misses exactly the points outside `mask` (a land/sea or domain mask).
    pub fixed_missing_mask: bool,
    pub statistics_start: DateTime<Utc>,
    pub statistics_end: DateTime<Utc>,
    pub attributes: serde_json::Map<String, serde_json::Value>,
}

impl Store {
    pub fn open(path: &Path) -> Result<Self> {
        // Whatever is wrong with a store at opening is wrong with the input (exit code 2).
        let err = |message: String| IngestError::BadStore {
            path: path.to_owned(),
            message,
        };
        if !path.join("zarr.json").is_file() && !path.join(".zgroup").is_file() {
            let partial = super::writer::partial_path(path);
            let hint = if partial.exists() {
                format!(" ({} is an unfinished ingest)", partial.display())
            } else {
                String::new()
            };
            return Err(err(format!("not a vejr/zarr store (no .zgroup or zarr.json){hint}")));
        }
        super::zarr_v2::register_datetime64();
        let storage = Arc::new(FilesystemStore::new(path).map_err(|e| err(e.to_string()))?);
        let root = Group::open(storage.clone(), "/").map_err(|e| err(e.to_string()))?;
        let attributes = root.attributes().clone();
        let vejr = attributes
            .get("vejr")
            .ok_or_else(|| err("no vejr attributes: not written by vejr ingest".into()))?;
        let columns: Vec<Column> =
            serde_json::from_value(vejr["columns"].clone()).map_err(|e| err(format!("columns attribute: {e}")))?;
        // anemoi reads the columns by the `variables` attribute, vejr by its own list: the two
        // must name the same columns in the same order, or one of them reads swapped fields.
        let anemoi: Option<Vec<String>> = attributes
            .get("variables")
            .map(|v| serde_json::from_value(v.clone()).map_err(|e| err(format!("variables attribute: {e}"))))
            .transpose()?;
        let names: Vec<String> = columns.iter().map(|c| c.name.clone()).collect();
        if let Some(anemoi) = anemoi.filter(|a| *a != names) {
            return Err(err(format!(
                "the variables attribute (anemoi's) lists [{}], vejr's columns are [{}]: edited by hand? anemoi and vejr would read different fields; ingest the store again",
                anemoi.join(", "),
                names.join(", ")
            )));
        }
        let members: Vec<i64> =
            serde_json::from_value(vejr["members"].clone()).map_err(|e| err(format!("members: {e}")))?;
        let kind: GridKind =
            serde_json::from_value(vejr["grid_kind"].clone()).map_err(|e| err(format!("grid_kind: {e}")))?;
        let fixed_missing_mask = vejr["fixed_missing_mask"].as_bool().unwrap_or(false);
        let frequency = attributes
            .get("frequency")
            .and_then(|v| v.as_str())
            .ok_or_else(|| err("no frequency".into()))?;
        let time_step = parse_duration(frequency).map_err(err)?;
        let date_attr = |key: &str| -> Result<DateTime<Utc>> {
            let text = attributes
                .get(key)
                .and_then(|v| v.as_str())
                .ok_or_else(|| err(format!("no {key}")))?;
            parse_date(text).map_err(|e| err(format!("{key}: {e}")))
        };
        let statistics_start = date_attr("statistics_start_date")?;
        let statistics_end = date_attr("statistics_end_date")?;

        let read_f64 = |name: &str| -> Result<Vec<f64>> {
            let a = Array::open(storage.clone(), &format!("/{name}")).map_err(|e| err(format!("{name}: {e}")))?;
            a.retrieve_array_subset(&a.subset_all())
                .map_err(|e| err(format!("{name}: {e}")))
        };
        let dates_array = Array::open(storage.clone(), "/dates").map_err(|e| err(format!("dates: {e}")))?;
        let seconds: Vec<i64> = dates_array
            .retrieve_array_subset(&dates_array.subset_all())
            .map_err(|e| err(format!("dates: {e}")))?;
        let axis = seconds
            .iter()
            .map(|&s| DateTime::from_timestamp(s, 0).ok_or_else(|| err(format!("date {s} out of range"))))
            .collect::<Result<Vec<_>>>()?;
        let missing: Vec<DateTime<Utc>> = attributes
            .get("missing_dates")
            .and_then(|v| v.as_array())
            .map(|list| {
                list.iter()
                    .map(|v| parse_date(v.as_str().unwrap_or_default()).map_err(|e| err(format!("missing_dates: {e}"))))
                    .collect::<Result<Vec<_>>>()
            })
            .transpose()?
            .unwrap_or_default();
        let (slots, dates): (Vec<u64>, Vec<DateTime<Utc>>) = axis
            .iter()
            .enumerate()
            .filter(|(_, d)| !missing.contains(d))
            .map(|(k, d)| (k as u64, *d))
            .unzip();

        let shape: Vec<usize> =
            serde_json::from_value(attributes["field_shape"].clone()).map_err(|e| err(format!("field_shape: {e}")))?;
        let (ny, nx) = (shape[0], shape[1]);
        let lat = read_f64("latitudes")?;
        let lon = read_f64("longitudes")?;
        if lat.len() != ny * nx || lon.len() != ny * nx {
            return Err(err(format!("{} latitudes for a field of {ny} × {nx}", lat.len())));
        }
        let grid = if kind.is_product() {
            Grid {
                kind,
                latitudes: (0..ny).map(|i| lat[i * nx]).collect(),
                longitudes: lon[..nx].to_vec(),
                points: None,
            }
        } else {
            Grid::from_points(kind, (ny, nx), lat, lon).map_err(err)?
        };

        let prefix = tendency_prefix(frequency);
        let data = Array::open(storage.clone(), "/data").map_err(|e| err(format!("data: {e}")))?;
        let expected = [
            axis.len() as u64,
            columns.len() as u64,
            members.len() as u64,
            grid.len() as u64,
        ];
        if data.shape() != expected {
            return Err(err(format!(
                "data has shape {:?}, attributes say {expected:?}",
                data.shape()
            )));
        }
        Ok(Self {
            path: path.to_owned(),
            data,
            mean: read_f64("mean")?,
            stdev: read_f64("stdev")?,
            minimum: read_f64("minimum")?,
            maximum: read_f64("maximum")?,
            tendency_mean: read_f64(&format!("{prefix}_mean"))?,
            tendency_stdev: read_f64(&format!("{prefix}_stdev"))?,
            mask: read_f64("mask")?.into_iter().map(|v| v != 0.0).collect(),
            columns,
            dates,
            slots,
            time_step,
            grid,
            members,
            fixed_missing_mask,
            statistics_start,
            statistics_end,
            attributes,
        })
    }

    pub fn column_index(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name == name)
    }

    pub fn time_index(&self, time: DateTime<Utc>) -> Option<usize> {
        self.dates.binary_search(&time).ok()
    }

    /// All variables at time index `t`: `[variable][member][gridpoint]`.
    pub fn read_time(&self, t: usize) -> Result<Vec<f32>> {
        if t >= self.dates.len() {
            return Err(IngestError::store(
                &self.path,
                format!("time index {t} beyond {} dates", self.dates.len()),
            ));
        }
        // Ingest writes every time's chunk (a time with no data at all is a gap, not a chunk),
        // so a missing one is damage; zarr would hand back its fill value, NaN everywhere,
        // and scores and samples at that time would quietly vanish.
        // Named as a reader of the store finds it: the chunk's key on disk and its date.
        let slot = self.slots[t];
        let chunk = format!("data chunk {slot}.0.0.0 ({})", self.dates[t].format("%Y-%m-%dT%H:%MZ"));
        let damaged = |what: String| IngestError::BadStore {
            path: self.path.clone(),
            message: format!("{chunk} {what}: the store is damaged; ingest it again"),
        };
        self.data
            .retrieve_chunk_if_exists(&[slot, 0, 0, 0])
            .map_err(|e| damaged(format!("cannot be read ({e})")))?
            .ok_or_else(|| damaged("is missing".into()))
    }

    /// Selected variables at time index `t`, in the order given: `[selected][member][gridpoint]`.
    pub fn read_sample(&self, t: usize, columns: &[usize]) -> Result<Vec<f32>> {
        let all = self.read_time(t)?;
        let width = self.members.len() * self.grid.len();
        let mut out = Vec::with_capacity(columns.len() * width);
        for &c in columns {
            out.extend_from_slice(&all[c * width..(c + 1) * width]);
        }
        Ok(out)
    }
}

/// A store date: RFC 3339 (vejr's earlier stores) or a zone-less ISO date in UTC (anemoi's).
fn parse_date(text: &str) -> std::result::Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(text)
        .map(|d| d.with_timezone(&Utc))
        .or_else(|_| chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S").map(|d| d.and_utc()))
        .map_err(|e| format!("{text:?}: {e}"))
}
