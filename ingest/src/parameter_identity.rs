//! Which variable a field is, whatever a file calls it. The Copernicus CDS names 2 m
//! temperature `t2m` in NetCDF, ecCodes `2t` in GRIB, a store ingested from either `2t`; all are
//! ECMWF parameter 167, CF's `air_temperature` 2 m above ground. Fields are matched by that
//! identity and their level, not by one file's spelling: ecCodes is asked what a short name's
//! parameter is (its paramId and the NetCDF name it gives it), rather than a table of ours.

use std::collections::HashMap;
use std::ffi::CStr;
use std::path::PathBuf;
use std::sync::Mutex;

use eccodes::{CodesHandle, FallibleStreamingIterator, KeyRead, KeyWrite, ProductKind};

use crate::fields::{LevelType, VariableInfo};
use crate::grib_reader::ECCODES;
use crate::store::Column;

/// What ecCodes knows of a short name.
#[derive(Clone, Debug, PartialEq)]
pub struct EccodesParameter {
    pub param_id: i64,
    /// The name ecCodes (and so the CDS and cfgrib) gives it in NetCDF: `t2m` for `2t`.
    pub cf_var_name: String,
}

/// Where this ecCodes keeps its samples (it knows; distributions differ).
pub fn samples_path() -> PathBuf {
    if let Some(p) = std::env::var_os("ECCODES_SAMPLES_PATH") {
        return PathBuf::from(p);
    }
    // SAFETY: a null context asks for ecCodes' default one; the returned string is owned by it.
    let p = unsafe { eccodes_sys::codes_samples_path(std::ptr::null()) };
    if p.is_null() {
        return PathBuf::from("/usr/share/eccodes/samples");
    }
    PathBuf::from(unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned())
}

static KNOWN: Mutex<Option<HashMap<String, Option<EccodesParameter>>>> = Mutex::new(None);

/// The parameter ecCodes means by `short_name` (in GRIB2, which names ECMWF's and WMO's
/// parameters alike); None when it knows no such short name.
pub fn eccodes_parameter(short_name: &str) -> Option<EccodesParameter> {
    let mut known = KNOWN.lock().unwrap_or_else(|e| e.into_inner());
    let known = known.get_or_insert_with(HashMap::new);
    if let Some(p) = known.get(short_name) {
        return p.clone();
    }
    let found = look_up(short_name);
    known.insert(short_name.to_owned(), found.clone());
    found
}

fn look_up(short_name: &str) -> Option<EccodesParameter> {
    if short_name.is_empty() {
        return None;
    }
    let _guard = ECCODES.lock().unwrap_or_else(|e| e.into_inner());
    crate::eccodes_log::capture();
    let sample = samples_path().join("GRIB2.tmpl");
    let mut handle = CodesHandle::new_from_file(&sample, ProductKind::GRIB).ok()?;
    let mut message = handle.next().ok()??.try_clone().ok()?;
    message.write_key("shortName", short_name).ok()?;
    let back: String = message.read_key("shortName").ok()?;
    crate::eccodes_log::clear();
    (back == short_name).then(|| {
        Some(EccodesParameter {
            param_id: message.read_key("paramId").ok()?,
            cf_var_name: message.read_key("cfVarName").ok()?,
        })
    })?
}

/// A field's identity as far as a file or store tells it.
#[derive(Clone, Debug)]
pub struct ParameterKey {
    /// The column name: `2t`, `t_850`.
    pub name: String,
    /// The variable's own name: `2t`, `t2m`, `t`.
    pub variable: String,
    /// None for single-level fields; the vertical coordinate's label and the level otherwise.
    pub level: Option<(String, f64)>,
    pub standard_name: Option<String>,
    pub param_id: Option<i64>,
}

impl ParameterKey {
    pub fn of_column(c: &Column) -> Self {
        Self {
            name: c.name.clone(),
            variable: c.variable.clone(),
            level: (c.level_type != LevelType::Surface.label()).then(|| (c.level_type.clone(), c.level)),
            standard_name: c.standard_name.clone(),
            param_id: None,
        }
    }

    /// The key of `info` at its `level`-th level.
    pub fn of_variable(info: &VariableInfo, level: usize) -> Self {
        let surface = info.level_type == LevelType::Surface;
        Self {
            name: info.level_names()[if surface { 0 } else { level }].clone(),
            variable: info.name.clone(),
            level: (!surface).then(|| (info.level_type.label().to_owned(), info.levels[level])),
            standard_name: info.standard_name.clone(),
            param_id: info.param_id,
        }
    }

    /// The paramId: the file's own, else ecCodes' for the variable read as a short name.
    fn param_id(&self) -> Option<i64> {
        self.param_id
            .or_else(|| eccodes_parameter(&self.variable).map(|p| p.param_id))
    }
}

/// How two fields were found to be the same variable, strongest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Match {
    Name,
    ParamId,
    /// One names it as ecCodes does in NetCDF (`t2m`), the other in GRIB (`2t`).
    NetcdfName,
    /// Only the CF standard name (and the level) agree: good enough when it is the only
    /// candidate, ambiguous otherwise (`air_temperature` is also the skin temperature's).
    StandardName,
}

/// Whether `a` and `b` are the same variable on the same level, and by what.
pub fn same_parameter(a: &ParameterKey, b: &ParameterKey) -> Option<Match> {
    let same_level = match (&a.level, &b.level) {
        (None, None) => true,
        (Some((ta, la)), Some((tb, lb))) => ta == tb && (la - lb).abs() < 1e-6,
        _ => false,
    };
    if !same_level {
        return None;
    }
    if a.name == b.name || a.variable == b.variable {
        return Some(Match::Name);
    }
    if let (Some(x), Some(y)) = (a.param_id(), b.param_id()) {
        return (x == y).then_some(Match::ParamId);
    }
    let netcdf_name = |k: &ParameterKey| eccodes_parameter(&k.variable).map(|p| p.cf_var_name);
    if netcdf_name(a).is_some_and(|n| n == b.variable) || netcdf_name(b).is_some_and(|n| n == a.variable) {
        return Some(Match::NetcdfName);
    }
    match (&a.standard_name, &b.standard_name) {
        (Some(x), Some(y)) if x == y => Some(Match::StandardName),
        _ => None,
    }
}

/// The one candidate that is `wanted`: the strongest match, refused when two candidates match
/// equally strongly (two `air_temperature` single-level fields, say). Err names them.
pub fn find_parameter<'a>(
    wanted: &ParameterKey,
    candidates: impl IntoIterator<Item = &'a ParameterKey>,
) -> Result<Option<usize>, String> {
    let mut best: Option<(Match, Vec<(usize, &ParameterKey)>)> = None;
    for (i, c) in candidates.into_iter().enumerate() {
        let Some(m) = same_parameter(wanted, c) else { continue };
        match &mut best {
            Some((b, list)) if *b == m => list.push((i, c)),
            Some((b, _)) if *b < m => {}
            _ => best = Some((m, vec![(i, c)])),
        }
    }
    match best {
        None => Ok(None),
        Some((_, list)) if list.len() == 1 => Ok(Some(list[0].0)),
        Some((m, list)) => Err(format!(
            "{} is ambiguous: {} all match it by {}",
            wanted.name,
            list.iter().map(|(_, c)| c.name.as_str()).collect::<Vec<_>>().join(", "),
            match m {
                Match::Name => "name",
                Match::ParamId => "paramId",
                Match::NetcdfName => "NetCDF name",
                Match::StandardName => "CF standard name and level",
            }
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(
        name: &str,
        variable: &str,
        level: Option<(&str, f64)>,
        standard: Option<&str>,
        id: Option<i64>,
    ) -> ParameterKey {
        ParameterKey {
            name: name.into(),
            variable: variable.into(),
            level: level.map(|(t, l)| (t.into(), l)),
            standard_name: standard.map(Into::into),
            param_id: id,
        }
    }

    #[test]
    fn ecmwf_short_names_are_looked_up_in_eccodes() {
        let t2 = eccodes_parameter("2t").expect("ecCodes knows 2t");
        assert_eq!((t2.param_id, t2.cf_var_name.as_str()), (167, "t2m"));
        assert_eq!(eccodes_parameter("10u").unwrap().cf_var_name, "u10");
        assert_eq!(eccodes_parameter("msl").unwrap().param_id, 151);
        assert_eq!(eccodes_parameter("no_such_parameter_xyz"), None);
    }

    #[test]
    fn cds_netcdf_names_match_grib_short_names() {
        let store = key("2t", "2t", None, Some("air_temperature"), None);
        let cds = key("t2m", "t2m", None, None, None);
        assert_eq!(same_parameter(&store, &cds), Some(Match::NetcdfName));
        let grib = key("2t", "2t", None, None, Some(167));
        assert_eq!(same_parameter(&grib, &store), Some(Match::Name));
        let renamed = key("temp2", "temp2", None, None, Some(167));
        assert_eq!(same_parameter(&store, &renamed), Some(Match::ParamId));
        // A different parameter with the same standard name is not 2 m temperature.
        let skin = key("skt", "skt", None, Some("air_temperature"), Some(235));
        assert_eq!(same_parameter(&store, &skin), None);
    }

    #[test]
    fn levels_must_agree() {
        let t850 = key("t_850", "t", Some(("pressure_level", 850.0)), None, None);
        let t500 = key("t_500", "t", Some(("pressure_level", 500.0)), None, None);
        let surface_u = key("u", "u", None, None, None);
        let u500 = key("u_500", "u", Some(("pressure_level", 500.0)), None, None);
        assert_eq!(same_parameter(&t850, &t500), None);
        assert_eq!(same_parameter(&surface_u, &u500), None);
        assert_eq!(same_parameter(&t850, &t850.clone()), Some(Match::Name));
    }

    #[test]
    fn a_standard_name_alone_must_be_unique() {
        let wanted = key("tas", "tas", None, Some("air_temperature"), None);
        let one = [key("air", "air", None, Some("air_temperature"), None)];
        assert_eq!(find_parameter(&wanted, &one), Ok(Some(0)));
        let two = [
            key("air", "air", None, Some("air_temperature"), None),
            key("tsurf", "tsurf", None, Some("air_temperature"), None),
        ];
        let e = find_parameter(&wanted, &two).unwrap_err();
        assert!(e.contains("ambiguous") && e.contains("air, tsurf"), "{e}");
        // A stronger match wins over standard names.
        let three = [two[0].clone(), key("tas", "tas", None, None, None), two[1].clone()];
        assert_eq!(find_parameter(&wanted, &three), Ok(Some(1)));
    }
}
