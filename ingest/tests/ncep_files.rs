//! Real NCEP GRIB2 files as NCEP wrote them, from libncarg-data (a Debian package the Makefile
//! installs): a GFS forecast on WAFS's thinned octant grid (92 messages, reduced lat-lon 0–90°N
//! by 240–330°E, JPEG 2000 packing, layers, tropopause and max-wind levels) and an AWIPS
//! grid-211 Lambert conformal file (CONUS at 81 km). Each is read whole: every message is one of
//! vejr's fields, value for value as ecCodes decodes it, on the points ecCodes computes.

use std::path::Path;

use eccodes::{CodesHandle, FallibleStreamingIterator, KeyRead, ProductKind};
use vejr_ingest::grid::GridKind;
use vejr_ingest::test_data::system_file;
use vejr_ingest::{SourceHints, read_fields};

const GFS_WAFS: &str = "/usr/share/ncarg/data/grb/wafsgfs_L_t06z_intdsk60.grib2";
const AWIPS_211: &str = "/usr/share/ncarg/data/grb/fh.0012_tl.press_gr.awp211.grb2";

struct Message {
    short_name: String,
    values: Vec<f64>,
}

/// Every message as ecCodes decodes it, and the first one's latitudes and longitudes.
fn eccodes_messages(path: &Path) -> (Vec<Message>, Vec<f64>, Vec<f64>) {
    let _guard = vejr_ingest::grib_reader::ECCODES
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    let mut handle = CodesHandle::new_from_file(path, ProductKind::GRIB).unwrap();
    let (mut messages, mut lats, mut lons) = (Vec::new(), Vec::new(), Vec::new());
    while let Some(m) = handle.next().unwrap() {
        if messages.is_empty() {
            lats = m.read_key("latitudes").unwrap();
            lons = m.read_key("longitudes").unwrap();
        }
        messages.push(Message {
            short_name: m.read_key("shortName").unwrap(),
            values: m.read_key("values").unwrap(),
        });
    }
    (messages, lats, lons)
}

/// Every message is exactly one (variable, level) of vejr's, equal at every point, and vejr has
/// nothing else; the points are ecCodes'. Returns the fields.
fn assert_read_whole(path: &Path) -> vejr_ingest::Fields {
    let (messages, lats, lons) = eccodes_messages(path);
    let fields = read_fields(path, &SourceHints::default()).unwrap();
    assert_eq!(fields.grid.len(), lats.len());
    for p in 0..lats.len() {
        let (lat, lon) = fields.grid.point(p);
        let dlon = (lon - lons[p]).rem_euclid(360.0);
        assert!(
            (lat - lats[p]).abs() < 1e-9 && dlon.min(360.0 - dlon) < 1e-9,
            "point {p}: ({lat}, {lon}) vs ecCodes ({}, {})",
            lats[p],
            lons[p]
        );
    }
    let slots: Vec<(&vejr_ingest::Variable, usize)> = fields
        .variables
        .iter()
        .flat_map(|v| (0..v.info.levels.len()).map(move |l| (v, l)))
        .collect();
    assert_eq!(
        slots.len(),
        messages.len(),
        "{} messages, {} fields: {:?}",
        messages.len(),
        slots.len(),
        fields.variables.iter().map(|v| &v.info.name).collect::<Vec<_>>()
    );
    let mut used = vec![false; slots.len()];
    for (k, message) in messages.iter().enumerate() {
        let same = |(v, l): &(&vejr_ingest::Variable, usize)| {
            let field = fields.field(v, 0, *l, 0);
            field
                .iter()
                .zip(&message.values)
                .all(|(a, b)| (*a as f64 - b).abs() <= 1e-6 * b.abs().max(1.0))
        };
        let found = (0..slots.len()).find(|&s| !used[s] && same(&slots[s]));
        let Some(s) = found else {
            panic!("message {} ({}) is none of vejr's fields", k + 1, message.short_name);
        };
        used[s] = true;
        assert!(
            slots[s].0.info.name.starts_with(&message.short_name),
            "message {} ({}) read as {}",
            k + 1,
            message.short_name,
            slots[s].0.info.name
        );
    }
    fields
}

#[test]
fn a_real_gfs_grib2_file_is_read_whole() {
    let fields = assert_read_whole(&system_file(GFS_WAFS));
    assert_eq!(
        fields.variables.len(),
        29,
        "GFS's WAFS variables, each level type apart"
    );
    let GridKind::ReducedLatLon { points_per_row } = &fields.grid.kind else {
        panic!("{:?}", fields.grid.kind)
    };
    assert_eq!((points_per_row.len(), fields.grid.len()), (73, 3447));
    // An octant, not the globe: no wrap-around in longitude, a lateral boundary for a model.
    assert!(!fields.grid.is_global_in_longitude() && !fields.grid.is_global_point_set());
    // Temperature on its 12 pressure levels, in K as GFS writes it.
    let t = fields.variable("t").unwrap();
    assert_eq!(t.info.levels.len(), 12);
    assert!(t.data.iter().all(|&v| (180.0..320.0).contains(&v)));
}

#[test]
fn ncep_awips_211_lambert_is_read_on_eccodes_points() {
    let fields = assert_read_whole(&system_file(AWIPS_211));
    assert_eq!(fields.grid.shape(), (65, 93));
    let GridKind::LambertConformal(l) = &fields.grid.kind else {
        panic!("{:?}", fields.grid.kind)
    };
    assert_eq!((l.standard_parallels, l.central_meridian), ([25.0, 25.0], 265.0));
    // Our projection coordinates of ecCodes' points fall on the axes the first point and the
    // spacing define, within a metre on a grid 7,500 km wide.
    let (x, y) = l.axes();
    for p in 0..fields.grid.len() {
        let (lat, lon) = fields.grid.point(p);
        let (px, py) = l.forward(lat, lon);
        let (j, i) = (p / x.len(), p % x.len());
        assert!(
            (px - x[i]).abs() < 1.0 && (py - y[j]).abs() < 1.0,
            "point {p}: ({px}, {py}) vs ({}, {})",
            x[i],
            y[j]
        );
    }
}
