//! ecsguard's live source: task definitions read through aws-sdk-rust, with
//! the standard credential chain, in one or many accounts and regions.
//!
//! The rules are the core crate's; this crate only reads, and reports every
//! place it could not read as an error, never as clean.

mod convert;
mod counter;
mod scan;

pub use scan::{scan, LiveOptions};
