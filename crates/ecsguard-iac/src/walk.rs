//! Finding input files: gitignore-aware, skipping `.git`, `.terraform` and
//! `node_modules`, but always entering `cdk.out`, which CDK projects ignore
//! yet which holds the synthesized templates.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use ecsguard_core::InputError;
use ignore::WalkBuilder;

use crate::source::FileKind;

const SKIPPED_DIRS: &[&str] = &[".git", ".terraform", "node_modules", ".terragrunt-cache"];
const CDK_OUT: &str = "cdk.out";

#[derive(Default)]
pub struct Walked {
    /// Files to read, sorted, each with its kind.
    pub files: Vec<(PathBuf, FileKind)>,
    pub errors: Vec<InputError>,
}

fn error(path: &Path, message: String) -> InputError {
    InputError::file(path.display().to_string(), 1, None, message)
}

/// Lists the files under `paths`. A file named explicitly is read whatever its
/// extension (its content decides its kind).
pub fn walk(paths: &[PathBuf]) -> Walked {
    let mut files: BTreeSet<(PathBuf, FileKind)> = BTreeSet::new();
    let mut errors = Vec::new();
    for root in paths {
        let meta = match std::fs::metadata(root) {
            Ok(m) => m,
            Err(e) => {
                errors.push(error(root, format!("cannot read: {e}")));
                continue;
            }
        };
        if meta.is_file() {
            let kind = FileKind::of(root).unwrap_or_else(|| sniff(root));
            files.insert((root.clone(), kind));
            continue;
        }
        let mut cdk_dirs = Vec::new();
        walk_dir(root, true, &mut files, &mut errors, &mut cdk_dirs);
        // `cdk.out` folders the gitignore-aware walk skipped.
        let mut seen = BTreeSet::new();
        while let Some(dir) = cdk_dirs.pop() {
            if seen.insert(dir.clone()) {
                walk_dir(&dir, false, &mut files, &mut errors, &mut Vec::new());
            }
        }
    }
    Walked {
        files: files.into_iter().collect(),
        errors,
    }
}

fn walk_dir(
    root: &Path,
    honour_gitignore: bool,
    files: &mut BTreeSet<(PathBuf, FileKind)>,
    errors: &mut Vec<InputError>,
    cdk_dirs: &mut Vec<PathBuf>,
) {
    let walker = WalkBuilder::new(root)
        .hidden(false)
        .follow_links(true)
        .git_ignore(honour_gitignore)
        .git_global(false)
        .git_exclude(honour_gitignore)
        .ignore(honour_gitignore)
        .parents(honour_gitignore)
        .require_git(false)
        .filter_entry(|e| {
            !(e.file_type().is_some_and(|t| t.is_dir())
                && e.file_name()
                    .to_str()
                    .is_some_and(|n| SKIPPED_DIRS.contains(&n)))
        })
        .build();
    for entry in walker {
        let entry = match entry {
            Ok(e) => e,
            Err(e) => {
                errors.push(walk_error(&e, root));
                continue;
            }
        };
        let path = entry.path();
        if entry.file_type().is_some_and(|t| t.is_dir()) {
            if honour_gitignore {
                let cdk = path.join(CDK_OUT);
                if cdk.is_dir() {
                    cdk_dirs.push(cdk);
                }
            }
            continue;
        }
        if let Some(kind) = FileKind::of(path) {
            files.insert((path.to_path_buf(), kind));
        }
    }
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
    let first = head[..n].iter().find(|b| !b.is_ascii_whitespace()).copied();
    match first {
        Some(b'{') | Some(b'[') => FileKind::Json,
        _ => FileKind::Yaml,
    }
}
