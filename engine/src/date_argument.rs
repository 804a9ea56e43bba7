//! The initial time as a forecaster types it: `2019-03-25`, `2019-03-25T00`, `2019-03-25T00:00`,
//! `2019-03-25T00:00:00`, each with or without `Z`, or with a space for the `T`; all UTC unless an
//! explicit offset (`+01:00`) says otherwise, as in RFC 3339.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};

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
