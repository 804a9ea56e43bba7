//! Every code block of README.md, as a new user would meet it: the ones that run on a CPU in a
//! few minutes are run as written (in a scratch copy of the repository's layout, so the
//! README's relative paths hold and nothing lands in the repository), the TOML is validated,
//! and the commands that need a cluster, a GPU or a weather service's paths are dry-run: the
//! `vejr` command line must be one vejr accepts, failing only on the missing data with vejr's
//! own one-line error.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use vejr_ingest::store::IngestConfig;

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_owned()
}

/// (language, first line number, body) of every fenced block.
fn blocks(readme: &str) -> Vec<(String, usize, String)> {
    let mut out = Vec::new();
    let mut open: Option<(String, usize, String)> = None;
    for (i, line) in readme.lines().enumerate() {
        if let Some(rest) = line.strip_prefix("```") {
            match open.take() {
                Some(block) => out.push(block),
                None => open = Some((rest.trim().to_owned(), i + 1, String::new())),
            }
        } else if let Some((_, _, body)) = open.as_mut() {
            body.push_str(line);
            body.push('\n');
        }
    }
    out
}

/// Runs `script` with bash in `dir`, `vejr` on the PATH being the binary under test.
fn bash(dir: &Path, bin: &Path, script: &str) -> std::process::Output {
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    Command::new("bash")
        .args(["-eo", "pipefail", "-c", script])
        .current_dir(dir)
        .env("PATH", path)
        .env("HDF5_USE_FILE_LOCKING", "FALSE")
        .output()
        .expect("bash runs")
}

/// The `vejr …` command lines of a block, continuation lines joined, any launcher in front
/// (`mpirun -np 4`, `srun --mpi=pmix`) left out.
fn vejr_commands(body: &str) -> Vec<String> {
    let joined = body.replace("\\\n", " ");
    joined
        .lines()
        .filter_map(|line| {
            let line = line.split(" #").next().unwrap_or(line).trim();
            let at = line.find("vejr ")?;
            (at == 0 || line[..at].starts_with("mpirun") || line[..at].starts_with("srun"))
                .then(|| line[at..].to_owned())
        })
        .collect()
}

#[test]
fn every_readme_block_runs_or_dry_runs() {
    let repo = repository();
    let shared = repo.parent().unwrap().join("shared/data");
    assert!(
        shared.is_dir(),
        "the README's commands read {} (../shared/data from the repository), which is missing",
        shared.display()
    );
    let readme = std::fs::read_to_string(repo.join("README.md")).unwrap();
    // A scratch sibling of the repository: `../shared/data` and the configs' `../../shared/data`
    // resolve as they do from the repository itself.
    let scratch = tempfile::Builder::new()
        .prefix(".vejr-readme-")
        .tempdir_in(repo.parent().unwrap())
        .unwrap();
    let root = scratch.path();
    std::fs::create_dir(root.join("configs")).unwrap();
    for entry in std::fs::read_dir(repo.join("configs")).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, root.join("configs").join(path.file_name().unwrap())).unwrap();
    }
    let bin = root.join("bin");
    std::fs::create_dir(&bin).unwrap();
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_vejr"), bin.join("vejr")).unwrap();

    let (mut ran, mut dry, mut toml) = (0, 0, 0);
    for (language, line, body) in blocks(&readme) {
        let what = format!("README.md line {line}");
        if language == "toml" {
            let path = root.join("configs").join(format!("readme-{line}.toml"));
            std::fs::write(&path, &body).unwrap();
            IngestConfig::load(&path).unwrap_or_else(|e| panic!("{what}: {e}"));
            toml += 1;
            continue;
        }
        assert_eq!(language, "sh", "{what}: a block of {language:?}");
        if body.contains("make demo") {
            // The quick start: what CI itself runs (`make test`) and the demo, run by hand.
            continue;
        }
        // Blocks that need a cluster, a GPU or a weather service's own paths.
        let runnable = !["mpirun", "srun", "/opt/vejr"].iter().any(|w| body.contains(w));
        if runnable {
            let out = bash(root, &bin, &body);
            assert!(
                out.status.success(),
                "{what} failed:\n{body}\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
            ran += 1;
        } else {
            for command in vejr_commands(&body) {
                let script = format!("day=2019-03-25; resume=; {command}");
                let out = bash(root, &bin, &script);
                let err = String::from_utf8_lossy(&out.stderr);
                assert_eq!(out.status.code(), Some(2), "{what}: {command}\n{err}");
                let last = err.trim_end().lines().last().unwrap_or_default();
                assert!(
                    last.starts_with("vejr: error:") && !err.contains("Usage:"),
                    "{what}: {command} is not a command line vejr accepts:\n{err}"
                );
                dry += 1;
            }
        }
    }
    assert!(
        ran >= 3 && dry >= 4 && toml >= 1,
        "ran {ran}, dry-ran {dry}, validated {toml}"
    );
    // What the README's pipeline block promised is there.
    for path in [
        "out/era5-uk-t2m-2019-03.zarr",
        "out/runs/test-tiny/best.vejr",
        "out/fc.nc",
        "out/eval/scores.csv",
    ] {
        assert!(root.join(path).exists(), "{path} missing after the README's commands");
    }
}

#[test]
fn launchers_and_continuations_are_read_as_one_vejr_command() {
    let body = "mpirun -np 4 vejr train --config c.toml   # 4 ranks\nvejr forecast --a \\\n    --b x\necho vejr none\n";
    assert_eq!(
        vejr_commands(body),
        ["vejr train --config c.toml", "vejr forecast --a      --b x"]
    );
}
