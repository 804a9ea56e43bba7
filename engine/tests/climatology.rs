//! The climatology `vejr evaluate` measures anomalies from: by day of year and hour of day,
//! smoothed over 61 days, when the statistics period holds years of data (WeatherBench 2's
//! definition); by hour of day over a shorter period. A synthetic daily sea-level pressure with
//! a known annual cycle tells the two apart and checks the smoothing.

mod common;

use std::f64::consts::PI;
use std::path::Path;

use chrono::{DateTime, Datelike, TimeDelta, TimeZone, Utc};
use common::{stderr, vejr};
use vejr_engine::verification::Analyses;
use vejr_engine::verification::climatology::{Climatology, Kind, WINDOW_DAYS};
use vejr_ingest::store::Store;

const BASE: f64 = 101_000.0;
const AMPLITUDE: f64 = 1_000.0;

fn annual(date: DateTime<Utc>) -> f64 {
    BASE + AMPLITUDE * (2.0 * PI * (date.ordinal() as f64 - 1.0) / 365.25).sin()
}

/// `days` daily analyses from 2015-01-01 00Z on a 2 × 3 grid, point p offset by 100·p Pa.
fn store(dir: &Path, days: usize) -> Store {
    let start = Utc.with_ymd_and_hms(2015, 1, 1, 0, 0, 0).unwrap();
    let nc = dir.join("msl.nc");
    let mut file = netcdf::create(&nc).unwrap();
    file.add_dimension("time", days).unwrap();
    file.add_dimension("latitude", 2).unwrap();
    file.add_dimension("longitude", 3).unwrap();
    for (name, units, values) in [
        (
            "time",
            "days since 2015-01-01 00:00:00",
            (0..days).map(|d| d as f64).collect::<Vec<_>>(),
        ),
        ("latitude", "degrees_north", vec![10.0, 0.0]),
        ("longitude", "degrees_east", vec![0.0, 10.0, 20.0]),
    ] {
        let mut v = file.add_variable::<f64>(name, &[name]).unwrap();
        v.put_attribute("units", units).unwrap();
        v.put_values(&values, ..).unwrap();
    }
    let values: Vec<f32> = (0..days)
        .flat_map(|d| {
            let date = start + TimeDelta::days(d as i64);
            (0..6).map(move |p| (annual(date) + 100.0 * p as f64) as f32)
        })
        .collect();
    let mut v = file
        .add_variable::<f32>("msl", &["time", "latitude", "longitude"])
        .unwrap();
    v.put_attribute("units", "Pa").unwrap();
    v.put_values(&values, ..).unwrap();
    drop(file);
    let path = dir.join("msl.zarr");
    let config = dir.join("ingest.toml");
    std::fs::write(
        &config,
        format!(
            "[store]\npath = {:?}\ntime_step = \"24h\"\n[[sources]]\nfiles = [{:?}]\n[[variables]]\nname = \"msl\"\n",
            path.display().to_string(),
            nc.display().to_string()
        ),
    )
    .unwrap();
    let out = vejr(&["ingest", "--config", config.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    Store::open(&path).unwrap()
}

#[test]
fn years_of_data_give_a_smoothed_day_of_year_climatology() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path(), 4 * 365);
    let (january, april) = (
        Utc.with_ymd_and_hms(2019, 1, 1, 0, 0, 0).unwrap(),
        Utc.with_ymd_and_hms(2019, 4, 2, 0, 0, 0).unwrap(),
    );
    let climatology = Climatology::from_analyses(&Analyses::from_store(store).unwrap(), &[january, april]).unwrap();
    assert_eq!(climatology.kind, Kind::DayOfYearAndHour);
    assert!(
        climatology.describe().contains("day of year"),
        "{}",
        climatology.describe()
    );
    // A 61-day mean of a sine damps it by sinc(π·61/365.25).
    let x = PI * WINDOW_DAYS as f64 / 365.25;
    let damping = x.sin() / x;
    for date in [january, april] {
        let field = climatology.field(0, date).unwrap();
        let expected = BASE + damping * (annual(date) - BASE);
        for (p, v) in field.iter().enumerate() {
            let want = expected + 100.0 * p as f64;
            assert!(
                (*v as f64 - want).abs() < 15.0,
                "{date}: point {p}: {v} Pa, expected {want:.1}"
            );
        }
    }
    // A day not asked for has no field (only the days scored are worked out), nor has 12Z.
    assert!(climatology.field(0, january + TimeDelta::days(100)).is_none());
    assert!(climatology.field(0, january + TimeDelta::hours(12)).is_none());
}

#[test]
fn a_short_period_gives_the_mean_by_hour_of_day_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path(), 200);
    let climatology = Climatology::from_analyses(&Analyses::from_store(store).unwrap(), &[]).unwrap();
    assert_eq!(climatology.kind, Kind::HourOfDay);
    assert!(
        climatology.describe().contains("hour of day"),
        "{}",
        climatology.describe()
    );
    let mean: f64 = (0..200)
        .map(|d| annual(Utc.with_ymd_and_hms(2015, 1, 1, 0, 0, 0).unwrap() + TimeDelta::days(d)))
        .sum::<f64>()
        / 200.0;
    let any_day = Utc.with_ymd_and_hms(2021, 9, 9, 0, 0, 0).unwrap();
    let field = climatology.field(0, any_day).unwrap();
    assert!(
        (field[5] as f64 - (mean + 500.0)).abs() < 1.0,
        "{} against {}",
        field[5],
        mean + 500.0
    );
}

/// The valid times scored are left out of the climatology: with them in, a truth scored
/// against itself gives a climatology RMSE near 0 and a meaningless ACC. The mean over the
/// other days is what remains; too few other days, and there is no climatology, said why.
#[test]
fn the_days_scored_are_not_in_the_climatology() {
    let dir = tempfile::tempdir().unwrap();
    let analyses = Analyses::from_store(store(dir.path(), 20)).unwrap();
    let start = Utc.with_ymd_and_hms(2015, 1, 1, 0, 0, 0).unwrap();
    let scored: Vec<DateTime<Utc>> = (10..15).map(|d| start + TimeDelta::days(d)).collect();
    let climatology = Climatology::from_analyses(&analyses, &scored).unwrap();
    assert!(climatology.missing.is_none(), "{}", climatology.describe());
    let others: Vec<f64> = (0..20)
        .filter(|d| !(10..15).contains(d))
        .map(|d| annual(start + TimeDelta::days(d)))
        .collect();
    let mean = others.iter().sum::<f64>() / others.len() as f64;
    let field = climatology.field(0, scored[0]).unwrap();
    assert!((field[0] as f64 - mean).abs() < 0.05, "{} against {mean}", field[0]);

    // Eight days scored of ten: two left, fewer than a climatology is made of.
    std::fs::create_dir(dir.path().join("short")).unwrap();
    let short = Analyses::from_store(store(&dir.path().join("short"), 10)).unwrap();
    let scored: Vec<DateTime<Utc>> = (2..10).map(|d| start + TimeDelta::days(d)).collect();
    let none = Climatology::from_analyses(&short, &scored).unwrap();
    assert!(none.field(0, scored[0]).is_none());
    let why = none.describe();
    assert!(
        why.starts_with("no climatology") && why.contains("leaves 2 day(s)") && why.contains("--climatology"),
        "{why}"
    );
}
