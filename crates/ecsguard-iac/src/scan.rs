//! A whole scan: walk, read and parse in parallel, apply the rules, collect
//! one sorted report.

use std::collections::{BTreeMap, HashSet};
use std::path::{Component, Path, PathBuf};

use ecsguard_core::{Finding, InputError, Report, RuleConfig, TaskDefinition};
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

/// Stack for each scan worker: Terraform evaluation recurses through
/// locals, variables and templates (bounded by its depth limit).
const WORKER_STACK: usize = 32 << 20;

/// A unit of work: one file, or one Terraform module (a folder's `.tf` files,
/// read together so variables and locals resolve across them).
enum Unit {
    File(PathBuf, FileKind),
    Module(PathBuf, Vec<PathBuf>),
    /// A pipe or device named by the user, already read.
    Stream(PathBuf, Result<String, input::ReadError>),
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

/// The name a file is known by across units: its canonical path, so that a
/// file reached as `tf/../shared/x.json` and as `/abs/shared/x.json` is one.
pub fn canonical_name(path: &Path) -> String {
    std::fs::canonicalize(path)
        .unwrap_or_else(|_| normalize(path))
        .display()
        .to_string()
}

/// Drops inner `.` components (`./dir/./x.json` → `./dir/x.json`), keeping
/// the rest of the path as the user gave it.
pub fn without_curdir(path: &Path) -> PathBuf {
    path.components()
        .enumerate()
        .filter(|(i, c)| *i == 0 || *c != Component::CurDir)
        .map(|(_, c)| c)
        .collect()
}

/// Scans files and folders; a finding under an `ecsguard: ignore[…]`
/// comment is moved to the report's suppressed findings.
pub fn scan_paths(paths: &[PathBuf], options: &ScanOptions) -> Report {
    let (mut report, _, files) = scan_paths_keeping(paths, options, false);
    crate::suppress::inline(&mut report, &files, options.max_file_size);
    report
}

/// Scans, and also returns the task definitions that have findings, values
/// and spans included: what a file fix works from.
pub fn scan_for_fix(paths: &[PathBuf], options: &ScanOptions) -> (Report, Vec<TaskDefinition>) {
    let (report, kept, _) = scan_paths_keeping(paths, options, true);
    (report, kept)
}

fn scan_paths_keeping(
    paths: &[PathBuf],
    options: &ScanOptions,
    keep: bool,
) -> (Report, Vec<TaskDefinition>, Vec<PathBuf>) {
    let walked = walk::walk(paths, options.max_file_size);
    // The regular files read (not the streams, which cannot be read again).
    let listed: Vec<PathBuf> = walked.files.iter().map(|(p, _)| p.clone()).collect();
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
    units.extend(
        modules
            .into_iter()
            .map(|(dir, files)| Unit::Module(dir, files)),
    );
    units.extend(
        walked
            .streams
            .into_iter()
            .map(|(path, text)| Unit::Stream(path, text)),
    );
    let allowed = &walked.allowed_roots;

    // Rules run inside each unit so task definitions (and the values they
    // hold) are dropped as soon as the unit is done.
    // Evaluation recurses (locals through locals …): give the workers room.
    let pool = rayon::ThreadPoolBuilder::new()
        .stack_size(WORKER_STACK)
        .build();
    let run = |units: Vec<Unit>| -> Vec<UnitResult> {
        units
            .into_par_iter()
            .map(|unit| {
                let (file, outcome) = match unit {
                    Unit::File(path, kind) => {
                        let outcome = scan_file(&path, kind, options);
                        (Some(path), outcome)
                    }
                    Unit::Module(dir, files) => (
                        None,
                        terraform::scan_module(&dir, &files, options.max_file_size, allowed),
                    ),
                    Unit::Stream(path, text) => {
                        let outcome = scan_text(&path, text, options);
                        (Some(path), outcome)
                    }
                };
                let mut findings = Vec::new();
                let mut kept = Vec::new();
                for td in &outcome.task_definitions {
                    let found = ecsguard_core::check(td, &options.rules);
                    if keep && !found.is_empty() {
                        kept.push(td.clone());
                    }
                    findings.extend(found);
                }
                let mut recognised: BTreeMap<String, usize> = BTreeMap::new();
                for td in &outcome.task_definitions {
                    if let Some(f) = &td.file {
                        *recognised.entry(f.clone()).or_default() += 1;
                    }
                }
                let mut result = UnitResult {
                    file,
                    files: outcome.files,
                    task_definitions: outcome.task_definitions.len(),
                    containers: outcome
                        .task_definitions
                        .iter()
                        .map(|t| t.containers.len())
                        .sum(),
                    findings: Vec::new(),
                    kept: Vec::new(),
                    errors: outcome.errors,
                    notes: outcome.notes,
                    consumed: outcome.consumed,
                    recognised: recognised.into_iter().collect(),
                };
                result.findings = findings;
                result.kept = kept;
                result
            })
            .collect()
    };
    let results: Vec<UnitResult> = match pool {
        Ok(pool) => pool.install(|| run(units)),
        Err(_) => run(units),
    };

    let consumed: HashSet<&str> = results
        .iter()
        .flat_map(|r| r.consumed.iter().map(String::as_str))
        .collect();
    // Canonical names are needed only when some file was read through another.
    let dropped: Vec<bool> = results
        .iter()
        .map(|r| {
            !consumed.is_empty()
                && r.file
                    .as_deref()
                    .is_some_and(|f| consumed.contains(canonical_name(f).as_str()))
        })
        .collect();
    let total: usize = results.iter().map(|r| r.findings.len()).sum();

    let mut kept = Vec::new();
    let mut report = Report {
        errors: walked.errors,
        notes: walked.notes,
        findings: Vec::with_capacity(total),
        ..Report::default()
    };
    for (result, dropped) in results.into_iter().zip(dropped) {
        report.summary.files += result.files;
        // A file read through a `.tf` is reported there, errors included.
        if dropped {
            continue;
        }
        report.errors.extend(result.errors);
        report.notes.extend(result.notes);
        report.recognised.extend(result.recognised);
        report.summary.task_definitions += result.task_definitions;
        report.summary.containers += result.containers;
        report.findings.extend(result.findings);
        kept.extend(result.kept);
    }
    report.sort();
    (report, kept, listed)
}

struct UnitResult {
    file: Option<PathBuf>,
    files: usize,
    task_definitions: usize,
    containers: usize,
    findings: Vec<Finding>,
    kept: Vec<TaskDefinition>,
    errors: Vec<InputError>,
    notes: Vec<InputError>,
    consumed: Vec<String>,
    recognised: Vec<(String, usize)>,
}

/// Reads and scans one JSON or YAML file.
pub fn scan_file(path: &Path, kind: FileKind, options: &ScanOptions) -> Outcome {
    let text = input::read_text(path, options.max_file_size);
    scan_read(path, kind, text)
}

/// Scans a stream named by the user, already read; its kind comes from its
/// name, or from its content.
fn scan_text(path: &Path, text: Result<String, input::ReadError>, _: &ScanOptions) -> Outcome {
    let kind = FileKind::of(path)
        .filter(|k| *k != FileKind::Terraform)
        .unwrap_or_else(|| match &text {
            Ok(t) => walk::sniff_text(t.as_bytes()),
            Err(_) => FileKind::Json,
        });
    scan_read(path, kind, text)
}

fn scan_read(path: &Path, kind: FileKind, text: Result<String, input::ReadError>) -> Outcome {
    let mut out = Outcome::default();
    let file = path.display().to_string();
    let text = match text {
        Ok(t) => t,
        Err(e) => {
            out.errors
                .push(InputError::file(file, e.line, None, e.message));
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
        FileKind::Template => source::scan_template(&file, &text, &mut out),
        FileKind::Terraform => {}
    }
    for td in &mut out.task_definitions {
        td.file.get_or_insert_with(|| file.clone());
    }
    out
}
