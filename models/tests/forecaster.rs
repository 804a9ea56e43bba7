//! The forecaster on CPU: gradients are right, checkpoints restore it exactly and refuse what
//! does not fit, and it can learn a real field.

use burn::backend::{Autodiff, NdArray};
use burn::module::{AutodiffModule, Module};
use burn::optim::{AdamConfig, GradientsParams, Optimizer};
use burn::tensor::{Tensor, TensorData};
use chrono::{TimeDelta, TimeZone, Utc};
use vejr_models::checkpoint::{self, Expectation};
use vejr_models::forcings::{FORCING_CHANNELS, forcings};
use vejr_models::graph::{GridPoints, WeatherGraph};
use vejr_models::{Forecaster, ForecasterConfig, GraphTensors, Normalization};

mod common;
use common::{coarse_global, metadata, noise};

fn tiny(channels: usize) -> ForecasterConfig {
    ForecasterConfig::new(16, 2, 1, channels)
}

/// Burn's random initialisation draws from one generator per backend: the tests here that
/// build models take turns, so that a seeded test gets the same weights however the test
/// threads interleave.
static MODEL_RNG: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[test]
fn checkpoint_restores_bitwise_and_refuses_what_does_not_fit() {
    let _rng = MODEL_RNG.lock().unwrap_or_else(|e| e.into_inner());
    type B = NdArray;
    let device = Default::default();
    let grid = coarse_global(22.5);
    let graph = WeatherGraph::build(&grid, 1).unwrap();
    let tensors = GraphTensors::<B>::new(&graph, &device);
    let config = tiny(3);
    let model = config.init::<B>(&device);
    let width = config.grid_inputs() - 3;
    let values: Vec<f32> = noise(grid.len() * width, 3).into_iter().map(|v| v as f32).collect();
    let x = Tensor::<B, 3>::from_data(TensorData::new(values, [1, grid.len(), width]), &device);
    let before: Vec<f32> = model.forward(x.clone(), &tensors).into_data().to_vec().unwrap();

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.vejr");
    let meta = metadata(&grid, &config);
    checkpoint::save(&path, &model, &meta).unwrap();
    let expected = Expectation {
        columns: Some(&meta.columns),
        latitudes: Some(&grid.latitudes),
        longitudes: Some(&grid.longitudes),
        time_step_seconds: Some(21_600),
    };
    let (loaded, loaded_meta) = checkpoint::load::<B>(&path, &expected, &device).unwrap();
    assert_eq!(loaded_meta, meta);
    let after: Vec<f32> = loaded.forward(x.clone(), &tensors).into_data().to_vec().unwrap();
    let bits = |v: &[f32]| v.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&before), bits(&after));

    // A checkpoint written before the model had learned grid features still loads, unchanged.
    let older = dir.path().join("older.vejr");
    let bytes = std::fs::read(&path).unwrap();
    let mut lines = bytes.splitn(3, |&b| b == b'\n');
    let (magic, header, weights) = (lines.next().unwrap(), lines.next().unwrap(), lines.next().unwrap());
    let mut header: serde_json::Value = serde_json::from_slice(header).unwrap();
    let model_fields = header["metadata"]["model"].as_object_mut().unwrap();
    assert!(model_fields.remove("trainable_grid_features").is_some());
    assert!(model_fields.remove("grid_points").is_some());
    let header = serde_json::to_vec(&header).unwrap();
    // Format 1: no checksum line after the metadata (format 2's, three lines in, goes).
    assert_eq!(magic, b"vejr-checkpoint 2");
    let weights = weights.splitn(2, |&b| b == b'\n').nth(1).unwrap();
    std::fs::write(&older, [b"vejr-checkpoint 1".as_slice(), &header, weights].join(&b'\n')).unwrap();
    let (loaded, _) = checkpoint::load::<B>(&older, &expected, &device).unwrap();
    let after: Vec<f32> = loaded.forward(x.clone(), &tensors).into_data().to_vec().unwrap();
    assert_eq!(bits(&before), bits(&after));

    let other = coarse_global(11.25);
    let columns = vec!["v0".to_string(), "msl".to_string(), "v2".to_string()];
    let wrong = Expectation {
        columns: Some(&columns),
        latitudes: Some(&other.latitudes),
        longitudes: Some(&other.longitudes),
        time_step_seconds: Some(3600),
    };
    let text = checkpoint::load::<B>(&path, &wrong, &device).unwrap_err().to_string();
    assert!(text.contains("grid differs (checkpoint: 9×16 grid"), "{text}");
    assert!(text.contains("here: 17×32 grid"), "{text}");
    assert!(text.contains("missing here: v1; not in checkpoint: msl"), "{text}");
    assert!(
        text.contains("time step differs (checkpoint: 21600 s; here: 3600 s)"),
        "{text}"
    );
    assert_eq!(text.lines().count(), 1);

    let original = std::fs::read(&path).unwrap();
    // One digit of the normalisation's mean changed: the metadata's own checksum refuses it.
    let mut bytes = original.clone();
    let mean = find(&bytes, b"\"mean\"").expect("the metadata has a normalisation mean");
    let digit = mean + bytes[mean..].iter().position(u8::is_ascii_digit).unwrap();
    bytes[digit] = if bytes[digit] == b'7' { b'8' } else { b'7' };
    std::fs::write(&path, &bytes).unwrap();
    let text = checkpoint::read_metadata(&path).unwrap_err().to_string();
    assert!(text.contains("damaged metadata (checksum mismatch)"), "{text}");

    // A length of 900 GB with a matching metadata checksum (a crafted or buggy file) is
    // bounded by the file's size, not allocated.
    let text_of = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    let lines: Vec<&[u8]> = original.splitn(4, |&b| b == b'\n').collect();
    let header = text_of(lines[1]);
    let weights_bytes = header
        .split("\"weights_bytes\":")
        .nth(1)
        .unwrap()
        .split(',')
        .next()
        .unwrap()
        .to_string();
    let header = header.replacen(
        &format!("\"weights_bytes\":{weights_bytes},"),
        "\"weights_bytes\":900000000000,",
        1,
    );
    let crafted = [
        lines[0],
        b"\n",
        header.as_bytes(),
        format!("\nfnv1a {:016x}\n", fnv1a(header.as_bytes())).as_bytes(),
        lines[3],
    ]
    .concat();
    std::fs::write(&path, &crafted).unwrap();
    let text = checkpoint::load::<B>(&path, &expected, &device)
        .unwrap_err()
        .to_string();
    assert!(
        text.contains("damaged file (holds") && text.contains("900000000000"),
        "{text}"
    );

    let mut bytes = original;
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&path, &bytes).unwrap();
    let text = checkpoint::load::<B>(&path, &expected, &device)
        .unwrap_err()
        .to_string();
    assert!(text.contains("damaged file"), "{text}");
    std::fs::write(&path, &bytes[..100]).unwrap();
    assert!(checkpoint::load::<B>(&path, &expected, &device).is_err());
}

/// Learned per-point features: zero at first, moved by training (the gradient reaches them
/// through the grid embedding), and kept by a checkpoint; the caller's input width is unchanged.
#[test]
fn trainable_grid_features_learn_and_are_checkpointed() {
    let _rng = MODEL_RNG.lock().unwrap_or_else(|e| e.into_inner());
    type A = Autodiff<NdArray>;
    let device = Default::default();
    let grid = coarse_global(30.0);
    let graph = WeatherGraph::build(&grid, 1).unwrap();
    let tensors = GraphTensors::<A>::new(&graph, &device);
    let config = tiny(2).with_trainable_grid_features(4).with_grid_points(grid.len());
    let width = tiny(2).grid_inputs() - 3;
    assert_eq!(config.grid_inputs(), tiny(2).grid_inputs() + 4);
    let learned = |m: &Forecaster<A>| -> Vec<f32> {
        let mut all = Vec::new();
        m.visit(&mut Collect(&mut all, grid.len() * 4));
        all
    };
    let mut model = config.init::<A>(&device);
    assert!(learned(&model).iter().all(|&v| v == 0.0), "they start at zero");

    let values: Vec<f32> = noise(grid.len() * width, 5).into_iter().map(|v| v as f32).collect();
    let x = Tensor::<A, 3>::from_data(TensorData::new(values, [1, grid.len(), width]), &device);
    let mut optimizer = AdamConfig::new().init::<A, Forecaster<A>>();
    let loss = model.forward(x.clone(), &tensors).powi_scalar(2).sum();
    let grads = GradientsParams::from_grads(loss.backward(), &model);
    model = optimizer.step(1e-2, model, grads);
    let after_step = learned(&model);
    assert!(after_step.iter().all(|v| v.is_finite()) && after_step.iter().any(|&v| v != 0.0));

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.vejr");
    let model = model.valid();
    checkpoint::save(&path, &model, &metadata(&grid, &config)).unwrap();
    let none = Expectation {
        columns: None,
        latitudes: None,
        longitudes: None,
        time_step_seconds: None,
    };
    let (loaded, meta) = checkpoint::load::<NdArray>(&path, &none, &device).unwrap();
    assert_eq!(meta.model.trainable_grid_features, 4);
    let inner = GraphTensors::<NdArray>::new(&graph, &device);
    let forward = |m: &Forecaster<NdArray>| -> Vec<u32> {
        let y: Vec<f32> = m.forward(x.clone().inner(), &inner).into_data().to_vec().unwrap();
        y.iter().map(|v| v.to_bits()).collect()
    };
    assert_eq!(forward(&model), forward(&loaded));
}

/// The parameter tensor of a given size (the learned features; no other has it here).
struct Collect<'a>(&'a mut Vec<f32>, usize);

impl<B: burn::tensor::backend::Backend> burn::module::ModuleVisitor<B> for Collect<'_> {
    fn visit_float<const D: usize>(&mut self, param: &burn::module::Param<Tensor<B, D>>) {
        if param.val().shape().num_elements() == self.1 {
            self.0
                .extend(param.val().into_data().convert::<f32>().to_vec::<f32>().unwrap());
        }
    }
}

#[test]
fn rollout_streams_every_step_and_equals_repeated_steps() {
    let _rng = MODEL_RNG.lock().unwrap_or_else(|e| e.into_inner());
    type B = NdArray;
    let device = Default::default();
    let grid = coarse_global(30.0);
    let graph = WeatherGraph::build(&grid, 1).unwrap();
    let tensors = GraphTensors::<B>::new(&graph, &device);
    let config = tiny(2);
    let model = config.init::<B>(&device);
    let norm = Normalization {
        mean: vec![280.0, 0.0],
        stdev: vec![10.0, 5.0],
        tendency_mean: vec![0.0, 0.0],
        tendency_stdev: vec![1.0, 2.0],
    };
    let g = grid.len();
    let state = |seed| {
        Tensor::<B, 3>::from_data(
            TensorData::new(
                noise(g * 2, seed)
                    .into_iter()
                    .map(|v| v as f32 * 5.0 + 280.0)
                    .collect::<Vec<f32>>(),
                [1, g, 2],
            ),
            &device,
        )
    };
    let start = Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap();
    let forcing = |k: usize| {
        let t = |i: i64| forcings(&grid, start + TimeDelta::hours(6 * (k as i64 + i)));
        let mut v = Vec::with_capacity(g * 3 * FORCING_CHANNELS);
        let (a, b, c) = (t(0), t(1), t(2));
        for p in 0..g {
            for f in [&a, &b, &c] {
                v.extend_from_slice(&f[p * FORCING_CHANNELS..(p + 1) * FORCING_CHANNELS]);
            }
        }
        Tensor::<B, 3>::from_data(TensorData::new(v, [1, g, 3 * FORCING_CHANNELS]), &device)
    };
    let mut streamed = Vec::new();
    let last = model.rollout(
        &tensors,
        &norm,
        state(1),
        state(2),
        forcing,
        None,
        3,
        |_, s| s,
        |k, s| streamed.push((k, s.clone())),
    );
    assert_eq!(streamed.iter().map(|(k, _)| *k).collect::<Vec<_>>(), vec![0, 1, 2]);
    let s1 = model.step(&tensors, &norm, state(1), state(2), forcing(0), None);
    let s2 = model.step(&tensors, &norm, state(2), s1.clone(), forcing(1), None);
    let s3 = model.step(&tensors, &norm, s1, s2, forcing(2), None);
    assert_eq!(last.into_data(), s3.into_data());
}

#[test]
fn tiny_forecaster_overfits_a_real_sample() {
    let _rng = MODEL_RNG.lock().unwrap_or_else(|e| e.into_inner());
    type B = Autodiff<NdArray>;
    let device = burn::backend::ndarray::NdArrayDevice::default();
    // A fixed initialisation, so the margin over 100× is the same on every run.
    <B as burn::tensor::backend::Backend>::seed(&device, 2019);
    let path = vejr_ingest::test_data::shared_file("grib/era5-2mt-2019-03-uk.grib");
    let fields = vejr_ingest::read_fields(&path, &Default::default()).unwrap();
    let grid = GridPoints {
        latitudes: fields.grid.latitudes.clone(),
        longitudes: fields.grid.longitudes.clone(),
        points: None,
    };
    let v = &fields.variables[0];
    let g = grid.len();
    let at = |h: usize| fields.field(v, h, 0, 0).to_vec();
    let (previous, current, next) = (at(0), at(6), at(12));
    let norm = Normalization {
        mean: vec![280.0],
        stdev: vec![3.0],
        tendency_mean: vec![0.0],
        tendency_stdev: vec![1.0],
    };
    let state = |values: Vec<f32>| Tensor::<B, 3>::from_data(TensorData::new(values, [1, g, 1]), &device);
    let forcing = Tensor::<B, 3>::zeros([1, g, 3 * FORCING_CHANNELS], &device);

    // Mesh level 4: enough mesh nodes over the UK (about 1.9° apart) to tell places apart.
    let graph = WeatherGraph::build(&grid, 4).unwrap();
    let tensors = GraphTensors::<B>::new(&graph, &device);
    let config = ForecasterConfig::new(32, 2, 4, 1);
    let mut model = config.init::<B>(&device);
    let inputs = Forecaster::grid_inputs(&norm, state(previous), state(current.clone()), forcing, None);
    let target = norm.tendency_target(state(current), state(next));
    let mut optimizer = AdamConfig::new().init();
    let mut losses = Vec::new();
    let steps = 900;
    for step in 0..steps {
        let loss = (model.forward(inputs.clone(), &tensors) - target.clone())
            .powi_scalar(2)
            .mean();
        losses.push(loss.clone().into_data().to_vec::<f32>().unwrap()[0]);
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        // 3e-3 (1e-2 diverges), then a cosine decay over the last 150 steps to settle.
        let tail = steps - 150;
        let lr = if step < tail {
            3e-3
        } else {
            1e-5 + 0.5 * (3e-3 - 1e-5) * (1.0 + (std::f64::consts::PI * (step - tail) as f64 / 150.0).cos())
        };
        model = optimizer.step(lr, model, grads);
    }
    let (first, last) = (losses[0], *losses.last().unwrap());
    assert!(
        first / last >= 100.0,
        "loss {first} → {last}: fell only {:.1}×",
        first / last
    );
    let _ = model.valid();
}

/// A checkpoint written by vejr 1cf96bd, before the edge and node MLPs were split into parts
/// applied before the gathers (data-samples/README.md): it loads unchanged and gives the
/// forward it gave then, to float rounding.
#[test]
fn checkpoint_from_before_the_concat_trick_gives_the_same_forward() {
    let _rng = MODEL_RNG.lock().unwrap_or_else(|e| e.into_inner());
    type B = NdArray;
    let device = Default::default();
    let samples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../data-samples");
    let (model, meta) = checkpoint::load::<B>(
        &samples.join("forecaster-1cf96bd.vejr"),
        &Expectation::default(),
        &device,
    )
    .unwrap();
    let grid = GridPoints {
        latitudes: meta.latitudes.clone(),
        longitudes: meta.longitudes.clone(),
        points: None,
    };
    assert_eq!(grid, coarse_global(15.0));
    let graph = WeatherGraph::build(&grid, meta.model.mesh_level).unwrap();
    let tensors = GraphTensors::<B>::new(&graph, &device);
    let width = meta.model.grid_inputs() - 3;
    let values: Vec<f32> = noise(grid.len() * width, 11).into_iter().map(|v| v as f32).collect();
    let x = Tensor::<B, 3>::from_data(TensorData::new(values, [1, grid.len(), width]), &device);
    let now: Vec<f32> = model.forward(x, &tensors).into_data().to_vec().unwrap();
    let then: Vec<f32> = std::fs::read(samples.join("forecaster-1cf96bd-forward.f32"))
        .unwrap()
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    assert_eq!(now.len(), then.len());
    let scale = then.iter().fold(0f32, |m, v| m.max(v.abs()));
    let worst = now.iter().zip(&then).fold(0f32, |m, (a, b)| m.max((a - b).abs()));
    assert!(scale > 0.1, "the sample's forward is not trivial ({scale})");
    assert!(
        worst <= 1e-5 * scale,
        "largest difference {worst} against values up to {scale}"
    );
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The checkpoint's checksum (FNV-1a, 64 bit), written out from its definition.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
    })
}

/// A device that binds less than an edge set in one buffer runs the encoder's and decoder's
/// edges chunk by chunk: the same forecast and input gradient as in one piece.
#[test]
fn edges_in_chunks_give_the_same_forecast_and_gradient() {
    let _rng = MODEL_RNG.lock().unwrap_or_else(|e| e.into_inner());
    type B = Autodiff<NdArray>;
    let device = Default::default();
    let grid = coarse_global(15.0);
    let graph = WeatherGraph::build(&grid, 2).unwrap();
    let config = tiny(2);
    let model = config.init::<B>(&device);
    let g = grid.len();
    let width = config.grid_inputs() - vejr_models::graph::features::NODE_FEATURES;
    let values: Vec<f32> = noise(g * width, 5).into_iter().map(|v| v as f32).collect();
    let run = |tensors: &GraphTensors<B>| {
        let x = Tensor::<B, 3>::from_data(TensorData::new(values.clone(), [1, g, width]), &device).require_grad();
        let out = model.forward(x.clone(), tensors);
        let grads = out.clone().powi_scalar(2).sum().backward();
        let gradient: Vec<f32> = x.grad(&grads).unwrap().into_data().to_vec().unwrap();
        let out: Vec<f32> = out.into_data().to_vec().unwrap();
        (out, gradient)
    };
    let whole = GraphTensors::<B>::new(&graph, &device);
    assert_eq!((whole.grid_to_mesh.len(), whole.mesh_to_grid.len()), (1, 1));
    let chunked = GraphTensors::<B>::with_edge_chunks(&graph, &device, 37);
    assert!(chunked.grid_to_mesh.len() > 3 && chunked.mesh_to_grid.len() > 3);
    let (a, b) = (run(&whole), run(&chunked));
    for (what, x, y) in [("forecast", &a.0, &b.0), ("input gradient", &a.1, &b.1)] {
        // Rounding only: a matmul over fewer rows may block its sums differently.
        let worst = x.iter().zip(y).map(|(p, q)| (p - q).abs()).fold(0f32, f32::max);
        let scale = x.iter().map(|p| p.abs()).fold(0f32, f32::max);
        assert!(
            scale > 0.0 && worst <= 2e-6 * scale,
            "{what}: chunked differs by {worst:e} (largest value {scale})"
        );
    }
}

/// The CPU's fused MLP tail (SiLU, output layer, LayerNorm and residual block by block) is
/// the four operations in turn, bit for bit, over several blocks of rows, with and without
/// each of bias, norm and residual: checkpoints forecast exactly as before it. (Here, not
/// beside the other kernels: the f64 tests there set the CPU device's float type to f64.)
#[test]
fn the_fused_mlp_tail_is_its_operations_in_turn_bit_for_bit() {
    use burn::tensor::ops::FloatTensorOps;
    use vejr_models::gnn::GraphBackend;
    type N = NdArray<f32>;
    let device = Default::default();
    let f32s = |n: usize, seed: u64| noise(n, seed).into_iter().map(|v| v as f32 * 3.0).collect::<Vec<f32>>();
    let (batch, rows, k, m) = (2, 2600, 24, 16);
    let t3 = |l: usize, seed| {
        Tensor::<N, 3>::from_data(TensorData::new(f32s(batch * rows * l, seed), [batch, rows, l]), &device)
    };
    let t1 = |n: usize, seed| Tensor::<N, 1>::from_data(TensorData::new(f32s(n, seed), [n]), &device);
    let w = Tensor::<N, 2>::from_data(TensorData::new(f32s(k * m, 3), [k, m]), &device);
    let bits = |t: Tensor<N, 3>| {
        t.into_data()
            .to_vec::<f32>()
            .unwrap()
            .into_iter()
            .map(f32::to_bits)
            .collect::<Vec<u32>>()
    };
    let p = |t: Tensor<N, 3>| t.into_primitive().tensor();
    let p1 = |t: Tensor<N, 1>| t.into_primitive().tensor();
    let wrap = |t| Tensor::<N, 3>::from_primitive(burn::tensor::TensorPrimitive::Float(t));
    for case in 0..8 {
        let (with_bias, with_norm, with_residual) = (case & 1 != 0, case & 2 != 0, case & 4 != 0);
        let hidden = t3(k, 1);
        let bias = with_bias.then(|| t1(m, 4));
        let norm = with_norm.then(|| (t1(m, 5), t1(m, 6), 1e-5));
        let residual = with_residual.then(|| t3(m, 7));
        let fused = N::mlp_tail(
            p(hidden.clone()),
            w.clone().into_primitive().tensor(),
            bias.clone().map(p1),
            norm.clone().map(|(g, b, e)| (p1(g), p1(b), e)),
            residual.clone().map(p),
        );
        let mut y = <N as GraphBackend>::linear(N::silu(p(hidden)), w.clone().into_primitive().tensor(), bias.map(p1));
        if let Some((g, b, e)) = norm {
            y = <N as GraphBackend>::layer_norm(y, p1(g), p1(b), e);
        }
        if let Some(r) = residual {
            y = N::float_add(y, p(r));
        }
        let (fused, apart) = (bits(wrap(fused)), bits(wrap(y)));
        assert_eq!(fused.len(), batch * rows * m);
        let differing = fused.iter().zip(&apart).filter(|(a, b)| a != b).count();
        assert_eq!(
            differing, 0,
            "bias {with_bias}, norm {with_norm}, residual {with_residual}: {differing} values differ"
        );
    }
}

/// The CPU's fused first layer of an edge MLP (its edge part's product, then the gathered
/// node parts added, block by block) is `linear` and `gather_add` in turn, bit for bit.
#[test]
fn the_fused_edge_layer_is_linear_and_gather_add_bit_for_bit() {
    use vejr_models::gnn::GraphBackend;
    use vejr_models::gnn::interaction_network::EdgeIndex;
    type N = NdArray<f32>;
    let device = Default::default();
    let f32s = |n: usize, seed: u64| noise(n, seed).into_iter().map(|v| v as f32 * 3.0).collect::<Vec<f32>>();
    let (batch, k, m) = (2, 12, 16);
    let (senders, receivers) = common::random_graph(9, 700, 900);
    let edges = senders.len();
    assert!(edges > 2048, "{edges} edges: more than one block");
    let index = EdgeIndex::<N>::new(&senders, &receivers, 700, 900, &device);
    let t3 = |rows: usize, l: usize, seed| {
        Tensor::<N, 3>::from_data(TensorData::new(f32s(batch * rows * l, seed), [batch, rows, l]), &device)
            .into_primitive()
            .tensor()
    };
    let w = || {
        Tensor::<N, 2>::from_data(TensorData::new(f32s(k * m, 3), [k, m]), &device)
            .into_primitive()
            .tensor()
    };
    let (x, from, to) = (t3(edges, k, 1), t3(700, m, 2), t3(900, m, 4));
    let fused = N::linear_gather_add(
        x.clone(),
        w(),
        from.clone(),
        &index.senders,
        to.clone(),
        &index.receivers,
    );
    let base = <N as GraphBackend>::linear(x, w(), None);
    let apart = N::gather_add(base, from, &index.senders, to, &index.receivers);
    let bits = |t| {
        Tensor::<N, 3>::from_primitive(burn::tensor::TensorPrimitive::Float(t))
            .into_data()
            .to_vec::<f32>()
            .unwrap()
            .into_iter()
            .map(f32::to_bits)
            .collect::<Vec<u32>>()
    };
    let (fused, apart) = (bits(fused), bits(apart));
    assert_eq!(fused.len(), batch * edges * m);
    assert_eq!(fused.iter().zip(&apart).filter(|(a, b)| a != b).count(), 0);
}
