//! Detectors: pure functions that read a variable's name and value.

pub mod names;
pub mod values;
