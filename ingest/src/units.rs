//! Converting a field from the units its file gives to the units of the store or checkpoint,
//! through UNIDATA's udunits2 (the library CF's `units` attribute is defined by), so that a
//! file in °C, hPa or per cent becomes kelvin, pascal or a fraction with one line saying so,
//! and a file in units that do not convert is refused instead of being read as the wrong ones.
//!
//! Only strings that differ reach udunits: identical spellings (including GRIB's `~` and
//! `Numeric`) need no database. Geopotential height in metres becomes geopotential (×g) only
//! when the caller knows the field *is* geopotential height (its standard name or `gpm`): a
//! plain metre is not an energy per unit mass.

use std::ffi::{CString, c_char, c_int, c_void};
use std::sync::Mutex;

/// WMO standard gravity, the constant ECMWF and CF use between geopotential and its height.
pub const STANDARD_GRAVITY: f64 = 9.80665;

/// `to = scale · from + offset`: every conversion between CF units of the same quantity is
/// affine (logarithmic units are refused).
#[derive(Clone, Debug, PartialEq)]
pub struct Conversion {
    pub from: String,
    pub to: String,
    pub scale: f64,
    pub offset: f64,
}

impl Conversion {
    pub fn apply(&self, values: &mut [f32]) {
        for v in values {
            *v = (self.scale * *v as f64 + self.offset) as f32;
        }
    }

    /// `degC → K (+273.15)`, `hPa → Pa (×100)`.
    pub fn describe(&self) -> String {
        let mut how = Vec::new();
        if self.scale != 1.0 {
            how.push(format!("×{}", trim(self.scale)));
        }
        if self.offset != 0.0 {
            how.push(format!("{:+}", trim(self.offset)).replace("+-", "-"));
        }
        format!("{} → {} ({})", self.from, self.to, how.join(", "))
    }
}

/// Rounds away binary noise (`0.01` from udunits is 0.010000000000000002).
fn trim(x: f64) -> f64 {
    format!("{x:.12}").parse().unwrap_or(x)
}

/// What a field is, beyond its units, where that decides a conversion.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Quantity {
    /// The field is geopotential height (CF `geopotential_height`, GRIB `gh`, units `gpm`).
    pub is_geopotential_height: bool,
}

/// How to turn values in `from` into values in `to`: `Ok(None)` when nothing changes.
pub fn conversion(from: &str, to: &str, quantity: Quantity) -> Result<Option<Conversion>, String> {
    let (a, b) = (normalise(from), normalise(to));
    if a == b {
        return Ok(None);
    }
    let mut units = UNITS.lock().unwrap_or_else(|p| p.into_inner());
    let system = units.system()?;
    let affine = |a: &str, b: &str| -> Result<(f64, f64), String> {
        // SAFETY: the system lives as long as the process; every unit and converter made here
        // is freed here, and the mutex keeps udunits' global status to one thread at a time.
        unsafe {
            let (ua, ub) = (parse(system, a)?, parse(system, b)?);
            let result = if ut_are_convertible(ua, ub) == 0 {
                Err(format!("{from:?} does not convert to {to:?}"))
            } else {
                let converter = ut_get_converter(ua, ub);
                let at = |x: f64| cv_convert_double(converter, x);
                let (offset, scale) = (at(0.0), at(1.0) - at(0.0));
                let linear = (at(1000.0) - (offset + 1000.0 * scale)).abs() <= 1e-9 * (1.0 + at(1000.0).abs());
                cv_free(converter);
                if linear {
                    Ok((scale, offset))
                } else {
                    Err(format!("{from:?} → {to:?} is not a linear conversion"))
                }
            };
            ut_free(ua);
            ut_free(ub);
            result
        }
    };
    // Geopotential height ↔ geopotential, through the metre, only when explicit.
    let scale_of = |x: &str, y: &str| affine(x, y).ok().filter(|&(_, o)| o == 0.0).map(|(s, _)| s);
    let (scale, offset) = match affine(&a, &b) {
        Ok(found) => found,
        Err(refusal) => {
            let up = scale_of(&a, "m").zip(scale_of("m2 s-2", &b)).map(|(s, t)| s * t);
            let down = scale_of(&a, "m2 s-2").zip(scale_of("m", &b)).map(|(s, t)| s * t);
            match (up, down) {
                (Some(s), _) if quantity.is_geopotential_height => (s * STANDARD_GRAVITY, 0.0),
                (_, Some(s)) if quantity.is_geopotential_height => (s / STANDARD_GRAVITY, 0.0),
                (None, None) => return Err(refusal),
                _ => {
                    return Err(format!(
                        "{refusal}: a height converts to geopotential (×g) only when the variable is \
                         geopotential height (standard_name = \"geopotential_height\" or units \"gpm\")"
                    ));
                }
            }
        }
    };
    if scale == 1.0 && offset == 0.0 {
        return Ok(None);
    }
    Ok(Some(Conversion {
        from: from.trim().to_owned(),
        to: to.trim().to_owned(),
        scale,
        offset,
    }))
}

/// How a field whose file gives `source` units becomes one in `target` units (`whose` names
/// the target's owner in the refusal: "the store's", "the checkpoint's"). A field without units
/// cannot be checked against units, and one with units cannot enter a variable without them.
pub fn field_conversion(
    source: Option<&str>,
    target: Option<&str>,
    standard_name: Option<&str>,
    whose: &str,
) -> Result<Option<Conversion>, String> {
    match (source.map(str::trim), target.map(str::trim)) {
        (None, None) => Ok(None),
        (Some(s), None) => Err(format!("has units {s:?} where {whose} variable has none")),
        (None, Some(t)) => Err(format!(
            "has no units where {whose} are {t:?} (give the file's in the config: variables.NAME.units)"
        )),
        (Some(s), Some(t)) => {
            let quantity = Quantity {
                is_geopotential_height: standard_name == Some("geopotential_height") || s == "gpm",
            };
            conversion(s, t, quantity).map_err(|e| format!("is in {s:?}, {whose} units are {t:?}: {e}"))
        }
    }
}

/// Whether `a` and `b` name the same units (`m s-1` and `m s**-1`); false when either is not
/// a unit udunits knows and the spellings differ.
pub fn equivalent(a: &str, b: &str) -> bool {
    matches!(conversion(a, b, Quantity::default()), Ok(None))
}

/// Whether udunits reads `units` (GRIB's `~` and misspellings it does not).
pub fn known(units: &str) -> bool {
    let mut guard = UNITS.lock().unwrap_or_else(|p| p.into_inner());
    let Ok(system) = guard.system() else { return false };
    // SAFETY: as in `conversion`.
    unsafe { parse(system, &normalise(units)).map(|u| ut_free(u)).is_ok() }
}

/// Spellings udunits does not read but real files use.
fn normalise(units: &str) -> String {
    match units.trim() {
        // GRIB's fractions (cloud cover, sea-ice cover).
        "(0 - 1)" | "0-1" | "fraction" => "1".into(),
        // Geopotential metres: the height, in metres (the ×g is the quantity's, not the unit's).
        "gpm" => "m".into(),
        "per cent" => "%".into(),
        other => other.to_owned(),
    }
}

/// # Safety
/// `system` must be a live unit system.
unsafe fn parse(system: *const c_void, units: &str) -> Result<*mut c_void, String> {
    let text = CString::new(units).map_err(|_| format!("units {units:?} contain a NUL byte"))?;
    // SAFETY: `text` is a NUL-terminated string that outlives the call.
    let unit = unsafe { ut_parse(system, text.as_ptr(), UT_UTF8) };
    if unit.is_null() {
        Err(format!("{units:?} are not units udunits knows"))
    } else {
        Ok(unit)
    }
}

/// The udunits2 database, read once when a conversion first needs it.
struct Units {
    system: Option<Result<usize, String>>,
}

impl Units {
    fn system(&mut self) -> Result<*const c_void, String> {
        let loaded = self.system.get_or_insert_with(|| {
            // SAFETY: both are plain calls into udunits; ut_ignore keeps its messages off stderr
            // (vejr's errors are one line) and the database path comes from UDUNITS2_XML_PATH
            // or the library's default.
            unsafe {
                ut_set_error_message_handler(ut_ignore);
                let system = ut_read_xml(std::ptr::null());
                if system.is_null() {
                    Err(format!(
                        "cannot read the udunits2 units database ({}): install libudunits2-data or set UDUNITS2_XML_PATH",
                        std::env::var("UDUNITS2_XML_PATH").unwrap_or_else(|_| "/usr/share/xml/udunits/udunits2.xml".into())
                    ))
                } else {
                    Ok(system as usize)
                }
            }
        });
        loaded.clone().map(|address| address as *const c_void)
    }
}

static UNITS: Mutex<Units> = Mutex::new(Units { system: None });

const UT_UTF8: c_int = 2;

type ErrorMessageHandler = unsafe extern "C" fn(*const c_char, *mut c_void) -> c_int;

#[link(name = "udunits2")]
unsafe extern "C" {
    fn ut_read_xml(path: *const c_char) -> *mut c_void;
    fn ut_parse(system: *const c_void, string: *const c_char, encoding: c_int) -> *mut c_void;
    fn ut_free(unit: *mut c_void);
    fn ut_are_convertible(a: *const c_void, b: *const c_void) -> c_int;
    fn ut_get_converter(from: *mut c_void, to: *mut c_void) -> *mut c_void;
    fn cv_convert_double(converter: *const c_void, value: f64) -> f64;
    fn cv_free(converter: *mut c_void);
    fn ut_set_error_message_handler(handler: ErrorMessageHandler) -> ErrorMessageHandler;
    fn ut_ignore(fmt: *const c_char, args: *mut c_void) -> c_int;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn convert(from: &str, to: &str, x: f32) -> f32 {
        let mut v = [x];
        if let Some(c) = conversion(from, to, Quantity::default()).unwrap() {
            c.apply(&mut v);
        }
        v[0]
    }

    #[test]
    fn the_issue_s_conversions() {
        for celsius in ["degC", "Celsius", "°C", "degree_Celsius"] {
            assert!((convert(celsius, "K", 7.7) - 280.85).abs() < 1e-4, "{celsius}");
        }
        assert!((convert("K", "degC", 273.15)).abs() < 1e-4);
        assert_eq!(convert("hPa", "Pa", 1013.25), 101325.0);
        assert_eq!(convert("Pa", "hPa", 101325.0), 1013.25);
        assert_eq!(convert("%", "1", 55.0), 0.55);
        assert_eq!(convert("(0 - 1)", "%", 0.25), 25.0);
        let c = conversion("degC", "K", Quantity::default()).unwrap().unwrap();
        assert_eq!(c.describe(), "degC → K (+273.15)");
        let c = conversion("hPa", "Pa", Quantity::default()).unwrap().unwrap();
        assert_eq!(c.describe(), "hPa → Pa (×100)");
    }

    #[test]
    fn spellings_of_the_same_units_need_no_conversion() {
        for (a, b) in [
            ("m s-1", "m s**-1"),
            ("m/s", "m s**-1"),
            ("kg kg**-1", "kg/kg"),
            ("m**2 s**-2", "m2 s-2"),
            ("kelvin", "K"),
            ("Numeric", "Numeric"),
            ("~", "~"),
        ] {
            assert_eq!(conversion(a, b, Quantity::default()), Ok(None), "{a} {b}");
            assert!(equivalent(a, b));
        }
    }

    #[test]
    fn units_that_do_not_convert_are_refused() {
        let refused = |a: &str, b: &str| conversion(a, b, Quantity::default()).unwrap_err();
        assert!(refused("K", "Pa").contains("does not convert"));
        assert!(refused("bananas", "m s-1").contains("not units udunits knows"));
        assert!(refused("~", "K").contains("not units udunits knows"));
        // A height is not geopotential unless the variable says it is geopotential height.
        assert!(refused("m", "m**2 s**-2").contains("standard_name = \"geopotential_height\""));
        assert!(!equivalent("K", "degC"));
    }

    #[test]
    fn geopotential_height_converts_through_standard_gravity_only_when_explicit() {
        let height = Quantity {
            is_geopotential_height: true,
        };
        let c = conversion("gpm", "m**2 s**-2", height).unwrap().unwrap();
        assert_eq!((c.scale, c.offset), (STANDARD_GRAVITY, 0.0));
        let c = conversion("dam", "m2 s-2", height).unwrap().unwrap();
        assert!((c.scale - 10.0 * STANDARD_GRAVITY).abs() < 1e-9);
        let c = conversion("m**2 s**-2", "m", height).unwrap().unwrap();
        assert!((c.scale - 1.0 / STANDARD_GRAVITY).abs() < 1e-12);
        assert!(conversion("K", "m2 s-2", height).is_err());
    }
}
