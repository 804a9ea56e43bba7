//! What the ingest config supplies for files that lack CF metadata.
//!
//! Real files often carry no units, no time origin, or a time axis under an unusual name
//! (the 1996 blizzard analyses have `timestep` in hours and a text `reftime`). Hints fill
//! those gaps; where the file *does* say something, a hint overrides it, and says so in provenance
//! — except units: a hint describes the file, so one that contradicts units the file states
//! clearly (°C labelled K) is refused; converting is `[[variables]] units`' job.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::fields::LevelType;

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceHints {
    /// Name of the dimension that is time, when it is not `time` or `valid_time`.
    pub time_dimension: Option<String>,
    /// CF time units for that dimension, e.g. `hours since 1996-01-05 00:00`.
    pub time_units: Option<String>,
    pub calendar: Option<String>,
    /// Per-variable metadata, keyed by the variable's name in the file.
    #[serde(default)]
    pub variables: BTreeMap<String, VariableHints>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VariableHints {
    /// The name vejr uses for this variable (`p` in the file → `msl`).
    pub rename: Option<String>,
    pub units: Option<String>,
    pub standard_name: Option<String>,
    pub long_name: Option<String>,
    /// The level of a file variable that has no level axis (the 1996 analyses' `u` in
    /// U500storm.cdf is at 500 hPa): `isobaricInhPa` (or `pressure`), `heightAboveGround`
    /// (metres), `surface`, or another ecCodes typeOfLevel; with `level`.
    pub level_type: Option<String>,
    pub level: Option<f64>,
}

/// The level type a hint names, in vejr's terms.
fn hinted_level_type(name: &str) -> LevelType {
    match name {
        "isobaricInhPa" | "pressure" | "pressure_level" => LevelType::Pressure,
        "surface" => LevelType::Surface,
        "hybrid" | "model_level" => LevelType::Model,
        other => LevelType::Other(other.to_owned()),
    }
}

impl SourceHints {
    pub fn for_variable(&self, file_name: &str) -> Option<&VariableHints> {
        self.variables.get(file_name)
    }

    /// Applies the hints for `file_name`; a units hint that contradicts the file is refused.
    pub(crate) fn apply(&self, file_name: &str, info: &mut crate::fields::VariableInfo) -> Result<(), String> {
        if let Some(h) = self.for_variable(file_name) {
            if let Some(n) = &h.rename {
                info.name = n.clone();
            }
            if let Some(u) = &h.units {
                // Units udunits cannot read (a misspelling) may be corrected; real ones may not.
                if let Some(file) = info.units.as_deref()
                    && crate::units::known(file)
                    && !crate::units::equivalent(file, u)
                {
                    return Err(format!(
                        "the file gives units {file:?}, the config's hint {u:?}: a hint describes the file (remove it), `[[variables]] units = {u:?}` converts"
                    ));
                }
                info.units = Some(u.clone());
            }
            if let Some(s) = &h.standard_name {
                info.standard_name = Some(s.clone());
            }
            if let Some(l) = &h.long_name {
                info.long_name = Some(l.clone());
            }
            if h.level_type.is_some() || h.level.is_some() {
                if info.level_type != LevelType::Surface || info.levels.len() != 1 {
                    return Err(format!(
                        "has its own {} axis ({} levels): level_type and level are for variables without one",
                        info.level_type.label(),
                        info.levels.len()
                    ));
                }
                let level_type = hinted_level_type(h.level_type.as_deref().unwrap_or("isobaricInhPa"));
                match (&level_type, h.level) {
                    (LevelType::Surface, _) => info.levels = vec![0.0],
                    (_, Some(level)) if level.is_finite() && level >= 0.0 => info.levels = vec![level],
                    (_, Some(level)) => return Err(format!("level {level} is not a finite non-negative number")),
                    (_, None) => {
                        return Err(format!(
                            "level_type {:?} needs a level (hPa for pressure, metres for heightAboveGround)",
                            h.level_type.as_deref().unwrap_or_default()
                        ));
                    }
                }
                info.level_type = level_type;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fields::VariableInfo;

    fn info(level_type: LevelType, levels: Vec<f64>) -> VariableInfo {
        VariableInfo {
            name: "u".into(),
            long_name: None,
            standard_name: None,
            units: Some("m s-1".into()),
            level_type,
            levels,
            param_id: None,
        }
    }

    fn hints(level_type: Option<&str>, level: Option<f64>) -> SourceHints {
        let mut h = SourceHints::default();
        h.variables.insert(
            "u".into(),
            VariableHints {
                level_type: level_type.map(str::to_owned),
                level,
                ..Default::default()
            },
        );
        h
    }

    #[test]
    fn a_level_hint_puts_a_single_level_variable_on_its_level() {
        let mut v = info(LevelType::Surface, vec![0.0]);
        hints(Some("isobaricInhPa"), Some(500.0)).apply("u", &mut v).unwrap();
        assert_eq!(
            (v.level_type.clone(), v.levels.clone()),
            (LevelType::Pressure, vec![500.0])
        );
        assert_eq!(v.level_names(), ["u_500"]);

        let mut v = info(LevelType::Surface, vec![0.0]);
        hints(Some("heightAboveGround"), Some(10.0)).apply("u", &mut v).unwrap();
        assert_eq!(v.level_type, LevelType::Other("heightAboveGround".into()));
        assert_eq!(v.levels, vec![10.0]);
    }

    #[test]
    fn a_level_hint_is_refused_where_it_cannot_be_right() {
        let mut levelled = info(LevelType::Pressure, vec![500.0, 850.0]);
        let e = hints(Some("isobaricInhPa"), Some(500.0))
            .apply("u", &mut levelled)
            .unwrap_err();
        assert!(e.contains("has its own pressure_level axis (2 levels)"), "{e}");
        for (kind, level, expected) in [
            (Some("isobaricInhPa"), None, "needs a level"),
            (Some("heightAboveGround"), Some(f64::NAN), "not a finite"),
            (None, Some(-5.0), "not a finite non-negative"),
        ] {
            let mut v = info(LevelType::Surface, vec![0.0]);
            let e = hints(kind, level).apply("u", &mut v).unwrap_err();
            assert!(e.contains(expected), "{kind:?} {level:?}: {e}");
        }
    }
}
