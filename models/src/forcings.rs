//! Forcings known in advance for any time and place: top-of-atmosphere solar radiation, the
//! local time of day and the time of year (each as sine and cosine so midnight and New Year
//! have no seam).

use chrono::{DateTime, Datelike, Timelike, Utc};

use crate::graph::GridPoints;
use crate::solar_radiation::{SOLAR_CONSTANT, toa_incident_hourly_mean};

pub const FORCING_CHANNELS: usize = 5;

/// `[gridpoint][channel]` for one valid time: TOA radiation / S₀, sin and cos of local mean
/// solar time of day, sin and cos of the fraction of the year.
pub fn forcings(grid: &GridPoints, time: DateTime<Utc>) -> Vec<f32> {
    let year_days = if time.date_naive().leap_year() { 366.0 } else { 365.0 };
    let day_fraction = (time.num_seconds_from_midnight() as f64) / 86_400.0;
    let year_fraction = (time.ordinal0() as f64 + day_fraction) / year_days;
    let (sy, cy) = (2.0 * std::f64::consts::PI * year_fraction).sin_cos();
    let mut out = Vec::with_capacity(grid.len() * FORCING_CHANNELS);
    for &lat in &grid.latitudes {
        for &lon in &grid.longitudes {
            let local = (day_fraction + lon / 360.0).rem_euclid(1.0);
            let (sd, cd) = (2.0 * std::f64::consts::PI * local).sin_cos();
            let toa = toa_incident_hourly_mean(lat, lon, time) / SOLAR_CONSTANT;
            out.extend([toa as f32, sd as f32, cd as f32, sy as f32, cy as f32]);
        }
    }
    out
}
