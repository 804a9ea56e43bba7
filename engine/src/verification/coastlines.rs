//! Coastlines and national borders for maps, from GSHHG (Wessel and Smith's shoreline database,
//! the one GMT draws with) as Debian's `gmt-gshhg-low` ships it: GMT's "binned" NetCDF files in
//! /usr/share/gmt-gshhg (installed by the Makefile; `VEJR_GSHHG_DIR` points elsewhere).
//!
//! The binned layout (GMT's gmt_shore.c): the globe is cut into square bins of
//! `Bin_size_in_minutes`, numbered west→east from 0 °E and north→south; each bin holds segments,
//! and each point is two 16-bit offsets from the bin's south-west corner in 1/65535 of the bin's
//! side. Segments are open polylines clipped at bin edges, so drawing every segment as a line
//! draws the shores and borders without assembling polygons.

use std::path::{Path, PathBuf};

/// Where Debian's gmt-gshhg-low (and gmt-gshhg-high) put the files.
const DEFAULT_DIR: &str = "/usr/share/gmt-gshhg";

/// One polyline of (longitude °E in 0..360, latitude °N).
pub type Polyline = Vec<(f64, f64)>;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outline {
    /// Shores of land against sea (GSHHG level 1).
    Coastline,
    /// Shores of lakes (GSHHG level 2), drawn lighter.
    Lake,
    /// National borders (WDB-II level 1).
    Border,
}

/// GSHHG's resolutions, coarsest first: crude, low, intermediate (all in gmt-gshhg-low).
const RESOLUTIONS: [char; 3] = ['c', 'l', 'i'];

pub fn directory() -> PathBuf {
    std::env::var_os("VEJR_GSHHG_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(DEFAULT_DIR))
}

/// The resolution for a map spanning `extent_degrees` (its wider side): intermediate for a
/// region of a few tens of degrees, low for a continent, crude for the globe.
pub fn resolution_for(extent_degrees: f64) -> char {
    match extent_degrees {
        e if e <= 40.0 => RESOLUTIONS[2],
        e if e <= 150.0 => RESOLUTIONS[1],
        _ => RESOLUTIONS[0],
    }
}

pub fn path(outline: Outline, resolution: char) -> PathBuf {
    path_in(&directory(), outline, resolution)
}

pub fn path_in(directory: &Path, outline: Outline, resolution: char) -> PathBuf {
    let stem = match outline {
        Outline::Coastline | Outline::Lake => "binned_GSHHS",
        Outline::Border => "binned_border",
    };
    directory.join(format!("{stem}_{resolution}.nc"))
}

/// Every segment of one outline file that touches the box `south..north` × (longitudes, any
/// convention; the box is taken modulo 360), as polylines.
pub fn read(path: &Path, outline: Outline, south: f64, north: f64) -> Result<Vec<Polyline>, String> {
    let fail = |e: &dyn std::fmt::Display| format!("{}: {e}", path.display());
    let file = netcdf::open(path).map_err(|e| fail(&e))?;
    let ints = |name: &str| -> Result<Vec<i32>, String> {
        file.variable(name)
            .ok_or_else(|| fail(&format!("no variable {name}: not a GSHHG binned file")))?
            .get_values::<i32, _>(..)
            .map_err(|e| fail(&format!("{name}: {e}")))
    };
    let shorts = |name: &str| -> Result<Vec<i16>, String> {
        file.variable(name)
            .ok_or_else(|| fail(&format!("no variable {name}: not a GSHHG binned file")))?
            .get_values::<i16, _>(..)
            .map_err(|e| fail(&format!("{name}: {e}")))
    };
    let bin_minutes = *ints("Bin_size_in_minutes")?
        .first()
        .ok_or_else(|| fail(&"empty bin size"))?;
    let bins_x = *ints("N_bins_in_360_longitude_range")?
        .first()
        .ok_or_else(|| fail(&"no bin count"))?;
    if bin_minutes <= 0 || bins_x <= 0 {
        return Err(fail(&"bin size or count is not positive"));
    }
    let first_segment = ints("Id_of_first_segment_in_a_bin")?;
    let segments_in_bin = shorts("N_segments_in_a_bin")?;
    let first_point = ints("Id_of_first_point_in_a_segment")?;
    // Coastline files pack a segment's point count and level into one integer (count << 9,
    // level << 6, exit and entry sides below); border files keep them in two variables.
    let (counts, levels): (Vec<usize>, Vec<i32>) = match outline {
        Outline::Coastline | Outline::Lake => ints("Embedded_npts_levels_exit_entry_for_a_segment")?
            .iter()
            .map(|&info| ((info >> 9) as usize, (info >> 6) & 7))
            .unzip(),
        Outline::Border => (
            shorts("N_points_for_a_segment")?
                .iter()
                .map(|&n| n.max(0) as usize)
                .collect(),
            shorts("Hierarchial_level_of_a_segment")?
                .iter()
                .map(|&l| l as i32)
                .collect(),
        ),
    };
    let dx = shorts("Relative_longitude_from_SW_corner_of_bin")?;
    let dy = shorts("Relative_latitude_from_SW_corner_of_bin")?;
    let wanted = |level: i32| match outline {
        Outline::Coastline | Outline::Border => level == 1,
        Outline::Lake => level == 2,
    };

    let side = bin_minutes as f64 / 60.0;
    let scale = side / 65535.0;
    let mut lines = Vec::new();
    for (bin, (&first, &count)) in first_segment.iter().zip(&segments_in_bin).enumerate() {
        let bin = bin as i64;
        let lon_sw = (bin % bins_x as i64) as f64 * side;
        let lat_sw = 90.0 - ((bin / bins_x as i64) + 1) as f64 * side;
        if lat_sw > north || lat_sw + side < south {
            continue;
        }
        for s in first.max(0) as usize..(first.max(0) as usize + count.max(0) as usize) {
            let (Some(&start), Some(&n), Some(&level)) = (first_point.get(s), counts.get(s), levels.get(s)) else {
                return Err(fail(&format!("segment {s} is beyond the file's segment arrays")));
            };
            if !wanted(level) || n < 2 {
                continue;
            }
            let start = start.max(0) as usize;
            let (Some(xs), Some(ys)) = (dx.get(start..start + n), dy.get(start..start + n)) else {
                return Err(fail(&format!(
                    "segment {s}'s points are beyond the file's point arrays"
                )));
            };
            // The offsets are unsigned 16-bit numbers stored in NetCDF shorts.
            lines.push(
                xs.iter()
                    .zip(ys)
                    .map(|(&x, &y)| (lon_sw + (x as u16) as f64 * scale, lat_sw + (y as u16) as f64 * scale))
                    .collect(),
            );
        }
    }
    Ok(lines)
}

/// Polylines moved into the longitudes `west..west + 360` of a map and broken where they jump
/// across its seam.
pub fn in_map_longitudes(lines: &[Polyline], west: f64) -> Vec<Polyline> {
    let mut out = Vec::new();
    for line in lines {
        let mut piece: Polyline = Vec::new();
        for &(lon, lat) in line {
            let lon = west + (lon - west).rem_euclid(360.0);
            if let Some(&(last, _)) = piece.last()
                && (lon - last).abs() > 180.0
            {
                out.push(std::mem::take(&mut piece));
            }
            piece.push((lon, lat));
        }
        out.push(piece);
    }
    out.retain(|p| p.len() > 1);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn require_gshhg() {
        assert!(
            path(Outline::Coastline, 'c').exists(),
            "GSHHG is missing from {} (`make deps` installs gmt-gshhg-low)",
            directory().display()
        );
    }

    #[test]
    fn coastlines_are_on_the_globe_and_outline_known_places() {
        require_gshhg();
        let lines = read(&path(Outline::Coastline, 'l'), Outline::Coastline, -90.0, 90.0).unwrap();
        assert!(lines.len() > 1000, "{} segments", lines.len());
        let points: Vec<&(f64, f64)> = lines.iter().flatten().collect();
        assert!(
            points
                .iter()
                .all(|(lon, lat)| (0.0..=360.0).contains(lon) && (-90.0..=90.0).contains(lat))
        );
        // A shore passes near Copenhagen (12.57 °E, 55.68 °N) and none through the middle of the
        // North Atlantic (30 °W, 45 °N), nor of the Sahara (15 °E, 23 °N).
        let nearest = |lon: f64, lat: f64| {
            points
                .iter()
                .map(|(x, y)| ((x - lon) * (lat.to_radians().cos())).hypot(y - lat))
                .fold(f64::MAX, f64::min)
        };
        assert!(nearest(12.57, 55.68) < 0.3, "{}", nearest(12.57, 55.68));
        assert!(nearest(330.0, 45.0) > 5.0);
        assert!(nearest(15.0, 23.0) > 5.0);
    }

    #[test]
    fn borders_separate_neighbours() {
        require_gshhg();
        let lines = read(&path(Outline::Border, 'l'), Outline::Border, 40.0, 60.0).unwrap();
        // The Danish–German border runs along 54.8 °N near 9.4 °E.
        let near = lines
            .iter()
            .flatten()
            .any(|&(lon, lat)| (lon - 9.4).abs() < 0.5 && (lat - 54.85).abs() < 0.2);
        assert!(near);
    }

    #[test]
    fn lines_follow_the_map_longitudes_and_break_at_its_seam() {
        let line = vec![(350.0, 0.0), (359.0, 1.0), (1.0, 2.0), (10.0, 3.0)];
        let out = in_map_longitudes(std::slice::from_ref(&line), -180.0);
        assert_eq!(out, vec![vec![(-10.0, 0.0), (-1.0, 1.0), (1.0, 2.0), (10.0, 3.0)]]);
        let out = in_map_longitudes(&[line], 0.0);
        assert_eq!(
            out,
            vec![vec![(350.0, 0.0), (359.0, 1.0)], vec![(1.0, 2.0), (10.0, 3.0)]]
        );
    }
}
