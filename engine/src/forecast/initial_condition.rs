//! The initial condition: the analyses at t−Δt and t for every variable the checkpoint predicts,
//! from a store date or from NetCDF/GRIB files, checked against the checkpoint before any
//! compute. Every problem found is listed in one message.

use std::path::{Path, PathBuf};

use chrono::{DateTime, TimeDelta, Utc};
use vejr_ingest::SourceHints;
use vejr_ingest::grid::Grid;
use vejr_ingest::parameter_identity::{ParameterKey, find_parameter};
use vejr_ingest::regrid::Regridder;
use vejr_ingest::store::Column;
use vejr_ingest::store::Store;
use vejr_ingest::units::{Conversion, field_conversion};
use vejr_models::checkpoint::CheckpointMetadata;

/// `[gridpoint][channel]` states in physical units.
pub struct InitialCondition {
    pub previous: Vec<f32>,
    pub current: Vec<f32>,
    pub statics: Option<Vec<f32>>,
    pub reference_time: DateTime<Utc>,
    /// Where it came from, for the output's provenance.
    pub sources: Vec<String>,
}

fn grid_problem(checkpoint: &Grid, grid: &Grid, what: &str) -> Option<String> {
    (!grid.same_points(checkpoint, 1e-6)).then(|| {
        let (north, south) = checkpoint.latitude_bounds();
        let (west, east) = checkpoint.longitude_bounds();
        format!(
            "{what} is on a {} grid, the checkpoint on a {} grid ({south:.2}..{north:.2}°N, {west:.2}..{east:.2}°E)",
            grid.describe(),
            checkpoint.describe(),
        )
    })
}

/// Interleaves per-column fields `[column][gridpoint]` into `[gridpoint][column]`.
fn interleave(fields: &[Vec<f32>]) -> Vec<f32> {
    let (c, n) = (fields.len(), fields.first().map_or(0, |f| f.len()));
    let mut out = vec![0.0; c * n];
    for (k, f) in fields.iter().enumerate() {
        for (p, v) in f.iter().enumerate() {
            out[p * c + k] = *v;
        }
    }
    out
}

/// Missing or non-finite values (outside the land–sea or domain mask `allowed`), then values
/// outside each variable's physical range (`vejr_ingest::physical_range`): one line each.
fn nan_problems(
    meta: &CheckpointMetadata,
    fields: &[Vec<f32>],
    allowed: Option<&[bool]>,
    when: DateTime<Utc>,
) -> Vec<String> {
    let columns = super::columns_of(meta);
    meta.columns
        .iter()
        .zip(fields)
        .enumerate()
        .filter_map(|(c, (name, f))| {
            let at = when.format("%Y-%m-%dT%H:%MZ");
            let bad = f
                .iter()
                .enumerate()
                .filter(|(p, v)| !v.is_finite() && allowed.is_none_or(|m| m[*p]))
                .count();
            if bad > 0 {
                return Some(format!("{name} at {at} has {bad} missing or non-finite values"));
            }
            let range = columns.get(c).and_then(vejr_ingest::physical_range::default_range);
            let units = columns.get(c).and_then(|c| c.units.clone()).unwrap_or_default();
            vejr_ingest::physical_range::check_field(f, range.as_ref())
                .map(|problem| format!("{name} at {at} has {problem} ({units})"))
        })
        .collect()
}

pub fn from_store(path: &Path, date: DateTime<Utc>, meta: &CheckpointMetadata) -> Result<InitialCondition, String> {
    let store = Store::open(path).map_err(|e| e.to_string())?;
    let mut problems = Vec::new();
    let mut index = |name: &String| {
        let i = store.column_index(name);
        if i.is_none() {
            problems.push(format!("variable {name} is not in the store"));
        }
        i
    };
    let columns: Vec<Option<usize>> = meta.columns.iter().map(&mut index).collect();
    let statics: Vec<Option<usize>> = meta.static_fields.iter().map(&mut index).collect();
    let checkpoint_grid = crate::model_grid::checkpoint_grid(meta)?;
    problems.extend(grid_problem(&checkpoint_grid, &store.grid, "the store"));
    if store.time_step.num_seconds() != meta.time_step_seconds {
        problems.push(format!(
            "the store's time step is {} s, the checkpoint's {} s",
            store.time_step.num_seconds(),
            meta.time_step_seconds
        ));
    }
    let step = TimeDelta::seconds(meta.time_step_seconds);
    let fmt = |d: DateTime<Utc>| d.format("%Y-%m-%dT%H:%MZ").to_string();
    let (t, t0) = (store.time_index(date), store.time_index(date - step));
    if t.is_none() {
        problems.push(format!("no analysis at {} in the store", fmt(date)));
    }
    if t0.is_none() {
        problems.push(format!("no analysis at {} (t−Δt) in the store", fmt(date - step)));
    }
    if !problems.is_empty() {
        return Err(format!(
            "initial condition from {}: {}",
            path.display(),
            problems.join("; ")
        ));
    }
    let columns: Vec<usize> = columns.into_iter().flatten().collect();
    // The store's units against the checkpoint's, as for files.
    let wanted = super::columns_of(meta);
    let mut conversions = Vec::new();
    for (c, &i) in columns.iter().enumerate() {
        let have = &store.columns[i];
        let target = wanted.get(c).and_then(|w| w.units.as_deref());
        let conversion = match target {
            None => None,
            Some(_) => field_conversion(
                have.units.as_deref(),
                target,
                have.standard_name.as_deref(),
                "the checkpoint's",
            )
            .map_err(|m| format!("initial condition from {}: {} {m}", path.display(), have.name))?,
        };
        if let Some(how) = &conversion {
            eprintln!(
                "forecast: converting {}: {} in {}",
                have.name,
                how.describe(),
                path.display()
            );
        }
        conversions.push(conversion);
    }
    let read = |t: usize, cols: &[usize]| -> Result<Vec<Vec<f32>>, String> {
        let raw = store.read_sample(t, cols).map_err(|e| e.to_string())?;
        let stride = store.members.len() * store.grid.len();
        Ok(raw.chunks(stride).map(|c| c[..store.grid.len()].to_vec()).collect())
    };
    let convert = |mut fields: Vec<Vec<f32>>| {
        for (field, how) in fields.iter_mut().zip(&conversions) {
            if let Some(how) = how {
                how.apply(field);
            }
        }
        fields
    };
    let (t, t0) = (t.expect("checked"), t0.expect("checked"));
    let previous = convert(read(t0, &columns)?);
    let current = convert(read(t, &columns)?);
    // Points outside the store's mask (missing in every field) stay missing in the forecast.
    let allowed: Vec<bool> = store.mask.clone();
    let mut problems = nan_problems(meta, &previous, Some(&allowed), date - step);
    problems.extend(nan_problems(meta, &current, Some(&allowed), date));
    if !problems.is_empty() {
        return Err(format!(
            "initial condition from {}: {}",
            path.display(),
            problems.join("; ")
        ));
    }
    let statics: Vec<usize> = statics.into_iter().flatten().collect();
    Ok(InitialCondition {
        previous: interleave(&previous),
        current: interleave(&current),
        statics: (!statics.is_empty())
            .then(|| read(0, &statics).map(|f| interleave(&f)))
            .transpose()?,
        reference_time: date,
        sources: vec![format!("{} at {}", path.display(), fmt(date))],
    })
}

/// Where a field is: (source, variable, level, time index).
type Location = (usize, usize, usize, usize);

/// From analysis files: the last time they hold is t, the one a time step before is t−Δt.
/// Per grid point, whether it is inside the domain the checkpoint was trained on: all of them
/// unless the checkpoint lists `outside_domain` points (its store's mask; older checkpoints do
/// not, and then every point needs a value).
fn inside_domain(meta: &CheckpointMetadata, points: usize) -> Vec<bool> {
    let mut inside = vec![true; points];
    let outside: Vec<usize> = meta
        .training
        .get("outside_domain")
        .and_then(|v| serde_json::from_value(v.clone()).ok())
        .unwrap_or_default();
    for p in outside {
        if let Some(x) = inside.get_mut(p) {
            *x = false;
        }
    }
    inside
}

pub fn from_files(paths: &[PathBuf], meta: &CheckpointMetadata) -> Result<InitialCondition, String> {
    let mut sources = Vec::new();
    for p in paths {
        sources.push(vejr_ingest::open(p, &SourceHints::default()).map_err(|e| e.to_string())?);
    }
    let mut problems = Vec::new();
    // What vejr did to the files (interpolation, units), said once every check has passed.
    let mut notes = std::collections::BTreeSet::new();
    // A file on another grid (ERA5 at 0.25° for a model at 0.5°) is interpolated onto the
    // checkpoint's, bilinearly as ingest builds stores; points it does not cover stay missing
    // and are refused below.
    let target = crate::model_grid::checkpoint_grid(meta)?;
    let mut regridders: Vec<Option<Regridder>> = Vec::new();
    for s in &sources {
        let h = s.header();
        if grid_problem(&target, &h.grid, "").is_none() {
            regridders.push(None);
            continue;
        }
        notes.insert(format!(
            "interpolating {} ({}) onto the checkpoint's {} grid",
            h.path.display(),
            h.grid.describe(),
            target.describe()
        ));
        match Regridder::new(&h.grid, &target) {
            Ok(r) => regridders.push(Some(r)),
            Err(e) => {
                problems.push(format!("{}: {e}", h.path.display()));
                regridders.push(None);
            }
        }
    }
    for (s, r) in sources.iter().zip(&regridders) {
        let Some(r) = r else { continue };
        let h = s.header();
        let mut out = Vec::with_capacity(target.len());
        r.apply(&vec![0.0; h.grid.len()], &mut out);
        let outside = out.iter().filter(|v| v.is_nan()).count();
        if outside > 0 {
            problems.push(format!(
                "{} ({}) does not cover {outside} of the checkpoint's {} points",
                h.path.display(),
                h.grid.describe(),
                target.len(),
            ));
        }
    }
    if !meta.static_fields.is_empty() {
        problems.push(format!(
            "the checkpoint needs static fields ({}): start from a store (--store, --date)",
            meta.static_fields.join(", ")
        ));
    }
    let latest = sources
        .iter()
        .filter_map(|s| s.header().time.valid_times()?.last().copied())
        .max();
    let Some(date) = latest else {
        return Err(format!("initial condition: no valid times in {}", list(paths)));
    };
    let step = TimeDelta::seconds(meta.time_step_seconds);
    let fmt = |d: DateTime<Utc>| d.format("%Y-%m-%dT%H:%MZ").to_string();
    // Where each column and time is: (source, variable, level, time index).
    let mut found: Vec<[Option<Location>; 2]> = Vec::new();
    let wanted = super::columns_of(meta);
    // Every (variable, level) the files hold, by what it is (paramId, CF name, level).
    let mut in_files: Vec<(usize, usize, usize)> = Vec::new();
    let mut keys: Vec<ParameterKey> = Vec::new();
    for (s, source) in sources.iter().enumerate() {
        for (v, info) in source.header().variables.iter().enumerate() {
            for l in 0..info.levels.len() {
                in_files.push((s, v, l));
                keys.push(ParameterKey::of_variable(info, l));
            }
        }
    }
    for (c, name) in meta.columns.iter().enumerate() {
        let mut at = [None, None];
        let column = wanted
            .get(c)
            .cloned()
            .unwrap_or_else(|| Column::bare(name, "surface", 0.0));
        let wanted_key = ParameterKey::of_column(&column);
        // The same variable may be in several files (one per day): each is a candidate at its
        // own times, so candidates are told apart per file.
        for (s, source) in sources.iter().enumerate() {
            let Some(times) = source.header().time.valid_times() else {
                continue;
            };
            let here: Vec<usize> = (0..keys.len()).filter(|&i| in_files[i].0 == s).collect();
            match find_parameter(&wanted_key, here.iter().map(|&i| &keys[i])) {
                Ok(Some(j)) => {
                    let (_, v, l) = in_files[here[j]];
                    for (k, when) in [date - step, date].into_iter().enumerate() {
                        if let Some(ti) = times.iter().position(|&x| x == when) {
                            at[k] = Some((s, v, l, ti));
                        }
                    }
                }
                Ok(None) => {}
                Err(m) => problems.push(format!("{}: {m}", source.header().path.display())),
            }
        }
        for (k, when) in [date - step, date].into_iter().enumerate() {
            if at[k].is_none() {
                problems.push(format!("{name} at {} is in none of the files", fmt(when)));
            }
        }
        found.push(at);
    }
    if !problems.is_empty() {
        return Err(format!(
            "initial condition from {}: {}",
            list(paths),
            problems.join("; ")
        ));
    }
    // Each field in the checkpoint's units: converted when the file's differ and convert, the
    // start refused when they do not (°C read as kelvin is a forecast from near 0 K). A
    // checkpoint that predates units in its metadata has nothing to check against.
    let columns = super::columns_of(meta);
    let mut conversions: Vec<[Option<Conversion>; 2]> = Vec::new();
    for (c, at) in found.iter().enumerate() {
        let target = columns.get(c).and_then(|c| c.units.as_deref());
        let mut pair = [None, None];
        for (k, &(s, v, _, _)) in at.iter().map(|a| a.as_ref().expect("checked")).enumerate() {
            let h = sources[s].header();
            let info = &h.variables[v];
            if target.is_none() {
                continue;
            }
            match field_conversion(
                info.units.as_deref(),
                target,
                info.standard_name.as_deref(),
                "the checkpoint's",
            ) {
                Ok(conversion) => {
                    if let Some(how) = &conversion {
                        notes.insert(format!(
                            "converting {}: {} in {}",
                            meta.columns[c],
                            how.describe(),
                            h.path.display()
                        ));
                    }
                    pair[k] = conversion;
                }
                Err(m) => problems.push(format!("{} in {} {m}", info.name, h.path.display())),
            }
        }
        conversions.push(pair);
    }
    problems.dedup();
    if !problems.is_empty() {
        return Err(format!(
            "initial condition from {}: {}",
            list(paths),
            problems.join("; ")
        ));
    }
    for note in &notes {
        eprintln!("forecast: {note}");
    }
    let read = |k: usize| -> Result<Vec<Vec<f32>>, String> {
        found
            .iter()
            .zip(&conversions)
            .map(|(at, conversion)| {
                let (s, v, l, ti) = at[k].expect("checked");
                let h = sources[s].header();
                let points = h.grid.len();
                let slab = sources[s].read(v, ti).map_err(|e| e.to_string())?;
                let offset = l * h.members.len() * points;
                let mut field = match &regridders[s] {
                    Some(r) => {
                        let mut out = Vec::with_capacity(target.len());
                        r.apply(&slab[offset..offset + points], &mut out);
                        out
                    }
                    None => slab[offset..offset + points].to_vec(),
                };
                if let Some(how) = &conversion[k] {
                    how.apply(&mut field);
                }
                Ok(field)
            })
            .collect()
    };
    let (previous, current) = (read(0)?, read(1)?);
    // Points outside the training store's domain (a regional model's own output has them
    // missing) may be missing here too; every other point must have a value.
    let allowed = inside_domain(meta, previous.first().map_or(0, Vec::len));
    let mut problems = nan_problems(meta, &previous, Some(&allowed), date - step);
    problems.extend(nan_problems(meta, &current, Some(&allowed), date));
    if !problems.is_empty() {
        return Err(format!(
            "initial condition from {}: {}",
            list(paths),
            problems.join("; ")
        ));
    }
    Ok(InitialCondition {
        previous: interleave(&previous),
        current: interleave(&current),
        statics: None,
        reference_time: date,
        sources: paths
            .iter()
            .map(|p| p.display().to_string())
            .chain(notes.iter().cloned())
            .collect(),
    })
}

fn list(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}
