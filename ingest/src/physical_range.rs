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
/// NetCDF spellings of CDS and NCEP files.
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
        &["K", "kelvin"],
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
        &["m s**-1", "m s-1", "m/s"],
        -250.0,
        250.0,
    ),
    (
        &["z", "hgt_z"],
        &["geopotential"],
        &["m**2 s**-2", "m2 s-2", "m^2/s^2"],
        -1.0e4,
        6.5e5,
    ),
    (
        &["q", "shum"],
        &["specific_humidity"],
        &["kg kg**-1", "kg kg-1", "kg/kg", "1"],
        -1.0e-3,
        0.1,
    ),
    (
        &["tcwv", "pr_wtr", "tcw"],
        &[
            "atmosphere_mass_content_of_water_vapor",
            "lwe_thickness_of_atmosphere_mass_content_of_water_vapor",
        ],
        &["kg m**-2", "kg m-2", "kg/m^2", "mm"],
        -1.0,
        200.0,
    ),
];

/// The physical range of a store column when vejr knows one for its variable *and* its units
/// (a temperature in °C has its own range: the units check refuses or converts it first).
pub fn default_range(column: &Column) -> Option<RangeInclusive<f64>> {
    let units = column.units.as_deref()?.trim();
    BOUNDS
        .iter()
        .find(|(names, standard_names, _, _, _)| {
            names.contains(&column.variable.as_str())
                || column
                    .standard_name
                    .as_deref()
                    .is_some_and(|s| standard_names.contains(&s))
        })
        .filter(|(_, _, known_units, _, _)| known_units.contains(&units))
        .map(|&(_, _, _, min, max)| min..=max)
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
        // °C temperatures and unknown variables have no range here: only finiteness is checked.
        assert_eq!(default_range(&column("2t", "degC")), None);
        assert_eq!(default_range(&column("lsm", "1")), None);
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
