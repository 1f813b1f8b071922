//! Command-line arguments, as DESIGN §3 fixes them.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "ecsguard",
    version,
    about = "Find secrets that Amazon ECS task definitions pass as plain environment variables",
    long_about = None
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Scan task-definition JSON, CloudFormation, Terraform and Terraform plans
    Scan(ScanArgs),
}

#[derive(Debug, Args)]
pub struct ScanArgs {
    /// Files and folders to scan (folders are walked, honouring .gitignore)
    #[arg(default_value = ".")]
    pub paths: Vec<PathBuf>,

    #[command(flatten)]
    pub common: CommonArgs,
}

#[derive(Debug, Args)]
pub struct CommonArgs {
    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,

    /// Write the result to FILE instead of stdout
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Which rules run: all of them, or `securityhub` for exact parity with Security Hub ECS.8
    #[arg(long, value_enum, default_value_t = RulesetArg::Default)]
    pub ruleset: RulesetArg,

    /// Exit with status 1 when a finding is at or above this severity
    #[arg(long, value_enum, default_value_t = SeverityArg::Low, value_name = "SEVERITY")]
    pub fail_on: SeverityArg,

    /// Files larger than this many bytes are reported, not read
    #[arg(long, value_name = "BYTES", default_value_t = ecsguard_iac::input::DEFAULT_MAX_FILE_SIZE)]
    pub max_file_size: u64,

    /// Log progress to stderr (never values)
    #[arg(short, long)]
    pub verbose: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
    Sarif,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RulesetArg {
    Default,
    Securityhub,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SeverityArg {
    Low,
    Medium,
    High,
    Critical,
}

impl From<SeverityArg> for ecsguard_core::Severity {
    fn from(s: SeverityArg) -> Self {
        match s {
            SeverityArg::Low => ecsguard_core::Severity::Low,
            SeverityArg::Medium => ecsguard_core::Severity::Medium,
            SeverityArg::High => ecsguard_core::Severity::High,
            SeverityArg::Critical => ecsguard_core::Severity::Critical,
        }
    }
}
