//! Sums of rows over groups ("segments") and gathers of rows, written with gathers, reshapes and
//! reductions only: no scatter and no `select_assign`, whose CUDA kernels in Burn 0.21 walk the
//! scattered dimension serially in each thread.
//!
//! A segment sum is planned once per graph on the host. Where every segment owns the same number
//! `d` of consecutive rows (every grid point has exactly three mesh→grid edges, sorted by
//! receiver) it is a reshape to `[batch, segments, d, latent]` and a sum over `d`. Elsewhere the
//! segments are bucketed by their exact degree: one gather of the bucket's rows, a reshape and a
//! sum each, the buckets' results concatenated and put back in segment order by one more gather.
//! Exact degrees need no padding or masks, and the distinct degrees of a graph are few (at most
//! √(2·rows)). Each segment's rows are summed in ascending row order, so runs stay bitwise
//! reproducible.
//!
//! A gather `out[e] = x[index[e]]` and a segment sum are each other's adjoint: the gradient of a
//! gather is the segment sum of the output gradient grouped by `index` (planned here as well),
//! and that of a segment sum is a gather. [`super::graph_backend`] wires them up as custom
//! backward passes.

use std::collections::BTreeMap;
use std::sync::Arc;

use burn::tensor::backend::Backend;
use burn::tensor::{Int, Tensor, TensorData};

/// How to sum `rows` values into `segments`, worked out on the host.
#[derive(Clone, Debug, PartialEq)]
pub struct SegmentPlan {
    pub segments: usize,
    pub rows: usize,
    /// The segment each row belongs to (what the adjoint gather reads).
    pub segment_of_row: Vec<u32>,
    /// Compressed rows: segment `s` owns `rows_by_segment[offsets[s]..offsets[s + 1]]`,
    /// ascending (what the CPU kernels read).
    pub offsets: Vec<usize>,
    pub rows_by_segment: Vec<u32>,
    pub layout: PlanLayout,
}

#[derive(Clone, Debug, PartialEq)]
pub enum PlanLayout {
    /// Row `r` belongs to segment `r / degree`.
    Uniform { degree: usize },
    Buckets {
        /// `(degree, rows)`: the rows of the bucket's segments, `degree` per segment, in
        /// ascending row order within each.
        buckets: Vec<(usize, Vec<u32>)>,
        /// For each segment, its row in the concatenated bucket sums; segments without rows
        /// point one past the end, at a zero row. `None` when that is the identity.
        placement: Option<Vec<u32>>,
        has_empty: bool,
    },
}

impl SegmentPlan {
    /// `segment_of_row[r]` is the segment of row `r`, below `segments`.
    pub fn new(segment_of_row: &[u32], segments: usize) -> Self {
        let rows = segment_of_row.len();
        let mut degree = vec![0usize; segments];
        for &s in segment_of_row {
            degree[s as usize] += 1;
        }
        // Rows of each segment in ascending order (a counting sort).
        let mut start = vec![0usize; segments + 1];
        for s in 0..segments {
            start[s + 1] = start[s] + degree[s];
        }
        let mut fill = start.clone();
        let mut rows_by_segment = vec![0u32; rows];
        for (r, &s) in segment_of_row.iter().enumerate() {
            rows_by_segment[fill[s as usize]] = r as u32;
            fill[s as usize] += 1;
        }
        let uniform = segments > 0
            && rows.is_multiple_of(segments)
            && rows > 0
            && segment_of_row
                .iter()
                .enumerate()
                .all(|(r, &s)| s as usize == r / (rows / segments));
        if uniform {
            return Self {
                segments,
                rows,
                segment_of_row: segment_of_row.to_vec(),
                offsets: start,
                rows_by_segment,
                layout: PlanLayout::Uniform {
                    degree: rows / segments,
                },
            };
        }
        let mut by_degree: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
        for (s, &d) in degree.iter().enumerate().filter(|&(_, &d)| d > 0) {
            by_degree.entry(d).or_default().push(s);
        }
        let filled: usize = by_degree.values().map(Vec::len).sum();
        let mut placement = vec![filled as u32; segments];
        let mut buckets = Vec::with_capacity(by_degree.len());
        let mut next = 0u32;
        for (d, members) in by_degree {
            let mut bucket_rows = Vec::with_capacity(d * members.len());
            for s in members {
                bucket_rows.extend_from_slice(&rows_by_segment[start[s]..start[s + 1]]);
                placement[s] = next;
                next += 1;
            }
            buckets.push((d, bucket_rows));
        }
        let identity = placement.iter().enumerate().all(|(s, &p)| p as usize == s);
        Self {
            segments,
            rows,
            segment_of_row: segment_of_row.to_vec(),
            offsets: start,
            rows_by_segment,
            layout: PlanLayout::Buckets {
                buckets,
                placement: (!identity).then_some(placement),
                has_empty: filled < segments,
            },
        }
    }
}

/// Row indices on a device.
pub type IndexTensor<B> = Tensor<B, 1, Int>;

fn index_tensor<B: Backend>(values: &[u32], device: &B::Device) -> Tensor<B, 1, Int> {
    let v: Vec<i64> = values.iter().map(|&x| x as i64).collect();
    let n = v.len();
    Tensor::from_data(TensorData::new(v, [n]), device)
}

/// A [`SegmentPlan`] with its indices on a device.
#[derive(Clone, Debug)]
pub struct Segments<B: Backend> {
    pub segments: usize,
    pub rows: usize,
    pub segment_of_row: Tensor<B, 1, Int>,
    /// The plan itself, for kernels that read it on the host.
    pub host: Arc<SegmentPlan>,
    layout: Layout<B>,
}

#[derive(Clone, Debug)]
enum Layout<B: Backend> {
    /// The compressed rows themselves, for backends that sum segments in one kernel whatever
    /// the degrees (the CubeCL kernels): segment `s` owns `rows_by_segment[offsets[s]..offsets[s + 1]]`.
    Csr {
        offsets: Tensor<B, 1, Int>,
        rows_by_segment: Tensor<B, 1, Int>,
    },
    Uniform {
        degree: usize,
    },
    Buckets {
        buckets: Vec<(usize, Tensor<B, 1, Int>)>,
        placement: Option<Tensor<B, 1, Int>>,
        has_empty: bool,
    },
}

impl<B: Backend> Segments<B> {
    /// The plan's tensors on `device`: the compressed rows when `csr` (a backend with a
    /// segment-sum kernel), else the gathers and reshapes of the composed sum.
    pub fn new(plan: &SegmentPlan, csr: bool, device: &B::Device) -> Self {
        let layout = match &plan.layout {
            _ if csr => {
                let offsets: Vec<u32> = plan.offsets.iter().map(|&o| o as u32).collect();
                Layout::Csr {
                    offsets: index_tensor(&offsets, device),
                    rows_by_segment: index_tensor(&plan.rows_by_segment, device),
                }
            }
            PlanLayout::Uniform { degree } => Layout::Uniform { degree: *degree },
            PlanLayout::Buckets {
                buckets,
                placement,
                has_empty,
            } => Layout::Buckets {
                buckets: buckets
                    .iter()
                    .map(|(d, rows)| (*d, index_tensor(rows, device)))
                    .collect(),
                placement: placement.as_ref().map(|p| index_tensor(p, device)),
                has_empty: *has_empty,
            },
        };
        Self {
            segments: plan.segments,
            rows: plan.rows,
            segment_of_row: index_tensor(&plan.segment_of_row, device),
            host: Arc::new(plan.clone()),
            layout,
        }
    }

    /// The same plan for another backend that shares this one's integer tensors (the inner
    /// backend of an autodiff backend, or the other way round).
    pub fn map<B2: Backend>(&self, convert: &impl Fn(Tensor<B, 1, Int>) -> Tensor<B2, 1, Int>) -> Segments<B2> {
        let layout = match &self.layout {
            Layout::Csr {
                offsets,
                rows_by_segment,
            } => Layout::Csr {
                offsets: convert(offsets.clone()),
                rows_by_segment: convert(rows_by_segment.clone()),
            },
            Layout::Uniform { degree } => Layout::Uniform { degree: *degree },
            Layout::Buckets {
                buckets,
                placement,
                has_empty,
            } => Layout::Buckets {
                buckets: buckets.iter().map(|(d, t)| (*d, convert(t.clone()))).collect(),
                placement: placement.clone().map(convert),
                has_empty: *has_empty,
            },
        };
        Segments {
            segments: self.segments,
            rows: self.rows,
            segment_of_row: convert(self.segment_of_row.clone()),
            host: self.host.clone(),
            layout,
        }
    }

    /// The compressed rows (offsets, rows by segment) on the device, when planned for a kernel.
    pub fn csr(&self) -> Option<[&IndexTensor<B>; 2]> {
        match &self.layout {
            Layout::Csr {
                offsets,
                rows_by_segment,
            } => Some([offsets, rows_by_segment]),
            _ => None,
        }
    }

    /// `values [batch, rows, latent]` → `[batch, segments, latent]`, composed of gathers,
    /// reshapes and sums. Not differentiable through a custom path by itself: callers go
    /// through [`super::graph_backend::GraphBackend::sum_segments`].
    pub fn sum(&self, values: Tensor<B, 3>) -> Tensor<B, 3> {
        let [batch, rows, latent] = values.dims();
        assert_eq!(
            rows, self.rows,
            "segment sum over {rows} rows planned for {}",
            self.rows
        );
        match &self.layout {
            Layout::Csr { .. } => {
                unreachable!(
                    "compressed-row segments are summed by their backend's kernel (GraphBackend::sum_segments)"
                )
            }
            Layout::Uniform { degree } => {
                if *degree == 1 {
                    return values;
                }
                values
                    .reshape([batch, self.segments, *degree, latent])
                    .sum_dim(2)
                    .reshape([batch, self.segments, latent])
            }
            Layout::Buckets {
                buckets,
                placement,
                has_empty,
            } => {
                let mut parts: Vec<Tensor<B, 3>> = buckets
                    .iter()
                    .map(|(degree, rows)| {
                        let picked = values.clone().select(1, rows.clone());
                        if *degree == 1 {
                            return picked;
                        }
                        let n = rows.dims()[0] / degree;
                        picked
                            .reshape([batch, n, *degree, latent])
                            .sum_dim(2)
                            .reshape([batch, n, latent])
                    })
                    .collect();
                if *has_empty {
                    parts.push(Tensor::zeros([batch, 1, latent], (&values.device(), values.dtype())));
                }
                let sums = if parts.len() == 1 {
                    parts.pop().expect("one part")
                } else if parts.is_empty() {
                    Tensor::zeros([batch, 1, latent], (&values.device(), values.dtype()))
                } else {
                    Tensor::cat(parts, 1)
                };
                match placement {
                    Some(p) => sums.select(1, p.clone()),
                    None => sums,
                }
            }
        }
    }
}

/// A gather of rows `out[e] = x[index[e]]` with its adjoint planned.
#[derive(Clone, Debug)]
pub struct Gather<B: Backend> {
    pub index: Tensor<B, 1, Int>,
    /// Sums gradients of the gathered rows back onto the `sources` rows they came from.
    pub adjoint: Segments<B>,
}

impl<B: Backend> Gather<B> {
    /// `index[e] < sources` for every gathered row `e`; `csr` as in [`Segments::new`].
    pub fn new(index: &[u32], sources: usize, csr: bool, device: &B::Device) -> Self {
        let plan = SegmentPlan::new(index, sources);
        Self::from_plan(&plan, csr, device)
    }

    /// The gather whose adjoint is `plan` (the gather reads `plan.segment_of_row`).
    pub fn from_plan(plan: &SegmentPlan, csr: bool, device: &B::Device) -> Self {
        let adjoint = Segments::new(plan, csr, device);
        Self {
            index: adjoint.segment_of_row.clone(),
            adjoint,
        }
    }

    /// The gather whose adjoint is `segments` (the gradient of a segment sum).
    pub fn of_segments(segments: &Segments<B>) -> Self {
        Self {
            index: segments.segment_of_row.clone(),
            adjoint: segments.clone(),
        }
    }

    pub fn map<B2: Backend>(&self, convert: &impl Fn(Tensor<B, 1, Int>) -> Tensor<B2, 1, Int>) -> Gather<B2> {
        Gather {
            index: convert(self.index.clone()),
            adjoint: self.adjoint.map(convert),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consecutive_equal_degrees_are_a_reshape() {
        let plan = SegmentPlan::new(&[0, 0, 0, 1, 1, 1], 2);
        assert_eq!(plan.layout, PlanLayout::Uniform { degree: 3 });
    }

    #[test]
    fn buckets_hold_every_row_once_grouped_by_exact_degree() {
        // Segment 1 has no rows, segment 3 many, rows unsorted.
        let segment_of_row = [3, 0, 3, 2, 3, 0, 3, 4];
        let plan = SegmentPlan::new(&segment_of_row, 5);
        let PlanLayout::Buckets {
            buckets,
            placement,
            has_empty,
        } = &plan.layout
        else {
            panic!("expected buckets: {plan:?}")
        };
        assert!(has_empty);
        assert_eq!(buckets, &vec![(1, vec![3, 7]), (2, vec![1, 5]), (4, vec![0, 2, 4, 6])]);
        // Concatenated sums: [seg 2, seg 4, seg 0, seg 3, zero row].
        assert_eq!(placement.as_deref(), Some(&[2u32, 4, 0, 3, 1][..]));
    }
}
