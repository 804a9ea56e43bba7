//! Boundary forcing for a limited-area model, end to end on the UK ERA5 sample: the band is
//! recorded in the checkpoint, forced from the host at every forecast step (the store, or the
//! CDS NetCDF on its own 0.25° grid), marked in the NetCDF, and left out of the scores.

use std::path::Path;

use vejr_ingest::store::Store;
use vejr_ingest::test_data::shared_file;

mod common;
use common::{evaluate_scores, stderr, train_config, uk_store, vejr};

/// 17 × 25 points, two rings of band: 17·25 − 13·21.
const BAND_POINTS: usize = 17 * 25 - 13 * 21;

fn trained(dir: &Path) -> std::path::PathBuf {
    let config = train_config(
        dir,
        &[("steps", "20"), ("validate_every", "20"), ("checkpoint_every", "20")],
    );
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        text.replace(
            "variables = ['2t']\n",
            "variables = ['2t']\nboundary_width_points = 2\n",
        ),
    )
    .unwrap();
    let out = vejr(&["train", "--config", config.to_str().unwrap(), "--overwrite"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!("boundary band of 2 grid points: {BAND_POINTS} of 425 points")),
        "{}",
        stderr(&out)
    );
    dir.join("run/checkpoints/step-0000020.vejr")
}

fn read(path: &Path, name: &str) -> Vec<f64> {
    let file = netcdf::open(path).unwrap();
    file.variable(name).unwrap().get_values::<f64, _>(..).unwrap()
}

#[test]
fn the_band_comes_from_the_host_at_every_step_and_is_not_scored() {
    let dir = tempfile::tempdir().unwrap();
    let checkpoint = trained(dir.path());
    let meta = vejr_models::checkpoint::read_metadata(&checkpoint).unwrap();
    let band = vejr_engine::forecast::boundary_forcing::band_of(&meta)
        .unwrap()
        .expect("the checkpoint records its band");
    assert_eq!(band.points.iter().filter(|&&b| b).count(), BAND_POINTS);
    // The network also sees the band's state at each step's end: one channel per variable and
    // the band itself.
    assert_eq!(meta.model.boundary_channels, 2);
    // Resuming with another band would train a different loss: refused.
    let config = dir.path().join("train.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        text.replace("boundary_width_points = 2", "boundary_width_points = 3"),
    )
    .unwrap();
    let out = vejr(&["train", "--config", config.to_str().unwrap(), "--resume"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("boundary band"), "{}", stderr(&out));

    let forecast = |host: Option<&Path>, init: bool, out: &Path| {
        let checkpoint = checkpoint.to_str().unwrap();
        let mut args = vec![
            "forecast",
            "--checkpoint",
            checkpoint,
            "--lead",
            "18h",
            "--out",
            out.to_str().unwrap(),
        ];
        let cds = shared_file("netcdf/era5-t2m-2019-03-uk-cds2024.nc");
        let cds = cds.to_str().unwrap().to_owned();
        let store = uk_store().to_str().unwrap().to_owned();
        let mut owned = Vec::new();
        if init {
            owned.extend(["--init".to_owned(), cds]);
        } else {
            owned.extend([
                "--store".to_owned(),
                store,
                "--date".to_owned(),
                "2019-03-27T00".to_owned(),
            ]);
        }
        if let Some(h) = host {
            owned.extend(["--boundary".to_owned(), h.to_str().unwrap().to_owned()]);
        }
        args.extend(owned.iter().map(String::as_str));
        vejr(&args)
    };

    // From the store: the band is the store's analysis at each valid time, the interior is not.
    let from_store = dir.path().join("f.nc");
    let out = forecast(None, false, &from_store);
    assert!(out.status.success(), "{}", stderr(&out));
    let store = Store::open(uk_store()).unwrap();
    let (values, flags) = (read(&from_store, "t2m"), read(&from_store, "boundary_band"));
    // The file runs west to east from 10°W; the store from 0°E: compare through the reader.
    assert_eq!(flags.iter().filter(|&&f| f == 1.0).count(), BAND_POINTS);
    let fields = vejr_ingest::read_fields(&from_store, &Default::default()).unwrap();
    let t2m = fields.variable("2t").unwrap();
    assert_eq!(values.len(), 3 * 425);
    for (k, hours) in [6, 12, 18].into_iter().enumerate() {
        let valid =
            "2019-03-27T00:00:00Z".parse::<chrono::DateTime<chrono::Utc>>().unwrap() + chrono::TimeDelta::hours(hours);
        let t = store.time_index(valid).unwrap();
        let analysis = store.read_sample(t, &[0]).unwrap();
        let predicted = fields.field(t2m, k, 0, 0);
        let (mut band_worst, mut interior_moved) = (0.0f32, 0);
        for p in 0..425 {
            let d = (predicted[p] - analysis[p]).abs();
            if band.points[p] {
                band_worst = band_worst.max(d);
            } else if d > 1e-3 {
                interior_moved += 1;
            }
        }
        assert!(
            band_worst < 1e-3,
            "+{hours} h: the band differs from the analysis by {band_worst} K"
        );
        assert!(
            interior_moved > 200,
            "+{hours} h: only {interior_moved} interior points are the model's own"
        );
    }

    // From files: no host given is refused before anything is computed; the CDS NetCDF on its
    // own 0.25° grid as host gives the same band (the model's 0.5° points are on it).
    let from_files = dir.path().join("g.nc");
    let out = forecast(None, true, &from_files);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("give --boundary"), "{}", stderr(&out));
    assert!(!from_files.exists());
    let cds = shared_file("netcdf/era5-t2m-2019-03-uk-cds2024.nc");
    let from_cds = dir.path().join("h.nc");
    let out = forecast(Some(&cds), false, &from_cds);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("boundary: interpolating"), "{}", stderr(&out));
    let (a, b) = (read(&from_store, "t2m"), read(&from_cds, "t2m"));
    let worst = a.iter().zip(&b).map(|(x, y)| (x - y).abs()).fold(0.0, f64::max);
    assert!(worst < 1e-3, "store and CDS hosts differ by {worst} K");
    // A host that ends before the forecast does is refused whole, naming the times.
    let from_store_on = |date: &str, out: &std::path::Path| {
        vejr(&[
            "forecast",
            "--checkpoint",
            checkpoint.to_str().unwrap(),
            "--store",
            uk_store().to_str().unwrap(),
            "--date",
            date,
            "--lead",
            "24h",
            "--out",
            out.to_str().unwrap(),
        ])
    };
    let out = from_store_on("2019-03-31T06", &dir.path().join("short.nc"));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("the host has no state at 2 valid time(s)"),
        "{}",
        stderr(&out)
    );
    // In a series, every start's band is checked before the first forecast runs.
    let out = from_store_on(
        "2019-03-30T18/2019-03-31T06",
        &dir.path().join("series-{reference_time}.nc"),
    );
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("--date: 2 of 3 starts cannot run from ")
            && err.contains("2019-03-31T00:00Z (no boundary state at 2019-04-01T00:00Z)")
            && err.contains("nothing was run"),
        "{err}"
    );
    assert!(!dir.path().join("series-2019033018.nc").exists());

    // Scores leave the band out: persistence's RMSE is the interior's alone.
    let csv = evaluate_scores(&from_store, uk_store(), &dir.path().join("scores"));
    let row = csv.lines().find(|l| l.starts_with("persistence,2t,6,")).unwrap();
    let scored: f64 = row.split(',').nth(3).unwrap().parse().unwrap();
    let start = store.time_index("2019-03-27T00:00:00Z".parse().unwrap()).unwrap();
    let (then, later) = (
        store.read_sample(start, &[0]).unwrap(),
        store.read_sample(start + 1, &[0]).unwrap(),
    );
    let (mut se, mut weight) = (0.0, 0.0);
    for p in 0..425 {
        if band.points[p] {
            continue;
        }
        let w = store.grid.latitudes[p / 25].to_radians().cos();
        se += w * ((then[p] - later[p]) as f64).powi(2);
        weight += w;
    }
    let interior = (se / weight).sqrt();
    assert!(
        (scored - interior).abs() < 1e-4,
        "persistence +6 h: evaluate says {scored} K, the interior's RMSE is {interior} K"
    );

    // The same forecast as GRIB2 scores the same, band left out and the checkpoint's periods
    // known: both travel in its first message's local use section.
    let grib = dir.path().join("f.grib2");
    let out = vejr(&[
        "forecast",
        "--checkpoint",
        checkpoint.to_str().unwrap(),
        "--store",
        uk_store().to_str().unwrap(),
        "--date",
        "2019-03-27T00",
        "--lead",
        "18h",
        "--format",
        "grib",
        "--out",
        grib.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let scores_of = |forecast: &Path, name: &str| {
        let out = vejr(&[
            "evaluate",
            "--forecast",
            forecast.to_str().unwrap(),
            "--truth",
            uk_store().to_str().unwrap(),
            "--out",
            dir.path().join(name).to_str().unwrap(),
        ]);
        assert!(out.status.success(), "{}", stderr(&out));
        let warnings: Vec<String> = stderr(&out)
            .lines()
            .filter(|l| l.contains("warning"))
            .map(str::to_owned)
            .collect();
        let csv = std::fs::read_to_string(dir.path().join(name).join("scores.csv")).unwrap();
        let rows: Vec<(String, f64)> = csv
            .lines()
            .skip(1)
            .map(|l| {
                let f: Vec<&str> = l.split(',').collect();
                (f[..3].join(","), f[3].parse().unwrap())
            })
            .collect();
        (rows, warnings)
    };
    let (from_netcdf, netcdf_warnings) = scores_of(&from_store, "scores-nc");
    let (from_grib, grib_warnings) = scores_of(&grib, "scores-grib");
    assert_eq!(from_netcdf.len(), from_grib.len());
    for ((key, a), (key_b, b)) in from_netcdf.iter().zip(&from_grib) {
        assert_eq!(key, key_b);
        // 16-bit packing of a 2 m temperature field spanning ~20 K: under 1 mK.
        assert!((a - b).abs() < 2e-3, "{key}: NetCDF {a}, GRIB2 {b}");
    }
    assert!(
        !netcdf_warnings.is_empty(),
        "the forecast verifies in the checkpoint's periods"
    );
    assert_eq!(netcdf_warnings, grib_warnings);

    // One forecast in two formats is one case, not two.
    let out = vejr(&[
        "evaluate",
        "--forecast",
        from_store.to_str().unwrap(),
        "--forecast",
        grib.to_str().unwrap(),
        "--truth",
        uk_store().to_str().unwrap(),
        "--out",
        dir.path().join("twice").to_str().unwrap(),
    ]);
    common::assert_refused(&out, &["both start at 2019-03-27T00:00Z", "one case given twice"]);
    assert!(!dir.path().join("twice").exists());

    // A host damaged at a later step (a chunk gone) is the input's fault as at the initial
    // time: exit 2, the chunk and its time named, no forecast left.
    let damaged = dir.path().join("damaged.zarr");
    let copied = std::process::Command::new("cp")
        .args(["-r", uk_store().to_str().unwrap(), damaged.to_str().unwrap()])
        .status()
        .unwrap();
    assert!(copied.success());
    // 6-hourly from 1 March: 27 March 12 UTC is index 106, the forecast's +12 h.
    std::fs::remove_file(damaged.join("data/106.0.0.0")).unwrap();
    let broken = dir.path().join("broken.nc");
    let out = forecast(Some(&damaged), false, &broken);
    common::assert_refused(
        &out,
        &["data chunk 106.0.0.0 (2019-03-27T12:00Z) is missing", "damaged.zarr"],
    );
    assert!(!broken.exists());
}
