//! SQL-callable functions, one file per concept.
pub mod check;
mod nice;
mod parse;
pub mod rehearse;
mod state;
pub mod status;
