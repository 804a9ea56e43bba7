//! The encoder–processor–decoder forecaster (GraphCast, Lam et al. 2023).
//!
//! Grid inputs (state at t−Δt and t, forcings at t−Δt, t and t+Δt, static fields, position)
//! are embedded, passed to the mesh (encoder), processed by L unshared interaction networks
//! on the multimesh, passed back to the grid (decoder) and read out as the normalised
//! tendency, which the normalisation statistics turn into the state at t+Δt.

use burn::config::Config;
use burn::module::{Module, Param};
use burn::tensor::Tensor;
use burn::tensor::backend::Backend;

use crate::forcings::FORCING_CHANNELS;
use crate::gnn::interaction_network::{EdgeIndex, InteractionNetwork, InteractionNetworkConfig};
use crate::gnn::mlp::{Mlp, MlpConfig};
use crate::gnn::{GraphAutodiffBackend, GraphBackend};
use crate::graph::WeatherGraph;
use crate::graph::features::{EDGE_FEATURES, NODE_FEATURES};
use crate::normalization::Normalization;

#[derive(Config, Debug, PartialEq)]
pub struct ForecasterConfig {
    /// Width of every latent vector (GraphCast: 512).
    pub latent: usize,
    /// Unshared message-passing layers on the mesh (GraphCast: 16).
    pub processor_layers: usize,
    /// Icosahedral refinement level of the finest mesh (GraphCast: 6).
    pub mesh_level: usize,
    /// Variables × levels predicted (and given as input).
    pub state_channels: usize,
    /// Static fields (land–sea mask, orography, the store's missing-point mask).
    #[config(default = 0)]
    pub static_channels: usize,
    /// Learned features per grid point (Anemoi's trainable node parameters): what the static
    /// fields do not say about a place (a coast, a valley) the model can learn for itself.
    /// Ties the model to its grid, as the graph already does.
    #[config(default = 0)]
    pub trainable_grid_features: usize,
    /// Grid points; needed only with `trainable_grid_features`.
    #[config(default = 0)]
    pub grid_points: usize,
    /// A limited-area model's inputs at each step beyond the forcings: its boundary band's
    /// state at t+Δt from the host (zero elsewhere) and the band itself
    /// (`boundary::boundary_inputs`), appended to the forcings. 0 without.
    #[config(default = 0)]
    pub boundary_channels: usize,
}

impl ForecasterConfig {
    /// Channels of the grid node input: two states, forcings at three times, statics, learned
    /// features, position.
    pub fn grid_inputs(&self) -> usize {
        2 * self.state_channels
            + 3 * FORCING_CHANNELS
            + self.boundary_channels
            + self.static_channels
            + self.trainable_grid_features
            + NODE_FEATURES
    }

    /// Edges per chunk of the encoder's and decoder's edge sets on a device that binds at
    /// most `max_tensor_bytes` in one buffer: their latents, `[batch, edges, latent]` in f32,
    /// then fit it (no limit: one chunk).
    pub fn edge_chunk(&self, batch: usize, max_tensor_bytes: Option<u64>) -> usize {
        max_tensor_bytes.map_or(usize::MAX, |limit| {
            (limit / (4 * self.latent.max(1) as u64 * batch.max(1) as u64)).max(1) as usize
        })
    }

    /// The largest tensor a pass over `graph` with `batch` samples makes (f32) when the
    /// encoder's and decoder's edges run in chunks of `edge_chunk`, with what it holds: a
    /// chunk's edge latents, the mesh edges' latents (the processor keeps them from layer to
    /// layer, whole), or the grid's inputs or latents.
    pub fn largest_tensor(&self, graph: &WeatherGraph, batch: usize, edge_chunk: usize) -> (u64, String) {
        let l = self.latent as u64;
        let b = batch as u64;
        let grid_width = (self.grid_inputs() as u64).max(l);
        let chunk = |set: &crate::graph::EdgeSet, name: &str| {
            let chunks = set.receiver_chunks(edge_chunk);
            let largest = chunks.iter().map(|c| c.len()).max().unwrap_or(0) as u64;
            let what = if chunks.len() > 1 {
                format!("{largest} of the {} {name} edges (a chunk) × latent {l}", set.len())
            } else {
                format!("{largest} {name} edges × latent {l}")
            };
            (largest * l, what)
        };
        let candidates = [
            chunk(&graph.mesh_to_grid, "mesh-to-grid"),
            chunk(&graph.grid_to_mesh, "grid-to-mesh"),
            (
                graph.mesh.senders.len() as u64 * l,
                format!("{} mesh edges × latent {l}", graph.mesh.senders.len()),
            ),
            (
                graph.num_grid_nodes() as u64 * grid_width,
                format!("{} grid points × {grid_width} channels", graph.num_grid_nodes()),
            ),
        ];
        let (values, what) = candidates.into_iter().max_by_key(|(v, _)| *v).expect("four candidates");
        let what = if batch > 1 {
            format!("{batch} samples × {what}")
        } else {
            what
        };
        (b * values * 4, what)
    }

    /// The weights a seed gives, the same on every device: drawn by the CPU backend's
    /// generator and carried over at full precision, because each backend's generator draws
    /// its own numbers (a model trained with `--device wgpu` or `cuda` then starts where the
    /// CPU's starts).
    pub fn init_seeded<B: GraphBackend>(&self, seed: u64, device: &B::Device) -> Forecaster<B> {
        use burn::record::{BinBytesRecorder, FullPrecisionSettings, Recorder};
        type Cpu = burn::backend::NdArray<f32>;
        let cpu = Default::default();
        <Cpu as Backend>::seed(&cpu, seed);
        let drawn = self.init::<Cpu>(&cpu).into_record();
        let recorder = BinBytesRecorder::<FullPrecisionSettings>::new();
        let bytes = recorder.record(drawn, ()).expect("weights serialise");
        let record = recorder.load(bytes, device).expect("weights just serialised load");
        self.init::<B>(device).load_record(record)
    }

    pub fn init<B: GraphBackend>(&self, device: &B::Device) -> Forecaster<B> {
        let l = self.latent;
        let embed = |input: usize| MlpConfig::new(input, l, l).init(device);
        // Zeros, as Anemoi starts them: the gradient through the grid embedding moves them.
        let trainable_grid_features = (self.trainable_grid_features > 0).then(|| {
            assert!(
                self.grid_points > 0,
                "trainable grid features need the number of grid points"
            );
            Param::from_tensor(Tensor::zeros([self.grid_points, self.trainable_grid_features], device))
        });
        Forecaster {
            trainable_grid_features,
            grid_embed: embed(self.grid_inputs()),
            mesh_embed: embed(NODE_FEATURES),
            grid_to_mesh_embed: embed(EDGE_FEATURES),
            mesh_edge_embed: embed(EDGE_FEATURES),
            mesh_to_grid_embed: embed(EDGE_FEATURES),
            encoder: InteractionNetworkConfig::new(l).init(device),
            encoder_grid: embed(l),
            processor: (0..self.processor_layers)
                .map(|_| InteractionNetworkConfig::new(l).init(device))
                .collect(),
            decoder: InteractionNetworkConfig::new(l).init(device),
            output: MlpConfig::new(l, l, self.state_channels)
                .with_layer_norm(false)
                .init(device),
        }
    }
}

#[derive(Module, Debug)]
pub struct Forecaster<B: GraphBackend> {
    trainable_grid_features: Option<Param<Tensor<B, 2>>>,
    grid_embed: Mlp<B>,
    mesh_embed: Mlp<B>,
    grid_to_mesh_embed: Mlp<B>,
    mesh_edge_embed: Mlp<B>,
    mesh_to_grid_embed: Mlp<B>,
    encoder: InteractionNetwork<B>,
    encoder_grid: Mlp<B>,
    processor: Vec<InteractionNetwork<B>>,
    decoder: InteractionNetwork<B>,
    output: Mlp<B>,
}

/// A graph's structure and features as tensors on one device.
#[derive(Clone, Debug)]
pub struct GraphTensors<B: GraphBackend> {
    pub num_grid_nodes: usize,
    pub num_mesh_nodes: usize,
    pub grid_node_features: Tensor<B, 3>,
    pub mesh_node_features: Tensor<B, 3>,
    /// The encoder's and decoder's edges in receiver-disjoint chunks (one unless the device
    /// binds less than the whole set in one buffer: [`GraphTensors::with_edge_chunks`]).
    pub grid_to_mesh: Vec<(EdgeIndex<B>, Tensor<B, 3>)>,
    pub mesh: (EdgeIndex<B>, Tensor<B, 3>),
    pub mesh_to_grid: Vec<(EdgeIndex<B>, Tensor<B, 3>)>,
}

impl<B: GraphBackend> GraphTensors<B> {
    pub fn new(graph: &WeatherGraph, device: &B::Device) -> Self {
        Self::with_edge_chunks(graph, device, usize::MAX)
    }

    /// With the encoder's and decoder's edges split into chunks of at most `max_edges`
    /// ([`ForecasterConfig::edge_chunk`]); the same function as [`Self::new`]'s, its edge
    /// latents made chunk by chunk.
    pub fn with_edge_chunks(graph: &WeatherGraph, device: &B::Device, max_edges: usize) -> Self {
        let features = |values: &[f32], width: usize| {
            let n = values.len() / width;
            crate::float_tensor::<B, 3>(values.to_vec(), [1, n, width], device)
        };
        let edges = |set: &crate::graph::EdgeSet, range: std::ops::Range<usize>, senders: usize, receivers: usize| {
            (
                EdgeIndex::new(
                    &set.senders[range.clone()],
                    &set.receivers[range.clone()],
                    senders,
                    receivers,
                    device,
                ),
                features(
                    &set.features[range.start * EDGE_FEATURES..range.end * EDGE_FEATURES],
                    EDGE_FEATURES,
                ),
            )
        };
        let chunked = |set: &crate::graph::EdgeSet, senders: usize, receivers: usize| {
            let mut chunks = set.receiver_chunks(max_edges);
            if chunks.is_empty() {
                chunks.push(0..0);
            }
            chunks
                .into_iter()
                .map(|range| edges(set, range, senders, receivers))
                .collect::<Vec<_>>()
        };
        let (g, m) = (graph.num_grid_nodes(), graph.num_mesh_nodes);
        Self {
            num_grid_nodes: g,
            num_mesh_nodes: m,
            grid_node_features: features(&graph.grid_node_features, NODE_FEATURES),
            mesh_node_features: features(&graph.mesh_node_features, NODE_FEATURES),
            grid_to_mesh: chunked(&graph.grid_to_mesh, g, m),
            mesh: edges(&graph.mesh, 0..graph.mesh.len(), m, m),
            mesh_to_grid: chunked(&graph.mesh_to_grid, m, g),
        }
    }
}

impl<B: GraphAutodiffBackend> GraphTensors<B> {
    /// The same graph on the backend without autodiff (for a forward pass that records nothing).
    pub fn inner(&self) -> GraphTensors<B::InnerBackend> {
        let edges = |(index, features): &(EdgeIndex<B>, Tensor<B, 3>)| {
            (
                index.map(&|t: Tensor<B, 1, burn::tensor::Int>| t.inner()),
                features.clone().inner(),
            )
        };
        let chunked = |chunks: &[(EdgeIndex<B>, Tensor<B, 3>)]| chunks.iter().map(edges).collect();
        GraphTensors {
            num_grid_nodes: self.num_grid_nodes,
            num_mesh_nodes: self.num_mesh_nodes,
            grid_node_features: self.grid_node_features.clone().inner(),
            mesh_node_features: self.mesh_node_features.clone().inner(),
            grid_to_mesh: chunked(&self.grid_to_mesh),
            mesh: edges(&self.mesh),
            mesh_to_grid: chunked(&self.mesh_to_grid),
        }
    }
}

fn batched<B: Backend>(t: &Tensor<B, 3>, batch: usize) -> Tensor<B, 3> {
    let [_, n, c] = t.dims();
    t.clone().expand([batch, n, c])
}

impl<B: GraphBackend> Forecaster<B> {
    /// `grid_inputs [batch, grid, grid_inputs − NODE_FEATURES]` (position features are added
    /// here) → normalised tendency `[batch, grid, state_channels]`.
    pub fn forward(&self, grid_inputs: Tensor<B, 3>, graph: &GraphTensors<B>) -> Tensor<B, 3> {
        let batch = grid_inputs.dims()[0];
        let mut parts = vec![grid_inputs];
        if let Some(learned) = &self.trainable_grid_features {
            parts.push(batched(&learned.val().unsqueeze_dim(0), batch));
        }
        parts.push(batched(&graph.grid_node_features, batch));
        let grid_in = Tensor::cat(parts, 2);
        let grid = self.grid_embed.forward(grid_in);
        let mesh = self.mesh_embed.forward(batched(&graph.mesh_node_features, batch));
        let mesh_edges = self.mesh_edge_embed.forward(batched(&graph.mesh.1, batch));

        // Encoder: grid → mesh; the grid nodes get their own residual update.
        let mut mesh = self
            .encoder
            .forward_receivers(grid.clone(), mesh, &graph.grid_to_mesh, |features| {
                self.grid_to_mesh_embed.forward(batched(features, batch))
            });
        let grid = self.encoder_grid.forward_plus(grid.clone(), grid);

        // Processor: unshared layers on the multimesh.
        let mut edges = mesh_edges;
        for layer in &self.processor {
            let (m, e) = layer.forward(mesh.clone(), mesh, edges, &graph.mesh.0);
            mesh = m;
            edges = e;
        }

        // Decoder: mesh → grid, then the read-out.
        let grid = self
            .decoder
            .forward_receivers(mesh, grid, &graph.mesh_to_grid, |features| {
                self.mesh_to_grid_embed.forward(batched(features, batch))
            });
        self.output.forward(grid)
    }

    /// Assembles the grid input for one step. States are physical `[batch, grid, C]`;
    /// `forcings [batch, grid, 3 × FORCING_CHANNELS]` for t−Δt, t, t+Δt; `statics [batch, grid, S]`.
    pub fn grid_inputs(
        norm: &Normalization,
        previous: Tensor<B, 3>,
        current: Tensor<B, 3>,
        forcings: Tensor<B, 3>,
        statics: Option<Tensor<B, 3>>,
    ) -> Tensor<B, 3> {
        let mut parts = vec![norm.normalize(previous), norm.normalize(current), forcings];
        parts.extend(statics);
        Tensor::cat(parts, 2)
    }

    /// The state at t+Δt from those at t−Δt and t (physical units).
    pub fn step(
        &self,
        graph: &GraphTensors<B>,
        norm: &Normalization,
        previous: Tensor<B, 3>,
        current: Tensor<B, 3>,
        forcings: Tensor<B, 3>,
        statics: Option<Tensor<B, 3>>,
    ) -> Tensor<B, 3> {
        let inputs = Self::grid_inputs(norm, previous, current.clone(), forcings, statics);
        let tendency = self.forward(inputs, graph);
        norm.apply_tendency(current, tendency)
    }

    /// `steps` autoregressive steps; `forcings(k)` gives the forcings of step k (k = 0 predicts
    /// t+Δt), `boundary(k, state)` may overwrite part of each new state (a limited-area model's
    /// boundary band, from its host) before it is used, and `on_step(k, state)` receives each new
    /// state as soon as it exists, so a caller can stream it to disk and keep memory flat.
    #[allow(clippy::too_many_arguments)]
    pub fn rollout(
        &self,
        graph: &GraphTensors<B>,
        norm: &Normalization,
        mut previous: Tensor<B, 3>,
        mut current: Tensor<B, 3>,
        forcings: impl Fn(usize) -> Tensor<B, 3>,
        statics: Option<Tensor<B, 3>>,
        steps: usize,
        mut boundary: impl FnMut(usize, Tensor<B, 3>) -> Tensor<B, 3>,
        mut on_step: impl FnMut(usize, &Tensor<B, 3>),
    ) -> Tensor<B, 3> {
        for k in 0..steps {
            let next = self.step(graph, norm, previous, current.clone(), forcings(k), statics.clone());
            let next = boundary(k, next);
            on_step(k, &next);
            previous = current;
            current = next;
        }
        current
    }
}
