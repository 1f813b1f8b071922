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
    /// Move secrets into SSM Parameter Store or Secrets Manager (prints the plan; --apply carries it out)
    Fix(FixArgs),
    /// Undo a live fix from its journal
    Rollback(RollbackArgs),
    /// List the rules, or explain one: what, why, how to fix, examples
    Rules(RulesArgs),
}

#[derive(Debug, Args)]
pub struct RulesArgs {
    /// The rule to explain (all of them are listed without one)
    pub rule: Option<String>,

    /// Print every rule as the Markdown of docs/rules.md
    #[arg(long, conflicts_with = "rule")]
    pub markdown: bool,
}

#[derive(Debug, Args)]
pub struct FixArgs {
    /// Files and folders to fix (default "."): task-definition JSON, CloudFormation (JSON and YAML) and Terraform are rewritten in place; each finding gets an outcome, and what cannot be rewritten safely says what to do by hand
    #[arg(conflicts_with = "aws")]
    pub paths: Vec<PathBuf>,

    /// Fix live task definitions through the AWS API instead of files
    #[arg(long)]
    pub aws: bool,

    /// With --apply on files: store the literal values first (SSM or Secrets Manager, verified and journaled), then make the files read them
    #[arg(long, requires = "apply", conflicts_with = "aws")]
    pub push: bool,

    /// Region to fix (repeatable); default: the configured region
    #[arg(long = "region", value_name = "REGION", value_parser = region)]
    pub regions: Vec<String>,

    /// Named profile from the shared AWS config
    #[arg(long, value_name = "PROFILE")]
    pub profile: Option<String>,

    /// Assume this role first
    #[arg(long, value_name = "ARN")]
    pub role_arn: Option<String>,

    /// Only this family (repeatable)
    #[arg(long = "family", value_name = "NAME")]
    pub families: Vec<String>,

    /// Where the values go
    #[arg(long, value_enum, default_value_t = StoreArg::Ssm)]
    pub store: StoreArg,

    /// Prefix of parameter and secret names
    #[arg(long, default_value = "/ecsguard", value_name = "PATH")]
    pub prefix: String,

    /// Customer managed KMS key (id or ARN) to encrypt with; the default key otherwise
    #[arg(long, value_name = "ID")]
    pub kms_key_id: Option<String>,

    /// Point the services that run the old revision at the new one
    #[arg(long)]
    pub update_services: bool,

    /// Only services in this cluster (repeatable)
    #[arg(long = "cluster", value_name = "NAME")]
    pub clusters: Vec<String>,

    /// Replace an existing parameter or secret that holds a different value
    #[arg(long)]
    pub overwrite: bool,

    /// Deregister the revision that held the values, once no service uses it
    #[arg(long)]
    pub deregister_old: bool,

    /// Carry the plan out (without it, only print it)
    #[arg(long)]
    pub apply: bool,

    /// Fix the task definitions named by Security Hub's active, failed ECS.8 findings (in --region, or the configured region), and mark those findings RESOLVED once fixed
    #[arg(long, requires = "aws", conflicts_with = "families")]
    pub from_securityhub: bool,

    /// Where journals are kept (one per family)
    #[arg(long, default_value = ".ecsguard/journal", value_name = "DIR")]
    pub journal_dir: PathBuf,

    /// Attempts per API call before it counts as failed
    #[arg(long, value_name = "N", default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=20))]
    pub max_attempts: u32,

    /// Seconds one API call attempt may take before it is retried
    #[arg(long, value_name = "SECS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub api_timeout: u64,

    #[command(flatten)]
    pub common: CommonArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StoreArg {
    Ssm,
    Secretsmanager,
}

#[derive(Debug, Args)]
pub struct RollbackArgs {
    /// The journal a fix wrote
    #[arg(long, value_name = "FILE")]
    pub journal: PathBuf,

    /// Also delete the parameters, secrets, policy and role the fix created, and deregister its new revision
    #[arg(long)]
    pub delete_secrets: bool,

    /// Named profile from the shared AWS config
    #[arg(long, value_name = "PROFILE")]
    pub profile: Option<String>,

    /// Assume this role first
    #[arg(long, value_name = "ARN")]
    pub role_arn: Option<String>,

    /// Attempts per API call before it counts as failed
    #[arg(long, value_name = "N", default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=20))]
    pub max_attempts: u32,

    /// Seconds one API call attempt may take before it is retried
    #[arg(long, value_name = "SECS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub api_timeout: u64,
}

#[derive(Debug, Args)]
pub struct ScanArgs {
    /// Files and folders to scan (folders are walked, honouring .gitignore); default "."
    #[arg(conflicts_with = "aws")]
    pub paths: Vec<PathBuf>,

    #[command(flatten)]
    pub live: LiveArgs,

    /// Accept the findings recorded in this baseline (matched by fingerprint): they are counted as suppressed, not reported
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,

    /// Write the findings of this scan (fingerprints and where, never values) as a baseline to FILE
    #[arg(long, value_name = "FILE")]
    pub write_baseline: Option<PathBuf>,

    /// The config to use (default: .ecsguard.toml in the scanned folder or above it)
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Send the findings to AWS Security Hub as ASFF (BatchImportFindings), and archive this scope's findings that are gone
    #[arg(long)]
    pub to_securityhub: bool,

    /// The project IaC findings are filed under in ASFF (default: the repository's origin URL, or its folder's name): with it, two checkouts file the same findings
    #[arg(long, value_name = "NAME", value_parser = clap::builder::NonEmptyStringValueParser::new())]
    pub project: Option<String>,

    /// The AWS account IaC findings are filed under in ASFF (default: the caller's, from STS)
    #[arg(long, value_name = "ID", value_parser = account_id)]
    pub account: Option<String>,

    #[command(flatten)]
    pub common: CommonArgs,
}

#[derive(Debug, Args)]
#[command(next_help_heading = "Live AWS")]
pub struct LiveArgs {
    /// Scan live task definitions through the AWS API instead of files
    #[arg(long)]
    pub aws: bool,

    /// Region to scan (repeatable); default: the configured region. Without --aws: the region IaC findings are filed in (ASFF, Security Hub)
    #[arg(long = "region", value_name = "REGION", value_parser = region)]
    pub regions: Vec<String>,

    /// Scan every region enabled for the account
    #[arg(long, requires = "aws", conflicts_with = "regions")]
    pub all_regions: bool,

    /// Scan every revision, ACTIVE and INACTIVE, not only the latest ACTIVE one
    #[arg(long, requires = "aws")]
    pub all_revisions: bool,

    /// Named profile from the shared AWS config
    #[arg(long, value_name = "PROFILE", requires = "aws")]
    pub profile: Option<String>,

    /// Assume this role first
    #[arg(long, value_name = "ARN", requires = "aws")]
    pub role_arn: Option<String>,

    /// Scan every active account of the AWS Organization (needs --role-name)
    #[arg(long, requires_all = ["aws", "role_name"])]
    pub org: bool,

    /// With --org: the role to assume in each account
    #[arg(long, value_name = "NAME", requires = "org")]
    pub role_name: Option<String>,

    /// Most API calls in flight at once
    #[arg(long, value_name = "N", default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..=256), requires = "aws")]
    pub concurrency: u16,

    /// Attempts per API call before it counts as failed (throttling is retried adaptively, with backoff)
    #[arg(long, value_name = "N", default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=20), requires = "aws")]
    pub max_attempts: u32,

    /// Seconds one API call attempt may take before it is retried
    #[arg(long, value_name = "SECS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=3600), requires = "aws")]
    pub api_timeout: u64,
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
    /// AWS Security Finding Format, as `{"Findings": [...]}` (the input of `aws securityhub batch-import-findings`)
    Asff,
    /// One self-contained HTML page: findings grouped, a summary, filters (see --output)
    Html,
}

/// An AWS region name (`eu-west-1`, `us-gov-west-1`, `cn-north-1`).
fn region(s: &str) -> Result<String, String> {
    let parts: Vec<&str> = s.split('-').collect();
    let ok = parts.len() >= 3
        && parts[0].len() == 2
        && parts.iter().all(|p| !p.is_empty())
        && parts[..parts.len() - 1]
            .iter()
            .all(|p| p.bytes().all(|b| b.is_ascii_lowercase()))
        && parts[parts.len() - 1].bytes().all(|b| b.is_ascii_digit());
    if ok {
        Ok(s.to_owned())
    } else {
        Err(format!("{s:?} is not an AWS region name (like eu-west-1)"))
    }
}

/// A 12-digit AWS account id.
fn account_id(s: &str) -> Result<String, String> {
    if s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit()) {
        Ok(s.to_owned())
    } else {
        Err(format!("{s:?} is not an AWS account id (12 digits)"))
    }
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
