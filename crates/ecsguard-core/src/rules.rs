//! The rules: turn a task definition into findings.

use crate::detect::names::{self, NameClass};
use crate::detect::values;
use crate::finding::{Finding, RuleId, Severity};
use crate::fingerprint;
use crate::model::{Container, EnvValue, EnvVar, ReferenceTarget, TaskDefinition};

/// Which rules run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Ruleset {
    /// Every rule.
    #[default]
    Default,
    /// `known-credential-variable` alone: exact parity with Security Hub ECS.8.
    SecurityHub,
}

#[derive(Debug, Clone)]
pub struct RuleConfig {
    pub ruleset: Ruleset,
    pub fingerprint_key: Vec<u8>,
    /// Whether the fingerprint covers the value (keyed): only with a
    /// private key, since with the public default anyone holding a report
    /// could test guesses of a weak password against it.
    pub fingerprint_value: bool,
}

impl Default for RuleConfig {
    fn default() -> Self {
        Self {
            ruleset: Ruleset::Default,
            fingerprint_key: fingerprint::DEFAULT_KEY.to_vec(),
            fingerprint_value: false,
        }
    }
}

/// Detector id for the name heuristic.
pub const SECRET_NAME_DETECTOR: &str = "secret-name";
/// Detector id for ECS.8's exact names.
pub const ECS8_NAME_DETECTOR: &str = "ecs8-credential-name";
/// Detector id for a reference to an input known to be secret.
pub const SECRET_REFERENCE_DETECTOR: &str = "secret-reference";

/// Runs the rules over every variable of every container.
pub fn check(td: &TaskDefinition, config: &RuleConfig) -> Vec<Finding> {
    let mut out = Vec::new();
    for container in &td.containers {
        for var in &container.environment {
            if let Some(f) = check_variable(td, container, var, config) {
                out.push(f);
            }
        }
    }
    out
}

/// Whether a literal under a secret name is the secret itself, rather than a
/// pointer to it (an ARN, a parameter name, a path, a URL without credentials)
/// or a placeholder.
pub fn literal_is_secret(value: &str) -> bool {
    let v = value.trim();
    if values::is_placeholder(v) {
        return false;
    }
    let lower = v.to_ascii_lowercase();
    if matches!(
        lower.as_str(),
        "true"
            | "false"
            | "yes"
            | "no"
            | "null"
            | "none"
            | "nil"
            | "undefined"
            | "on"
            | "off"
            | "enabled"
            | "disabled"
            | "0"
            | "1"
    ) {
        return false;
    }
    // A host name (`salt.example.com`): where a secret is, not the secret.
    if is_host_name(v) {
        return false;
    }
    if lower.starts_with("arn:aws")
        || lower.starts_with("{{resolve:")
        || lower.starts_with("ssm:")
        || lower.starts_with("secretsmanager:")
        || lower.starts_with("vault:")
        || lower.starts_with("file:")
    {
        return false;
    }
    // Absolute, home-relative and relative paths; SSM parameter names.
    if (v.starts_with('/') || v.starts_with("./") || v.starts_with("../") || v.starts_with("~/"))
        && !v.contains(char::is_whitespace)
    {
        return false;
    }
    // `prod/app/db`: a Secrets Manager name or similar path of lowercase words.
    if v.contains('/')
        && v.split('/').all(|seg| {
            !seg.is_empty()
                && seg.bytes().all(|b| {
                    b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'_' | b'.')
                })
        })
    {
        return false;
    }
    // A URL; one with a password is caught by the value detectors.
    if let Some((scheme, _)) = v.split_once("://") {
        if !scheme.is_empty()
            && scheme
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'+')
        {
            return false;
        }
    }
    true
}

fn check_variable(
    td: &TaskDefinition,
    container: &Container,
    var: &EnvVar,
    config: &RuleConfig,
) -> Option<Finding> {
    let name = var.name.as_str();
    let known = names::is_known_credential(name);
    if config.ruleset == Ruleset::SecurityHub && !known {
        return None;
    }
    let class = names::classify(name);
    let mut detectors: Vec<&'static str> = Vec::new();
    let (rule, severity, message, redacted, reference, hashed): (
        RuleId,
        Severity,
        String,
        _,
        _,
        String,
    );

    match &var.value {
        EnvValue::Literal(v) | EnvValue::Template(v) => {
            let literal = matches!(var.value, EnvValue::Literal(_));
            let name_hit = match class {
                // `…_AUTH` set to a mechanism or a switch (`login`, `0`) is a setting.
                NameClass::Secret(names::AUTH_CREDENTIALS) if is_setting_word(v.expose()) => None,
                NameClass::Secret(kind) if literal && literal_is_secret(v.expose()) => Some(kind),
                // Part literal, part placeholder (`"S3cr3t-${var.env}"`): the
                // literal part is judged.
                NameClass::Secret(kind) if !literal && template_holds_password(v.expose()) => {
                    Some(kind)
                }
                // A name about a secret (`PASSWORD_MIN_LENGTH`) excuses a
                // setting, never a password-like literal.
                NameClass::AboutSecret if literal && looks_like_password(v.expose()) => {
                    Some("password")
                }
                _ => None,
            };
            let value_hits = values::detect(name, v.expose());
            if known {
                detectors.push(ECS8_NAME_DETECTOR);
            }
            if name_hit.is_some() {
                detectors.push(SECRET_NAME_DETECTOR);
            }
            detectors.extend(value_hits.iter().copied());
            let what = value_hits
                .first()
                .map(|id| describe_detector(id))
                .or(name_hit)
                .unwrap_or("a credential");
            (rule, severity) = if known {
                (RuleId::KnownCredentialVariable, Severity::High)
            } else if !value_hits.is_empty() {
                (RuleId::SecretValuedVariable, Severity::High)
            } else if name_hit.is_some() {
                (RuleId::SecretNamedVariable, Severity::High)
            } else {
                return None;
            };
            message = if known {
                format!("`{name}` passes an AWS credential as a plain environment variable (Security Hub ECS.8)")
            } else {
                format!(
                    "`{name}` holds {} in a plain environment variable",
                    with_article(what)
                )
            };
            redacted = Some(v.redacted());
            reference = None;
            hashed = v.expose().to_owned();
        }
        EnvValue::Reference(r) => {
            let secret_source = match &r.target {
                ReferenceTarget::Secret(why) => Some(why.as_str()),
                _ => None,
            };
            // A source only marked secret says why, but decides nothing alone.
            let marked = match &r.target {
                ReferenceTarget::Sensitive(why) => Some(why.as_str()),
                _ => None,
            };
            let name_kind = match class {
                NameClass::Secret(kind) if r.target != ReferenceTarget::Identifier => Some(kind),
                _ => None,
            };
            if known {
                detectors.push(ECS8_NAME_DETECTOR);
            }
            if name_kind.is_some() {
                detectors.push(SECRET_NAME_DETECTOR);
            }
            if secret_source.is_some() || (marked.is_some() && name_kind.is_some()) {
                detectors.push(SECRET_REFERENCE_DETECTOR);
            }
            // A secret source raises the confidence in a secret name.
            let confirmed = secret_source.is_some() || marked.is_some();
            (rule, severity) = if known {
                (RuleId::KnownCredentialVariable, Severity::High)
            } else if name_kind.is_some() {
                let severity = if confirmed {
                    Severity::High
                } else {
                    Severity::Medium
                };
                (RuleId::SecretNamedVariable, severity)
            } else if secret_source.is_some() {
                (RuleId::SecretValuedVariable, Severity::High)
            } else {
                return None;
            };
            let source = secret_source
                .or(marked)
                .map(|why| format!(" ({why})"))
                .unwrap_or_default();
            message = if known {
                format!(
                    "`{name}` passes an AWS credential from `{}`{source} as a plain environment variable (Security Hub ECS.8)",
                    r.expression
                )
            } else {
                format!(
                    "`{name}` passes {} from `{}`{source} as a plain environment variable",
                    with_article(name_kind.unwrap_or("a secret")),
                    r.expression
                )
            };
            redacted = None;
            reference = Some(r.expression.clone());
            hashed = r.expression.clone();
        }
    }

    let family = td.family.as_deref().unwrap_or("");
    let container_name = container.name.as_deref().unwrap_or("");
    let fingerprint = fingerprint::fingerprint(
        &config.fingerprint_key,
        &[rule.as_str(), family, container_name, name],
        if config.fingerprint_value {
            &hashed
        } else {
            ""
        },
    );
    Some(Finding {
        rule,
        severity,
        message: format!("{message}; move it to `secrets` with `valueFrom`"),
        family: td.family.clone(),
        revision: td.revision,
        container: container.name.clone(),
        variable: var.name.clone(),
        location: var.location.clone(),
        value_location: var.value_location.clone(),
        origin: var.origin.clone(),
        spans: var.spans.clone().map(Box::new),
        detectors,
        redacted,
        reference,
        fingerprint,
    })
}

/// A lower-case DNS name with a top-level label of letters: `db.internal`,
/// `mail.example.com`.
fn is_host_name(v: &str) -> bool {
    let labels: Vec<&str> = v.split('.').collect();
    labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        })
        && labels.last().is_some_and(|t| {
            (2..=12).contains(&t.len()) && t.bytes().all(|b| b.is_ascii_lowercase())
        })
}

/// A mechanism or a switch: one short lower-case word (`login`, `oidc`,
/// `basic`), or `0`/`1`.
fn is_setting_word(v: &str) -> bool {
    let v = v.trim();
    matches!(v, "0" | "1")
        || ((1..=16).contains(&v.len())
            && v.bytes().next().is_some_and(|b| b.is_ascii_lowercase())
            && v.bytes()
                .all(|b| b.is_ascii_lowercase() || b == b'-' || b == b'_'))
}

/// Whether the literal text of a template (`"Zx9…-${var.env}"`) holds a
/// password: a run between placeholders that looks like one.
fn template_holds_password(text: &str) -> bool {
    let mut literal = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        literal.push_str(&rest[..start]);
        literal.push(' ');
        rest = match rest[start..].find('}') {
            Some(end) => &rest[start + end + 1..],
            None => "",
        };
    }
    literal.push_str(rest);
    literal
        .split(|c: char| c.is_whitespace() || matches!(c, ':' | '/' | '@' | '-' | '_' | '.'))
        .any(looks_like_password)
}

/// Whether a literal under a name *about* a secret looks like a password
/// rather than a setting: long enough, no spaces, and mixing lower-case
/// letters with digits, capitals or symbols (`S3cr3t-Pa55`), unlike
/// `3600`, `true`, `strict`, `HS256` or `AES-256-GCM`.
fn looks_like_password(value: &str) -> bool {
    let v = value.trim();
    if v.chars().count() < 8 || v.contains(char::is_whitespace) || !literal_is_secret(v) {
        return false;
    }
    // Names and settings: a path or secret name (`MyApp/Prod/Db`), a list
    // or policy (`minLength=12,…`), a header (`X-Api-Key`), a version (`v2024.1`).
    let version = v.starts_with(['v', 'V']) && v[1..].starts_with(|c: char| c.is_ascii_digit());
    if v.contains(['/', '=', ',']) || v.starts_with("X-") || v.starts_with("x-") || version {
        return false;
    }
    let lower = v.bytes().any(|b| b.is_ascii_lowercase());
    let upper = v.bytes().any(|b| b.is_ascii_uppercase());
    let digit = v.bytes().any(|b| b.is_ascii_digit());
    // `-`, `.`, `_` and `/` join words in names, hosts and regions (`eu-west-1`).
    let symbol = v
        .bytes()
        .any(|b| b.is_ascii_punctuation() && !matches!(b, b'-' | b'.' | b'_' | b'/'));
    let classes = [lower, upper || symbol, digit]
        .iter()
        .filter(|c| **c)
        .count();
    // A duration or size (`30d`, `10m`, `512mb`) is a setting.
    let setting = v
        .trim_end_matches(|c: char| c.is_ascii_alphabetic())
        .bytes()
        .all(|b| b.is_ascii_digit() || b == b'.');
    lower && classes >= 3 && !setting
}

fn describe_detector(id: &str) -> &'static str {
    values::describe(id).unwrap_or("a secret")
}

fn with_article(what: &str) -> String {
    if what.starts_with("a ") || what.starts_with("an ") {
        return what.to_owned();
    }
    let vowel = what
        .chars()
        .next()
        .is_some_and(|c| "aeiouAEIOU".contains(c));
    // Acronyms read with a vowel sound ("an AWS", "an SSH") start with these letters.
    let acronym_vowel =
        what.starts_with("AWS") || what.starts_with("npm") || what.starts_with("HMAC");
    let consonant_sound = what.starts_with("URL") || what.starts_with("usern");
    if (vowel || acronym_vowel) && !consonant_sound {
        format!("an {what}")
    } else {
        format!("a {what}")
    }
}

#[cfg(test)]
#[path = "rules_tests.rs"]
mod tests;
