//! A whole scan: walk, read and parse in parallel, apply the rules, collect
//! one sorted report.

use std::collections::{BTreeMap, HashSet};
use std::path::{Component, Path, PathBuf};

use ecsguard_core::{InputError, Report, RuleConfig, TaskDefinition};
use rayon::prelude::*;

use crate::input;
use crate::source::{self, FileKind, Outcome};
use crate::terraform;
use crate::walk;

#[derive(Debug, Clone)]
pub struct ScanOptions {
    pub rules: RuleConfig,
    pub max_file_size: u64,
}

impl Default for ScanOptions {
    fn default() -> Self {
        Self {
            rules: RuleConfig::default(),
            max_file_size: input::DEFAULT_MAX_FILE_SIZE,
        }
    }
}

/// A unit of work: one file, or one Terraform module (a folder's `.tf` files,
/// read together so variables and locals resolve across them).
enum Unit {
    File(PathBuf, FileKind),
    Module(PathBuf, Vec<PathBuf>),
}

/// Lexically normalises a path (`a/./b/../c` → `a/c`) so that the same file
/// reached two ways is recognised.
pub fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

pub fn display(path: &Path) -> String {
    path.display().to_string()
}

/// Scans files and folders.
pub fn scan_paths(paths: &[PathBuf], options: &ScanOptions) -> Report {
    let walked = walk::walk(paths);
    let mut modules: BTreeMap<PathBuf, Vec<PathBuf>> = BTreeMap::new();
    let mut units = Vec::new();
    for (path, kind) in walked.files {
        if kind == FileKind::Terraform {
            let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
            modules.entry(dir).or_default().push(path);
        } else {
            units.push(Unit::File(path, kind));
        }
    }
    units.extend(modules.into_iter().map(|(dir, files)| Unit::Module(dir, files)));

    let outcomes: Vec<(Option<String>, Outcome)> = units
        .par_iter()
        .map(|unit| match unit {
            Unit::File(path, kind) => (Some(normalize(path).display().to_string()), scan_file(path, *kind, options)),
            Unit::Module(dir, files) => (None, terraform::scan_module(dir, files, options.max_file_size)),
        })
        .collect();

    let consumed: HashSet<String> = outcomes
        .iter()
        .flat_map(|(_, o)| o.consumed.iter().cloned())
        .collect();

    let mut report = Report {
        errors: walked.errors,
        ..Report::default()
    };
    let mut task_definitions: Vec<TaskDefinition> = Vec::new();
    for (file, outcome) in outcomes {
        report.summary.files += outcome.files;
        report.errors.extend(outcome.errors);
        if file.as_ref().is_some_and(|f| consumed.contains(f)) {
            continue;
        }
        task_definitions.extend(outcome.task_definitions);
    }
    report.summary.task_definitions = task_definitions.len();
    report.summary.containers = task_definitions.iter().map(|t| t.containers.len()).sum();
    report.findings = task_definitions
        .par_iter()
        .flat_map_iter(|td| ecsguard_core::check(td, &options.rules))
        .collect();
    report.sort();
    report
}

/// Reads and scans one JSON or YAML file.
pub fn scan_file(path: &Path, kind: FileKind, options: &ScanOptions) -> Outcome {
    let mut out = Outcome::default();
    let file = display(path);
    let text = match input::read_text(path, options.max_file_size) {
        Ok(t) => t,
        Err(e) => {
            out.errors.push(InputError {
                file,
                line: e.line,
                column: None,
                message: e.message,
            });
            return out;
        }
    };
    out.files = 1;
    if !source::might_hold_task_definitions(kind, &text) {
        return out;
    }
    match kind {
        FileKind::Json => source::scan_json(&file, &text, &mut out),
        FileKind::Yaml => source::scan_yaml(&file, &text, &mut out),
        FileKind::Terraform => {}
    }
    out
}
