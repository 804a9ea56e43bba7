pub mod ingest;
pub mod inspect;
