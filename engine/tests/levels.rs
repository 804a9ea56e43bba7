//! The demo's variables with their levels, end to end: the ingest config puts the 1996 files'
//! level-less 500 hPa winds on 500 hPa, a model trained on them writes every variable to GRIB2
//! with the right typeOfLevel and level and to NetCDF without name clashes, and a regional
//! model's own output (missing outside its domain) starts the next forecast.

mod common;

use std::path::Path;

use common::{stderr, vejr};
use vejr_ingest::LevelType;
use vejr_ingest::hints::SourceHints;
use vejr_ingest::test_data::system_file;

#[test]
fn demo_variables_keep_their_levels_through_grib_and_netcdf() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    for name in ["P", "T", "U", "V", "U500", "V500"] {
        system_file(&format!("/usr/share/ncarg/data/cdf/{name}storm.cdf"));
    }
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("blizzard.zarr");
    let ingest_config = dir.path().join("demo.toml");
    let text = std::fs::read_to_string(repo.join("configs/demo.toml")).unwrap();
    std::fs::write(
        &ingest_config,
        text.replace(
            "path = \"../out/demo/blizzard-1996.zarr\"",
            &format!("path = {:?}", store.display().to_string()),
        ),
    )
    .unwrap();
    let out = vejr(&["ingest", "--config", ingest_config.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));

    // The demo's training config, shortened: the test is about what is written, not skill.
    let train_config = dir.path().join("train.toml");
    let text = std::fs::read_to_string(repo.join("configs/demo-train.toml")).unwrap();
    let text = text
        .replace(
            "store = \"../out/demo/blizzard-1996.zarr\"",
            &format!("store = {:?}", store.display().to_string()),
        )
        .replace("output = \"../out/demo/run\"", "output = \"run\"")
        .replace("steps = 200", "steps = 4")
        .replace("warmup_steps = 20", "warmup_steps = 1")
        .replace("checkpoint_every = 100", "checkpoint_every = 4")
        .replace("validate_every = 100", "validate_every = 4")
        .replace("latent = 32", "latent = 16")
        .replace("mesh_level = 3", "mesh_level = 2");
    assert!(text.contains("steps = 4") && text.contains("\"u_500\""), "{text}");
    std::fs::write(&train_config, text).unwrap();
    let out = vejr(&["train", "--config", train_config.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let checkpoint = dir.path().join("run/best.vejr");

    let forecast = |out: &Path, extra: &[&str]| {
        let mut args = vec![
            "forecast",
            "--checkpoint",
            checkpoint.to_str().unwrap(),
            "--lead",
            "12h",
            "--out",
            out.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        vejr(&args)
    };
    let store_args = ["--store", store.to_str().unwrap(), "--date", "1996-01-16T00"];
    let grib = dir.path().join("f.grib2");
    let out = forecast(&grib, &[&store_args[..], &["--format", "grib"]].concat());
    assert!(out.status.success(), "{}", stderr(&out));

    // Read back by ecCodes: the six variables, the winds on the surface and on 500 hPa.
    let source = vejr_ingest::open(&grib, &SourceHints::default()).unwrap();
    let read: Vec<(String, LevelType, Vec<f64>)> = source
        .header()
        .variables
        .iter()
        .map(|v| (v.name.clone(), v.level_type.clone(), v.levels.clone()))
        .collect();
    let expected = [
        ("msl", LevelType::Surface, vec![0.0]),
        ("t", LevelType::Surface, vec![0.0]),
        ("u", LevelType::Surface, vec![0.0]),
        ("u", LevelType::Pressure, vec![500.0]),
        ("v", LevelType::Surface, vec![0.0]),
        ("v", LevelType::Pressure, vec![500.0]),
    ];
    for (name, level_type, levels) in expected {
        assert!(
            read.iter().any(|r| r.0 == name && r.1 == level_type && r.2 == levels),
            "no {name} on {level_type:?} {levels:?} in {read:?}"
        );
    }
    assert_eq!(read.len(), 6, "{read:?}");

    // NetCDF: the 500 hPa winds on pressure_level, the surface ones beside them as u_surface.
    let nc = dir.path().join("f.nc");
    let out = forecast(&nc, &store_args);
    assert!(out.status.success(), "{}", stderr(&out));
    let file = netcdf::open(&nc).unwrap();
    let dims = |name: &str| -> Vec<String> {
        file.variable(name)
            .unwrap_or_else(|| panic!("no {name}"))
            .dimensions()
            .iter()
            .map(|d| d.name())
            .collect()
    };
    assert_eq!(dims("u"), ["time", "pressure_level", "latitude", "longitude"]);
    assert_eq!(dims("u_surface"), ["time", "latitude", "longitude"]);
    drop(file);

    // Each output, missing outside the regional domain, starts the next forecast (the boundary
    // band from the store, as the demo model has one); a hole inside the domain is still refused.
    for (i, previous) in [&grib, &nc].into_iter().enumerate() {
        let next = dir.path().join(format!("next-{i}.nc"));
        let out = forecast(
            &next,
            &[
                "--init",
                previous.to_str().unwrap(),
                "--boundary",
                store.to_str().unwrap(),
            ],
        );
        assert!(out.status.success(), "from {}: {}", previous.display(), stderr(&out));
    }
    {
        let columns = file_columns(&nc);
        let mut file = netcdf::append(&nc).unwrap();
        let mut msl = file.variable_mut("msl").unwrap();
        let values = msl.get_values::<f32, _>((1, .., ..)).unwrap();
        let inside = values.iter().position(|v| v.is_finite()).unwrap();
        msl.put_value(f32::NAN, (1, inside / columns, inside % columns))
            .unwrap();
    }
    // --variables: a column by its name, or a variable with all its levels.
    let some = dir.path().join("some.grib2");
    let out = forecast(
        &some,
        &[&store_args[..], &["--format", "grib", "--variables", "msl,u_500"]].concat(),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let source = vejr_ingest::open(&some, &SourceHints::default()).unwrap();
    let read: Vec<(String, Vec<f64>)> = source
        .header()
        .variables
        .iter()
        .map(|v| (v.name.clone(), v.levels.clone()))
        .collect();
    assert_eq!(read, [("msl".to_string(), vec![0.0]), ("u".to_string(), vec![500.0])]);
    // A NetCDF name for NetCDF: --format and the name must agree.
    let out = forecast(&some, &[&store_args[..], &["--variables", "v", "--overwrite"]].concat());
    common::assert_refused(&out, &["some.grib2", "--format netcdf", "--format grib"]);
    let some = dir.path().join("some.nc");
    let out = forecast(&some, &[&store_args[..], &["--variables", "v"]].concat());
    assert!(out.status.success(), "{}", stderr(&out));
    let names: Vec<String> = netcdf::open(&some)
        .unwrap()
        .variables()
        .map(|v| v.name())
        .filter(|n| n.starts_with('v'))
        .collect();
    assert_eq!(names, ["v_surface", "v"]);
    let out = forecast(&some, &[&store_args[..], &["--variables", "q", "--overwrite"]].concat());
    common::assert_refused(&out, &["--variables q", "no such variable", "u_500"]);

    let out = forecast(&dir.path().join("refused.nc"), &["--init", nc.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("msl at 1996-01-16T12:00Z has 1 missing or non-finite values"),
        "{}",
        stderr(&out)
    );
}

fn file_columns(path: &Path) -> usize {
    netcdf::open(path).unwrap().dimension("longitude").unwrap().len()
}
