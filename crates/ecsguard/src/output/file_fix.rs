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
    let old: Vec<&str> = before.split_inclusive('\n').collect();
    let new: Vec<&str> = after.split_inclusive('\n').collect();
    let mut out = String::new();
    for (n, group) in similar::group_diff_ops(line_ops(&old, &new), 3)
        .iter()
        .enumerate()
    {
        let (Some(first), Some(last)) = (group.first(), group.last()) else {
            continue;
        };
        if n == 0 {
            let _ = writeln!(out, "--- a/{name}\n+++ b/{name}");
        }
        let range = |start: usize, end: usize| match end - start {
            1 => format!("{}", start + 1),
            0 => format!("{start},0"),
            len => format!("{},{len}", start + 1),
        };
        let _ = writeln!(
            out,
            "@@ -{} +{} @@",
            range(first.old_range().start, last.old_range().end),
            range(first.new_range().start, last.new_range().end)
        );
        for op in group {
            for (tag, lines) in [('-', &old[op.old_range()]), ('+', &new[op.new_range()])] {
                let tag = if op.tag() == similar::DiffTag::Equal {
                    if tag == '+' {
                        continue;
                    }
                    ' '
                } else {
                    tag
                };
                for line in lines {
                    out.push(tag);
                    out.push_str(line);
                    if !line.ends_with('\n') {
                        out.push_str("\n\\ No newline at end of file\n");
                    }
                }
            }
        }
    }
    out
}

/// The line changes from `old` to `new`. A rewrite keeps the order of what
/// it leaves, so the lines found once in each text anchor the diff (their
/// longest increasing run, as in patience diff), and only the short gaps
/// between anchors are diffed with Myers: linear in practice, where Myers
/// over a file with thousands of added lines grows with the square.
fn line_ops(old: &[&str], new: &[&str]) -> Vec<similar::DiffOp> {
    use similar::algorithms::{Capture, DiffHook, Replace};
    let mut seen: std::collections::HashMap<&str, (u32, u32, usize, usize)> =
        std::collections::HashMap::new();
    for (i, l) in old.iter().enumerate() {
        let e = seen.entry(l).or_default();
        e.0 += 1;
        e.2 = i;
    }
    for (j, l) in new.iter().enumerate() {
        let e = seen.entry(l).or_default();
        e.1 += 1;
        e.3 = j;
    }
    let mut pairs: Vec<(usize, usize)> = seen
        .values()
        .filter(|e| e.0 == 1 && e.1 == 1)
        .map(|e| (e.2, e.3))
        .collect();
    pairs.sort_unstable();
    // Longest increasing run of the new positions (patience sorting).
    let mut tails: Vec<usize> = Vec::new();
    let mut back: Vec<Option<usize>> = vec![None; pairs.len()];
    for (k, &(_, j)) in pairs.iter().enumerate() {
        let at = tails.partition_point(|&t| pairs[t].1 < j);
        back[k] = at.checked_sub(1).map(|p| tails[p]);
        if at == tails.len() {
            tails.push(k);
        } else {
            tails[at] = k;
        }
    }
    let mut anchors = Vec::new();
    let mut k = tails.last().copied();
    while let Some(at) = k {
        anchors.push(pairs[at]);
        k = back[at];
    }
    anchors.reverse();
    let mut hook = Replace::new(Capture::new());
    let (mut i, mut j) = (0, 0);
    for (ai, aj) in anchors.into_iter().chain([(old.len(), new.len())]) {
        let _ = similar::algorithms::myers::diff(&mut hook, old, i..ai, new, j..aj);
        if ai < old.len() {
            let _ = hook.equal(ai, aj, 1);
        }
        (i, j) = (ai + 1, aj + 1);
    }
    let _ = hook.finish();
    // Runs of equal lines come in pieces: joined, so that the hunks' context
    // is cut as usual.
    let mut ops: Vec<similar::DiffOp> = Vec::new();
    for op in hook.into_inner().into_ops() {
        if let (
            Some(similar::DiffOp::Equal { len, .. }),
            similar::DiffOp::Equal { len: more, .. },
        ) = (ops.last_mut(), &op)
        {
            *len += more;
            continue;
        }
        ops.push(op);
    }
    ops
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

#[cfg(test)]
mod diff_tests {
    use super::line_ops;

    /// The ops rebuild the new text from the old one, for texts with
    /// repeated, moved, added and removed lines.
    #[test]
    fn line_ops_rebuild_the_new_text() {
        let cases = [
            ("a\nb\nc\n", "a\nx\nc\n"),
            ("a\nb\nc", "a\nb\nc\nd"),
            ("}\n}\n}\n", "}\nx\n}\n"),
            ("", "a\n"),
            ("a\n", ""),
            ("a\nb\nc\nd\n", "d\nc\nb\na\n"),
            ("k\nv\n}\nk\nv\n}\n", "k\nv2\n}\nnew\n}\nk\nv\n}\n"),
        ];
        for (old, new) in cases {
            let o: Vec<&str> = old.split_inclusive('\n').collect();
            let n: Vec<&str> = new.split_inclusive('\n').collect();
            let mut rebuilt = String::new();
            let mut at = 0;
            for op in line_ops(&o, &n) {
                assert_eq!(op.old_range().start, at, "{old:?} -> {new:?}");
                at = op.old_range().end;
                match op.tag() {
                    similar::DiffTag::Equal => {
                        assert_eq!(o[op.old_range()], n[op.new_range()]);
                        rebuilt.extend(o[op.old_range()].iter().copied());
                    }
                    _ => rebuilt.extend(n[op.new_range()].iter().copied()),
                }
            }
            assert_eq!(at, o.len());
            assert_eq!(rebuilt, new);
        }
    }
}
