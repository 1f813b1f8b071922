//! `.ecsguard.toml`: found upward from the scanned path, or given with
//! `--config FILE`. It selects rules, overrides severities, leaves paths
//! out, and accepts findings (by family, container and variable, or by
//! fingerprint), each with a reason and an optional `expires` date. An
//! accepted finding is suppressed, never dropped; an ignore that matched
//! nothing, or has expired, is reported.
//!
//! ```toml
//! [rules]
//! ignore = ["secret-valued-variable"]        # or: select = [...]
//!
//! [severity]
//! secret-named-variable = "medium"
//!
//! ignore_paths = ["test/fixtures/**"]
//!
//! [[ignore]]
//! family = "billing-api"
//! container = "api"
//! variable = "LEGACY_TOKEN"
//! reason = "read-only token for a sandbox, JIRA-123"
//! expires = "2027-03-31"
//! ```

use std::path::{Path, PathBuf};

use ecsguard_core::suppress::{Suppressed, SuppressionKind};
use ecsguard_core::{InputError, Location, Report, RuleId, Severity};
use serde::Deserialize;

pub const FILE_NAME: &str = ".ecsguard.toml";

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    #[serde(default)]
    rules: Rules,
    #[serde(default)]
    severity: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    ignore_paths: Vec<String>,
    #[serde(default)]
    ignore: Vec<Ignore>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Rules {
    select: Option<Vec<String>>,
    #[serde(default)]
    ignore: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Ignore {
    family: Option<String>,
    container: Option<String>,
    variable: Option<String>,
    fingerprint: Option<String>,
    rule: Option<String>,
    reason: String,
    expires: Option<String>,
}

/// A config, checked.
pub struct Config {
    path: PathBuf,
    /// The rules that report (all when `None`).
    select: Option<Vec<RuleId>>,
    severity: Vec<(RuleId, Severity)>,
    ignore_paths: globset::GlobSet,
    ignores: Vec<Ignore>,
    /// The 1-based line of each `[[ignore]]`, for what is said about it.
    ignore_lines: Vec<u32>,
}

fn line_of(text: &str, offset: usize) -> u32 {
    u32::try_from(text[..offset.min(text.len())].matches('\n').count() + 1).unwrap_or(u32::MAX)
}

/// `.ecsguard.toml` in the folder of `start` or above it.
pub fn find(start: &Path) -> Option<PathBuf> {
    let start = std::fs::canonicalize(start).ok()?;
    let mut dir = if start.is_dir() {
        Some(start.as_path())
    } else {
        start.parent()
    };
    while let Some(d) = dir {
        let candidate = d.join(FILE_NAME);
        if candidate.is_file() {
            return Some(candidate);
        }
        dir = d.parent();
    }
    None
}

/// A TOML error message with the text it quotes left out (`unknown field
/// `…``), but for the names of keys, which it quotes too.
fn quiet(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    for (i, part) in message.split('`').enumerate() {
        let key_name = part.len() <= 24
            && !part.is_empty()
            && part.bytes().all(|b| b.is_ascii_lowercase() || b == b'_');
        if i % 2 == 1 && !key_name {
            out.push_str("`…`");
        } else if i % 2 == 1 {
            out.push('`');
            out.push_str(part);
            out.push('`');
        } else {
            out.push_str(part);
        }
    }
    out
}

/// Reads and checks a config; errors name the file and line, never the
/// text they found.
pub fn load(path: &Path) -> Result<Config, String> {
    let shown = path.display();
    let text = std::fs::read_to_string(path).map_err(|e| format!("{shown}: cannot read: {e}"))?;
    let raw: Raw = toml::from_str(&text).map_err(|e| {
        let line = e.span().map_or(1, |s| line_of(&text, s.start));
        format!("{shown}:{line}: {}", quiet(e.message()))
    })?;
    let at = |needle: &str| text.find(needle).map_or(1, |o| line_of(&text, o));
    let rule = |id: &str, key: &str| {
        RuleId::parse(id).ok_or_else(|| {
            let known: Vec<&str> = RuleId::ALL.iter().map(|r| r.as_str()).collect();
            // What was written is not repeated: a config is no place for
            // a secret, but one pasted there by mistake stays unprinted.
            format!(
                "{shown}:{}: {} is no rule id (the rules are {})",
                at(key),
                if id.is_empty() {
                    "an empty string"
                } else {
                    "this"
                },
                known.join(", ")
            )
        })
    };
    let mut select = match &raw.rules.select {
        Some(ids) => Some(
            ids.iter()
                .map(|id| rule(id, "select"))
                .collect::<Result<Vec<_>, _>>()?,
        ),
        None => None,
    };
    for id in &raw.rules.ignore {
        let r = rule(id, id)?;
        let all = select.get_or_insert_with(|| RuleId::ALL.to_vec());
        all.retain(|x| *x != r);
    }
    let mut severity = Vec::new();
    for (id, level) in &raw.severity {
        let r = rule(id, id)?;
        let s: Severity = level.parse().map_err(|_| {
            format!(
                "{shown}:{}: the severity for {} must be low, medium, high or critical",
                at(level),
                r.as_str()
            )
        })?;
        severity.push((r, s));
    }
    let mut globs = globset::GlobSetBuilder::new();
    for g in &raw.ignore_paths {
        let glob = globset::Glob::new(g).map_err(|e| {
            format!(
                "{shown}:{}: ignore_paths: not a glob pattern ({})",
                at(g),
                e.kind()
            )
        })?;
        globs.add(glob);
    }
    let ignore_paths = globs
        .build()
        .map_err(|e| format!("{shown}: ignore_paths: {e}"))?;
    let mut ignore_lines = Vec::new();
    let mut from = 0;
    for (i, ig) in raw.ignore.iter().enumerate() {
        let offset = text[from..].find("[[ignore]]").map_or(0, |o| from + o);
        from = offset + 1;
        let line = line_of(&text, offset);
        ignore_lines.push(line);
        let says = |what: &str| format!("{shown}:{line}: ignore #{}: {what}", i + 1);
        if ig.fingerprint.is_none() && ig.variable.is_none() {
            return Err(says(
                "name a `variable` (with `family`, `container`) or a `fingerprint`",
            ));
        }
        if ig.reason.trim().is_empty() {
            return Err(says("give a `reason`"));
        }
        if let Some(r) = &ig.rule {
            rule(r, r)?;
        }
        if let Some(d) = &ig.expires {
            parse_date(d).ok_or_else(|| says("`expires` is not a date (YYYY-MM-DD)"))?;
        }
    }
    Ok(Config {
        path: path.to_path_buf(),
        select,
        severity,
        ignore_paths,
        ignores: raw.ignore,
        ignore_lines,
    })
}

/// Days since 1970-01-01 of a `YYYY-MM-DD` date.
fn parse_date(s: &str) -> Option<i64> {
    let mut parts = s.trim().splitn(3, '-');
    let y: i64 = parts.next()?.parse().ok()?;
    let m: i64 = parts.next()?.parse().ok()?;
    let d: i64 = parts.next()?.parse().ok()?;
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    // Howard Hinnant's days_from_civil.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some(era * 146_097 + doe - 719_468)
}

fn today() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs() / 86_400).unwrap_or(0))
}

impl Config {
    /// The rules the config keeps (all of them without a selection).
    pub fn selected(&self) -> Vec<RuleId> {
        self.select.clone().unwrap_or_else(|| RuleId::ALL.to_vec())
    }

    /// Applies the config to a scan's report.
    pub fn apply(&self, report: &mut Report) {
        let shown = self.path.display().to_string();
        let today = std::env::var("ECSGUARD_TODAY")
            .ok()
            .and_then(|d| parse_date(&d))
            .unwrap_or_else(today);
        let findings = std::mem::take(&mut report.findings);
        let mut used = vec![false; self.ignores.len()];
        for mut f in findings {
            if self.select.as_ref().is_some_and(|s| !s.contains(&f.rule)) {
                continue;
            }
            if let Some((_, s)) = self.severity.iter().find(|(r, _)| *r == f.rule) {
                f.severity = *s;
            }
            // Paths in the config are relative to its folder.
            let file = match &f.location {
                Location::File { file, .. } => std::fs::canonicalize(file).ok().and_then(|abs| {
                    let base = std::fs::canonicalize(self.path.parent()?).ok()?;
                    abs.strip_prefix(base).ok().map(Path::to_path_buf)
                }),
                Location::Live { .. } => None,
            };
            if file.as_ref().is_some_and(|p| self.ignore_paths.is_match(p)) {
                report.suppressed.push(Suppressed {
                    finding: f,
                    kind: SuppressionKind::Config,
                    reason: Some(format!("ignore_paths in {shown}")),
                });
                continue;
            }
            let matched = self.ignores.iter().enumerate().find(|(_, ig)| {
                let eq = |want: &Option<String>, have: Option<&str>| {
                    want.as_deref().is_none_or(|w| Some(w) == have)
                };
                eq(&ig.fingerprint, Some(&f.fingerprint))
                    && eq(&ig.family, f.family.as_deref())
                    && eq(&ig.container, f.container.as_deref())
                    && eq(&ig.variable, Some(&f.variable))
                    && eq(&ig.rule, Some(f.rule.as_str()))
                    && ig
                        .expires
                        .as_deref()
                        .and_then(parse_date)
                        .is_none_or(|d| d >= today)
            });
            match matched {
                Some((i, ig)) => {
                    used[i] = true;
                    report.suppressed.push(Suppressed {
                        finding: f,
                        kind: SuppressionKind::Config,
                        reason: Some(ig.reason.clone()),
                    });
                }
                None => report.findings.push(f),
            }
        }
        for (i, ig) in self.ignores.iter().enumerate() {
            let expired = ig
                .expires
                .as_deref()
                .and_then(parse_date)
                .is_some_and(|d| d < today);
            let message = if expired {
                format!(
                    "ignore #{} expired on {}: its findings are reported again",
                    i + 1,
                    ig.expires.as_deref().unwrap_or_default()
                )
            } else if !used[i] {
                format!("ignore #{} matched no finding (fixed?): remove it", i + 1)
            } else {
                continue;
            };
            report.notes.push(InputError::file(
                shown.clone(),
                self.ignore_lines.get(i).copied().unwrap_or(1),
                None,
                message,
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(parse_date("1970-01-01"), Some(0));
        assert_eq!(parse_date("2000-03-01"), Some(11_017));
        assert_eq!(parse_date("2026-13-01"), None);
        assert_eq!(parse_date("soon"), None);
    }
}
