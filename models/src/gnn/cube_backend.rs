//! The CubeCL backends' [`GraphBackend`] (CUDA, wgpu): gathers and segment sums as the kernels
//! of [`super::cube_kernels`], launched on Burn's `CubeBackend` itself, not under Burn's fusion
//! (see DESIGN.md: fusion explores and compiles every new op sequence), and SiLU and LayerNorm
//! as one kernel each (Burn composes them of several). Matmuls are Burn's (cubek).

use burn::tensor::Shape;
use burn::tensor::ops::FloatTensor;
use burn_cubecl::cubecl::prelude::{CubeCount, CubeDim};
use burn_cubecl::cubecl::{Runtime, calculate_cube_count_elemwise};
use burn_cubecl::kernel::into_contiguous;
use burn_cubecl::tensor::CubeTensor;
use burn_cubecl::{BoolElement, CubeBackend, CubeRuntime, FloatElement, IntElement};

use super::cube_kernels;
use super::graph_backend::GraphBackend;
use super::segments::{Gather, Segments};

/// CubeCL itself, for its configuration (engine's kernel_cache).
pub use burn_cubecl::cubecl;

/// vejr's CUDA backend: Burn's CubeCL backend on CUDA, its message passing these kernels.
#[cfg(feature = "cuda")]
pub type Cuda<F = f32> = CubeBackend<burn_cubecl::cubecl::cuda::CudaRuntime, F, i32, u8>;

/// vejr's wgpu backend (Vulkan, Metal; lavapipe on a CPU).
#[cfg(feature = "wgpu")]
pub type Wgpu = CubeBackend<burn::backend::wgpu::WgpuRuntime, f32, i32, u32>;

/// Units per cube: fixed, so that a kernel compiles once whatever the sizes it runs on (the
/// cube dimension is part of a kernel's identity), and within every adapter's limit (wgpu's
/// default is 256 invocations per workgroup).
const UNITS: u32 = 256;

fn launch_shape<R: Runtime>(client: &burn_cubecl::cubecl::client::ComputeClient<R>, n: usize) -> (CubeCount, CubeDim) {
    let dim = CubeDim::new_1d(UNITS);
    (calculate_cube_count_elemwise(client, n, dim), dim)
}

fn dims3<R: CubeRuntime>(t: &CubeTensor<R>) -> [usize; 3] {
    let shape = t.meta.shape();
    assert_eq!(
        shape.num_dims(),
        3,
        "message passing works on [batch, rows, latent] tensors"
    );
    [shape[0], shape[1], shape[2]]
}

/// A contiguous `[batch, rows, latent]` tensor like `like`, its values unwritten.
fn empty<R: CubeRuntime>(like: &CubeTensor<R>, shape: [usize; 3]) -> CubeTensor<R> {
    let handle = like.client.empty(shape.iter().product::<usize>() * like.dtype.size());
    CubeTensor::new_contiguous(
        like.client.clone(),
        like.device.clone(),
        Shape::new(shape),
        handle,
        like.dtype,
    )
}

impl<R, F, I, BT> GraphBackend for CubeBackend<R, F, I, BT>
where
    R: CubeRuntime,
    F: FloatElement,
    I: IntElement,
    BT: BoolElement,
{
    const CSR_SEGMENTS: bool = true;

    fn max_tensor_bytes(device: &Self::Device) -> Option<u64> {
        Some(R::client(device).properties().memory.max_page_size)
    }

    fn gather_rows(values: FloatTensor<Self>, gather: &Gather<Self>) -> FloatTensor<Self> {
        let values = into_contiguous(values);
        let index = into_contiguous(gather.index.clone().into_primitive());
        let [batch, _, latent] = dims3(&values);
        let rows = index.meta.shape()[0];
        let out = empty(&values, [batch, rows, latent]);
        let n = batch * rows * latent;
        if n == 0 {
            return out;
        }
        let client = values.client.clone();
        let (count, dim) = launch_shape(&client, n);
        cube_kernels::gather_rows::launch::<F, I, R>(
            &client,
            count,
            dim,
            values.into_tensor_arg(),
            index.into_tensor_arg(),
            out.clone().into_tensor_arg(),
        );
        out
    }

    fn gather_add(
        base: FloatTensor<Self>,
        from: FloatTensor<Self>,
        senders: &Gather<Self>,
        to: FloatTensor<Self>,
        receivers: &Gather<Self>,
    ) -> FloatTensor<Self> {
        let (base, from, to) = (into_contiguous(base), into_contiguous(from), into_contiguous(to));
        let senders = into_contiguous(senders.index.clone().into_primitive());
        let receivers = into_contiguous(receivers.index.clone().into_primitive());
        let shape = dims3(&base);
        let out = empty(&base, shape);
        let n = shape.iter().product::<usize>();
        if n == 0 {
            return out;
        }
        let client = base.client.clone();
        let (count, dim) = launch_shape(&client, n);
        cube_kernels::gather_add::launch::<F, I, R>(
            &client,
            count,
            dim,
            base.into_tensor_arg(),
            from.into_tensor_arg(),
            senders.into_tensor_arg(),
            to.into_tensor_arg(),
            receivers.into_tensor_arg(),
            out.clone().into_tensor_arg(),
        );
        out
    }

    fn silu(x: FloatTensor<Self>) -> FloatTensor<Self> {
        let x = into_contiguous(x);
        let shape = x.meta.shape().clone();
        let n = shape.num_elements();
        let handle = x.client.empty(n * x.dtype.size());
        let out = CubeTensor::new_contiguous(x.client.clone(), x.device.clone(), shape, handle, x.dtype);
        if n == 0 {
            return out;
        }
        let client = x.client.clone();
        let (count, dim) = launch_shape(&client, n);
        cube_kernels::silu::launch::<F, R>(&client, count, dim, x.into_tensor_arg(), out.clone().into_tensor_arg());
        out
    }

    fn layer_norm(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        epsilon: f64,
    ) -> FloatTensor<Self> {
        let (x, gamma, beta) = (into_contiguous(x), into_contiguous(gamma), into_contiguous(beta));
        let shape = dims3(&x);
        let out = empty(&x, shape);
        let rows = shape[0] * shape[1];
        if rows * shape[2] == 0 {
            return out;
        }
        let client = x.client.clone();
        let (count, dim) = launch_shape(&client, rows);
        cube_kernels::layer_norm::launch::<F, R>(
            &client,
            count,
            dim,
            x.into_tensor_arg(),
            gamma.into_tensor_arg(),
            beta.into_tensor_arg(),
            out.clone().into_tensor_arg(),
            epsilon as f32,
        );
        out
    }

    fn sum_segments(values: FloatTensor<Self>, segments: &Segments<Self>) -> FloatTensor<Self> {
        let values = into_contiguous(values);
        let [batch, rows, latent] = dims3(&values);
        assert_eq!(
            rows, segments.rows,
            "segment sum over {rows} rows planned for {}",
            segments.rows
        );
        let [offsets, rows_by_segment] = segments
            .csr()
            .expect("a CubeCL backend's segments are planned as compressed rows (CSR_SEGMENTS)");
        let offsets = into_contiguous(offsets.clone().into_primitive());
        let rows_by_segment = into_contiguous(rows_by_segment.clone().into_primitive());
        let out = empty(&values, [batch, segments.segments, latent]);
        let n = batch * segments.segments * latent;
        if n == 0 {
            return out;
        }
        let client = values.client.clone();
        let (count, dim) = launch_shape(&client, n);
        cube_kernels::segment_sum::launch::<F, I, R>(
            &client,
            count,
            dim,
            values.into_tensor_arg(),
            offsets.into_tensor_arg(),
            rows_by_segment.into_tensor_arg(),
            out.clone().into_tensor_arg(),
        );
        out
    }
}
