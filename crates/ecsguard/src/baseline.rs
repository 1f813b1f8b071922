//! Baselines: the findings a team has accepted, by fingerprint, so that CI
//! fails only on new ones. The file holds fingerprints and where each
//! finding was (for a reviewer), never a value.

use std::path::PathBuf;
use std::process::ExitCode;

use ecsguard_core::suppress::{Suppressed, SuppressionKind};
use ecsguard_core::{InputError, Location, Report};
use serde::{Deserialize, Serialize};

const VERSION: u32 = 1;

#[derive(Serialize, Deserialize)]
struct Baseline {
    version: u32,
    findings: Vec<Entry>,
}

#[derive(Serialize, Deserialize)]
struct Entry {
    fingerprint: String,
    rule: String,
    #[serde(default)]
    family: Option<String>,
    #[serde(default)]
    container: Option<String>,
    variable: String,
    /// A file path, or a task definition ARN.
    #[serde(default)]
    at: Option<String>,
}

/// `--baseline` and `--write-baseline`, and the config applied before them.
pub struct Files {
    pub read: Option<PathBuf>,
    pub write: Option<PathBuf>,
    pub config: Option<crate::config::Config>,
}

impl Files {
    /// Suppresses the findings the baseline holds, then writes the new
    /// baseline (of every finding, suppressed ones included). A baseline
    /// that cannot be read is a usage error naming its line.
    pub fn apply(&self, report: &mut Report) -> Result<(), ExitCode> {
        if let Some(config) = &self.config {
            config.apply(report);
        }
        if let Some(path) = &self.read {
            let shown = path.display();
            let text = std::fs::read_to_string(path).map_err(|e| {
                eprintln!("error: cannot read the baseline {shown}: {e}");
                ExitCode::from(2)
            })?;
            let baseline: Baseline = serde_json::from_str(&text).map_err(|e| {
                eprintln!(
                    "error: {shown}:{}:{}: not an ecsguard baseline ({e})",
                    e.line(),
                    e.column()
                );
                ExitCode::from(2)
            })?;
            if baseline.version != VERSION {
                eprintln!(
                    "error: {shown}:1: a baseline of version {} (this ecsguard reads version {VERSION})",
                    baseline.version
                );
                return Err(ExitCode::from(2));
            }
            let mut used = vec![false; baseline.findings.len()];
            let findings = std::mem::take(&mut report.findings);
            for f in findings {
                match baseline
                    .findings
                    .iter()
                    .position(|e| e.fingerprint == f.fingerprint && e.rule == f.rule.as_str())
                {
                    Some(i) => {
                        used[i] = true;
                        report.suppressed.push(Suppressed {
                            finding: f,
                            kind: SuppressionKind::Baseline,
                            reason: Some(format!("in the baseline {shown}")),
                        });
                    }
                    None => report.findings.push(f),
                }
            }
            let stale = used.iter().filter(|u| !**u).count();
            if stale > 0 {
                report.notes.push(InputError::file(
                    shown.to_string(),
                    1,
                    None,
                    format!(
                        "{stale} baseline entr{} matched no finding (fixed, or changed so that it is new): write the baseline again to drop {}",
                        if stale == 1 { "y" } else { "ies" },
                        if stale == 1 { "it" } else { "them" }
                    ),
                ));
            }
        }
        if let Some(path) = &self.write {
            let entry = |f: &ecsguard_core::Finding| Entry {
                fingerprint: f.fingerprint.clone(),
                rule: f.rule.as_str().to_owned(),
                family: f.family.clone(),
                container: f.container.clone(),
                variable: f.variable.clone(),
                at: Some(match &f.location {
                    Location::File { file, .. } => file.clone(),
                    Location::Live { arn, .. } => arn.clone(),
                }),
            };
            let mut findings: Vec<Entry> = report
                .findings
                .iter()
                .chain(report.suppressed.iter().map(|s| &s.finding))
                .map(entry)
                .collect();
            findings.sort_by(|a, b| (&a.at, &a.fingerprint).cmp(&(&b.at, &b.fingerprint)));
            let doc = Baseline {
                version: VERSION,
                findings,
            };
            let mut json = serde_json::to_string_pretty(&doc).unwrap_or_default();
            json.push('\n');
            std::fs::write(path, json).map_err(|e| {
                eprintln!("error: cannot write the baseline {}: {e}", path.display());
                ExitCode::from(2)
            })?;
        }
        Ok(())
    }
}
