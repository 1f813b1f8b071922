//! Rule tests, with the samples they need.
use super::*;
use crate::model::{Location, Origin, Reference};
use crate::secret::SecretValue;

fn td(vars: Vec<(&str, EnvValue)>) -> TaskDefinition {
    TaskDefinition {
        file: None,
        family: Some("app".into()),
        revision: None,
        containers: vec![Container {
            name: Some("web".into()),
            environment: vars
                .into_iter()
                .enumerate()
                .map(|(i, (n, v))| EnvVar {
                    name: n.into(),
                    value: v,
                    location: Location::File {
                        file: "x.json".into(),
                        line: i as u32 + 1,
                        column: 1,
                    },
                    value_location: None,
                    spans: None,
                    origin: Origin::InPlace,
                })
                .collect(),
        }],
    }
}

fn lit(s: &str) -> EnvValue {
    EnvValue::Literal(SecretValue::new(s))
}

fn rules_for(vars: Vec<(&str, EnvValue)>, ruleset: Ruleset) -> Vec<(String, RuleId, Severity)> {
    let config = RuleConfig {
        ruleset,
        ..RuleConfig::default()
    };
    check(&td(vars), &config)
        .into_iter()
        .map(|f| (f.variable, f.rule, f.severity))
        .collect()
}

#[test]
fn name_rule_fires_on_literals_including_short_numbers() {
    let got = rules_for(
        vec![
            ("password", lit("123123")),
            ("DB_PASSWORD", lit("hunter2")),
            ("SMTP_PASS", lit("changeme123")),
        ],
        Ruleset::Default,
    );
    assert_eq!(got.len(), 3, "{got:?}");
    assert!(got
        .iter()
        .all(|(_, r, s)| *r == RuleId::SecretNamedVariable && *s == Severity::High));
}

#[test]
fn name_rule_skips_references_and_settings() {
    let got = rules_for(
        vec![
            ("DB_PASSWORD", lit("")),
            ("DB_PASSWORD", lit("${DB_PASSWORD}")),
            (
                "DB_PASSWORD",
                lit("arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf"),
            ),
            ("DB_PASSWORD", lit("/prod/db/password")),
            ("API_TOKEN", lit("prod/app/token")),
            ("PASSWORD_FILE", lit("/run/secrets/db")),
            ("AUTH_TOKEN", lit("https://auth.example.com/token")),
            ("PASSWORD_MIN_LENGTH", lit("12")),
            ("TOKEN_TTL_SECONDS", lit("3600")),
            ("MYSQL_ALLOW_EMPTY_PASSWORD", lit("yes")),
            (
                "SECRET_ARN",
                lit("arn:aws:secretsmanager:us-east-1:1:secret:x"),
            ),
            ("ENABLE_TOKEN", lit("true")),
        ],
        Ruleset::Default,
    );
    assert!(got.is_empty(), "{got:?}");
}

#[test]
fn value_rule_fires_whatever_the_name() {
    let got = rules_for(
        vec![
            ("DATABASE_URL", lit("postgres://app:s3cretpw@db:5432/app")),
            ("X", lit("AKIAIOSFODNN7EXAMPLE")),
        ],
        Ruleset::Default,
    );
    assert_eq!(
        got,
        vec![
            (
                "DATABASE_URL".into(),
                RuleId::SecretValuedVariable,
                Severity::High
            ),
            ("X".into(), RuleId::SecretValuedVariable, Severity::High),
        ]
    );
}

#[test]
fn references_are_judged_by_source_and_name() {
    let whole = EnvValue::Reference(Reference::new(
        "data.aws_secretsmanager_secret_version.db.secret_string",
        ReferenceTarget::Secret("Secrets Manager secret value".into()),
    ));
    let marked = |e: &str| {
        EnvValue::Reference(Reference::new(
            e,
            ReferenceTarget::Sensitive("sensitive variable".into()),
        ))
    };
    let unknown = EnvValue::Reference(Reference::new("var.db_password", ReferenceTarget::Unknown));
    let arn = EnvValue::Reference(Reference::new(
        "aws_secretsmanager_secret.db.arn",
        ReferenceTarget::Identifier,
    ));
    let got = rules_for(
        vec![
            // A whole secret is a secret whatever the name.
            ("CONN", whole.clone()),
            ("DB_PASSWORD", whole),
            // Marked sensitive: confirms a secret name, decides nothing alone.
            ("DB_PASSWORD", marked("var.db_password")),
            ("DB_HOST", marked("var.db_host")),
            ("DB_PORT", marked("var.db_port")),
            ("DB_USER", marked("var.db_user")),
            ("DB_NAME", marked("var.db_name")),
            // Unknown inputs: the name alone, with less confidence.
            ("DB_PASSWORD", unknown),
            ("DB_PASSWORD", arn),
            (
                "HOST",
                EnvValue::Reference(Reference::new("var.host", ReferenceTarget::Unknown)),
            ),
        ],
        Ruleset::Default,
    );
    assert_eq!(
        got,
        vec![
            ("CONN".into(), RuleId::SecretValuedVariable, Severity::High),
            (
                "DB_PASSWORD".into(),
                RuleId::SecretNamedVariable,
                Severity::High
            ),
            (
                "DB_PASSWORD".into(),
                RuleId::SecretNamedVariable,
                Severity::High
            ),
            (
                "DB_PASSWORD".into(),
                RuleId::SecretNamedVariable,
                Severity::Medium
            ),
        ]
    );
}

#[test]
fn a_name_about_a_secret_excuses_settings_not_passwords() {
    let got = rules_for(
        vec![
            ("PASSWORD_MIN_LENGTH", lit("12")),
            ("MYSQL_ALLOW_EMPTY_PASSWORD", lit("yes")),
            ("TOKEN_TTL", lit("30d")),
            ("JWT_SECRET_ALGORITHM", lit("HS256")),
            ("SECRET_REGION", lit("eu-west-1")),
            ("PASSWORD_FILE", lit("/run/secrets/db")),
            ("POSTGRES_NO_PASSWORD", lit("")),
            (
                "PASSWORD_MIN_LENGTH",
                EnvValue::Reference(Reference::new("var.min", ReferenceTarget::Unknown)),
            ),
            // A password under a name about one is still a password.
            ("REDIS_NO_PASSWORD", lit("S3cr3t-Passw0rd")),
            ("PASSWORD_FILE", lit("hunter2!hunter2")),
        ],
        Ruleset::Default,
    );
    assert_eq!(
        got.iter().map(|(n, ..)| n.as_str()).collect::<Vec<_>>(),
        ["REDIS_NO_PASSWORD", "PASSWORD_FILE"]
    );
}

#[test]
fn securityhub_ruleset_is_exact_ecs8_parity() {
    let vars = vec![
        ("AWS_ACCESS_KEY_ID", lit("")),
        (
            "AWS_SECRET_ACCESS_KEY",
            lit("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
        ),
        ("ECS_ENGINE_AUTH_DATA", lit("{}")),
        ("DB_PASSWORD", lit("hunter2")),
        ("aws_access_key_id", lit("AKIAIOSFODNN7EXAMPLE")),
    ];
    let got = rules_for(vars, Ruleset::SecurityHub);
    let names: Vec<&str> = got.iter().map(|(n, _, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "ECS_ENGINE_AUTH_DATA"
        ]
    );
    assert!(got
        .iter()
        .all(|(_, r, _)| *r == RuleId::KnownCredentialVariable));
}

#[test]
fn findings_never_hold_the_value() {
    let config = RuleConfig::default();
    let findings = check(
        &td(vec![("DB_PASSWORD", lit("correct-horse-battery-staple"))]),
        &config,
    );
    let shown = format!("{findings:?}");
    assert!(!shown.contains("horse"), "{shown}");
    assert_eq!(findings[0].redacted.as_deref(), Some("corr…"));
}
