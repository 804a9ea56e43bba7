//! WeatherBench 2's deterministic scores: latitude-weighted RMSE, anomaly correlation (ACC)
//! against a climatology, and bias. Points missing in the forecast, the truth or the
//! climatology are left out and the weights renormalised over the rest.

/// Each point's share of the area scored, summing to one: cos(latitude) on a latitude ×
/// longitude grid (WeatherBench 2's weights); on a grid given point by point (a projection, a
/// reduced grid) the area each point stands for (`cell_area`), as the training loss weighs them.
pub fn grid_weights(grid: &vejr_ingest::Grid) -> Vec<f64> {
    match &grid.points {
        Some(_) => {
            let areas = vejr_ingest::cell_area::cell_areas(grid);
            let total: f64 = areas.iter().sum();
            areas.iter().map(|a| a / total).collect()
        }
        None => latitude_weights(&grid.latitudes, grid.longitudes.len()),
    }
}

/// cos(latitude) weights per grid point (row-major), summing to one over the grid.
pub fn latitude_weights(latitudes: &[f64], longitudes: usize) -> Vec<f64> {
    let row: Vec<f64> = latitudes.iter().map(|l| l.to_radians().cos().max(0.0)).collect();
    let total: f64 = row.iter().sum::<f64>() * longitudes as f64;
    row.iter()
        .flat_map(|w| std::iter::repeat_n(w / total, longitudes))
        .collect()
}

/// Scores of one forecast field against its truth.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FieldScores {
    pub mse: f64,
    pub bias: f64,
    /// None without a climatology, or when an anomaly is constant zero.
    pub acc: Option<f64>,
}

pub fn field_scores(
    forecast: &[f32],
    truth: &[f32],
    climatology: Option<&[f32]>,
    weights: &[f64],
) -> Option<FieldScores> {
    let (mut w_sum, mut se, mut e) = (0.0, 0.0, 0.0);
    let (mut fo, mut ff, mut oo) = (0.0, 0.0, 0.0);
    for p in 0..forecast.len() {
        let (f, o) = (forecast[p] as f64, truth[p] as f64);
        let c = climatology.map_or(0.0, |c| c[p] as f64);
        if !(f.is_finite() && o.is_finite() && c.is_finite()) {
            continue;
        }
        let w = weights[p];
        w_sum += w;
        se += w * (f - o) * (f - o);
        e += w * (f - o);
        let (fa, oa) = (f - c, o - c);
        fo += w * fa * oa;
        ff += w * fa * fa;
        oo += w * oa * oa;
    }
    (w_sum > 0.0).then(|| FieldScores {
        mse: se / w_sum,
        bias: e / w_sum,
        acc: (climatology.is_some() && ff > 0.0 && oo > 0.0).then(|| fo / (ff * oo).sqrt()),
    })
}

/// Scores over many cases of one (system, variable, lead): RMSE is the root of the mean MSE,
/// ACC and bias are means over cases.
#[derive(Clone, Debug, Default)]
pub struct Aggregate {
    pub cases: usize,
    mse: f64,
    bias: f64,
    acc: f64,
    acc_cases: usize,
}

impl Aggregate {
    pub fn add(&mut self, s: FieldScores) {
        self.cases += 1;
        self.mse += s.mse;
        self.bias += s.bias;
        if let Some(a) = s.acc {
            self.acc += a;
            self.acc_cases += 1;
        }
    }
    pub fn rmse(&self) -> f64 {
        (self.mse / self.cases.max(1) as f64).sqrt()
    }
    pub fn bias(&self) -> f64 {
        self.bias / self.cases.max(1) as f64
    }
    pub fn acc(&self) -> Option<f64> {
        (self.acc_cases > 0).then(|| self.acc / self.acc_cases as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latitude_weights_sum_to_one_and_favour_the_equator() {
        let w = latitude_weights(&[90.0, 60.0, 0.0, -60.0, -90.0], 8);
        assert!((w.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        // cos 90° is 6e-17 in floating point: the pole row carries (next to) no weight.
        assert!(w[0].abs() < 1e-15 && w[0] >= 0.0, "pole weight {}", w[0]);
        assert!((w[16] / w[8] - 2.0).abs() < 1e-9, "cos 0° / cos 60° = 2");
    }

    #[test]
    fn a_reduced_grid_scores_its_points_by_the_area_they_stand_for() {
        // Rows at 60°N (4 points) and 0° (8 points): each row's band reaches halfway to the
        // other row and as far on its other side.
        let (lats, lons): (Vec<f64>, Vec<f64>) = (0..4)
            .map(|i| (60.0, 90.0 * i as f64))
            .chain((0..8).map(|i| (0.0, 45.0 * i as f64)))
            .unzip();
        let grid = vejr_ingest::Grid {
            kind: vejr_ingest::GridKind::ReducedLatLon {
                points_per_row: vec![4, 8],
            },
            latitudes: vec![],
            longitudes: vec![],
            points: Some(vejr_ingest::grid::PointCoordinates {
                shape: (1, 12),
                latitudes: lats,
                longitudes: lons,
            }),
        };
        let w = grid_weights(&grid);
        assert!((w.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        let sine = |d: f64| d.to_radians().sin();
        // Bands 30–90°N over 4 points and 30°S–30°N over 8.
        let expected = ((sine(90.0) - sine(30.0)) / 4.0) / ((sine(30.0) - sine(-30.0)) / 8.0);
        assert!((w[0] / w[4] - expected).abs() < 1e-12, "{} vs {expected}", w[0] / w[4]);
    }

    #[test]
    fn scores_equal_values_worked_out_by_hand() {
        // Two latitudes (0° and 60°: weights 2/3 and 1/3 after normalisation), one longitude.
        let weights = latitude_weights(&[0.0, 60.0], 1);
        assert!((weights[0] - 2.0 / 3.0).abs() < 1e-12);
        let truth = [10.0, 20.0];
        let forecast = [12.0, 17.0];
        let climatology = [11.0, 18.0];
        let s = field_scores(&forecast, &truth, Some(&climatology), &weights).unwrap();
        // errors 2 and −3: MSE = 2/3·4 + 1/3·9 = 17/3; bias = 2/3·2 − 1/3·3 = 1/3.
        assert!((s.mse - 17.0 / 3.0).abs() < 1e-12);
        assert!((s.bias - 1.0 / 3.0).abs() < 1e-12);
        // anomalies f' = (1, −1), o' = (−1, 2): Σwf'o' = −2/3 − 2/3 = −4/3;
        // Σwf'² = 1; Σwo'² = 2/3 + 4/3 = 2; ACC = −4/3 / √2.
        assert!((s.acc.unwrap() + 4.0 / 3.0 / 2f64.sqrt()).abs() < 1e-12);

        let mut a = Aggregate::default();
        a.add(s);
        a.add(FieldScores {
            mse: 1.0 / 3.0,
            bias: 0.0,
            acc: Some(1.0),
        });
        assert!((a.rmse() - 3.0f64.sqrt()).abs() < 1e-12, "√((17/3 + 1/3)/2)");
    }

    #[test]
    fn persistence_at_lead_zero_has_no_error_and_missing_points_are_skipped() {
        let weights = latitude_weights(&[0.0, 30.0, 60.0], 2);
        let analysis = [1.0, 2.0, 3.0, f32::NAN, 5.0, 6.0];
        let s = field_scores(&analysis, &analysis, None, &weights).unwrap();
        assert_eq!((s.mse, s.bias, s.acc), (0.0, 0.0, None));
        assert!(field_scores(&[f32::NAN; 2], &[1.0, 2.0], None, &weights[..2]).is_none());
    }
}
