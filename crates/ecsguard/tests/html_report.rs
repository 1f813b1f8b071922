//! The HTML report, loaded in a real browser (headless Chromium, from
//! Debian's package `chromium`; `.ci/run` installs it). The tests assert on
//! the DOM Chromium dumps after the page's script has run:
//! - every finding of the JSON report is in the page, once, and no planted
//!   value (nor six characters of one) is;
//! - the page makes no request of any kind (Chromium's network log shows no
//!   request started by the page; a control page proves the check sees one);
//! - hostile names (markup in a variable or container name) stay text;
//! - filtering by severity and rule works from the address's `#fragment`,
//!   with no server; without JavaScript (the file as written) every
//!   finding is shown.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{ecsguard_in, tempdir, write};

const PLANTED: &[&str] = &[
    "Pl4ntedQz8XkP2mLw9vRt4N",
    "Pl4ntedHj3Ty7Vb1Nc5Xm0Q",
    "Pl4ntedPp4Kd8Sx2Lw6Qe9R",
    "Pl4ntedUa5Gh1Ko7Mn3Bv8C",
];

fn chromium() -> PathBuf {
    if let Ok(path) = std::env::var("CHROMIUM") {
        return PathBuf::from(path);
    }
    for candidate in ["/usr/bin/chromium", "/usr/bin/chromium-browser"] {
        if Path::new(candidate).exists() {
            return PathBuf::from(candidate);
        }
    }
    panic!(
        "the HTML report is tested in headless Chromium, which is not installed: \
         `apt-get install chromium` (.ci/run does this), or set CHROMIUM to its path"
    );
}

/// What the browser saw: the DOM after scripts ran, and the URLs of the
/// requests the page started.
struct Loaded {
    dom: String,
    requests: Vec<String>,
}

fn load(page: &Path, fragment: &str) -> Loaded {
    let profile = tempdir();
    let netlog = profile.path().join("netlog.json");
    let url = format!("file://{}{fragment}", page.display());
    let mut cmd = Command::new(chromium());
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--virtual-time-budget=5000",
    ])
    .arg(format!(
        "--user-data-dir={}",
        profile.path().join("p").display()
    ))
    .arg(format!("--log-net-log={}", netlog.display()));
    let out = cmd
        .arg("--dump-dom")
        .arg(&url)
        .output()
        .expect("chromium runs");
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dom = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(dom.contains("</html>"), "no DOM dumped: {dom}");
    // Requests the page started carry its (opaque, file://) origin as the
    // initiator; Chromium's own background requests carry none.
    let log: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&netlog).expect("net log"))
            .expect("net log is JSON");
    let requests = log["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| {
            let initiator = e["params"]["initiator"].as_str()?;
            (initiator != "not an origin")
                .then(|| e["params"]["url"].as_str().unwrap_or("?").to_owned())
        })
        .collect();
    Loaded { dom, requests }
}

/// Findings in the DOM: (fingerprint, severity, rule, shown).
fn articles(dom: &str) -> Vec<(String, String, String, bool)> {
    let tag = regex::Regex::new(r#"<article [^>]*>"#).unwrap();
    let attr = |t: &str, name: &str| {
        regex::Regex::new(&format!(r#"\b{name}="([^"]*)""#))
            .unwrap()
            .captures(t)
            .map(|c| c[1].to_owned())
            .unwrap_or_default()
    };
    tag.find_iter(dom)
        .map(|m| {
            let t = m.as_str();
            (
                attr(t, "data-fingerprint"),
                attr(t, "data-severity"),
                attr(t, "data-rule"),
                !regex::Regex::new(r#"\bhidden\b"#).unwrap().is_match(t),
            )
        })
        .collect()
}

fn assert_no_planted(what: &str, text: &str) {
    for planted in PLANTED {
        for w in 0..=planted.len() - 6 {
            assert!(
                !text.contains(&planted[w..w + 6]),
                "{what} shows part of a planted value ({})",
                &planted[w..w + 6]
            );
        }
    }
}

/// Findings of every rule and two severities, in three source kinds, with
/// hostile names.
fn plant(dir: &Path) {
    let [db, api, smtp, admin] = PLANTED else {
        panic!("four")
    };
    write(
        dir,
        "td/billing.json",
        format!(
            r#"{{"family": "billing", "containerDefinitions": [{{"name": "api", "environment": [
              {{"name": "DB_PASSWORD", "value": "{db}"}},
              {{"name": "AWS_SECRET_ACCESS_KEY", "value": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}},
              {{"name": "API_TOKEN<img src=\"http://127.0.0.1:9/leak.png\">", "value": "{api}"}},
              {{"name": "LOG_LEVEL", "value": "info"}}]}},
              {{"name": "<script>document.title='pwned'</script>\u202e\u0007", "environment": [
              {{"name": "SMTP_PASSWORD", "value": "{smtp}"}}]}}]}}"#
        ),
    );
    write(
        dir,
        "cfn/orders.yaml",
        format!(
            "Parameters:\n  DbPassword:\n    Type: String\n    NoEcho: true\nResources:\n  T:\n    Type: AWS::ECS::TaskDefinition\n    Properties:\n      Family: orders\n      ContainerDefinitions:\n        - Name: orders\n          Environment:\n            - Name: DB_PASSWORD\n              Value: !Ref DbPassword\n            - Name: ADMIN_PASSWORD\n              Value: {admin}\n"
        ),
    );
    write(
        dir,
        "tf/main.tf",
        "variable \"db_password\" {\n  type = string\n}\nresource \"aws_ecs_task_definition\" \"w\" {\n  family = \"worker\"\n  container_definitions = jsonencode([{ name = \"w\", environment = [\n    { name = \"DB_PASSWORD\", value = var.db_password },\n    { name = \"DATABASE_URL\", value = \"postgres://app:Pl4ntedUa5Gh1Ko7Mn3Bv8C@db:5432/app\" },\n  ] }])\n}\n",
    );
}

fn report(dir: &Path) -> (PathBuf, serde_json::Value) {
    let page = dir.join("report.html");
    let run = ecsguard_in(
        dir,
        &[
            "scan",
            "td",
            "cfn",
            "tf",
            "--format",
            "html",
            "--output",
            "report.html",
        ],
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    let json = ecsguard_in(dir, &["scan", "td", "cfn", "tf", "--format", "json"]).json();
    (page, json)
}

#[test]
fn every_finding_is_in_the_page_and_nothing_else_leaves_it() {
    let dir = tempdir();
    plant(dir.path());
    let (page, json) = report(dir.path());
    let html = std::fs::read_to_string(&page).unwrap();
    assert_no_planted("the HTML file", &html);

    let loaded = load(&page, "");
    assert_no_planted("the DOM", &loaded.dom);
    assert!(
        loaded.requests.is_empty(),
        "the page made requests: {:?}",
        loaded.requests
    );
    let found = articles(&loaded.dom);
    let expected = json["findings"].as_array().unwrap();
    assert!(expected.len() >= 6, "{json}");
    assert_eq!(found.len(), expected.len());
    for f in expected {
        let fp = f["fingerprint"].as_str().unwrap();
        let shown: Vec<_> = found.iter().filter(|a| a.0 == fp).collect();
        assert_eq!(shown.len(), 1, "finding {fp} is in the page once");
        assert_eq!(shown[0].1, f["severity"].as_str().unwrap());
        assert_eq!(shown[0].2, f["rule"].as_str().unwrap());
        assert!(shown[0].3, "shown when nothing is filtered");
    }
    // Markup in names stayed text: no injected element ran or loaded.
    assert!(loaded.dom.contains("<title>ecsguard report</title>"));
    assert!(!loaded.dom.contains("<img src=\"http://127.0.0.1:9"));
    assert!(
        loaded.dom.contains("API_TOKEN&lt;img"),
        "the hostile name is shown as text"
    );
    // Bidirectional and control characters are shown, not obeyed.
    assert!(!loaded.dom.contains('\u{202e}') && !loaded.dom.contains('\u{7}'));
    assert!(loaded.dom.contains("\\u{202e}"), "shown escaped");
    // Grouping: files, then task definitions, then containers.
    for group in [
        r#"data-kind="file""#,
        r#"data-kind="task definition""#,
        r#"data-kind="container""#,
    ] {
        assert!(loaded.dom.contains(group), "{group}");
    }
    // The summary counts by rule and severity.
    assert!(loaded.dom.contains(r#"<table id="summary">"#));
}

#[test]
fn the_request_check_sees_a_request() {
    // A control page: if this failed, "no request" above would mean nothing.
    let dir = tempdir();
    let page = dir.path().join("control.html");
    std::fs::write(
        &page,
        "<html><body><img src=\"http://127.0.0.1:9/x.png\"></body></html>",
    )
    .unwrap();
    let loaded = load(&page, "");
    assert_eq!(loaded.requests, vec!["http://127.0.0.1:9/x.png".to_owned()]);
}

#[test]
fn filters_work_from_the_fragment_without_a_server() {
    let dir = tempdir();
    plant(dir.path());
    let (page, json) = report(dir.path());
    let expected = json["findings"].as_array().unwrap();
    for (fragment, severities, rules) in [
        ("#severity=medium", vec!["medium"], vec![]),
        (
            "#rule=known-credential-variable",
            vec![],
            vec!["known-credential-variable"],
        ),
        (
            "#severity=high&rule=secret-named-variable,secret-valued-variable",
            vec!["high"],
            vec!["secret-named-variable", "secret-valued-variable"],
        ),
    ] {
        let loaded = load(&page, fragment);
        let found = articles(&loaded.dom);
        assert_eq!(found.len(), expected.len(), "filtering hides, never drops");
        let want: usize = expected
            .iter()
            .filter(|f| {
                (severities.is_empty() || severities.contains(&f["severity"].as_str().unwrap()))
                    && (rules.is_empty() || rules.contains(&f["rule"].as_str().unwrap()))
            })
            .count();
        let shown: Vec<_> = found.iter().filter(|a| a.3).collect();
        assert_eq!(shown.len(), want, "{fragment}");
        assert!(
            want > 0 && want < expected.len(),
            "{fragment} selects some, not all"
        );
        for a in shown {
            assert!(
                severities.is_empty() || severities.contains(&a.1.as_str()),
                "{fragment}: {a:?}"
            );
            assert!(
                rules.is_empty() || rules.contains(&a.2.as_str()),
                "{fragment}: {a:?}"
            );
        }
        assert!(
            loaded
                .dom
                .contains(&format!(r#"<span id="shown">{want}</span>"#)),
            "{fragment}: the count shown"
        );
    }
    // Without JavaScript the page is as written: every finding shown, and
    // no filter form, which could only mislead. (Chromium dumps no DOM
    // with scripts off, so this reads the file.)
    let html = std::fs::read_to_string(&page).unwrap();
    let found = articles(&html);
    assert_eq!(found.len(), expected.len());
    assert!(found.iter().all(|a| a.3));
    assert!(html.contains(r#"<form id="filters" hidden>"#));
}
