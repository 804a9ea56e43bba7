//! Reduced Gaussian grids (fewer points per row towards the poles) interpolated onto the
//! regular Gaussian grid with the same latitudes and 4N longitudes, linearly and periodically
//! along each row: the grid graph and the store need a rectangle.

/// Columns of the regular grid: the widest row of the reduced grid (4N for octahedral and classic grids).
pub fn regular_columns(points_per_row: &[usize]) -> usize {
    points_per_row.iter().copied().max().unwrap_or(0)
}

pub fn to_regular(values: &[f32], points_per_row: &[usize]) -> Result<Vec<f32>, String> {
    let total: usize = points_per_row.iter().sum();
    if total != values.len() {
        return Err(format!(
            "{} values for a reduced Gaussian grid of {total} points",
            values.len()
        ));
    }
    let columns = regular_columns(points_per_row);
    let mut out = Vec::with_capacity(points_per_row.len() * columns);
    let mut start = 0;
    for &n in points_per_row {
        let row = &values[start..start + n];
        start += n;
        for j in 0..columns {
            // Position of regular column j in units of this row's spacing.
            let x = j as f64 * n as f64 / columns as f64;
            let i0 = x.floor() as usize % n;
            let i1 = (i0 + 1) % n;
            let w = (x - x.floor()) as f32;
            let (a, b) = (row[i0], row[i1]);
            // A missing neighbour makes the interpolated point missing rather than inventing a value.
            out.push(if w == 0.0 { a } else { a * (1.0 - w) + b * w });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linear_in_longitude_is_reproduced_and_full_rows_are_copied() {
        // Row 0 has 4 points of a field linear in longitude index; row 1 has 8.
        let values: Vec<f32> = [0.0, 2.0, 4.0, 6.0]
            .into_iter()
            .chain((0..8).map(|i| i as f32))
            .collect();
        let out = to_regular(&values, &[4, 8]).unwrap();
        assert_eq!(&out[..7], &[0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        // Periodic wrap between the last and the first point.
        assert_eq!(out[7], 3.0);
        assert_eq!(&out[8..], &[0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]);
        assert!(to_regular(&values[1..], &[4, 8]).is_err());
    }
}
