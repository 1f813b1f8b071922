//! Findings, their rules and severities, and the report that collects them.

use std::fmt;
use std::str::FromStr;

use crate::model::Location;

/// The rules, with the ids fixed by DESIGN §2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RuleId {
    KnownCredentialVariable,
    SecretNamedVariable,
    SecretValuedVariable,
}

impl RuleId {
    pub const ALL: [RuleId; 3] = [
        RuleId::KnownCredentialVariable,
        RuleId::SecretNamedVariable,
        RuleId::SecretValuedVariable,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RuleId::KnownCredentialVariable => "known-credential-variable",
            RuleId::SecretNamedVariable => "secret-named-variable",
            RuleId::SecretValuedVariable => "secret-valued-variable",
        }
    }

    /// Security controls the rule maps to.
    pub fn controls(self) -> &'static [&'static str] {
        match self {
            RuleId::KnownCredentialVariable => &["ECS.8"],
            _ => &[],
        }
    }

    pub fn description(self) -> &'static str {
        match self {
            RuleId::KnownCredentialVariable => {
                "An environment variable is named AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY or ECS_ENGINE_AUTH_DATA (Security Hub ECS.8)"
            }
            RuleId::SecretNamedVariable => {
                "An environment variable whose name says it is a secret holds a literal or a reference to a secret input"
            }
            RuleId::SecretValuedVariable => {
                "An environment variable's value is itself a secret: a provider token, a private key, a URL with a password, a JWT or a random-looking key"
            }
        }
    }

    /// Parses a rule id as written on the command line or in a config.
    pub fn parse(id: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == id)
    }

    /// A short title.
    pub fn title(self) -> &'static str {
        match self {
            RuleId::KnownCredentialVariable => "AWS credentials in a known variable (ECS.8)",
            RuleId::SecretNamedVariable => "A variable named as a secret holds one",
            RuleId::SecretValuedVariable => "A variable's value is a secret",
        }
    }

    /// The severity its findings get unless a config overrides it.
    pub fn default_severity(self) -> &'static str {
        match self {
            RuleId::SecretNamedVariable => {
                "high (a literal), medium (a reference to a secret input)"
            }
            _ => "high",
        }
    }

    /// Why it matters.
    pub fn why(self) -> &'static str {
        "Anyone allowed `ecs:DescribeTaskDefinition` reads every environment value of every revision, and the values also reach logs, crash reports and `docker inspect`. Values in `secrets` are fetched by the execution role when a task starts and never appear in the task definition."
    }

    /// How to fix one of its findings.
    pub fn how_to_fix(self) -> &'static str {
        match self {
            RuleId::KnownCredentialVariable => {
                "Give the task a task role instead of static keys, and delete the keys. If keys are unavoidable, store them in SSM Parameter Store (SecureString) or Secrets Manager and read them through `secrets[].valueFrom`; `ecsguard fix` does this, and grants the execution role `ssm:GetParameters` or `secretsmanager:GetSecretValue` on exactly those values. Rotate the keys: they stay in every old revision."
            }
            RuleId::SecretNamedVariable | RuleId::SecretValuedVariable => {
                "Store the value in SSM Parameter Store (SecureString) or Secrets Manager and read it through `secrets[].valueFrom`; `ecsguard fix` does this (`fix --aws` for live task definitions, `fix PATH` for Terraform, CloudFormation and task-definition JSON) and grants the execution role exactly what it reads. Rotate the value: it stays in every old revision and in the repository's history."
            }
        }
    }

    /// (flagged, not flagged) examples, as a container's `environment`.
    pub fn examples(self) -> (&'static str, &'static str) {
        match self {
            RuleId::KnownCredentialVariable => (
                r#"{"name": "AWS_SECRET_ACCESS_KEY", "value": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}"#,
                r#"{"name": "AWS_REGION", "value": "eu-west-1"}"#,
            ),
            RuleId::SecretNamedVariable => (
                r#"{"name": "DB_PASSWORD", "value": "hunter2hunter2"}"#,
                r#"{"name": "DB_PASSWORD_FILE", "value": "/run/secrets/db"}"#,
            ),
            RuleId::SecretValuedVariable => (
                r#"{"name": "DATABASE_URL", "value": "postgres://app:s3cr3t@db:5432/app"}"#,
                r#"{"name": "DATABASE_URL", "value": "postgres://db:5432/app"}"#,
            ),
        }
    }

    pub fn help_uri(self) -> String {
        format!(
            "https://github.com/ecsguard/ecsguard/blob/main/docs/rules.md#{}",
            self.as_str()
        )
    }
}

impl fmt::Display for RuleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Severity {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "low" => Ok(Severity::Low),
            "medium" => Ok(Severity::Medium),
            "high" => Ok(Severity::High),
            "critical" => Ok(Severity::Critical),
            other => Err(format!(
                "unknown severity `{other}` (expected low, medium, high or critical)"
            )),
        }
    }
}

/// One finding per (task definition, container, variable). It holds no secret:
/// the value is redacted when the finding is built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub rule: RuleId,
    pub severity: Severity,
    pub message: String,
    pub family: Option<String>,
    pub revision: Option<u32>,
    pub container: Option<String>,
    pub variable: String,
    pub location: Location,
    /// Where the value is written, when that is not where the name is.
    /// Boxed, as are the spans: most findings have none, and a scan holds
    /// every finding at once.
    pub value_location: Option<Box<Location>>,
    /// Where the value comes from, and the spans a rewrite needs.
    pub origin: crate::model::Origin,
    pub spans: Option<Box<crate::model::EntrySpans>>,
    /// Every detector that matched, name detectors first.
    pub detectors: Vec<&'static str>,
    /// At most the first four characters of a literal value.
    pub redacted: Option<String>,
    /// The symbolic expression, for a value that is a reference.
    pub reference: Option<String>,
    pub fingerprint: String,
}

impl Finding {
    /// The order findings are reported in: by place, then by rule.
    pub fn sort_key(&self) -> (&Location, &Option<String>, &str, RuleId) {
        (&self.location, &self.container, &self.variable, self.rule)
    }
}

/// Where a problem was met.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum ErrorSource {
    /// A file; `line` is 1-based, and whole-file problems use line 1.
    File {
        file: String,
        line: u32,
        column: Option<u32>,
    },
    /// A live account: what was being read when it failed.
    Live {
        account: Option<String>,
        region: Option<String>,
        arn: Option<String>,
    },
}

/// A problem with one input: it was not (fully) read, so it is not clean.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct InputError {
    pub source: ErrorSource,
    pub message: String,
}

impl InputError {
    pub fn file(
        file: impl Into<String>,
        line: u32,
        column: Option<u32>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            source: ErrorSource::File {
                file: file.into(),
                line,
                column,
            },
            message: message.into(),
        }
    }

    pub fn live(
        account: Option<String>,
        region: Option<String>,
        arn: Option<String>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            source: ErrorSource::Live {
                account,
                region,
                arn,
            },
            message: message.into(),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    pub files: usize,
    pub task_definitions: usize,
    pub containers: usize,
    /// Set by a live scan.
    pub live: Option<LiveSummary>,
}

/// What a live scan covered and cost.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LiveSummary {
    pub accounts: usize,
    pub regions: usize,
    /// The regions scanned, in any account.
    pub region_names: Vec<String>,
    /// The ARN of every revision read: what a finding can be gone from.
    pub scanned: Vec<String>,
    /// Older revisions (ACTIVE or INACTIVE) of families whose latest revision
    /// has findings: still readable, and not scanned without `--all-revisions`.
    pub older_revisions_not_scanned: usize,
    /// HTTP requests sent, retries included.
    pub api_calls: usize,
}

/// Everything one scan produced, sorted for deterministic output.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub findings: Vec<Finding>,
    /// Findings a suppression accepted: counted, shown with `-v`, and in
    /// SARIF as suppressed results, never dropped.
    pub suppressed: Vec<crate::suppress::Suppressed>,
    pub errors: Vec<InputError>,
    /// Things that were read only in part, or left out on purpose (a
    /// `container_definitions` that cannot be resolved, a symlink out of the
    /// tree): said, so that nothing is skipped silently, but not errors.
    pub notes: Vec<InputError>,
    /// Each file in which task definitions were recognised, with how many:
    /// what `-v` lists.
    pub recognised: Vec<(String, usize)>,
    pub summary: Summary,
}

impl Report {
    pub fn sort(&mut self) {
        self.findings
            .sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
        // The same variable reached twice (two resources rendering one
        // template under one family) is one finding.
        self.findings.dedup_by(|a, b| {
            a.location == b.location
                && a.fingerprint == b.fingerprint
                && a.rule == b.rule
                && a.container == b.container
        });
        self.errors.sort();
        self.errors.dedup();
        self.notes.sort();
        self.notes.dedup();
        self.recognised.sort();
    }

    /// The highest severity found, if any.
    pub fn max_severity(&self) -> Option<Severity> {
        self.findings.iter().map(|f| f.severity).max()
    }
}
