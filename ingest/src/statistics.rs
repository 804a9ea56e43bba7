//! Summary statistics that ignore missing points, accumulated in f64 so that means over
//! millions of values keep the precision the tests and the normalisation need.

use serde::Serialize;

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Summary {
    pub count: u64,
    pub nan_count: u64,
    pub sum: f64,
    pub sum_of_squares: f64,
    pub minimum: f64,
    pub maximum: f64,
}

impl Summary {
    pub fn new() -> Self {
        Self {
            minimum: f64::INFINITY,
            maximum: f64::NEG_INFINITY,
            ..Default::default()
        }
    }

    pub fn add(&mut self, values: &[f32]) {
        for &v in values {
            if v.is_nan() {
                self.nan_count += 1;
            } else {
                let v = v as f64;
                self.count += 1;
                self.sum += v;
                self.sum_of_squares += v * v;
                self.minimum = self.minimum.min(v);
                self.maximum = self.maximum.max(v);
            }
        }
    }

    pub fn merge(&mut self, other: &Summary) {
        self.count += other.count;
        self.nan_count += other.nan_count;
        self.sum += other.sum;
        self.sum_of_squares += other.sum_of_squares;
        self.minimum = self.minimum.min(other.minimum);
        self.maximum = self.maximum.max(other.maximum);
    }

    pub fn mean(&self) -> f64 {
        if self.count == 0 {
            f64::NAN
        } else {
            self.sum / self.count as f64
        }
    }

    /// Population standard deviation.
    pub fn stdev(&self) -> f64 {
        if self.count == 0 {
            return f64::NAN;
        }
        let mean = self.mean();
        (self.sum_of_squares / self.count as f64 - mean * mean).max(0.0).sqrt()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nan_is_counted_not_summed() {
        let mut s = Summary::new();
        s.add(&[1.0, f32::NAN, 3.0]);
        let mut t = Summary::new();
        t.add(&[5.0]);
        s.merge(&t);
        assert_eq!((s.count, s.nan_count), (3, 1));
        assert_eq!(s.mean(), 3.0);
        assert_eq!((s.minimum, s.maximum), (1.0, 5.0));
        assert!((s.stdev() - (8.0f64 / 3.0).sqrt()).abs() < 1e-12);
        assert!(Summary::new().mean().is_nan());
    }
}
