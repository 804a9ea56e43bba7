//! A limited-area model's host: where its boundary band's state comes from, in training
//! (`[data] boundary_host`) and in forecasts (`vejr forecast --boundary`, or the `--store`).
//! A store or NetCDF/GRIB files on any grid, interpolated onto the model's; every variable
//! found by what it is and converted to the model's units, every valid time checked up front.

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use vejr_ingest::Grid;
use vejr_ingest::parameter_identity::ParameterKey;
use vejr_ingest::store::Column;
use vejr_ingest::units::{Conversion, field_conversion};

use crate::analyses::Analyses;

pub struct BoundaryHost {
    host: Analyses,
    /// Per model channel: the host's column and the conversion to the model's units.
    channels: Vec<(usize, Option<Conversion>)>,
    /// The host's path(s), for messages and provenance.
    pub description: String,
}

impl BoundaryHost {
    /// The host at `paths` for a model of `columns` on `grid`, and the note saying how it was
    /// interpolated (None when it is on the model's grid).
    pub fn open(paths: &[PathBuf], grid: &Grid, columns: &[Column]) -> Result<(Self, Option<String>), String> {
        let mut host = Analyses::open(paths)?;
        let note = host.interpolate_onto(grid)?;
        let mut problems = Vec::new();
        let mut channels = Vec::new();
        for column in columns {
            let c = match host.find(&ParameterKey::of_column(column)) {
                Ok(Some(c)) => c,
                Ok(None) => {
                    problems.push(format!("{} is not in the host", column.name));
                    continue;
                }
                Err(m) => {
                    problems.push(m);
                    continue;
                }
            };
            let have = &host.columns[c];
            let conversion = match column.units.as_deref() {
                None => None,
                target => {
                    match field_conversion(
                        have.units.as_deref(),
                        target,
                        have.standard_name.as_deref(),
                        "the model's",
                    ) {
                        Ok(conversion) => conversion,
                        Err(m) => {
                            problems.push(format!("{} {m}", have.name));
                            None
                        }
                    }
                }
            };
            channels.push((c, conversion));
        }
        if !problems.is_empty() {
            return Err(format!("boundary from {}: {}", host.description, problems.join("; ")));
        }
        let description = host.description.clone();
        Ok((
            Self {
                host,
                channels,
                description,
            },
            note,
        ))
    }

    /// The valid times of `times` the host has no state at, said in one line; None when it has all.
    pub fn missing(&self, times: &[DateTime<Utc>]) -> Option<String> {
        let missing: Vec<&DateTime<Utc>> = times
            .iter()
            .filter(|t| self.host.times.binary_search(t).is_err())
            .collect();
        let fmt = |t: Option<&DateTime<Utc>>| t.map_or("-".into(), |t| t.format("%Y-%m-%dT%H:%MZ").to_string());
        let (first, last) = (missing.first()?, missing.last()?);
        Some(format!(
            "the host has no state at {} valid time(s) needed ({} to {}); {} runs {} to {}",
            missing.len(),
            fmt(Some(first)),
            fmt(Some(last)),
            self.description,
            fmt(self.host.times.first()),
            fmt(self.host.times.last()),
        ))
    }

    /// The host's state `[point][channel]` valid at `valid`, in the model's units.
    pub fn state(&self, valid: DateTime<Utc>) -> Result<Vec<f32>, String> {
        let c = self.channels.len();
        let points = self.host.points();
        let mut out = vec![0.0f32; points * c];
        for (channel, (column, conversion)) in self.channels.iter().enumerate() {
            let mut field = self
                .host
                .field(*column, valid)?
                .ok_or_else(|| format!("boundary: {} has no state at {valid}", self.description))?;
            if let Some(how) = conversion {
                how.apply(&mut field);
            }
            for (p, v) in field.into_iter().enumerate() {
                out[p * c + channel] = v;
            }
        }
        Ok(out)
    }
}
