//! Which Burn backend a command runs on: CPU (ndarray) always, CUDA when built with
//! `--features cuda`. With MPI, each rank takes the GPU of its local rank.

use clap::ValueEnum;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum DeviceKind {
    Cpu,
    Cuda,
}

pub type Cpu = burn::backend::NdArray<f32>;
pub type CpuAutodiff = burn::backend::Autodiff<Cpu>;

#[cfg(feature = "cuda")]
pub type Gpu = burn::backend::Cuda<f32, i32>;
#[cfg(feature = "cuda")]
pub type GpuAutodiff = burn::backend::Autodiff<Gpu>;

/// The error for `--device cuda` in a build without CUDA.
pub fn cuda_missing() -> crate::CommandError {
    crate::CommandError::bad_input("--device cuda: this vejr was built without CUDA (cargo build --features cuda)")
}
