//! Analyses as a forecast meets them: the truth `vejr evaluate` scores against, the host a
//! limited-area model takes its boundary from. A store, or analysis files as they come (ERA5
//! from the CDS in NetCDF or GRIB, one file or many). Either way a field is asked for by
//! (column, valid time), on the forecast's grid (interpolated when need be), and a variable is
//! found by what it is (paramId, the NetCDF name ecCodes gives it, CF standard name and level),
//! not by one file's spelling.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::PathBuf;

use chrono::{DateTime, Utc};
use vejr_ingest::parameter_identity::{ParameterKey, find_parameter};
use vejr_ingest::regrid::Regridder;
use vejr_ingest::store::{Column, Store};
use vejr_ingest::{FieldSource, Grid, SourceHints};

/// Where one column's field at one time is in the files: (file, variable, level, time index).
type Location = (usize, usize, usize, usize);

enum Holder {
    /// The last time read: a store keeps every column of a time in one chunk, read once.
    Store(Box<Store>, RefCell<Option<(usize, Vec<f32>)>>),
    Files {
        sources: Vec<Box<dyn FieldSource>>,
        at: BTreeMap<(usize, DateTime<Utc>), Location>,
    },
}

pub struct Analyses {
    /// The store's path, or the files', for messages.
    pub description: String,
    /// The grid fields are given on: the analyses' own, or the forecast's they are interpolated onto.
    pub target: Grid,
    pub columns: Vec<Column>,
    keys: Vec<ParameterKey>,
    /// Every valid time held, ascending.
    pub times: Vec<DateTime<Utc>>,
    /// The period whose mean is the climatology: the store's statistics period, all of the files.
    pub statistics_period: (DateTime<Utc>, DateTime<Utc>),
    /// The store's or files' own grid.
    grid: Grid,
    /// Onto the forecast's grid, when the analyses are on another.
    regridder: Option<Regridder>,
    holder: Holder,
}

fn list(paths: &[PathBuf]) -> String {
    match paths {
        [one] => one.display().to_string(),
        [first, .., last] => format!("{} files ({} … {})", paths.len(), first.display(), last.display()),
        [] => "no files".into(),
    }
}

impl Analyses {
    /// A store directory, or one or more NetCDF/GRIB files.
    pub fn open(paths: &[PathBuf]) -> Result<Self, String> {
        match paths {
            [one] if one.is_dir() => Self::from_store(Store::open(one).map_err(|e| e.to_string())?),
            [] => Err("no analyses given".into()),
            _ => Self::from_files(paths),
        }
    }

    pub fn from_store(store: Store) -> Result<Self, String> {
        Ok(Self {
            description: store.path.display().to_string(),
            target: store.grid.clone(),
            keys: store.columns.iter().map(ParameterKey::of_column).collect(),
            columns: store.columns.clone(),
            times: store.dates.clone(),
            statistics_period: (store.statistics_start, store.statistics_end),
            grid: store.grid.clone(),
            regridder: None,
            holder: Holder::Store(Box::new(store), RefCell::new(None)),
        })
    }

    fn from_files(paths: &[PathBuf]) -> Result<Self, String> {
        let mut sources = Vec::new();
        for p in paths {
            sources.push(vejr_ingest::open(p, &SourceHints::default()).map_err(|e| e.to_string())?);
        }
        let first = sources[0].header();
        let mut columns: Vec<Column> = Vec::new();
        let mut keys: Vec<ParameterKey> = Vec::new();
        let mut at = BTreeMap::new();
        for (s, source) in sources.iter().enumerate() {
            let h = source.header();
            if !h.grid.same_points(&first.grid, 1e-6) {
                return Err(format!(
                    "{} is on {}, {} on {}: analyses must share one grid",
                    h.path.display(),
                    h.grid.describe(),
                    first.path.display(),
                    first.grid.describe()
                ));
            }
            let Some(times) = h.time.valid_times() else {
                return Err(format!("{}: no valid times, so no analyses", h.path.display()));
            };
            for (v, info) in h.variables.iter().enumerate() {
                for l in 0..info.levels.len() {
                    let key = ParameterKey::of_variable(info, l);
                    let c = match keys.iter().position(|k| k.name == key.name) {
                        Some(c) => c,
                        None => {
                            let (level_type, level) = key.level.clone().unwrap_or_else(|| ("surface".to_owned(), 0.0));
                            columns.push(Column {
                                name: key.name.clone(),
                                variable: info.name.clone(),
                                level_type,
                                level,
                                units: info.units.clone(),
                                standard_name: info.standard_name.clone(),
                                long_name: info.long_name.clone(),
                            });
                            keys.push(key);
                            keys.len() - 1
                        }
                    };
                    for (ti, &t) in times.iter().enumerate() {
                        at.insert((c, t), (s, v, l, ti));
                    }
                }
            }
        }
        let mut times: Vec<DateTime<Utc>> = at.keys().map(|&(_, t)| t).collect();
        times.sort();
        times.dedup();
        let (Some(&a), Some(&b)) = (times.first(), times.last()) else {
            return Err(format!("{}: no valid times", list(paths)));
        };
        Ok(Self {
            description: list(paths),
            target: first.grid.clone(),
            columns,
            keys,
            times,
            statistics_period: (a, b),
            grid: first.grid.clone(),
            regridder: None,
            holder: Holder::Files { sources, at },
        })
    }

    /// Analyses on another grid than the forecast's (ERA5 at 0.25° for a model at 0.5°, a host
    /// model's grid) are interpolated onto it bilinearly, as ingest builds stores, and the note
    /// saying so is returned. Err when they do not cover every point of it.
    pub fn interpolate_onto(&mut self, target: &Grid) -> Result<Option<String>, String> {
        if self.grid.same_points(target, 1e-6) {
            self.regridder = None;
            self.target = self.grid.clone();
            return Ok(None);
        }
        let r = Regridder::new(&self.grid, target).map_err(|e| format!("{}: {e}", self.description))?;
        let mut probe = Vec::with_capacity(target.len());
        r.apply(&vec![0.0; self.grid.len()], &mut probe);
        let outside = probe.iter().filter(|v| v.is_nan()).count();
        if outside > 0 {
            return Err(format!(
                "{} ({}) does not cover {outside} of the forecast's {} points",
                self.description,
                self.grid.describe(),
                target.len()
            ));
        }
        let note = format!(
            "interpolating {} ({}) bilinearly onto the forecast's {}, as ingest does",
            self.description,
            self.grid.describe(),
            target.describe()
        );
        self.regridder = Some(r);
        self.target = target.clone();
        Ok(Some(note))
    }

    pub fn points(&self) -> usize {
        self.target.len()
    }

    /// The column that is `wanted`; Err when two are equally good candidates.
    pub fn find(&self, wanted: &ParameterKey) -> Result<Option<usize>, String> {
        find_parameter(wanted, &self.keys)
    }

    /// The field of `column` valid at `time` (member 0) on the forecast's grid, None when there
    /// is no analysis then.
    pub fn field(&self, column: usize, time: DateTime<Utc>) -> Result<Option<Vec<f32>>, String> {
        let n = self.grid.len();
        let own = match &self.holder {
            Holder::Store(store, last) => {
                let Some(t) = store.time_index(time) else {
                    return Ok(None);
                };
                let mut last = last.borrow_mut();
                if last.as_ref().is_none_or(|(cached, _)| *cached != t) {
                    *last = Some((t, store.read_time(t).map_err(|e| e.to_string())?));
                }
                let all = &last.as_ref().expect("just read").1;
                let width = store.members.len() * n;
                all[column * width..column * width + n].to_vec()
            }
            Holder::Files { sources, at } => {
                let Some(&(s, v, l, ti)) = at.get(&(column, time)) else {
                    return Ok(None);
                };
                let slab = sources[s].read(v, ti).map_err(|e| e.to_string())?;
                slab[l * sources[s].header().members.len() * n..][..n].to_vec()
            }
        };
        Ok(Some(match &self.regridder {
            Some(r) => {
                let mut out = Vec::with_capacity(self.points());
                r.apply(&own, &mut out);
                out
            }
            None => own,
        }))
    }
}
