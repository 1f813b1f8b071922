//! SARIF 2.1.0 output, for GitHub code scanning and other SARIF consumers.

use std::collections::BTreeMap;

use ecsguard_core::{ErrorSource, Finding, Location as FindingLocation, Report, RuleId, Severity};
use serde_sarif::sarif::{
    ArtifactLocation, Invocation, Location, Message, MultiformatMessageString, Notification,
    PhysicalLocation, PropertyBag, Region, ReportingConfiguration, ReportingDescriptor,
    Result as SarifResult, ResultLevel, Run, Sarif, Suppression, Tool, ToolComponent,
};

fn level(s: Severity) -> &'static str {
    match s {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low => "note",
    }
}

fn result_level(s: Severity) -> ResultLevel {
    match s {
        Severity::Critical | Severity::High => ResultLevel::Error,
        Severity::Medium => ResultLevel::Warning,
        Severity::Low => ResultLevel::Note,
    }
}

/// GitHub's `security-severity`: a CVSS-like score that ranks alerts.
fn security_severity(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "9.5",
        Severity::High => "8.0",
        Severity::Medium => "5.5",
        Severity::Low => "3.0",
    }
}

fn rule(id: RuleId) -> ReportingDescriptor {
    // Every rule reports literals as high; references to secret inputs as medium.
    let default = Severity::High;
    let mut props = BTreeMap::new();
    props.insert(
        "security-severity".to_owned(),
        serde_json::json!(security_severity(default)),
    );
    let mut tags = vec![
        "security".to_owned(),
        "secrets".to_owned(),
        "ecs".to_owned(),
    ];
    tags.extend(id.controls().iter().map(|c| format!("aws-securityhub/{c}")));
    ReportingDescriptor::builder()
        .id(id.as_str())
        .name(id.as_str())
        .short_description(
            MultiformatMessageString::builder()
                .text(id.description())
                .build(),
        )
        .help_uri(id.help_uri())
        .default_configuration(
            ReportingConfiguration::builder()
                .level(serde_json::json!(level(default)))
                .build(),
        )
        .properties(
            PropertyBag::builder()
                .tags(tags)
                .additional_properties(props)
                .build(),
        )
        .build()
}

fn location(l: &FindingLocation) -> Location {
    match l {
        FindingLocation::File { file, line, column } => Location::builder()
            .physical_location(
                PhysicalLocation::builder()
                    .artifact_location(ArtifactLocation::builder().uri(uri(file)).build())
                    .region(
                        Region::builder()
                            .start_line(i64::from(*line))
                            .start_column(i64::from(*column))
                            .build(),
                    )
                    .build(),
            )
            .build(),
        FindingLocation::Live { arn, region, .. } => Location::builder()
            .message(Message::builder().text(format!("{arn} ({region})")).build())
            .build(),
    }
}

/// A relative URI reference for a path (`./a b.json` → `a%20b.json`).
fn uri(path: &str) -> String {
    let path = path.strip_prefix("./").unwrap_or(path).replace('\\', "/");
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || b"/-._~:@!$&'()*+,;=".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn result(f: &Finding) -> SarifResult {
    let index = RuleId::ALL.iter().position(|r| *r == f.rule).unwrap_or(0);
    let mut fingerprints = BTreeMap::new();
    fingerprints.insert("ecsguard/v1".to_owned(), f.fingerprint.clone());
    let mut props = BTreeMap::new();
    props.insert(
        "severity".to_owned(),
        serde_json::json!(f.severity.as_str()),
    );
    props.insert("detectors".to_owned(), serde_json::json!(f.detectors));
    props.insert("family".to_owned(), serde_json::json!(f.family));
    props.insert("container".to_owned(), serde_json::json!(f.container));
    props.insert("variable".to_owned(), serde_json::json!(f.variable));
    let builder = SarifResult::builder()
        .rule_id(f.rule.as_str())
        .rule_index(i64::try_from(index).unwrap_or(0))
        .level(result_level(f.severity))
        .message(Message::builder().text(f.message.as_str()).build())
        .locations(vec![location(&f.location)])
        .partial_fingerprints(fingerprints)
        .properties(PropertyBag::builder().additional_properties(props).build());
    match f.value_location.as_deref() {
        // Where the value is written (a `.tfvars` file, a default …).
        Some(ecsguard_core::Location::File { file, line, column }) => {
            let mut related = location(&FindingLocation::File {
                file: file.clone(),
                line: *line,
                column: *column,
            });
            related.message = Some(Message::builder().text("the value is written here").build());
            builder.related_locations(vec![related]).build()
        }
        _ => builder.build(),
    }
}

pub fn write(
    report: &Report,
    exit_code: i32,
    out: &mut impl std::io::Write,
) -> serde_json::Result<()> {
    let levels = report
        .errors
        .iter()
        .map(|e| ("error", e))
        .chain(report.notes.iter().map(|n| ("note", n)));
    let notifications: Vec<Notification> = levels
        .map(|(level, e)| {
            let place = match &e.source {
                ErrorSource::File { file, line, column } => FindingLocation::File {
                    file: file.clone(),
                    line: *line,
                    column: column.unwrap_or(1),
                },
                ErrorSource::Live {
                    account,
                    region,
                    arn,
                } => FindingLocation::Live {
                    arn: arn.clone().unwrap_or_default(),
                    account: account.clone().unwrap_or_default(),
                    region: region.clone().unwrap_or_default(),
                },
            };
            Notification::builder()
                .level(serde_json::json!(level))
                .message(Message::builder().text(e.message.as_str()).build())
                .locations(vec![location(&place)])
                .build()
        })
        .collect();
    let driver = ToolComponent::builder()
        .name("ecsguard")
        .semantic_version(env!("CARGO_PKG_VERSION"))
        .information_uri("https://github.com/ecsguard/ecsguard")
        .rules(RuleId::ALL.iter().map(|r| rule(*r)).collect::<Vec<_>>())
        .build();
    let invocation = Invocation::builder()
        .execution_successful(report.errors.is_empty())
        .exit_code(i64::from(exit_code))
        .tool_execution_notifications(notifications)
        .build();
    // Suppressed findings are results too, marked so (code scanning shows
    // them as dismissed), with the justification given.
    let suppressed = report.suppressed.iter().map(|s| {
        let mut r = result(&s.finding);
        let kind = match s.kind {
            ecsguard_core::suppress::SuppressionKind::Inline => "inSource",
            ecsguard_core::suppress::SuppressionKind::Baseline
            | ecsguard_core::suppress::SuppressionKind::Config => "external",
        };
        let suppression = match &s.reason {
            Some(reason) => Suppression::builder()
                .kind(serde_json::json!(kind))
                .justification(reason.as_str())
                .build(),
            None => Suppression::builder().kind(serde_json::json!(kind)).build(),
        };
        r.suppressions = Some(vec![suppression]);
        r
    });
    let results: Vec<SarifResult> = report
        .findings
        .iter()
        .map(result)
        .chain(suppressed)
        .collect();
    let run = Run::builder()
        .tool(Tool::builder().driver(driver).build())
        // Our columns count characters (Unicode code points), not UTF-16 units.
        .column_kind(serde_json::json!("unicodeCodePoints"))
        .results(results)
        .invocations(vec![invocation])
        .build();
    let sarif = Sarif::builder()
        .schema(serde_sarif::sarif::SCHEMA_URL)
        .version(serde_json::json!("2.1.0"))
        .runs(vec![run])
        .build();
    serde_json::to_writer_pretty(&mut *out, &sarif)?;
    out.write_all(b"\n").map_err(serde_json::Error::io)
}
