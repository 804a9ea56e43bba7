//! Data parallel over MPI, one process per device (`mpirun -np N`, or Slurm's
//! `srun --ntasks-per-node=G --gpus-per-task=1`): gradient all-reduce and weight broadcast on
//! the host. Without a launcher the same binary runs as a single process and never touches MPI.
//!
//! A collective that waits far longer than any step should means another rank has died or hung;
//! a watchdog then ends this process with a message instead of letting the job hang until its
//! wall-time limit. mpirun and srun also take the other ranks down when one exits with an error.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use mpi::collective::SystemOperation;
use mpi::topology::SimpleCommunicator;
use mpi::traits::*;

pub struct Distributed {
    pub rank: usize,
    pub size: usize,
    /// Rank among the processes of this node: picks the GPU.
    pub local_rank: usize,
    world: Option<SimpleCommunicator>,
    watchdog: Option<Arc<AtomicU64>>,
    // Dropped last: finalises MPI.
    _universe: Option<mpi::environment::Universe>,
}

/// Whether a launcher (mpirun, srun with PMI/PMIx) started this process.
fn launched_by_mpi() -> bool {
    ["OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK"]
        .iter()
        .any(|v| std::env::var_os(v).is_some())
}

fn local_rank_from_env() -> usize {
    ["OMPI_COMM_WORLD_LOCAL_RANK", "SLURM_LOCALID", "MPI_LOCALRANKID"]
        .iter()
        .find_map(|v| std::env::var(v).ok()?.parse().ok())
        .unwrap_or(0)
}

/// Tasks of the Slurm job step this process belongs to (set by srun).
fn slurm_step_tasks() -> Option<usize> {
    std::env::var("SLURM_STEP_NUM_TASKS").ok()?.parse().ok()
}

fn no_pmi(tasks: usize) -> String {
    format!(
        "srun started {tasks} tasks but MPI does not connect them (each would train alone): launch with `srun --mpi=pmix` (`srun --mpi=list` shows what this Slurm offers) or set MpiDefault=pmix in slurm.conf"
    )
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

impl Distributed {
    pub fn single() -> Self {
        Self {
            rank: 0,
            size: 1,
            local_rank: 0,
            world: None,
            watchdog: None,
            _universe: None,
        }
    }

    /// MPI when launched by mpirun/srun, a single process otherwise. `timeout` bounds how long
    /// one collective may wait for the other ranks.
    pub fn init(timeout: Duration) -> Result<Self, String> {
        // srun without a process-management interface starts N independent single processes,
        // each of which would train alone and write the same run directory. (Under mpirun in
        // an allocation the step is mpirun's daemons', not ours: no comparison there.)
        if !launched_by_mpi() {
            return match slurm_step_tasks() {
                Some(n) if n > 1 => Err(no_pmi(n)),
                _ => Ok(Self::single()),
            };
        }
        let universe = mpi::initialize().ok_or("MPI was initialised twice")?;
        let world = universe.world();
        let (rank, size) = (world.rank() as usize, world.size() as usize);
        let since = Arc::new(AtomicU64::new(0));
        let watched = since.clone();
        std::thread::spawn(move || {
            loop {
                std::thread::sleep(Duration::from_secs(1));
                let started = watched.load(Ordering::Relaxed);
                if started != 0 && now_ms().saturating_sub(started) > timeout.as_millis() as u64 {
                    eprintln!(
                        "vejr: error: rank {rank} of {size} waited {} s for the other ranks; one of them has died or hangs. Stopping.",
                        timeout.as_secs()
                    );
                    std::process::exit(1);
                }
            }
        });
        Ok(Self {
            rank,
            size,
            local_rank: local_rank_from_env(),
            world: Some(world),
            watchdog: Some(since),
            _universe: Some(universe),
        })
    }

    pub fn is_root(&self) -> bool {
        self.rank == 0
    }

    fn watched<T>(&self, f: impl FnOnce(&SimpleCommunicator) -> T) -> Option<T> {
        let world = self.world.as_ref()?;
        if let Some(w) = &self.watchdog {
            w.store(now_ms(), Ordering::Relaxed);
        }
        let out = f(world);
        if let Some(w) = &self.watchdog {
            w.store(0, Ordering::Relaxed);
        }
        Some(out)
    }

    /// Element-wise sum over all ranks, in place.
    pub fn all_reduce_sum(&self, values: &mut [f32]) {
        self.watched(|world| {
            let local = values.to_vec();
            world.all_reduce_into(&local[..], values, SystemOperation::sum());
        });
    }

    pub fn all_reduce_sum_f64(&self, values: &mut [f64]) {
        self.watched(|world| {
            let local = values.to_vec();
            world.all_reduce_into(&local[..], values, SystemOperation::sum());
        });
    }

    /// Rank 0's bytes on every rank.
    pub fn broadcast_bytes(&self, bytes: &mut Vec<u8>) {
        self.watched(|world| {
            let root = world.process_at_rank(0);
            let mut len = bytes.len() as u64;
            root.broadcast_into(&mut len);
            bytes.resize(len as usize, 0);
            root.broadcast_into(&mut bytes[..]);
        });
    }

    pub fn barrier(&self) {
        self.watched(|world| world.barrier());
    }

    /// Ends every rank: for errors one rank meets alone, so that the others do not wait forever.
    pub fn abort(&self, code: i32) -> ! {
        match &self.world {
            Some(world) if self.size > 1 => world.abort(code),
            _ => std::process::exit(code),
        }
    }
}
