//! ecsguard's live source: task definitions read through aws-sdk-rust, with
//! the standard credential chain, in one or many accounts and regions; and
//! live fixes that move their secrets into SSM or Secrets Manager.
//!
//! The rules are the core crate's; this crate only reads (and, for fixes,
//! writes), and reports every place it could not read as an error, never as clean.

mod convert;
mod counter;
pub mod fix;
pub mod journal;
pub mod push;
mod scan;
pub mod securityhub;
mod store;

pub use fix::{fix, rollback, FixOptions, FixReport};
pub use push::{push, PushItem, PushReport};
pub use scan::{scan, LiveOptions};
