//! GRIB 1 and 2 through ecCodes.
//!
//! A first pass reads only keys (ecCodes unpacks values lazily, so this is cheap) to group
//! messages into variables and index them by (variable, time, level, member). Values are
//! decoded later, one message at a time from its byte range, so memory holds one slab at most.

use std::collections::{BTreeSet, HashMap};
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Mutex;

use chrono::{DateTime, NaiveDate, NaiveTime, TimeDelta, Utc};
use eccodes::{CodesHandle, FallibleStreamingIterator, KeyRead, KeyWrite, KeyedMessage, ProductKind};

use crate::error::{IngestError, Result};
use crate::fields::{LevelType, TimeAxis, VariableInfo};
use crate::grib_grid::{Layout, read_grid};
use crate::grib2_fields;
use crate::grid::reorder_field;
use crate::hints::SourceHints;
use crate::source::{FieldSource, Header};

/// ecCodes is not built thread-safe everywhere (Debian's is not configured with
/// ENABLE_ECCODES_THREADS), so calls into it are serialised; reordering and statistics
/// around it still run in parallel. The forecast's GRIB writer takes the same lock.
pub static ECCODES: Mutex<()> = Mutex::new(());

/// Stands for a missing point inside ecCodes: no geophysical field reaches it.
pub const MISSING_SENTINEL: f64 = 1.0e35;

/// One field: a message, or one of the fields a GRIB2 message holds (sections 4–7 repeated).
#[derive(Clone, Copy, Debug)]
struct MessageRef {
    number: usize,
    /// 1 for the message's first field (the one ecCodes reads from the whole message).
    field: usize,
    offset: u64,
    length: usize,
}

impl MessageRef {
    fn describe(&self) -> String {
        if self.field > 1 {
            format!("message {} (field {})", self.number, self.field)
        } else {
            format!("message {}", self.number)
        }
    }
}

pub struct GribSource {
    header: Header,
    file: File,
    layout: Layout,
    /// messages[variable][time][level][member]
    messages: Vec<Vec<Vec<Vec<MessageRef>>>>,
}

pub(crate) fn key<T>(msg: &KeyedMessage, name: &str) -> std::result::Result<T, eccodes::errors::CodesError>
where
    KeyedMessage: KeyRead<T>,
{
    msg.read_key_unchecked(name)
}

/// (shortName, typeOfLevel, (top, bottom) level bits for single-level types): what makes one
/// variable. A layer (GFS's soil 0–10 cm, 10–40 cm) is told apart by both its surfaces: layers
/// may share a top.
type GroupKey = (String, String, Option<(u64, u64)>);
/// A variable as first met: (shortName, typeOfLevel, (top, bottom) for single-level types).
type VariableOrder = (String, String, Option<(f64, f64)>);

struct MessageKeys {
    short_name: String,
    param_id: Option<i64>,
    /// dataDate and dataTime: the analysis or forecast start.
    reference_time: DateTime<Utc>,
    long_name: String,
    /// ecCodes' CF standard name for the parameter, when it has one.
    cf_name: Option<String>,
    units: String,
    type_of_level: String,
    level: f64,
    /// The second surface of a layer (`bottomLevel`), the level itself otherwise.
    bottom: f64,
    valid_time: DateTime<Utc>,
    member: i64,
    edition: i64,
    geometry: String,
}

impl GribSource {
    pub fn open(path: &Path, hints: &SourceHints) -> Result<Self> {
        let grib_error = |number: usize, message: String| IngestError::Grib {
            path: path.to_owned(),
            message_number: number,
            message: crate::eccodes_log::with_reason(message),
        };
        let file_len = std::fs::metadata(path).map_err(|e| IngestError::io(path, e))?.len();

        let file = File::open(path).map_err(|e| IngestError::io(path, e))?;
        let guard = ECCODES.lock().unwrap_or_else(|e| e.into_inner());
        crate::eccodes_log::capture();
        crate::eccodes_log::clear();
        let mut handle = CodesHandle::new_from_file(path, ProductKind::GRIB).map_err(|e| IngestError::io(path, e))?;
        let mut keys = Vec::new();
        let mut refs = Vec::new();
        let mut layout = None;
        let mut grid = None;
        let mut end = 0u64;
        let mut message_count = 0;
        loop {
            let number = message_count + 1;
            let msg = match handle.next() {
                Ok(Some(msg)) => msg,
                Ok(None) => break,
                Err(e) if e.to_string().contains("End of resource") => {
                    return Err(grib_error(
                        number,
                        "truncated: the file ends inside this message (cut short in a copy or download?)".into(),
                    ));
                }
                Err(e) => return Err(grib_error(number, format!("unreadable message: {e}"))),
            };
            let offset: i64 = key(msg, "offset").map_err(|e| grib_error(number, format!("key offset: {e}")))?;
            let length: i64 =
                key(msg, "totalLength").map_err(|e| grib_error(number, format!("key totalLength: {e}")))?;
            // ecCodes hands out a last message that the file's end cuts short, padded.
            if offset as u64 + length as u64 > file_len {
                return Err(grib_error(
                    number,
                    format!(
                        "truncated: the message declares {length} bytes from offset {offset}, the file ends after {file_len}"
                    ),
                ));
            }
            message_count = number;
            check_gap(&file, path, end, offset as u64, number)?;
            let k = read_keys(msg).map_err(|m| grib_error(number, m))?;
            if grid.is_none() {
                let (g, l) = read_grid(msg, path, number)?;
                grid = Some(g);
                layout = Some((l, k.geometry.clone()));
            }
            let first = MessageRef {
                number,
                field: 1,
                offset: offset as u64,
                length: length as usize,
            };
            let mut fields = vec![(first, k)];
            if fields[0].1.edition == 2 {
                fields.extend(further_fields(&file, first).map_err(|m| grib_error(number, m))?);
            }
            for (r, k) in fields {
                if layout.as_ref().map(|(_, geometry)| geometry) != Some(&k.geometry) {
                    return Err(grib_error(
                        number,
                        format!(
                            "{}grid differs from message 1 ({}); one file must hold one grid",
                            if r.field > 1 {
                                format!("field {}: ", r.field)
                            } else {
                                String::new()
                            },
                            k.geometry
                        ),
                    ));
                }
                refs.push(r);
                keys.push(k);
            }
            end = end.max(offset as u64 + length as u64);
        }
        drop(handle);
        drop(guard);
        if keys.is_empty() {
            return Err(grib_error(1, "no GRIB message in file".into()));
        }
        check_tail(path, end, file_len, message_count)?;

        let (grid, (layout, _)) = (
            grid.expect("set with first message"),
            layout.expect("set with first message"),
        );
        let editions: BTreeSet<i64> = keys.iter().map(|k| k.edition).collect();
        let format = editions
            .iter()
            .map(|e| format!("GRIB{e}"))
            .collect::<Vec<_>>()
            .join("+");

        // Group: vertical coordinates gather levels into one variable; other level types make one variable per level.
        let times: Vec<DateTime<Utc>> = keys
            .iter()
            .map(|k| k.valid_time)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let members: Vec<i64> = keys
            .iter()
            .map(|k| k.member)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let group_key = |k: &MessageKeys| -> GroupKey {
            let single = (!is_vertical(&k.type_of_level)).then(|| (k.level.to_bits(), k.bottom.to_bits()));
            (k.short_name.clone(), k.type_of_level.clone(), single)
        };
        let mut order: Vec<VariableOrder> = Vec::new();
        let mut groups: HashMap<GroupKey, (usize, BTreeSet<u64>)> = HashMap::new();
        for k in &keys {
            let vertical = is_vertical(&k.type_of_level);
            let n = order.len();
            let entry = groups.entry(group_key(k)).or_insert_with(|| (n, BTreeSet::new()));
            if entry.0 == n {
                order.push((
                    k.short_name.clone(),
                    k.type_of_level.clone(),
                    (!vertical).then_some((k.level, k.bottom)),
                ));
            }
            entry.1.insert(k.level.to_bits());
        }
        let mut infos: Vec<VariableInfo> = Vec::with_capacity(order.len());
        for (short_name, type_of_level, single) in &order {
            let first = keys
                .iter()
                .find(|k| &k.short_name == short_name && &k.type_of_level == type_of_level)
                .expect("grouped from keys");
            let level_key = single.map(|(top, bottom)| (top.to_bits(), bottom.to_bits()));
            let levels_set = &groups[&(short_name.clone(), type_of_level.clone(), level_key)].1;
            let mut levels: Vec<f64> = levels_set.iter().map(|&b| f64::from_bits(b)).collect();
            let level_type = match type_of_level.as_str() {
                "isobaricInhPa" => LevelType::Pressure,
                "isobaricInPa" => {
                    levels.iter_mut().for_each(|l| *l /= 100.0);
                    LevelType::Pressure
                }
                "hybrid" => LevelType::Model,
                t if is_vertical(t) => LevelType::Other(t.to_owned()),
                _ => LevelType::Surface,
            };
            if level_type == LevelType::Pressure {
                // Top of the atmosphere first, as WeatherBench and GraphCast list levels.
                levels.sort_by(f64::total_cmp);
            }
            if level_type == LevelType::Surface {
                levels = vec![0.0];
            }
            // A short name on one single level and on a vertical coordinate (the demo's surface
            // u and u on 500 hPa) keeps its name in both: their columns differ (`u`, `u_500`).
            // Two single levels, or two vertical coordinates, of one name are told apart here.
            let collides = order
                .iter()
                .filter(|(s, t, l)| s == short_name && (t != type_of_level || l != single))
                .any(|(_, _, l)| l.is_some() == single.is_some());
            let name = if collides {
                let (top, bottom) = single.unwrap_or_default();
                let level = crate::fields::format_level(top);
                if bottom != top {
                    format!(
                        "{short_name}_{type_of_level}_{level}-{}",
                        crate::fields::format_level(bottom)
                    )
                } else {
                    format!("{short_name}_{type_of_level}_{level}")
                }
            } else {
                short_name.clone()
            };
            let mut info = VariableInfo {
                name,
                long_name: Some(first.long_name.clone()),
                standard_name: first.cf_name.clone(),
                units: Some(first.units.clone()),
                level_type,
                levels,
                param_id: first.param_id,
            };
            hints
                .apply(short_name, &mut info)
                .map_err(|m| IngestError::variable(path, short_name, m))?;
            infos.push(info);
        }

        let unset = MessageRef {
            number: 0,
            field: 0,
            offset: 0,
            length: 0,
        };
        let mut messages: Vec<Vec<Vec<Vec<MessageRef>>>> = infos
            .iter()
            .map(|i| vec![vec![vec![unset; members.len()]; i.levels.len()]; times.len()])
            .collect();
        for (k, r) in keys.iter().zip(&refs) {
            let v = groups[&group_key(k)].0;
            let t = times.binary_search(&k.valid_time).expect("time collected");
            let level = if k.type_of_level == "isobaricInPa" {
                k.level / 100.0
            } else {
                k.level
            };
            let l = if infos[v].level_type == LevelType::Surface {
                0
            } else {
                infos[v]
                    .levels
                    .iter()
                    .position(|&x| x == level)
                    .expect("level collected")
            };
            let m = members.binary_search(&k.member).expect("member collected");
            let slot = &mut messages[v][t][l][m];
            if slot.number != 0 {
                return Err(grib_error(
                    r.number,
                    format!(
                        "{}duplicates {} ({} {} {} at {}, member {})",
                        if r.field > 1 {
                            format!("field {} ", r.field)
                        } else {
                            String::new()
                        },
                        slot.describe(),
                        k.short_name,
                        k.type_of_level,
                        k.level,
                        k.valid_time.format("%Y-%m-%dT%H:%MZ"),
                        k.member
                    ),
                ));
            }
            *slot = *r;
        }
        for (v, info) in infos.iter().enumerate() {
            for (t, by_level) in messages[v].iter().enumerate() {
                for (l, by_member) in by_level.iter().enumerate() {
                    if let Some(m) = by_member.iter().position(|r| r.number == 0) {
                        return Err(IngestError::variable(
                            path,
                            &info.name,
                            format!(
                                "no message for level {} member {} at {} (every variable needs every time, level and member)",
                                info.levels[l],
                                members[m],
                                times[t].format("%Y-%m-%dT%H:%MZ")
                            ),
                        ));
                    }
                }
            }
        }

        // A forecast: every message from one start, at more than one step.
        let starts: BTreeSet<DateTime<Utc>> = keys.iter().map(|k| k.reference_time).collect();
        let reference_time = match starts.first() {
            Some(&start) if starts.len() == 1 && times.iter().any(|&t| t != start) => Some(start),
            _ => None,
        };
        let header = Header {
            path: path.to_owned(),
            format,
            grid,
            time: TimeAxis::Valid(times),
            members,
            variables: infos,
            reference_time,
            grib_messages: Some(crate::source::GribCounts {
                messages: message_count,
                fields: refs.len(),
            }),
        };
        Ok(Self {
            header,
            file,
            layout,
            messages,
        })
    }

    fn decode(&self, r: MessageRef) -> Result<Vec<f32>> {
        let path = &self.header.path;
        let grib_error = |message: String| IngestError::Grib {
            path: path.to_owned(),
            message_number: r.number,
            message: crate::eccodes_log::with_reason(if r.field > 1 {
                format!("field {}: {message}", r.field)
            } else {
                message
            }),
        };
        let mut bytes = vec![0u8; r.length];
        self.file
            .read_exact_at(&mut bytes, r.offset)
            .map_err(|e| grib_error(format!("cannot read {} bytes at offset {}: {e}", r.length, r.offset)))?;
        if r.field > 1 {
            let fields = grib2_fields::fields(bytes.as_slice(), bytes.len()).map_err(&grib_error)?;
            let field = fields
                .get(r.field - 1)
                .ok_or_else(|| grib_error(format!("the message now holds {} field(s)", fields.len())))?;
            bytes = grib2_fields::single_field_message(&bytes, field);
        }
        let values: Vec<f64> = {
            let _guard = ECCODES.lock().unwrap_or_else(|e| e.into_inner());
            crate::eccodes_log::capture();
            crate::eccodes_log::clear();
            let mut handle =
                CodesHandle::new_from_memory(bytes, ProductKind::GRIB).map_err(|e| grib_error(e.to_string()))?;
            let msg = handle
                .next()
                .map_err(|e| grib_error(format!("unreadable message: {e}")))?
                .ok_or_else(|| grib_error("message vanished".into()))?;
            let bitmap_present: i64 = key(msg, "bitmapPresent").unwrap_or(0);
            // Complex packing marks missing points in the data section instead of a bitmap
            // (NDFD's grids). ecCodes decodes them as `missingValue`, and changing that key here
            // would re-encode the field: the points equal to it are missing, checked against the
            // count the message states.
            let missing_in_data: i64 = key(msg, "missingValueManagementUsed").unwrap_or(0);
            if bitmap_present == 0 && missing_in_data > 0 {
                let missing_value: f64 = key(msg, "missingValue").map_err(|e| grib_error(e.to_string()))?;
                let stated: i64 = key(msg, "numberOfMissing").map_err(|e| grib_error(e.to_string()))?;
                let values: Vec<f64> = msg
                    .read_key("values")
                    .map_err(|e| grib_error(format!("cannot decode values: {e}")))?;
                let found = values.iter().filter(|&&v| v == missing_value).count() as i64;
                if found != stated {
                    return Err(grib_error(format!(
                        "{stated} missing values stated, {found} values equal to missingValue {missing_value}: cannot tell which points are missing"
                    )));
                }
                values
                    .into_iter()
                    .map(|v| if v == missing_value { f64::NAN } else { v })
                    .collect::<Vec<f64>>()
            } else if bitmap_present == 1 {
                // Missing points come back as `missingValue` (9999 by default, a possible real value):
                // a sentinel no field reaches makes the mask exact.
                let mut owned = msg.try_clone().map_err(|e| grib_error(e.to_string()))?;
                owned
                    .write_key("missingValue", MISSING_SENTINEL)
                    .map_err(|e| grib_error(format!("cannot set missingValue: {e}")))?;
                let values: Vec<f64> = owned
                    .read_key("values")
                    .map_err(|e| grib_error(format!("cannot decode values: {e}")))?;
                values
                    .into_iter()
                    .map(|v| if v == MISSING_SENTINEL { f64::NAN } else { v })
                    .collect::<Vec<f64>>()
            } else {
                KeyRead::<Vec<f64>>::read_key(msg, "values")
                    .map_err(|e| grib_error(format!("cannot decode values: {e}")))?
            }
        };
        let mut values: Vec<f32> = values.into_iter().map(|v| v as f32).collect();
        let mut out = Vec::with_capacity(self.header.grid.len());
        match &self.layout {
            Layout::Regular {
                ni,
                nj,
                column_major,
                alternate_rows,
                reorder,
            } => {
                if values.len() != ni * nj {
                    return Err(grib_error(format!("{} values for a {nj} × {ni} grid", values.len())));
                }
                if *alternate_rows {
                    // Rows 1, 3, … (in the file's order) run against the first row's direction.
                    for row in values.chunks_mut(*ni).skip(1).step_by(2) {
                        row.reverse();
                    }
                }
                if *column_major {
                    let transposed: Vec<f32> = (0..*nj)
                        .flat_map(|j| (0..*ni).map(move |i| (i, j)))
                        .map(|(i, j)| values[i * nj + j])
                        .collect();
                    values = transposed;
                }
                reorder_field(&values, *ni, reorder, &mut out);
            }
            Layout::Points { count, order } => {
                if values.len() != *count {
                    return Err(grib_error(format!(
                        "{} values for a grid of {count} points",
                        values.len()
                    )));
                }
                out = match order {
                    Some(o) => o.iter().map(|&k| values[k]).collect(),
                    None => values,
                };
            }
        }
        Ok(out)
    }
}

impl FieldSource for GribSource {
    fn header(&self) -> &Header {
        &self.header
    }

    fn read(&self, variable: usize, time: usize) -> Result<Vec<f32>> {
        let mut out = Vec::with_capacity(
            self.header.variables[variable].levels.len() * self.header.members.len() * self.header.grid.len(),
        );
        for by_member in &self.messages[variable][time] {
            for r in by_member {
                out.extend(self.decode(*r)?);
            }
        }
        Ok(out)
    }
}

fn is_vertical(type_of_level: &str) -> bool {
    matches!(
        type_of_level,
        "isobaricInhPa"
            | "isobaricInPa"
            | "hybrid"
            | "theta"
            | "potentialVorticity"
            | "depthBelowSea"
            | "oceanModelLevel"
    )
}

/// CF standard names of the ERA5 parameters ecCodes names only in GRIB2 (GRIB1 messages, coded
/// in ECMWF's local table 128, come back with cfName "unknown").
fn ecmwf_standard_name(short_name: &str) -> Option<&'static str> {
    Some(match short_name {
        "2t" | "t" => "air_temperature",
        "2d" => "dew_point_temperature",
        "10u" | "u" => "eastward_wind",
        "10v" | "v" => "northward_wind",
        "msl" => "air_pressure_at_mean_sea_level",
        "sp" => "surface_air_pressure",
        "z" => "geopotential",
        "q" => "specific_humidity",
        "r" => "relative_humidity",
        "w" => "lagrangian_tendency_of_air_pressure",
        "sst" => "sea_surface_temperature",
        "lsm" => "land_area_fraction",
        "tcwv" => "atmosphere_mass_content_of_water_vapor",
        _ => return None,
    })
}

fn read_keys(msg: &KeyedMessage) -> std::result::Result<MessageKeys, String> {
    let s = |name: &str| -> std::result::Result<String, String> {
        key::<String>(msg, name).map_err(|e| format!("key {name}: {e}"))
    };
    let l = |name: &str| -> std::result::Result<i64, String> {
        key::<i64>(msg, name).map_err(|e| format!("key {name}: {e}"))
    };
    // Messages ecCodes reads but that are no field on a grid vejr can place: say what they are.
    match l("editionNumber")? {
        1 if key::<i64>(msg, "gridDescriptionSectionPresent").is_ok_and(|present| present == 0) => {
            return Err(format!(
                "GRIB1 on predefined grid {} without a grid description section: ecCodes cannot give its points",
                key::<i64>(msg, "gridDefinition").map_or("(unknown)".into(), |g| g.to_string())
            ));
        }
        2 => {
            let template = l("productDefinitionTemplateNumber")?;
            if (30..=33).contains(&template) {
                return Err(format!(
                    "product definition template 4.{template} (satellite imagery, {}) is not a forecast or analysis field",
                    s("shortName").unwrap_or_default()
                ));
            }
        }
        _ => {}
    }
    let data_date = l("dataDate")?;
    let data_time = l("dataTime")?;
    let date = NaiveDate::from_ymd_opt(
        (data_date / 10_000) as i32,
        ((data_date / 100) % 100) as u32,
        (data_date % 100) as u32,
    )
    .ok_or_else(|| format!("dataDate {data_date} is not a date"))?;
    let time = NaiveTime::from_hms_opt((data_time / 100) as u32, (data_time % 100) as u32, 0)
        .ok_or_else(|| format!("dataTime {data_time} is not a time"))?;
    let step_units = l("stepUnits")?;
    let end_step = l("endStep")?;
    let unit_seconds = match step_units {
        0 => 60,
        1 => 3_600,
        2 => 86_400,
        10 => 3 * 3_600,
        11 => 6 * 3_600,
        12 => 12 * 3_600,
        13 | 254 => 1,
        other => return Err(format!("unsupported stepUnits {other}")),
    };
    let valid_time = date.and_time(time).and_utc() + TimeDelta::seconds(end_step * unit_seconds);
    let geometry_keys = [
        "gridType",
        "Ni",
        "Nj",
        "latitudeOfFirstGridPointInDegrees",
        "longitudeOfFirstGridPointInDegrees",
        "latitudeOfLastGridPointInDegrees",
        "longitudeOfLastGridPointInDegrees",
        "numberOfDataPoints",
        "scanningMode",
    ];
    let geometry = geometry_keys
        .iter()
        .map(|k| msg.read_key_dynamic(k).map(|v| format!("{v:?}")).unwrap_or_default())
        .collect::<Vec<_>>()
        .join(" ");
    let type_of_level = s("typeOfLevel")?;
    let mut level = l("level")? as f64;
    // Missing (and so meaningless) on levels that are not layers.
    let mut bottom = key::<i64>(msg, "bottomLevel")
        .ok()
        .filter(|&b| b != 2_147_483_647 && b != -1 && b != 65_535 && b != 255)
        .map_or(level, |b| b as f64);
    // GRIB2 surfaces are scaled integers, and ecCodes' integer `level` and `bottomLevel` round
    // them: GFS's soil layers 0–0.1, 0.1–0.4 and 0.4–1 m would all be 0–0, its sigma layers
    // 0.33–1 and 0.44–1 both 0–1. Where ecCodes' level is the surface's value rounded (the same
    // unit), the exact value is used; other units (hPa from Pa, PV in 1e-9) are left as they are.
    if l("editionNumber")? == 2 {
        let surface = |which: &str| -> Option<f64> {
            let factor = key::<i64>(msg, &format!("scaleFactorOf{which}FixedSurface")).ok()?;
            let value = key::<i64>(msg, &format!("scaledValueOf{which}FixedSurface")).ok()?;
            let missing = |v: i64| v < 0 || v == 255 || v == 2_147_483_647 || v == 4_294_967_295;
            (factor > 0 && !missing(factor) && !missing(value)).then(|| value as f64 / 10f64.powi(factor as i32))
        };
        if let Some(top) = surface("First").filter(|t| t.round() == level) {
            level = top;
            if let Some(b) = surface("Second").filter(|b| b.round() == bottom) {
                bottom = b;
            } else if bottom.round() == top.round() && bottom != top {
                bottom = top;
            }
        }
    }
    Ok(MessageKeys {
        short_name: s("shortName")?,
        param_id: key::<i64>(msg, "paramId").ok().filter(|&p| p > 0),
        reference_time: date.and_time(time).and_utc(),
        long_name: s("name")?,
        cf_name: key::<String>(msg, "cfName")
            .ok()
            .filter(|n| !n.is_empty() && n != "unknown")
            .or_else(|| ecmwf_standard_name(&s("shortName").unwrap_or_default()).map(str::to_owned)),
        units: s("units")?,
        type_of_level,
        level,
        bottom,
        valid_time,
        member: key::<i64>(msg, "number").unwrap_or(0),
        edition: l("editionNumber")?,
        geometry,
    })
}

/// The second and later fields of a GRIB2 message, each read by ecCodes as a message of its
/// own (see grib2_fields): ecCodes by itself gives only the first.
fn further_fields(file: &File, first: MessageRef) -> std::result::Result<Vec<(MessageRef, MessageKeys)>, String> {
    let within = grib2_fields::InFile {
        file,
        start: first.offset,
    };
    let fields = grib2_fields::fields(&within, first.length)?;
    if fields.len() < 2 {
        return Ok(Vec::new());
    }
    let mut bytes = vec![0u8; first.length];
    file.read_exact_at(&mut bytes, first.offset)
        .map_err(|e| format!("cannot read {} bytes at offset {}: {e}", first.length, first.offset))?;
    let count = fields.len();
    let mut out = Vec::with_capacity(count - 1);
    for (i, field) in fields.iter().enumerate().skip(1) {
        let number = i + 1;
        let at = |m: String| format!("field {number} of {count}: {m}");
        let single = grib2_fields::single_field_message(&bytes, field);
        let mut handle = CodesHandle::new_from_memory(single, ProductKind::GRIB).map_err(|e| at(e.to_string()))?;
        let msg = handle
            .next()
            .map_err(|e| at(format!("unreadable: {e}")))?
            .ok_or_else(|| at("ecCodes finds no field".into()))?;
        let k = read_keys(msg).map_err(at)?;
        out.push((MessageRef { field: number, ..first }, k));
    }
    Ok(out)
}

/// ecCodes skips what it cannot read as GRIB between messages: a BUFR or other WMO product, or
/// a GRIB message it cannot frame. Bulletin headings and padding are expected there; a product
/// is data lost without a word.
fn check_gap(file: &File, path: &Path, from: u64, to: u64, number: usize) -> Result<()> {
    if to <= from {
        return Ok(());
    }
    let mut gap = vec![0u8; (to - from).min(1 << 20) as usize];
    file.read_exact_at(&mut gap, from)
        .map_err(|e| IngestError::io(path, e))?;
    let found = [&b"GRIB"[..], b"BUFR", b"BUDG", b"TIDE", b"CREX"]
        .iter()
        .filter_map(|magic| gap.windows(4).position(|w| w == *magic).map(|at| (at, *magic)))
        .min();
    match found {
        None => Ok(()),
        Some((at, magic)) => Err(IngestError::Grib {
            path: path.to_owned(),
            message_number: number,
            message: format!(
                "{} product at byte {} before this message that ecCodes skipped ({}): vejr reads every GRIB message or none",
                String::from_utf8_lossy(magic),
                from + at as u64,
                if magic == b"GRIB" {
                    "a GRIB message it cannot frame: damaged?"
                } else {
                    "not GRIB"
                }
            ),
        }),
    }
}

/// ecCodes stops quietly at a message it cannot frame (a truncated last message, say):
/// bytes left after the last message read mean the file is damaged.
fn check_tail(path: &Path, end: u64, file_len: u64, messages: usize) -> Result<()> {
    if end >= file_len {
        return Ok(());
    }
    let file = File::open(path).map_err(|e| IngestError::io(path, e))?;
    let mut rest = vec![0u8; (file_len - end).min(1 << 20) as usize];
    file.read_exact_at(&mut rest, end)
        .map_err(|e| IngestError::io(path, e))?;
    if rest.iter().all(|&b| b == 0 || b == b'\n' || b == b' ') {
        return Ok(());
    }
    Err(IngestError::Grib {
        path: path.to_owned(),
        message_number: messages + 1,
        message: format!(
            "unreadable or truncated message: {} bytes after message {messages} could not be decoded",
            file_len - end
        ),
    })
}
