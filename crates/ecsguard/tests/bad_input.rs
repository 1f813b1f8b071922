//! Bad input gets a clear error naming the file and line; everything else is
//! still scanned, and the exit status is 2.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic

mod common;

use common::{ecsguard_in, tempdir, write};
use serde_json::Value;

const GOOD: &str = r#"{"family": "ok", "containerDefinitions": [{"name": "c", "environment": [{"name": "DB_PASSWORD", "value": "still-found-1"}]}]}"#;

fn errors(report: &Value) -> Vec<(String, u64, String)> {
    report["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| {
            (
                e["file"].as_str().unwrap_or("").to_owned(),
                e["line"].as_u64().unwrap_or(0),
                e["message"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect()
}

/// Scans `dir` and checks: exit 2, the good file's finding is there, and exactly
/// one error, for `file` at `line`, whose message contains `needle`.
fn assert_one_error(dir: &std::path::Path, file: &str, line: u64, needle: &str) {
    let run = ecsguard_in(dir, &["scan", "--format", "json", "."]);
    assert_eq!(run.code, 2, "{}", run.stdout);
    let report = run.json();
    let errs = errors(&report);
    assert_eq!(errs.len(), 1, "{errs:?}");
    let (f, l, m) = &errs[0];
    assert!(f.ends_with(file), "{f}");
    assert_eq!(*l, line, "{m}");
    assert!(m.contains(needle), "{m}");
    assert!(
        report["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .any(|f| f["variable"] == "DB_PASSWORD"),
        "the good file is still scanned"
    );
    // The text format lists the error too, with file and line.
    let text = ecsguard_in(dir, &["scan", "."]);
    assert_eq!(text.code, 2);
    assert!(text.stdout.contains("error: "), "{}", text.stdout);
    assert!(text.stdout.contains(file), "{}", text.stdout);
    assert!(text.stdout.contains("1 input error"), "{}", text.stdout);
}

#[test]
fn malformed_json() {
    let dir = tempdir();
    write(dir.path(), "good.json", GOOD);
    write(
        dir.path(),
        "bad.json",
        "{\n  \"containerDefinitions\": [\n    {\"name\": \"x\",, }\n  ]\n}\n",
    );
    assert_one_error(dir.path(), "bad.json", 3, "invalid JSON");
}

#[test]
fn malformed_yaml() {
    let dir = tempdir();
    write(dir.path(), "good.json", GOOD);
    write(
        dir.path(),
        "bad.yaml",
        "Resources:\n  T:\n    Type: AWS::ECS::TaskDefinition\n    Properties: [unclosed\n  X: 1\n",
    );
    let run = ecsguard_in(dir.path(), &["scan", "--format", "json", "."]);
    assert_eq!(run.code, 2);
    let errs = errors(&run.json());
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(errs[0].0.ends_with("bad.yaml"));
    assert!((4..=5).contains(&errs[0].1), "{errs:?}");
    assert!(errs[0].2.contains("invalid YAML"), "{errs:?}");
}

#[test]
fn malformed_hcl() {
    let dir = tempdir();
    write(dir.path(), "good.json", GOOD);
    write(
        dir.path(),
        "tf/main.tf",
        "resource \"aws_ecs_task_definition\" \"x\" {\n  family = \"x\"\n  container_definitions = jsonencode([{ name = \"a\" ]\n}\n",
    );
    assert_one_error(dir.path(), "main.tf", 3, "invalid HCL");
}

#[test]
fn malformed_json_inside_a_template() {
    let dir = tempdir();
    write(dir.path(), "good.json", GOOD);
    write(
        dir.path(),
        "t.yaml",
        "Resources:\n  T:\n    Type: AWS::ECS::TaskDefinition\n    Properties:\n      ContainerDefinitions: |\n        [\n          {\"name\": \"a\",\n        ]\n",
    );
    assert_one_error(dir.path(), "t.yaml", 8, "ContainerDefinitions string");
}

#[test]
fn unknown_encoding() {
    let dir = tempdir();
    write(dir.path(), "good.json", GOOD);
    write(
        dir.path(),
        "latin1.json",
        b"{\n \"containerDefinitions\": [],\n \"x\": \"caf\xe9\"\n}\n",
    );
    assert_one_error(dir.path(), "latin1.json", 3, "not valid UTF-8");
}

#[test]
fn utf16_with_bom_is_read() {
    let dir = tempdir();
    let mut bytes = vec![0xFF, 0xFE];
    for u in GOOD.encode_utf16() {
        bytes.extend(u.to_le_bytes());
    }
    write(dir.path(), "utf16.json", bytes);
    let run = ecsguard_in(dir.path(), &["scan", "--format", "json", "."]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert_eq!(run.json()["findings"][0]["variable"], "DB_PASSWORD");
}

#[test]
fn binary_file() {
    let dir = tempdir();
    write(dir.path(), "good.json", GOOD);
    write(
        dir.path(),
        "blob.json",
        b"{\"containerDefinitions\"\n\x00\x01\x02",
    );
    assert_one_error(dir.path(), "blob.json", 2, "binary");
}

#[test]
fn huge_file() {
    let dir = tempdir();
    write(dir.path(), "good.json", GOOD);
    let big = format!(
        "[{}]",
        vec!["{\"name\": \"x\", \"environment\": []}"; 200].join(",")
    );
    write(dir.path(), "huge.json", big);
    let run = ecsguard_in(
        dir.path(),
        &["scan", "--format", "json", "--max-file-size", "1000", "."],
    );
    assert_eq!(run.code, 2);
    let errs = errors(&run.json());
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(errs[0].0.ends_with("huge.json"));
    assert!(errs[0].2.contains("too large"), "{errs:?}");
}

#[cfg(unix)]
#[test]
fn symlink_loop() {
    let dir = tempdir();
    write(dir.path(), "good.json", GOOD);
    std::fs::create_dir_all(dir.path().join("a/b")).expect("mkdir");
    std::os::unix::fs::symlink("../..", dir.path().join("a/b/up")).expect("symlink");
    let run = ecsguard_in(dir.path(), &["scan", "--format", "json", "."]);
    assert_eq!(run.code, 2, "{}", run.stdout);
    let report = run.json();
    let errs = errors(&report);
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(errs[0].0.ends_with("up"), "{errs:?}");
    assert!(errs[0].2.contains("symbolic link loop"), "{errs:?}");
    // The good file is reported once, not once per trip round the loop.
    assert_eq!(report["findings"].as_array().map(Vec::len), Some(1));
}

#[test]
fn missing_path() {
    let dir = tempdir();
    write(dir.path(), "good.json", GOOD);
    let run = ecsguard_in(
        dir.path(),
        &["scan", "--format", "json", "good.json", "nope.json"],
    );
    assert_eq!(run.code, 2);
    let errs = errors(&run.json());
    assert_eq!(errs.len(), 1);
    assert_eq!(errs[0].0, "nope.json");
}

#[test]
fn missing_file_function_target() {
    let dir = tempdir();
    write(dir.path(), "good.json", GOOD);
    write(
        dir.path(),
        "main.tf",
        "resource \"aws_ecs_task_definition\" \"x\" {\n  family = \"x\"\n  container_definitions = file(\"${path.module}/gone.json\")\n}\n",
    );
    assert_one_error(dir.path(), "main.tf", 3, "gone.json");
}

#[test]
fn unrelated_files_are_ignored_silently() {
    let dir = tempdir();
    write(dir.path(), "good.json", GOOD);
    write(
        dir.path(),
        "package.json",
        "{\"name\": \"x\", \"version\": \"1.0.0\"}",
    );
    write(dir.path(), "broken-unrelated.json", "{ this is not json");
    write(
        dir.path(),
        "values.yaml",
        "image: {{ .Values.image }}\n  bad: [",
    );
    write(dir.path(), "k8s.yaml", "apiVersion: v1\nkind: ConfigMap\n");
    write(
        dir.path(),
        "other.tf",
        "resource \"aws_s3_bucket\" \"b\" {\n  bucket = \"x\"\n}\n",
    );
    let run = ecsguard_in(dir.path(), &["scan", "--format", "json", "."]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert_eq!(run.json()["errors"].as_array().map(Vec::len), Some(0));
}
