//! Real GRIB idioms, in files written by ecCodes itself: alternative row scanning (scanning
//! mode bit 5, rows running back and forth), read into the canonical orientation and checked
//! against ecCodes' own nearest-point lookup (its geometry, not ours); layers between two
//! surfaces that share a top (GFS's soil).

use eccodes::{CodesHandle, FallibleStreamingIterator, KeyWrite, ProductKind};
use vejr_ingest::parameter_identity::samples_path;
use vejr_ingest::{SourceHints, read_fields};

#[test]
fn alternate_rows_are_read_in_the_canonical_orientation() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("boustrophedon.grib2");
    let (ni, nj) = (5usize, 4usize);
    // The field 100·row + column, stored as alternative scanning stores it: row 1 and row 3
    // east to west.
    let stored: Vec<f64> = (0..nj)
        .flat_map(|j| {
            let row: Vec<f64> = (0..ni).map(|i| (100 * j + i) as f64).collect();
            if j % 2 == 1 {
                row.into_iter().rev().collect::<Vec<_>>()
            } else {
                row
            }
        })
        .collect();
    {
        let _guard = vejr_ingest::grib_reader::ECCODES.lock().unwrap();
        let sample = samples_path().join("regular_ll_sfc_grib2.tmpl");
        let mut handle = CodesHandle::new_from_file(&sample, ProductKind::GRIB).unwrap();
        let mut m = handle.next().unwrap().unwrap().try_clone().unwrap();
        for (key, value) in [
            ("Ni", ni as i64),
            ("Nj", nj as i64),
            ("iScansNegatively", 0),
            ("jScansPositively", 0),
        ] {
            m.write_key(key, value).unwrap();
        }
        for (key, value) in [
            ("latitudeOfFirstGridPointInDegrees", 60.0),
            ("latitudeOfLastGridPointInDegrees", 57.0),
            ("longitudeOfFirstGridPointInDegrees", 10.0),
            ("longitudeOfLastGridPointInDegrees", 14.0),
            ("iDirectionIncrementInDegrees", 1.0),
            ("jDirectionIncrementInDegrees", 1.0),
        ] {
            m.write_key(key, value).unwrap();
        }
        m.write_key("alternativeRowScanning", 1i64).unwrap();
        m.write_key("values", &stored[..]).unwrap();
        m.write_to_file(&path, false).unwrap();
        // ecCodes' own reading of its message: the point at 58°N 13°E (row 2, column 3).
        let nearest = m.codes_nearest().unwrap().find_nearest(58.0, 13.0).unwrap();
        let exact = nearest
            .iter()
            .find(|p| p.distance < 1e-3)
            .expect("a grid point at 58°N 13°E");
        assert_eq!(exact.value, 203.0, "ecCodes' geometry");
    }
    let fields = read_fields(&path, &SourceHints::default()).unwrap();
    assert_eq!(fields.grid.latitudes, [60.0, 59.0, 58.0, 57.0]);
    assert_eq!(fields.grid.longitudes, [10.0, 11.0, 12.0, 13.0, 14.0]);
    let variable = &fields.variables[0];
    let field = fields.field(variable, 0, 0, 0);
    let expected: Vec<f32> = (0..nj)
        .flat_map(|j| (0..ni).map(move |i| (100 * j + i) as f32))
        .collect();
    assert_eq!(field, expected.as_slice());
}

/// GFS's soil layers: two layers of one parameter may share a top (0–10 cm and 0–200 cm) and
/// are two variables, not duplicate messages; named by both surfaces, each with its own values.
#[test]
fn layers_sharing_a_top_are_told_apart_by_their_bottom() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("soil.grib2");
    {
        let _guard = vejr_ingest::grib_reader::ECCODES.lock().unwrap();
        let sample = samples_path().join("regular_ll_sfc_grib2.tmpl");
        let mut handle = CodesHandle::new_from_file(&sample, ProductKind::GRIB).unwrap();
        let template = handle.next().unwrap().unwrap().try_clone().unwrap();
        let points: i64 = eccodes::KeyRead::read_key(&template, "numberOfDataPoints").unwrap();
        for (n, (top, bottom, value)) in [(0i64, 10i64, 280.0), (0, 200, 285.0), (10, 40, 283.0)]
            .into_iter()
            .enumerate()
        {
            let mut m = template.try_clone().unwrap();
            m.write_key("typeOfLevel", "depthBelowLandLayer").unwrap();
            m.write_key("topLevel", top).unwrap();
            m.write_key("bottomLevel", bottom).unwrap();
            m.write_key("shortName", "sot").unwrap();
            m.write_key("values", &vec![value; points as usize][..]).unwrap();
            m.write_to_file(&path, n > 0).unwrap();
        }
    }
    let fields = read_fields(&path, &SourceHints::default()).unwrap();
    let names: Vec<(&str, f32)> = fields
        .variables
        .iter()
        .map(|v| (v.info.name.as_str(), fields.field(v, 0, 0, 0)[0]))
        .collect();
    assert_eq!(
        names,
        [
            ("sot_depthBelowLandLayer_0-10", 280.0),
            ("sot_depthBelowLandLayer_0-200", 285.0),
            ("sot_depthBelowLandLayer_10-40", 283.0)
        ]
    );
}

/// GRIB2 surfaces are scaled integers and ecCodes' `topLevel`/`bottomLevel` round them to
/// whole units: GFS's soil layers (0–0.1, 0.1–0.4, 0.4–1 m, as GFS encodes them: scale factor
/// 2) and sigma layers (0.33–1, 0.44–1) would all collide. They are read at their exact surfaces.
#[test]
fn scaled_surfaces_keep_their_fractions() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gfs-like.grib2");
    {
        let _guard = vejr_ingest::grib_reader::ECCODES
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let sample = samples_path().join("regular_ll_sfc_grib2.tmpl");
        let mut handle = CodesHandle::new_from_file(&sample, ProductKind::GRIB).unwrap();
        let template = handle.next().unwrap().unwrap().try_clone().unwrap();
        let points: i64 = eccodes::KeyRead::read_key(&template, "numberOfDataPoints").unwrap();
        let layers = [
            ("depthBelowLandLayer", (0i64, 10i64), 280.0),
            ("depthBelowLandLayer", (10, 40), 281.0),
            ("depthBelowLandLayer", (40, 100), 282.0),
            ("sigmaLayer", (33, 100), 70.0),
            ("sigmaLayer", (44, 100), 60.0),
        ];
        for (n, (type_of_level, (top, bottom), value)) in layers.into_iter().enumerate() {
            let mut m = template.try_clone().unwrap();
            m.write_key("typeOfLevel", type_of_level).unwrap();
            for (key, v) in [
                ("scaleFactorOfFirstFixedSurface", 2),
                ("scaledValueOfFirstFixedSurface", top),
                ("scaleFactorOfSecondFixedSurface", 2),
                ("scaledValueOfSecondFixedSurface", bottom),
            ] {
                m.write_key(key, v).unwrap();
            }
            m.write_key("shortName", if type_of_level == "sigmaLayer" { "r" } else { "t" })
                .unwrap();
            m.write_key("values", &vec![value; points as usize][..]).unwrap();
            m.write_to_file(&path, n > 0).unwrap();
        }
    }
    let fields = read_fields(&path, &SourceHints::default()).unwrap();
    let names: Vec<(&str, f32)> = fields
        .variables
        .iter()
        .map(|v| (v.info.name.as_str(), fields.field(v, 0, 0, 0)[0]))
        .collect();
    assert_eq!(
        names,
        [
            ("t_depthBelowLandLayer_0-0.1", 280.0),
            ("t_depthBelowLandLayer_0.1-0.4", 281.0),
            ("t_depthBelowLandLayer_0.4-1", 282.0),
            ("r_sigmaLayer_0.33-1", 70.0),
            ("r_sigmaLayer_0.44-1", 60.0)
        ]
    );
}

/// NCEP and WMO feeds put a bulletin heading before the GRIB message (NDFD's files begin
/// `****0000…`): the file is still GRIB, and reads as the message alone does.
#[test]
fn a_bulletin_heading_before_the_message_is_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let plain = dir.path().join("plain.grib2");
    {
        let _guard = vejr_ingest::grib_reader::ECCODES
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let sample = samples_path().join("regular_ll_sfc_grib2.tmpl");
        let mut handle = CodesHandle::new_from_file(&sample, ProductKind::GRIB).unwrap();
        let mut m = handle.next().unwrap().unwrap().try_clone().unwrap();
        let points = eccodes::KeyRead::<i64>::read_key(&m, "numberOfDataPoints").unwrap() as usize;
        let values: Vec<f64> = (0..points).map(|p| 280.0 + (p % 7) as f64).collect();
        m.write_key("values", &values[..]).unwrap();
        m.write_to_file(&plain, false).unwrap();
    }
    let headed = dir.path().join("headed.bin");
    let mut bytes = b"****0000000121****\r\r\nHTXA98 KWBC 241200\r\r\n".to_vec();
    bytes.extend(std::fs::read(&plain).unwrap());
    std::fs::write(&headed, bytes).unwrap();
    let (a, b) = (
        read_fields(&plain, &SourceHints::default()).unwrap(),
        read_fields(&headed, &SourceHints::default()).unwrap(),
    );
    assert_eq!(a.variables[0].data, b.variables[0].data);
    assert!(a.grid.same_points(&b.grid, 0.0));
    // Text that only mentions GRIB far from the start is still not a GRIB file.
    let notes = dir.path().join("notes.txt");
    std::fs::write(&notes, format!("{}GRIB", " ".repeat(2000))).unwrap();
    let text = read_fields(&notes, &SourceHints::default()).unwrap_err().to_string();
    assert!(text.contains("not a NetCDF or GRIB file"), "{text}");
}
