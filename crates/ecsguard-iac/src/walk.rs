//! Finding input files: gitignore-aware, skipping `.git`, `.terraform` and
//! `node_modules`, but always entering `cdk.out`, which CDK projects ignore
//! yet which holds the synthesized templates.
//!
//! The walk is built so that a pull request cannot hide a task definition
//! from it, nor make it hang or read outside the tree:
//! - a file git tracks is scanned even when `.gitignore` matches it, and
//!   `.ignore` files (which git does not know) are not honoured;
//! - only regular files are opened: a FIFO or a symlink to `/dev/stdin` met
//!   during the walk is skipped, never read;
//! - symlinks that lead out of the scanned folder are not followed;
//! - a file reached through two overlapping roots is read once.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use ecsguard_core::InputError;
use ignore::WalkBuilder;

use crate::input::{self, ReadError};
use crate::scan::normalize;
use crate::source::FileKind;

/// Folders never read: tools' state, and ecsguard's own (`.ecsguard`:
/// journals and pending-write records).
const SKIPPED_DIRS: &[&str] = &[
    ".git",
    ".terraform",
    "node_modules",
    ".terragrunt-cache",
    ".ecsguard",
];
const CDK_OUT: &str = "cdk.out";

#[derive(Default)]
pub struct Walked {
    /// Files to read, sorted, each with its kind.
    pub files: Vec<(PathBuf, FileKind)>,
    /// Paths named on the command line that are not regular files (a pipe
    /// such as `<(terraform show -json plan)`, `/dev/stdin`): read here, once,
    /// since they cannot be read twice.
    pub streams: Vec<(PathBuf, Result<String, ReadError>)>,
    pub errors: Vec<InputError>,
    /// Things left out on purpose, said so that nothing is skipped silently.
    pub notes: Vec<InputError>,
    /// The folders the scan may read from: each root, widened to the git
    /// work tree that holds it (Terraform's `file("../shared/x.json")`).
    pub allowed_roots: Vec<PathBuf>,
}

fn error(path: &Path, message: String) -> InputError {
    InputError::file(path.display().to_string(), 1, None, message)
}

/// Lists the files under `paths`. A file named explicitly is read whatever its
/// extension (its content decides its kind).
pub fn walk(paths: &[PathBuf], max_file_size: u64) -> Walked {
    walk_with(paths, max_file_size, true)
}

/// The files `walk` lists, without reading any stream named on the command
/// line (a pipe can be read only once: the scan has read it).
pub fn list(paths: &[PathBuf], max_file_size: u64) -> Vec<(PathBuf, FileKind)> {
    walk_with(paths, max_file_size, false).files
}

fn walk_with(paths: &[PathBuf], max_file_size: u64, read_streams: bool) -> Walked {
    let mut files: BTreeMap<PathBuf, FileKind> = BTreeMap::new();
    let mut walked = Walked::default();
    // Canonical paths already listed, so overlapping roots list a file once.
    let mut seen: HashSet<PathBuf> = HashSet::new();
    // A file's key is its canonical path, built from its root's canonical
    // path (one system call per root, not per file).
    let add = |path: PathBuf,
               key: PathBuf,
               kind: FileKind,
               files: &mut BTreeMap<PathBuf, FileKind>,
               seen: &mut HashSet<PathBuf>| {
        if seen.insert(key) {
            files.insert(path, kind);
        }
    };
    for root in paths {
        let meta = match std::fs::metadata(root) {
            Ok(m) => m,
            Err(e) => {
                walked.errors.push(error(root, format!("cannot read: {e}")));
                continue;
            }
        };
        let canonical_root = std::fs::canonicalize(root).unwrap_or_else(|_| root.clone());
        if meta.is_file() {
            let kind = FileKind::of(root).unwrap_or_else(|| sniff(root));
            add(
                root.clone(),
                canonical_root.clone(),
                kind,
                &mut files,
                &mut seen,
            );
            if let Some(parent) = canonical_root.parent() {
                walked.allowed_roots.push(widen_to_work_tree(parent));
            }
            continue;
        }
        if !meta.is_dir() {
            // Named by the user: read it, whatever it is, exactly once.
            if read_streams && seen.insert(canonical_root) {
                walked
                    .streams
                    .push((root.clone(), input::read_stream(root, max_file_size)));
            }
            continue;
        }
        walked
            .allowed_roots
            .push(widen_to_work_tree(&canonical_root));
        let mut found = Vec::new();
        let mut cdk_dirs = Vec::new();
        walk_dir(
            root,
            &canonical_root,
            true,
            &mut found,
            &mut walked,
            &mut cdk_dirs,
        );
        // `cdk.out` folders the gitignore-aware walk skipped.
        let mut cdk_seen = HashSet::new();
        while let Some(dir) = cdk_dirs.pop() {
            if cdk_seen.insert(dir.clone()) {
                walk_dir(
                    &dir,
                    &canonical_root,
                    false,
                    &mut found,
                    &mut walked,
                    &mut Vec::new(),
                );
            }
        }
        found.extend(tracked_but_ignored(root));
        for path in found {
            if let Some(kind) = FileKind::of(&path) {
                let key = path
                    .strip_prefix(root)
                    .map(|rel| normalize(&canonical_root.join(rel)))
                    .unwrap_or_else(|_| path.clone());
                add(path, key, kind, &mut files, &mut seen);
            }
        }
    }
    walked.files = files.into_iter().collect();
    walked
}

fn walk_dir(
    root: &Path,
    canonical_root: &Path,
    honour_gitignore: bool,
    found: &mut Vec<PathBuf>,
    walked: &mut Walked,
    cdk_dirs: &mut Vec<PathBuf>,
) {
    let escaped: Arc<Mutex<Vec<PathBuf>>> = Arc::default();
    let escaped_in_filter = Arc::clone(&escaped);
    let leftover: Arc<Mutex<Vec<PathBuf>>> = Arc::default();
    let leftover_in_filter = Arc::clone(&leftover);
    let inside = canonical_root.to_path_buf();
    let walker = WalkBuilder::new(root)
        .hidden(false)
        .follow_links(true)
        .git_ignore(honour_gitignore)
        .git_global(false)
        .git_exclude(honour_gitignore)
        // `.ignore` files are not git's: a pull request could add one to hide a file.
        .ignore(false)
        .parents(honour_gitignore)
        .require_git(false)
        .filter_entry(move |e| {
            if e.file_type().is_some_and(|t| t.is_dir())
                && e.file_name()
                    .to_str()
                    .is_some_and(|n| SKIPPED_DIRS.contains(&n))
            {
                return false;
            }
            // ecsguard's own temporary files (a `fix --apply` that was cut
            // off): not read as sources, and not skipped silently either.
            if e.file_type().is_some_and(|t| t.is_file())
                && e.file_name()
                    .to_str()
                    .is_some_and(|n| n.starts_with(".ecsguard-fix-"))
            {
                if let Ok(mut list) = leftover_in_filter.lock() {
                    list.push(e.path().to_path_buf());
                }
                return false;
            }
            if e.path_is_symlink() {
                let stays = std::fs::canonicalize(e.path()).is_ok_and(|t| t.starts_with(&inside));
                if !stays {
                    if let Ok(mut list) = escaped_in_filter.lock() {
                        list.push(e.path().to_path_buf());
                    }
                    return false;
                }
            }
            true
        })
        .build();
    for entry in walker {
        let entry = match entry {
            Ok(e) => e,
            Err(e) => {
                walked.errors.push(walk_error(&e, root));
                continue;
            }
        };
        let path = entry.path();
        let Some(file_type) = entry.file_type() else {
            continue;
        };
        if file_type.is_dir() {
            if honour_gitignore {
                let cdk = path.join(CDK_OUT);
                if cdk.is_dir() {
                    cdk_dirs.push(cdk);
                }
            }
            continue;
        }
        // Only regular files: opening a FIFO or a device would block or never end.
        if file_type.is_file() {
            found.push(path.to_path_buf());
        }
    }
    let leftover = leftover.lock().map(|l| l.clone()).unwrap_or_default();
    for path in leftover {
        walked.errors.push(error(
            &path,
            "a temporary file of an `ecsguard fix --apply` that was cut off; not scanned: run `fix --apply` again with the journal directory that records the write (it completes or undoes it), or remove the file once its target is checked".into(),
        ));
    }
    let escaped = escaped.lock().map(|l| l.clone()).unwrap_or_default();
    for path in escaped {
        walked.notes.push(error(
            &path,
            "symbolic link leads out of the scanned folder; not followed (name its target to scan it)".into(),
        ));
    }
}

/// Files git tracks that `.gitignore` matches (added with `git add -f`):
/// they are in the repository, so they are scanned. Empty when `root` is not
/// in a git work tree or git is not installed.
fn tracked_but_ignored(root: &Path) -> Vec<PathBuf> {
    let mut found = git_files(
        root,
        &[
            "ls-files",
            "-z",
            "--cached",
            "--ignored",
            "--exclude-standard",
        ],
    );
    // Folders the walk skips (`node_modules`, `.terraform` …) hold
    // dependencies, but a file committed there is the repository's own.
    let mut skipped = vec!["ls-files", "-z", "--cached", "--"];
    let patterns: Vec<String> = SKIPPED_DIRS
        .iter()
        .filter(|d| **d != ".git")
        .map(|d| format!("*{d}/*"))
        .collect();
    skipped.extend(patterns.iter().map(String::as_str));
    found.extend(git_files(root, &skipped));
    found
}

/// Regular files a `git` command lists under `root`; none when `root` is not
/// in a work tree or git is missing.
fn git_files(root: &Path, args: &[&str]) -> Vec<PathBuf> {
    let output = std::process::Command::new("git")
        .arg("-C")
        .arg(root)
        .args(args)
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output();
    let Ok(output) = output else {
        return Vec::new();
    };
    if !output.status.success() {
        return Vec::new();
    }
    output
        .stdout
        .split(|b| *b == 0)
        .filter(|p| !p.is_empty())
        .filter_map(|p| std::str::from_utf8(p).ok())
        .map(|p| root.join(p))
        .filter(|p| {
            !p.components().any(|c| c.as_os_str() == ".git")
                && std::fs::symlink_metadata(p).is_ok_and(|m| m.is_file())
        })
        .collect()
}

/// The git work tree holding `dir`, or `dir` itself outside one.
fn widen_to_work_tree(dir: &Path) -> PathBuf {
    dir.ancestors()
        .find(|a| a.join(".git").exists())
        .unwrap_or(dir)
        .to_path_buf()
}

fn walk_error(e: &ignore::Error, root: &Path) -> InputError {
    // Find the innermost path and loop information, if any.
    let mut err = e;
    let mut path: Option<&Path> = None;
    loop {
        match err {
            ignore::Error::WithPath {
                path: p,
                err: inner,
            } => {
                path = Some(p);
                err = inner;
            }
            ignore::Error::WithDepth { err: inner, .. }
            | ignore::Error::WithLineNumber { err: inner, .. } => {
                err = inner;
            }
            ignore::Error::Loop { ancestor, child } => {
                return error(
                    child,
                    format!(
                        "symbolic link loop: it leads back to {}; not followed",
                        ancestor.display()
                    ),
                );
            }
            ignore::Error::Io(io) => {
                return error(path.unwrap_or(root), format!("cannot read: {io}"));
            }
            other => return error(path.unwrap_or(root), other.to_string()),
        }
    }
}

/// The kind of an explicitly named file with an unknown extension.
fn sniff(path: &Path) -> FileKind {
    let mut head = [0u8; 64];
    let n = std::fs::File::open(path)
        .and_then(|mut f| std::io::Read::read(&mut f, &mut head))
        .unwrap_or(0);
    sniff_text(&head[..n])
}

/// The kind of a text by its first character: JSON or (otherwise) YAML.
pub fn sniff_text(head: &[u8]) -> FileKind {
    let first = head.iter().find(|b| !b.is_ascii_whitespace()).copied();
    match first {
        Some(b'{') | Some(b'[') => FileKind::Json,
        _ => FileKind::Yaml,
    }
}
