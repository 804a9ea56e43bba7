//! The values a variable can physically take, so that a damaged file (a scale factor that
//! decodes to 1e30, a field in the wrong units, a fill value not declared as one) is refused at
//! ingest instead of becoming a store whose mean and standard deviation poison every forecast.
//!
//! The bounds are wide on purpose (every value ERA5 has ever produced lies well inside them):
//! they catch broken data, not extreme weather. A config can set its own per variable
//! (`[[variables]] valid_range = [min, max]`, in the store's units).

use std::ops::RangeInclusive;

use crate::store::Column;

/// `(names, CF standard names, units, min, max)`. Names are ecCodes short names and the common
/// NetCDF spellings of CDS and NCEP files. The units are ERA5's, the ones a store keeps for the
/// variable (`canonical_units`); the range is in them.
type Bound = (
    &'static [&'static str],
    &'static [&'static str],
    &'static [&'static str],
    f64,
    f64,
);

const BOUNDS: &[Bound] = &[
    (
        &[
            "t", "2t", "t2m", "skt", "sst", "d2m", "2d", "stl1", "air", "mx2t", "mn2t",
        ],
        &[
            "air_temperature",
            "dew_point_temperature",
            "surface_temperature",
            "sea_surface_temperature",
        ],
        &["K"],
        150.0,
        350.0,
    ),
    (
        &["msl", "sp", "prmsl", "pres", "slp", "mslp"],
        &[
            "air_pressure_at_mean_sea_level",
            "surface_air_pressure",
            "air_pressure_at_sea_level",
        ],
        &["Pa"],
        1.0e4,
        1.2e5,
    ),
    (
        &["u", "v", "10u", "10v", "u10", "v10", "uwnd", "vwnd", "100u", "100v"],
        &["eastward_wind", "northward_wind"],
        &["m s**-1"],
        -250.0,
        250.0,
    ),
    (&["z", "hgt_z"], &["geopotential"], &["m**2 s**-2"], -1.0e4, 6.5e5),
    (&["q", "shum"], &["specific_humidity"], &["kg kg**-1"], -1.0e-3, 0.1),
    (
        &["tcwv", "pr_wtr", "tcw"],
        &[
            "atmosphere_mass_content_of_water_vapor",
            "lwe_thickness_of_atmosphere_mass_content_of_water_vapor",
        ],
        &["kg m**-2"],
        -1.0,
        200.0,
    ),
    (&["r", "rh", "rhum"], &["relative_humidity"], &["%"], -1.0, 200.0),
    (
        &["tcc", "lcc", "mcc", "hcc", "cc", "ci", "siconc"],
        &["cloud_area_fraction", "sea_ice_area_fraction"],
        &["(0 - 1)"],
        -0.01,
        1.01,
    ),
];

fn known(variable: &str, standard_name: Option<&str>) -> Option<&'static Bound> {
    BOUNDS.iter().find(|(names, standard_names, _, _, _)| {
        names.contains(&variable) || standard_name.is_some_and(|s| standard_names.contains(&s))
    })
}

/// The units a store keeps a variable vejr knows in (ERA5's): files in others are converted.
pub fn canonical_units(variable: &str, standard_name: Option<&str>) -> Option<&'static str> {
    known(variable, standard_name).map(|(_, _, units, _, _)| units[0])
}

/// The physical range of a store column when vejr knows one for its variable, in the column's
/// units (a store kept in °C has its range in °C); none when its units do not convert.
pub fn default_range(column: &Column) -> Option<RangeInclusive<f64>> {
    let units = column.units.as_deref()?;
    let &(_, _, canonical, min, max) = known(&column.variable, column.standard_name.as_deref())?;
    match crate::units::conversion(canonical[0], units, crate::units::Quantity::default()) {
        Ok(None) => Some(min..=max),
        Ok(Some(c)) => {
            let (a, b) = (c.scale * min + c.offset, c.scale * max + c.offset);
            Some(a.min(b)..=a.max(b))
        }
        Err(_) => None,
    }
}

/// What is wrong with one field, if anything: infinite values, then values outside `range`
/// (NaN is a missing point, handled by the mask). One line, with the count and an example.
pub fn check_field(values: &[f32], range: Option<&RangeInclusive<f64>>) -> Option<String> {
    let infinite = values.iter().filter(|v| v.is_infinite()).count();
    if infinite > 0 {
        return Some(format!("{infinite} infinite value(s) of {}", values.len()));
    }
    let range = range?;
    let outside: Vec<f32> = values
        .iter()
        .copied()
        .filter(|v| v.is_finite() && !range.contains(&(*v as f64)))
        .collect();
    let example = outside.iter().copied().fold(None, |worst: Option<f32>, v| {
        let distance = |x: f32| (x as f64 - range.start()).abs().min((x as f64 - range.end()).abs());
        Some(worst.map_or(v, |w| if distance(v) > distance(w) { v } else { w }))
    })?;
    Some(format!(
        "{} value(s) of {} outside the physical range {}..{} (e.g. {example})",
        outside.len(),
        values.len(),
        range.start(),
        range.end()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn column(variable: &str, units: &str) -> Column {
        let mut c = Column::bare(variable, "surface", 0.0);
        c.units = Some(units.into());
        c
    }

    #[test]
    fn ranges_follow_variable_and_units() {
        assert_eq!(default_range(&column("2t", "K")), Some(150.0..=350.0));
        assert_eq!(default_range(&column("msl", "Pa")), Some(1.0e4..=1.2e5));
        assert_eq!(default_range(&column("u", "m s-1")), Some(-250.0..=250.0));
        // In the column's own units when they convert.
        let celsius = default_range(&column("2t", "degC")).unwrap();
        assert!((celsius.start() + 123.15).abs() < 1e-9 && (celsius.end() - 76.85).abs() < 1e-9);
        assert_eq!(default_range(&column("msl", "hPa")), Some(100.0..=1200.0));
        // Unknown variables, and units that do not convert: only finiteness is checked.
        assert_eq!(default_range(&column("2t", "Pa")), None);
        assert_eq!(default_range(&column("lsm", "1")), None);
        assert_eq!(canonical_units("t2m", None), Some("K"));
        assert_eq!(canonical_units("air", Some("air_temperature")), Some("K"));
        assert_eq!(canonical_units("lsm", None), None);
    }

    #[test]
    fn fields_with_inf_or_values_outside_the_range_are_named() {
        let range = 150.0..=350.0;
        assert_eq!(check_field(&[280.0, f32::NAN, 300.0], Some(&range)), None);
        let inf = check_field(&[280.0, f32::INFINITY], Some(&range)).unwrap();
        assert!(inf.starts_with("1 infinite value(s) of 2"), "{inf}");
        let cold = check_field(&[280.0, 2.5, 7.0, 290.0], Some(&range)).unwrap();
        assert_eq!(cold, "2 value(s) of 4 outside the physical range 150..350 (e.g. 2.5)");
        assert!(check_field(&[f32::NEG_INFINITY], None).is_some());
        assert_eq!(check_field(&[1e30], None), None);
    }
}
