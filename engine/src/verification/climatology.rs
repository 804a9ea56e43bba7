//! The climatology that ACC's anomalies and the climatology baseline are measured from, as
//! WeatherBench 2 defines it where the data allow: the mean by day of year and hour of day,
//! smoothed over a 61-day window, from a statistics period of several years. A shorter period
//! cannot give a day-of-year mean worth the name, and then it is the mean by hour of day over
//! the period (which at least keeps the diurnal cycle). Which one was used is said.

use std::collections::{BTreeMap, BTreeSet};

use crate::analyses::Analyses;
use chrono::{DateTime, Datelike, Timelike, Utc};

/// The shortest statistics period for a day-of-year climatology (WeatherBench 2 uses 30 years).
pub const MIN_YEARS_FOR_DAY_OF_YEAR: f64 = 3.0;
/// WeatherBench 2's smoothing window.
pub const WINDOW_DAYS: u32 = 61;
/// The fewest days an hour-of-day mean is taken over: fewer is one spell of weather, not a
/// climate, and its ACC and RMSE would say more about those days than about the forecast.
pub const MIN_DAYS: usize = 7;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    DayOfYearAndHour,
    HourOfDay,
}

/// (day of year, 0 for the hour-of-day kind; hour of day).
type Key = (u32, u32);

pub struct Climatology {
    pub kind: Kind,
    /// Why there is none (too few days once the days scored are left out): no climatology
    /// baseline and no ACC.
    pub missing: Option<String>,
    period: (DateTime<Utc>, DateTime<Utc>),
    /// Per key, per store column, the mean field (NaN where no value was seen).
    fields: BTreeMap<Key, Vec<Vec<f32>>>,
}

/// Days between two days of the year on the annual circle.
fn day_distance(a: u32, b: u32) -> u32 {
    let d = a.abs_diff(b) % 365;
    d.min(365 - d)
}

impl Climatology {
    /// From the analyses' statistics period, for the valid times `needed` (a day-of-year
    /// climatology is worked out only for the days scored). The valid times scored are left
    /// out of it: a climatology that holds the verifying analysis itself scores near zero
    /// and makes every ACC meaningless (a truth of one day scored against itself). Too few
    /// days left, and there is no climatology, said in `missing`.
    pub fn from_analyses(analyses: &Analyses, needed: &[DateTime<Utc>]) -> Result<Self, String> {
        let period = analyses.statistics_period;
        let years = (period.1 - period.0).num_seconds() as f64 / (365.25 * 86_400.0);
        let kind = if years >= MIN_YEARS_FOR_DAY_OF_YEAR {
            Kind::DayOfYearAndHour
        } else {
            Kind::HourOfDay
        };
        let scored: BTreeSet<DateTime<Utc>> = needed.iter().copied().collect();
        let in_period: Vec<DateTime<Utc>> = analyses
            .times
            .iter()
            .copied()
            .filter(|t| (period.0..=period.1).contains(t) && !scored.contains(t))
            .collect();
        let left_out = analyses
            .times
            .iter()
            .filter(|t| (period.0..=period.1).contains(t) && scored.contains(t))
            .count();
        // Days behind the thinnest hour of day the forecasts need.
        let mut days_per_hour: BTreeMap<u32, BTreeSet<chrono::NaiveDate>> = BTreeMap::new();
        for t in &in_period {
            days_per_hour.entry(t.hour()).or_default().insert(t.date_naive());
        }
        let needed_hours: BTreeSet<u32> = if needed.is_empty() {
            days_per_hour.keys().copied().collect()
        } else {
            needed.iter().map(|v| v.hour()).collect()
        };
        let fewest = needed_hours
            .iter()
            .map(|h| days_per_hour.get(h).map_or(0, BTreeSet::len))
            .min()
            .unwrap_or(0);
        if kind == Kind::HourOfDay && fewest < MIN_DAYS {
            return Ok(Self {
                kind,
                missing: Some(format!(
                    "no climatology (no climatology baseline, no ACC): {} of {} to {} leaves {fewest} day(s) at some hour scored once the {left_out} analyses verified are left out, and a mean by hour of day needs {MIN_DAYS}; give --climatology with a longer record (a store's statistics period, or years of analyses)",
                    analyses.description,
                    period.0.format("%Y-%m-%d"),
                    period.1.format("%Y-%m-%d"),
                )),
                period,
                fields: BTreeMap::new(),
            });
        }
        let keys: BTreeSet<Key> = match kind {
            Kind::HourOfDay => in_period.iter().map(|t| (0, t.hour())).collect(),
            Kind::DayOfYearAndHour => needed.iter().map(|v| (v.ordinal(), v.hour())).collect(),
        };
        let n = analyses.points();
        let columns = analyses.columns.len();
        let mut sums: BTreeMap<Key, (Vec<f64>, Vec<u32>)> = keys
            .iter()
            .map(|&k| (k, (vec![0.0; columns * n], vec![0; columns * n])))
            .collect();
        let half = WINDOW_DAYS / 2;
        for &date in &in_period {
            let targets: Vec<Key> = keys
                .iter()
                .copied()
                .filter(|&(day, hour)| {
                    hour == date.hour() && (kind == Kind::HourOfDay || day_distance(day, date.ordinal()) <= half)
                })
                .collect();
            if targets.is_empty() {
                continue;
            }
            let all: Vec<Option<Vec<f32>>> = (0..columns)
                .map(|c| analyses.field(c, date))
                .collect::<Result<_, _>>()?;
            for key in targets {
                let (sum, count) = sums.get_mut(&key).expect("keys");
                for (c, field) in all.iter().enumerate() {
                    let Some(field) = field else { continue };
                    for (p, &v) in field.iter().enumerate() {
                        if v.is_finite() {
                            sum[c * n + p] += v as f64;
                            count[c * n + p] += 1;
                        }
                    }
                }
            }
        }
        let fields = sums
            .into_iter()
            .map(|(key, (sum, count))| {
                let mean: Vec<f32> = sum
                    .iter()
                    .zip(&count)
                    .map(|(s, &k)| if k > 0 { (s / k as f64) as f32 } else { f32::NAN })
                    .collect();
                (key, mean.chunks(n.max(1)).map(<[f32]>::to_vec).collect())
            })
            .collect();
        Ok(Self {
            kind,
            missing: None,
            period,
            fields,
        })
    }

    /// The climatological field of a column of the analyses at a valid time; None where the statistics
    /// period has no value at that hour (a 12Z forecast against a 00Z-only climatology).
    pub fn field(&self, column: usize, valid: DateTime<Utc>) -> Option<&[f32]> {
        let key = match self.kind {
            Kind::HourOfDay => (0, valid.hour()),
            Kind::DayOfYearAndHour => (valid.ordinal(), valid.hour()),
        };
        self.fields
            .get(&key)
            .and_then(|f| f.get(column))
            .filter(|f| !f.is_empty())
            .map(Vec::as_slice)
    }

    /// The same climatology with its columns in another order (`--climatology` put into the
    /// truth's columns); a column without one (None) gets no climatology, and no ACC.
    pub fn reordered(mut self, order: &[Option<usize>]) -> Self {
        for fields in self.fields.values_mut() {
            *fields = order
                .iter()
                .map(|c| c.map(|c| fields[c].clone()).unwrap_or_default())
                .collect();
        }
        self
    }

    pub fn describe(&self) -> String {
        if let Some(why) = &self.missing {
            return why.clone();
        }
        let (a, b) = self.period;
        let years = (b - a).num_seconds() as f64 / (365.25 * 86_400.0);
        let span = format!("{} to {}", a.format("%Y-%m-%d"), b.format("%Y-%m-%d"));
        match self.kind {
            Kind::DayOfYearAndHour => format!(
                "climatology: mean by day of year and hour of day, smoothed over {WINDOW_DAYS} days, from {span} ({years:.1} years), as WeatherBench 2"
            ),
            Kind::HourOfDay => format!(
                "climatology: mean by hour of day over {span} ({:.0} days; a day-of-year climatology needs {MIN_YEARS_FOR_DAY_OF_YEAR} years or more)",
                years * 365.25
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_of_the_year_are_on_a_circle() {
        assert_eq!(day_distance(1, 365), 1);
        assert_eq!(day_distance(10, 40), 30);
        assert_eq!(day_distance(200, 200), 0);
        // Half a year apart is as far as two days get.
        assert_eq!(day_distance(1, 183), 182);
        assert_eq!(day_distance(1, 184), 182);
    }
}
