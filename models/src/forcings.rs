//! Forcings known in advance for any time and place: top-of-atmosphere solar radiation, the
//! local time of day and the time of year (each as sine and cosine so midnight and New Year
//! have no seam).

use chrono::{DateTime, Datelike, Timelike, Utc};

use crate::graph::GridPoints;
use crate::solar_radiation::{SOLAR_CONSTANT, toa_incident_hourly_mean};

pub const FORCING_CHANNELS: usize = 5;

/// What one model step takes: the forcings at t−Δt, t and t+Δt for the step whose current time
/// is `time`, interleaved per grid point as `[gridpoint][3 × channel]`.
pub fn step_forcings(grid: &GridPoints, time: DateTime<Utc>, step: chrono::TimeDelta) -> Vec<f32> {
    let parts = [time - step, time, time + step].map(|t| forcings(grid, t));
    let mut out = Vec::with_capacity(grid.len() * 3 * FORCING_CHANNELS);
    for p in 0..grid.len() {
        for part in &parts {
            out.extend_from_slice(&part[p * FORCING_CHANNELS..(p + 1) * FORCING_CHANNELS]);
        }
    }
    out
}

/// `[gridpoint][channel]` for one valid time: TOA radiation / S₀, sin and cos of local mean
/// solar time of day, sin and cos of the fraction of the year.
pub fn forcings(grid: &GridPoints, time: DateTime<Utc>) -> Vec<f32> {
    let year_days = if time.date_naive().leap_year() { 366.0 } else { 365.0 };
    let day_fraction = (time.num_seconds_from_midnight() as f64) / 86_400.0;
    let year_fraction = (time.ordinal0() as f64 + day_fraction) / year_days;
    let (sy, cy) = (2.0 * std::f64::consts::PI * year_fraction).sin_cos();
    let mut out = Vec::with_capacity(grid.len() * FORCING_CHANNELS);
    for p in 0..grid.len() {
        let (lat, lon) = grid.lat_lon(p);
        let local = (day_fraction + lon / 360.0).rem_euclid(1.0);
        let (sd, cd) = (2.0 * std::f64::consts::PI * local).sin_cos();
        let toa = toa_incident_hourly_mean(lat, lon, time) / SOLAR_CONSTANT;
        out.extend([toa as f32, sd as f32, cd as f32, sy as f32, cy as f32]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_step_interleaves_previous_current_and_next_per_point() {
        let grid = GridPoints {
            latitudes: vec![50.0, 0.0],
            longitudes: vec![0.0, 90.0, 180.0],
            points: None,
        };
        let now = DateTime::parse_from_rfc3339("2019-03-20T06:00:00Z").unwrap().to_utc();
        let dt = chrono::TimeDelta::hours(6);
        let step = step_forcings(&grid, now, dt);
        assert_eq!(step.len(), grid.len() * 3 * FORCING_CHANNELS);
        for (k, t) in [now - dt, now, now + dt].into_iter().enumerate() {
            let single = forcings(&grid, t);
            for p in 0..grid.len() {
                let at = p * 3 * FORCING_CHANNELS + k * FORCING_CHANNELS;
                assert_eq!(
                    step[at..at + FORCING_CHANNELS],
                    single[p * FORCING_CHANNELS..(p + 1) * FORCING_CHANNELS]
                );
            }
        }
        assert_ne!(
            step[..FORCING_CHANNELS],
            step[FORCING_CHANNELS..2 * FORCING_CHANNELS],
            "times differ"
        );
    }
}
