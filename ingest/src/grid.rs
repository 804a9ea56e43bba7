//! Horizontal grids. Latitude × longitude grids take the one orientation vejr uses after
//! reading: latitudes north→south, longitudes ascending in [0, 360). Every other grid (a
//! projection, a reduced grid, an unstructured set) is a set of points in the file's own order,
//! each with its latitude and longitude, and its definition kept for writing outputs on it.

use serde::{Deserialize, Serialize};

use crate::projection::{LambertConformal, PolarStereographic, RotatedLatLon};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GridKind {
    RegularLatLon,
    /// Regular Gaussian grid with `n` latitudes between pole and equator.
    RegularGaussian {
        n: usize,
    },
    LambertConformal(LambertConformal),
    RotatedLatLon(RotatedLatLon),
    PolarStereographic(PolarStereographic),
    /// Reduced Gaussian grid (N`n`, `points_per_row` from north to south), kept as its own points.
    ReducedGaussian {
        n: usize,
        points_per_row: Vec<usize>,
    },
    /// Reduced latitude-longitude grid, rows from north to south.
    ReducedLatLon {
        points_per_row: Vec<usize>,
    },
    /// Points with no structure beyond their coordinates (a file's 1-D `values`).
    Unstructured,
}

impl GridKind {
    /// Latitudes × longitudes: the grid is its two axes.
    pub fn is_product(&self) -> bool {
        matches!(self, Self::RegularLatLon | Self::RegularGaussian { .. })
    }
}

/// Every point's own coordinates, in the file's order, for a grid that is not latitudes ×
/// longitudes; `shape` is (rows, columns) of a structured grid and (1, points) otherwise.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PointCoordinates {
    pub shape: (usize, usize),
    pub latitudes: Vec<f64>,
    /// Degrees east in [0, 360).
    pub longitudes: Vec<f64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Grid {
    pub kind: GridKind,
    /// Degrees north, strictly decreasing (latitude × longitude grids; empty otherwise).
    pub latitudes: Vec<f64>,
    /// Degrees east in [0, 360), strictly increasing (latitude × longitude grids; empty otherwise).
    pub longitudes: Vec<f64>,
    /// Set exactly when the grid is not latitudes × longitudes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub points: Option<PointCoordinates>,
}

/// How to take a field from a file's order into the canonical one: canonical row `i` is file row
/// `rows[i]`, canonical column `j` is file column `columns[j]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Reorder {
    pub rows: Vec<usize>,
    pub columns: Vec<usize>,
}

impl Reorder {
    pub fn is_identity(&self) -> bool {
        self.rows.iter().enumerate().all(|(i, &r)| i == r) && self.columns.iter().enumerate().all(|(j, &c)| j == c)
    }
}

pub fn wrap_longitude(lon: f64) -> f64 {
    let wrapped = lon.rem_euclid(360.0);
    // rem_euclid can return 360.0 for tiny negative inputs.
    if wrapped >= 360.0 - 1e-9 { 0.0 } else { wrapped }
}

impl Grid {
    /// Builds the canonical grid from coordinates in file order, and the reordering of the data.
    pub fn from_file_coordinates(
        kind: GridKind,
        file_latitudes: &[f64],
        file_longitudes: &[f64],
    ) -> Result<(Grid, Reorder), String> {
        if file_latitudes.is_empty() || file_longitudes.is_empty() {
            return Err("empty latitude or longitude axis".into());
        }
        if let Some(bad) = file_latitudes.iter().find(|l| !l.is_finite() || l.abs() > 90.0 + 1e-6) {
            return Err(format!("latitude {bad} outside [-90, 90]"));
        }
        if let Some(bad) = file_longitudes.iter().find(|l| !l.is_finite()) {
            return Err(format!("longitude {bad} is not a number"));
        }
        let mut rows: Vec<usize> = (0..file_latitudes.len()).collect();
        rows.sort_by(|&a, &b| file_latitudes[b].total_cmp(&file_latitudes[a]));
        let latitudes: Vec<f64> = rows.iter().map(|&r| file_latitudes[r]).collect();
        if latitudes.windows(2).any(|w| (w[0] - w[1]).abs() < 1e-9) {
            return Err("duplicate latitudes".into());
        }

        // The cyclic column plotting datasets repeat at the end (0° again as 360°, NCL's
        // add_cyclic): one place on Earth, read once, from the first column.
        let cyclic = file_longitudes.len() > 2
            && ((file_longitudes[file_longitudes.len() - 1] - file_longitudes[0]).abs() - 360.0).abs() < 1e-9;
        let read = if cyclic {
            &file_longitudes[..file_longitudes.len() - 1]
        } else {
            file_longitudes
        };
        let wrapped: Vec<f64> = read.iter().map(|&l| wrap_longitude(l)).collect();
        let mut columns: Vec<usize> = (0..wrapped.len()).collect();
        columns.sort_by(|&a, &b| wrapped[a].total_cmp(&wrapped[b]));
        let longitudes: Vec<f64> = columns.iter().map(|&c| wrapped[c]).collect();
        if longitudes.windows(2).any(|w| (w[0] - w[1]).abs() < 1e-9) {
            return Err("duplicate longitudes (e.g. both 0° and 360°)".into());
        }
        Ok((
            Grid {
                kind,
                latitudes,
                longitudes,
                points: None,
            },
            Reorder { rows, columns },
        ))
    }

    /// A grid of points with their own coordinates, kept in the order given.
    pub fn from_points(
        kind: GridKind,
        shape: (usize, usize),
        latitudes: Vec<f64>,
        longitudes: Vec<f64>,
    ) -> Result<Grid, String> {
        if kind.is_product() {
            return Err("a latitude × longitude grid is given by its axes, not its points".into());
        }
        let n = shape.0 * shape.1;
        if n == 0 || latitudes.len() != n || longitudes.len() != n {
            return Err(format!(
                "{} latitudes and {} longitudes for a grid of {} × {}",
                latitudes.len(),
                longitudes.len(),
                shape.0,
                shape.1
            ));
        }
        if let Some(bad) = latitudes.iter().find(|l| !l.is_finite() || l.abs() > 90.0 + 1e-6) {
            return Err(format!("latitude {bad} outside [-90, 90]"));
        }
        if let Some(bad) = longitudes.iter().find(|l| !l.is_finite()) {
            return Err(format!("longitude {bad} is not a number"));
        }
        Ok(Grid {
            kind,
            latitudes: Vec::new(),
            longitudes: Vec::new(),
            points: Some(PointCoordinates {
                shape,
                latitudes,
                longitudes: longitudes.into_iter().map(wrap_longitude).collect(),
            }),
        })
    }

    /// Whether the grid is latitudes × longitudes (its axes are `latitudes` and `longitudes`).
    pub fn is_product(&self) -> bool {
        self.points.is_none()
    }

    pub fn shape(&self) -> (usize, usize) {
        match &self.points {
            Some(p) => p.shape,
            None => (self.latitudes.len(), self.longitudes.len()),
        }
    }

    pub fn len(&self) -> usize {
        let (ny, nx) = self.shape();
        ny * nx
    }

    /// Latitude and longitude of point `p` (row-major), degrees.
    pub fn point(&self, p: usize) -> (f64, f64) {
        match &self.points {
            Some(c) => (c.latitudes[p], c.longitudes[p]),
            None => {
                let nx = self.longitudes.len();
                (self.latitudes[p / nx], self.longitudes[p % nx])
            }
        }
    }

    /// Every point's latitude and longitude, row-major like the data.
    pub fn point_coordinates(&self) -> (Vec<f64>, Vec<f64>) {
        match &self.points {
            Some(c) => (c.latitudes.clone(), c.longitudes.clone()),
            None => (0..self.len()).map(|p| self.point(p)).unzip(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Longitude spacing, taken as the smallest gap so that a regional grid crossing the prime
    /// meridian (whose ascending longitudes jump from ~2° to ~350°) is measured right.
    pub fn longitude_step(&self) -> Option<f64> {
        let gaps: Vec<f64> = self.longitudes.windows(2).map(|w| w[1] - w[0]).collect();
        gaps.iter().copied().min_by(f64::total_cmp)
    }

    pub fn latitude_step(&self) -> Option<f64> {
        let gaps: Vec<f64> = self.latitudes.windows(2).map(|w| w[0] - w[1]).collect();
        gaps.iter().copied().min_by(f64::total_cmp)
    }

    /// A reduced grid's coverage: (every row goes all the way round, the rows reach both poles
    /// within a row's spacing and a half). None for other grids. ECMWF's and NCEP's global
    /// grids are both; an area cut from one (WAFS's octants, 0–90°N by 240–330°E) is neither.
    fn reduced_coverage(&self) -> Option<(bool, bool)> {
        let (GridKind::ReducedGaussian { points_per_row, .. } | GridKind::ReducedLatLon { points_per_row }) =
            &self.kind
        else {
            return None;
        };
        let points = self.points.as_ref()?;
        if points_per_row.iter().sum::<usize>() != points.longitudes.len() || points_per_row.len() < 2 {
            return Some((false, false));
        }
        let mut start = 0;
        let mut round = true;
        let mut row_latitudes = Vec::with_capacity(points_per_row.len());
        // Rows of no points (ecCodes' reduced_ll sample has some) say nothing.
        for &n in points_per_row.iter().filter(|&&n| n > 0) {
            let row = &points.longitudes[start..start + n];
            row_latitudes.push(points.latitudes[start]);
            start += n;
            let mut sorted = row.to_vec();
            sorted.sort_by(f64::total_cmp);
            // The widest gap between neighbours, the one across the row's ends included: a whole
            // row leaves none wider than its spacing (a row of one point, at a pole, has none).
            let widest = sorted
                .windows(2)
                .map(|w| w[1] - w[0])
                .chain(
                    sorted
                        .first()
                        .zip(sorted.last())
                        .map(|(first, last)| first + 360.0 - last),
                )
                .fold(0.0, f64::max);
            round &= n == 1 || widest < 1.5 * 360.0 / n as f64;
        }
        if row_latitudes.len() < 2 {
            return Some((round, false));
        }
        let spacing = (row_latitudes[0] - row_latitudes[1]).abs();
        let (north, south) = row_latitudes
            .iter()
            .fold((f64::MIN, f64::MAX), |(n, s), &l| (n.max(l), s.min(l)));
        let poles = north >= 90.0 - 1.5 * spacing && south <= -90.0 + 1.5 * spacing;
        Some((round, poles))
    }

    /// Whether the points cover the globe (no lateral boundary): a global reduced grid.
    pub fn is_global_point_set(&self) -> bool {
        self.reduced_coverage() == Some((true, true))
    }

    /// True when the longitudes go all the way round (on a reduced grid: every row).
    pub fn is_global_in_longitude(&self) -> bool {
        if self.points.is_some() {
            return self.reduced_coverage().is_some_and(|(round, _)| round);
        }
        match self.longitude_step() {
            Some(step) => (self.longitudes.len() as f64 * step - 360.0).abs() < step * 0.5,
            None => false,
        }
    }

    /// West and east edges of a regional grid, following it eastwards across the prime meridian if need be.
    pub fn longitude_bounds(&self) -> (f64, f64) {
        if let Some(points) = &self.points {
            let mut sorted = points.longitudes.clone();
            sorted.sort_by(f64::total_cmp);
            sorted.dedup_by(|a, b| (*a - *b).abs() < 1e-9);
            return Grid {
                kind: GridKind::RegularLatLon,
                latitudes: vec![0.0],
                longitudes: sorted,
                points: None,
            }
            .longitude_bounds_of_axis(self.is_global_in_longitude());
        }
        self.longitude_bounds_of_axis(self.is_global_in_longitude())
    }

    /// Northern and southern edges.
    pub fn latitude_bounds(&self) -> (f64, f64) {
        match &self.points {
            Some(p) => p
                .latitudes
                .iter()
                .fold((f64::MIN, f64::MAX), |(n, s), &l| (n.max(l), s.min(l))),
            None => (self.latitudes[0], self.latitudes[self.latitudes.len() - 1]),
        }
    }

    fn longitude_bounds_of_axis(&self, global: bool) -> (f64, f64) {
        let n = self.longitudes.len();
        if n < 2 || global {
            return (self.longitudes[0], self.longitudes[n - 1]);
        }
        // The largest gap between neighbours (cyclically) is outside the domain.
        let mut largest = (360.0 - self.longitudes[n - 1] + self.longitudes[0], n - 1);
        for i in 0..n - 1 {
            let gap = self.longitudes[i + 1] - self.longitudes[i];
            if gap > largest.0 {
                largest = (gap, i);
            }
        }
        let west = self.longitudes[(largest.1 + 1) % n];
        let east = self.longitudes[largest.1];
        (west, east)
    }

    /// Index of the grid point nearest to (lat, lon), both in degrees.
    pub fn nearest(&self, lat: f64, lon: f64) -> usize {
        let lon = wrap_longitude(lon);
        if let Some(points) = &self.points {
            // Smallest chord: the nearest point on the sphere.
            let xyz = |a: f64, o: f64| {
                let (a, o) = (a.to_radians(), o.to_radians());
                [a.cos() * o.cos(), a.cos() * o.sin(), a.sin()]
            };
            let target = xyz(lat, lon);
            let chord = |p: usize| {
                let v = xyz(points.latitudes[p], points.longitudes[p]);
                (0..3).map(|k| (v[k] - target[k]).powi(2)).sum::<f64>()
            };
            return (0..points.latitudes.len())
                .min_by(|&a, &b| chord(a).total_cmp(&chord(b)))
                .unwrap_or(0);
        }
        let i = nearest_index(&self.latitudes, lat, false);
        let j = nearest_index(&self.longitudes, lon, true);
        i * self.longitudes.len() + j
    }

    /// Same points within `tolerance` degrees.
    pub fn same_points(&self, other: &Grid, tolerance: f64) -> bool {
        if self.points.is_some() || other.points.is_some() {
            let close = |a: f64, b: f64| (a - b).abs() <= tolerance;
            let lon_close = |a: f64, b: f64| {
                let d = (a - b).rem_euclid(360.0);
                d.min(360.0 - d) <= tolerance
            };
            return self.shape() == other.shape()
                && (0..self.len()).all(|p| {
                    let ((a, o), (b, q)) = (self.point(p), other.point(p));
                    close(a, b) && lon_close(o, q)
                });
        }
        self.shape() == other.shape()
            && self
                .latitudes
                .iter()
                .zip(&other.latitudes)
                .all(|(a, b)| (a - b).abs() <= tolerance)
            && self
                .longitudes
                .iter()
                .zip(&other.longitudes)
                .all(|(a, b)| (a - b).abs() <= tolerance)
    }

    pub fn describe(&self) -> String {
        let (ny, nx) = self.shape();
        match &self.kind {
            GridKind::RegularLatLon => format!("regular lat-lon {ny} × {nx}"),
            GridKind::RegularGaussian { n } => format!("regular Gaussian N{n} ({ny} × {nx})"),
            GridKind::LambertConformal(l) => format!("Lambert conformal {ny} × {nx} at {:.0} m", l.plane.dx),
            GridKind::RotatedLatLon(r) => format!(
                "rotated lat-lon {ny} × {nx} (south pole {}°N {}°E)",
                r.south_pole_latitude, r.south_pole_longitude
            ),
            GridKind::PolarStereographic(p) => format!("polar stereographic {ny} × {nx} at {:.0} m", p.plane.dx),
            GridKind::ReducedGaussian { n, .. } => format!("reduced Gaussian N{n} ({nx} points)"),
            GridKind::ReducedLatLon { points_per_row } => {
                format!("reduced lat-lon, {} rows ({nx} points)", points_per_row.len())
            }
            GridKind::Unstructured if ny > 1 => format!("curvilinear {ny} × {nx} (2-D latitude and longitude)"),
            GridKind::Unstructured => format!("unstructured ({nx} points)"),
        }
    }
}

fn nearest_index(axis: &[f64], value: f64, periodic: bool) -> usize {
    let distance = |a: f64| {
        let d = (a - value).abs();
        if periodic { d.min(360.0 - d) } else { d }
    };
    (0..axis.len())
        .min_by(|&a, &b| distance(axis[a]).total_cmp(&distance(axis[b])))
        .unwrap_or(0)
}

/// Applies `reorder` to one 2-D field stored row-major with `file_columns` columns.
pub fn reorder_field(src: &[f32], file_columns: usize, reorder: &Reorder, out: &mut Vec<f32>) {
    out.reserve(reorder.rows.len() * reorder.columns.len());
    for &r in &reorder.rows {
        let row = &src[r * file_columns..(r + 1) * file_columns];
        out.extend(reorder.columns.iter().map(|&c| row[c]));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn south_to_north_and_negative_longitudes_are_reordered() {
        let lats = [-10.0, 0.0, 10.0];
        let lons = [-90.0, 0.0, 90.0, 180.0];
        let (grid, reorder) = Grid::from_file_coordinates(GridKind::RegularLatLon, &lats, &lons).unwrap();
        assert_eq!(grid.latitudes, vec![10.0, 0.0, -10.0]);
        assert_eq!(grid.longitudes, vec![0.0, 90.0, 180.0, 270.0]);
        // value = 10 * row + column in file order
        let src: Vec<f32> = (0..3).flat_map(|r| (0..4).map(move |c| (10 * r + c) as f32)).collect();
        let mut out = Vec::new();
        reorder_field(&src, 4, &reorder, &mut out);
        assert_eq!(&out[..4], &[21.0, 22.0, 23.0, 20.0]);
        assert_eq!(&out[8..], &[1.0, 2.0, 3.0, 0.0]);
        assert!(grid.is_global_in_longitude());
    }

    #[test]
    fn duplicate_wrapped_longitude_is_refused_but_a_trailing_cyclic_column_is_read_once() {
        for lons in [[0.0, 360.0, 180.0], [0.0, 180.0, 720.0], [-180.0, 180.0, 0.0]] {
            let err = Grid::from_file_coordinates(GridKind::RegularLatLon, &[0.0], &lons);
            assert!(err.unwrap_err().contains("duplicate longitudes"), "{lons:?}");
        }
        for (lons, first) in [
            ([0.0, 90.0, 180.0, 270.0, 360.0], 0.0),
            ([-180.0, -90.0, 0.0, 90.0, 180.0], 0.0),
        ] {
            let (grid, reorder) = Grid::from_file_coordinates(GridKind::RegularLatLon, &[10.0, 0.0], &lons).unwrap();
            assert_eq!(grid.longitudes, vec![first, 90.0, 180.0, 270.0], "{lons:?}");
            assert_eq!(reorder.columns.len(), 4);
            assert!(!reorder.columns.contains(&4), "the cyclic column is not read");
            let mut out = Vec::new();
            reorder_field(&[0., 1., 2., 3., 0., 10., 11., 12., 13., 10.], 5, &reorder, &mut out);
            assert_eq!(out.len(), 8);
            assert!(grid.is_global_in_longitude());
        }
    }

    #[test]
    fn regional_bounds_across_the_prime_meridian() {
        let lons: Vec<f64> = (0..49).map(|i| -10.0 + 0.25 * i as f64).collect();
        let (grid, _) = Grid::from_file_coordinates(GridKind::RegularLatLon, &[58.0, 50.0], &lons).unwrap();
        assert_eq!(grid.longitude_bounds(), (350.0, 2.0));
        assert_eq!(grid.longitude_step(), Some(0.25));
        assert!(!grid.is_global_in_longitude());
        let p = grid.nearest(50.0, -10.0);
        assert_eq!(grid.latitudes[p / 49], 50.0);
        assert_eq!(grid.longitudes[p % 49], 350.0);
    }
}
