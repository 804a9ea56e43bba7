//! The GRIB2 grid section of a forecast on its model's own grid: Lambert conformal (template
//! 3.30), rotated lat-lon (3.1), polar stereographic (3.20), set on ecCodes' sample by ecCodes'
//! own keys, and reduced Gaussian grids from ecCodes' sample of that N (3.40 with its `pl`). The
//! values are written in the order the grid was read, so scanning keys are the source's.

use eccodes::{KeyRead, KeyWrite, KeyedMessage};
use vejr_ingest::projection::{PlaneGrid, Scanning};
use vejr_ingest::{Grid, GridKind};

/// The ecCodes sample to start from.
pub fn sample(grid: &Grid) -> Result<String, String> {
    match &grid.kind {
        GridKind::LambertConformal(_) | GridKind::PolarStereographic(_) | GridKind::RotatedLatLon(_) => {
            Ok(match &grid.kind {
                GridKind::PolarStereographic(_) => "polar_stereographic_sfc_grib2.tmpl",
                GridKind::RotatedLatLon(_) => "rotated_ll_sfc_grib2.tmpl",
                _ => "regular_ll_sfc_grib2.tmpl",
            }
            .into())
        }
        GridKind::ReducedGaussian { n, .. } => Ok(format!("reduced_gg_pl_{n}_grib2.tmpl")),
        _ => Err(format!(
            "GRIB output on a {} grid is not supported (write NetCDF instead)",
            grid.describe()
        )),
    }
}

fn set<T>(msg: &mut KeyedMessage, key: &str, value: T) -> Result<(), String>
where
    KeyedMessage: KeyWrite<T>,
{
    msg.write_key(key, value)
        .map_err(|e| format!("ecCodes cannot set {key}: {e}"))
}

fn scanning(t: &mut KeyedMessage, s: Scanning) -> Result<(), String> {
    set(t, "iScansNegatively", i64::from(s.i_negative))?;
    set(t, "jScansPositively", i64::from(s.j_positive))?;
    set(t, "jPointsAreConsecutive", 0i64)
}

fn spherical_earth(t: &mut KeyedMessage, radius: f64) -> Result<(), String> {
    set(t, "shapeOfTheEarth", 1i64)?;
    set(t, "scaleFactorOfRadiusOfSphericalEarth", 0i64)?;
    set(t, "scaledValueOfRadiusOfSphericalEarth", radius.round() as i64)
}

/// The keys Lambert (3.30) and polar stereographic (3.20) share.
fn plane(t: &mut KeyedMessage, p: &PlaneGrid) -> Result<(), String> {
    spherical_earth(t, p.earth_radius)?;
    set(t, "Nx", p.nx as i64)?;
    set(t, "Ny", p.ny as i64)?;
    set(t, "latitudeOfFirstGridPointInDegrees", p.first_latitude)?;
    set(t, "longitudeOfFirstGridPointInDegrees", p.first_longitude)?;
    set(t, "DxInMetres", p.dx)?;
    set(t, "DyInMetres", p.dy)?;
    scanning(t, p.scanning)
}

/// Sets the grid of `grid` on `t`, made from [`sample`].
pub fn set_grid(t: &mut KeyedMessage, grid: &Grid) -> Result<(), String> {
    match &grid.kind {
        GridKind::LambertConformal(l) => {
            set(t, "gridDefinitionTemplateNumber", 30i64)?;
            plane(t, &l.plane)?;
            set(t, "LaDInDegrees", l.origin_latitude)?;
            set(t, "LoVInDegrees", l.central_meridian.rem_euclid(360.0))?;
            set(t, "Latin1InDegrees", l.standard_parallels[0])?;
            set(t, "Latin2InDegrees", l.standard_parallels[1])?;
        }
        GridKind::PolarStereographic(p) => {
            plane(t, &p.plane)?;
            set(t, "LaDInDegrees", p.true_latitude)?;
            set(t, "orientationOfTheGridInDegrees", p.orientation)?;
            set(t, "southPoleOnProjectionPlane", i64::from(p.south_pole))?;
        }
        GridKind::RotatedLatLon(r) => {
            spherical_earth(t, r.earth_radius)?;
            let (x, y) = r.axes();
            set(t, "Ni", r.ni as i64)?;
            set(t, "Nj", r.nj as i64)?;
            scanning(t, r.scanning)?;
            set(t, "latitudeOfFirstGridPointInDegrees", y[0])?;
            set(t, "longitudeOfFirstGridPointInDegrees", x[0].rem_euclid(360.0))?;
            set(t, "latitudeOfLastGridPointInDegrees", y[r.nj - 1])?;
            set(t, "longitudeOfLastGridPointInDegrees", x[r.ni - 1].rem_euclid(360.0))?;
            set(t, "iDirectionIncrementInDegrees", r.di)?;
            set(t, "jDirectionIncrementInDegrees", r.dj)?;
            set(t, "latitudeOfSouthernPoleInDegrees", r.south_pole_latitude)?;
            set(t, "longitudeOfSouthernPoleInDegrees", r.south_pole_longitude)?;
            set(t, "angleOfRotationInDegrees", 0.0)?;
        }
        GridKind::ReducedGaussian { n, points_per_row } => {
            // The sample of this N: its rows must be ours (an octahedral O-grid has other rows
            // than the classic N-grid of the same N).
            let pl: Vec<i64> = t.read_key("pl").map_err(|e| format!("ecCodes sample pl: {e}"))?;
            if pl.iter().map(|&p| p as usize).ne(points_per_row.iter().copied()) {
                return Err(format!(
                    "GRIB output on this reduced Gaussian N{n} grid: its rows differ from ecCodes' N{n} sample (an octahedral grid?); write NetCDF instead"
                ));
            }
        }
        _ => unreachable!("refused by sample()"),
    }
    set(t, "numberOfDataPoints", grid.len() as i64)
}
