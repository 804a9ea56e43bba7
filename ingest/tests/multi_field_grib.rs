//! GRIB2 messages that hold several fields, as NCEP writes u and v (sections 4–7 repeated in
//! one message): made here from real NCEP messages (libncarg-data's AWIPS-211 file) by splicing
//! a second message's sections 4–7 into a first and fixing section 0's total length. Every
//! field is read, with the values ecCodes gives the original messages and with what ecCodes'
//! own multi-field mode (`grib_get_data`) reads from the spliced file.

use std::path::{Path, PathBuf};

use eccodes::{CodesHandle, FallibleStreamingIterator, KeyRead, KeyWrite, KeyedMessage, ProductKind};
use vejr_ingest::store::{IngestConfig, IngestOptions, Store, ingest};
use vejr_ingest::test_data::{shared_file, system_file};
use vejr_ingest::{SourceHints, read_fields};

const AWIPS_211: &str = "/usr/share/ncarg/data/grb/fh.0012_tl.press_gr.awp211.grb2";

struct Message {
    short_name: String,
    level: i64,
    bytes: Vec<u8>,
    values: Vec<f64>,
}

fn eccodes_lock() -> std::sync::MutexGuard<'static, ()> {
    vejr_ingest::grib_reader::ECCODES
        .lock()
        .unwrap_or_else(|e| e.into_inner())
}

/// Every message of a file, with its bytes and ecCodes' values.
fn messages(path: &Path) -> Vec<Message> {
    let _guard = eccodes_lock();
    let framed = vejr_ingest::test_data::grib_messages(path);
    let mut handle = CodesHandle::new_from_file(path, ProductKind::GRIB).unwrap();
    let mut out = Vec::new();
    for framed in framed {
        let m = handle.next().unwrap().unwrap();
        out.push(Message {
            short_name: framed.short_name,
            level: framed.level,
            bytes: framed.bytes,
            values: m.read_key("values").unwrap(),
        });
    }
    out
}

fn find<'a>(all: &'a [Message], short_name: &str, level: i64) -> &'a Message {
    all.iter()
        .find(|m| m.short_name == short_name && m.level == level)
        .unwrap_or_else(|| panic!("{short_name} {level} in {AWIPS_211}"))
}

fn splice(first: &[u8], others: &[&[u8]]) -> Vec<u8> {
    vejr_ingest::test_data::splice_fields(first, others)
}

/// What ecCodes' multi-field mode reads from a file: `grib_get_data` (multi-field on, as in
/// every ecCodes tool), one value list per field, missing points NaN.
fn grib_get_data(path: &Path) -> Vec<Vec<f64>> {
    let output = std::process::Command::new("grib_get_data")
        .args(["-m", "nan"])
        .arg(path)
        .output()
        .unwrap_or_else(|e| panic!("grib_get_data (Debian's libeccodes-tools, which `make deps` installs): {e}"));
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let mut fields: Vec<Vec<f64>> = Vec::new();
    for line in String::from_utf8(output.stdout).unwrap().lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        if words.first() == Some(&"Latitude") {
            fields.push(Vec::new());
        } else if words.len() == 3 {
            fields.last_mut().unwrap().push(words[2].parse().unwrap());
        }
    }
    fields
}

fn assert_same(what: &str, vejr: &[f32], expected: &[f64]) {
    assert_eq!(vejr.len(), expected.len(), "{what}");
    for (p, (&a, &b)) in vejr.iter().zip(expected).enumerate() {
        let same = if b.is_nan() {
            a.is_nan()
        } else {
            (a as f64 - b).abs() <= 1e-6 * b.abs().max(1.0)
        };
        assert!(same, "{what}, point {p}: vejr {a}, expected {b}");
    }
}

fn write(dir: &Path, name: &str, messages: &[&[u8]]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, messages.concat()).unwrap();
    path
}

/// u and v of 500 hPa in one message, u, v and t of 850 hPa in another, and a plain message:
/// every field is its own (variable, level), equal to the original message's values and to
/// ecCodes' multi-field reading; inspect counts 3 messages and 6 fields.
#[test]
fn every_field_of_a_multi_field_message_is_read() {
    let all = messages(&system_file(AWIPS_211));
    let (u5, v5) = (find(&all, "u", 500), find(&all, "v", 500));
    let (u8, v8, t8) = (find(&all, "u", 850), find(&all, "v", 850), find(&all, "t", 850));
    let mslet = find(&all, "mslet", 0);
    let uv500 = splice(&u5.bytes, &[&v5.bytes]);
    let uvt850 = splice(&u8.bytes, &[&v8.bytes, &t8.bytes]);
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "uv.grib2", &[&uv500, &mslet.bytes, &uvt850]);

    let fields = read_fields(&path, &SourceHints::default()).unwrap();
    let names: Vec<(&str, &[f64])> = fields
        .variables
        .iter()
        .map(|v| (v.info.name.as_str(), v.info.levels.as_slice()))
        .collect();
    assert_eq!(
        names,
        [
            ("u", &[500.0, 850.0][..]),
            ("v", &[500.0, 850.0][..]),
            ("mslet", &[0.0][..]),
            ("t", &[850.0][..])
        ]
    );
    let get = |name: &str, level: f64| {
        let v = fields.variables.iter().find(|v| v.info.name == name).unwrap();
        fields.field(v, 0, vejr_ingest::Fields::level_index(v, level).unwrap(), 0)
    };
    // The grid is the Lambert grid's own (no reordering), so values compare point by point.
    for (name, level, original) in [
        ("u", 500.0, u5),
        ("v", 500.0, v5),
        ("u", 850.0, u8),
        ("v", 850.0, v8),
        ("t", 850.0, t8),
        ("mslet", 0.0, mslet),
    ] {
        assert_same(&format!("{name} {level}"), get(name, level), &original.values);
    }
    // ecCodes' own multi-field mode finds the same six fields in file order.
    let tool = grib_get_data(&path);
    assert_eq!(tool.len(), 6);
    for (k, (name, level)) in [
        ("u", 500.0),
        ("v", 500.0),
        ("mslet", 0.0),
        ("u", 850.0),
        ("v", 850.0),
        ("t", 850.0),
    ]
    .into_iter()
    .enumerate()
    {
        assert_same(&format!("grib_get_data field {}", k + 1), get(name, level), &tool[k]);
    }

    let report = vejr_ingest::inspect::inspect(&path, &SourceHints::default()).unwrap();
    assert_eq!((report.messages, report.fields), (Some(3), Some(6)));
    let text = report.to_string();
    assert!(text.contains("3 messages holding 6 fields"), "{text}");
}

/// A field that takes the bitmap of the field before it (bitmap indicator 254), in a message
/// ecCodes wrote: ERA5's 2 m temperature with missing points, made GRIB2 by ecCodes, and a
/// second field ecCodes made from it (dew point, other values, the same missing points).
#[test]
fn a_field_reusing_the_bitmap_before_it_has_its_missing_points() {
    let dir = tempfile::tempdir().unwrap();
    let source = shared_file("grib/fields_with_missing_values.grib");
    let (t2m, dew) = {
        let _guard = eccodes_lock();
        let mut handle = CodesHandle::new_from_file(&source, ProductKind::GRIB).unwrap();
        let first = handle.next().unwrap().unwrap().try_clone().unwrap();
        let mut t2m = first.try_clone().unwrap();
        t2m.write_key("edition", 2).unwrap();
        let mut dew = t2m.try_clone().unwrap();
        dew.write_key("paramId", 168).unwrap();
        dew.write_key("missingValue", 1.0e35).unwrap();
        let values: Vec<f64> = dew.read_key("values").unwrap();
        let lowered: Vec<f64> = values.iter().map(|&v| if v == 1.0e35 { v } else { v - 3.5 }).collect();
        dew.write_key("values", lowered.as_slice()).unwrap();
        let bytes = |m: &KeyedMessage, name: &str| {
            let p = dir.path().join(name);
            m.write_to_file(&p, false).unwrap();
            std::fs::read(p).unwrap()
        };
        (bytes(&t2m, "t2m.grib2"), bytes(&dew, "dew.grib2"))
    };
    let dew_values: Vec<f64> = {
        let _guard = eccodes_lock();
        let mut handle = CodesHandle::new_from_memory(dew.clone(), ProductKind::GRIB).unwrap();
        let mut m = handle.next().unwrap().unwrap().try_clone().unwrap();
        assert_eq!(KeyRead::<String>::read_key(&m, "shortName").unwrap(), "2d");
        m.write_key("missingValue", 1.0e35).unwrap();
        m.read_key("values").unwrap()
    };
    // The dew point's own bitmap section replaced by "the bitmap defined before" (254).
    // The dew point's field after the temperature's, its own bitmap section replaced by
    // "the bitmap defined before" (indicator 254).
    let spliced = splice(&t2m, &[&dew]);
    let mut reused = spliced[..16].to_vec();
    let mut bitmaps = 0;
    for section in vejr_ingest::test_data::grib2_sections(&spliced) {
        if section[4] == 6 {
            bitmaps += 1;
            if bitmaps == 2 {
                reused.extend_from_slice(&[0, 0, 0, 6, 6, 254]);
                continue;
            }
        }
        reused.extend_from_slice(&section);
    }
    reused.extend_from_slice(b"7777");
    let total = reused.len() as u64;
    reused[8..16].copy_from_slice(&total.to_be_bytes());
    let path = write(dir.path(), "t2m-dew.grib2", &[&reused]);
    let fields = read_fields(&path, &SourceHints::default()).unwrap();
    let names: Vec<&str> = fields.variables.iter().map(|v| v.info.name.as_str()).collect();
    assert_eq!(names, ["2t", "2d"]);
    // ERA5's grid runs north to south from 0°E as vejr stores it: values compare point by point,
    // 1e35 (ecCodes' missing value set above) where the bitmap says missing.
    let nan = |v: &[f64]| -> Vec<f64> { v.iter().map(|&x| if x > 1e30 { f64::NAN } else { x }).collect() };
    let t2m_values: Vec<f64> = {
        let _guard = eccodes_lock();
        let mut handle = CodesHandle::new_from_memory(t2m.clone(), ProductKind::GRIB).unwrap();
        let mut m = handle.next().unwrap().unwrap().try_clone().unwrap();
        m.write_key("missingValue", 1.0e35).unwrap();
        m.read_key("values").unwrap()
    };
    assert_same("2t", &fields.variables[0].data, &nan(&t2m_values));
    assert_same(
        "2d with the reused bitmap",
        &fields.variables[1].data,
        &nan(&dew_values),
    );
    let missing = fields.variables[1].data.iter().filter(|v| v.is_nan()).count();
    assert!(missing > 10_000, "{missing} missing points");
    // ecCodes' own multi-field mode reads the same.
    let tool = grib_get_data(&path);
    assert_eq!(tool.len(), 2);
    assert_same("2d against grib_get_data", &fields.variables[1].data, &tool[1]);
}

/// A store built from multi-field messages has v: two forecast steps of u and v at 500 hPa, each
/// step one message.
#[test]
fn a_store_from_multi_field_messages_has_v() {
    let all = messages(&system_file(AWIPS_211));
    let (u5, v5) = (find(&all, "u", 500), find(&all, "v", 500));
    let dir = tempfile::tempdir().unwrap();
    // The second step: the same fields six hours later, the step set by ecCodes.
    let later = |m: &Message, name: &str| {
        let path = write(dir.path(), name, &[&m.bytes]);
        let _guard = eccodes_lock();
        let mut handle = CodesHandle::new_from_file(&path, ProductKind::GRIB).unwrap();
        let mut msg = handle.next().unwrap().unwrap().try_clone().unwrap();
        msg.write_key("forecastTime", 18).unwrap();
        let out = dir.path().join(format!("{name}.later"));
        msg.write_to_file(&out, false).unwrap();
        std::fs::read(out).unwrap()
    };
    let (u18, v18) = (later(u5, "u18"), later(v5, "v18"));
    let path = write(
        dir.path(),
        "uv-steps.grib2",
        &[&splice(&u5.bytes, &[&v5.bytes]), &splice(&u18, &[&v18])],
    );
    let config_path = dir.path().join("ingest.toml");
    std::fs::write(
        &config_path,
        format!(
            "[store]\npath = 'uv.zarr'\ntime_step = '6h'\n[[sources]]\nfiles = ['{}']\n[[variables]]\nname = 'u'\n[[variables]]\nname = 'v'\n",
            path.display()
        ),
    )
    .unwrap();
    let config = IngestConfig::load(&config_path).unwrap();
    ingest(
        &config,
        &config_path,
        &IngestOptions {
            quiet: true,
            ..Default::default()
        },
    )
    .unwrap();
    let store = Store::open(&dir.path().join("uv.zarr")).unwrap();
    let names: Vec<&str> = store.columns.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["u_500", "v_500"]);
    assert_eq!(store.dates.len(), 2);
    let n = store.grid.len();
    let first = store.read_time(0).unwrap();
    assert_same("store u_500", &first[..n], &u5.values);
    assert_same("store v_500", &first[n..2 * n], &v5.values);
}

/// ecCodes skips a product that is not GRIB between two messages without a word: refused,
/// naming the message after it and the byte where it starts.
#[test]
fn a_product_between_messages_that_ecccodes_skips_is_refused() {
    let all = messages(&system_file(AWIPS_211));
    let dir = tempfile::tempdir().unwrap();
    let mut bufr = b"BUFR".to_vec();
    bufr.extend_from_slice(&[0, 0, 40, 4]);
    bufr.resize(40, 0);
    bufr[36..40].copy_from_slice(b"7777");
    let path = write(dir.path(), "with-bufr.grib2", &[&all[0].bytes, &bufr, &all[1].bytes]);
    let Err(e) = read_fields(&path, &SourceHints::default()) else {
        panic!("a BUFR product between GRIB messages was read");
    };
    let e = e.to_string();
    assert!(e.contains("message 2") && e.contains("BUFR"), "{e}");
    assert!(e.contains(&format!("byte {}", all[0].bytes.len())), "{e}");
}
