//! `vejr ingest --config C`: which files, variables, levels and dates go into a training store.

use std::path::{Path, PathBuf};

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{IngestError, Result};
use crate::hints::SourceHints;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IngestConfig {
    pub store: StoreSection,
    /// Groups of files read with the same hints.
    pub sources: Vec<SourceSection>,
    /// What the store holds, in this order.
    pub variables: Vec<VariableSelection>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreSection {
    /// Where the zarr store goes (relative to the config file).
    pub path: PathBuf,
    pub start: Option<DateTime<Utc>>,
    pub end: Option<DateTime<Utc>>,
    /// `6h`, `1h`, `1d`, …: the store keeps the times on this step from `start`.
    pub time_step: String,
    /// Missing time steps are an error unless this is set; the loader never samples across one.
    #[serde(default)]
    pub allow_gaps: bool,
    /// Statistics (and tendency statistics) come from this period only, so that validation
    /// and test years do not leak into the normalisation. Defaults to the whole store.
    pub statistics_start: Option<DateTime<Utc>>,
    pub statistics_end: Option<DateTime<Utc>>,
    /// Interpolate every source onto this regular lat-lon grid.
    pub grid: Option<TargetGrid>,
}

/// The most points a target grid may have: 0.025° global (about 1e8), a hundred times
/// GraphCast's 0.25°; a mistyped resolution (0.0001°) would otherwise ask for terabytes.
pub const MAX_GRID_POINTS: f64 = 1.1e8;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetGrid {
    /// Grid spacing in degrees, e.g. 5.625 or 1.0.
    pub resolution: f64,
    /// `[north, west, south, east]` in degrees; global when absent.
    pub area: Option<[f64; 4]>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceSection {
    /// Paths or glob patterns, relative to the config file.
    pub files: Vec<String>,
    #[serde(flatten)]
    pub hints: SourceHints,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VariableSelection {
    /// The variable's name after hints (`2t`, `t`, `msl`).
    pub name: String,
    /// Levels to keep (hPa); every level the files have when absent.
    pub levels: Option<Vec<f64>>,
    /// `[min, max]` in the store's units: values outside refuse the ingest. When absent, vejr's
    /// own physical range for the variable and its units (`physical_range`), if it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_range: Option<[f64; 2]>,
    /// The units the store keeps this variable in (udunits spelling: `K`, `hPa`, `%`); files in
    /// others are converted. When absent: ERA5's units for a variable vejr knows (`2t` in K,
    /// `msl` in Pa), else the first file's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub units: Option<String>,
}

impl IngestConfig {
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| IngestError::config(path, e.to_string()))?;
        let mut config: IngestConfig =
            toml::from_str(&text).map_err(|e| IngestError::config(path, toml_error(&text, &e)))?;
        let base = path.parent().unwrap_or(Path::new("."));
        config.resolve_paths(base);
        config.validate(path)?;
        Ok(config)
    }

    /// Makes relative paths relative to `base` (the config file's directory).
    pub fn resolve_paths(&mut self, base: &Path) {
        if self.store.path.is_relative() {
            self.store.path = base.join(&self.store.path);
        }
        for source in &mut self.sources {
            for f in &mut source.files {
                if Path::new(f).is_relative() {
                    *f = base.join(&*f).to_string_lossy().into_owned();
                }
            }
        }
    }

    pub fn validate(&self, path: &Path) -> Result<()> {
        let err = |m: String| Err(IngestError::config(path, m));
        let step = self.time_step().map_err(|m| IngestError::config(path, m))?;
        if step <= TimeDelta::zero() {
            return err("store.time_step must be positive".into());
        }
        if let (Some(s), Some(e)) = (self.store.start, self.store.end)
            && e < s
        {
            return err(format!("store.end {e} is before store.start {s}"));
        }
        if self.sources.is_empty() || self.sources.iter().any(|s| s.files.is_empty()) {
            return err("every [[sources]] needs at least one file".into());
        }
        if self.variables.is_empty() {
            return err("no [[variables]] selected".into());
        }
        for v in &self.variables {
            if let Some([lo, hi]) = v.valid_range
                && !(lo.is_finite() && hi.is_finite() && lo < hi)
            {
                return err(format!(
                    "variable {}: valid_range [{lo}, {hi}] must be finite with min < max",
                    v.name
                ));
            }
        }
        if let Some(g) = &self.store.grid {
            if !(g.resolution > 0.0 && g.resolution <= 90.0) {
                return err(format!("store.grid.resolution {} must be in (0, 90]", g.resolution));
            }
            let (north, west, south, east) = match g.area {
                Some([n, w, s, e]) => (n, w, s, e),
                None => (90.0, 0.0, -90.0, 360.0),
            };
            if !([north, south].iter().all(|l| (-90.0..=90.0).contains(l))
                && [west, east].iter().all(|l| (-360.0..=720.0).contains(l))
                && north >= south)
            {
                return err(format!(
                    "store.grid.area [{north}, {west}, {south}, {east}] must be [north, west, south, east] with latitudes in -90..90 (north ≥ south) and longitudes in -360..720"
                ));
            }
            let span = |a: f64, b: f64| (b - a).abs() / g.resolution + 1.0;
            let points = span(south, north) * span(west, if east < west { east + 360.0 } else { east });
            if points > MAX_GRID_POINTS {
                return err(format!(
                    "store.grid.resolution {} gives {points:.3e} grid points, more than the {MAX_GRID_POINTS:.0e} vejr stores (0.25° global is 1.04e6)",
                    g.resolution
                ));
            }
        }
        Ok(())
    }

    pub fn time_step(&self) -> std::result::Result<TimeDelta, String> {
        parse_duration(&self.store.time_step)
    }

    /// Every file named, globs expanded, sorted within each source.
    pub fn files(&self, config_path: &Path) -> Result<Vec<(PathBuf, SourceHints)>> {
        let mut out = Vec::new();
        for source in &self.sources {
            for pattern in &source.files {
                let mut matched: Vec<PathBuf> = glob::glob(pattern)
                    .map_err(|e| IngestError::config(config_path, format!("bad pattern {pattern:?}: {e}")))?
                    .filter_map(|p| p.ok())
                    .collect();
                if matched.is_empty() {
                    return Err(IngestError::config(config_path, format!("no file matches {pattern:?}")));
                }
                matched.sort();
                out.extend(matched.into_iter().map(|p| (p, source.hints.clone())));
            }
        }
        Ok(out)
    }
}

/// A TOML error as one line: `line N: message` (the parser's own text draws the line in ASCII art).
pub fn toml_error(text: &str, error: &toml::de::Error) -> String {
    match error.span() {
        Some(span) => {
            let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
            format!("line {line}: {}", error.message())
        }
        None => error.message().to_owned(),
    }
}

/// `6h`, `30min`, `1d`, `3600s`.
pub fn parse_duration(text: &str) -> std::result::Result<TimeDelta, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let n: i64 = number
        .parse()
        .map_err(|_| format!("duration {text:?} must be a whole number with a unit (6h, 1d)"))?;
    match unit.trim() {
        "d" | "day" | "days" => TimeDelta::try_days(n),
        "h" | "hour" | "hours" => TimeDelta::try_hours(n),
        "min" | "m" | "minutes" => TimeDelta::try_minutes(n),
        "s" | "seconds" => TimeDelta::try_seconds(n),
        other => {
            return Err(format!(
                "unknown unit {other:?} in duration {text:?} (use d, h, min or s)"
            ));
        }
    }
    .ok_or_else(|| format!("duration {text:?} is out of range"))
}

pub fn format_duration(step: TimeDelta) -> String {
    let s = step.num_seconds();
    match s {
        s if s % 86_400 == 0 => format!("{}d", s / 86_400),
        s if s % 3_600 == 0 => format!("{}h", s / 3_600),
        s if s % 60 == 0 => format!("{}min", s / 60),
        s => format!("{s}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("6h").unwrap(), TimeDelta::hours(6));
        assert_eq!(parse_duration("1d").unwrap(), TimeDelta::days(1));
        assert!(parse_duration("6 fortnights").is_err());
        assert!(parse_duration("h").is_err());
        assert_eq!(format_duration(TimeDelta::hours(6)), "6h");
        assert_eq!(format_duration(TimeDelta::days(2)), "2d");
    }

    #[test]
    fn unknown_keys_are_refused_with_the_file_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(
            &path,
            "[store]\npath='x'\ntime_step='6h'\ncolour='red'\n[[sources]]\nfiles=['a']\n[[variables]]\nname='t'\n",
        )
        .unwrap();
        let text = IngestConfig::load(&path).unwrap_err().to_string();
        assert!(
            text.contains("c.toml") && text.contains("line 4: unknown field `colour`"),
            "{text}"
        );
        assert_eq!(text.lines().count(), 1);
    }
}
