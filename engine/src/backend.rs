//! Which Burn backend a command runs on: CPU (ndarray) always, CUDA when built with
//! `--features cuda`, any Vulkan GPU (or Mesa's lavapipe on a CPU) with `--features wgpu`.
//! With MPI, each rank takes the GPU of its local rank. The GPU backends are Burn's CubeCL
//! backend itself, not under Burn's fusion: vejr's message passing is its own kernels there
//! (vejr_models::gnn::cube_backend).

use clap::ValueEnum;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum DeviceKind {
    Cpu,
    Cuda,
    // wgpu's default adapter (a GPU through Vulkan or Metal); `CUBECL_WGPU_DEFAULT_DEVICE=Cpu`
    // picks a CPU adapter (Mesa's lavapipe). A doc comment here would turn clap's help into
    // one with a paragraph per value.
    Wgpu,
}

use burn::backend::Autodiff;

pub type Cpu = burn::backend::NdArray<f32>;
pub type CpuAutodiff = Autodiff<Cpu>;

#[cfg(feature = "cuda")]
pub type Gpu = vejr_models::gnn::cube_backend::Cuda<f32>;
#[cfg(feature = "cuda")]
pub type GpuAutodiff = Autodiff<Gpu>;
/// `precision = "bf16"`: bfloat16 weights and activations on the GPU.
#[cfg(feature = "cuda")]
pub type GpuBf16Autodiff = Autodiff<vejr_models::gnn::cube_backend::Cuda<burn::tensor::bf16>>;

#[cfg(feature = "wgpu")]
pub type Wgpu = vejr_models::gnn::cube_backend::Wgpu;
#[cfg(feature = "wgpu")]
pub type WgpuAutodiff = Autodiff<Wgpu>;

/// The graph's tensors on `device`, the encoder's and decoder's edges split into chunks this
/// device can bind (wgpu's per-buffer limit; one chunk on the CPU and CUDA), after refusing,
/// before anything runs, a model and grid with a tensor that cannot be split and does not fit
/// (CubeCL would fail that allocation in its device thread and the pass would go on without
/// it: a wrong result, exit 0).
pub fn graph_tensors<B: vejr_models::gnn::GraphBackend>(
    config: &vejr_models::ForecasterConfig,
    graph: &vejr_models::graph::WeatherGraph,
    batch: usize,
    device: &B::Device,
) -> Result<vejr_models::GraphTensors<B>, crate::CommandError> {
    let limit = B::max_tensor_bytes(device);
    let edge_chunk = config.edge_chunk(batch, limit);
    if let Some(limit) = limit {
        let (bytes, what) = config.largest_tensor(graph, batch, edge_chunk);
        if bytes > limit {
            let mib = |b: u64| b as f64 / (1 << 20) as f64;
            return Err(crate::CommandError::bad_input(format!(
                "this model on this grid needs a {:.0} MiB tensor ({what}, f32) and the device holds at most {:.0} MiB in one buffer; run it with --device cpu or cuda, or with a smaller latent, grid or batch",
                mib(bytes),
                mib(limit)
            )));
        }
    }
    Ok(vejr_models::GraphTensors::with_edge_chunks(graph, device, edge_chunk))
}

/// The error for `--device cuda` in a build without CUDA.
pub fn cuda_missing() -> crate::CommandError {
    crate::CommandError::bad_input("--device cuda: this vejr was built without CUDA (cargo build --features cuda)")
}

/// The error for `--device wgpu` in a build without wgpu.
pub fn wgpu_missing() -> crate::CommandError {
    crate::CommandError::bad_input("--device wgpu: this vejr was built without wgpu (cargo build --features wgpu)")
}

/// wgpu's device, after one small operation on it: wgpu panics in its own thread when there
/// is no adapter (no Vulkan driver), and a user should get one line instead.
#[cfg(feature = "wgpu")]
pub fn wgpu_device() -> Result<burn::backend::wgpu::WgpuDevice, crate::CommandError> {
    crate::kernel_cache::configure();
    let device = burn::backend::wgpu::WgpuDevice::DefaultDevice;
    let probe = device.clone();
    let works = std::panic::catch_unwind(move || {
        burn::tensor::Tensor::<Wgpu, 1>::zeros([1], &probe)
            .into_data()
            .to_vec::<f32>()
            .is_ok()
    });
    match works {
        Ok(true) => Ok(device),
        _ => Err(crate::CommandError::bad_input(
            "--device wgpu: no wgpu adapter works here (no Vulkan driver? Debian's mesa-vulkan-drivers gives a CPU one, lavapipe, with CUBECL_WGPU_DEFAULT_DEVICE=Cpu)",
        )),
    }
}

/// The CUDA device `index`, after asking the driver that it exists: Burn's CUDA runtime panics
/// in a device thread when there is no driver or no GPU, and a user should get one line instead.
#[cfg(feature = "cuda")]
pub fn cuda_device(index: usize) -> Result<burn::backend::cuda::CudaDevice, crate::CommandError> {
    crate::kernel_cache::configure();
    let refuse = |why: String| crate::CommandError::bad_input(format!("--device cuda: {why}"));
    // SAFETY: dlopen/dlsym of the driver library and two of its C entry points with their
    // documented signatures (cuda.h: CUresult cuInit(unsigned), cuDeviceGetCount(int*)).
    unsafe {
        let driver = libc::dlopen(c"libcuda.so.1".as_ptr(), libc::RTLD_NOW | libc::RTLD_GLOBAL);
        if driver.is_null() {
            return Err(refuse(
                "no NVIDIA driver on this machine (libcuda.so.1 not found)".into(),
            ));
        }
        let init = libc::dlsym(driver, c"cuInit".as_ptr());
        let count = libc::dlsym(driver, c"cuDeviceGetCount".as_ptr());
        if init.is_null() || count.is_null() {
            return Err(refuse("libcuda.so.1 lacks cuInit or cuDeviceGetCount".into()));
        }
        let init: extern "C" fn(u32) -> i32 = std::mem::transmute(init);
        let count: extern "C" fn(*mut i32) -> i32 = std::mem::transmute(count);
        let status = init(0);
        if status != 0 {
            return Err(refuse(format!(
                "the NVIDIA driver did not start (cuInit error {status})"
            )));
        }
        let mut devices = 0i32;
        let status = count(&mut devices);
        if status != 0 || (devices as usize) <= index {
            return Err(refuse(format!("GPU {index} asked for, {devices} found")));
        }
    }
    Ok(burn::backend::cuda::CudaDevice::new(index))
}
