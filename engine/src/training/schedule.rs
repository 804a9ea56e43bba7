//! Learning rate: linear warm-up to the peak, then cosine decay to the final rate
//! (GraphCast's schedule).

use std::f64::consts::PI;

#[derive(Clone, Debug)]
pub struct LearningRateSchedule {
    pub peak: f64,
    pub final_rate: f64,
    pub warmup_steps: usize,
    pub total_steps: usize,
}

impl LearningRateSchedule {
    /// The rate for optimiser step `step` (0-based).
    pub fn at(&self, step: usize) -> f64 {
        if step < self.warmup_steps {
            return self.peak * (step + 1) as f64 / self.warmup_steps as f64;
        }
        let decay_steps = self.total_steps.saturating_sub(self.warmup_steps).max(1);
        let progress = ((step - self.warmup_steps) as f64 / decay_steps as f64).min(1.0);
        self.final_rate + 0.5 * (self.peak - self.final_rate) * (1.0 + (PI * progress).cos())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warms_up_linearly_then_decays_to_the_final_rate() {
        let s = LearningRateSchedule {
            peak: 1e-3,
            final_rate: 1e-5,
            warmup_steps: 10,
            total_steps: 110,
        };
        assert!((s.at(0) - 1e-4).abs() < 1e-12);
        assert!((s.at(4) - 5e-4).abs() < 1e-12);
        assert!((s.at(10) - 1e-3).abs() < 1e-12);
        assert!((s.at(60) - (1e-5 + 0.5 * (1e-3 - 1e-5))).abs() < 1e-12);
        assert!((s.at(110) - 1e-5).abs() < 1e-12);
        assert!((11..110).all(|k| s.at(k) < s.at(k - 1)));
    }
}
