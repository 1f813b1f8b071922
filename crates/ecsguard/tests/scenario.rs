//! One scenario written in every supported format must give the same logical
//! findings, each pointing at the line that holds the variable's name.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic

mod common;

use common::{ecsguard, fixtures, logical};

fn expected() -> Vec<(String, String, String)> {
    let mut v: Vec<(String, String, String)> = [
        ("app", "AWS_SECRET_ACCESS_KEY", "known-credential-variable"),
        ("app", "DATABASE_URL", "secret-valued-variable"),
        ("app", "DB_PASSWORD", "secret-named-variable"),
    ]
    .iter()
    .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
    .collect();
    v.sort();
    v
}

#[test]
fn every_format_gives_the_same_findings_on_the_right_lines() {
    let dir = fixtures().join("scenario");
    let mut shapes = 0;
    for entry in std::fs::read_dir(&dir).expect("fixtures") {
        let path = entry.expect("entry").path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_owned();
        let run = ecsguard(&[
            "scan",
            "--format",
            "json",
            path.to_str().expect("utf-8 path"),
        ]);
        assert_eq!(run.code, 1, "{name}: {}", run.stderr);
        let report = run.json();
        assert_eq!(logical(&report), expected(), "{name}");
        assert_eq!(report["errors"].as_array().map(Vec::len), Some(0), "{name}");
        assert_eq!(
            report["summary"]["task_definitions"], 1,
            "{name}: reported once"
        );
        for f in report["findings"].as_array().expect("findings") {
            let file = f["location"]["file"].as_str().expect("file");
            let line = f["location"]["line"].as_u64().expect("line") as usize;
            let text = std::fs::read_to_string(file).expect("finding names a readable file");
            let held = text.lines().nth(line - 1).unwrap_or_default();
            let variable = f["variable"].as_str().expect("variable");
            if name == "plan.json" {
                // Plans hold container definitions as one JSON string: the line is that string's.
                assert!(
                    held.contains("container_definitions"),
                    "{name}: line {line} is {held:?}"
                );
            } else {
                assert!(
                    held.contains(variable),
                    "{name}: line {line} ({held:?}) should hold {variable}"
                );
            }
            if name != "bare-array.json" {
                assert_eq!(f["task_definition"]["family"], "shop", "{name}");
            }
        }
        shapes += 1;
    }
    assert!(shapes >= 11, "expected every source shape, found {shapes}");
}
