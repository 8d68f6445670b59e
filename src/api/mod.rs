//! SQL-callable functions, one file per concept.
pub mod status;
