//! SARIF 2.1.0 output, for GitHub code scanning and other SARIF consumers.

use std::collections::BTreeMap;

use ecsguard_core::{ErrorSource, Finding, Location as FindingLocation, Report, RuleId, Severity};
use serde_sarif::sarif::{
    ArtifactChange, ArtifactContent, ArtifactLocation, Fix, Invocation, Location, Message,
    MultiformatMessageString, Notification, PhysicalLocation, PropertyBag, Region, Replacement,
    ReportingConfiguration, ReportingDescriptor, Result as SarifResult, ResultLevel, Run, Sarif,
    Suppression, Tool, ToolComponent,
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
        // `:` is encoded too: a first segment holding one would read as a
        // scheme (`https:evil.com`).
        if b.is_ascii_alphanumeric() || b"/-._~@!$&'()*+,;=".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn result(f: &Finding, fixes: &std::collections::HashMap<FixKey, Fix>) -> SarifResult {
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
    let mut r = match f.value_location.as_deref() {
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
    };
    if let FindingLocation::File { file, line, .. } = &f.location {
        if let Some(fix) = fixes.get(&(file.clone(), *line, f.fingerprint.clone())) {
            r.fixes = Some(vec![fix.clone()]);
        }
    }
    r
}

pub fn write(
    report: &Report,
    exit_code: i32,
    fixes: &std::collections::HashMap<FixKey, Fix>,
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
        let mut r = result(&s.finding, fixes);
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
        .map(|f| result(f, fixes))
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

/// Which result a fix belongs to: the finding's file, line and fingerprint.
pub type FixKey = (String, u32, String);

/// SARIF `fixes` for the files a file fix settles on its own: each
/// rewrite is one fix, on the first result it settles (the file's change is
/// one piece: put on every result, a consumer applying several would apply
/// it twice). A file qualifies when every rewrite in it is `fixed` (nothing
/// to store first) and every execution-role grant it needs is written in it.
/// The changes are the file fix's own edits (or line hunks where Terraform
/// is aligned again); a file whose change would carry an environment value
/// the other formats hide gets no fix, so a fix never holds a value.
pub fn file_fixes(plan: &ecsguard_iac::fix::FixPlan) -> std::collections::HashMap<FixKey, Fix> {
    use ecsguard_iac::fix::OutcomeKind;
    let mut out = std::collections::HashMap::new();
    for patch in &plan.files {
        let file = patch.path.to_string_lossy();
        let in_file = |p: &&ecsguard_iac::fix::Planned| matches!(&p.finding.location, FindingLocation::File { file: f, .. } if *f == file);
        let fixed: Vec<&ecsguard_iac::fix::Planned> = plan
            .planned
            .iter()
            .filter(in_file)
            .filter(|p| p.outcome == OutcomeKind::Fixed)
            .collect();
        let Some(first) = fixed.first() else {
            continue;
        };
        let grant_missing = plan
            .iam
            .iter()
            .any(|n| n.file == file && n.written.is_none());
        if grant_missing {
            continue;
        }
        let Some(replacements) = replacements(patch) else {
            continue;
        };
        let FindingLocation::File { line, .. } = &first.finding.location else {
            continue;
        };
        let change = ArtifactChange::builder()
            .artifact_location(ArtifactLocation::builder().uri(uri(&file)).build())
            .replacements(replacements)
            .build();
        let names: Vec<String> = fixed
            .iter()
            .map(|p| format!("`{}`", p.finding.variable))
            .collect();
        let description = format!(
            "Read {} through `secrets` (this fixes every finding of the file that `ecsguard fix` settles alone)",
            names.join(", ")
        );
        out.insert(
            (
                file.clone().into_owned(),
                *line,
                first.finding.fingerprint.clone(),
            ),
            Fix::builder()
                .description(Message::builder().text(description).build())
                .artifact_changes(vec![change])
                .build(),
        );
    }
    out
}

/// The changes that turn the file into its fixed text, as character ranges
/// of the original; None when an inserted text holds anything the fix
/// plan's diff would mask (`fix::mask`: any value of the file, moved or
/// not, but references and names), so a fix never carries a value.
fn replacements(patch: &ecsguard_iac::fix::FilePatch) -> Option<Vec<Replacement>> {
    let old = &patch.original;
    let new = patch.patched();
    // An inserted line may hold text of the file (moved, or aligned anew):
    // a comment with a token, a command with a password. A fix inserts only
    // lines the diff shows unmasked, as the fix writes them.
    let file = ecsguard_iac::fix::mask::file_tokens(old);
    let carries =
        |text: &str| ecsguard_iac::fix::mask::mask_text(text, &file, patch.is_yaml()) != text;
    // Without realignment or line-end conversion the patch's own edits are
    // the change, as small as it was made.
    if patch.realign.is_empty() && !old.contains("\r\n") {
        let mut edits: Vec<&ecsguard_iac::fix::Edit> = patch.edits.iter().collect();
        edits.sort_by_key(|e| (e.start, e.end));
        // Applied as `apply_edits` does, in order; edits that touch (two
        // insertions at one place) become one replacement, since SARIF does
        // not order replacements at one offset.
        let mut merged: Vec<(usize, usize, String)> = Vec::new();
        for e in edits {
            match merged.last_mut() {
                Some(last) if e.start < last.1 => continue,
                Some(last) if e.start == last.1 => {
                    last.1 = e.end;
                    last.2.push_str(&e.text);
                }
                _ => merged.push((e.start, e.end, e.text.clone())),
            }
        }
        let mut out = Vec::new();
        for (start, end, text) in merged {
            if carries(&text) {
                return None;
            }
            let offset = old.get(..start)?.chars().count();
            let length = old.get(start..end)?.chars().count();
            let region = Region::builder()
                .char_offset(i64::try_from(offset).ok()?)
                .char_length(i64::try_from(length).ok()?)
                .build();
            out.push(if text.is_empty() {
                Replacement::builder().deleted_region(region).build()
            } else {
                Replacement::builder()
                    .deleted_region(region)
                    .inserted_content(ArtifactContent::builder().text(text).build())
                    .build()
            });
        }
        return (!out.is_empty()).then_some(out);
    }
    let diff = similar::TextDiff::from_lines(old.as_str(), new.as_str());
    let old_lines: Vec<&str> = diff.old_slices().to_vec();
    let new_lines: Vec<&str> = diff.new_slices().to_vec();
    // Character offset of each old line's start (SARIF counts characters,
    // as the run's columnKind says: Unicode code points).
    let mut starts = Vec::with_capacity(old_lines.len() + 1);
    let mut at = 0usize;
    for l in &old_lines {
        starts.push(at);
        at += l.chars().count();
    }
    starts.push(at);
    let mut out = Vec::new();
    // Positions in the old text are counted from the ops' lengths, in
    // order: an insertion's own `old_index` can name the line before the
    // one it follows.
    let mut cursor = 0usize;
    for op in diff.ops() {
        let (tag, old_range, new_range) = op.as_tag_tuple();
        let (from, to) = (cursor, cursor + old_range.len());
        cursor = to;
        if tag == similar::DiffTag::Equal {
            continue;
        }
        let inserted: String = new_lines[new_range].concat();
        if carries(&inserted) {
            return None;
        }
        let offset = starts[from];
        let length = starts[to] - offset;
        let region = Region::builder()
            .char_offset(i64::try_from(offset).ok()?)
            .char_length(i64::try_from(length).ok()?)
            .build();
        out.push(if inserted.is_empty() {
            Replacement::builder().deleted_region(region).build()
        } else {
            Replacement::builder()
                .deleted_region(region)
                .inserted_content(ArtifactContent::builder().text(inserted).build())
                .build()
        });
    }
    (!out.is_empty()).then_some(out)
}
