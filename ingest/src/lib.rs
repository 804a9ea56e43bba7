//! vejr-ingest: the first stage of the data's journey, from NetCDF and GRIB files to typed,
//! CF-decoded fields, and from fields to the zarr training store.

pub mod cell_area;
pub mod cf_time;
mod classic_format_size;
pub mod eccodes_log;
pub mod error;
pub mod fields;
pub mod grib2_fields;
mod grib_grid;
pub mod grib_reader;
pub mod grid;
pub mod hints;
pub mod inspect;
mod netcdf_axes;
mod netcdf_grid_mapping;
pub mod netcdf_reader;
pub mod output_name;
pub mod parameter_identity;
pub mod physical_range;
pub mod progress;
pub mod projection;
pub mod regrid;
pub mod source;
pub mod statistics;
pub mod store;
pub mod test_data;
pub mod units;

pub use error::{IngestError, Result};
pub use fields::{Fields, LevelType, TimeAxis, Variable, VariableInfo};
pub use grid::{Grid, GridKind};
pub use hints::{SourceHints, VariableHints};
pub use source::{FieldSource, Header, open, read_fields};
