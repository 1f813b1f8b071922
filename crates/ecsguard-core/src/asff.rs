//! Findings in the AWS Security Finding Format (ASFF), the shape Security Hub
//! imports. Built here, from the report alone, so that `--format asff` and
//! `--to-securityhub` send exactly the same thing; the AWS crate turns these
//! into SDK types.
//!
//! No value is carried: the evidence is the redacted prefix the other formats
//! show, and live findings name the task definition by ARN only.

use std::collections::BTreeMap;

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::{Finding, Location, Report, Severity};

/// The ASFF schema version Security Hub accepts.
pub const SCHEMA_VERSION: &str = "2018-10-08";

/// `GeneratorId`s start with this; findings ecsguard imported are known by it.
pub const GENERATOR_PREFIX: &str = "ecsguard/";

/// Where IaC findings are filed (live findings carry their own), and when.
#[derive(Debug, Clone, Default)]
pub struct Context {
    /// The account IaC findings are filed under (`--account`, or the caller's).
    pub account: Option<String>,
    /// The region IaC findings are filed in.
    pub region: Option<String>,
    /// RFC 3339, UTC.
    pub now: String,
    /// The project IaC findings belong to (`--project`, the repository's
    /// origin, or its folder): part of their `Id`, so that two checkouts of
    /// one repository file the same findings, and two repositories never.
    pub project: Option<String>,
    /// Each file as given → its path in the project: the `Id` does not
    /// depend on the folder the scan ran from.
    pub paths: std::collections::HashMap<String, String>,
    /// Each file that belongs to a repository nested in the project (a
    /// submodule) → that repository: it is filed there, as a scan of it
    /// files it.
    pub projects: std::collections::HashMap<String, String>,
}

impl Context {
    /// The project a file is filed under.
    fn project_of(&self, file: &str) -> Option<&str> {
        self.projects
            .get(file)
            .map(String::as_str)
            .or(self.project.as_deref())
    }
}

/// ProductFields keys that say where an IaC finding is: what a later scan
/// compares to find the ones that are gone.
pub const PROJECT_FIELD: &str = "ecsguard/Project";
pub const PATH_FIELD: &str = "ecsguard/Path";
pub const RULE_FIELD: &str = "ecsguard/Rule";

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AsffFinding {
    pub schema_version: &'static str,
    pub id: String,
    pub product_arn: String,
    pub product_name: &'static str,
    pub company_name: &'static str,
    pub generator_id: String,
    pub aws_account_id: String,
    pub region: String,
    pub types: Vec<&'static str>,
    pub first_observed_at: String,
    pub last_observed_at: String,
    pub created_at: String,
    pub updated_at: String,
    pub severity: AsffSeverity,
    pub title: String,
    pub description: String,
    pub remediation: Remediation,
    pub product_fields: BTreeMap<String, String>,
    pub resources: Vec<Resource>,
    pub compliance: Compliance,
    pub record_state: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AsffSeverity {
    pub label: &'static str,
    pub original: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Remediation {
    pub recommendation: Recommendation,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Recommendation {
    pub text: String,
    pub url: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Resource {
    /// `AwsEcsTaskDefinition` for a live finding, `Other` for a file.
    #[serde(rename = "Type")]
    pub kind: &'static str,
    pub id: String,
    pub partition: String,
    pub region: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<ResourceDetails>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ResourceDetails {
    pub other: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Compliance {
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub security_control_id: Option<&'static str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub related_requirements: Vec<&'static str>,
}

/// Why a report cannot be written as ASFF.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContextError {
    /// IaC findings need an account to be filed under.
    NoAccount,
    /// IaC findings need a region to be filed in.
    NoRegion,
}

/// Security Hub's label for a severity.
pub fn label(s: Severity) -> &'static str {
    match s {
        Severity::Low => "LOW",
        Severity::Medium => "MEDIUM",
        Severity::High => "HIGH",
        Severity::Critical => "CRITICAL",
    }
}

/// The partition of an ARN (`aws`, `aws-cn`, `aws-us-gov`), or `aws`.
fn partition(arn: &str) -> String {
    arn.split(':')
        .nth(1)
        .filter(|p| !p.is_empty())
        .unwrap_or("aws")
        .to_owned()
}

/// The partition a region belongs to.
fn region_partition(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}

/// The product ARN for findings an account imports about itself.
pub fn product_arn(partition: &str, region: &str, account: &str) -> String {
    format!("arn:{partition}:securityhub:{region}:{account}:product/{account}/default")
}

/// A finding's `Id`: stable across runs, so a rescan updates it. It names
/// the rule, the place (ARN, or project and path in it) and the
/// fingerprint, hashed to a fixed length; nothing in it depends on the value
/// unless the project keys fingerprints with values.
fn id(f: &Finding, account: &str, region: &str, ctx: &Context) -> String {
    let mut h = Sha256::new();
    for part in [account, region, f.rule.as_str()] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    match &f.location {
        Location::File { file, .. } => {
            h.update(ctx.project_of(file).unwrap_or_default().as_bytes());
            h.update([0]);
            h.update(project_path(file, ctx).as_bytes());
        }
        Location::Live { arn, .. } => h.update(arn.as_bytes()),
    }
    h.update([0]);
    h.update(f.fingerprint.as_bytes());
    let digest = h.finalize();
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("{GENERATOR_PREFIX}{}/{hex}", f.rule.as_str())
}

/// A path as given, tidied so that `./infra/a.json`, `infra//a.json` and
/// `infra\\a.json` name one file (and so one finding).
fn tidy(path: &str) -> String {
    let path = path.replace('\\', "/");
    path.split('/')
        .filter(|part| !part.is_empty() && *part != ".")
        .collect::<Vec<_>>()
        .join("/")
}

/// A file's path in the project, or the path as given, tidied.
fn project_path(file: &str, ctx: &Context) -> String {
    ctx.paths.get(file).cloned().unwrap_or_else(|| tidy(file))
}

/// Cuts `s` to at most `max` characters (Security Hub's limits on
/// `Title`, `Description` and the `ProductFields` values).
fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
        out.push('…');
        out
    }
}

/// The ASFF of one finding.
pub fn finding(f: &Finding, ctx: &Context) -> Result<AsffFinding, ContextError> {
    let (account, region, resource) = match &f.location {
        Location::Live {
            arn,
            account,
            region,
        } => (
            account.clone(),
            region.clone(),
            Resource {
                kind: "AwsEcsTaskDefinition",
                id: arn.clone(),
                partition: partition(arn),
                region: region.clone(),
                details: None,
            },
        ),
        Location::File { file, line, column } => {
            let account = ctx.account.clone().ok_or(ContextError::NoAccount)?;
            let region = ctx.region.clone().ok_or(ContextError::NoRegion)?;
            let mut other = BTreeMap::new();
            other.insert("File".to_owned(), clip(&project_path(file, ctx), 1024));
            other.insert("Line".to_owned(), line.to_string());
            other.insert("Column".to_owned(), column.to_string());
            if let Some(family) = &f.family {
                other.insert("Family".to_owned(), clip(family, 1024));
            }
            (
                account,
                region.clone(),
                Resource {
                    kind: "Other",
                    id: clip(&format!("{}:{line}", project_path(file, ctx)), 512),
                    partition: region_partition(&region).to_owned(),
                    region,
                    details: Some(ResourceDetails { other }),
                },
            )
        }
    };
    let mut fields = BTreeMap::new();
    fields.insert(RULE_FIELD.to_owned(), f.rule.as_str().to_owned());
    if let Location::File { file, .. } = &f.location {
        fields.insert(PATH_FIELD.to_owned(), clip(&project_path(file, ctx), 2048));
        if let Some(project) = ctx.project_of(file) {
            fields.insert(PROJECT_FIELD.to_owned(), clip(project, 2048));
        }
    }
    fields.insert("ecsguard/Fingerprint".to_owned(), f.fingerprint.clone());
    fields.insert("ecsguard/Variable".to_owned(), clip(&f.variable, 1024));
    if let Some(c) = &f.container {
        fields.insert("ecsguard/Container".to_owned(), clip(c, 1024));
    }
    if let Some(family) = &f.family {
        fields.insert("ecsguard/Family".to_owned(), clip(family, 1024));
    }
    if !f.detectors.is_empty() {
        fields.insert("ecsguard/Detectors".to_owned(), f.detectors.join(","));
    }
    if let Some(r) = &f.redacted {
        fields.insert("ecsguard/Evidence".to_owned(), r.clone());
    }
    let controls = f.rule.controls();
    let part = resource.partition.clone();
    Ok(AsffFinding {
        schema_version: SCHEMA_VERSION,
        id: id(f, &account, &region, ctx),
        product_arn: product_arn(&part, &region, &account),
        product_name: "ecsguard",
        company_name: "ecsguard",
        generator_id: format!("{GENERATOR_PREFIX}{}", f.rule.as_str()),
        aws_account_id: account,
        region,
        types: vec![
            "Software and Configuration Checks/AWS Security Best Practices",
            "Sensitive Data Identifications/Passwords",
        ],
        first_observed_at: ctx.now.clone(),
        last_observed_at: ctx.now.clone(),
        created_at: ctx.now.clone(),
        updated_at: ctx.now.clone(),
        severity: AsffSeverity {
            label: label(f.severity),
            original: f.severity.as_str(),
        },
        title: clip(
            &format!(
                "{}: {} in {}",
                f.rule.title(),
                f.variable,
                f.family.as_deref().unwrap_or("a task definition")
            ),
            256,
        ),
        description: clip(&f.message, 1024),
        remediation: Remediation {
            recommendation: Recommendation {
                text: clip(f.rule.how_to_fix(), 512),
                url: f.rule.help_uri(),
            },
        },
        product_fields: fields,
        resources: vec![resource],
        compliance: Compliance {
            status: "FAILED",
            security_control_id: controls.first().copied(),
            related_requirements: controls.to_vec(),
        },
        record_state: "ACTIVE",
    })
}

/// Every finding of the report (suppressed ones are left out: they were
/// accepted), in report order.
pub fn findings(report: &Report, ctx: &Context) -> Result<Vec<AsffFinding>, ContextError> {
    let mut out: Vec<AsffFinding> = report
        .findings
        .iter()
        .map(|f| finding(f, ctx))
        .collect::<Result<_, _>>()?;
    // Two task definitions of one family in one file (blue and green) give
    // one place and fingerprint: the later ones are numbered, in file order.
    let mut seen: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for f in &mut out {
        let n = seen.entry(f.id.clone()).or_insert(0);
        *n += 1;
        if *n > 1 {
            f.id = format!("{}/{}", f.id, n);
        }
    }
    Ok(out)
}

/// Whether a report has findings that need [`Context::account`] and
/// [`Context::region`] (IaC ones).
pub fn needs_context(report: &Report) -> bool {
    report
        .findings
        .iter()
        .any(|f| matches!(f.location, Location::File { .. }))
}
