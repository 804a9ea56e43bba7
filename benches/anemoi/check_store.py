"""Opens a vejr store with anemoi-datasets itself and checks what anemoi-training would see.

Outside `make test` (it needs a Python environment with anemoi-datasets 0.5 and zarr < 3):

    python3 -m venv /tmp/anemoi-venv
    /tmp/anemoi-venv/bin/pip install "anemoi-datasets>=0.5,<0.6" "zarr<3"
    /tmp/anemoi-venv/bin/python benches/anemoi/check_store.py out/demo/blizzard-1996.zarr

Exits non-zero, naming the check, if anything is off.
"""

import sys

import numpy as np
import zarr
from anemoi.datasets import MissingDateError
from anemoi.datasets import open_dataset


def main(path: str) -> None:
    ds = open_dataset(path)
    z = zarr.open(path, "r")
    attrs = dict(z.attrs)
    print(f"{path}: anemoi-datasets opened it as {type(ds).__name__}")
    print(f"  shape {ds.shape}, variables {ds.variables}, frequency {ds.frequency}, resolution {ds.resolution}")
    print(f"  field_shape {ds.field_shape}, dates {ds.dates[0]} .. {ds.dates[-1]} ({len(ds.dates)})")

    dates = ds.dates
    assert dates.dtype == np.dtype("datetime64[s]"), f"dates dtype {dates.dtype}"
    steps = np.unique(np.diff(dates))
    assert len(steps) == 1, f"dates are not on one regular axis: steps {steps}"
    assert steps[0].astype("timedelta64[s]").astype(int) == ds.frequency.total_seconds(), "frequency"

    missing = sorted(ds.missing)
    expected = sorted(int(np.argwhere(dates == np.datetime64(d, "s"))[0][0]) for d in attrs.get("missing_dates", []))
    assert missing == expected, f"missing {missing} vs missing_dates {expected}"
    print(f"  missing dates kept in place at indices {missing}")
    for i in missing:
        try:
            ds[i]
            raise AssertionError(f"index {i} is missing but reads")
        except MissingDateError:
            pass

    present = [i for i in range(len(dates)) if i not in ds.missing]
    sample = ds[present[0]]
    assert sample.shape == ds.shape[1:], f"sample shape {sample.shape}"
    # NaN only outside the domain vejr's `mask` marks (points no analysis covers).
    outside = z.mask[:] == 0
    assert np.isfinite(sample[..., ~outside]).all(), "NaN inside the domain at a present date"
    print(f"  {outside.sum()} points outside the domain (NaN in every field, vejr's mask)")
    assert len(ds.latitudes) == len(ds.longitudes) == ds.shape[-1], "one latitude and longitude per cell"
    stats = ds.statistics
    for name in ("mean", "stdev", "minimum", "maximum"):
        assert stats[name].shape == (len(ds.variables),), f"statistics {name} shape {stats[name].shape}"
    start = np.datetime64(attrs["statistics_start_date"], "s")
    end = np.datetime64(attrs["statistics_end_date"], "s")
    in_period = [i for i in present if start <= dates[i] <= end]
    mean = np.nanmean(np.stack([ds[i][:, 0, :] for i in in_period]), axis=(0, 2))
    assert np.allclose(mean, stats["mean"], rtol=1e-5), f"statistics mean {stats['mean']} vs {mean}"
    print(f"  statistics mean over the statistics period agrees: {stats['mean']}")
    tendencies = ds.statistics_tendencies()
    print(f"  tendency stdev {tendencies['stdev']}")
    print("  all checks passed")


if __name__ == "__main__":
    main(sys.argv[1])
