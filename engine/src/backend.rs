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
