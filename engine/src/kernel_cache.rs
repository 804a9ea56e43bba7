//! Where CubeCL keeps what it compiles and tunes, so that the nightly forecast does not
//! recompile: CUDA's PTX and, with `--features autotune`, the autotune results, in
//! `$VEJR_CACHE_DIR`, else `$XDG_CACHE_HOME/vejr`, else `~/.cache/vejr` (under `cubecl/`).
//! CubeCL's own default keeps PTX in memory only and autotune results in a `target/` beside
//! the nearest Cargo.toml. A `cubecl.toml` (or `burn.toml` with a `[cubecl]` table) in the
//! working directory or above wins, as CubeCL itself reads it; CubeCL's environment variables
//! (`CUBECL_DEBUG_LOG`, `CUBECL_AUTOTUNE_LEVEL`, …) apply either way.

use std::path::{Path, PathBuf};

/// The directory vejr's kernel caches go under, from the environment.
pub fn cache_directory(var: impl Fn(&str) -> Option<String>) -> Option<PathBuf> {
    let set = |name: &str| var(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    set("VEJR_CACHE_DIR")
        .or_else(|| set("XDG_CACHE_HOME").map(|d| d.join("vejr")))
        .or_else(|| set("HOME").map(|d| d.join(".cache/vejr")))
}

/// The CubeCL configuration file (or `burn.toml` holding one) that CubeCL would read from
/// `directory` or above, if any.
pub fn user_configuration(directory: &Path) -> Option<PathBuf> {
    directory.ancestors().find_map(|d| {
        ["cubecl.toml", "CubeCL.toml", "burn.toml", "Burn.toml"]
            .iter()
            .map(|name| d.join(name))
            .find(|p| p.is_file())
    })
}

/// Sets CubeCL's configuration once, before a GPU device starts.
#[cfg(any(feature = "cuda", feature = "wgpu"))]
pub fn configure() {
    use vejr_models::gnn::cube_backend::cubecl::config::cache::CacheConfig;
    use vejr_models::gnn::cube_backend::cubecl::config::{CubeClRuntimeConfig, RuntimeConfig};
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let here = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
        if user_configuration(&here).is_some() {
            return;
        }
        let Some(directory) = cache_directory(|name| std::env::var(name).ok()) else {
            return;
        };
        let directory = directory.join("cubecl");
        let mut config = CubeClRuntimeConfig::default();
        config.compilation.cache = Some(CacheConfig::File(directory.clone()));
        config.autotune.cache = CacheConfig::File(directory);
        CubeClRuntimeConfig::set(config.override_from_env());
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string())
    }

    #[test]
    fn the_cache_follows_vejr_then_xdg_then_home() {
        let all = [("VEJR_CACHE_DIR", "/v"), ("XDG_CACHE_HOME", "/x"), ("HOME", "/h")];
        assert_eq!(cache_directory(env(&all)), Some(PathBuf::from("/v")));
        assert_eq!(cache_directory(env(&all[1..])), Some(PathBuf::from("/x/vejr")));
        assert_eq!(cache_directory(env(&all[2..])), Some(PathBuf::from("/h/.cache/vejr")));
        assert_eq!(
            cache_directory(env(&[("VEJR_CACHE_DIR", ""), ("HOME", "/h")])),
            Some(PathBuf::from("/h/.cache/vejr"))
        );
        assert_eq!(cache_directory(env(&[])), None);
    }

    #[test]
    fn a_users_cubecl_toml_above_the_working_directory_wins() {
        let dir = tempfile::tempdir().unwrap();
        let deep = dir.path().join("a/b");
        std::fs::create_dir_all(&deep).unwrap();
        let found = user_configuration(&deep);
        assert!(found.as_ref().is_none_or(|p| !p.starts_with(dir.path())), "{found:?}");
        std::fs::write(dir.path().join("a/burn.toml"), "[cubecl]\n").unwrap();
        assert_eq!(user_configuration(&deep), Some(dir.path().join("a/burn.toml")));
        std::fs::write(deep.join("cubecl.toml"), "").unwrap();
        assert_eq!(user_configuration(&deep), Some(deep.join("cubecl.toml")));
    }
}
