//! `ecsguard scan --aws` against a moto server on 127.0.0.1.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic

mod common;
#[path = "common/moto.rs"]
mod moto;
#[path = "common/proxy.rs"]
mod proxy;

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

/// An Organization whose accounts enable different regions, and one account
/// that cannot be entered: each account's own regions are scanned, and the
/// one that cannot be entered is one error for that account alone.
#[test]
fn org_regions_are_discovered_per_account_and_one_failing_account_is_its_own_error() {
    let mgmt_id = "100000000020";
    let (mgmt, members) = rt().block_on(async {
        let mgmt = account(mgmt_id).await;
        let orgs = aws_sdk_organizations::Client::new(&mgmt.config("us-east-1").await);
        orgs.create_organization()
            .feature_set(aws_sdk_organizations::types::OrganizationFeatureSet::All)
            .send()
            .await
            .expect("create organization");
        let mut members = Vec::new();
        for (name, region) in [
            ("east", "us-east-1"),
            ("west", "eu-west-1"),
            ("locked", "us-east-1"),
        ] {
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
                &member.ecs(region).await,
                name,
                &[("DB_PASSWORD", &format!("{name}-org-password-1"))],
            )
            .await;
            members.push((name, id));
        }
        (mgmt, members)
    });
    let id_of = |name: &str| {
        members
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, id)| id.clone())
            .expect("member")
    };
    let dir = common::tempdir();
    let args: Vec<String> = vec![
        "--account".into(),
        format!("{}={mgmt_id}", mgmt.access_key_id),
        "--regions".into(),
        format!("{mgmt_id}=us-east-1"),
        "--regions".into(),
        format!("{}=us-east-1", id_of("east")),
        "--regions".into(),
        format!("{}=eu-west-1", id_of("west")),
        "--regions".into(),
        format!("{}=us-east-1", id_of("locked")),
        "--fail".into(),
        format!("{}:GetCallerIdentity", id_of("locked")),
        "--fail".into(),
        format!("{}:DescribeRegions", id_of("locked")),
    ];
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let proxy = proxy::Proxy::start(dir.path(), &refs);
    let run = run_with(
        &proxy.env(mgmt.env("us-east-1")),
        &[
            "scan",
            "--aws",
            "--format",
            "json",
            "--org",
            "--role-name",
            "OrganizationAccountAccessRole",
            "--all-regions",
        ],
    );
    assert_eq!(run.code, 2, "{}\n{}", run.stdout, run.stderr);
    let report = run.json();
    let places: BTreeSet<(String, String)> = report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| {
            (
                f["location"]["account"].as_str().unwrap_or("").to_owned(),
                f["location"]["region"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    assert!(
        places.contains(&(id_of("east"), "us-east-1".to_owned())),
        "{places:?}"
    );
    assert!(
        places.contains(&(id_of("west"), "eu-west-1".to_owned())),
        "the second account's own region was scanned: {places:?}"
    );
    let errors = report["errors"].as_array().expect("errors");
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0]["account"], id_of("locked").as_str());
    assert!(
        errors[0]["message"]
            .as_str()
            .unwrap_or("")
            .contains("cannot enter the account"),
        "{errors:?}"
    );
    assert_eq!(report["summary"]["accounts"], 4);
}

/// Eight families in two regions.
fn spread(id: &str) -> Account {
    rt().block_on(async {
        let acct = account(id).await;
        for (i, region) in [
            "us-east-1",
            "us-east-1",
            "us-east-1",
            "us-east-1",
            "us-east-1",
            "us-east-1",
            "eu-west-1",
            "eu-west-1",
        ]
        .into_iter()
        .enumerate()
        {
            register(
                &acct.ecs(region).await,
                &format!("svc{i}"),
                &[
                    ("DB_PASSWORD", &format!("spread-{i}-Pw9xQ2")),
                    ("LOG_LEVEL", "info"),
                ],
            )
            .await;
        }
        acct
    })
}

const TWO_REGIONS: &[&str] = &[
    "scan",
    "--aws",
    "--format",
    "json",
    "--region",
    "us-east-1",
    "--region",
    "eu-west-1",
];

/// Throttling, 500s, resets and timeouts: retried, and the scan finds what a
/// clean one finds.
#[test]
fn a_scan_through_api_faults_finds_what_a_clean_scan_finds() {
    let acct = spread("100000000021");
    let clean = run_with(&acct.env("us-east-1"), TWO_REGIONS);
    assert_eq!(clean.code, 1, "{}\n{}", clean.stdout, clean.stderr);
    let expected = found(&clean.json());
    assert_eq!(expected.len(), 8);
    let dir = common::tempdir();
    let proxy = proxy::Proxy::start(
        dir.path(),
        &[
            "--seed",
            "21",
            "--rate",
            "throttle=0.12",
            "--rate",
            "error=0.05",
            "--rate",
            "reset=0.05",
            "--rate",
            "error-after=0.05",
            "--rate",
            "reset-after=0.05",
            "--rate",
            "timeout-after=0.03",
            "--delay",
            "3",
        ],
    );
    let mut args = TWO_REGIONS.to_vec();
    args.extend_from_slice(&["--api-timeout", "1"]);
    let faulty = run_with(&proxy.env(acct.env("us-east-1")), &args);
    assert_eq!(faulty.code, 1, "{}\n{}", faulty.stdout, faulty.stderr);
    assert_eq!(found(&faulty.json()), expected);
    let faults = proxy.faults();
    assert!(
        faults.values().sum::<usize>() >= 3,
        "the proxy injected faults: {faults:?}"
    );
}

/// With one attempt per call, faults are failures: the scan exits 2 and
/// names, for every finding it missed, the region or revision it could not
/// read. Never a clean result for what it did not see.
#[test]
fn a_scan_that_cannot_read_everything_says_what_it_missed() {
    let acct = spread("100000000022");
    let clean = run_with(&acct.env("us-east-1"), TWO_REGIONS);
    let expected = found(&clean.json());
    let dir = common::tempdir();
    let proxy = proxy::Proxy::start(dir.path(), &["--seed", "22", "--rate", "error=0.3"]);
    let mut args = TWO_REGIONS.to_vec();
    args.extend_from_slice(&["--max-attempts", "1"]);
    let run = run_with(&proxy.env(acct.env("us-east-1")), &args);
    assert_eq!(run.code, 2, "{}\n{}", run.stdout, run.stderr);
    let report = run.json();
    let got = found(&report);
    let errors = report["errors"].as_array().expect("errors");
    assert!(!errors.is_empty());
    let clean_report = clean.json();
    for (tail, variable) in &expected {
        if got.contains(&(tail.clone(), variable.clone())) {
            continue;
        }
        let family = tail.split(':').next().unwrap_or("");
        let region = clean_report["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .find(|f| {
                f["location"]["arn"]
                    .as_str()
                    .unwrap_or("")
                    .ends_with(tail.as_str())
            })
            .and_then(|f| f["location"]["region"].as_str())
            .unwrap_or("")
            .to_owned();
        let covered = errors.iter().any(|e| {
            e["region"] == region.as_str()
                && (e["arn"].is_null()
                    || e["arn"].as_str().unwrap_or("").contains(family)
                    || e["message"].as_str().unwrap_or("").contains(family))
        });
        assert!(
            covered,
            "{tail} was missed and no error says so: {errors:?}"
        );
    }
}
