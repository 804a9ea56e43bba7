//! Training samples from the store: which times can start a sample, a seeded order per epoch,
//! and a background producer that decodes and assembles batches ahead of the model.
//!
//! A sample starting at time index t holds the inputs at t−Δt and t and the targets at
//! t+Δt … t+kΔt, with no gap anywhere in between. The order of samples is a pure function of
//! (seed, epoch), and the batch of step s is a pure function of (order, s): a resumed run
//! needs nothing but the step number to continue with the same data.

use std::sync::Arc;
use std::sync::mpsc::{Receiver, sync_channel};

use chrono::{DateTime, TimeDelta, Utc};
use rayon::prelude::*;
use vejr_ingest::store::Store;
use vejr_models::graph::GridPoints;

/// Time indices t whose sample (t−Δt … t+rollout·Δt) lies inside `range` without a gap.
pub fn sample_times(
    dates: &[DateTime<Utc>],
    step: TimeDelta,
    range: (DateTime<Utc>, DateTime<Utc>),
    rollout: usize,
) -> Vec<usize> {
    (1..dates.len().saturating_sub(rollout))
        .filter(|&t| {
            let (first, last) = (dates[t - 1], dates[t + rollout]);
            first >= range.0 && last <= range.1 && last - first == step * (rollout as i32 + 1)
        })
        .collect()
}

/// SplitMix64: a tiny, well-mixed generator whose whole state is one number, so data order is
/// reproducible from the seed alone.
pub struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// The order of `n` samples in `epoch` (Fisher–Yates).
pub fn epoch_order(n: usize, seed: u64, epoch: u64) -> Vec<usize> {
    let mut rng = SplitMix64::new(seed ^ epoch.wrapping_mul(0xd134_2543_de82_ef95));
    let mut order: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        let j = (rng.next_u64() % (i as u64 + 1)) as usize;
        order.swap(i, j);
    }
    order
}

/// The sample time indices of `rank`'s share of step `step`'s global batch.
pub fn batch_times(
    samples: &[usize],
    seed: u64,
    step: usize,
    global_batch: usize,
    rank: usize,
    ranks: usize,
) -> Vec<usize> {
    let local = global_batch / ranks;
    let n = samples.len();
    let mut cached: Option<(u64, Vec<usize>)> = None;
    (0..local)
        .map(|i| {
            let position = (step * global_batch + rank * local + i) as u64;
            let epoch = position / n as u64;
            if cached.as_ref().is_none_or(|c| c.0 != epoch) {
                cached = Some((epoch, epoch_order(n, seed, epoch)));
            }
            samples[cached.as_ref().expect("just set").1[(position % n as u64) as usize]]
        })
        .collect()
}

/// A batch laid out as the model takes it: `[sample][gridpoint][channel]`, physical units,
/// NaN where the store has no value.
#[derive(Clone, Debug)]
pub struct Batch {
    pub size: usize,
    pub previous: Vec<f32>,
    pub current: Vec<f32>,
    /// One per rollout step.
    pub targets: Vec<Vec<f32>>,
    /// One per rollout step: forcings at the step's t−Δt, t and t+Δt, `[sample][gridpoint][15]`.
    pub forcings: Vec<Vec<f32>>,
    pub statics: Option<Vec<f32>>,
    /// Valid times of the inputs' second time (t), per sample.
    pub times: Vec<DateTime<Utc>>,
}

/// Reads samples from the store: selected columns, member 0, transposed to `[gridpoint][channel]`.
pub struct SampleReader {
    pub store: Arc<Store>,
    pub columns: Vec<usize>,
    pub static_columns: Vec<usize>,
    pub grid: GridPoints,
    statics: Option<Vec<f32>>,
    /// A separate host for the boundary band: the band of every target is its state, not the
    /// analyses' (the band has no weight in the loss: it is what the model is forced with).
    boundary_host: Option<(std::sync::Mutex<crate::boundary_host::BoundaryHost>, Vec<bool>)>,
}

pub fn grid_points(store: &Store) -> GridPoints {
    crate::model_grid::model_grid(&store.grid)
}

impl SampleReader {
    pub fn new(store: Arc<Store>, columns: Vec<usize>, static_columns: Vec<usize>) -> Result<Self, String> {
        let grid = grid_points(&store);
        let mut reader = Self {
            store,
            columns,
            static_columns,
            grid,
            statics: None,
            boundary_host: None,
        };
        // Static fields do not change: read them once, from the first time.
        if !reader.static_columns.is_empty() {
            reader.statics = Some(reader.fields(0, &reader.static_columns.clone())?);
        }
        Ok(reader)
    }

    /// Takes every target's boundary band (`band` per point) from `host`.
    pub fn with_boundary_host(mut self, host: crate::boundary_host::BoundaryHost, band: Vec<bool>) -> Self {
        self.boundary_host = Some((std::sync::Mutex::new(host), band));
        self
    }

    /// `fields(t)` of the predicted columns, with the band from the host when there is one.
    fn target(&self, t: usize) -> Result<Vec<f32>, String> {
        let mut state = self.fields(t, &self.columns)?;
        if let Some((host, band)) = &self.boundary_host {
            let from_host = host
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .state(self.store.dates[t])?;
            let c = self.columns.len();
            for (p, _) in band.iter().enumerate().filter(|(_, b)| **b) {
                state[p * c..(p + 1) * c].copy_from_slice(&from_host[p * c..(p + 1) * c]);
            }
        }
        Ok(state)
    }

    pub fn statics(&self) -> Option<&[f32]> {
        self.statics.as_deref()
    }

    /// `[gridpoint][channel]` of the given columns at time index `t`.
    pub fn fields(&self, t: usize, columns: &[usize]) -> Result<Vec<f32>, String> {
        let raw = self.store.read_sample(t, columns).map_err(|e| e.to_string())?;
        let points = self.grid.len();
        let member_stride = self.store.members.len() * points;
        let c = columns.len();
        let mut out = vec![0.0f32; points * c];
        for (channel, field) in raw.chunks(member_stride).enumerate() {
            for (p, v) in field[..points].iter().enumerate() {
                out[p * c + channel] = *v;
            }
        }
        Ok(out)
    }

    /// Forcings at t−Δt, t and t+Δt for the step whose current time is `time`.
    pub fn step_forcings(&self, time: DateTime<Utc>) -> Vec<f32> {
        vejr_models::forcings::step_forcings(&self.grid, time, self.store.time_step)
    }

    /// One sample starting at time index `t`, rolled out `rollout` steps.
    fn sample(&self, t: usize, rollout: usize) -> Result<Batch, String> {
        let time = self.store.dates[t];
        let dt = self.store.time_step;
        Ok(Batch {
            size: 1,
            previous: self.fields(t - 1, &self.columns)?,
            current: self.fields(t, &self.columns)?,
            targets: (1..=rollout).map(|k| self.target(t + k)).collect::<Result<_, _>>()?,
            forcings: (0..rollout).map(|k| self.step_forcings(time + dt * k as i32)).collect(),
            statics: self.statics.clone(),
            times: vec![time],
        })
    }

    /// The samples starting at `times`, decoded in parallel and stacked.
    pub fn batch(&self, times: &[usize], rollout: usize) -> Result<Batch, String> {
        let samples: Vec<Batch> = times
            .par_iter()
            .map(|&t| self.sample(t, rollout))
            .collect::<Result<_, _>>()?;
        Ok(stack(samples))
    }
}

fn stack(samples: Vec<Batch>) -> Batch {
    let rollout = samples[0].targets.len();
    let cat = |f: &dyn Fn(&Batch) -> &[f32]| samples.iter().flat_map(|s| f(s).iter().copied()).collect::<Vec<f32>>();
    Batch {
        size: samples.len(),
        previous: cat(&|s| &s.previous),
        current: cat(&|s| &s.current),
        targets: (0..rollout).map(|k| cat(&|s| &s.targets[k])).collect(),
        forcings: (0..rollout).map(|k| cat(&|s| &s.forcings[k])).collect(),
        statics: samples[0]
            .statics
            .as_ref()
            .map(|_| cat(&|s| s.statics.as_deref().unwrap_or(&[]))),
        times: samples.iter().flat_map(|s| s.times.clone()).collect(),
    }
}

/// Batches for steps `start..end`, produced ahead on a background thread (decoding in a rayon
/// pool of its own) into a queue of `prefetch` batches, so the model waits on I/O only when
/// the disk is slower than the model.
pub struct Loader {
    receiver: Receiver<Result<(usize, Batch), String>>,
}

pub struct LoaderPlan {
    /// Sample start times per rollout length (index 0: rollout 1).
    pub samples: Vec<Vec<usize>>,
    pub rollout_at: Box<dyn Fn(usize) -> usize + Send>,
    pub seed: u64,
    pub global_batch: usize,
    pub rank: usize,
    pub ranks: usize,
}

impl Loader {
    pub fn start(reader: Arc<SampleReader>, plan: LoaderPlan, steps: std::ops::Range<usize>, prefetch: usize) -> Self {
        let (sender, receiver) = sync_channel(prefetch.max(1));
        let threads = std::thread::available_parallelism().map_or(2, |n| n.get()).clamp(1, 4);
        std::thread::spawn(move || {
            let pool = match rayon::ThreadPoolBuilder::new().num_threads(threads).build() {
                Ok(p) => p,
                Err(e) => {
                    let _ = sender.send(Err(format!("data loader threads: {e}")));
                    return;
                }
            };
            for step in steps {
                let rollout = (plan.rollout_at)(step);
                let times = batch_times(
                    &plan.samples[rollout - 1],
                    plan.seed,
                    step,
                    plan.global_batch,
                    plan.rank,
                    plan.ranks,
                );
                let batch = pool.install(|| reader.batch(&times, rollout)).map(|b| (step, b));
                let failed = batch.is_err();
                if sender.send(batch).is_err() || failed {
                    return;
                }
            }
        });
        Self { receiver }
    }

    pub fn next(&self) -> Result<(usize, Batch), String> {
        self.receiver
            .recv()
            .map_err(|_| "data loader stopped unexpectedly".to_string())?
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn six_hourly(n: usize, gap_at: Option<usize>) -> Vec<DateTime<Utc>> {
        let start = Utc.with_ymd_and_hms(2019, 3, 1, 0, 0, 0).unwrap();
        (0..n)
            .filter(|&i| Some(i) != gap_at)
            .map(|i| start + TimeDelta::hours(6 * i as i64))
            .collect()
    }

    #[test]
    fn samples_never_cross_a_gap_or_leave_the_range() {
        let dates = six_hourly(20, Some(10));
        let step = TimeDelta::hours(6);
        let all = (dates[0], dates[dates.len() - 1]);
        // dates index 9 is hour 54, index 10 is hour 66 (hour 60 is the gap).
        let one = sample_times(&dates, step, all, 1);
        assert!(!one.contains(&9) && !one.contains(&10) && one.contains(&8) && one.contains(&11));
        let three = sample_times(&dates, step, all, 3);
        assert!(three.iter().all(|&t| t + 3 < 10 || t > 10));
        let range = (dates[2], dates[6]);
        assert_eq!(sample_times(&dates, step, range, 1), vec![3, 4, 5]);
    }

    #[test]
    fn order_is_a_seeded_permutation_and_ranks_split_the_global_batch() {
        let a = epoch_order(50, 7, 0);
        let mut sorted = a.clone();
        sorted.sort();
        assert_eq!(sorted, (0..50).collect::<Vec<_>>());
        assert_eq!(a, epoch_order(50, 7, 0));
        assert_ne!(a, epoch_order(50, 7, 1));
        assert_ne!(a, epoch_order(50, 8, 0));

        let samples: Vec<usize> = (100..137).collect();
        for step in [0, 3, 9] {
            let whole = batch_times(&samples, 1, step, 4, 0, 1);
            let halves = [
                batch_times(&samples, 1, step, 4, 0, 2),
                batch_times(&samples, 1, step, 4, 1, 2),
            ]
            .concat();
            assert_eq!(whole, halves);
        }
        // Every sample is seen once per epoch.
        let epoch: Vec<usize> = (0..37).flat_map(|s| batch_times(&samples, 1, s, 1, 0, 1)).collect();
        let mut seen = epoch.clone();
        seen.sort();
        assert_eq!(seen, samples);
    }
}
