//! CF time coordinates: `UNIT since REFERENCE` with the calendars reanalyses use.

use chrono::{DateTime, Datelike, Months, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta, Utc};

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum TimeUnit {
    /// Calendar months or years (NCEP's and GPCP's monthly files): whole numbers only, read
    /// as CDO reads them (the same day of the month, so many months on). CF (udunits) defines
    /// a month as 1/12 of a year, 30.44 days, which puts monthly means at odd hours of odd days;
    /// cftime refuses the unit outside the 360-day calendar. A fraction, where the two readings
    /// differ, is refused.
    Months,
    Years,
    /// CDO's absolute time axis, `day as %Y%m%d.%f` (ICON's and MPI-M's outputs): the value is
    /// the date itself, 20060116.5 for 2006-01-16 12:00, with no reference.
    AbsoluteDays,
    Days,
    Hours,
    Minutes,
    Seconds,
}

impl TimeUnit {
    fn seconds(self) -> f64 {
        match self {
            Self::Months | Self::Years | Self::AbsoluteDays => {
                unreachable!("calendar units are decoded by calendar arithmetic")
            }
            Self::Days => 86_400.0,
            Self::Hours => 3_600.0,
            Self::Minutes => 60.0,
            Self::Seconds => 1.0,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct TimeUnits {
    pub unit: TimeUnit,
    pub reference: DateTime<Utc>,
}

/// Parses `hours since 1900-01-01`, `seconds since 1970-01-01T00:00:00Z`, `hours since 1800-1-1 00:00:0.0`, …
pub fn parse_units(units: &str) -> Result<TimeUnits, String> {
    let lower = units.trim().to_ascii_lowercase();
    if lower.starts_with("day as %y%m%d") {
        return Ok(TimeUnits {
            unit: TimeUnit::AbsoluteDays,
            reference: DateTime::UNIX_EPOCH,
        });
    }
    let (unit, reference) = lower
        .split_once(" since ")
        .ok_or_else(|| format!("time units {units:?} are not of the form 'UNIT since DATE'"))?;
    let unit = match unit.trim() {
        "days" | "day" | "d" => TimeUnit::Days,
        "hours" | "hour" | "hrs" | "hr" | "h" => TimeUnit::Hours,
        "minutes" | "minute" | "mins" | "min" => TimeUnit::Minutes,
        "seconds" | "second" | "secs" | "sec" | "s" => TimeUnit::Seconds,
        "months" | "month" | "mon" => TimeUnit::Months,
        "years" | "year" | "yr" => TimeUnit::Years,
        other => return Err(format!("unsupported time unit {other:?} in {units:?}")),
    };
    let reference = parse_reference(reference.trim())
        .ok_or_else(|| format!("cannot read the reference date in time units {units:?}"))?;
    if matches!(unit, TimeUnit::Months | TimeUnit::Years) && reference.day() > 28 {
        return Err(format!(
            "time units {units:?}: a month after day {} is not one date (months differ in length); \
             give time_units in days or hours in the ingest config",
            reference.day()
        ));
    }
    Ok(TimeUnits { unit, reference })
}

fn parse_reference(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim_end_matches(['z', 'Z']).trim();
    let text = text.strip_suffix("utc").map(str::trim).unwrap_or(text);
    let text = text.strip_suffix("+00:00").unwrap_or(text);
    let (date, time) = match text.split_once(['t', ' ']) {
        Some((d, t)) => (d, Some(t.trim())),
        None => (text, None),
    };
    let mut parts = date.split('-');
    let year: i32 = parts.next()?.parse().ok()?;
    let month: u32 = parts.next().unwrap_or("1").parse().ok()?;
    let day: u32 = parts.next().unwrap_or("1").parse().ok()?;
    let date = NaiveDate::from_ymd_opt(year, month, day)?;
    let time = match time {
        None | Some("") => NaiveTime::MIN,
        Some(t) => {
            let mut hms = t.split(':');
            let h: u32 = hms.next()?.parse().ok()?;
            let m: u32 = hms.next().unwrap_or("0").parse().ok()?;
            let s: f64 = hms.next().unwrap_or("0").parse().ok()?;
            NaiveTime::from_hms_opt(h, m, 0)? + TimeDelta::milliseconds((s * 1000.0).round() as i64)
        }
    };
    Some(NaiveDateTime::new(date, time).and_utc())
}

/// Checks the calendar. The standard (mixed Julian/Gregorian) calendar equals the proleptic
/// Gregorian one after 1582-10-15, which every reanalysis postdates; other calendars are refused.
pub fn check_calendar(calendar: Option<&str>, reference: &DateTime<Utc>) -> Result<(), String> {
    match calendar.map(|c| c.trim().to_ascii_lowercase()) {
        None => Ok(()),
        Some(c) if c == "proleptic_gregorian" => Ok(()),
        Some(c) if c == "standard" || c == "gregorian" => {
            let switch = NaiveDate::from_ymd_opt(1582, 10, 15).expect("valid date");
            if reference.date_naive() < switch {
                Err(format!(
                    "calendar {c:?} with a reference date before 1582-10-15 is not supported"
                ))
            } else {
                Ok(())
            }
        }
        Some(c) => Err(format!(
            "unsupported calendar {c:?} (standard, gregorian and proleptic_gregorian are)"
        )),
    }
}

pub fn decode(values: &[f64], units: &TimeUnits) -> Result<Vec<DateTime<Utc>>, String> {
    values
        .iter()
        .map(|&v| {
            if !v.is_finite() {
                return Err(format!("time value {v} is not a number"));
            }
            // netCDF's default fill value (NC_FILL_DOUBLE, or NC_FILL_FLOAT read as a double):
            // a time variable defined and never written.
            if ((v - 9.969_209_968_386_869e36) / 9.969_209_968_386_869e36).abs() < 1e-6 {
                return Err("time is netCDF's fill value: the file's time axis was never written".into());
            }
            if units.unit == TimeUnit::AbsoluteDays {
                return absolute_day(v);
            }
            if let TimeUnit::Months | TimeUnit::Years = units.unit {
                let per = if units.unit == TimeUnit::Years { 12.0 } else { 1.0 };
                let months = v * per;
                if months.fract() != 0.0 || months.abs() > 1.0e6 {
                    return Err(format!(
                        "time value {v} in {} is not a whole number of calendar months: CF's month \
                         (1/12 of a year) and the calendar's differ there, so the date is ambiguous; \
                         give time_units in days or hours in the ingest config",
                        if per == 12.0 { "years" } else { "months" }
                    ));
                }
                let n = Months::new(months.abs() as u32);
                let at = if months >= 0.0 {
                    units.reference.checked_add_months(n)
                } else {
                    units.reference.checked_sub_months(n)
                };
                return at.ok_or_else(|| format!("time value {v} is beyond any representable date"));
            }
            // Whole milliseconds: exact for every integer offset a reanalysis file uses.
            // (A damaged value can lie beyond any date chrono represents: refused, not a panic.)
            let millis = (v * units.unit.seconds() * 1000.0).round();
            TimeDelta::try_milliseconds(millis as i64)
                .filter(|_| millis.abs() < 9.0e18)
                .and_then(|d| units.reference.checked_add_signed(d))
                .ok_or_else(|| format!("time value {v} is beyond any representable date"))
        })
        .collect()
}

/// 20060116.5 → 2006-01-16 12:00 (the fraction of the day to the second).
fn absolute_day(v: f64) -> Result<DateTime<Utc>, String> {
    let day = v.floor();
    let bad = || format!("time value {v} is not a date as %Y%m%d.%f");
    if !(0.0..1.0e9).contains(&day) {
        return Err(bad());
    }
    let ymd = day as u32;
    let date = NaiveDate::from_ymd_opt((ymd / 10_000) as i32, (ymd / 100) % 100, ymd % 100).ok_or_else(bad)?;
    let seconds = ((v - day) * 86_400.0).round() as i64;
    Ok(date.and_time(NaiveTime::MIN).and_utc() + TimeDelta::seconds(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn real_file_units() {
        let u = parse_units("hours since 1800-1-1 00:00:0.0").unwrap();
        assert_eq!(u.unit, TimeUnit::Hours);
        assert_eq!(u.reference, Utc.with_ymd_and_hms(1800, 1, 1, 0, 0, 0).unwrap());
        let t = decode(&[1_946_016.0], &u).unwrap();
        assert_eq!(t[0], Utc.with_ymd_and_hms(2022, 1, 1, 0, 0, 0).unwrap());

        let u = parse_units("seconds since 1970-01-01").unwrap();
        assert_eq!(
            decode(&[86_400.0 * 365.0], &u).unwrap()[0],
            Utc.with_ymd_and_hms(1971, 1, 1, 0, 0, 0).unwrap()
        );
        let u = parse_units("days since 2000-01-01T12:00:00Z").unwrap();
        assert_eq!(
            decode(&[0.5], &u).unwrap()[0],
            Utc.with_ymd_and_hms(2000, 1, 2, 0, 0, 0).unwrap()
        );
        assert_eq!(
            parse_units("minutes since 1996-01-05 00:00").unwrap().unit,
            TimeUnit::Minutes
        );
    }

    #[test]
    fn a_time_axis_never_written_is_named_so() {
        let u = parse_units("days since 2000-01-01").unwrap();
        for fill in [9.969_209_968_386_869e36, 9.969_21e36_f32 as f64] {
            let e = decode(&[0.0, fill], &u).unwrap_err();
            assert!(e.contains("never written"), "{e}");
        }
    }

    #[test]
    fn times_beyond_any_date_are_refused() {
        let u = parse_units("hours since 1900-01-01").unwrap();
        assert!(
            decode(&[1e15], &u)
                .unwrap_err()
                .contains("beyond any representable date")
        );
        assert!(decode(&[-1e30], &u).is_err());
        assert!(decode(&[1e300], &u).is_err());
    }

    #[test]
    fn whole_calendar_months_and_years_are_dates_fractions_are_refused() {
        let u = parse_units("months since 1979-01-01").unwrap();
        let dates = decode(&[0.0, 1.0, 13.0, -1.0], &u).unwrap();
        let expected =
            [(1979, 1), (1979, 2), (1980, 2), (1978, 12)].map(|(y, m)| Utc.with_ymd_and_hms(y, m, 1, 0, 0, 0).unwrap());
        assert_eq!(dates, expected);
        let e = decode(&[0.5], &u).unwrap_err();
        assert!(
            e.contains("not a whole number of calendar months") && e.contains("ambiguous"),
            "{e}"
        );
        let y = parse_units("years since 2000-01-15 12:00").unwrap();
        assert_eq!(
            decode(&[2.0, 0.25], &y).unwrap(),
            [
                Utc.with_ymd_and_hms(2002, 1, 15, 12, 0, 0).unwrap(),
                Utc.with_ymd_and_hms(2000, 4, 15, 12, 0, 0).unwrap()
            ]
        );
        assert!(decode(&[0.1], &y).is_err());
        // 31 January plus one month is no one date.
        assert!(parse_units("months since 2000-01-31").unwrap_err().contains("day 31"));
    }

    #[test]
    fn cdo_absolute_days_are_dates() {
        let u = parse_units("day as %Y%m%d.%f").unwrap();
        assert_eq!(
            decode(&[20060116.5, 19991231.0, 20000229.25], &u).unwrap(),
            [
                Utc.with_ymd_and_hms(2006, 1, 16, 12, 0, 0).unwrap(),
                Utc.with_ymd_and_hms(1999, 12, 31, 0, 0, 0).unwrap(),
                Utc.with_ymd_and_hms(2000, 2, 29, 6, 0, 0).unwrap()
            ]
        );
        assert!(decode(&[20060230.0], &u).unwrap_err().contains("not a date"));
        assert!(decode(&[-5.0], &u).is_err());
    }

    #[test]
    fn bad_units_and_calendars() {
        assert!(parse_units("fortnights since 2000-01-01").is_err());
        assert!(parse_units("hours").is_err());
        let r = Utc.with_ymd_and_hms(1900, 1, 1, 0, 0, 0).unwrap();
        assert!(check_calendar(Some("noleap"), &r).unwrap_err().contains("noleap"));
        assert!(check_calendar(Some("gregorian"), &r).is_ok());
        let old = Utc.with_ymd_and_hms(1500, 1, 1, 0, 0, 0).unwrap();
        assert!(check_calendar(Some("standard"), &old).is_err());
    }
}
