//! Decoding and store reads on the real ERA5 UK sample (744 hourly GRIB1 messages).

use criterion::{Criterion, criterion_group, criterion_main};
use vejr_ingest::store::{IngestConfig, IngestOptions, Store, ingest};
use vejr_ingest::test_data::shared_file;
use vejr_ingest::{SourceHints, read_fields};

fn decode(c: &mut Criterion) {
    let grib = shared_file("grib/era5-2mt-2019-03-uk.grib");
    let netcdf4 = shared_file("netcdf/era5-t2m-2019-03-uk-cds2024.nc");
    let mut group = c.benchmark_group("decode");
    group.sample_size(10);
    group.bench_function("grib1_uk_744_messages", |b| {
        b.iter(|| read_fields(&grib, &SourceHints::default()).unwrap())
    });
    group.bench_function("netcdf4_uk_744_steps", |b| {
        b.iter(|| read_fields(&netcdf4, &SourceHints::default()).unwrap())
    });
    group.finish();
}

fn store_read(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let grib = shared_file("grib/era5-2mt-2019-03-uk.grib");
    let text = format!(
        "[store]\npath = 'uk.zarr'\ntime_step = '1h'\n[[sources]]\nfiles = ['{}']\n[[variables]]\nname = '2t'\n",
        grib.display()
    );
    let config_path = dir.path().join("uk.toml");
    std::fs::write(&config_path, text).unwrap();
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
    let store = Store::open(&dir.path().join("uk.zarr")).unwrap();
    let mut t = 0;
    c.bench_function("store_read_time_step", |b| {
        b.iter(|| {
            t = (t + 1) % store.dates.len();
            store.read_time(t).unwrap()
        })
    });
}

criterion_group!(benches, decode, store_read);
criterion_main!(benches);
