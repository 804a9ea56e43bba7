pub mod ingest;
pub mod inspect;
pub mod train;
