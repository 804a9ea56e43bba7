//! What a vejr GRIB2 forecast says about itself, in the Local Use Section (section 2) of its
//! first message: the checkpoint it came from, the periods that checkpoint was trained and
//! chosen on, and a limited-area model's boundary band. The NetCDF forecast carries the same as
//! global attributes and a `boundary_band` variable; without them `vejr evaluate` would score
//! a GRIB forecast's band (its host's values) as the model's, and mix models unawares.
//!
//! Section 2 is the centre's own by WMO's rules; vejr is no registered centre (originating
//! centre 255), so no reader has local tables for it: ecCodes shows the bytes as
//! `section2Padding` and decodes everything else as before. ecCodes has no key to write a
//! section 2 for such a centre, so it is put into the message ecCodes encoded, after section 1.
//! The first two bytes (ecCodes' `grib2LocalSectionNumber`) are 65535, no local definition.

use serde::{Deserialize, Serialize};

use vejr_ingest::grib2_fields;

const MAGIC: &[u8] = b"\xff\xffvejr-forecast:";

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct GribProvenance {
    pub vejr_version: String,
    pub checkpoint: String,
    pub checkpoint_fnv1a: String,
    pub training_period: String,
    pub validation_period: String,
    /// Runs `[first point, count]` of the boundary band, in the model grid's point order (the
    /// order the forecast is read back in).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub boundary_band_runs: Vec<[usize; 2]>,
    #[serde(default)]
    pub points: usize,
}

impl GribProvenance {
    pub fn with_band(mut self, band: Option<&[bool]>) -> Self {
        self.boundary_band_runs.clear();
        if let Some(band) = band {
            self.points = band.len();
            let mut p = 0;
            while p < band.len() {
                if band[p] {
                    let start = p;
                    while p < band.len() && band[p] {
                        p += 1;
                    }
                    self.boundary_band_runs.push([start, p - start]);
                } else {
                    p += 1;
                }
            }
        }
        self
    }

    /// The band per point, when the forecast has one.
    pub fn band(&self) -> Option<Vec<bool>> {
        if self.boundary_band_runs.is_empty() {
            return None;
        }
        let mut band = vec![false; self.points];
        for &[start, count] in &self.boundary_band_runs {
            band.get_mut(start..start + count)?.iter_mut().for_each(|b| *b = true);
        }
        Some(band)
    }

    /// `message` (a GRIB2 message as ecCodes wrote it) with this record as its section 2.
    pub fn into_message(&self, message: &[u8]) -> Result<Vec<u8>, String> {
        let fields = grib2_fields::fields(message, message.len())?;
        let [_, Some(identification), local, ..] = fields[0] else {
            return Err("the message has no identification section".into());
        };
        let payload = [
            MAGIC,
            serde_json::to_string(self).map_err(|e| e.to_string())?.as_bytes(),
        ]
        .concat();
        let end_of_1 = identification.offset + identification.length;
        // A sample's section 2 (ECMWF's local definition in some of ecCodes' samples) means
        // nothing under centre 255: replaced.
        let rest = local.map_or(end_of_1, |l| l.offset + l.length);
        let mut out = Vec::with_capacity(message.len() + payload.len() + 5);
        out.extend_from_slice(&message[..end_of_1]);
        out.extend_from_slice(&((payload.len() + 5) as u32).to_be_bytes());
        out.push(2);
        out.extend_from_slice(&payload);
        out.extend_from_slice(&message[rest..]);
        let total = out.len() as u64;
        out[8..16].copy_from_slice(&total.to_be_bytes());
        Ok(out)
    }

    /// The record in the first GRIB2 message of a file; None for other files and other
    /// systems' GRIB.
    pub fn read(path: &std::path::Path) -> Option<Self> {
        use std::io::Read;
        let mut head = vec![0u8; 1 << 16];
        let mut file = std::fs::File::open(path).ok()?;
        let n = file.read(&mut head).ok()?;
        head.truncate(n);
        // vejr writes the message first in the file, with nothing before it.
        if head.len() < 16 || &head[..4] != b"GRIB" || head[7] != 2 {
            return None;
        }
        let length = u64::from_be_bytes(head[8..16].try_into().ok()?) as usize;
        let within = grib2_fields::InFile { file: &file, start: 0 };
        let fields = grib2_fields::fields(&within, length).ok()?;
        let local = fields.first()?[2]?;
        let mut bytes = vec![0u8; local.length];
        grib2_fields::MessageBytes::read(&within, local.offset, &mut bytes).ok()?;
        let payload = bytes.get(5..)?.strip_prefix(MAGIC)?;
        serde_json::from_slice(payload).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_band_survives_its_runs() {
        let band = vec![true, true, false, false, true, false, true, true, true];
        let p = GribProvenance::default().with_band(Some(&band));
        assert_eq!(p.boundary_band_runs, vec![[0, 2], [4, 1], [6, 3]]);
        assert_eq!(p.band(), Some(band));
        assert_eq!(GribProvenance::default().with_band(None).band(), None);
    }
}
