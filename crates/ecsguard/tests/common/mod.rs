//! Helpers shared by the integration tests.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

pub fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples")
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", self.stdout))
    }
}

/// Runs `ecsguard` with `args` in `dir`, without colour, with the test
/// process's environment plus `env`; with `isolated`, with `env` alone.
pub fn ecsguard_with(dir: &Path, env: &[(&str, String)], isolated: bool, args: &[&str]) -> Run {
    let mut cmd = Command::cargo_bin("ecsguard").expect("binary built");
    if isolated {
        cmd.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default());
    }
    let out = cmd
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("ECSGUARD_FINGERPRINT_KEY")
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .args(args)
        .output()
        .expect("ecsguard runs");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Runs `ecsguard` with `args` in `dir`.
pub fn ecsguard_in(dir: &Path, args: &[&str]) -> Run {
    ecsguard_with(dir, &[], false, args)
}

pub fn ecsguard(args: &[&str]) -> Run {
    ecsguard_in(Path::new(env!("CARGO_MANIFEST_DIR")), args)
}

/// `(container, variable, rule)` of every finding, sorted.
pub fn logical(report: &Value) -> Vec<(String, String, String)> {
    let mut out: Vec<_> = report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| {
            (
                f["container"].as_str().unwrap_or("").to_owned(),
                f["variable"].as_str().unwrap_or("").to_owned(),
                f["rule"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    out.sort();
    out
}

/// One line per finding: `file:line:column rule severity variable [detectors]`,
/// with paths relative to `base`.
pub fn listing(report: &Value, base: &Path) -> String {
    let base = format!("{}/", base.display());
    report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| {
            let loc = &f["location"];
            let file = loc["file"].as_str().unwrap_or("").replace(&base, "");
            format!(
                "{file}:{}:{} {} {} {}/{} {} [{}]",
                loc["line"],
                loc["column"],
                f["rule"].as_str().unwrap_or(""),
                f["severity"].as_str().unwrap_or(""),
                f["task_definition"]["family"].as_str().unwrap_or("-"),
                f["container"].as_str().unwrap_or("-"),
                f["variable"].as_str().unwrap_or(""),
                f["evidence"]["detectors"]
                    .as_array()
                    .map(|d| d
                        .iter()
                        .filter_map(Value::as_str)
                        .collect::<Vec<_>>()
                        .join(","))
                    .unwrap_or_default()
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// A fresh temporary folder.
pub fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().expect("temp dir")
}

pub fn write(dir: &Path, rel: &str, text: impl AsRef<[u8]>) -> PathBuf {
    let path = dir.join(rel);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("mkdir");
    }
    std::fs::write(&path, text).expect("write");
    path
}

/// A task definition (register-input JSON) with one secret, named by family.
pub fn td_json(family: &str) -> String {
    format!(
        r#"{{"family": "{family}", "containerDefinitions": [{{"name": "c", "environment": [{{"name": "DB_PASSWORD", "value": "pw-{family}-123"}}]}}]}}"#
    )
}

/// The families of a JSON report's findings, sorted.
pub fn families(run: &Run) -> Vec<String> {
    let mut out: Vec<String> = run.json()["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter_map(|f| f["task_definition"]["family"].as_str().map(str::to_owned))
        .collect();
    out.sort();
    out
}

/// The hand-written shapes `fix PATH` rewrites, copied into a fresh folder.
pub fn fix_shapes() -> tempfile::TempDir {
    let dir = tempdir();
    for entry in std::fs::read_dir(fixtures().join("file_fix")).expect("fixtures") {
        let path = entry.expect("entry").path();
        if path
            .extension()
            .is_some_and(|e| e == "json" || e == "yaml" || e == "tf")
        {
            std::fs::copy(&path, dir.path().join(path.file_name().expect("name"))).expect("copy");
        }
    }
    dir
}

/// Copies a fixture folder, with its subfolders, into a new temporary one.
#[allow(dead_code)]
pub fn copy_tree(from: &Path) -> tempfile::TempDir {
    fn copy(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).expect("mkdir");
        for entry in std::fs::read_dir(from).expect("read dir") {
            let path = entry.expect("entry").path();
            let target = to.join(path.file_name().expect("name"));
            if path.is_dir() {
                copy(&path, &target);
            } else {
                std::fs::copy(&path, &target).expect("copy");
            }
        }
    }
    let dir = tempdir();
    copy(from, dir.path());
    dir
}

/// cfn-lint's errors for a template, by rule and message (line numbers move).
#[allow(dead_code)]
pub fn cfn_lint(path: &Path) -> Vec<String> {
    let out = std::process::Command::new("cfn-lint")
        .args(["--format", "parseable"])
        .arg(path)
        .output()
        .expect("cfn-lint runs (.ci/run installs it)");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.splitn(6, ':').last().unwrap_or(l).to_owned())
        .collect()
}

/// Whether `terraform fmt -check` passes in `dir` (the diff otherwise).
#[allow(dead_code)]
pub fn terraform_fmt(dir: &Path) -> Result<(), String> {
    let out = std::process::Command::new("terraform")
        .args(["fmt", "-check", "-diff"])
        .current_dir(dir)
        .output()
        .expect("terraform runs (it is on these machines)");
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stdout).into_owned())
    }
}
