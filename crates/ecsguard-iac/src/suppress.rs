//! Inline suppressions in source files: `ecsguard: ignore[rule-id] reason`
//! in a comment on a finding's line or the line above it. Markers that
//! suppress nothing, or name no rule, are reported as notes.

use std::collections::BTreeMap;
use std::path::PathBuf;

use ecsguard_core::suppress::{markers, Marker, Suppressed, SuppressionKind};
use ecsguard_core::{InputError, Location, Report};

/// Moves the findings that a marker covers to `report.suppressed`, and
/// notes the markers that cover nothing. `files` are the files scanned;
/// the files findings are in (templates read through a `.tf`) are read
/// too.
pub fn inline(report: &mut Report, files: &[PathBuf], max_file_size: u64) {
    let mut names: Vec<String> = files.iter().map(|p| p.display().to_string()).collect();
    for f in &report.findings {
        if let Location::File { file, .. } = &f.location {
            names.push(file.clone());
        }
    }
    names.sort();
    names.dedup();
    // Each file's markers, and which of them were used.
    let mut by_file: BTreeMap<String, Vec<(Marker, bool)>> = BTreeMap::new();
    for name in names {
        // Regular files only: a pipe named on the command line was read
        // once, by the scan, and would block here.
        if !std::fs::metadata(&name).is_ok_and(|m| m.is_file()) {
            continue;
        }
        let Ok(text) = crate::input::read_text(std::path::Path::new(&name), max_file_size) else {
            continue;
        };
        let found = markers(&text);
        if !found.is_empty() {
            by_file.insert(name, found.into_iter().map(|m| (m, false)).collect());
        }
    }
    if by_file.is_empty() {
        return;
    }
    let findings = std::mem::take(&mut report.findings);
    for f in findings {
        let lines: Vec<(&str, u32)> = [Some(&f.location), f.value_location.as_deref()]
            .into_iter()
            .flatten()
            .filter_map(|l| match l {
                Location::File { file, line, .. } => Some((file.as_str(), *line)),
                Location::Live { .. } => None,
            })
            .collect();
        let mut hit = None;
        for (file, line) in lines {
            if let Some(marks) = by_file.get_mut(file) {
                if let Some((m, used)) = marks.iter_mut().find(|(m, _)| m.covers(f.rule, line)) {
                    *used = true;
                    hit = Some(m.reason.clone());
                    break;
                }
            }
        }
        match hit {
            Some(reason) => report.suppressed.push(Suppressed {
                finding: f,
                kind: SuppressionKind::Inline,
                reason,
            }),
            None => report.findings.push(f),
        }
    }
    for (file, marks) in by_file {
        for (m, used) in marks {
            let unknown = m.unknown_rules();
            let message = if !unknown.is_empty() {
                format!(
                    "`ecsguard: ignore[…]` names no rule: {} (`ecsguard rules` lists them)",
                    unknown.join(", ")
                )
            } else if !used {
                format!(
                    "unused suppression: no {} finding on this line or the next",
                    m.rules.join(" or ")
                )
            } else {
                continue;
            };
            report
                .notes
                .push(InputError::file(file.clone(), m.line, None, message));
        }
    }
}
