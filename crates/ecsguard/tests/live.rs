//! `ecsguard scan --aws` against a moto server on 127.0.0.1.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic

mod common;
#[path = "common/moto.rs"]
mod moto;

use std::collections::BTreeSet;

use common::Run;
use moto::{account, deregister, register, Account};

fn run_with(env: &[(&'static str, String)], args: &[&str]) -> Run {
    common::ecsguard_with(std::path::Path::new("."), env, true, args)
}

fn live(acct: &Account, args: &[&str]) -> Run {
    let mut all = vec!["scan", "--aws", "--format", "json"];
    all.extend_from_slice(args);
    run_with(&acct.env("us-east-1"), &all)
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// `(arn suffix, variable)` of each finding.
fn found(report: &serde_json::Value) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| {
            let arn = f["location"]["arn"].as_str().unwrap_or("");
            let tail = arn.rsplit('/').next().unwrap_or("").to_owned();
            (tail, f["variable"].as_str().unwrap_or("").to_owned())
        })
        .collect();
    out.sort();
    out
}

#[test]
fn latest_active_revision_by_default() {
    let acct = rt().block_on(async {
        let acct = account("100000000001").await;
        let ecs = acct.ecs("us-east-1").await;
        register(&ecs, "billing", &[("DB_PASSWORD", "first-password-1")]).await;
        register(
            &ecs,
            "billing",
            &[("DB_PASSWORD", "hunter2hunter2"), ("LOG_LEVEL", "info")],
        )
        .await;
        let newest = register(&ecs, "billing", &[("DB_PASSWORD", "third-password-3")]).await;
        deregister(&ecs, &newest).await;
        register(
            &ecs,
            "clean",
            &[("LOG_LEVEL", "info"), ("PASSWORD_FILE", "/run/secrets/x")],
        )
        .await;
        let gone = register(&ecs, "gone", &[("API_TOKEN", "gone-token-value")]).await;
        deregister(&ecs, &gone).await;
        acct
    });
    let run = live(&acct, &["--region", "us-east-1"]);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    let report = run.json();
    assert_eq!(
        found(&report),
        vec![("billing:2".to_owned(), "DB_PASSWORD".to_owned())]
    );
    let f = &report["findings"][0];
    assert_eq!(f["location"]["account"], "100000000001");
    assert_eq!(f["location"]["region"], "us-east-1");
    assert_eq!(f["task_definition"]["family"], "billing");
    assert_eq!(f["task_definition"]["revision"], 2);
    assert!(f["location"].get("file").is_none());
    assert_eq!(
        report["summary"]["task_definitions"], 2,
        "billing and clean; gone has no ACTIVE revision"
    );
    assert_eq!(report["summary"]["older_revisions_not_scanned"], 1);
    assert_eq!(report["errors"].as_array().map(Vec::len), Some(0));

    let text = run_with(&acct.env("us-east-1"), &["scan", "--aws"]);
    assert_eq!(text.code, 1);
    assert!(
        text.stdout.contains("rerun with --all-revisions"),
        "{}",
        text.stdout
    );
    assert!(
        text.stdout
            .contains("arn:aws:ecs:us-east-1:100000000001:task-definition/billing:2"),
        "{}",
        text.stdout
    );
}

#[test]
fn all_revisions_includes_deregistered_ones() {
    let acct = rt().block_on(async {
        let acct = account("100000000002").await;
        let ecs = acct.ecs("us-east-1").await;
        let first = register(&ecs, "app", &[("DB_PASSWORD", "revision-one-pw")]).await;
        register(&ecs, "app", &[("DB_PASSWORD", "revision-two-pw")]).await;
        deregister(&ecs, &first).await;
        acct
    });
    let run = live(&acct, &["--all-revisions"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let report = run.json();
    assert_eq!(
        found(&report),
        vec![
            ("app:1".to_owned(), "DB_PASSWORD".to_owned()),
            ("app:2".to_owned(), "DB_PASSWORD".to_owned())
        ]
    );
    assert_eq!(report["summary"]["older_revisions_not_scanned"], 0);
}

#[test]
fn two_regions() {
    let acct = rt().block_on(async {
        let acct = account("100000000003").await;
        register(
            &acct.ecs("us-east-1").await,
            "east",
            &[("API_KEY", "east-api-key-1")],
        )
        .await;
        register(
            &acct.ecs("eu-west-1").await,
            "west",
            &[("API_KEY", "west-api-key-1")],
        )
        .await;
        acct
    });
    let run = live(&acct, &["--region", "us-east-1", "--region", "eu-west-1"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let report = run.json();
    let regions: BTreeSet<(String, String)> = report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| {
            (
                f["task_definition"]["family"]
                    .as_str()
                    .unwrap_or("")
                    .to_owned(),
                f["location"]["region"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    assert_eq!(
        regions,
        BTreeSet::from([
            ("east".to_owned(), "us-east-1".to_owned()),
            ("west".to_owned(), "eu-west-1".to_owned())
        ])
    );
    assert_eq!(report["summary"]["regions"], 2);
}

#[test]
fn all_regions_finds_what_is_anywhere() {
    let acct = rt().block_on(async {
        let acct = account("100000000009").await;
        register(
            &acct.ecs("ap-southeast-2").await,
            "far",
            &[("DB_PASSWORD", "far-away-pw")],
        )
        .await;
        acct
    });
    let run = live(&acct, &["--all-regions"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let report = run.json();
    assert_eq!(
        found(&report),
        vec![("far:1".to_owned(), "DB_PASSWORD".to_owned())]
    );
    assert!(
        report["summary"]["regions"].as_u64().unwrap_or(0) > 10,
        "{}",
        report["summary"]
    );
}

#[test]
fn empty_account_is_clean() {
    let acct = rt().block_on(account("100000000004"));
    let run = live(&acct, &[]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let report = run.json();
    assert_eq!(report["summary"]["task_definitions"], 0);
    assert_eq!(report["errors"].as_array().map(Vec::len), Some(0));
    assert!(report["summary"]["api_calls"].as_u64().unwrap_or(0) >= 1);
}

#[test]
fn role_arn_is_assumed_first() {
    rt().block_on(async {
        let acct = account("100000000005").await;
        register(
            &acct.ecs("us-east-1").await,
            "assumed",
            &[("GITHUB_TOKEN", "assumed-token-1")],
        )
        .await;
    });
    // Start from the default moto credentials (another account) and assume into 100000000005.
    let base = rt().block_on(account("100000000055"));
    let run = live(
        &base,
        &[
            "--role-arn",
            "arn:aws:iam::100000000005:role/ecsguard-scanner",
        ],
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    let report = run.json();
    assert_eq!(
        found(&report),
        vec![("assumed:1".to_owned(), "GITHUB_TOKEN".to_owned())]
    );
    assert_eq!(report["findings"][0]["location"]["account"], "100000000005");
}

#[test]
fn organization_accounts_are_each_scanned() {
    let (mgmt, members) = rt().block_on(async {
        let mgmt = account("100000000006").await;
        let orgs = aws_sdk_organizations::Client::new(&mgmt.config("us-east-1").await);
        orgs.create_organization()
            .feature_set(aws_sdk_organizations::types::OrganizationFeatureSet::All)
            .send()
            .await
            .expect("create organization");
        let mut members = Vec::new();
        for name in ["alpha", "beta"] {
            let out = orgs
                .create_account()
                .account_name(name)
                .email(format!("{name}@example.com"))
                .send()
                .await
                .expect("create account");
            let id = out
                .create_account_status()
                .and_then(|s| s.account_id())
                .expect("account id")
                .to_owned();
            let member = account(&id).await;
            register(
                &member.ecs("us-east-1").await,
                name,
                &[("DB_PASSWORD", &format!("{name}-org-password"))],
            )
            .await;
            members.push(id);
        }
        (mgmt, members)
    });
    let run = live(
        &mgmt,
        &["--org", "--role-name", "OrganizationAccountAccessRole"],
    );
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    let report = run.json();
    let accounts: BTreeSet<String> = report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter_map(|f| f["location"]["account"].as_str().map(str::to_owned))
        .collect();
    for m in &members {
        assert!(accounts.contains(m), "{m} missing from {accounts:?}");
    }
    assert!(report["summary"]["accounts"].as_u64().unwrap_or(0) >= 3);
}

#[test]
fn an_unreadable_region_is_an_error_not_a_clean_result() {
    let acct = rt().block_on(async {
        let acct = account("100000000007").await;
        register(
            &acct.ecs("us-east-1").await,
            "readable",
            &[("DB_PASSWORD", "readable-pw-1")],
        )
        .await;
        acct
    });
    // moto answers an unknown region with an HTML 500 page.
    let run = live(
        &acct,
        &[
            "--region",
            "us-east-1",
            "--region",
            "xx-nowhere-1",
            "--max-attempts",
            "1",
        ],
    );
    assert_eq!(run.code, 2, "{}\n{}", run.stdout, run.stderr);
    let report = run.json();
    assert_eq!(
        found(&report),
        vec![("readable:1".to_owned(), "DB_PASSWORD".to_owned())]
    );
    let errors = report["errors"].as_array().expect("errors");
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0]["region"], "xx-nowhere-1");
    assert_eq!(errors[0]["account"], "100000000007");
    let message = errors[0]["message"].as_str().unwrap_or("");
    assert!(
        message.contains("cannot list task definition families"),
        "{message}"
    );
    assert!(
        !message.contains("<html") && !message.contains("<!doctype"),
        "no response body: {message}"
    );
}

#[test]
fn no_planted_value_reaches_any_output() {
    const PLANTED: &[&str] = &[
        "Kx7Qm2Vz9Lp4Rt8N",
        "Bn3Hj6Wq1Ze5Yc0M",
        "AKIAQW3ERT5YUI7OP2AS",
        "Pp0Oo9Ii8Uu7Yy6T",
    ];
    let acct = rt().block_on(async {
        let acct = account("100000000008").await;
        let ecs = acct.ecs("us-east-1").await;
        register(
            &ecs,
            "canary",
            &[
                ("DB_PASSWORD", PLANTED[0]),
                ("DATABASE_URL", &format!("postgres://u:{}@db/x", PLANTED[1])),
                ("AWS_ACCESS_KEY_ID", PLANTED[2]),
                ("LOG_LEVEL", PLANTED[3]),
            ],
        )
        .await;
        acct
    });
    for format in ["text", "json", "sarif"] {
        for verbose in [false, true] {
            let mut args = vec!["scan", "--aws", "--all-revisions", "--format", format];
            if verbose {
                args.push("-v");
            }
            let run = run_with(&acct.env("us-east-1"), &args);
            assert_eq!(run.code, 1, "{}", run.stderr);
            for planted in PLANTED {
                for w in 0..=planted.len() - 6 {
                    let part = &planted[w..w + 6];
                    assert!(!run.stdout.contains(part), "{format}: stdout shows {part}");
                    assert!(!run.stderr.contains(part), "{format}: stderr shows {part}");
                }
            }
        }
    }
}
