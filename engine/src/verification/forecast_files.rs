//! A forecast to score, from any file that says where it started: vejr's own NetCDF and GRIB2,
//! or another system's (a NetCDF with a scalar `forecast_reference_time`; GRIB messages from one
//! dataDate/dataTime at several steps). Read through ingest's readers, so its fields come in the
//! canonical orientation (north to south, longitudes ascending in [0°, 360°)) the analyses use.

use std::path::{Path, PathBuf};

use chrono::{DateTime, TimeDelta, Utc};
use vejr_ingest::parameter_identity::ParameterKey;
use vejr_ingest::source::{FileKind, detect};
use vejr_ingest::{FieldSource, SourceHints};

use crate::forecast::grib_provenance::GribProvenance;
use crate::forecast::netcdf_output::BOUNDARY_BAND;

pub struct ForecastColumn {
    /// The store's column name for vejr's outputs (`2t`, `u_500`), the file's otherwise.
    pub name: String,
    pub key: ParameterKey,
    pub units: Option<String>,
    pub standard_name: Option<String>,
    variable: usize,
    level: usize,
}

pub struct ForecastFile {
    pub path: PathBuf,
    pub reference_time: DateTime<Utc>,
    pub lead_hours: Vec<f64>,
    pub grid: vejr_ingest::Grid,
    pub columns: Vec<ForecastColumn>,
    /// The checkpoint's training and validation periods, from vejr's NetCDF global attributes.
    pub training_period: Option<(DateTime<Utc>, DateTime<Utc>)>,
    pub validation_period: Option<(DateTime<Utc>, DateTime<Utc>)>,
    /// A limited-area forecast's boundary band (values from its host, not the model), per point.
    pub boundary_band: Option<Vec<bool>>,
    /// vejr's forecasts: the checkpoint they came from (its path and fingerprint).
    pub model: Option<Model>,
    source: Box<dyn FieldSource>,
}

/// `"A to B"` as the forecast writes a period; None for anything else (older files, "?").
pub fn parse_period(text: &str) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    let (a, b) = text.split_once(" to ")?;
    let parse = |t: &str| t.trim().parse::<DateTime<Utc>>().ok();
    Some((parse(a)?, parse(b)?))
}

type Period = Option<(DateTime<Utc>, DateTime<Utc>)>;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Model {
    pub checkpoint: String,
    pub fnv1a: String,
}

/// What vejr says of its own forecasts: NetCDF global attributes, or a GRIB2 file's local use
/// section (forecast::grib_provenance); other systems' files say none of it.
struct Provenance {
    training: Period,
    validation: Period,
    model: Option<Model>,
    band: Option<Vec<bool>>,
}

fn provenance(path: &Path, kind: Option<FileKind>) -> Provenance {
    let none = Provenance {
        training: None,
        validation: None,
        model: None,
        band: None,
    };
    match kind {
        Some(FileKind::Netcdf) => {
            let Ok(file) = netcdf::open(path) else {
                return none;
            };
            let text = |name: &str| match file.attribute(name).map(|a| a.value()) {
                Some(Ok(netcdf::AttributeValue::Str(s))) => Some(s),
                _ => None,
            };
            Provenance {
                training: text("training_period").as_deref().and_then(parse_period),
                validation: text("validation_period").as_deref().and_then(parse_period),
                model: text("checkpoint_fnv1a").map(|fnv1a| Model {
                    checkpoint: text("checkpoint").unwrap_or_default(),
                    fnv1a,
                }),
                // Read as a variable with the fields.
                band: None,
            }
        }
        Some(FileKind::Grib) => match GribProvenance::read(path) {
            Some(p) => Provenance {
                training: parse_period(&p.training_period),
                validation: parse_period(&p.validation_period),
                model: Some(Model {
                    checkpoint: p.checkpoint.clone(),
                    fnv1a: p.checkpoint_fnv1a.clone(),
                }),
                band: p.band(),
            },
            None => none,
        },
        _ => none,
    }
}

impl ForecastFile {
    pub fn open(path: &Path) -> Result<Self, String> {
        let source = vejr_ingest::open(path, &SourceHints::default()).map_err(|e| e.to_string())?;
        let h = source.header();
        let reference_time = h.reference_time.ok_or_else(|| {
            format!(
                "{}: no forecast reference time (a scalar forecast_reference_time in NetCDF, or GRIB messages \
                 from one dataDate/dataTime at several steps): analyses are given with --truth",
                path.display()
            )
        })?;
        let times = h
            .time
            .valid_times()
            .ok_or_else(|| format!("{}: no valid times", path.display()))?;
        let lead_hours = times
            .iter()
            .map(|t| (*t - reference_time).num_seconds() as f64 / 3600.0)
            .collect();
        let mut columns = Vec::new();
        let mut boundary_band = None;
        for (v, info) in h.variables.iter().enumerate() {
            if info.name == BOUNDARY_BAND {
                let flags = source.read(v, 0).map_err(|e| e.to_string())?;
                boundary_band = Some(flags[..h.grid.len()].iter().map(|&f| f > 0.5).collect());
                continue;
            }
            for l in 0..info.levels.len() {
                let key = ParameterKey::of_variable(info, l);
                columns.push(ForecastColumn {
                    name: key.name.clone(),
                    key,
                    units: info.units.clone(),
                    standard_name: info.standard_name.clone(),
                    variable: v,
                    level: l,
                });
            }
        }
        let said = provenance(path, detect(path).ok());
        if let Some(band) = said.band {
            if band.len() != h.grid.len() {
                return Err(format!(
                    "{}: its boundary band has {} points, its grid {}",
                    path.display(),
                    band.len(),
                    h.grid.len()
                ));
            }
            boundary_band = Some(band);
        }
        let (training_period, validation_period) = (said.training, said.validation);
        Ok(Self {
            path: path.to_owned(),
            reference_time,
            lead_hours,
            grid: h.grid.clone(),
            columns,
            training_period,
            validation_period,
            boundary_band,
            model: said.model,
            source,
        })
    }

    /// Valid times of the forecast (reference time plus each lead).
    pub fn valid_times(&self) -> Vec<DateTime<Utc>> {
        self.lead_hours
            .iter()
            .map(|h| self.reference_time + TimeDelta::seconds((h * 3600.0).round() as i64))
            .collect()
    }

    /// The column named `name`.
    pub fn column(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name == name)
    }

    /// The field of column `c` at lead index `k` (member 0).
    pub fn field(&self, c: usize, k: usize) -> Result<Vec<f32>, String> {
        let column = &self.columns[c];
        let slab = self.source.read(column.variable, k).map_err(|e| e.to_string())?;
        let n = self.grid.len();
        let offset = column.level * self.source.header().members.len() * n;
        Ok(slab[offset..offset + n].to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_read_back_as_the_forecast_writes_them() {
        let (a, b) = parse_period("1996-01-05T00:00:00Z to 1996-01-15T18:00:00Z").unwrap();
        assert_eq!(a.to_rfc3339(), "1996-01-05T00:00:00+00:00");
        assert_eq!(b.to_rfc3339(), "1996-01-15T18:00:00+00:00");
        assert_eq!(parse_period("? to ?"), None);
        assert_eq!(parse_period("1996-01-05T00:00:00Z"), None);
    }
}
