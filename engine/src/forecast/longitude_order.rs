//! Longitudes as a map and a downstream tool read them. The store keeps longitudes in
//! [0°, 360°) ascending, so a regional domain across the Greenwich meridian (the UK: 350°…2°)
//! is stored as 0°…2°, 350°…359.75°: two pieces with the domain's far edges next to each
//! other. Outputs write such a domain as one piece, west to east (−10°…2°), as GRIB scans it
//! and as the CDS writes regional NetCDF; a field mean or a map of the file is then right.

/// Output column `j` is the store's column `columns[j]`, at `longitudes[j]` (increasing).
#[derive(Debug, PartialEq)]
pub struct WestToEast {
    pub columns: Vec<usize>,
    pub longitudes: Vec<f64>,
    /// The spacing of the columns, in degrees.
    pub increment: f64,
}

/// The west-to-east order of evenly spaced longitudes with at most one gap (the outside of a
/// regional domain); `None` for anything else (fewer than two, or uneven spacing).
pub fn west_to_east(longitudes: &[f64]) -> Option<WestToEast> {
    let n = longitudes.len();
    if n < 2 {
        return None;
    }
    let close = |s: f64, d: f64| (s - d).abs() <= 1e-6 * d.max(1.0);
    let steps: Vec<f64> = (0..n)
        .map(|i| (longitudes[(i + 1) % n] - longitudes[i]).rem_euclid(360.0))
        .collect();
    let increment = steps.iter().copied().fold(f64::INFINITY, f64::min);
    if increment <= 0.0 {
        return None;
    }
    let gaps: Vec<usize> = (0..n).filter(|&i| !close(steps[i], increment)).collect();
    let start = match gaps.as_slice() {
        [] => 0,            // global: every step equal, the wrap included
        [g] => (g + 1) % n, // regional: the one gap is outside the domain
        _ => return None,
    };
    let columns: Vec<usize> = (start..n).chain(0..start).collect();
    let mut first = longitudes[columns[0]];
    // A domain that wraps through 0° starts west of Greenwich: −10°, not 350°.
    if start != 0 && first >= 180.0 {
        first -= 360.0;
    }
    let longitudes = columns
        .iter()
        .map(|&c| first + (longitudes[c] - longitudes[columns[0]]).rem_euclid(360.0))
        .collect();
    Some(WestToEast {
        columns,
        longitudes,
        increment,
    })
}

/// The inverse, for files vejr wrote: store column `i` is the file's column `result[i]`
/// (longitudes brought into [0°, 360°) and sorted, as the store keeps them).
pub fn to_store_order(longitudes: &[f64]) -> (Vec<usize>, Vec<f64>) {
    let canonical: Vec<f64> = longitudes.iter().map(|l| l.rem_euclid(360.0)).collect();
    let mut order: Vec<usize> = (0..longitudes.len()).collect();
    order.sort_by(|&a, &b| canonical[a].total_cmp(&canonical[b]));
    let sorted = order.iter().map(|&i| canonical[i]).collect();
    (order, sorted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_domain_across_greenwich_is_written_west_to_east_and_read_back() {
        // The UK sample's store order: 0°…2°, then 350°…359.75°.
        let store: Vec<f64> = (0..=8)
            .map(|i| i as f64 * 0.25)
            .chain((0..40).map(|i| 350.0 + i as f64 * 0.25))
            .collect();
        let order = west_to_east(&store).unwrap();
        assert_eq!(order.longitudes[0], -10.0);
        assert_eq!(*order.longitudes.last().unwrap(), 2.0);
        assert!(order.longitudes.windows(2).all(|w| (w[1] - w[0] - 0.25).abs() < 1e-9));
        assert_eq!(order.columns[0], 9);
        let (back, longitudes) = to_store_order(&order.longitudes);
        assert_eq!(longitudes, store);
        assert!(back.iter().enumerate().all(|(i, &j)| order.columns[j] == i));
    }

    #[test]
    fn global_and_one_sided_grids_keep_their_order_and_uneven_ones_have_none() {
        let global: Vec<f64> = (0..72).map(|i| i as f64 * 5.0).collect();
        let g = west_to_east(&global).unwrap();
        assert_eq!(g.longitudes, global);
        let east: Vec<f64> = (0..9).map(|i| 10.0 + i as f64).collect();
        assert_eq!(west_to_east(&east).unwrap().longitudes, east);
        assert_eq!(west_to_east(&[0.0, 1.0, 5.0, 9.0]), None);
        assert_eq!(west_to_east(&[3.0]), None);
    }
}
