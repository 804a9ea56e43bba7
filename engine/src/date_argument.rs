//! The initial time as a forecaster types it: `2019-03-25`, `2019-03-25T00`, `2019-03-25T00:00`,
//! `2019-03-25T00:00:00`, each with or without `Z`, or with a space for the `T`; all UTC unless an
//! explicit offset (`+01:00`) says otherwise, as in RFC 3339. A series of initial times (a
//! hindcast) is ISO 8601's interval, `START/END`, every model step, or `START/END/STEP`.

use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeDelta, Timelike, Utc};

/// The most forecasts one `--date` series starts: four a day for 25 years, so that a mistyped
/// step (`1s`) is refused instead of running for ever.
pub const MAX_SERIES: usize = 40_000;

/// One `--date` value: an initial time, or a series of them.
#[derive(Clone, Debug, PartialEq)]
pub enum InitialTimes {
    One(DateTime<Utc>),
    /// From `start` to `end`, both included, every `step` (the model's own when absent).
    Series {
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        step: Option<TimeDelta>,
    },
}

pub fn parse_initial_times(text: &str) -> Result<InitialTimes, String> {
    let parts: Vec<&str> = text.split('/').collect();
    match parts.as_slice() {
        [one] => parse_reference_time(one).map(InitialTimes::One),
        [start, end] | [start, end, _] => {
            let step = match parts.get(2) {
                None => None,
                Some(s) => {
                    let d =
                        vejr_ingest::store::config::parse_duration(s).map_err(|e| format!("{text}: step {s}: {e}"))?;
                    if d <= TimeDelta::zero() {
                        return Err(format!("{text}: the step {s} must be positive"));
                    }
                    Some(d)
                }
            };
            let (start, end) = (parse_reference_time(start)?, parse_reference_time(end)?);
            if end < start {
                return Err(format!("{text}: the series ends before it starts"));
            }
            Ok(InitialTimes::Series { start, end, step })
        }
        _ => Err(format!(
            "{text:?} is neither a date nor a series START/END or START/END/STEP (1996-01-16T00/1996-01-17T18/6h)"
        )),
    }
}

/// Every initial time the values give, in order, each once.
pub fn expand(values: &[InitialTimes], model_step: TimeDelta) -> Result<Vec<DateTime<Utc>>, String> {
    let mut times = Vec::new();
    for value in values {
        match value {
            InitialTimes::One(t) => times.push(*t),
            InitialTimes::Series { start, end, step } => {
                let step = step.unwrap_or(model_step);
                let count = (*end - *start).num_seconds() / step.num_seconds().max(1) + 1;
                if times.len() + count as usize > MAX_SERIES {
                    return Err(format!(
                        "--date {}/{}: {count} forecasts, more than the {MAX_SERIES} one command runs; use a longer step",
                        start.format("%Y-%m-%dT%H:%MZ"),
                        end.format("%Y-%m-%dT%H:%MZ")
                    ));
                }
                let mut t = *start;
                while t <= *end {
                    times.push(t);
                    t += step;
                }
            }
        }
    }
    let mut seen = std::collections::HashSet::new();
    times.retain(|t| seen.insert(*t));
    Ok(times)
}

/// Where `--out` puts the forecast from `reference`: `{reference_time}` in the name becomes
/// `YYYYMMDDHH` (with minutes when they are not 0), as operational file names have it.
pub fn output_path(template: &Path, reference: DateTime<Utc>) -> PathBuf {
    let stamp = if reference.minute() == 0 {
        reference.format("%Y%m%d%H").to_string()
    } else {
        reference.format("%Y%m%d%H%M").to_string()
    };
    PathBuf::from(template.to_string_lossy().replace(REFERENCE_TIME, &stamp))
}

/// The placeholder a series of forecasts needs in `--out`.
pub const REFERENCE_TIME: &str = "{reference_time}";

pub fn parse_reference_time(text: &str) -> Result<DateTime<Utc>, String> {
    let t = text.trim();
    if let Ok(d) = DateTime::parse_from_rfc3339(t) {
        return Ok(d.to_utc());
    }
    let naive = t
        .strip_suffix('Z')
        .or_else(|| t.strip_suffix('z'))
        .unwrap_or(t)
        .replace(' ', "T");
    if let Ok(d) = NaiveDate::parse_from_str(&naive, "%Y-%m-%d") {
        return Ok(d.and_hms_opt(0, 0, 0).expect("midnight").and_utc());
    }
    for format in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M", "%Y-%m-%dT%H"] {
        // chrono wants minutes: an hour alone is given them.
        let candidate = if format == "%Y-%m-%dT%H" {
            format!("{naive}:00")
        } else {
            naive.clone()
        };
        let format = if format == "%Y-%m-%dT%H" {
            "%Y-%m-%dT%H:%M"
        } else {
            format
        };
        if let Ok(d) = NaiveDateTime::parse_from_str(&candidate, format) {
            return Ok(d.and_utc());
        }
    }
    Err(format!(
        "{text:?} is not a date and time (UTC): give 2019-03-25, 2019-03-25T06, 2019-03-25T06:00 or 2019-03-25T06:00:00Z"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_common_spelling_is_the_same_time() {
        let six: DateTime<Utc> = "2019-03-25T06:00:00Z".parse().unwrap();
        for text in [
            "2019-03-25T06",
            "2019-03-25T06Z",
            "2019-03-25T06:00",
            "2019-03-25T06:00Z",
            "2019-03-25T06:00:00",
            "2019-03-25T06:00:00Z",
            "2019-03-25 06:00",
            "2019-03-25T07:00:00+01:00",
        ] {
            assert_eq!(parse_reference_time(text), Ok(six), "{text}");
        }
        let midnight: DateTime<Utc> = "2019-03-25T00:00:00Z".parse().unwrap();
        assert_eq!(parse_reference_time("2019-03-25"), Ok(midnight));
        assert_eq!(parse_reference_time("2019-03-25Z"), Ok(midnight));
    }

    fn t(text: &str) -> DateTime<Utc> {
        parse_reference_time(text).unwrap()
    }

    #[test]
    fn a_series_runs_every_model_step_or_every_step_given_ends_included() {
        let six = TimeDelta::hours(6);
        let series = parse_initial_times("1996-01-16T00/1996-01-17T18").unwrap();
        let times = expand(&[series], six).unwrap();
        assert_eq!(times.len(), 8);
        assert_eq!((times[0], times[7]), (t("1996-01-16T00"), t("1996-01-17T18")));
        assert!(times.windows(2).all(|w| w[1] - w[0] == six));
        let daily = parse_initial_times("1996-01-16/1996-01-18T12/1d").unwrap();
        assert_eq!(
            expand(&[daily], six).unwrap(),
            vec![t("1996-01-16"), t("1996-01-17"), t("1996-01-18")]
        );
        // Dates given twice (a day and a series holding it) are forecast once, in order given.
        let values = [
            parse_initial_times("1996-01-17").unwrap(),
            parse_initial_times("1996-01-16T12/1996-01-17T00/12h").unwrap(),
        ];
        assert_eq!(expand(&values, six).unwrap(), vec![t("1996-01-17"), t("1996-01-16T12")]);
    }

    #[test]
    fn bad_series_are_refused_saying_why() {
        for (text, says) in [
            ("1996-01-17/1996-01-16", "ends before it starts"),
            ("1996-01-16/1996-01-17/0h", "must be positive"),
            ("1996-01-16/1996-01-17/often", "step often"),
            ("1996-01-16/1996-01-17/6h/x", "neither a date nor a series"),
            ("1996-01-16/tomorrow", "is not a date and time"),
        ] {
            let e = parse_initial_times(text).unwrap_err();
            assert!(e.contains(says), "{text}: {e}");
        }
        let endless = parse_initial_times("1900-01-01/2100-01-01/1h").unwrap();
        let e = expand(&[endless], TimeDelta::hours(6)).unwrap_err();
        assert!(e.contains("more than the 40000 one command runs"), "{e}");
    }

    #[test]
    fn output_names_carry_the_reference_time() {
        let template = Path::new("out/forecast-{reference_time}.nc");
        assert_eq!(
            output_path(template, t("1996-01-16T06")),
            Path::new("out/forecast-1996011606.nc")
        );
        assert_eq!(
            output_path(template, t("1996-01-16T06:30")),
            Path::new("out/forecast-199601160630.nc")
        );
        assert_eq!(output_path(Path::new("f.nc"), t("1996-01-16")), Path::new("f.nc"));
    }

    #[test]
    fn impossible_dates_are_refused_with_the_accepted_forms() {
        for text in [
            "2019-02-30",
            "2019-03-25T25",
            "25/03/2019",
            "yesterday",
            "2019-03-25T06:61",
        ] {
            let e = parse_reference_time(text).unwrap_err();
            assert!(
                e.contains("is not a date and time (UTC)") && e.contains("2019-03-25T06"),
                "{e}"
            );
        }
    }
}
