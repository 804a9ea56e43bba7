//! `months since` as NCEP's and GPCP's monthly files write it: whole months are calendar months
//! (as CDO reads them); a fractional month, where CF's 1/12 year and the calendar disagree, is
//! refused naming the file.

use chrono::{TimeZone, Utc};
use vejr_ingest::{SourceHints, TimeAxis, read_fields};

fn monthly_file(path: &std::path::Path, units: &str, months: &[f64]) {
    let mut f = netcdf::create(path).unwrap();
    f.add_dimension("time", months.len()).unwrap();
    f.add_dimension("lat", 2).unwrap();
    f.add_dimension("lon", 2).unwrap();
    for (name, u, values) in [
        ("time", units, months),
        ("lat", "degrees_north", &[10.0, 0.0][..]),
        ("lon", "degrees_east", &[0.0, 10.0][..]),
    ] {
        let mut v = f.add_variable::<f64>(name, &[name]).unwrap();
        v.put_attribute("units", u).unwrap();
        v.put_values(values, ..).unwrap();
    }
    let mut v = f.add_variable::<f32>("precip", &["time", "lat", "lon"]).unwrap();
    v.put_attribute("units", "mm/day").unwrap();
    v.put_values(&vec![1.0f32; 4 * months.len()], ..).unwrap();
}

#[test]
fn months_since_is_read_as_calendar_months_and_fractions_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("monthly.nc");
    monthly_file(&path, "months since 1979-01-01 00:00:00", &[0.0, 1.0, 2.0, 14.0]);
    let fields = read_fields(&path, &SourceHints::default()).unwrap();
    let TimeAxis::Valid(times) = &fields.time else {
        panic!("{:?}", fields.time)
    };
    let expected: Vec<_> = [(1979, 1), (1979, 2), (1979, 3), (1980, 3)]
        .iter()
        .map(|&(y, m)| Utc.with_ymd_and_hms(y, m, 1, 0, 0, 0).unwrap())
        .collect();
    assert_eq!(times, &expected);

    let half = dir.path().join("mid-month.nc");
    monthly_file(&half, "months since 1979-01-01", &[0.5, 1.5]);
    let e = read_fields(&half, &SourceHints::default()).unwrap_err().to_string();
    assert!(
        e.contains("mid-month.nc") && e.contains("not a whole number of calendar months"),
        "{e}"
    );
}
