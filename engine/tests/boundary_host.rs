//! Training a limited-area model with its boundary band from a separate host (`[data]
//! boundary_host`): a host model or another reanalysis on its own grid. The host here is the UK
//! 2 m temperature in the CDS's legacy NetCDF at 0.25°, made 3 K warmer so that its values are
//! told from the store's analyses (0.5°): the band of every training target is the host's,
//! interpolated; the interior stays the analyses'.

use std::path::Path;

use vejr_engine::boundary_host::BoundaryHost;
use vejr_engine::training::data_loader::SampleReader;
use vejr_ingest::store::Store;

mod common;
use common::{stderr, train_config, uk_store, uk_temperature, vejr};

fn with_band_and_host(config: &Path, host: &Path) {
    let text = std::fs::read_to_string(config).unwrap();
    std::fs::write(
        config,
        text.replace(
            "variables = ['2t']\n",
            &format!(
                "variables = ['2t']\nboundary_width_points = 2\nboundary_host = ['{}']\n",
                host.display()
            ),
        ),
    )
    .unwrap();
}

#[test]
fn the_band_of_every_target_comes_from_the_host() {
    let dir = tempfile::tempdir().unwrap();
    let host = dir.path().join("warm-host.nc");
    uk_temperature(&host, "t2m", "K", 0..744, |v| v.iter_mut().for_each(|x| *x += 3.0));

    // The reader: band from the host, interior from the store.
    let store = std::sync::Arc::new(Store::open(uk_store()).unwrap());
    let (host_reader, note) = BoundaryHost::open(std::slice::from_ref(&host), &store.grid, &store.columns).unwrap();
    assert!(note.unwrap().contains("interpolating"), "the host is on its own grid");
    let model_grid = vejr_engine::model_grid::model_grid(&store.grid);
    let band = vejr_models::boundary::boundary_band(
        &model_grid,
        &store.mask,
        vejr_models::boundary::BoundaryWidth::Points(2),
    )
    .unwrap();
    let plain = SampleReader::new(store.clone(), vec![0], vec![]).unwrap();
    let forced = SampleReader::new(store.clone(), vec![0], vec![])
        .unwrap()
        .with_boundary_host(host_reader, band.clone());
    let t = store.time_index("2019-03-10T00:00:00Z".parse().unwrap()).unwrap();
    let (a, b) = (plain.batch(&[t], 2).unwrap(), forced.batch(&[t], 2).unwrap());
    assert_eq!(a.current, b.current, "inputs are the analyses");
    for k in 0..2 {
        for (p, in_band) in band.iter().enumerate() {
            let d = b.targets[k][p] - a.targets[k][p];
            if *in_band {
                assert!((d - 3.0).abs() < 0.01, "step {k}, point {p}: host − analysis = {d}");
            } else {
                assert_eq!(d, 0.0, "step {k}, point {p}: the interior is the analyses'");
            }
        }
    }

    // Training with it: said, and recorded in the checkpoint.
    let config = train_config(
        dir.path(),
        &[("steps", "4"), ("validate_every", "4"), ("checkpoint_every", "4")],
    );
    with_band_and_host(&config, &host);
    let out = vejr(&["train", "--config", config.to_str().unwrap(), "--overwrite"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("boundary band from"), "{}", stderr(&out));
    let meta = vejr_models::checkpoint::read_metadata(&dir.path().join("run/checkpoints/step-0000004.vejr")).unwrap();
    let recorded = meta.training["boundary"]["host"].as_str().unwrap();
    assert!(recorded.contains("warm-host.nc"), "{recorded}");

    // A host that stops short of the validation period is refused before training, in one line.
    let short = dir.path().join("short-host.nc");
    uk_temperature(&short, "t2m", "K", 0..400, |_| {});
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        text.replace(&host.display().to_string(), &short.display().to_string()),
    )
    .unwrap();
    let out = vejr(&["train", "--config", config.to_str().unwrap(), "--overwrite"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("the host has no state at"), "{}", stderr(&out));
    assert_eq!(stderr(&out).trim().lines().filter(|l| l.contains("error")).count(), 1);
}
