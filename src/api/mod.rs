//! SQL-callable functions, one file per concept.
pub mod check;
pub mod status;
