//! Every config shipped in `configs/` parses and passes every check that needs no data: ingest
//! configs as `vejr ingest` validates them, run configs' `[model]` and `[training]` sections as
//! `vejr train` checks them before opening the store. Every config a README `vejr train`
//! command names is a complete training run.

use std::path::{Path, PathBuf};

use vejr_engine::run_config::RunConfig;
use vejr_ingest::store::IngestConfig;

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_owned()
}

/// Every `.toml` in configs/, and whether it is an ingest config (it has a `[store]` section)
/// rather than a run config.
fn shipped_configs() -> Vec<(PathBuf, bool)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(repository().join("configs")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "toml") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let ingest = text.lines().any(|l| l.trim() == "[store]");
        out.push((path, ingest));
    }
    out
}

#[test]
fn every_shipped_config_is_valid() {
    let configs = shipped_configs();
    for (path, ingest) in &configs {
        if *ingest {
            IngestConfig::load(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        } else {
            let config = RunConfig::load(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            if let Some(t) = &config.training {
                t.check()
                    .unwrap_or_else(|e| panic!("{}: [training] {e}", path.display()));
            }
        }
    }
    assert!(configs.len() >= 10, "only {} configs found", configs.len());
}

/// A run config is of no use without a way to build its store: every shipped one names a store
/// that a shipped ingest config writes.
#[test]
fn every_run_config_has_an_ingest_config_for_its_store() {
    let (mut stores, mut runs) = (Vec::new(), Vec::new());
    for (path, ingest) in shipped_configs() {
        if ingest {
            stores.push(IngestConfig::load(&path).unwrap().store.path);
        } else {
            let store = RunConfig::load(&path).unwrap().data.store;
            runs.push((path, store));
        }
    }
    assert!(runs.len() >= 5, "{runs:?}");
    for (run, store) in runs {
        assert!(
            stores.contains(&store),
            "{} trains on {}, which no ingest config in configs/ writes",
            run.display(),
            store.display()
        );
    }
}

#[test]
fn configs_the_readme_trains_with_have_a_training_section() {
    let readme = std::fs::read_to_string(repository().join("README.md")).unwrap();
    let mut named = Vec::new();
    for line in readme.lines().filter(|l| l.contains("vejr train")) {
        let words: Vec<&str> = line.split_whitespace().collect();
        if let Some(i) = words.iter().position(|w| *w == "--config") {
            named.push(words[i + 1].trim_matches(|c| c == '`' || c == '"').to_owned());
        }
    }
    assert!(named.iter().any(|n| n.ends_with("era5-1deg.toml")), "{named:?}");
    // Prose like `vejr train --config C --resume` names no file.
    named.retain(|n| n.ends_with(".toml"));
    for name in named {
        let path = repository().join(&name);
        let config = RunConfig::load(&path).unwrap_or_else(|e| panic!("README's {name}: {e}"));
        let training = config
            .training
            .unwrap_or_else(|| panic!("README trains with {name}, which has no [training] section"));
        training.check().unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}
