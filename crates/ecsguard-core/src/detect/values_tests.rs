//! True- and false-positive samples for every value detector.

use super::*;

struct Samples {
    id: &'static str,
    /// (variable name, value) pairs the detector must match.
    tp: Vec<(&'static str, String)>,
    /// pairs it must not match.
    fp: Vec<(&'static str, String)>,
}

fn rep(s: &str, n: usize) -> String {
    s.repeat(n)
}

fn samples() -> Vec<Samples> {
    let jwt = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c";
    vec![
        Samples {
            id: "aws-access-key-id",
            tp: vec![("X", "AKIAIOSFODNN7EXAMPLE".into()), ("X", "ASIAY34FZKBOKMUTVV7A".into())],
            fp: vec![
                ("X", "AKIA-not-a-key".into()),
                ("X", "akiaiosfodnn7example".into()),
                ("X", "AKIAIOSFODNN7EXAMPLE1234".into()),
            ],
        },
        Samples {
            id: "github-token",
            tp: vec![("X", format!("ghp_{}", rep("aB3", 12))), ("X", format!("github_pat_{}", rep("A1b_", 20)))],
            fp: vec![("X", "ghp_short".into()), ("X", "https://github.com/org/repo".into())],
        },
        Samples {
            id: "gitlab-token",
            tp: vec![("X", format!("glpat-{}", rep("xY1z", 5)))],
            fp: vec![("X", "glpat-short".into())],
        },
        Samples {
            id: "slack-token",
            tp: vec![("X", "xoxb-123456789012-123456789012-abcdefghijklmnopqrstuvwx".into())],
            fp: vec![("X", "xoxb-".into()), ("X", "xoxo-hugs-and-kisses".into())],
        },
        Samples {
            id: "slack-webhook",
            tp: vec![("X", format!("https://hooks.slack.com/services/T0000/B0000/{}", rep("Xy", 12)))],
            fp: vec![("X", "https://hooks.slack.com/".into()), ("X", "https://slack.com/help".into())],
        },
        Samples {
            id: "stripe-key",
            tp: vec![("X", format!("sk_live_{}", rep("4eC3", 6))), ("X", format!("rk_test_{}", rep("4eC3", 6)))],
            fp: vec![("X", format!("pk_live_{}", rep("4eC3", 6))), ("X", "sk_live_".into())],
        },
        Samples {
            id: "sendgrid-api-key",
            tp: vec![("X", format!("SG.{}.{}", rep("a1B", 7) + "c", rep("x9Y", 14) + "z"))],
            fp: vec![("X", "SG.short.value".into())],
        },
        Samples {
            id: "twilio-api-key",
            tp: vec![("X", format!("SK{}", rep("0a1b", 8)))],
            fp: vec![("X", format!("AC{}", rep("0a1b", 8))), ("X", "SKU-12345".into())],
        },
        Samples {
            id: "mailgun-api-key",
            tp: vec![("X", format!("key-{}", rep("3ax6", 8)))],
            fp: vec![("X", "key-value-store".into())],
        },
        Samples {
            id: "openai-api-key",
            tp: vec![
                ("X", format!("sk-proj-{}", rep("Ab1_", 12))),
                ("X", format!("sk-{}T3BlbkFJ{}", rep("Ab1", 6) + "xy", rep("Cd2", 6) + "zw")),
            ],
            fp: vec![("X", "sk-12345".into()), ("X", "sk-learn-estimator-config".into())],
        },
        Samples {
            id: "anthropic-api-key",
            tp: vec![("X", format!("sk-ant-api03-{}", rep("Ab1-", 24)))],
            fp: vec![("X", "sk-ant-short".into())],
        },
        Samples {
            id: "google-api-key",
            tp: vec![("X", format!("AIza{}", rep("Sy1", 11) + "Ab"))],
            fp: vec![("X", "AIzaShort".into())],
        },
        Samples {
            id: "npm-token",
            tp: vec![("X", format!("npm_{}", rep("aB3", 12)))],
            fp: vec![("X", "npm_config_cache".into())],
        },
        Samples {
            id: "pypi-token",
            tp: vec![("X", format!("pypi-AgEIcHlwaS5vcmc{}", rep("Ab1-", 15)))],
            fp: vec![("X", "pypi-package-name".into())],
        },
        Samples {
            id: "shopify-token",
            tp: vec![("X", format!("shpat_{}", rep("a1f0", 8)))],
            fp: vec![("X", "shpat_xyz".into())],
        },
        Samples {
            id: "digitalocean-token",
            tp: vec![("X", format!("dop_v1_{}", rep("a1f0", 16)))],
            fp: vec![("X", "dop_v1_short".into())],
        },
        Samples {
            id: "hashicorp-vault-token",
            tp: vec![("X", format!("hvs.{}", rep("CAESIx", 5)))],
            fp: vec![("X", "hvs.short".into())],
        },
        Samples {
            id: "azure-storage-key",
            tp: vec![(
                "X",
                format!(
                    "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey={}==;EndpointSuffix=core.windows.net",
                    rep("Ab1+", 21) + "xy"
                ),
            )],
            fp: vec![("X", "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=;".into())],
        },
        Samples {
            id: "private-key",
            tp: vec![
                ("X", "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n-----END RSA PRIVATE KEY-----".into()),
                ("X", "-----BEGIN PRIVATE KEY-----\nMIIE".into()),
                ("X", "-----BEGIN OPENSSH PRIVATE KEY-----\nb3Blbn".into()),
            ],
            fp: vec![
                ("X", "-----BEGIN PUBLIC KEY-----\nMIIB".into()),
                ("X", "-----BEGIN CERTIFICATE-----\nMIIB".into()),
            ],
        },
        Samples {
            id: "jwt",
            tp: vec![("X", jwt.into())],
            fp: vec![("X", "eyJhbGciOiJIUzI1NiJ9".into()), ("X", "eyJ.eyJ.sig".into())],
        },
        Samples {
            id: "aws-secret-access-key",
            tp: vec![("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".into())],
            fp: vec![
                ("GIT_SHA", "da39a3ee5e6b4b0d3255bfef95601890afd80709".into()),
                ("DESC", "ThisIsNotASecretButItIsFortyCharsLongOk".into()),
            ],
        },
        Samples {
            id: "credentials-in-url",
            tp: vec![
                ("DATABASE_URL", "postgres://app:s3cret-pw@db.internal:5432/app".into()),
                ("REDIS_URL", "redis://:hunter22@cache:6379/0".into()),
                ("X", "https://deploy:pa55word@git.example.com/repo.git".into()),
            ],
            fp: vec![
                ("DATABASE_URL", "postgres://app@db.internal:5432/app".into()),
                ("DATABASE_URL", "postgres://app:${DB_PASSWORD}@db/app".into()),
                ("X", "https://example.com:8443/path".into()),
                ("X", "http://user:****@host/".into()),
            ],
        },
        Samples {
            id: "connection-string-password",
            tp: vec![
                ("X", "Server=db;Database=app;User Id=sa;Password=Sup3rS3cret!;".into()),
                ("X", "jdbc:mysql://db:3306/app?user=app&password=hunter22".into()),
            ],
            fp: vec![
                ("X", "Server=db;Integrated Security=true;".into()),
                ("X", "Server=db;Password=;".into()),
                ("X", "Server=db;Password=${DB_PASSWORD}".into()),
            ],
        },
        Samples {
            id: "datadog-key",
            tp: vec![("DD_API_KEY", rep("0a1b", 8)), ("DATADOG_APP_KEY", rep("0a1b2", 8))],
            fp: vec![("GIT_COMMIT", rep("0a1b", 8)), ("DD_API_KEY", "not-hex-value-at-all-no".into())],
        },
        Samples {
            id: "high-entropy-string",
            tp: vec![("X", "q8Zt3LmX9vR2bNw7KpYc4HdJ6sFg1TaE".into()), ("X", "Zk9mQ2xV7pLr4TnW8sYb3HcJ".into())],
            fp: vec![
                ("X", "3f2504e0-4f89-11d3-9a0c-0305e82c3301".into()),
                ("X", "da39a3ee5e6b4b0d3255bfef95601890afd80709".into()),
                ("X", format!("sha256:{}", rep("ab12", 16))),
                ("X", "my-app-abcde-logs".into()),
                ("X", "1.2.3-beta.4+build.567".into()),
                ("X", "https://svc.internal/api/v2".into()),
                ("X", "/var/run/secrets/db".into()),
                ("X", "ThisIsAnApplicationName2024".into()),
                ("X", "-Xmx1024m -XX:+UseG1GC".into()),
                ("X", "123456789012.dkr.ecr.us-east-1.amazonaws.com/app:1a2b3c4".into()),
            ],
        },
    ]
}

#[test]
fn every_detector_has_samples() {
    let ids: Vec<&str> = samples().iter().map(|s| s.id).collect();
    for d in all() {
        assert!(ids.contains(&d.id), "detector {} has no samples", d.id);
    }
    for s in samples() {
        assert!(
            !s.tp.is_empty() && !s.fp.is_empty(),
            "{} needs both kinds of sample",
            s.id
        );
    }
}

#[test]
fn true_positives_match() {
    for s in samples() {
        for (name, value) in &s.tp {
            let hits = detect(name, value);
            assert!(
                hits.contains(&s.id),
                "{} missed sample #{} for {name}: got {hits:?}",
                s.id,
                s.tp.iter().position(|(_, v)| v == value).unwrap_or(0)
            );
        }
    }
}

#[test]
fn false_positives_do_not_match() {
    for s in samples() {
        for (i, (name, value)) in s.fp.iter().enumerate() {
            let hits = detect(name, value);
            assert!(
                !hits.contains(&s.id),
                "{} fired on false-positive sample #{i} ({name})",
                s.id
            );
        }
    }
}

#[test]
fn placeholders() {
    for p in [
        "${DB_PASSWORD}",
        "$DB_PASSWORD",
        "{{ db_password }}",
        "<your-password>",
        "********",
        "xxxxxxxx",
        "%DB_PASS%",
        "",
        "REPLACE_ME",
        "replace-me",
        "TBD",
        "YOUR_API_KEY_HERE",
        "insert-token-here",
    ] {
        assert!(is_placeholder(p), "{p}");
    }
    for p in [
        "hunter2",
        "123123",
        "$ecret!",
        "P@ssw0rd",
        "changeme",
        "yourpasswordisnothere1",
    ] {
        assert!(!is_placeholder(p), "{p}");
    }
}
