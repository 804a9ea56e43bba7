//! What the ingest config supplies for files that lack CF metadata.
//!
//! Real files often carry no units, no time origin, or a time axis under an unusual name
//! (the 1996 blizzard analyses have `timestep` in hours and a text `reftime`). Hints fill
//! those gaps; where the file *does* say something, a hint overrides it, and says so in provenance
//! — except units: a hint describes the file, so one that contradicts units the file states
//! clearly (°C labelled K) is refused; converting is `[[variables]] units`' job.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

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
        }
        Ok(())
    }
}
