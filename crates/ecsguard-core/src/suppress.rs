//! Suppressions, with ruff's and zizmor's habits: a finding a team accepts
//! is kept, counted and shown on request, never silently dropped.
//!
//! - Inline: `ecsguard: ignore[rule-id, …] reason` in a comment on the
//!   finding's line or the line above (YAML and HCL `#`, HCL `//`, JSON
//!   with comments).
//! - Baseline: the fingerprints of accepted findings, written by
//!   `--write-baseline` and read by `--baseline`.

use crate::finding::{Finding, RuleId};

/// How a finding was suppressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SuppressionKind {
    /// A comment in the source.
    Inline,
    /// A baseline file.
    Baseline,
    /// `.ecsguard.toml` (an ignore, or an ignored path).
    Config,
}

impl SuppressionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SuppressionKind::Inline => "inline",
            SuppressionKind::Baseline => "baseline",
            SuppressionKind::Config => "config",
        }
    }
}

/// A finding that was suppressed, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suppressed {
    pub finding: Finding,
    pub kind: SuppressionKind,
    /// The reason given, if any.
    pub reason: Option<String>,
}

/// One `ecsguard: ignore[…]` comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Marker {
    /// 1-based line of the comment.
    pub line: u32,
    /// The rule ids it names, as written.
    pub rules: Vec<String>,
    pub reason: Option<String>,
}

const MARK: &str = "ecsguard:";

/// The `ecsguard: ignore[…]` markers of a text. Cheap for a text without
/// any (one substring search).
pub fn markers(text: &str) -> Vec<Marker> {
    if !text.contains(MARK) {
        return Vec::new();
    }
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let Some(at) = line.find(MARK) else { continue };
        let rest = line[at + MARK.len()..].trim_start();
        let Some(rest) = rest.strip_prefix("ignore[") else {
            continue;
        };
        let Some(close) = rest.find(']') else {
            continue;
        };
        let rules: Vec<String> = rest[..close]
            .split(',')
            .map(|r| r.trim().to_owned())
            .filter(|r| !r.is_empty())
            .collect();
        let reason = rest[close + 1..]
            .trim()
            .trim_end_matches("*/")
            .trim_end_matches("-->")
            .trim()
            .trim_start_matches([':', '-', '—'])
            .trim();
        out.push(Marker {
            line: u32::try_from(i + 1).unwrap_or(u32::MAX),
            rules,
            reason: (!reason.is_empty()).then(|| reason.to_owned()),
        });
    }
    out
}

impl Marker {
    /// Whether it covers a finding of `rule` on `line`: the same line, or
    /// the line below it.
    pub fn covers(&self, rule: RuleId, line: u32) -> bool {
        (self.line == line || self.line + 1 == line)
            && self.rules.iter().any(|r| r == rule.as_str())
    }

    /// The rule ids it names that are no rule's.
    pub fn unknown_rules(&self) -> Vec<&str> {
        self.rules
            .iter()
            .map(String::as_str)
            .filter(|r| RuleId::parse(r).is_none())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_in_yaml_hcl_and_json_comments() {
        let text = "a: 1\n# ecsguard: ignore[secret-named-variable] test fixture\n  - Name: X\nx = 1 // ecsguard: ignore[secret-valued-variable, known-credential-variable]\n/* ecsguard: ignore[secret-named-variable] -- rotated weekly */\nplain ecsguard: ignore (no brackets)\n";
        let m = markers(text);
        assert_eq!(m.len(), 3);
        assert_eq!(m[0].line, 2);
        assert_eq!(m[0].rules, ["secret-named-variable"]);
        assert_eq!(m[0].reason.as_deref(), Some("test fixture"));
        assert!(m[0].covers(RuleId::SecretNamedVariable, 3));
        assert!(m[0].covers(RuleId::SecretNamedVariable, 2));
        assert!(!m[0].covers(RuleId::SecretNamedVariable, 4));
        assert!(!m[0].covers(RuleId::SecretValuedVariable, 3));
        assert_eq!(m[1].rules.len(), 2);
        assert_eq!(m[1].reason, None);
        assert_eq!(m[2].reason.as_deref(), Some("rotated weekly"));
    }

    #[test]
    fn unknown_rules_are_named() {
        let m = markers("# ecsguard: ignore[secret-named-varible]\n");
        assert_eq!(m[0].unknown_rules(), ["secret-named-varible"]);
        assert!(markers("no marker here").is_empty());
    }
}
