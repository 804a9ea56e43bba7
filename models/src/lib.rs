//! vejr-models: graph construction (icosahedral multimesh, grid↔mesh connectivity) and the
//! encoder–processor–decoder forecaster, generic over `B: Backend`. Files are never read here:
//! the engine hands over grids and statistics.

pub mod graph;
