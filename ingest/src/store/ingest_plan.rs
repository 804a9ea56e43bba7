//! What a store will hold and where each of its values comes from, worked out from the config
//! and the sources' headers before anything is written: every refusal that needs no decoding
//! (missing variable or level, grids or members that differ, duplicated times, gaps, a range
//! outside the data) happens here.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{DateTime, TimeDelta, Utc};

use super::Column;
use super::config::IngestConfig;
use crate::error::{IngestError, Result};
use crate::fields::LevelType;
use crate::grid::Grid;
use crate::progress::Progress;
use crate::regrid::{Regridder, regular_grid};
use crate::source::{self, FieldSource};
use crate::units::Conversion;

/// Where one column's values come from for one time: (source, variable, level) indices.
pub(super) type Provider = (usize, usize, usize);

pub(super) struct IngestPlan {
    pub step: TimeDelta,
    pub sources: Vec<Box<dyn FieldSource>>,
    /// The store's grid, and per source the interpolation onto it when `store.grid` is set.
    pub grid: Grid,
    pub regridders: Vec<Option<Regridder>>,
    pub members: Vec<i64>,
    pub columns: Vec<Column>,
    /// Per column: which source, variable and level holds each valid time.
    pub providers: Vec<BTreeMap<DateTime<Utc>, Provider>>,
    /// The times to store, and the times left out as gaps (with the first column missing).
    pub times: Vec<DateTime<Utc>>,
    pub missing: Vec<(DateTime<Utc>, String)>,
    /// Per (source, variable) whose units differ from its column's: how its values convert.
    pub conversions: BTreeMap<(usize, usize), Conversion>,
}

impl IngestPlan {
    pub fn new(config: &IngestConfig, config_path: &Path, quiet: bool) -> Result<Self> {
        let cfg_err = |m: String| IngestError::config(config_path, m);
        let step = config.time_step().map_err(cfg_err)?;

        // Open every file (headers only).
        let files = config.files(config_path)?;
        let opening = if quiet {
            Progress::hidden()
        } else {
            Progress::new("opening", files.len() as u64, "files")
        };
        let sources: Vec<Box<dyn FieldSource>> = files
            .iter()
            .map(|(path, hints)| {
                let s = source::open(path, hints);
                opening.inc(1);
                s
            })
            .collect::<Result<_>>()?;
        opening.finish();

        // One grid for the store: the sources' own, or the configured target.
        let first = sources[0].header();
        let (grid, regridders): (Grid, Vec<Option<Regridder>>) = match &config.store.grid {
            Some(target) => {
                let grid = regular_grid(target.resolution, target.area).map_err(cfg_err)?;
                let r = sources
                    .iter()
                    .map(|s| {
                        Regridder::new(&s.header().grid, &grid)
                            .map(Some)
                            .map_err(|message| IngestError::Grid {
                                path: s.header().path.clone(),
                                message,
                            })
                    })
                    .collect::<Result<Vec<_>>>()?;
                (grid, r)
            }
            None => {
                for s in &sources[1..] {
                    let h = s.header();
                    if !h.grid.same_points(&first.grid, 1e-6) {
                        return Err(IngestError::Grid {
                            path: h.path.clone(),
                            message: format!(
                                "{} differs from {} in {}; set store.grid to interpolate",
                                h.grid.describe(),
                                first.grid.describe(),
                                first.path.display()
                            ),
                        });
                    }
                }
                (first.grid.clone(), sources.iter().map(|_| None).collect())
            }
        };
        let members = first.members.clone();
        for s in &sources {
            let h = s.header();
            if h.members != members {
                return Err(IngestError::Variable {
                    path: h.path.clone(),
                    variable: "number".into(),
                    message: format!(
                        "ensemble members {:?} differ from {:?} in {}",
                        h.members,
                        members,
                        first.path.display()
                    ),
                });
            }
            if h.time.valid_times().is_none() {
                return Err(IngestError::Time {
                    path: h.path.clone(),
                    message:
                        "no time axis; a training store needs valid times (give time_dimension/time_units in the config)"
                            .into(),
                });
            }
        }

        // Columns and, for each, which file provides which time.
        let mut columns: Vec<Column> = Vec::new();
        let mut providers: Vec<BTreeMap<DateTime<Utc>, Provider>> = Vec::new();
        let mut conversions = BTreeMap::new();
        for selection in &config.variables {
            let found: Vec<(usize, usize)> = sources
                .iter()
                .enumerate()
                .flat_map(|(s, src)| {
                    src.header()
                        .variables
                        .iter()
                        .enumerate()
                        .filter(|(_, v)| v.name == selection.name)
                        .map(move |(v, _)| (s, v))
                })
                .collect();
            if found.is_empty() {
                let available: Vec<String> = sources
                    .iter()
                    .flat_map(|s| s.header().variables.iter().map(|v| v.name.clone()))
                    .collect::<std::collections::BTreeSet<_>>()
                    .into_iter()
                    .collect();
                return Err(cfg_err(format!(
                    "variable {:?} is in no source file (available: {})",
                    selection.name,
                    available.join(", ")
                )));
            }
            // A name may be both a single-level variable and one on levels (the demo's surface
            // `u` and its 500 hPa `u`): each level type is its own group of columns, and
            // `levels` selects among the levelled ones.
            let mut groups: Vec<Vec<(usize, usize)>> = Vec::new();
            for &(s, v) in &found {
                let kind = &sources[s].header().variables[v].level_type;
                match groups
                    .iter_mut()
                    .find(|g| &sources[g[0].0].header().variables[g[0].1].level_type == kind)
                {
                    Some(g) => g.push((s, v)),
                    None => groups.push(vec![(s, v)]),
                }
            }
            let mixed = groups.len() > 1;
            let before = columns.len();
            for found in groups {
                let (s0, v0) = found[0];
                let info = &sources[s0].header().variables[v0];
                if mixed && selection.levels.is_some() && info.level_type == LevelType::Surface {
                    continue;
                }
                let units = store_units(selection.units.as_deref(), info);
                for &(s, v) in &found {
                    let h = sources[s].header();
                    let vi = &h.variables[v];
                    let conversion = crate::units::field_conversion(
                        vi.units.as_deref(),
                        units.as_deref(),
                        vi.standard_name.as_deref(),
                        "the store's",
                    )
                    .map_err(|m| IngestError::variable(&h.path, &vi.name, m))?;
                    if let Some(c) = conversion {
                        conversions.insert((s, v), c);
                    }
                }
                // Geopotential height stored as geopotential is geopotential.
                let standard_name = match info.standard_name.as_deref() {
                    Some("geopotential_height") if conversions.contains_key(&(s0, v0)) => {
                        Some("geopotential".to_owned())
                    }
                    _ => info.standard_name.clone(),
                };
                let levels = selection.levels.clone().unwrap_or_else(|| info.levels.clone());
                for level in levels {
                    let name = if info.level_type == LevelType::Surface {
                        info.name.clone()
                    } else {
                        format!("{}_{}", info.name, crate::fields::format_level(level))
                    };
                    let mut by_time = BTreeMap::new();
                    for &(s, v) in &found {
                        let h = sources[s].header();
                        let vi = &h.variables[v];
                        let Some(l) = vi.levels.iter().position(|&x| (x - level).abs() < 1e-6) else {
                            return Err(IngestError::variable(
                                &h.path,
                                &vi.name,
                                format!("has no level {level} (levels {:?})", vi.levels),
                            ));
                        };
                        for time in h.time.valid_times().expect("checked") {
                            if let Some((other, _, _)) = by_time.insert(*time, (s, v, l)) {
                                return Err(IngestError::variable(
                                    &h.path,
                                    &name,
                                    format!(
                                        "duplicated time {} (also in {})",
                                        time.format("%Y-%m-%dT%H:%MZ"),
                                        sources[other].header().path.display()
                                    ),
                                ));
                            }
                        }
                    }
                    columns.push(Column {
                        name,
                        variable: info.name.clone(),
                        level_type: info.level_type.label().to_owned(),
                        level: if info.level_type == LevelType::Surface {
                            0.0
                        } else {
                            level
                        },
                        units: units.clone(),
                        standard_name: standard_name.clone(),
                        long_name: info.long_name.clone(),
                    });
                    providers.push(by_time);
                }
            }
            if columns.len() == before {
                return Err(cfg_err(format!(
                    "variable {:?} has no levels {:?} in any source file",
                    selection.name,
                    selection.levels.as_deref().unwrap_or_default()
                )));
            }
        }
        if let Some(dup) = columns
            .iter()
            .enumerate()
            .find(|(i, c)| columns[..*i].iter().any(|d| d.name == c.name))
        {
            return Err(cfg_err(format!("column {} selected twice", dup.1.name)));
        }

        // The store's times: every `step` from start to end, all columns present.
        let first_time = providers
            .iter()
            .filter_map(|p| p.keys().next())
            .max()
            .copied()
            .expect("columns have times");
        let last_time = providers
            .iter()
            .filter_map(|p| p.keys().next_back())
            .min()
            .copied()
            .expect("columns have times");
        let start = config.store.start.unwrap_or(first_time);
        let end = config.store.end.unwrap_or(last_time);
        if start < first_time || end > last_time {
            return Err(cfg_err(format!(
                "store range {} .. {} is outside the data, which covers {} .. {} for every selected variable",
                fmt_time(start),
                fmt_time(end),
                fmt_time(first_time),
                fmt_time(last_time)
            )));
        }
        // A store of more steps than this is a mistake (a damaged time value, a step of 1 s).
        const MAX_STEPS: i64 = 10_000_000;
        let steps = (end - start).num_seconds() / step.num_seconds().max(1);
        if steps > MAX_STEPS {
            return Err(cfg_err(format!(
                "store range {} .. {} at {} is {steps} time steps, more than the {MAX_STEPS} vejr stores",
                fmt_time(start),
                fmt_time(end),
                config.store.time_step
            )));
        }
        let mut times = Vec::new();
        let mut missing: Vec<(DateTime<Utc>, String)> = Vec::new();
        let mut t = start;
        while t <= end {
            match columns.iter().zip(&providers).find(|(_, p)| !p.contains_key(&t)) {
                None => times.push(t),
                Some((c, _)) => missing.push((t, c.name.clone())),
            }
            t += step;
        }
        if !missing.is_empty() && !config.store.allow_gaps {
            let (t, c) = &missing[0];
            return Err(cfg_err(format!(
                "gap in the data: no {c} at {}{} (set store.allow_gaps = true to store around gaps)",
                fmt_time(*t),
                if missing.len() > 1 {
                    format!(" and {} more time(s)", missing.len() - 1)
                } else {
                    String::new()
                }
            )));
        }
        if times.len() < 2 {
            return Err(cfg_err(format!(
                "only {} time step(s) in {} .. {}",
                times.len(),
                fmt_time(start),
                fmt_time(end)
            )));
        }

        Ok(IngestPlan {
            step,
            sources,
            grid,
            regridders,
            members,
            columns,
            providers,
            times,
            missing,
            conversions,
        })
    }

    /// One line per variable and conversion: `2t: degC → K (+273.15) in a.nc (and 3 more files)`.
    pub fn conversion_notes(&self) -> Vec<String> {
        let mut grouped: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
        for (&(s, v), c) in &self.conversions {
            let h = self.sources[s].header();
            let file = h
                .path
                .file_name()
                .map_or(h.path.display().to_string(), |f| f.to_string_lossy().into_owned());
            grouped
                .entry((h.variables[v].name.clone(), c.describe()))
                .or_default()
                .push(file);
        }
        grouped
            .into_iter()
            .map(|((variable, how), files)| {
                let more = match files.len() {
                    1 => String::new(),
                    n => format!(" (and {} more file{})", n - 1, if n > 2 { "s" } else { "" }),
                };
                format!("{variable}: {how} in {}{more}", files[0])
            })
            .collect()
    }
}

/// The units a store keeps a variable in: the config's, else ERA5's for a variable vejr knows
/// (unless the first file's are the same units spelt otherwise), else the first file's.
fn store_units(configured: Option<&str>, first: &crate::fields::VariableInfo) -> Option<String> {
    if let Some(units) = configured {
        return Some(units.to_owned());
    }
    let canonical = match first.standard_name.as_deref() {
        // Geopotential height is stored as geopotential only when its variable is named so.
        Some("geopotential_height") => crate::physical_range::canonical_units(&first.name, None),
        other => crate::physical_range::canonical_units(&first.name, other),
    };
    match (canonical, first.units.as_deref()) {
        (Some(c), Some(f)) if crate::units::equivalent(f, c) => Some(f.to_owned()),
        (Some(c), _) => Some(c.to_owned()),
        (None, f) => f.map(str::to_owned),
    }
}

pub(super) fn fmt_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%MZ").to_string()
}
