//! ecsguard's file sources: task-definition JSON, CloudFormation, Terraform HCL
//! and Terraform plan JSON, read into the core model with positions.

pub mod cfn;
pub mod extract;
pub mod fix;
pub mod input;
pub mod json;
pub mod plan;
pub mod scan;
pub mod source;
pub mod suppress;
pub mod terraform;
pub mod tree;
pub mod walk;
pub mod yaml;

pub use scan::{scan_paths, ScanOptions};
