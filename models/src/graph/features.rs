//! Node and edge features, as GraphCast defines them.
//!
//! Node: cos(latitude), sin(longitude), cos(longitude). Edge: chord length and the sender's
//! position relative to the receiver in the receiver's local frame (rotated so the receiver
//! sits at latitude 0, longitude 0), all divided by the longest edge of the edge set.

use super::icosahedral_mesh::{Vec3, xyz_to_lat_lon};

pub const NODE_FEATURES: usize = 3;
pub const EDGE_FEATURES: usize = 4;

pub fn node_features(positions: &[Vec3]) -> Vec<f32> {
    positions
        .iter()
        .flat_map(|p| {
            let (lat, lon) = xyz_to_lat_lon(p);
            let (lat, lon) = (lat.to_radians(), lon.to_radians());
            [lat.cos() as f32, lon.sin() as f32, lon.cos() as f32]
        })
        .collect()
}

/// Rotation taking `p` to (1, 0, 0): about z by −longitude, then about y by +latitude.
fn to_local_frame(receiver: &Vec3, v: &Vec3) -> Vec3 {
    let (lat, lon) = xyz_to_lat_lon(receiver);
    let (sl, cl) = (-lon.to_radians()).sin_cos();
    let z1 = [v[0] * cl - v[1] * sl, v[0] * sl + v[1] * cl, v[2]];
    let (sa, ca) = lat.to_radians().sin_cos();
    [z1[0] * ca + z1[2] * sa, z1[1], -z1[0] * sa + z1[2] * ca]
}

pub fn edge_features(
    senders: &[u32],
    receivers: &[u32],
    sender_positions: &[Vec3],
    receiver_positions: &[Vec3],
) -> Vec<f32> {
    let relative: Vec<Vec3> = senders
        .iter()
        .zip(receivers)
        .map(|(&s, &r)| {
            let rp = &receiver_positions[r as usize];
            let (a, b) = (
                to_local_frame(rp, &sender_positions[s as usize]),
                to_local_frame(rp, rp),
            );
            [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
        })
        .collect();
    let lengths: Vec<f64> = relative
        .iter()
        .map(|d| (d[0] * d[0] + d[1] * d[1] + d[2] * d[2]).sqrt())
        .collect();
    let longest = lengths.iter().copied().fold(0.0, f64::max).max(f64::MIN_POSITIVE);
    relative
        .iter()
        .zip(&lengths)
        .flat_map(|(d, l)| {
            [
                (l / longest) as f32,
                (d[0] / longest) as f32,
                (d[1] / longest) as f32,
                (d[2] / longest) as f32,
            ]
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::icosahedral_mesh::lat_lon_to_xyz;

    #[test]
    fn receiver_frame_puts_receiver_on_the_x_axis() {
        for (lat, lon) in [(50.0, 350.0), (-30.0, 120.0), (0.0, 0.0)] {
            let p = lat_lon_to_xyz(lat, lon);
            let q = to_local_frame(&p, &p);
            assert!((q[0] - 1.0).abs() < 1e-12 && q[1].abs() < 1e-12 && q[2].abs() < 1e-12);
        }
        // A sender due north of the receiver lies along +z in the local frame, wherever the receiver is.
        for lon in [0.0, 90.0, 250.0] {
            let r = lat_lon_to_xyz(10.0, lon);
            let s = lat_lon_to_xyz(11.0, lon);
            let f = edge_features(&[0], &[0], &[s], &[r]);
            assert!((f[0] - 1.0).abs() < 1e-6 && f[2].abs() < 1e-6 && f[3] > 0.99, "{f:?}");
        }
    }
}
