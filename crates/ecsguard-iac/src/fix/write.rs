//! Writing a plan's files: all or nothing, even across a crash.
//!
//! Each file is written to a temporary file beside it and renamed over it,
//! so no file is ever half-written. A set of files is made all-or-nothing
//! by a *pending-write record* (paths only, never content) kept in the
//! journal directory's `pending-files` folder:
//!
//! 1. the record is written, listing every target and its temporary file,
//!    in state `preparing`;
//! 2. the temporary files are written and synced;
//! 3. the record moves to `renaming`, and each temporary file is renamed
//!    over its target;
//! 4. the rewritten files are scanned again; the record is removed.
//!
//! A run cut off in step 2 leaves temporary files that the next run
//! removes (nothing was renamed yet); one cut off in step 3 is completed by
//! the next `fix --apply` (each remaining temporary file is renamed), so
//! the files never stay half old, half new. Temporary files hold only the
//! rewritten text, which has references in place of the moved values.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{verify, Edit, FilePatch, FixPlan, FixSettings, OutcomeKind};
use crate::scan::scan_for_fix;

/// How `write_all` writes.
#[derive(Debug, Default, Clone)]
pub struct WriteOptions {
    /// Where the pending-write record is kept (the journal directory).
    pub pending_dir: PathBuf,
    /// Test hook: every rewrite is spoiled, so that verification fails.
    pub corrupt_for_test: bool,
    /// Test hook: the process ends (as if killed) after this many renames.
    pub stop_after_renames: Option<usize>,
}

#[derive(Debug, Serialize, Deserialize, PartialEq, Eq, Clone, Copy)]
#[serde(rename_all = "kebab-case")]
enum State {
    Preparing,
    Renaming,
}

/// What a file was, by its metadata (never its content): enough to tell
/// that it was edited, replaced or renamed since.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq, Clone, Copy)]
struct Meta {
    len: u64,
    modified_ns: u128,
    inode: u64,
}

impl Meta {
    fn of(path: &Path) -> Option<Self> {
        use std::os::unix::fs::MetadataExt as _;
        let m = std::fs::symlink_metadata(path).ok()?;
        if !m.file_type().is_file() {
            return None;
        }
        Some(Self {
            len: m.len(),
            modified_ns: m
                .modified()
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_nanos()),
            inode: m.ino(),
        })
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct Entry {
    /// The file to replace, absolute.
    target: PathBuf,
    /// Its new text, beside it.
    temp: PathBuf,
    /// The target before the write.
    before: Option<Meta>,
    /// The temporary file once written (from `renaming` on).
    written: Option<Meta>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Record {
    version: u32,
    state: State,
    files: Vec<Entry>,
}

const RECORD_PREFIX: &str = "write-";
/// A record being written (a run killed then leaves one, empty or partial:
/// the next recovery removes it).
const RECORD_TEMP_PREFIX: &str = ".record-";
const RECORD_VERSION: u32 = 1;
/// The start of every temporary file's name.
pub const TEMP_PREFIX: &str = ".ecsguard-fix-";

/// The pending-write records in `dir`: runs cut off while writing files.
pub fn pending(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut records: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(RECORD_PREFIX) && n.ends_with(".json"))
        })
        .collect();
    records.sort();
    records
}

/// Completes (or undoes) the file writes of runs that were cut off, as
/// their records in `dir` say, for files under `roots` (the paths given).
/// A record is carried out only when every file it names is as the cut-off
/// run left it; otherwise nothing of it is done and the error says why.
/// Returns what was done, for the operator.
pub fn recover(dir: &Path, roots: &[PathBuf]) -> Result<Vec<String>, String> {
    // Records cut off while being written: the write they were for had not
    // begun (a record is written before any temporary file).
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if e.file_name()
            .to_str()
            .is_some_and(|n| n.starts_with(RECORD_TEMP_PREFIX))
        {
            let _ = std::fs::remove_file(e.path());
        }
    }
    let roots: Vec<PathBuf> = roots
        .iter()
        .filter_map(|r| std::fs::canonicalize(r).ok())
        .collect();
    let mut done = Vec::new();
    for path in pending(dir) {
        let shown = path.display();
        let text =
            std::fs::read_to_string(&path).map_err(|e| format!("cannot read {shown}: {e}"))?;
        let record: Record = serde_json::from_str(&text).map_err(|e| {
            format!(
                "{shown}:{}: not a pending-write record ({e}); remove it once the files it names are checked",
                e.line()
            )
        })?;
        if record.version != RECORD_VERSION {
            return Err(format!(
                "{shown}:1: a pending-write record of version {} (this ecsguard writes version {RECORD_VERSION}); left alone: complete it with the ecsguard that wrote it",
                record.version
            ));
        }
        check_record(&record, &roots).map_err(|e| format!("{shown}: {e}; nothing of it was done. Once the files it names are right (compare them with version control), remove {shown} and its temporary files (`{TEMP_PREFIX}*` beside them)"))?;
        let mut moved = 0;
        for entry in &record.files {
            if Meta::of(&entry.temp).is_none() {
                continue;
            }
            match record.state {
                // Nothing was renamed yet: the run is undone.
                State::Preparing => std::fs::remove_file(&entry.temp)
                    .map_err(|e| format!("cannot remove {}: {e}", entry.temp.display()))?,
                State::Renaming => {
                    std::fs::rename(&entry.temp, &entry.target).map_err(|e| {
                        format!(
                            "cannot complete the interrupted write of {}: {e}",
                            entry.target.display()
                        )
                    })?;
                    moved += 1;
                }
            }
        }
        std::fs::remove_file(&path).map_err(|e| format!("cannot remove {shown}: {e}"))?;
        let _ = path.parent().map(std::fs::remove_dir);
        done.push(match record.state {
            State::Preparing => format!(
                "an interrupted write (nothing renamed yet) was undone; its temporary files are removed ({shown})"
            ),
            State::Renaming => format!(
                "an interrupted write was completed: {moved} more of its {} file(s) written ({shown})",
                record.files.len()
            ),
        });
    }
    Ok(done)
}

/// Whether a record may be carried out: its files are under `roots`, its
/// temporary files are ecsguard's own beside them, and each file is as the
/// cut-off run left it (not edited since, its new text still there).
fn check_record(record: &Record, roots: &[PathBuf]) -> Result<(), String> {
    for e in &record.files {
        let target = e.target.display();
        let canonical = std::fs::canonicalize(&e.target).ok().or_else(|| {
            let parent = std::fs::canonicalize(e.target.parent()?).ok()?;
            Some(parent.join(e.target.file_name()?))
        });
        let inside = canonical
            .as_ref()
            .is_some_and(|t| roots.iter().any(|r| t.starts_with(r)));
        if !inside {
            return Err(format!(
                "it names {target}, which is not under the paths given (run `fix --apply` on the paths it was cut off on, if they still exist)"
            ));
        }
        let own_temp = e.temp.parent() == e.target.parent()
            && e.temp
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(TEMP_PREFIX));
        if !own_temp {
            return Err(format!(
                "its temporary file for {target} is not ecsguard's own"
            ));
        }
        if std::fs::symlink_metadata(&e.target).is_ok_and(|m| !m.file_type().is_file()) {
            return Err(format!("{target} is no longer a plain file"));
        }
        let temp_now = Meta::of(&e.temp);
        match record.state {
            State::Preparing => {}
            State::Renaming => match (temp_now, e.written) {
                // Not renamed yet: the target must be as it was.
                (Some(now), Some(written)) if now == written => {
                    if Meta::of(&e.target) != e.before {
                        return Err(format!(
                            "{target} changed after the write was cut off; its planned text is in {}: compare the two by hand, then remove the record",
                            e.temp.display()
                        ));
                    }
                }
                (Some(_), _) => {
                    return Err(format!(
                        "the temporary file {} changed after the write was cut off",
                        e.temp.display()
                    ));
                }
                // Renamed: the target is the temporary file that was written.
                (None, Some(written)) => {
                    if Meta::of(&e.target).map(|m| m.inode) != Some(written.inode) {
                        return Err(format!(
                            "{target} is not the file this write renamed into place (edited or replaced since?), and its temporary file is gone: the files of the write may be half old, half new"
                        ));
                    }
                }
                (None, None) => {
                    return Err(format!("it does not say what was written for {target}"));
                }
            },
        }
    }
    Ok(())
}

/// Writes every patched file, after each has been verified: all of them or
/// none (see the module's documentation). When the rewritten files fail
/// the scan that follows, every file is put back as it was. Returns the
/// files written; a file whose text would not change is not written.
pub fn write_all(
    plan: &FixPlan,
    paths: &[PathBuf],
    settings: &FixSettings,
    options: &WriteOptions,
) -> Result<Vec<PathBuf>, String> {
    let rules = &settings.scan.rules;
    let mut texts = Vec::new();
    for patch in &plan.files {
        let mut patched = patch.clone();
        if options.corrupt_for_test {
            patched.edits.push(Edit {
                start: patched.original.len(),
                end: patched.original.len(),
                text: "\n{ not json".into(),
            });
        }
        verify(&patched, &plan.planned, rules)?;
        let text = patched.patched();
        // A file whose every rewrite was refused is left alone (and not
        // counted as written).
        if text != patch.original {
            texts.push((patch, text));
        }
    }
    if texts.is_empty() {
        return Ok(Vec::new());
    }
    std::fs::create_dir_all(&options.pending_dir).map_err(|e| {
        format!(
            "cannot create {} to record the write in: {e}; nothing was written",
            options.pending_dir.display()
        )
    })?;
    let written = write_set(&texts, options);
    // Left only when empty: the folder is not needed until a write is cut off.
    let _ = std::fs::remove_dir(&options.pending_dir);
    let written = written?;
    // Scanned again as a whole (a Terraform file with its module): what was
    // fixed must be gone and nothing written may fail to read; otherwise
    // every file goes back as it was.
    let (report, _) = scan_for_fix(paths, &settings.scan);
    let same_file = |a: &str, b: &Path| {
        Path::new(a) == b
            || crate::scan::canonical_name(Path::new(a)) == crate::scan::canonical_name(b)
    };
    let problem = report
        .errors
        .iter()
        .find_map(|e| match &e.source {
            ecsguard_core::ErrorSource::File { file, line, .. }
                if written.iter().any(|p| same_file(file, &p.path)) =>
            {
                Some(format!("{file}:{line}: {} after the rewrite", e.message))
            }
            _ => None,
        })
        .or_else(|| {
            plan.planned
                .iter()
                .filter(|p| p.outcome == OutcomeKind::Fixed)
                .find(|p| {
                    report.findings.iter().any(|f| {
                        f.family == p.finding.family
                            && f.container == p.finding.container
                            && f.variable == p.finding.variable
                            && file_of(&f.location) == file_of(&p.finding.location)
                    })
                })
                .map(|p| {
                    format!(
                        "{}: {} is still reported after the rewrite",
                        file_of(&p.finding.location).unwrap_or("?"),
                        p.finding.variable
                    )
                })
        });
    if let Some(problem) = problem {
        for done in &written {
            let _ = write_atomically(&done.path, &done.original);
        }
        return Err(format!("{problem}; every file was restored"));
    }
    Ok(written.iter().map(|p| p.path.clone()).collect())
}

/// Writes the files as one: the record, the temporary files, the renames.
fn write_set<'p>(
    texts: &[(&'p FilePatch, String)],
    options: &WriteOptions,
) -> Result<Vec<&'p FilePatch>, String> {
    let absolute = |p: &Path| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    // Each file must still be what was planned from: another run (or an
    // editor) may have written it since. Another ecsguard run holds the
    // files' locks until its renames are done (taken in one order, so that
    // two runs never wait on each other).
    let mut order: Vec<&Path> = texts.iter().map(|(p, _)| p.path.as_path()).collect();
    order.sort();
    let mut _locks = Vec::new();
    for path in order {
        if let Ok(file) = std::fs::File::open(path) {
            if file.lock().is_ok() {
                _locks.push(file);
            }
        }
    }
    for (patch, _) in texts {
        if std::fs::read_to_string(&patch.path).ok().as_deref() != Some(patch.original.as_str()) {
            return Err(format!(
                "{} changed since it was read for this plan (another run?); nothing was written: run again",
                patch.path.display()
            ));
        }
    }
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let id = format!("{stamp}-{}", std::process::id());
    let record_path = options
        .pending_dir
        .join(format!("{RECORD_PREFIX}{id}.json"));
    let mut record = Record {
        version: RECORD_VERSION,
        state: State::Preparing,
        files: texts
            .iter()
            .enumerate()
            .map(|(i, (patch, _))| {
                let target = absolute(&patch.path);
                let name = target
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let temp = target.with_file_name(format!("{TEMP_PREFIX}{id}-{i}-{name}"));
                Entry {
                    before: Meta::of(&target),
                    target,
                    temp,
                    written: None,
                }
            })
            .collect(),
    };
    let save = |record: &Record| {
        let json = serde_json::to_string_pretty(record).unwrap_or_default();
        write_atomically_as(&record_path, &json, RECORD_TEMP_PREFIX).map_err(|e| {
            format!(
                "cannot record the write in {}: {e}; nothing was written",
                record_path.display()
            )
        })
    };
    save(&record)?;
    let undo = |record: &Record| {
        for e in &record.files {
            let _ = std::fs::remove_file(&e.temp);
        }
        let _ = std::fs::remove_file(&record_path);
    };
    let mut failed = None;
    for ((patch, text), entry) in texts.iter().zip(record.files.iter_mut()) {
        if let Err(e) = write_new(&entry.temp, &patch.path, text) {
            failed = Some(format!(
                "cannot write {}: {e}; nothing was written",
                patch.path.display()
            ));
            break;
        }
        entry.written = Meta::of(&entry.temp);
    }
    if let Some(e) = failed {
        undo(&record);
        return Err(e);
    }
    record.state = State::Renaming;
    if let Err(e) = save(&record) {
        undo(&record);
        return Err(e);
    }
    let mut written: Vec<&FilePatch> = Vec::new();
    for (n, ((patch, _), e)) in texts.iter().zip(&record.files).enumerate() {
        if options.stop_after_renames == Some(n) {
            // As if killed: the record and the remaining temporary files stay.
            std::process::exit(3);
        }
        if let Err(err) = std::fs::rename(&e.temp, &e.target) {
            for done in &written {
                // Best effort: the original text, written the same way.
                let _ = write_atomically(&done.path, &done.original);
            }
            undo(&record);
            return Err(format!(
                "cannot write {}: {err}; the files already written were restored",
                patch.path.display()
            ));
        }
        written.push(patch);
    }
    let _ = std::fs::remove_file(&record_path);
    Ok(written)
}

/// Whether `path` can be rewritten as `write_all` does it (a new file in its
/// folder, renamed over it), changing nothing: the file opens for writing
/// (not read-only, not immutable) and its folder takes a new file.
pub(super) fn probe(path: &Path) -> Result<(), String> {
    let why = |e: std::io::Error| {
        format!(
            "{} cannot be rewritten ({e}); nothing was stored and nothing was written",
            path.display()
        )
    };
    std::fs::OpenOptions::new()
        .append(true)
        .open(path)
        .map_err(why)?;
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    tempfile::Builder::new()
        .prefix(".ecsguard-fix-probe-")
        .tempfile_in(dir)
        .map_err(why)?;
    Ok(())
}

/// A new file at `temp` holding `text`, synced, with the permissions of
/// `like`.
fn write_new(temp: &Path, like: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(temp)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()?;
    if let Ok(m) = std::fs::metadata(like) {
        std::fs::set_permissions(temp, m.permissions())?;
    }
    Ok(())
}

fn file_of(l: &ecsguard_core::Location) -> Option<&str> {
    match l {
        ecsguard_core::Location::File { file, .. } => Some(file),
        ecsguard_core::Location::Live { .. } => None,
    }
}

pub(super) fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    write_atomically_as(path, text, TEMP_PREFIX)
}

fn write_atomically_as(path: &Path, text: &str, prefix: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let permissions = std::fs::metadata(path).map(|m| m.permissions()).ok();
    let mut tmp = tempfile::Builder::new().prefix(prefix).tempfile_in(dir)?;
    tmp.write_all(text.as_bytes())?;
    tmp.as_file().sync_all()?;
    if let Some(p) = permissions {
        std::fs::set_permissions(tmp.path(), p)?;
    }
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}
