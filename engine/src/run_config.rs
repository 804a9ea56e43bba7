//! The model and data sections of a run config (`configs/test-tiny.toml`, …): which forecaster
//! to build, which store columns it predicts, and (for `vejr train`) how to train it.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use vejr_models::ForecasterConfig;

use crate::training::config::TrainingSection;

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunConfig {
    pub model: ModelSection,
    pub data: DataSection,
    /// Present in configs that train (`vejr train`).
    #[serde(default)]
    pub training: Option<TrainingSection>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSection {
    pub latent: usize,
    pub processor_layers: usize,
    pub mesh_level: usize,
    /// Learned features per grid point (see `ForecasterConfig::trainable_grid_features`).
    #[serde(default)]
    pub trainable_grid_features: usize,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataSection {
    /// Training store, relative to the config file.
    pub store: PathBuf,
    /// Store columns the model predicts, in channel order.
    pub variables: Vec<String>,
    #[serde(default)]
    pub static_fields: Vec<String>,
    /// A limited-area model's boundary band, in grid points from the domain's edge: its state
    /// comes from the analyses (in training) or a host (`vejr forecast --boundary`) at every
    /// step, and it is left out of the loss, as DMI's neural-lam does.
    pub boundary_width_points: Option<usize>,
    /// The band's width in kilometres instead (great-circle distance from the edge).
    pub boundary_width_km: Option<f64>,
    /// Whether the network also sees the band's state at the end of each step (from the host)
    /// as an input, so that what flows in during the step reaches the interior in that step,
    /// not one step late. On by default with a band.
    pub boundary_inputs: Option<bool>,
    /// Where the band's state comes from in training: a store or NetCDF/GRIB files (paths or
    /// globs, relative to this file) of a host model or another reanalysis, on any grid. The
    /// store's own analyses when absent.
    #[serde(default)]
    pub boundary_host: Vec<PathBuf>,
}

impl DataSection {
    pub fn boundary_width(&self) -> Result<Option<vejr_models::boundary::BoundaryWidth>, String> {
        use vejr_models::boundary::BoundaryWidth;
        match (self.boundary_width_points, self.boundary_width_km) {
            (Some(_), Some(_)) => Err("give boundary_width_points or boundary_width_km, not both".into()),
            (Some(0), _) => Err("boundary_width_points = 0: leave it out for no boundary band".into()),
            (Some(n), None) => Ok(Some(BoundaryWidth::Points(n))),
            (None, Some(km)) if !(km.is_finite() && km > 0.0) => {
                Err(format!("boundary_width_km = {km} must be a positive distance"))
            }
            (None, Some(km)) => Ok(Some(BoundaryWidth::Kilometres(km))),
            (None, None) => Ok(None),
        }
    }
}

/// The finest icosahedral mesh vejr builds: 10 · 4^8 + 2 = 655,362 nodes, ~5.2 M multimesh
/// edges (GraphCast's 0.25° model uses level 6). Level 9 would need ~21 M edges, tens of GiB
/// per latent feature set; level 12 and above would not fit any machine and once hung here.
pub const MAX_MESH_LEVEL: usize = 8;
/// Latent widths beyond this are a typo, not a model (GraphCast uses 512).
pub const MAX_LATENT: usize = 4096;
pub const MAX_PROCESSOR_LAYERS: usize = 128;

impl ModelSection {
    /// Refuses sizes that cannot make a model, before anything is allocated.
    pub fn check(&self) -> Result<(), String> {
        if !(1..=MAX_LATENT).contains(&self.latent) {
            return Err(format!("latent = {} must lie in 1..={MAX_LATENT}", self.latent));
        }
        if !(1..=MAX_PROCESSOR_LAYERS).contains(&self.processor_layers) {
            return Err(format!(
                "processor_layers = {} must lie in 1..={MAX_PROCESSOR_LAYERS}",
                self.processor_layers
            ));
        }
        if self.mesh_level > MAX_MESH_LEVEL {
            return Err(format!(
                "mesh_level = {} is beyond the finest mesh vejr builds ({MAX_MESH_LEVEL}: 655,362 nodes; GraphCast uses 6)",
                self.mesh_level
            ));
        }
        if self.trainable_grid_features > MAX_LATENT {
            return Err(format!(
                "trainable_grid_features = {} must be at most {MAX_LATENT}",
                self.trainable_grid_features
            ));
        }
        Ok(())
    }
}

impl RunConfig {
    pub fn load(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("config {}: {e}", path.display()))?;
        let mut config: RunConfig = toml::from_str(&text).map_err(|e| {
            format!(
                "config {}: {}",
                path.display(),
                vejr_ingest::store::config::toml_error(&text, &e)
            )
        })?;
        let base = path.parent().unwrap_or(Path::new(".")).to_owned();
        for host in &mut config.data.boundary_host {
            if host.is_relative() {
                *host = base.join(&*host);
            }
        }
        if config.data.store.is_relative() {
            config.data.store = path.parent().unwrap_or(Path::new(".")).join(&config.data.store);
        }
        if let Some(t) = config.training.as_mut()
            && t.output.is_relative()
        {
            t.output = path.parent().unwrap_or(Path::new(".")).join(&t.output);
        }
        config
            .model
            .check()
            .map_err(|m| format!("config {}: [model] {m}", path.display()))?;
        config
            .data
            .boundary_width()
            .map_err(|m| format!("config {}: [data] {m}", path.display()))?;
        if config.data.variables.is_empty() {
            return Err(format!("config {}: data.variables is empty", path.display()));
        }
        if let Some(dup) = config
            .data
            .variables
            .iter()
            .enumerate()
            .find(|(i, v)| config.data.variables[..*i].contains(v))
        {
            return Err(format!("config {}: variable {} listed twice", path.display(), dup.1));
        }
        Ok(config)
    }

    /// The forecaster for a store with `grid_points` points.
    pub fn forecaster(&self, grid_points: usize) -> ForecasterConfig {
        ForecasterConfig::new(
            self.model.latent,
            self.model.processor_layers,
            self.model.mesh_level,
            self.data.variables.len(),
        )
        .with_static_channels(self.data.static_fields.len())
        .with_trainable_grid_features(self.model.trainable_grid_features)
        .with_grid_points(grid_points)
        .with_boundary_channels(if self.boundary_inputs() {
            vejr_models::boundary::boundary_input_channels(self.data.variables.len())
        } else {
            0
        })
    }

    /// A band is configured and the network sees its next state.
    pub fn boundary_inputs(&self) -> bool {
        matches!(self.data.boundary_width(), Ok(Some(_))) && self.data.boundary_inputs.unwrap_or(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(name: &str) -> RunConfig {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../configs").join(name);
        RunConfig::load(&path).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn shipped_configs_parse_to_the_sizes_they_promise() {
        let tiny = config("test-tiny.toml").forecaster(0);
        assert!((16..=32).contains(&tiny.latent) && (1..=2).contains(&tiny.processor_layers));
        let graphcast = config("graphcast-0p25deg.toml");
        let f = graphcast.forecaster(0);
        assert_eq!(
            (f.latent, f.processor_layers, f.mesh_level, f.state_channels),
            (512, 16, 6, 227)
        );
        assert!(
            graphcast.data.variables.contains(&"q_1000".to_string())
                && graphcast.data.variables.contains(&"tp".to_string())
        );
        assert_eq!(config("era5-5p625deg.toml").forecaster(0).mesh_level, 4);
        assert_eq!(config("era5-1deg.toml").forecaster(0).state_channels, 6 * 13 + 5);
    }

    #[test]
    fn unknown_keys_and_duplicates_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, "[model]\nlatent = 8\nprocessor_layers = 1\nmesh_level = 1\nlayers = 3\n[data]\nstore = 's'\nvariables = ['t']\n").unwrap();
        assert!(RunConfig::load(&path).unwrap_err().contains("layers"));
        std::fs::write(
            &path,
            "[model]\nlatent = 8\nprocessor_layers = 1\nmesh_level = 1\n[data]\nstore = 's'\nvariables = ['t', 't']\n",
        )
        .unwrap();
        assert!(RunConfig::load(&path).unwrap_err().contains("variable t listed twice"));
        let base =
            "[model]\nlatent = 8\nprocessor_layers = 1\nmesh_level = 1\n[data]\nstore = 's'\nvariables = ['t']\n";
        for (band, expected) in [
            ("boundary_width_points = 2\nboundary_width_km = 100.0\n", "not both"),
            ("boundary_width_points = 0\n", "leave it out"),
            ("boundary_width_km = -5.0\n", "positive distance"),
        ] {
            std::fs::write(&path, format!("{base}{band}")).unwrap();
            let e = RunConfig::load(&path).unwrap_err();
            assert!(e.contains("[data]") && e.contains(expected), "{band}: {e}");
        }
        std::fs::write(&path, format!("{base}boundary_width_km = 150.0\n")).unwrap();
        let width = RunConfig::load(&path).unwrap().data.boundary_width().unwrap();
        assert_eq!(width, Some(vejr_models::boundary::BoundaryWidth::Kilometres(150.0)));
    }
}
