//! Grids that are not latitudes × longitudes, described as GRIB and CF describe them, so a store
//! keeps its grid's definition and outputs are written on it again. ecCodes (or the file's own
//! 2-D latitude and longitude) gives every point's coordinates on read; the formulas here only
//! give CF's projection coordinates `x`, `y` for output (spherical Earth, as HARMONIE, DANRA and
//! ecCodes' spherical shapes have it; Snyder, *Map Projections — A Working Manual*, §15 and §21).

use std::f64::consts::FRAC_PI_4;

use serde::{Deserialize, Serialize};

/// The order of the points in the file, kept as is: `i` along a row, rows one after another.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Scanning {
    pub i_negative: bool,
    pub j_positive: bool,
}

/// What a grid on a projection plane is besides its projection: its size, first point, spacing
/// and scanning on a spherical Earth, as GRIB's Lambert (3.30) and polar stereographic (3.20)
/// templates both give it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlaneGrid {
    pub nx: usize,
    pub ny: usize,
    /// The first point in the file's order, degrees.
    pub first_latitude: f64,
    pub first_longitude: f64,
    /// Grid spacing, metres.
    pub dx: f64,
    pub dy: f64,
    pub earth_radius: f64,
    pub scanning: Scanning,
}

impl PlaneGrid {
    /// `x` along a row and `y` down the rows, in the file's order, from the first point's
    /// projection coordinates.
    fn axes(&self, forward: impl Fn(f64, f64) -> (f64, f64)) -> (Vec<f64>, Vec<f64>) {
        let (x0, y0) = forward(self.first_latitude, self.first_longitude);
        regular_axes(x0, y0, self.dx, self.dy, self.nx, self.ny, self.scanning)
    }
}

/// Lambert conformal conic (GRIB2 template 3.30, GRIB1 type 3, CF `lambert_conformal_conic`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LambertConformal {
    /// Flattened: the store's and checkpoint's JSON keep one flat object per grid.
    #[serde(flatten)]
    pub plane: PlaneGrid,
    /// LaD: the latitude where dx and dy hold, and CF's `latitude_of_projection_origin`.
    pub origin_latitude: f64,
    /// LoV: the meridian parallel to the y axis.
    pub central_meridian: f64,
    pub standard_parallels: [f64; 2],
}

/// Rotated latitude-longitude (GRIB2 template 3.1, CF `rotated_latitude_longitude`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RotatedLatLon {
    pub ni: usize,
    pub nj: usize,
    /// The first point in rotated coordinates, degrees.
    pub first_latitude: f64,
    pub first_longitude: f64,
    /// Increments in rotated degrees.
    pub di: f64,
    pub dj: f64,
    pub south_pole_latitude: f64,
    pub south_pole_longitude: f64,
    pub earth_radius: f64,
    pub scanning: Scanning,
}

/// Polar stereographic (GRIB2 template 3.20, CF `polar_stereographic`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PolarStereographic {
    #[serde(flatten)]
    pub plane: PlaneGrid,
    /// LaD: the latitude where dx and dy hold (CF's `standard_parallel`).
    pub true_latitude: f64,
    /// LoV: the meridian pointing to the pole along the y axis.
    pub orientation: f64,
    pub south_pole: bool,
}

impl LambertConformal {
    fn cone(&self) -> (f64, f64) {
        let [p1, p2] = self.standard_parallels.map(f64::to_radians);
        let n = if (p1 - p2).abs() < 1e-10 {
            p1.sin()
        } else {
            (p1.cos() / p2.cos()).ln() / ((FRAC_PI_4 + p2 / 2.0).tan() / (FRAC_PI_4 + p1 / 2.0).tan()).ln()
        };
        let f = p1.cos() * (FRAC_PI_4 + p1 / 2.0).tan().powf(n) / n;
        (n, f)
    }

    /// Projection coordinates (metres) of a point, with the origin at (LaD, LoV) as CF has it.
    pub fn forward(&self, latitude: f64, longitude: f64) -> (f64, f64) {
        let (n, f) = self.cone();
        let rho = |lat: f64| self.plane.earth_radius * f / (FRAC_PI_4 + lat.to_radians() / 2.0).tan().powf(n);
        let theta = n * centred(longitude - self.central_meridian).to_radians();
        let r = rho(latitude);
        (r * theta.sin(), rho(self.origin_latitude) - r * theta.cos())
    }

    /// `x` along a row and `y` down the rows, in the file's order.
    pub fn axes(&self) -> (Vec<f64>, Vec<f64>) {
        self.plane.axes(|lat, lon| self.forward(lat, lon))
    }
}

impl PolarStereographic {
    pub fn forward(&self, latitude: f64, longitude: f64) -> (f64, f64) {
        let sign = if self.south_pole { -1.0 } else { 1.0 };
        // Scale true at `true_latitude`: k0 at the pole is (1 + sin φc) / 2.
        let k0 = (1.0 + (sign * self.true_latitude).to_radians().sin()) / 2.0;
        let rho = 2.0 * self.plane.earth_radius * k0 * (FRAC_PI_4 - sign * latitude.to_radians() / 2.0).tan();
        let lambda = centred(longitude - self.orientation).to_radians();
        (rho * lambda.sin(), -sign * rho * lambda.cos())
    }

    pub fn axes(&self) -> (Vec<f64>, Vec<f64>) {
        self.plane.axes(|lat, lon| self.forward(lat, lon))
    }
}

impl RotatedLatLon {
    /// Rotated longitudes along a row and rotated latitudes down the rows, degrees.
    pub fn axes(&self) -> (Vec<f64>, Vec<f64>) {
        regular_axes(
            centred(self.first_longitude),
            self.first_latitude,
            self.di,
            self.dj,
            self.ni,
            self.nj,
            self.scanning,
        )
    }

    /// Only the rotation, from CF's pole of the rotated grid (`grid_north_pole_latitude`,
    /// `grid_north_pole_longitude`): enough for [`Self::geographic`].
    pub fn from_north_pole(latitude: f64, longitude: f64) -> Self {
        Self {
            ni: 0,
            nj: 0,
            first_latitude: 0.0,
            first_longitude: 0.0,
            di: 0.0,
            dj: 0.0,
            south_pole_latitude: -latitude,
            south_pole_longitude: (longitude + 180.0).rem_euclid(360.0),
            earth_radius: 0.0,
            scanning: Scanning::default(),
        }
    }

    /// Geographic latitude and longitude (degrees east in [0, 360)) of the point at rotated
    /// latitude and longitude `rotated`, as GRIB's and COSMO's rotation has it: the sphere turned
    /// about the y axis by the southern pole's latitude + 90°, then about the z axis by its
    /// longitude.
    pub fn geographic(&self, rotated_latitude: f64, rotated_longitude: f64) -> (f64, f64) {
        let (lat, lon) = (rotated_latitude.to_radians(), rotated_longitude.to_radians());
        let (x, y, z) = (lat.cos() * lon.cos(), lat.cos() * lon.sin(), lat.sin());
        let theta = -(90.0 + self.south_pole_latitude).to_radians();
        let phi = -self.south_pole_longitude.to_radians();
        let (ct, st, cp, sp) = (theta.cos(), theta.sin(), phi.cos(), phi.sin());
        let xg = ct * cp * x + sp * y + st * cp * z;
        let yg = -ct * sp * x + cp * y - st * sp * z;
        let zg = -st * x + ct * z;
        (
            zg.clamp(-1.0, 1.0).asin().to_degrees(),
            yg.atan2(xg).to_degrees().rem_euclid(360.0),
        )
    }

    /// CF's pole of the rotated grid: the antipode of GRIB's southern pole.
    pub fn north_pole(&self) -> (f64, f64) {
        (-self.south_pole_latitude, centred(self.south_pole_longitude - 180.0))
    }
}

fn regular_axes(x0: f64, y0: f64, dx: f64, dy: f64, nx: usize, ny: usize, s: Scanning) -> (Vec<f64>, Vec<f64>) {
    let sx = if s.i_negative { -dx } else { dx };
    let sy = if s.j_positive { dy } else { -dy };
    (
        (0..nx).map(|i| x0 + sx * i as f64).collect(),
        (0..ny).map(|j| y0 + sy * j as f64).collect(),
    )
}

/// A longitude difference in (-180, 180].
fn centred(degrees: f64) -> f64 {
    let d = degrees.rem_euclid(360.0);
    if d > 180.0 { d - 360.0 } else { d }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn danra_like() -> LambertConformal {
        LambertConformal {
            plane: PlaneGrid {
                nx: 3,
                ny: 2,
                first_latitude: 47.6,
                first_longitude: 355.0,
                dx: 2500.0,
                dy: 2500.0,
                earth_radius: 6_367_470.0,
                scanning: Scanning {
                    i_negative: false,
                    j_positive: true,
                },
            },
            origin_latitude: 56.7,
            central_meridian: 25.0,
            standard_parallels: [56.7, 56.7],
        }
    }

    #[test]
    fn the_projection_origin_is_at_zero_and_north_is_up_on_the_central_meridian() {
        let l = danra_like();
        let (x, y) = l.forward(56.7, 25.0);
        assert!(x.abs() < 1e-6 && y.abs() < 1e-6, "{x} {y}");
        let (x, y) = l.forward(60.0, 25.0);
        assert!(x.abs() < 1e-6 && y > 0.0);
        // One degree of latitude on the tangent parallel is about 111 km (R = 6367.47 km).
        let (_, y1) = l.forward(57.7, 25.0);
        assert!((y1 - 6_367_470.0 * 1f64.to_radians()).abs() < 200.0, "{y1}");
    }

    #[test]
    fn axes_follow_the_scanning_from_the_first_point() {
        let l = danra_like();
        let (x, y) = l.axes();
        let (x0, y0) = l.forward(47.6, 355.0);
        assert_eq!(x, vec![x0, x0 + 2500.0, x0 + 5000.0]);
        assert_eq!(y, vec![y0, y0 + 2500.0]);
        assert!(x0 < 0.0, "west of the central meridian");
    }

    #[test]
    fn polar_stereographic_puts_the_pole_at_the_origin() {
        let p = PolarStereographic {
            plane: PlaneGrid {
                nx: 2,
                ny: 2,
                first_latitude: 60.0,
                first_longitude: 0.0,
                dx: 10_000.0,
                dy: 10_000.0,
                earth_radius: 6_371_229.0,
                scanning: Scanning::default(),
            },
            true_latitude: 60.0,
            orientation: 0.0,
            south_pole: false,
        };
        let (x, y) = p.forward(90.0, 123.0);
        assert!(x.abs() < 1e-6 && y.abs() < 1e-6);
        let (x, y) = p.forward(60.0, 0.0);
        assert!(x.abs() < 1e-6 && y < 0.0, "south of the pole along LoV is -y");
    }

    #[test]
    fn a_plane_grid_serialises_flat_as_stores_and_checkpoints_keep_it() {
        let json = serde_json::to_value(danra_like()).unwrap();
        assert_eq!(json["nx"], 3);
        assert_eq!(json["dx"], 2500.0);
        assert_eq!(json["scanning"]["j_positive"], true);
        assert_eq!(json["central_meridian"], 25.0);
        assert!(json.get("plane").is_none(), "{json}");
        let back: LambertConformal = serde_json::from_value(json).unwrap();
        assert_eq!(back, danra_like());
    }

    #[test]
    fn rotated_pole_is_the_antipode_of_the_southern_pole() {
        let r = RotatedLatLon {
            ni: 2,
            nj: 2,
            first_latitude: 10.0,
            first_longitude: -5.0,
            di: 0.5,
            dj: 0.5,
            south_pole_latitude: -40.0,
            south_pole_longitude: 10.0,
            earth_radius: 6_371_229.0,
            scanning: Scanning::default(),
        };
        assert_eq!(r.north_pole(), (40.0, -170.0));
        assert_eq!(r.axes(), (vec![-5.0, -4.5], vec![10.0, 9.5]));
    }
}
