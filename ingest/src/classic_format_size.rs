//! The least number of bytes a classic-format NetCDF file (CDF-1, CDF-2, CDF-5) must hold,
//! computed from what the netCDF library reports of its header.
//!
//! The netCDF library reads a classic file that has been cut short as if it were complete:
//! the missing bytes come back as zeros (a packed variable then decodes to `add_offset`),
//! because the format lets a writer leave the last records unwritten. A file cut in half by
//! a failed copy would become plausible constant fields. The header's layout is fixed by the
//! format specification (NetCDF Classic Format Specification, "The Format in Detail"), so the
//! header's size and each variable's data follow from names, attributes, types and
//! dimensions; the file must be at least that long. Writers may pad the header (`h_minfree`)
//! and each record, so this is a lower bound: a cut inside that padding loses nothing.

use netcdf::AttributeValue;

/// Where a classic file's bytes go, at the least: the header, then each fixed-size
/// variable's data, then `records` records each holding every record variable's slab.
#[derive(Debug)]
pub struct Layout {
    pub header: u64,
    pub fixed: Vec<(String, u64)>,
    pub record: Vec<(String, u64)>,
    pub records: u64,
}

impl Layout {
    /// The least number of bytes the file must hold.
    pub fn needed(&self) -> u64 {
        self.header
            + self.fixed.iter().map(|(_, n)| n).sum::<u64>()
            + self.records * self.record.iter().map(|(_, n)| n).sum::<u64>()
    }

    /// What a file of `length` bytes cuts off, in the user's terms: `None` when nothing.
    pub fn cut(&self, length: u64) -> Option<String> {
        if length >= self.needed() {
            return None;
        }
        let mut at = self.header;
        if length < at {
            return Some("the header".into());
        }
        for (name, bytes) in &self.fixed {
            at += bytes;
            if length < at {
                return Some(format!("variable {name}"));
            }
        }
        let record_bytes: u64 = self.record.iter().map(|(_, n)| n).sum();
        let record = (length - at) / record_bytes.max(1);
        let mut within = (length - at) % record_bytes.max(1);
        let name = self
            .record
            .iter()
            .find(|(_, n)| {
                let inside = within < *n;
                within = within.saturating_sub(*n);
                inside
            })
            .map_or("?", |(name, _)| name.as_str());
        Some(format!(
            "variable {name} from record {} of {}",
            record + 1,
            self.records
        ))
    }
}

/// The layout of a classic-format file (magic `CDF\x01`, `CDF\x02`, `CDF\x05`), `None` for any
/// other (HDF5-based NetCDF-4 reports its own truncation through HDF5).
pub fn layout(file: &netcdf::File, magic: &[u8]) -> Option<Layout> {
    let version = match magic {
        [b'C', b'D', b'F', v, ..] if matches!(v, 1 | 2 | 5) => *v,
        _ => return None,
    };
    // Counts are 32-bit in CDF-1/2 and 64-bit in CDF-5; variable offsets are 64-bit in 2 and 5.
    let count: u64 = if version == 5 { 8 } else { 4 };
    let offset: u64 = if version == 1 { 4 } else { 8 };
    let pad = |n: u64| n.div_ceil(4) * 4;
    let name = |s: &str| count + pad(s.len() as u64);
    // A list is a tag and a count (an absent list: two zeros of the same widths).
    let list = 4 + count;
    let attribute = |a: netcdf::Attribute<'_>| -> u64 {
        let values = a.value().map(|v| value_bytes(&v)).unwrap_or(0);
        name(a.name()) + 4 + count + pad(values)
    };

    let mut layout = Layout {
        header: 4 + count + list,
        fixed: Vec::new(),
        record: Vec::new(),
        records: 0,
    };
    for d in file.dimensions() {
        layout.header += name(&d.name()) + count;
        if d.is_unlimited() {
            layout.records = d.len() as u64;
        }
    }
    layout.header += list + file.attributes().map(attribute).sum::<u64>();
    layout.header += list;
    for v in file.variables() {
        let dims = v.dimensions();
        layout.header += name(&v.name()) + count + count * dims.len() as u64;
        layout.header += list + v.attributes().map(attribute).sum::<u64>();
        layout.header += 4 + count + offset;
        let element = v.vartype().size() as u64;
        let is_record = dims.first().is_some_and(|d| d.is_unlimited());
        // Per record a record variable holds its slab (padding left out: a lower bound); a
        // fixed one holds all of it, padded to four bytes.
        let slab: u64 = dims
            .iter()
            .skip(usize::from(is_record))
            .map(|d| d.len() as u64)
            .product::<u64>()
            * element;
        if is_record {
            layout.record.push((v.name(), slab));
        } else {
            layout.fixed.push((v.name(), pad(slab)));
        }
    }
    Some(layout)
}

fn value_bytes(value: &AttributeValue) -> u64 {
    use AttributeValue::*;
    (match value {
        Uchar(_) | Schar(_) => 1,
        Ushort(_) | Short(_) => 2,
        Uint(_) | Int(_) | Float(_) => 4,
        Ulonglong(_) | Longlong(_) | Double(_) => 8,
        Uchars(v) => v.len(),
        Schars(v) => v.len(),
        Ushorts(v) => 2 * v.len(),
        Shorts(v) => 2 * v.len(),
        Uints(v) => 4 * v.len(),
        Ints(v) => 4 * v.len(),
        Floats(v) => 4 * v.len(),
        Ulonglongs(v) => 8 * v.len(),
        Longlongs(v) => 8 * v.len(),
        Doubles(v) => 8 * v.len(),
        Str(s) => s.len(),
        Strs(v) => v.iter().map(String::len).sum(),
    }) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::test_data::shared_file;

    fn magic(path: &std::path::Path) -> Vec<u8> {
        std::fs::read(path).unwrap()[..4].to_vec()
    }

    #[test]
    fn complete_classic_files_are_at_least_as_long_as_their_header_and_data_need() {
        for name in [
            "era5-t2m-2019-03-uk-legacy.nc",
            "eraint_uvz.nc",
            "ncep-r2-pr_wtr-2022-daily.nc",
        ] {
            let path = shared_file(&format!("netcdf/{name}"));
            let file = netcdf::open(&path).unwrap();
            let magic = magic(&path);
            let Some(layout) = layout(&file, &magic) else {
                assert!(!magic.starts_with(b"CDF"), "{name}: classic but no layout");
                continue;
            };
            let actual = std::fs::metadata(&path).unwrap().len();
            let needed = layout.needed();
            assert!(
                needed <= actual && layout.cut(actual).is_none(),
                "{name}: needs {needed}, has {actual}"
            );
            // The bound is tight: these headers are not padded beyond a few bytes.
            assert!(actual - needed < 8192, "{name}: needs {needed}, has {actual}");
            assert!(layout.cut(actual - (actual - needed) - 1).is_some(), "{name}");
        }
    }
}
