//! What an environment variable's name says about its value.
//!
//! Names are split into lowercase words (`DB_PASSWORD`, `dbPassword` and
//! `db-password` all become `db password`), then read the way a person would:
//! the last secret word decides, and the words around it say whether the value
//! *is* the secret (`DB_PASSWORD`) or is only *about* one (`PASSWORD_FILE`,
//! `PASSWORD_MIN_LENGTH`, `MYSQL_ALLOW_EMPTY_PASSWORD`).

/// Names that Security Hub ECS.8 flags, matched exactly as it does.
pub const KNOWN_CREDENTIAL_NAMES: [&str; 3] = [
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "ECS_ENGINE_AUTH_DATA",
];

pub fn is_known_credential(name: &str) -> bool {
    KNOWN_CREDENTIAL_NAMES.contains(&name)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameClass {
    /// The name says the value is a secret; the payload is the word that says so.
    Secret(&'static str),
    /// The name mentions a secret but says the value is about it (a path, an ARN, a setting).
    AboutSecret,
    /// Nothing secret in the name.
    Plain,
}

/// Words that alone say the value is a secret.
const SECRET_WORDS: &[(&str, &str)] = &[
    ("password", "password"),
    ("passwd", "password"),
    ("pwd", "password"),
    ("passphrase", "password"),
    ("passcode", "password"),
    ("pw", "password"),
    ("secret", "secret"),
    ("secrets", "secret"),
    ("token", "token"),
    ("apikey", "API key"),
    ("accesskey", "access key"),
    ("secretkey", "secret key"),
    ("privatekey", "private key"),
    ("credential", "credentials"),
    ("credentials", "credentials"),
    ("creds", "credentials"),
    ("salt", "salt"),
    ("pepper", "salt"),
    ("authdata", "credentials"),
];

/// Words that are a secret only as the last word (`RABBITMQ_PASS`, `BASIC_AUTH`),
/// because elsewhere they usually mean something else (`PASS_THROUGH`, `AUTH_URL`).
const TRAILING_SECRET_WORDS: &[(&str, &str)] = &[("pass", "password"), ("auth", AUTH_CREDENTIALS)];

/// What an `…_AUTH` name holds: credentials (`user:pass`), or a setting
/// (`BASIC_AUTH=0`, `SMTP_AUTH=login`); the rules tell by the value.
pub const AUTH_CREDENTIALS: &str = "authentication credentials";

/// Words that end a run-together name with a secret (`DBPASSWORD`, `MYAPPSECRET`).
const SECRET_SUFFIXES: &[(&str, &str)] = &[
    ("password", "password"),
    ("passwd", "password"),
    ("secret", "secret"),
    ("token", "token"),
    ("apikey", "API key"),
];

/// Short password words, run together only with these (`DBPASS`, `PGPASS`,
/// `DBPWD`, `ROOTPW`, `BINDPW`), never alone (`COMPASS`, `BYPASS`).
const SHORT_SUFFIXES: &[&str] = &["pass", "pwd", "pw"];
const SHORT_PREFIXES: &[&str] = &[
    "db", "pg", "mysql", "sql", "root", "bind", "admin", "user", "redis", "smtp", "ldap", "app",
    "mongo", "rabbit", "amqp", "mail", "ftp", "ssh",
];

fn run_together_password(w: &str) -> bool {
    SHORT_SUFFIXES.iter().any(|suffix| {
        w.strip_suffix(suffix)
            .is_some_and(|prefix| SHORT_PREFIXES.contains(&prefix))
    })
}

/// Trailing words that name where a value is used, not what it is
/// (`DB_PASS_PROD`): a secret word before them still ends the name.
const STAGE_WORDS: &[&str] = &[
    "prod",
    "production",
    "dev",
    "development",
    "staging",
    "stage",
    "test",
    "qa",
    "live",
    "uat",
];

/// Words that say a key or value is made to be public.
const PUBLIC_WORDS: &[&str] = &["public", "publishable", "pub", "site", "sitekey"];

/// Whether a name says its value is public (`RECAPTCHA_SITE_KEY`,
/// `STRIPE_PUBLISHABLE_KEY`, `JWT_PUBLIC_KEY`).
pub fn is_public(name: &str) -> bool {
    words(name)
        .iter()
        .any(|w| PUBLIC_WORDS.contains(&w.as_str()))
}

/// `<word> key` pairs that name a key which is a secret.
const KEY_PREFIXES: &[&str] = &[
    "api",
    "access",
    "secret",
    "private",
    "signing",
    "sign",
    "encryption",
    "encrypt",
    "crypt",
    "master",
    "license",
    "licence",
    "client",
    "session",
    "hmac",
    "jwt",
    "app",
    "auth",
    "service",
    "account",
    "admin",
    "ssh",
    "deploy",
    "write",
    "ingest",
    "webhook",
    "cookie",
    "aes",
    "cipher",
];

/// Words after the secret word that make the value about the secret, not the secret.
const ABOUT_AFTER: &[&str] = &[
    "file",
    "files",
    "path",
    "dir",
    "directory",
    "arn",
    "name",
    "names",
    "id",
    "ids",
    "ref",
    "reference",
    "param",
    "parameter",
    "ssm",
    "version",
    "stage",
    "length",
    "len",
    "min",
    "max",
    "size",
    "ttl",
    "expiry",
    "expires",
    "expire",
    "expiration",
    "lifetime",
    "timeout",
    "seconds",
    "secs",
    "sec",
    "minutes",
    "mins",
    "hours",
    "days",
    "ms",
    "header",
    "headers",
    "url",
    "uri",
    "endpoint",
    "host",
    "type",
    "policy",
    "policies",
    "enabled",
    "enable",
    "disabled",
    "required",
    "rotation",
    "interval",
    "format",
    "algorithm",
    "algo",
    "hash",
    "issuer",
    "audience",
    "field",
    "location",
    "region",
    "provider",
    "mode",
    "source",
    "store",
    "kms",
    "count",
    "retries",
    "prefix",
    "suffix",
    "template",
    "env",
    "var",
    "variable",
    "regex",
    "pattern",
    "validation",
    "manager",
    "backend",
    "mount",
    "key_id",
    "keyid",
    "user",
    "username",
    "usage",
    "strength",
    "complexity",
    "cache",
    "refresh",
    "renewal",
    "alg",
    "hasher",
    "hashers",
    "hashing",
    "profile",
    "cookie",
    "method",
    "methods",
    "scheme",
    "strategy",
    "plugin",
    "mechanism",
];

/// Words before the secret word that make the name a setting about it.
const ABOUT_BEFORE: &[&str] = &[
    "allow", "empty", "min", "max", "minimum", "maximum", "require", "required", "skip", "enable",
    "enabled", "disable", "disabled", "use", "random", "generate", "is", "has", "no", "num",
];

/// Splits a name into lowercase words at `_`, `-`, `.`, spaces and camelCase boundaries.
pub fn words(name: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let chars: Vec<char> = name.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        if !c.is_alphanumeric() {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            continue;
        }
        let prev = i.checked_sub(1).map(|p| chars[p]);
        let next = chars.get(i + 1).copied();
        let boundary = c.is_uppercase()
            && prev.is_some_and(|p| {
                p.is_lowercase()
                    || (p.is_uppercase() && next.is_some_and(|n| n.is_lowercase()))
                    || p.is_ascii_digit()
            });
        if boundary && !cur.is_empty() {
            out.push(std::mem::take(&mut cur));
        }
        cur.extend(c.to_lowercase());
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Reads a name. Names repeat across task definitions (`LOG_LEVEL`,
/// `DB_PASSWORD` …), so answers are memoised per thread.
pub fn classify(name: &str) -> NameClass {
    thread_local! {
        static CACHE: std::cell::RefCell<std::collections::HashMap<Box<str>, NameClass>> =
            std::cell::RefCell::new(std::collections::HashMap::new());
    }
    const CACHE_LIMIT: usize = 16_384;
    if let Some(hit) = CACHE.with(|c| c.borrow().get(name).copied()) {
        return hit;
    }
    let class = classify_uncached(name);
    CACHE.with(|c| {
        let mut cache = c.borrow_mut();
        if cache.len() >= CACHE_LIMIT {
            cache.clear();
        }
        cache.insert(name.into(), class);
    });
    class
}

fn classify_uncached(name: &str) -> NameClass {
    let words = words(name);
    // Find the last word (or `<prefix> key` pair) that names a secret.
    let mut hit: Option<(usize, usize, &'static str)> = None; // (first index, last index, kind)
                                                              // A numeric suffix (`RABBITMQ_PASS_2`) does not change what the name says.
    let meaningful = words
        .iter()
        .rposition(|w| !w.bytes().all(|b| b.is_ascii_digit()) && !STAGE_WORDS.contains(&w.as_str()))
        .map_or(0, |i| i + 1);
    for (i, word) in words.iter().enumerate() {
        let last = i + 1 == meaningful;
        // A digit glued on (`PASSWORD2`, `API_KEY1`) does not change the word.
        let w = word.trim_end_matches(|c: char| c.is_ascii_digit());
        let w = if w.is_empty() { word.as_str() } else { w };
        if let Some((_, kind)) = SECRET_WORDS.iter().find(|(s, _)| *s == w) {
            hit = Some((i, i, kind));
        } else if let Some((_, kind)) = TRAILING_SECRET_WORDS.iter().find(|(s, _)| *s == w) {
            if last {
                hit = Some((i, i, kind));
            }
        } else if let Some((_, kind)) = SECRET_SUFFIXES
            .iter()
            .find(|(s, _)| w.len() > s.len() + 1 && w.ends_with(s))
        {
            // Run together: `DBPASSWORD`, `MYSQLROOTPASSWORD`.
            hit = Some((i, i, kind));
        } else if run_together_password(w) {
            hit = Some((i, i, "password"));
        } else if (w == "key" || w == "keys")
            && i > 0
            && KEY_PREFIXES.contains(&words[i - 1].as_str())
        {
            // `SECRET_KEY` was already a hit at `secret`; the pair extends it.
            let kind = match words[i - 1].as_str() {
                "api" => "API key",
                "private" => "private key",
                "access" => "access key",
                _ => "key",
            };
            hit = Some((i - 1, i, kind));
        }
    }
    let Some((first, last, kind)) = hit else {
        return NameClass::Plain;
    };
    let after = &words[last + 1..];
    let before = &words[..first];
    let about_after = after.iter().any(|w| ABOUT_AFTER.contains(&w.as_str()))
        // `AWS_ACCESS_KEY_ID`-like: an id names a key, it is not the key.
        || after.first().is_some_and(|w| w == "id");
    let about_before = before.iter().any(|w| ABOUT_BEFORE.contains(&w.as_str()));
    if about_after || about_before {
        NameClass::AboutSecret
    } else {
        NameClass::Secret(kind)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_names_into_words() {
        assert_eq!(words("DB_PASSWORD"), ["db", "password"]);
        assert_eq!(words("dbPassword"), ["db", "password"]);
        assert_eq!(words("APIKey"), ["api", "key"]);
        assert_eq!(words("db-password.v2"), ["db", "password", "v2"]);
        assert_eq!(words("OAuth2Token"), ["o", "auth2", "token"]);
    }

    #[test]
    fn secret_names() {
        for name in [
            "DB_PASSWORD",
            "POSTGRES_PASSWORD",
            "MYSQL_ROOT_PASSWORD",
            "password",
            "dbPassword",
            "RABBITMQ_PASS",
            "LDAP_BIND_PASSWORD",
            "API_KEY",
            "STRIPE_API_KEY",
            "apiKey",
            "GITHUB_TOKEN",
            "SLACK_BOT_TOKEN",
            "JWT_SECRET",
            "SESSION_SECRET",
            "APP_SECRET_KEY",
            "DJANGO_SECRET_KEY",
            "SECRET_KEY_BASE",
            "CLIENT_SECRET",
            "PRIVATE_KEY",
            "ENCRYPTION_KEY",
            "GOOGLE_CREDENTIALS",
            "BASIC_AUTH",
            "VAULT_TOKEN",
            "REFRESH_TOKEN",
            "AUTH_SALT",
            "SMTP_PASSWD",
            "RABBITMQ_PASS_2",
        ] {
            assert!(matches!(classify(name), NameClass::Secret(_)), "{name}");
        }
    }

    #[test]
    fn names_about_a_secret() {
        for name in [
            "PASSWORD_FILE",
            "DB_PASSWORD_FILE",
            "SECRET_ARN",
            "DB_PASSWORD_SECRET_ARN",
            "PASSWORD_MIN_LENGTH",
            "MIN_PASSWORD_LENGTH",
            "TOKEN_TTL_SECONDS",
            "API_KEY_HEADER",
            "MYSQL_ALLOW_EMPTY_PASSWORD",
            "MYSQL_RANDOM_ROOT_PASSWORD",
            "SECRET_NAME",
            "SECRET_NAME_12",
            "TOKEN_URL",
            "TOKEN_ENDPOINT",
            "PASSWORD_POLICY",
            "ACCESS_KEY_ID",
            "SECRETS_MANAGER_ENDPOINT",
            "JWT_SECRET_PATH",
            "TOKEN_EXPIRY",
        ] {
            assert_eq!(classify(name), NameClass::AboutSecret, "{name}");
        }
    }

    #[test]
    fn plain_names() {
        for name in [
            "LOG_LEVEL",
            "PORT",
            "AWS_REGION",
            "PASS_THROUGH_HEADERS",
            "AUTH_URL",
            "CACHE_KEY",
            "S3_KEY",
            "PARTITION_KEY",
            "PASSENGER_COUNT",
            "COMPASS_URL",
            "TOKENIZER_MODEL",
        ] {
            assert_eq!(classify(name), NameClass::Plain, "{name}");
        }
    }

    #[test]
    fn known_credentials_are_exact() {
        assert!(is_known_credential("AWS_SECRET_ACCESS_KEY"));
        assert!(is_known_credential("ECS_ENGINE_AUTH_DATA"));
        assert!(!is_known_credential("aws_secret_access_key"));
        assert!(!is_known_credential("MY_AWS_ACCESS_KEY_ID"));
    }
}
