//! The forecast as GRIB2, for systems that want GRIB: one message per variable, level and lead
//! time, encoded by ecCodes from its own regular lat-lon sample (so every section is what ecCodes
//! writes, not bytes of ours, but for the first message's local use section: see
//! grib_provenance). As with NetCDF, the file is `F.grib2.partial` until the last
//! message is in and synced, then renamed.
//!
//! Parameters are named by the store's variable names read as ecCodes short names (`2t`, `msl`,
//! `t` on pressure levels…): ERA5 stores ingested from GRIB have exactly those. A variable
//! ecCodes does not know is refused when the writer is created, before any compute.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Datelike, Timelike, Utc};
use eccodes::{CodesHandle, FallibleStreamingIterator, KeyRead, KeyWrite, KeyedMessage, ProductKind};
use vejr_ingest::grib_reader::{ECCODES, MISSING_SENTINEL};
use vejr_ingest::parameter_identity::samples_path;
use vejr_ingest::store::Column;

use super::ForecastOutput;
use super::grib_provenance::GribProvenance;
use super::netcdf_output::{OutputGrid, partial_path};

/// GRIB2 code table C-11: 255 is "missing". vejr is no WMO-registered centre; claiming ECMWF's
/// 98 (the sample's) would send readers to ECMWF's local tables for a product that is not theirs.
const ORIGINATING_CENTRE: i64 = 255;
/// 16 bits over each field's own range: 0.15 Pa for sea-level pressure, < 1 mK for temperature.
const BITS_PER_VALUE: i64 = 16;

pub struct GribWriter {
    /// One prepared message per state channel: grid, reference time and parameter set once.
    /// Per column: its name, its message, and the conversion to the GRIB parameter's units.
    messages: Vec<(String, KeyedMessage, Option<vejr_ingest::units::Conversion>)>,
    partial: PathBuf,
    path: PathBuf,
    reference_time: DateTime<Utc>,
    /// Canonical grid point of each GRIB value, in GRIB's scanning order.
    scan: Vec<usize>,
    /// Put into the first message written (section 2), then None.
    provenance: Option<GribProvenance>,
    open: bool,
}

/// A regular lat-lon grid as GRIB scans it: north to south, west to east from the domain's
/// western edge. The canonical grid keeps longitudes in [0, 360) ascending, so a domain across
/// the Greenwich meridian (the UK: 350°…2°) is stored as 0°…2°, 350°…; `columns` puts it back.
struct Layout {
    first: (f64, f64),
    last: (f64, f64),
    increments: (f64, f64),
    /// GRIB column j is canonical column `columns[j]`.
    columns: Vec<usize>,
}

fn regular_layout(grid: &OutputGrid) -> Result<Layout, String> {
    let (lat, lon) = (grid.latitudes, grid.longitudes);
    let not_regular = || {
        "GRIB output is written on regular latitude-longitude grids only, and this model's grid is not \
         (write NetCDF instead)"
            .to_string()
    };
    if lat.len() < 2 || lon.len() < 2 {
        return Err(not_regular());
    }
    let close = |s: f64, d: f64| (s - d).abs() <= 1e-6 * d.max(1.0);
    let dlat = lat[0] - lat[1];
    if dlat <= 0.0 || !lat.windows(2).all(|w| close(w[0] - w[1], dlat)) {
        return Err(not_regular());
    }
    let order = super::longitude_order::west_to_east(lon).ok_or_else(not_regular)?;
    let (columns, dlon, n) = (order.columns, order.increment, lon.len());
    Ok(Layout {
        first: (lat[0], lon[columns[0]]),
        last: (lat[lat.len() - 1], lon[columns[n - 1]]),
        increments: (dlat, dlon),
        columns,
    })
}

fn set<T>(msg: &mut KeyedMessage, key: &str, value: T) -> Result<(), String>
where
    KeyedMessage: KeyWrite<T>,
{
    msg.write_key(key, value)
        .map_err(|e| format!("ecCodes cannot set {key}: {e}"))
}

/// What GRIB calls the level of a store column: (typeOfLevel, level), None for surface fields,
/// whose short name already fixes the surface (2t: 2 m above ground, msl: mean sea level).
fn grib_level(c: &Column) -> Option<(&str, i64)> {
    match c.level_type.as_str() {
        "surface" => None,
        "pressure_level" => Some(("isobaricInhPa", c.level.round() as i64)),
        "model_level" => Some(("hybrid", c.level.round() as i64)),
        other => Some((other, c.level.round() as i64)),
    }
}

impl GribWriter {
    pub fn create(
        path: &Path,
        columns: &[Column],
        grid: OutputGrid,
        reference_time: DateTime<Utc>,
        provenance: GribProvenance,
    ) -> Result<Self, String> {
        let layout = match grid.native {
            Some(_) => None,
            None => Some(regular_layout(&grid)?),
        };
        let sample_name = match grid.native {
            Some(native) => super::grib_native_grid::sample(native)?,
            None => "regular_ll_sfc_grib2.tmpl".into(),
        };
        let _guard = ECCODES.lock().unwrap_or_else(|e| e.into_inner());
        // A short name ecCodes does not know is refused below in vejr's words, not ecCodes'.
        vejr_ingest::eccodes_log::capture();
        let sample = samples_path().join(&sample_name);
        let at_sample = |e: String| format!("{}: {e}", sample.display());
        let mut handle =
            CodesHandle::new_from_file(&sample, ProductKind::GRIB).map_err(|e| at_sample(e.to_string()))?;
        let mut template = handle
            .next()
            .map_err(|e| at_sample(e.to_string()))?
            .ok_or_else(|| at_sample("no message".into()))?
            .try_clone()
            .map_err(|e| at_sample(e.to_string()))?;
        drop(handle);
        let t = &mut template;
        set(t, "centre", ORIGINATING_CENTRE)?;
        match (&layout, grid.native) {
            (Some(layout), _) => {
                set(t, "Ni", grid.longitudes.len() as i64)?;
                set(t, "Nj", grid.latitudes.len() as i64)?;
                set(t, "iScansNegatively", 0i64)?;
                set(t, "jScansPositively", 0i64)?;
                set(t, "latitudeOfFirstGridPointInDegrees", layout.first.0)?;
                set(t, "longitudeOfFirstGridPointInDegrees", layout.first.1)?;
                set(t, "latitudeOfLastGridPointInDegrees", layout.last.0)?;
                set(t, "longitudeOfLastGridPointInDegrees", layout.last.1)?;
                set(t, "iDirectionIncrementInDegrees", layout.increments.1)?;
                set(t, "jDirectionIncrementInDegrees", layout.increments.0)?;
            }
            (None, Some(native)) => super::grib_native_grid::set_grid(t, native)?,
            (None, None) => unreachable!("a layout or a native grid"),
        }
        let r = reference_time;
        set(
            t,
            "dataDate",
            (r.year() * 10_000 + r.month() as i32 * 100 + r.day() as i32) as i64,
        )?;
        set(t, "dataTime", (r.hour() * 100 + r.minute()) as i64)?;
        set(t, "significanceOfReferenceTime", 1i64)?; // start of forecast
        set(t, "typeOfProcessedData", 1i64)?; // forecast products
        set(t, "typeOfGeneratingProcess", 2i64)?; // forecast
        set(t, "packingType", "grid_simple")?;
        set(t, "bitsPerValue", BITS_PER_VALUE)?;

        let mut messages = Vec::with_capacity(columns.len());
        for c in columns {
            let what = |e: String| format!("--format grib: column {} (variable {}): {e}", c.name, c.variable);
            let mut m = template.try_clone().map_err(|e| what(e.to_string()))?;
            match grib_level(c) {
                Some((type_of_level, level)) => {
                    set(&mut m, "typeOfLevel", type_of_level).map_err(what)?;
                    set(&mut m, "level", level).map_err(what)?;
                }
                // Short names with a surface of their own (2t, 10u, msl) replace this one.
                None => set(&mut m, "typeOfLevel", "surface").map_err(what)?,
            }
            set(&mut m, "shortName", c.variable.as_str()).map_err(|_| {
                what(format!(
                    "ecCodes has no GRIB2 parameter with short name {:?}",
                    c.variable
                ))
            })?;
            // ecCodes resolves a short name to a concept that may carry its own level: make sure the
            // message says what the column is.
            let short: String = m.read_key("shortName").map_err(|e| what(e.to_string()))?;
            let level_back = grib_level(c).map(|(want_type, want_level)| {
                let got_type: String = m.read_key("typeOfLevel").unwrap_or_default();
                let got_level: i64 = m.read_key("level").unwrap_or(-1);
                (
                    want_type == got_type && want_level == got_level,
                    format!("{got_type} {got_level}"),
                )
            });
            if short != c.variable || level_back.as_ref().is_some_and(|(ok, _)| !ok) {
                return Err(what(format!(
                    "ecCodes encodes it as {short}{}",
                    level_back.map(|(_, l)| format!(" on {l}")).unwrap_or_default()
                )));
            }
            // GRIB parameters have fixed units (2t in K): a column kept in others is converted.
            let grib_units: String = m.read_key("units").map_err(|e| what(e.to_string()))?;
            let conversion = match c.units.as_deref() {
                None => None,
                Some(units) => vejr_ingest::units::conversion(units, &grib_units, Default::default())
                    .map_err(|e| what(format!("the checkpoint's units do not convert to GRIB's: {e}")))?,
            };
            messages.push((c.name.clone(), m, conversion));
        }

        let partial = partial_path(path);
        std::fs::File::create(&partial).map_err(|e| format!("{}: {e}", partial.display()))?;
        Ok(Self {
            messages,
            partial,
            path: path.to_owned(),
            reference_time,
            scan: match &layout {
                Some(layout) => (0..grid.latitudes.len())
                    .flat_map(|r| layout.columns.iter().map(move |&c| r * grid.longitudes.len() + c))
                    .collect(),
                // A native grid is written in the order it was read.
                None => (0..grid.shape().0 * grid.shape().1).collect(),
            },
            provenance: Some(provenance),
            open: true,
        })
    }
}

impl ForecastOutput for GribWriter {
    fn write_step(&mut self, valid_time: DateTime<Utc>, state: &[f32]) -> Result<(), String> {
        let lead = (valid_time - self.reference_time).num_seconds();
        // Hours when the lead is whole hours (every ERA5-style model), minutes otherwise.
        let (unit, amount) = if lead % 3600 == 0 {
            (1i64, lead / 3600)
        } else {
            (0i64, lead / 60)
        };
        let channels = state.len() / self.scan.len();
        let _guard = ECCODES.lock().unwrap_or_else(|e| e.into_inner());
        for (c, (name, m, conversion)) in self.messages.iter_mut().enumerate() {
            let what = |e: String| format!("{}: {name} at +{lead} s: {e}", self.partial.display());
            let mut values: Vec<f64> = self.scan.iter().map(|&p| state[p * channels + c] as f64).collect();
            if let Some(how) = conversion {
                values.iter_mut().for_each(|v| *v = how.scale * *v + how.offset);
            }
            let missing = values.iter().any(|v| !v.is_finite());
            if missing {
                values
                    .iter_mut()
                    .filter(|v| !v.is_finite())
                    .for_each(|v| *v = MISSING_SENTINEL);
            }
            set(m, "bitmapPresent", missing as i64).map_err(what)?;
            if missing {
                set(m, "missingValue", MISSING_SENTINEL).map_err(what)?;
            }
            set(m, "indicatorOfUnitOfTimeRange", unit).map_err(what)?;
            set(m, "forecastTime", amount).map_err(what)?;
            set(m, "values", &values).map_err(what)?;
            m.write_to_file(&self.partial, true).map_err(|e| what(e.to_string()))?;
            if let Some(provenance) = self.provenance.take() {
                let first = std::fs::read(&self.partial).map_err(|e| what(e.to_string()))?;
                let message = provenance.into_message(&first).map_err(what)?;
                std::fs::write(&self.partial, message).map_err(|e| what(crate::write_failure(&self.partial, e)))?;
            }
        }
        Ok(())
    }

    fn finish(mut self: Box<Self>) -> Result<PathBuf, String> {
        let at = |p: &Path, e: std::io::Error| format!("{}: {e}", p.display());
        std::fs::File::open(&self.partial)
            .and_then(|f| f.sync_all())
            .map_err(|e| at(&self.partial, e))?;
        std::fs::rename(&self.partial, &self.path).map_err(|e| at(&self.path, e))?;
        self.open = false;
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            let _ = std::fs::File::open(dir).and_then(|d| d.sync_all());
        }
        Ok(self.path.clone())
    }
}

impl Drop for GribWriter {
    /// An unfinished forecast leaves no file behind.
    fn drop(&mut self) {
        if self.open {
            let _ = std::fs::remove_file(&self.partial);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn column(name: &str, level_type: &str, level: f64) -> Column {
        Column::bare(name, level_type, level)
    }

    #[test]
    fn layouts_start_at_the_western_edge_and_refuse_irregular_grids() {
        let lat = [10.0, 5.0, 0.0];
        let global: Vec<f64> = (0..72).map(|i| i as f64 * 5.0).collect();
        let g = regular_layout(&OutputGrid {
            latitudes: &lat,
            longitudes: &global,
            native: None,
        })
        .unwrap();
        assert_eq!((g.first, g.last, g.increments), ((10.0, 0.0), (0.0, 355.0), (5.0, 5.0)));
        assert_eq!(g.columns, (0..72).collect::<Vec<_>>());

        let across_greenwich = [0.0, 1.0, 2.0, 358.0, 359.0];
        let r = regular_layout(&OutputGrid {
            latitudes: &lat,
            longitudes: &across_greenwich,
            native: None,
        })
        .unwrap();
        assert_eq!((r.first.1, r.last.1), (358.0, 2.0));
        assert_eq!(r.columns, [3, 4, 0, 1, 2]);

        let gaussian_like = [10.0, 4.0, 0.0];
        assert!(
            regular_layout(&OutputGrid {
                latitudes: &gaussian_like,
                longitudes: &global,
                native: None,
            })
            .is_err()
        );
        let two_gaps = [0.0, 1.0, 5.0, 9.0];
        assert!(
            regular_layout(&OutputGrid {
                latitudes: &lat,
                longitudes: &two_gaps,
                native: None,
            })
            .is_err()
        );
    }

    #[test]
    fn a_variable_eccodes_cannot_name_is_refused_before_anything_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.grib2");
        let (lat, lon) = ([10.0, 5.0, 0.0], [0.0, 5.0, 10.0]);
        let grid = || OutputGrid {
            latitudes: &lat,
            longitudes: &lon,
            native: None,
        };
        let when = chrono::DateTime::parse_from_rfc3339("1996-01-16T00:00:00Z")
            .unwrap()
            .to_utc();
        let columns = [column("msl", "surface", 0.0), column("u500", "surface", 0.0)];
        let e = GribWriter::create(&path, &columns, grid(), when, Default::default())
            .err()
            .expect("u500 is no GRIB short name");
        assert!(e.contains("column u500") && e.contains("no GRIB2 parameter"), "{e}");
        assert!(
            std::fs::read_dir(dir.path()).unwrap().next().is_none(),
            "nothing written"
        );

        // Levels come from the column, not from the short name's default.
        let t850 = [column("t", "pressure_level", 850.0)];
        let w = GribWriter::create(&path, &t850, grid(), when, Default::default()).unwrap();
        let level: i64 = w.messages[0].1.read_key("level").unwrap();
        let kind: String = w.messages[0].1.read_key("typeOfLevel").unwrap();
        assert_eq!((kind.as_str(), level), ("isobaricInhPa", 850));
        drop(w);
        assert!(
            !partial_path(&path).exists() && !path.exists(),
            "an unfinished file is removed"
        );
    }

    #[test]
    fn columns_in_other_units_are_written_in_the_grib_parameter_s() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.grib2");
        let (lat, lon) = ([10.0, 5.0, 0.0], [0.0, 5.0, 10.0]);
        let grid = || OutputGrid {
            latitudes: &lat,
            longitudes: &lon,
            native: None,
        };
        let reference = chrono::DateTime::parse_from_rfc3339("1996-01-16T00:00:00Z")
            .unwrap()
            .to_utc();
        let mut columns = [column("2t", "surface", 0.0), column("msl", "surface", 0.0)];
        columns[0].units = Some("degC".into());
        columns[1].units = Some("hPa".into());
        let mut w = Box::new(GribWriter::create(&path, &columns, grid(), reference, Default::default()).unwrap());
        let state: Vec<f32> = (0..9).flat_map(|p| [p as f32, 1000.0 + p as f32]).collect();
        w.write_step(reference + chrono::TimeDelta::hours(6), &state).unwrap();
        w.finish().unwrap();
        let source = vejr_ingest::source::open(&path, &Default::default()).unwrap();
        let (t, p) = (source.read(0, 0).unwrap(), source.read(1, 0).unwrap());
        let mut expected_t: Vec<f32> = (0..9).map(|p| p as f32 + 273.15).collect();
        let mut expected_p: Vec<f32> = (0..9).map(|p| (1000.0 + p as f32) * 100.0).collect();
        for (got, want) in [(t, &mut expected_t), (p, &mut expected_p)] {
            let (mut got, want) = (got, want);
            got.sort_by(f32::total_cmp);
            want.sort_by(f32::total_cmp);
            for (g, w) in got.iter().zip(want.iter()) {
                assert!((g - w).abs() < 0.05, "{g} vs {w}");
            }
        }

        // Units GRIB's cannot become are refused before anything is written.
        columns[0].units = Some("Pa".into());
        let e = GribWriter::create(
            &dir.path().join("g.grib2"),
            &columns,
            grid(),
            reference,
            Default::default(),
        )
        .err()
        .expect("Pa is no temperature");
        assert!(e.contains("column 2t") && e.contains("do not convert to GRIB's"), "{e}");
    }
}
