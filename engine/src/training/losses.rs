//! The training loss: squared error of the predicted state against the target, in units of the
//! one-step tendency's standard deviation (at the first step exactly the normalised-tendency
//! error), weighted by cell area (cos latitude), by pressure level (∝ pressure) and per
//! variable, with missing points left out.

use std::collections::BTreeMap;

use burn::tensor::backend::Backend;
use burn::tensor::{Bool, Tensor, TensorData};
use vejr_ingest::store::Column;
use vejr_models::{Forecaster, GraphTensors, Normalization};

use super::data_loader::Batch;

/// Per-point and per-channel weights, each with mean one.
#[derive(Clone, Debug)]
pub struct LossWeights {
    pub area: Vec<f32>,
    pub channel: Vec<f32>,
    /// A limited-area model's boundary band (empty when it has none): no weight in the loss,
    /// its state overwritten by the analyses after each rollout step.
    pub boundary: Vec<bool>,
}

impl LossWeights {
    /// `area`: per grid point, as [`grid_area_weights`] gives it.
    pub fn new(area: Vec<f32>, columns: &[&Column], variable_weights: &BTreeMap<String, f64>) -> Self {
        let pressures: Vec<f64> = columns
            .iter()
            .filter(|c| c.level_type == "pressure_level")
            .map(|c| c.level)
            .collect();
        let mean_pressure = pressures.iter().sum::<f64>() / pressures.len().max(1) as f64;
        let mut channel: Vec<f64> = columns
            .iter()
            .map(|c| {
                let level = if c.level_type == "pressure_level" {
                    c.level / mean_pressure
                } else {
                    1.0
                };
                let user = variable_weights
                    .get(&c.name)
                    .or_else(|| variable_weights.get(&c.variable))
                    .copied()
                    .unwrap_or(1.0);
                level * user
            })
            .collect();
        let mean = channel.iter().sum::<f64>() / channel.len() as f64;
        channel.iter_mut().for_each(|w| *w /= mean);
        Self {
            area,
            channel: channel.into_iter().map(|w| w as f32).collect(),
            boundary: Vec::new(),
        }
    }

    /// The same weights with the boundary band left out (area zero there, mean one over the rest).
    pub fn with_boundary(mut self, band: Vec<bool>) -> Self {
        for (a, &b) in self.area.iter_mut().zip(&band) {
            if b {
                *a = 0.0;
            }
        }
        let mean = self.area.iter().map(|&a| a as f64).sum::<f64>() / self.area.len().max(1) as f64;
        if mean > 0.0 {
            self.area.iter_mut().for_each(|a| *a = (*a as f64 / mean) as f32);
        }
        self.boundary = band;
        self
    }
}

/// Each point's share of the Earth's surface, scaled to mean one: a latitude × longitude grid's
/// cells by latitude band; a grid given point by point (a projection, a reduced grid) by the
/// area each point stands for (`vejr_ingest::cell_area`).
pub fn grid_area_weights(grid: &vejr_ingest::Grid) -> Vec<f32> {
    match grid.points {
        Some(_) => {
            let areas = vejr_ingest::cell_area::cell_areas(grid);
            let mean = areas.iter().sum::<f64>() / areas.len().max(1) as f64;
            areas.iter().map(|a| (a / mean) as f32).collect()
        }
        None => area_weights(&grid.latitudes, grid.longitudes.len()),
    }
}

/// cos(latitude) per grid point (row-major), scaled to mean one. Points at the poles keep a
/// small weight rather than none, as WeatherBench's cell areas do.
pub fn area_weights(latitudes: &[f64], longitudes: usize) -> Vec<f32> {
    let dlat = if latitudes.len() > 1 {
        (latitudes[0] - latitudes[1]).abs()
    } else {
        1.0
    };
    let row: Vec<f64> = latitudes
        .iter()
        .map(|&lat| {
            let (north, south) = ((lat + dlat / 2.0).min(90.0), (lat - dlat / 2.0).max(-90.0));
            north.to_radians().sin() - south.to_radians().sin()
        })
        .collect();
    let mean = row.iter().sum::<f64>() / row.len() as f64;
    row.iter()
        .flat_map(|w| std::iter::repeat_n((w / mean) as f32, longitudes))
        .collect()
}

/// A batch on the device.
pub struct BatchTensors<B: Backend> {
    pub size: usize,
    pub previous: Tensor<B, 3>,
    pub current: Tensor<B, 3>,
    pub targets: Vec<Tensor<B, 3>>,
    pub forcings: Vec<Tensor<B, 3>>,
    pub statics: Option<Tensor<B, 3>>,
    /// Where each target has no value.
    pub missing: Vec<Tensor<B, 3, Bool>>,
    /// Per sample and step: Σ area × valid over points and channels, `[batch, 1, 1]`.
    pub denominators: Vec<Tensor<B, 3>>,
    /// The boundary band, `[batch, points, channels]`: there each predicted state is replaced
    /// by the target (the analyses), as a limited-area model gets its boundary from its host.
    pub boundary: Option<Tensor<B, 3, Bool>>,
}

impl<B: Backend> BatchTensors<B> {
    pub fn new(batch: &Batch, channels: usize, area: &[f32], device: &B::Device) -> Self {
        let b = batch.size;
        let points = area.len();
        let tensor =
            |v: &[f32], width: usize| vejr_models::float_tensor::<B, 3>(v.to_vec(), [b, points, width], device);
        let missing = batch
            .targets
            .iter()
            .map(|t| {
                let m: Vec<bool> = t.iter().map(|v| !v.is_finite()).collect();
                Tensor::<B, 3, Bool>::from_data(TensorData::new(m, [b, points, channels]), device)
            })
            .collect();
        let denominators = batch
            .targets
            .iter()
            .map(|t| {
                let d: Vec<f32> = t
                    .chunks(points * channels)
                    .map(|sample| {
                        let s: f64 = sample
                            .chunks(channels)
                            .zip(area)
                            .map(|(values, &a)| a as f64 * values.iter().filter(|v| v.is_finite()).count() as f64)
                            .sum();
                        s.max(1e-12) as f32
                    })
                    .collect();
                vejr_models::float_tensor::<B, 3>(d, [b, 1, 1], device)
            })
            .collect();
        let forcing_width = batch.forcings[0].len() / (b * points);
        Self {
            size: b,
            previous: tensor(&batch.previous, channels),
            current: tensor(&batch.current, channels),
            targets: batch.targets.iter().map(|t| tensor(t, channels)).collect(),
            forcings: batch.forcings.iter().map(|f| tensor(f, forcing_width)).collect(),
            statics: batch.statics.as_ref().map(|s| tensor(s, s.len() / (b * points))),
            missing,
            denominators,
            boundary: None,
        }
    }

    /// Forces the boundary band (`band` per point; none when empty) from the targets.
    pub fn with_boundary(mut self, band: &[bool], channels: usize, device: &B::Device) -> Self {
        if band.is_empty() {
            return self;
        }
        let mask: Vec<bool> = (0..self.size)
            .flat_map(|_| band.iter().flat_map(|&b| std::iter::repeat_n(b, channels)))
            .collect();
        self.boundary = Some(Tensor::from_data(
            TensorData::new(mask, [self.size, band.len(), channels]),
            device,
        ));
        self
    }

    /// Appends to each step's forcings what the network sees of the band at the step's end
    /// (`vejr_models::boundary::boundary_inputs`): the targets there, from the analyses.
    pub fn with_boundary_inputs(mut self, norm: &vejr_models::Normalization) -> Self {
        let Some(band) = &self.boundary else {
            return self;
        };
        let band = band.clone().slice([0..self.size, 0..band.dims()[1], 0..1]).float();
        for (k, forcing) in self.forcings.iter_mut().enumerate() {
            let inputs = vejr_models::boundary::boundary_inputs(norm, self.targets[k].clone(), band.clone());
            *forcing = Tensor::cat(vec![forcing.clone(), inputs], 2);
        }
        self
    }

    /// Step `k`'s predicted state with the boundary band set to the analyses.
    pub fn force_boundary(&self, k: usize, next: Tensor<B, 3>) -> Tensor<B, 3> {
        match &self.boundary {
            Some(band) => next.mask_where(band.clone(), self.targets[k].clone()),
            None => next,
        }
    }
}

/// `area × channel weight / tendency_stdev²` as `[1, points, channels]`.
pub fn error_weights<B: Backend>(weights: &LossWeights, norm: &Normalization, device: &B::Device) -> Tensor<B, 3> {
    let c = weights.channel.len();
    let values: Vec<f32> = weights
        .area
        .iter()
        .flat_map(|&a| (0..c).map(move |k| a * weights.channel[k] / (norm.tendency_stdev[k] * norm.tendency_stdev[k])))
        .collect();
    vejr_models::float_tensor(values, [1, weights.area.len(), c], device)
}

/// Weighted squared error of one step, summed over the batch: `Σ_b Σ w e² / Σ area·valid`.
pub fn step_loss<B: Backend>(
    predicted: Tensor<B, 3>,
    target: Tensor<B, 3>,
    missing: Tensor<B, 3, Bool>,
    denominator: Tensor<B, 3>,
    error_weights: Tensor<B, 3>,
) -> Tensor<B, 1> {
    let error = (predicted - target).mask_fill(missing, 0.0);
    let weighted = error.clone() * error * error_weights;
    (weighted.sum_dim(2).sum_dim(1) / denominator).sum()
}

/// The rollout's loss, summed over samples and averaged over its steps, back-propagating
/// through every step; `on_state(k, state)` sees each predicted state.
pub fn rollout_loss<B: vejr_models::gnn::GraphBackend>(
    model: &Forecaster<B>,
    graph: &GraphTensors<B>,
    norm: &Normalization,
    batch: &BatchTensors<B>,
    error_weights: &Tensor<B, 3>,
    mut on_state: impl FnMut(usize, &Tensor<B, 3>),
) -> Tensor<B, 1> {
    let steps = batch.targets.len();
    let (mut previous, mut current) = (batch.previous.clone(), batch.current.clone());
    let mut total: Option<Tensor<B, 1>> = None;
    for k in 0..steps {
        let next = model.step(
            graph,
            norm,
            previous,
            current.clone(),
            batch.forcings[k].clone(),
            batch.statics.clone(),
        );
        let next = batch.force_boundary(k, next);
        on_state(k, &next);
        let loss = step_loss(
            next.clone(),
            batch.targets[k].clone(),
            batch.missing[k].clone(),
            batch.denominators[k].clone(),
            error_weights.clone(),
        );
        total = Some(match total {
            Some(t) => t + loss,
            None => loss,
        });
        previous = current;
        current = next;
    }
    total.expect("at least one rollout step") / steps as f64
}

/// The same loss for persistence (tomorrow = today), the baseline a model must beat.
pub fn persistence_loss<B: Backend>(batch: &BatchTensors<B>, error_weights: &Tensor<B, 3>) -> Tensor<B, 1> {
    let steps = batch.targets.len();
    (0..steps)
        .map(|k| {
            step_loss(
                batch.current.clone(),
                batch.targets[k].clone(),
                batch.missing[k].clone(),
                batch.denominators[k].clone(),
                error_weights.clone(),
            )
        })
        .reduce(|a, b| a + b)
        .expect("at least one target")
        / steps as f64
}

/// Area-weighted squared error per channel, summed over samples: `(Σ area e², Σ area)` per
/// channel, for RMSE in physical units.
pub fn channel_squared_errors(predicted: &[f32], target: &[f32], area: &[f32], channels: usize) -> Vec<(f64, f64)> {
    let mut out = vec![(0.0, 0.0); channels];
    for (p, (pred, truth)) in predicted.chunks(channels).zip(target.chunks(channels)).enumerate() {
        let a = area[p % area.len()] as f64;
        for c in 0..channels {
            let e = pred[c] as f64 - truth[c] as f64;
            if e.is_finite() {
                out[c].0 += a * e * e;
                out[c].1 += a;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::NdArray;

    fn column(name: &str, level_type: &str, level: f64) -> Column {
        Column::bare(name, level_type, level)
    }

    #[test]
    fn weights_follow_area_pressure_and_config() {
        let area = area_weights(&[90.0, 45.0, 0.0, -45.0, -90.0], 4);
        let mean = area.iter().sum::<f32>() / area.len() as f32;
        assert!((mean - 1.0).abs() < 1e-6);
        assert!(area[8] > area[4] && area[4] > area[0] && area[0] > 0.0);
        assert_eq!(area[0], area[16]);

        let cols = [
            column("t_850", "pressure_level", 850.0),
            column("t_250", "pressure_level", 250.0),
            column("2t", "surface", 0.0),
        ];
        let refs: Vec<&Column> = cols.iter().collect();
        let mut user = BTreeMap::new();
        user.insert("2t".to_string(), 2.0);
        let w = LossWeights::new(area_weights(&[0.0], 1), &refs, &user);
        assert!((w.channel.iter().sum::<f32>() - 3.0).abs() < 1e-5);
        assert!((w.channel[0] / w.channel[1] - 850.0 / 250.0).abs() < 1e-5);
        // 2t: level weight 1, user weight 2; t_850: 850/550.
        assert!((w.channel[2] / w.channel[0] - 2.0 / (850.0 / 550.0)).abs() < 1e-5);
    }

    #[test]
    fn missing_points_do_not_count_and_the_loss_is_worked_out_by_hand() {
        type B = NdArray;
        let device = Default::default();
        // One sample, two points, one channel; the second target is missing.
        let batch = Batch {
            size: 1,
            previous: vec![0.0, 0.0],
            current: vec![1.0, 1.0],
            targets: vec![vec![3.0, f32::NAN]],
            forcings: vec![vec![0.0; 2 * 15]],
            statics: None,
            times: vec![],
        };
        let t = BatchTensors::<B>::new(&batch, 1, &[0.5, 1.5], &device);
        let weights = LossWeights {
            area: vec![0.5, 1.5],
            channel: vec![1.0],
            boundary: Vec::new(),
        };
        let norm = Normalization {
            mean: vec![0.0],
            stdev: vec![1.0],
            tendency_mean: vec![0.0],
            tendency_stdev: vec![2.0],
        };
        let w = error_weights::<B>(&weights, &norm, &device);
        // Persistence error at point 1: (1 − 3) / 2 = −1; weight 0.5; denominator 0.5.
        let loss: f32 = persistence_loss(&t, &w).into_scalar();
        assert!((loss - 1.0).abs() < 1e-6, "{loss}");
    }

    #[test]
    fn the_boundary_band_weighs_nothing_and_takes_the_target() {
        type B = NdArray;
        let device = Default::default();
        let weights = LossWeights {
            area: vec![1.0, 1.0, 2.0, 0.0],
            channel: vec![1.0],
            boundary: Vec::new(),
        }
        .with_boundary(vec![true, false, false, false]);
        // Point 0 out; the rest rescaled to mean one: 1, 2, 0 → ×4/3.
        assert_eq!(weights.area[0], 0.0);
        assert!(
            (weights.area.iter().sum::<f32>() - 4.0).abs() < 1e-6,
            "{:?}",
            weights.area
        );
        let batch = Batch {
            size: 1,
            previous: vec![0.0; 4],
            current: vec![1.0; 4],
            targets: vec![vec![5.0, 6.0, 7.0, 8.0]],
            forcings: vec![vec![0.0; 4 * 15]],
            statics: None,
            times: vec![],
        };
        let t = BatchTensors::<B>::new(&batch, 1, &weights.area, &device).with_boundary(&weights.boundary, 1, &device);
        let predicted = vejr_models::float_tensor::<B, 3>(vec![0.0; 4], [1, 4, 1], &device);
        let forced: Vec<f32> = t.force_boundary(0, predicted).into_data().to_vec().unwrap();
        assert_eq!(forced, [5.0, 0.0, 0.0, 0.0], "only the band takes the target");
    }

    #[test]
    fn the_network_sees_the_band_at_the_step_end_normalised_and_nothing_elsewhere() {
        type B = NdArray;
        let device = Default::default();
        let batch = Batch {
            size: 1,
            previous: vec![0.0; 4],
            current: vec![1.0; 4],
            targets: vec![vec![5.0, 6.0, f32::NAN, 8.0]],
            forcings: vec![vec![0.5; 4 * 15]],
            statics: None,
            times: vec![],
        };
        let norm = Normalization {
            mean: vec![4.0],
            stdev: vec![2.0],
            tendency_mean: vec![0.0],
            tendency_stdev: vec![1.0],
        };
        let band = [true, false, true, false];
        let t = BatchTensors::<B>::new(&batch, 1, &[1.0; 4], &device)
            .with_boundary(&band, 1, &device)
            .with_boundary_inputs(&norm);
        assert_eq!(t.forcings[0].dims(), [1, 4, 15 + 2]);
        let f: Vec<f32> = t.forcings[0].clone().into_data().to_vec().unwrap();
        let extra: Vec<[f32; 2]> = f.chunks(17).map(|p| [p[15], p[16]]).collect();
        // (5 − 4) / 2 in the band; outside it, and where the analysis is missing, zero.
        assert_eq!(extra, [[0.5, 1.0], [0.0, 0.0], [0.0, 1.0], [0.0, 0.0]]);
        assert!(f.chunks(17).all(|p| p[..15].iter().all(|&v| v == 0.5)), "forcings kept");
    }

    #[test]
    fn the_loss_at_step_two_reaches_the_weights_through_step_one() {
        use crate::training::parameters::flatten_gradients;
        use burn::backend::Autodiff;
        use burn::optim::GradientsParams;
        use vejr_models::ForecasterConfig;
        use vejr_models::graph::{GridPoints, WeatherGraph};

        type A = Autodiff<NdArray>;
        let device = Default::default();
        let grid = GridPoints {
            latitudes: (0..9).map(|i| 80.0 - 20.0 * i as f64).collect(),
            longitudes: (0..12).map(|i| 30.0 * i as f64).collect(),
            points: None,
        };
        let points = grid.len();
        let graph = GraphTensors::<A>::new(&WeatherGraph::build(&grid, 1).unwrap(), &device);
        <A as Backend>::seed(&device, 5);
        let model = ForecasterConfig::new(16, 1, 1, 2).init::<A>(&device);
        let wave = |phase: f32| -> Vec<f32> { (0..points * 2).map(|i| (i as f32 * 0.37 + phase).sin()).collect() };
        // Step 1's target is missing everywhere, so only step 2 counts.
        let batch = Batch {
            size: 1,
            previous: wave(0.0),
            current: wave(0.5),
            targets: vec![vec![f32::NAN; points * 2], wave(1.5)],
            forcings: vec![wave(0.1).repeat(15 / 2 + 1)[..points * 15].to_vec(); 2],
            statics: None,
            times: vec![],
        };
        let area = area_weights(&grid.latitudes, grid.longitudes.len());
        let norm = Normalization {
            mean: vec![0.0; 2],
            stdev: vec![1.0; 2],
            tendency_mean: vec![0.0; 2],
            tendency_stdev: vec![0.5; 2],
        };
        let weights = LossWeights {
            area: area.clone(),
            channel: vec![1.0; 2],
            boundary: Vec::new(),
        };
        let w = error_weights::<A>(&weights, &norm, &device);
        let rolled = BatchTensors::<A>::new(&batch, 2, &area, &device);
        let through = rollout_loss(&model, &graph, &norm, &rolled, &w, |_, _| {}) * 2.0;

        // The same step 2 from a detached step-1 state: same value, no path through step 1.
        let first = model
            .step(
                &graph,
                &norm,
                rolled.previous.clone(),
                rolled.current.clone(),
                rolled.forcings[0].clone(),
                None,
            )
            .detach();
        let cut = step_loss(
            model.step(
                &graph,
                &norm,
                rolled.current.clone(),
                first,
                rolled.forcings[1].clone(),
                None,
            ),
            rolled.targets[1].clone(),
            rolled.missing[1].clone(),
            rolled.denominators[1].clone(),
            w.clone(),
        );
        let (a, b): (f32, f32) = (through.clone().into_scalar(), cut.clone().into_scalar());
        assert!((a - b).abs() <= 1e-6 * a.abs(), "{a} vs {b}");
        let g_through = flatten_gradients(&model, GradientsParams::from_grads(through.backward(), &model));
        let g_cut = flatten_gradients(&model, GradientsParams::from_grads(cut.backward(), &model));
        let norm2 = |g: &[f32]| g.iter().map(|v| (*v as f64).powi(2)).sum::<f64>().sqrt();
        let diff: Vec<f32> = g_through.iter().zip(&g_cut).map(|(x, y)| x - y).collect();
        assert!(
            norm2(&diff) > 1e-3 * norm2(&g_through),
            "the gradient does not flow back through step 1: {} vs {}",
            norm2(&diff),
            norm2(&g_through)
        );
    }
}
