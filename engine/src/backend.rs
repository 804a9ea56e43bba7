//! Which Burn backend a command runs on: CPU (ndarray) always, CUDA when built with
//! `--features cuda`. With MPI, each rank takes the GPU of its local rank.

use clap::ValueEnum;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum DeviceKind {
    Cpu,
    Cuda,
}

use burn::backend::Autodiff;

pub type Cpu = burn::backend::NdArray<f32>;
pub type CpuAutodiff = Autodiff<Cpu>;

#[cfg(feature = "cuda")]
pub type Gpu = burn::backend::Cuda<f32, i32>;
#[cfg(feature = "cuda")]
pub type GpuAutodiff = Autodiff<Gpu>;
/// `precision = "bf16"`: bfloat16 weights and activations on the GPU.
#[cfg(feature = "cuda")]
pub type GpuBf16Autodiff = Autodiff<burn::backend::Cuda<burn::tensor::bf16, i32>>;

/// The error for `--device cuda` in a build without CUDA.
pub fn cuda_missing() -> crate::CommandError {
    crate::CommandError::bad_input("--device cuda: this vejr was built without CUDA (cargo build --features cuda)")
}

/// The CUDA device `index`, after asking the driver that it exists: Burn's CUDA runtime panics
/// in a device thread when there is no driver or no GPU, and a user should get one line instead.
#[cfg(feature = "cuda")]
pub fn cuda_device(index: usize) -> Result<burn::backend::cuda::CudaDevice, crate::CommandError> {
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
