//! Detectors that recognise a secret by its value, whatever the variable is called.
//!
//! Each detector is a pure function of the variable's name and value. Provider
//! token formats are matched in one pass with a [`RegexSet`]; the rest are
//! small functions. True- and false-positive samples for every detector live in
//! `values_tests.rs` beside this file.

use std::sync::LazyLock;

use regex::{Regex, RegexSet};

use super::names;

/// A detector's identity, as reported in `evidence.detectors`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ValueDetector {
    pub id: &'static str,
    pub description: &'static str,
}

/// Provider token formats: (id, description, pattern). The pattern may match
/// anywhere in the value.
const TOKEN_PATTERNS: &[(&str, &str, &str)] = &[
    (
        "aws-access-key-id",
        "AWS access key id",
        r"\b(?:AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9])[A-Z2-7]{16}\b",
    ),
    (
        "github-token",
        "GitHub token",
        r"\b(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{60,255})\b",
    ),
    (
        "gitlab-token",
        "GitLab token",
        r"\bgl(?:pat|ptt|dt|rt|oas|cbt|imt|agent|ffct)-[A-Za-z0-9_-]{20,}",
    ),
    (
        "slack-token",
        "Slack token",
        r"\bxox(?:[abeprs]|e\.xox[bp])-[0-9]{6,}-[A-Za-z0-9-]{8,}",
    ),
    (
        "slack-webhook",
        "Slack webhook URL",
        r"https://hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9+/_-]{20,}",
    ),
    (
        "stripe-key",
        "Stripe secret or restricted key",
        r"\b[sr]k_(?:live|test)_[A-Za-z0-9]{16,}\b",
    ),
    (
        "sendgrid-api-key",
        "SendGrid API key",
        r"\bSG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}\b",
    ),
    ("twilio-api-key", "Twilio API key", r"\bSK[0-9a-fA-F]{32}\b"),
    (
        "mailgun-api-key",
        "Mailgun API key",
        r"\bkey-[0-9a-zA-Z]{32}\b",
    ),
    (
        "openai-api-key",
        "OpenAI API key",
        r"\bsk-(?:(?:proj|svcacct|admin)-[A-Za-z0-9_-]{40,}|[A-Za-z0-9]{20}T3BlbkFJ[A-Za-z0-9]{20})",
    ),
    (
        "anthropic-api-key",
        "Anthropic API key",
        r"\bsk-ant-(?:api|admin)\d{2}-[A-Za-z0-9_-]{80,}",
    ),
    (
        "google-api-key",
        "Google API key",
        r"\bAIza[0-9A-Za-z_-]{35}\b",
    ),
    ("npm-token", "npm access token", r"\bnpm_[A-Za-z0-9]{36}\b"),
    (
        "pypi-token",
        "PyPI upload token",
        r"\bpypi-AgEIcHlwaS5vcmc[A-Za-z0-9_-]{50,}",
    ),
    (
        "shopify-token",
        "Shopify access token",
        r"\bshp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}\b",
    ),
    (
        "digitalocean-token",
        "DigitalOcean token",
        r"\bdo[por]_v1_[a-f0-9]{64}\b",
    ),
    (
        "hashicorp-vault-token",
        "HashiCorp Vault token",
        r"\bhv[sb]\.[A-Za-z0-9_-]{24,}",
    ),
    (
        "azure-storage-key",
        "Azure storage account key",
        r"AccountKey=[A-Za-z0-9+/]{86}==",
    ),
    (
        "private-key",
        "PEM private key",
        r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----",
    ),
    (
        "jwt",
        "JSON Web Token",
        r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{16,}",
    ),
];

/// Detectors that are functions rather than token formats.
pub const AWS_SECRET_ACCESS_KEY: ValueDetector = ValueDetector {
    id: "aws-secret-access-key",
    description: "AWS secret access key",
};
pub const CREDENTIALS_IN_URL: ValueDetector = ValueDetector {
    id: "credentials-in-url",
    description: "URL or DSN with a password",
};
pub const CONNECTION_STRING_PASSWORD: ValueDetector = ValueDetector {
    id: "connection-string-password",
    description: "connection string with a password",
};
pub const DATADOG_KEY: ValueDetector = ValueDetector {
    id: "datadog-key",
    description: "Datadog API or application key",
};
pub const HIGH_ENTROPY: ValueDetector = ValueDetector {
    id: "high-entropy-string",
    description: "random-looking string",
};

#[allow(clippy::expect_used)] // the patterns are constants, compiled by every test run
static TOKEN_SET: LazyLock<RegexSet> = LazyLock::new(|| {
    RegexSet::new(TOKEN_PATTERNS.iter().map(|(_, _, p)| *p)).expect("token patterns compile")
});

#[allow(clippy::expect_used)] // a constant pattern
static URL_USERINFO: LazyLock<Regex> = LazyLock::new(|| {
    // Userinfo holds no `/`, `?` or `#`: an `@` after those is in the path
    // or the query (`smtp://host:587?from=a@b`), not after a password.
    Regex::new(r"[A-Za-z][A-Za-z0-9+.-]*://(?:[^/?#\s:@]*):([^@\s/?#]+)@[^\s@]")
        .expect("url pattern")
});

#[allow(clippy::expect_used)] // a constant pattern
static CONN_STRING_PASSWORD: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(?:^|[;?&\s])(?:password|pwd|passwd|pass)\s*=\s*([^;&\s]+)")
        .expect("connection string pattern")
});

/// The detectors that are functions, in report order.
const FUNCTION_DETECTORS: [ValueDetector; 5] = [
    AWS_SECRET_ACCESS_KEY,
    CREDENTIALS_IN_URL,
    CONNECTION_STRING_PASSWORD,
    DATADOG_KEY,
    HIGH_ENTROPY,
];

/// Every detector this module has, in report order.
pub fn all() -> impl Iterator<Item = ValueDetector> {
    TOKEN_PATTERNS
        .iter()
        .map(|(id, description, _)| ValueDetector { id, description })
        .chain(FUNCTION_DETECTORS)
}

/// The description of a detector id, for messages.
pub fn describe(id: &str) -> Option<&'static str> {
    all().find(|d| d.id == id).map(|d| d.description)
}

/// Runs every value detector; returns the ids of those that matched.
pub fn detect(name: &str, value: &str) -> Vec<&'static str> {
    let mut hits = Vec::new();
    let value = value.trim();
    if value.len() < 8 {
        return hits;
    }
    // Every token format is at least 16 characters long.
    if value.len() >= 16 && TOKEN_SET.is_match(value) {
        for i in TOKEN_SET.matches(value).iter() {
            hits.push(TOKEN_PATTERNS[i].0);
        }
    }
    if is_aws_secret_access_key(name, value) {
        hits.push(AWS_SECRET_ACCESS_KEY.id);
    }
    if value.contains("://") && has_url_password(value) {
        hits.push(CREDENTIALS_IN_URL.id);
    } else if value.contains('=') && has_connection_string_password(value) {
        hits.push(CONNECTION_STRING_PASSWORD.id);
    }
    if is_datadog_key(name, value) {
        hits.push(DATADOG_KEY.id);
    }
    if hits.is_empty() && is_high_entropy(value) && !is_public_key(value) && !names::is_public(name)
    {
        hits.push(HIGH_ENTROPY.id);
    }
    hits
}

/// Keys made to be public: Stripe publishable keys (`pk_live_…`).
fn is_public_key(value: &str) -> bool {
    value.starts_with("pk_live_") || value.starts_with("pk_test_")
}

/// Base64 whose text is readable (a greeting, a config file): encoded, not random.
fn is_base64_of_text(value: &str) -> bool {
    use base64::Engine as _;
    let trimmed = value.trim_end_matches('=');
    if trimmed.len() < 16 {
        return false;
    }
    let engines = [
        base64::engine::general_purpose::STANDARD_NO_PAD,
        base64::engine::general_purpose::URL_SAFE_NO_PAD,
    ];
    engines.iter().any(|e| {
        e.decode(trimmed).is_ok_and(|bytes| {
            let printable = bytes
                .iter()
                .filter(|b| b.is_ascii_graphic() || matches!(b, b' ' | b'\n' | b'\r' | b'\t'))
                .count();
            !bytes.is_empty() && printable * 100 >= bytes.len() * 95
        })
    })
}

/// A 40-character base64 string with mixed classes: the shape of an AWS secret key.
/// A lowercase hex digest of the same length (a git SHA) is not one.
fn is_aws_secret_access_key(name: &str, value: &str) -> bool {
    value.len() == 40
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'/' || b == b'+')
        && value.bytes().any(|b| b.is_ascii_uppercase())
        && value.bytes().any(|b| b.is_ascii_lowercase())
        && value
            .bytes()
            .any(|b| b.is_ascii_digit() || b == b'/' || b == b'+')
        && (shannon_entropy(value) >= 4.0
            || names::words(name)
                .iter()
                .any(|w| w == "aws" || w == "secret"))
}

/// True when the value is, or holds, a placeholder rather than a literal.
pub fn is_placeholder(s: &str) -> bool {
    let s = s.trim();
    if s.is_empty() {
        return true;
    }
    let wrapped = |open: &str, close: &str| s.starts_with(open) && s.ends_with(close);
    if wrapped("${", "}")
        || wrapped("$(", ")")
        || wrapped("{{", "}}")
        || wrapped("<", ">")
        || wrapped("%(", ")s")
        || (wrapped("%", "%") && s.len() > 2)
        || wrapped("#{", "}")
    {
        return true;
    }
    if let Some(rest) = s.strip_prefix('$') {
        if !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return true;
        }
    }
    // Words that stand for a value to be filled in: `REPLACE_ME`, `TBD`,
    // `your-api-key-here`. (`changeme` is not one: it is a default
    // password, and a committed default password is a finding.)
    let word: String = s
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect();
    const FILL_IN: &[&str] = &[
        "replaceme",
        "tobereplaced",
        "tbd",
        "todo",
        "fixme",
        "placeholder",
        "setme",
        "notset",
        "none",
        "null",
        "undefined",
        "redacted",
    ];
    if FILL_IN.contains(&word.as_str())
        || ((word.starts_with("your") || word.starts_with("insert")) && word.ends_with("here"))
    {
        return true;
    }
    // `****`, `xxxxxxxx`: masked or dummy.
    let mut chars = s.chars();
    if let Some(first) = chars.next() {
        if s.chars().count() >= 3 && chars.all(|c| c == first) {
            return true;
        }
    }
    false
}

fn has_url_password(value: &str) -> bool {
    URL_USERINFO.captures_iter(value).any(|c| {
        c.get(1)
            .is_some_and(|p| !is_placeholder(p.as_str()) && !p.as_str().contains("${"))
    })
}

fn has_connection_string_password(value: &str) -> bool {
    CONN_STRING_PASSWORD.captures_iter(value).any(|c| {
        c.get(1).is_some_and(|p| {
            let p = p.as_str().trim_matches(|c| c == '\'' || c == '"');
            !is_placeholder(p) && !p.contains("${")
        })
    })
}

fn is_datadog_key(name: &str, value: &str) -> bool {
    if !((value.len() == 32 || value.len() == 40) && value.bytes().all(|b| b.is_ascii_hexdigit())) {
        return false;
    }
    let words = names::words(name);
    let datadog = words.first().is_some_and(|w| w == "dd") || words.iter().any(|w| w == "datadog");
    let keyish = words
        .iter()
        .any(|w| w == "key" || w == "apikey" || w == "appkey");
    datadog
        && keyish
        && (value.len() == 32 || value.len() == 40)
        && value.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Shannon entropy in bits per character.
pub fn shannon_entropy(s: &str) -> f64 {
    let mut counts = [0u32; 256];
    let mut n = 0u32;
    for b in s.bytes() {
        counts[b as usize] += 1;
        n += 1;
    }
    if n == 0 {
        return 0.0;
    }
    let n = f64::from(n);
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = f64::from(c) / n;
            -p * p.log2()
        })
        .sum()
}

/// A random-looking token: long, one word, several character classes, high
/// entropy, and not a known harmless shape (hex digests, UUIDs, versions,
/// paths, URLs, base64 of readable text).
fn is_high_entropy(value: &str) -> bool {
    let len = value.len();
    if !(20..=1024).contains(&len) {
        return false;
    }
    if !value.bytes().all(|b| {
        b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=' | b'_' | b'-' | b'.' | b'~')
    }) {
        return false;
    }
    if is_hex_like(value)
        || looks_like_uuid(value)
        || value.contains("://")
        || value.starts_with('/')
    {
        return false;
    }
    let upper = value.bytes().any(|b| b.is_ascii_uppercase());
    let lower = value.bytes().any(|b| b.is_ascii_lowercase());
    let digit = value.bytes().filter(|b| b.is_ascii_digit()).count();
    if !(upper && lower && digit >= 2) {
        return false;
    }
    // Identifiers with separators (`my-app-logs-2024`, `com.example.App`) are words, not tokens.
    let separators = value
        .bytes()
        .filter(|b| matches!(b, b'-' | b'.' | b'_'))
        .count();
    if separators * 8 > len {
        return false;
    }
    // Random tokens switch between upper case, lower case and digits at about
    // six positions in ten; words in camelCase switch only at word boundaries.
    let class = |b: u8| match b {
        b'A'..=b'Z' => 0,
        b'a'..=b'z' => 1,
        b'0'..=b'9' => 2,
        _ => 3,
    };
    let switches = value
        .as_bytes()
        .windows(2)
        .filter(|w| class(w[0]) != class(w[1]))
        .count();
    if switches * 20 < len * 9 {
        return false;
    }
    let threshold = 0.85 * (len.min(64) as f64).log2();
    shannon_entropy(value) >= threshold && !is_base64_of_text(value)
}

fn is_hex_like(value: &str) -> bool {
    let v = value
        .split_once(':')
        .filter(|(alg, _)| alg.starts_with("sha") || alg.starts_with("md5"))
        .map_or(value, |(_, hex)| hex);
    v.bytes().all(|b| b.is_ascii_hexdigit())
        && (v.bytes().all(|b| !b.is_ascii_uppercase())
            || v.bytes().all(|b| !b.is_ascii_lowercase()))
}

fn looks_like_uuid(value: &str) -> bool {
    let parts: Vec<&str> = value.split('-').collect();
    parts.len() == 5
        && parts
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(p, n)| p.len() == n && p.bytes().all(|b| b.is_ascii_hexdigit()))
}

#[cfg(test)]
#[path = "values_tests.rs"]
mod tests;
