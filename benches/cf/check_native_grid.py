"""Checks a vejr forecast on a projected grid the way downstream tools read it.

Outside `make test` (needs xarray, netCDF4, cfgrib and pyproj):

    python3 -m venv /tmp/cfvenv && /tmp/cfvenv/bin/pip install xarray netCDF4 cfgrib pyproj
    /tmp/cfvenv/bin/python benches/cf/check_native_grid.py FORECAST.nc [FORECAST.grib2]

The NetCDF must open in xarray with 2-D latitude/longitude and a CF grid mapping from which
PROJ computes the file's own x/y from its latitudes and longitudes; the GRIB2 (if given) must
open in cfgrib on the same points with the same values (to its packing).
"""

import sys

import numpy as np
import xarray as xr
from pyproj import CRS, Transformer


def main(nc: str, grib: str | None) -> None:
    ds = xr.open_dataset(nc)
    name = next(v for v in ds.data_vars if "grid_mapping" in ds[v].attrs)
    mapping = ds[ds[name].attrs["grid_mapping"]]
    crs = CRS.from_cf(mapping.attrs)
    print(f"{nc}: {name} on {dict(ds[name].sizes)}, {crs.to_proj4()}")
    assert ds.latitude.dims == ds.longitude.dims == ("y", "x"), "2-D latitude and longitude on (y, x)"
    # A rotated pole is a derived geographic CRS: from its base, not from itself.
    base = crs.geodetic_crs if crs.is_projected else crs.source_crs
    to_map = Transformer.from_crs(base, crs, always_xy=True)
    x, y = np.meshgrid(ds.x.values, ds.y.values)
    # Metres for a projection, rotated degrees for a rotated pole.
    px, py = to_map.transform(ds.longitude.values, ds.latitude.values)
    if not crs.is_projected:
        px = (px - x + 180) % 360 - 180 + x  # rotated longitudes: the same modulo 360
    dx, dy = np.abs(px - x).max(), np.abs(py - y).max()
    print(f"  PROJ's x/y from the file's latitude/longitude vs the file's x/y: {dx:.3g}, {dy:.3g}")
    tolerance = 0.5 if crs.is_projected else 1e-5  # metres; degrees (GRIB keeps micro-degrees)
    assert dx < tolerance and dy < tolerance, "x/y disagree with the grid mapping"
    if grib:
        g = xr.open_dataset(grib, engine="cfgrib")
        gname = next(iter(g.data_vars))
        dlat = np.abs(g.latitude.values - ds.latitude.values).max()
        dlon = np.abs(((g.longitude.values - ds.longitude.values + 180) % 360) - 180).max()
        dval = np.nanmax(np.abs(g[gname].values - ds[name].values))
        print(f"  cfgrib {gname} ({g[gname].attrs.get('GRIB_gridType')}): points differ by {dlat:.2g}° / {dlon:.2g}°, values by {dval:.3g}")
        assert dlat < 1e-6 and dlon < 1e-6, "GRIB points differ"
    print("  all checks passed")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else None)
