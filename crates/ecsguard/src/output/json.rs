//! JSON output, version 1 (DESIGN §4). These structs are the public contract:
//! add fields, never rename.

use ecsguard_core::{ErrorSource, Finding, InputError, Location, Report};
use serde::Serialize;

#[derive(Serialize)]
pub struct JsonV1<'a> {
    pub version: u32,
    pub tool: Tool,
    /// Each finding is shaped as [`JsonFinding`] while it is written, so the
    /// whole report is never held twice.
    pub findings: Findings<'a>,
    pub errors: Vec<JsonError<'a>>,
    /// What was read only in part, or left out on purpose; not errors.
    pub notes: Vec<JsonError<'a>>,
    /// Findings a suppression accepted, each with how and why.
    pub suppressed: Vec<JsonSuppressed<'a>>,
    pub summary: JsonSummary,
}

#[derive(Serialize)]
pub struct JsonSuppressed<'a> {
    #[serde(flatten)]
    pub finding: JsonFinding<'a>,
    pub suppression: JsonSuppression<'a>,
}

#[derive(Serialize)]
pub struct JsonSuppression<'a> {
    /// `inline` (a comment), `baseline` or `config` (`.ecsguard.toml`).
    pub kind: &'static str,
    pub reason: Option<&'a str>,
}

/// The findings, serialised one [`JsonFinding`] at a time.
pub struct Findings<'a>(pub &'a [Finding]);

impl Serialize for Findings<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.iter().map(finding))
    }
}

#[derive(Serialize)]
pub struct Tool {
    pub name: &'static str,
    pub version: &'static str,
}

#[derive(Serialize)]
pub struct JsonFinding<'a> {
    pub rule: &'static str,
    pub controls: &'static [&'static str],
    pub severity: &'static str,
    pub message: &'a str,
    pub task_definition: TaskDefinitionRef<'a>,
    pub container: Option<&'a str>,
    pub variable: &'a str,
    pub location: JsonLocation<'a>,
    /// Where the value is written, when that is not the name's line: a
    /// `.tfvars` file, a variable's default, a template's variable map.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value_location: Option<JsonLocation<'a>>,
    /// Where the value comes from: `in-place`, `embedded` (in a JSON
    /// string), `computed`, `generated` (plan JSON, `cdk.out`) or `live`.
    pub origin: &'static str,
    pub evidence: Evidence<'a>,
    pub fingerprint: &'a str,
    /// The rule's page in docs/rules.md.
    pub help_uri: String,
}

#[derive(Serialize)]
pub struct TaskDefinitionRef<'a> {
    pub family: Option<&'a str>,
    pub revision: Option<u32>,
}

#[derive(Serialize)]
#[serde(untagged)]
pub enum JsonLocation<'a> {
    File {
        file: &'a str,
        line: u32,
        column: u32,
    },
    Live {
        arn: &'a str,
        account: &'a str,
        region: &'a str,
    },
}

#[derive(Serialize)]
pub struct Evidence<'a> {
    pub detectors: &'a [&'static str],
    /// At most the first 4 characters of a literal value; absent for references.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redacted: Option<&'a str>,
    /// The symbolic expression, for a value that is a reference.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference: Option<&'a str>,
}

#[derive(Serialize)]
#[serde(untagged)]
pub enum JsonError<'a> {
    File {
        file: &'a str,
        line: u32,
        #[serde(skip_serializing_if = "Option::is_none")]
        column: Option<u32>,
        message: &'a str,
    },
    Live {
        account: Option<&'a str>,
        region: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        arn: Option<&'a str>,
        message: &'a str,
    },
}

#[derive(Serialize)]
pub struct JsonSummary {
    pub files: usize,
    pub task_definitions: usize,
    pub containers: usize,
    pub findings: usize,
    pub errors: usize,
    pub suppressed: usize,
    /// Live scans only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accounts: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub regions: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub older_revisions_not_scanned: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_calls: Option<usize>,
}

fn json_location(l: &Location) -> JsonLocation<'_> {
    match l {
        Location::File { file, line, column } => JsonLocation::File {
            file,
            line: *line,
            column: *column,
        },
        Location::Live {
            arn,
            account,
            region,
        } => JsonLocation::Live {
            arn,
            account,
            region,
        },
    }
}

fn finding(f: &Finding) -> JsonFinding<'_> {
    JsonFinding {
        rule: f.rule.as_str(),
        controls: f.rule.controls(),
        severity: f.severity.as_str(),
        message: &f.message,
        task_definition: TaskDefinitionRef {
            family: f.family.as_deref(),
            revision: f.revision,
        },
        container: f.container.as_deref(),
        variable: &f.variable,
        location: json_location(&f.location),
        value_location: f.value_location.as_deref().map(json_location),
        origin: f.origin.as_str(),
        help_uri: f.rule.help_uri(),
        evidence: Evidence {
            detectors: &f.detectors,
            redacted: f.redacted.as_deref(),
            reference: f.reference.as_deref(),
        },
        fingerprint: &f.fingerprint,
    }
}

/// An input error as JSON v1 shows it (also used by the fix plan's JSON).
pub fn error(e: &InputError) -> JsonError<'_> {
    match &e.source {
        ErrorSource::File { file, line, column } => JsonError::File {
            file,
            line: *line,
            column: *column,
            message: &e.message,
        },
        ErrorSource::Live {
            account,
            region,
            arn,
        } => JsonError::Live {
            account: account.as_deref(),
            region: region.as_deref(),
            arn: arn.as_deref(),
            message: &e.message,
        },
    }
}

/// Writes the report as pretty-printed JSON v1, streaming.
pub fn write(report: &Report, out: &mut impl std::io::Write) -> serde_json::Result<()> {
    let doc = JsonV1 {
        version: 1,
        tool: Tool {
            name: "ecsguard",
            version: env!("CARGO_PKG_VERSION"),
        },
        findings: Findings(&report.findings),
        errors: report.errors.iter().map(error).collect(),
        notes: report.notes.iter().map(error).collect(),
        suppressed: report
            .suppressed
            .iter()
            .map(|s| JsonSuppressed {
                finding: finding(&s.finding),
                suppression: JsonSuppression {
                    kind: s.kind.as_str(),
                    reason: s.reason.as_deref(),
                },
            })
            .collect(),
        summary: JsonSummary {
            files: report.summary.files,
            task_definitions: report.summary.task_definitions,
            containers: report.summary.containers,
            findings: report.findings.len(),
            errors: report.errors.len(),
            suppressed: report.suppressed.len(),
            accounts: report.summary.live.as_ref().map(|l| l.accounts),
            regions: report.summary.live.as_ref().map(|l| l.regions),
            older_revisions_not_scanned: report
                .summary
                .live
                .as_ref()
                .map(|l| l.older_revisions_not_scanned),
            api_calls: report.summary.live.as_ref().map(|l| l.api_calls),
        },
    };
    serde_json::to_writer_pretty(&mut *out, &doc)?;
    out.write_all(b"\n").map_err(serde_json::Error::io)
}
