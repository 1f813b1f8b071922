//! Rendering a file fix plan: a unified diff per file, with every value
//! redacted, and each finding's outcome. The diffs are made from texts in
//! which each environment value of the touched containers is replaced by a
//! marker, so no value can reach them.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use ecsguard_iac::fix::iam::ExecutionRole;
use ecsguard_iac::fix::{FilePatch, FixPlan, OutcomeKind};
use serde_json::json;

use super::text::clean;

/// What applying did.
pub struct Outcome<'a> {
    pub apply: bool,
    pub written: &'a [PathBuf],
    pub push_errors: &'a [String],
    pub write_error: Option<&'a str>,
    pub journal: Option<&'a Path>,
}

impl Outcome<'_> {
    /// The push or the write failed: nothing was written.
    pub fn failed(&self) -> bool {
        self.write_error.is_some() || !self.push_errors.is_empty()
    }
}

/// The redacted unified diff of one file.
pub fn diff(patch: &FilePatch) -> String {
    let (before, after) = patch.redacted_texts();
    let name = patch.path.display().to_string();
    // `a/tmp/x`, not `a//tmp/x`, for an absolute path (as git writes it).
    let name = name.trim_start_matches('/');
    similar::TextDiff::from_lines(&before, &after)
        .unified_diff()
        .context_radius(3)
        .header(&format!("a/{name}"), &format!("b/{name}"))
        .to_string()
}

/// `file:line[:column]` of an input error.
fn place_of(e: &ecsguard_core::InputError) -> String {
    match &e.source {
        ecsguard_core::ErrorSource::File { file, line, column } => match column {
            Some(c) => format!("{file}:{line}:{c}"),
            None => format!("{file}:{line}"),
        },
        ecsguard_core::ErrorSource::Live { arn, region, .. } => {
            arn.clone().or_else(|| region.clone()).unwrap_or_default()
        }
    }
}

fn place(p: &ecsguard_iac::fix::Planned) -> String {
    let f = &p.finding;
    let at = match &f.location {
        ecsguard_core::Location::File { file, line, .. } => format!("{file}:{line}"),
        ecsguard_core::Location::Live { arn, .. } => arn.clone(),
    };
    format!(
        "{at} {} {}/{}",
        clean(&f.variable),
        clean(f.family.as_deref().unwrap_or("-")),
        clean(f.container.as_deref().unwrap_or("-"))
    )
}

pub fn text(plan: &FixPlan, outcome: &Outcome<'_>) -> String {
    let mut out = String::new();
    for patch in &plan.files {
        // Line by line: control characters inside a line are escaped, the
        // diff's own line breaks are kept.
        for line in diff(patch).lines() {
            let parts: Vec<_> = line.split('\t').map(clean).collect();
            out.push_str(&parts.join("\t"));
            out.push('\n');
        }
        out.push('\n');
    }
    for p in &plan.planned {
        let _ = writeln!(
            out,
            "{:<10} {}  [{}]",
            p.outcome.as_str(),
            place(p),
            p.finding.rule
        );
        let _ = writeln!(out, "           {}", clean(&p.reason));
        if let Some(v) = &p.value_from {
            let _ = writeln!(out, "           valueFrom {}", clean(v));
        }
        if outcome.apply && outcome.failed() && p.outcome == OutcomeKind::Fixed {
            let _ = writeln!(
                out,
                "           not written: the run stopped before writing any file"
            );
        }
    }
    for note in &plan.iam {
        if let Some(done) = &note.written {
            let _ = writeln!(
                out,
                "{:<10} {} {}: {}",
                "iam",
                clean(&note.file),
                clean(&note.family),
                clean(done)
            );
            continue;
        }
        let what = match &note.role {
            ExecutionRole::Set(role) => format!(
                "its execution role ({}) must be allowed to read the moved values before the rewritten task definition is deployed; attach",
                clean(role)
            ),
            ExecutionRole::Missing => "it has no execution role, and ECS reads secrets with it: add one (with AmazonECSTaskExecutionRolePolicy) and attach".to_owned(),
            ExecutionRole::Unknown => "its execution role is not written in this file (the task definition is elsewhere, or takes it from an input): make sure it has one, since ECS reads secrets with it, and before deploying attach to it".to_owned(),
        };
        let _ = writeln!(
            out,
            "{:<10} {} {}: {what}",
            "iam",
            clean(&note.file),
            clean(&note.family)
        );
        let _ = writeln!(out, "           {}", clean(&note.policy));
    }
    for e in &plan.errors {
        let _ = writeln!(out, "error: {}: {}", clean(&place_of(e)), clean(&e.message));
    }
    for e in outcome.push_errors {
        let _ = writeln!(out, "error: {}; no file was changed", clean(e));
    }
    if let Some(e) = outcome.write_error {
        let _ = writeln!(out, "error: {}", clean(e));
    }
    if let Some(j) = outcome.journal {
        let _ = writeln!(out, "journal {}", j.display());
    }
    let count = |k: OutcomeKind| plan.planned.iter().filter(|p| p.outcome == k).count();
    let _ = writeln!(
        out,
        "{} fixed, {} needs-push, {} manual, {} unchanged, {} execution role grant(s) to make; {}",
        count(OutcomeKind::Fixed),
        count(OutcomeKind::NeedsPush),
        count(OutcomeKind::Manual),
        count(OutcomeKind::Unchanged),
        plan.iam.iter().filter(|n| n.written.is_none()).count(),
        if !outcome.apply {
            "plan only: pass --apply to write the files (and --push to store the literal values first)".to_owned()
        } else if outcome.failed() {
            "nothing was written".to_owned()
        } else {
            format!("{} file(s) written", outcome.written.len())
        }
    );
    out
}

/// The plan as JSON (`"version": 1`): names, ARNs and redacted diffs only.
pub fn json(plan: &FixPlan, outcome: &Outcome<'_>) -> serde_json::Value {
    json!({
        "version": 1,
        "applied": outcome.apply && !outcome.failed(),
        "files": plan.files.iter().map(|p| json!({
            "path": p.path.display().to_string(),
            "diff": diff(p),
            "written": outcome.written.contains(&p.path),
        })).collect::<Vec<_>>(),
        "findings": plan.planned.iter().map(|p| {
            let (file, line) = match &p.finding.location {
                ecsguard_core::Location::File { file, line, .. } => (Some(file.clone()), Some(*line)),
                ecsguard_core::Location::Live { .. } => (None, None),
            };
            json!({
                "file": file,
                "line": line,
                "family": p.finding.family,
                "container": p.finding.container,
                "variable": p.finding.variable,
                "rule": p.finding.rule.as_str(),
                "outcome": p.outcome.as_str(),
                "written": p.outcome == OutcomeKind::Fixed && outcome.apply && !outcome.failed(),
                "reason": p.reason,
                "store_name": p.store_name,
                "value_from": p.value_from,
            })
        }).collect::<Vec<_>>(),
        "iam": plan.iam.iter().map(|n| json!({
            "file": n.file,
            "family": n.family,
            "execution_role": match &n.role {
                ExecutionRole::Set(r) => json!(r),
                ExecutionRole::Missing => json!(null),
                ExecutionRole::Unknown => json!("unknown"),
            },
            "resources": n.resources,
            "written": n.written,
            "policy": serde_json::from_str::<serde_json::Value>(&n.policy).unwrap_or_default(),
        })).collect::<Vec<_>>(),
        "pushes": plan.pushes.iter().map(|p| json!({
            "store_name": p.store_name,
            "keys": p.entries.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "journal": outcome.journal.map(|j| j.display().to_string()),
        "errors": plan.errors.iter().map(|e| format!("{}: {}", place_of(e), e.message))
            .chain(outcome.push_errors.iter().cloned())
            .chain(outcome.write_error.map(str::to_owned))
            .collect::<Vec<_>>(),
    })
}
