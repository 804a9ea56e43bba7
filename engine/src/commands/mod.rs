pub mod evaluate;
pub mod forecast;
pub mod ingest;
pub mod inspect;
pub mod train;
