//! Top-of-atmosphere incident solar radiation from date and position, so that forecasts need
//! no radiation input file. Solar geometry from Spencer's Fourier series (NOAA's solar
//! calculator uses the same), accurate to a fraction of a percent for flux.

use chrono::{DateTime, Datelike, Timelike, Utc};

/// Total solar irradiance at 1 AU, W m⁻².
pub const SOLAR_CONSTANT: f64 = 1361.0;

/// Declination (radians), equation of time (minutes) and (1 AU / r)² at `time`.
pub fn solar_geometry(time: DateTime<Utc>) -> (f64, f64, f64) {
    let days_in_year = if time.date_naive().leap_year() { 366.0 } else { 365.0 };
    let hours = time.hour() as f64 + time.minute() as f64 / 60.0 + time.second() as f64 / 3600.0;
    let g = 2.0 * std::f64::consts::PI / days_in_year * (time.ordinal0() as f64 + (hours - 12.0) / 24.0);
    let declination = 0.006918 - 0.399912 * g.cos() + 0.070257 * g.sin() - 0.006758 * (2.0 * g).cos()
        + 0.000907 * (2.0 * g).sin()
        - 0.002697 * (3.0 * g).cos()
        + 0.00148 * (3.0 * g).sin();
    let equation_of_time = 229.18
        * (0.000075 + 0.001868 * g.cos()
            - 0.032077 * g.sin()
            - 0.014615 * (2.0 * g).cos()
            - 0.040849 * (2.0 * g).sin());
    let distance_factor =
        1.000110 + 0.034221 * g.cos() + 0.001280 * g.sin() + 0.000719 * (2.0 * g).cos() + 0.000077 * (2.0 * g).sin();
    (declination, equation_of_time, distance_factor)
}

/// Instantaneous incident flux (W m⁻²) at latitude and longitude in degrees.
pub fn toa_incident_flux(lat: f64, lon: f64, time: DateTime<Utc>) -> f64 {
    let (declination, equation_of_time, distance_factor) = solar_geometry(time);
    let minutes = time.hour() as f64 * 60.0 + time.minute() as f64 + time.second() as f64 / 60.0;
    let solar_time = minutes + equation_of_time + 4.0 * lon;
    let hour_angle = (solar_time / 4.0 - 180.0).to_radians();
    let lat = lat.to_radians();
    let cos_zenith = lat.sin() * declination.sin() + lat.cos() * declination.cos() * hour_angle.cos();
    SOLAR_CONSTANT * distance_factor * cos_zenith.max(0.0)
}

/// Mean flux over the hour ending at `time` (ERA5's `tisr` divided by 3600 s), by the midpoint
/// rule on 12 five-minute intervals.
pub fn toa_incident_hourly_mean(lat: f64, lon: f64, time: DateTime<Utc>) -> f64 {
    let n = 12;
    (0..n)
        .map(|k| {
            let offset = chrono::TimeDelta::seconds(3600 - (2 * k + 1) * 3600 / (2 * n));
            toa_incident_flux(lat, lon, time - offset)
        })
        .sum::<f64>()
        / n as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeDelta, TimeZone};

    fn daily_mean(lat: f64, lon: f64, day: DateTime<Utc>) -> f64 {
        let n = 24 * 60;
        (0..n)
            .map(|m| toa_incident_flux(lat, lon, day + TimeDelta::minutes(m)))
            .sum::<f64>()
            / n as f64
    }

    #[test]
    fn equator_at_the_march_equinox() {
        let day = Utc.with_ymd_and_hms(2024, 3, 20, 0, 0, 0).unwrap();
        let (_, _, distance_factor) = solar_geometry(day + TimeDelta::hours(12));
        let expected = SOLAR_CONSTANT / std::f64::consts::PI * distance_factor;
        let mean = daily_mean(0.0, 0.0, day);
        assert!((mean / expected - 1.0).abs() < 0.01, "{mean} vs {expected}");
        assert!((mean - 436.0).abs() < 5.0, "{mean}");
    }

    #[test]
    fn night_and_polar_night_are_dark() {
        // Midnight UTC at the Greenwich meridian.
        assert_eq!(
            toa_incident_flux(0.0, 0.0, Utc.with_ymd_and_hms(2024, 6, 1, 0, 0, 0).unwrap()),
            0.0
        );
        let day = Utc.with_ymd_and_hms(2024, 12, 21, 0, 0, 0).unwrap();
        for lon in [0.0, 90.0, 200.0] {
            assert_eq!(daily_mean(80.0, lon, day), 0.0);
        }
        // …while at 80°S the Sun never sets, and noon beats midnight.
        assert!(toa_incident_flux(-80.0, 0.0, day) > 0.0);
        // Equator near noon at the December solstice: the Sun stands 23.4° from the zenith, and
        // the Earth is near perihelion.
        let (declination, _, distance_factor) = solar_geometry(day + TimeDelta::hours(12));
        let expected = SOLAR_CONSTANT * distance_factor * declination.cos();
        let noon = (0..60)
            .map(|m| toa_incident_flux(0.0, 0.0, day + TimeDelta::minutes(11 * 60 + 30 + m)))
            .fold(0.0, f64::max);
        assert!((noon / expected - 1.0).abs() < 1e-3, "{noon} vs {expected}");
    }

    #[test]
    fn hourly_mean_lies_between_its_ends() {
        let t = Utc.with_ymd_and_hms(2024, 6, 1, 9, 0, 0).unwrap();
        let (a, b) = (
            toa_incident_flux(50.0, 0.0, t - TimeDelta::hours(1)),
            toa_incident_flux(50.0, 0.0, t),
        );
        let m = toa_incident_hourly_mean(50.0, 0.0, t);
        assert!(a < m && m < b, "{a} {m} {b}");
    }
}
