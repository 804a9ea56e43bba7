//! Writes the training store: sources → (regrid) → one chunk per time step, statistics,
//! tendency statistics, attributes; under a temporary name that is renamed only when complete.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Utc};
use rayon::prelude::*;
use serde_json::json;
use zarrs::filesystem::FilesystemStore;

use super::config::{IngestConfig, format_duration};
use super::ingest_plan::{IngestPlan, fmt_time};
use super::tendency_prefix;
use super::zarr_v2::{ArraySpec, Compression, DATETIME64_SECONDS, create_array, store_root};
use crate::error::{IngestError, Result};
use crate::progress::Progress;
use crate::statistics::Summary;

#[derive(Clone, Debug, Default)]
pub struct IngestOptions {
    /// Replace an existing store at the configured path.
    pub overwrite: bool,
    /// Recorded in the store's attributes (vejr version, git revision, command line).
    pub provenance: serde_json::Map<String, serde_json::Value>,
    pub quiet: bool,
}

#[derive(Debug)]
pub struct IngestReport {
    pub path: PathBuf,
    pub times: usize,
    pub columns: usize,
    pub gridpoints: usize,
    pub bytes: u64,
    pub seconds: f64,
}

pub fn ingest(config: &IngestConfig, config_path: &Path, options: &IngestOptions) -> Result<IngestReport> {
    let started = Instant::now();
    let cfg_err = |m: String| IngestError::config(config_path, m);
    let out_path = config.store.path.clone();
    if out_path.exists() && !options.overwrite {
        return Err(cfg_err(format!(
            "store {} exists; pass --overwrite to replace it",
            out_path.display()
        )));
    }

    let mut plan = IngestPlan::new(config, config_path, options.quiet)?;
    if !options.quiet {
        for note in plan.conversion_notes() {
            eprintln!("ingest: converting {note}");
        }
    }

    // Write under a temporary name next to the destination.
    let tmp_path = partial_path(&out_path);
    if tmp_path.exists() {
        std::fs::remove_dir_all(&tmp_path).map_err(|e| IngestError::io(&tmp_path, e))?;
    }
    if let Some(parent) = out_path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| IngestError::io(parent, e))?;
    }
    // A field missing everywhere is no data at that time: a gap. Found while writing, so the
    // write is redone without those times (or refused, naming the first).
    let bytes = loop {
        let result = write_store(&tmp_path, config, options, &plan);
        let outcome = match result {
            Ok(outcome) => outcome,
            Err(e) => {
                let _ = std::fs::remove_dir_all(&tmp_path);
                return Err(e);
            }
        };
        match outcome {
            Written::Complete(bytes) => break bytes,
            Written::EmptyFields(empty) => {
                let _ = std::fs::remove_dir_all(&tmp_path);
                let IngestPlan {
                    sources,
                    columns,
                    providers,
                    times,
                    missing,
                    ..
                } = &mut plan;
                let (t, c) = empty[0];
                let (s, _, _) = providers[c][&times[t]];
                if !config.store.allow_gaps {
                    return Err(IngestError::variable(
                        &sources[s].header().path,
                        &columns[c].name,
                        format!(
                            "missing at every grid point at {}{} (set store.allow_gaps = true to store around it)",
                            fmt_time(times[t]),
                            if empty.len() > 1 {
                                format!(", and {} more field(s)", empty.len() - 1)
                            } else {
                                String::new()
                            }
                        ),
                    ));
                }
                let drop: std::collections::BTreeSet<usize> = empty.iter().map(|&(t, _)| t).collect();
                for &(t, c) in &empty {
                    missing.push((times[t], columns[c].name.clone()));
                }
                missing.sort();
                missing.dedup_by_key(|(t, _)| *t);
                *times = times
                    .iter()
                    .enumerate()
                    .filter(|(t, _)| !drop.contains(t))
                    .map(|(_, &d)| d)
                    .collect();
                if !options.quiet {
                    eprintln!(
                        "ingest: {} time(s) with a field missing everywhere left out as gaps; writing again",
                        drop.len()
                    );
                }
                if times.len() < 2 {
                    return Err(cfg_err("fewer than two complete time steps remain".into()));
                }
            }
        }
    };
    sync_tree(&tmp_path).map_err(|e| IngestError::io(&tmp_path, e))?;
    if out_path.exists() {
        replace_dir(&tmp_path, &out_path)?;
    } else {
        std::fs::rename(&tmp_path, &out_path).map_err(|e| IngestError::io(&out_path, e))?;
    }
    if let Some(parent) = out_path.parent() {
        let _ = std::fs::File::open(parent).and_then(|d| d.sync_all());
    }
    Ok(IngestReport {
        path: out_path,
        times: plan.times.len(),
        columns: plan.columns.len(),
        gridpoints: plan.grid.len(),
        bytes,
        seconds: started.elapsed().as_secs_f64(),
    })
}

enum Written {
    Complete(u64),
    /// (time index, column) of fields with no valid point.
    EmptyFields(Vec<(usize, usize)>),
}

/// Puts the complete store `new` in place of the store `old` so that at every moment one of
/// them is under `old`'s name: one atomic exchange of the two directories (Linux
/// `renameat2(RENAME_EXCHANGE)`), then the old one, now under `new`'s name, is removed. Where
/// the filesystem cannot exchange, the old store is moved aside first and removed last.
fn replace_dir(new: &Path, old: &Path) -> Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let c = |p: &Path| std::ffi::CString::new(p.as_os_str().as_bytes()).map_err(|e| IngestError::io(p, e));
    let (new_c, old_c) = (c(new)?, c(old)?);
    // SAFETY: two NUL-terminated paths, relative to the working directory.
    let exchanged = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            new_c.as_ptr(),
            libc::AT_FDCWD,
            old_c.as_ptr(),
            libc::RENAME_EXCHANGE,
        )
    } == 0;
    if exchanged {
        return std::fs::remove_dir_all(new).map_err(|e| IngestError::io(new, e));
    }
    let mut aside = old.as_os_str().to_os_string();
    aside.push(".replaced");
    let aside = PathBuf::from(aside);
    let _ = std::fs::remove_dir_all(&aside);
    std::fs::rename(old, &aside).map_err(|e| IngestError::io(old, e))?;
    std::fs::rename(new, old).map_err(|e| IngestError::io(old, e))?;
    std::fs::remove_dir_all(&aside).map_err(|e| IngestError::io(&aside, e))
}

pub fn partial_path(path: &Path) -> PathBuf {
    crate::output_name::with_suffix(path, ".partial")
}

fn write_store(path: &Path, config: &IngestConfig, options: &IngestOptions, plan: &IngestPlan) -> Result<Written> {
    let IngestPlan {
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
    } = plan;
    let step = *step;
    let store_err = |e: &dyn std::fmt::Display| IngestError::store(path, e);
    std::fs::create_dir_all(path).map_err(|e| IngestError::io(path, e))?;
    let store = Arc::new(FilesystemStore::new(path).map_err(|e| store_err(&e))?);
    let (nt, nc, ne, np) = (
        times.len() as u64,
        columns.len() as u64,
        members.len() as u64,
        grid.len() as u64,
    );

    // The time axis runs at `step` from the first time to the last, gaps kept in place (NaN,
    // listed in `missing_dates`), as anemoi-datasets has it: index arithmetic on `dates` holds.
    let axis_len = ((times[times.len() - 1] - times[0]).num_seconds() / step.num_seconds()) as u64 + 1;
    if let Some(t) = times
        .iter()
        .find(|t| (**t - times[0]).num_seconds() % step.num_seconds() != 0)
    {
        return Err(store_err(&format!(
            "{} is not on the {} time axis from {}",
            fmt_time(*t),
            format_duration(step),
            fmt_time(times[0])
        )));
    }
    let slots: Vec<u64> = times
        .iter()
        .map(|t| ((*t - times[0]).num_seconds() / step.num_seconds()) as u64)
        .collect();
    let data = create_array(
        &store,
        "/data",
        ArraySpec {
            shape: &[axis_len, nc, ne, np],
            chunks: &[1, nc, ne, np],
            dtype: "<f4",
            fill_value: json!("NaN"),
            compression: Compression::Gzip(1),
            dimensions: &["time", "variable", "ensemble", "cell"],
        },
    )
    .map_err(|e| store_err(&e))?;

    let stats_start = config.store.statistics_start.unwrap_or(times[0]);
    let stats_end = config.store.statistics_end.unwrap_or(times[times.len() - 1]);
    let in_stats = |t: &DateTime<Utc>| *t >= stats_start && *t <= stats_end;
    if !times.iter().any(in_stats) {
        return Err(IngestError::config(
            path,
            "no store time lies in statistics_start .. statistics_end",
        ));
    }

    // Pass 1: decode, assemble and store each time step; gather statistics and the missing-point pattern.
    let progress = if options.quiet {
        Progress::hidden()
    } else {
        Progress::new("ingest", nt, "steps")
    };
    struct Acc {
        stats: Vec<Summary>,
        valid_everywhere: Vec<bool>,
        nan_counts: Vec<u64>,
        empty_fields: Vec<(usize, usize)>,
    }
    let new_acc = || Acc {
        stats: vec![Summary::new(); columns.len()],
        valid_everywhere: vec![true; grid.len()],
        nan_counts: Vec::new(),
        empty_fields: Vec::new(),
    };
    // Each column's physical range: the config's, else vejr's for its variable and units.
    let ranges: Vec<Option<std::ops::RangeInclusive<f64>>> = columns
        .iter()
        .map(|c| {
            let configured = config
                .variables
                .iter()
                .find(|v| v.name == c.variable)
                .and_then(|v| v.valid_range);
            match configured {
                Some([lo, hi]) => Some(lo..=hi),
                None => crate::physical_range::default_range(c),
            }
        })
        .collect();
    let acc = times
        .par_iter()
        .enumerate()
        .map(|(ti, time)| -> Result<Acc> {
            let mut chunk: Vec<f32> = Vec::with_capacity((nc * ne * np) as usize);
            let mut cache: BTreeMap<(usize, usize), Vec<f32>> = BTreeMap::new();
            for (c, p) in providers.iter().enumerate() {
                let (s, v, l) = p[time];
                let src = &sources[s];
                let src_time = src
                    .header()
                    .time
                    .valid_times()
                    .expect("checked")
                    .binary_search(time)
                    .expect("provider time");
                if let std::collections::btree_map::Entry::Vacant(e) = cache.entry((s, v)) {
                    let mut slab = src.read(v, src_time)?;
                    if let Some(c) = conversions.get(&(s, v)) {
                        c.apply(&mut slab);
                    }
                    e.insert(slab);
                }
                let slab = &cache[&(s, v)];
                let src_points = src.header().grid.len();
                for m in 0..members.len() {
                    let start = (l * members.len() + m) * src_points;
                    let field = &slab[start..start + src_points];
                    if let Some(problem) = crate::physical_range::check_field(field, ranges[c].as_ref()) {
                        let header = src.header();
                        return Err(IngestError::variable(
                            &header.path,
                            &columns[c].name,
                            format!(
                                "at {}: {problem} ({})",
                                time.format("%Y-%m-%dT%H:%MZ"),
                                columns[c].units.as_deref().unwrap_or("no units")
                            ),
                        ));
                    }
                    match &regridders[s] {
                        Some(r) => r.apply(field, &mut chunk),
                        None => chunk.extend_from_slice(field),
                    }
                }
            }
            let mut acc = new_acc();
            for (c, values) in chunk.chunks(members.len() * grid.len()).enumerate() {
                if in_stats(time) {
                    acc.stats[c].add(values);
                }
                for field in values.chunks(grid.len()) {
                    let mut nans = 0;
                    for (ok, v) in acc.valid_everywhere.iter_mut().zip(field) {
                        if v.is_nan() {
                            *ok = false;
                            nans += 1;
                        }
                    }
                    acc.nan_counts.push(nans);
                    if nans == grid.len() as u64 {
                        acc.empty_fields.push((ti, c));
                    }
                }
            }
            data.store_chunk(&[slots[ti], 0, 0, 0], chunk)
                .map_err(|e| store_err(&e))?;
            progress.inc(1);
            Ok(acc)
        })
        .try_reduce(new_acc, |mut a, b| {
            for (x, y) in a.stats.iter_mut().zip(&b.stats) {
                x.merge(y);
            }
            for (x, y) in a.valid_everywhere.iter_mut().zip(&b.valid_everywhere) {
                *x &= *y;
            }
            a.nan_counts.extend(b.nan_counts);
            a.empty_fields.extend(b.empty_fields);
            Ok(a)
        })?;
    let elapsed = progress.finish();
    if !acc.empty_fields.is_empty() {
        let mut empty = acc.empty_fields;
        empty.sort();
        return Ok(Written::EmptyFields(empty));
    }
    for (c, s) in columns.iter().zip(&acc.stats) {
        if s.count == 0 {
            return Err(IngestError::store(
                path,
                format!("{} has no valid value in the statistics period", c.name),
            ));
        }
    }
    let missing_points = acc.valid_everywhere.iter().filter(|v| !**v).count() as u64;
    let fixed_mask = acc.nan_counts.iter().all(|&n| n == missing_points);

    // Pass 2: tendencies over one time step, between consecutive stored times only.
    let tendencies = (0..times.len() - 1)
        .into_par_iter()
        .filter(|&t| times[t + 1] - times[t] == step && in_stats(&times[t]) && in_stats(&times[t + 1]))
        .map(|t| -> Result<Vec<Summary>> {
            let a: Vec<f32> = data.retrieve_chunk(&[slots[t], 0, 0, 0]).map_err(|e| store_err(&e))?;
            let b: Vec<f32> = data
                .retrieve_chunk(&[slots[t + 1], 0, 0, 0])
                .map_err(|e| store_err(&e))?;
            let diff: Vec<f32> = a.iter().zip(&b).map(|(x, y)| y - x).collect();
            let mut stats = vec![Summary::new(); columns.len()];
            for (c, values) in diff.chunks(members.len() * grid.len()).enumerate() {
                stats[c].add(values);
            }
            Ok(stats)
        })
        .try_reduce(
            || vec![Summary::new(); columns.len()],
            |mut a, b| {
                a.iter_mut().zip(&b).for_each(|(x, y)| x.merge(y));
                Ok(a)
            },
        )?;

    // Coordinates and statistics arrays.
    let f64_array = |name: &str, values: Vec<f64>, dim: &str| -> Result<()> {
        let n = values.len() as u64;
        let a = create_array(
            &store,
            &format!("/{name}"),
            ArraySpec {
                shape: &[n],
                chunks: &[n.max(1)],
                dtype: "<f8",
                fill_value: json!("NaN"),
                compression: Compression::None,
                dimensions: &[dim],
            },
        )
        .map_err(|e| store_err(&e))?;
        a.store_chunk(&[0], values).map_err(|e| store_err(&e))
    };
    let (point_latitudes, point_longitudes) = grid.point_coordinates();
    f64_array("latitudes", point_latitudes, "cell")?;
    f64_array("longitudes", point_longitudes, "cell")?;
    let column_stat = |f: &dyn Fn(&Summary) -> f64, stats: &[Summary]| stats.iter().map(f).collect::<Vec<f64>>();
    f64_array("mean", column_stat(&Summary::mean, &acc.stats), "variable")?;
    f64_array("stdev", column_stat(&Summary::stdev, &acc.stats), "variable")?;
    f64_array("minimum", column_stat(&|s| s.minimum, &acc.stats), "variable")?;
    f64_array("maximum", column_stat(&|s| s.maximum, &acc.stats), "variable")?;
    f64_array("sums", column_stat(&|s| s.sum, &acc.stats), "variable")?;
    f64_array("squares", column_stat(&|s| s.sum_of_squares, &acc.stats), "variable")?;
    f64_array("count", column_stat(&|s| s.count as f64, &acc.stats), "variable")?;
    f64_array(
        "has_nans",
        column_stat(&|s| f64::from(u8::from(s.nan_count > 0)), &acc.stats),
        "variable",
    )?;
    let step_name = format_duration(step);
    let prefix = tendency_prefix(&step_name);
    f64_array(
        &format!("{prefix}_mean"),
        column_stat(&Summary::mean, &tendencies),
        "variable",
    )?;
    f64_array(
        &format!("{prefix}_stdev"),
        column_stat(&Summary::stdev, &tendencies),
        "variable",
    )?;
    f64_array(
        &format!("{prefix}_minimum"),
        column_stat(&|s| s.minimum, &tendencies),
        "variable",
    )?;
    f64_array(
        &format!("{prefix}_maximum"),
        column_stat(&|s| s.maximum, &tendencies),
        "variable",
    )?;
    f64_array(
        "mask",
        acc.valid_everywhere.iter().map(|&v| f64::from(u8::from(v))).collect(),
        "cell",
    )?;

    let dates = create_array(
        &store,
        "/dates",
        ArraySpec {
            shape: &[axis_len],
            chunks: &[axis_len],
            dtype: DATETIME64_SECONDS,
            fill_value: json!(0),
            compression: Compression::None,
            dimensions: &["time"],
        },
    )
    .map_err(|e| store_err(&e))?;
    dates
        .store_chunk(
            &[0],
            (0..axis_len as i64)
                .map(|k| times[0].timestamp() + k * step.num_seconds())
                .collect::<Vec<i64>>(),
        )
        .map_err(|e| store_err(&e))?;

    // Attributes last: a store whose root metadata is missing was not finished.
    let (ny, nx) = grid.shape();
    let (west, east) = grid.longitude_bounds();
    let (north, south) = grid.latitude_bounds();
    let mut attributes = json!({
        "variables": columns.iter().map(|c| c.name.clone()).collect::<Vec<_>>(),
        "frequency": step_name,
        "start_date": anemoi_date(times[0]),
        "end_date": anemoi_date(times[times.len() - 1]),
        "missing_dates": missing.iter().map(|(t, _)| anemoi_date(*t)).collect::<Vec<_>>(),
        "field_shape": [ny, nx],
        "flatten_grid": true,
        "ensemble_dimension": members.len(),
        "resolution": grid.longitude_step(),
        "statistics_start_date": anemoi_date(stats_start),
        "statistics_end_date": anemoi_date(stats_end),
        "vejr": {
            "columns": columns,
            "members": members,
            "grid_kind": grid.kind,
            "area": [north, west, south, east],
            "fixed_missing_mask": fixed_mask,
            "missing_points": missing_points,
            "ingest_config": config,
            "sources": sources.iter().map(|s| s.header().path.display().to_string()).collect::<Vec<_>>(),
            "unit_conversions": plan.conversion_notes(),
        },
    });
    for (k, v) in &options.provenance {
        attributes["vejr"][k] = v.clone();
    }
    store_root(&store, attributes.as_object().expect("object").clone()).map_err(|e| store_err(&e))?;

    let bytes = dir_size(path);
    if !options.quiet {
        eprintln!(
            "ingest: {nt} steps × {nc} variables × {np} points in {:.1}s ({:.1} steps/s, {:.1} MB written)",
            elapsed.as_secs_f64(),
            nt as f64 / elapsed.as_secs_f64().max(1e-9),
            bytes as f64 / 1e6
        );
    }
    Ok(Written::Complete(bytes))
}

/// A date as anemoi-datasets writes and numpy parses it (`datetime64[s]`, no zone: UTC).
fn anemoi_date(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S").to_string()
}

fn dir_size(path: &Path) -> u64 {
    walk(path)
        .iter()
        .filter_map(|p| std::fs::metadata(p).ok())
        .filter(|m| m.is_file())
        .map(|m| m.len())
        .sum()
}

fn walk(path: &Path) -> Vec<PathBuf> {
    let mut out = vec![path.to_owned()];
    if let Ok(entries) = std::fs::read_dir(path) {
        for e in entries.flatten() {
            out.extend(walk(&e.path()));
        }
    }
    out
}

/// fsync every file and directory so that the rename publishes data that is on disk.
fn sync_tree(path: &Path) -> std::io::Result<()> {
    for p in walk(path) {
        std::fs::File::open(&p)?.sync_all()?;
    }
    Ok(())
}
