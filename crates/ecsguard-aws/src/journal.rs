//! The fix journal: every step a live fix takes, with the names and ARNs it
//! touched and never a value, written after each step so that a rerun can
//! resume and `rollback` can undo.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Journal {
    pub version: u32,
    /// Tags the new revision, so an interrupted registration can be found again.
    pub plan_id: String,
    pub account: String,
    pub region: String,
    pub family: String,
    pub old_arn: String,
    /// `ssm` or `secretsmanager`.
    pub store: String,
    /// The plan's settings: a resume runs with these, never with other flags.
    #[serde(default)]
    pub prefix: String,
    #[serde(default)]
    pub kms_key_id: Option<String>,
    /// The names the plan stores values under and the role it would
    /// create, recorded before any is made: a run killed between a creating
    /// call and the journal write leaves something tagged with the plan id
    /// under one of these names, and rollback finds it there.
    #[serde(default)]
    pub planned: Vec<String>,
    #[serde(default)]
    pub planned_role: Option<String>,
    #[serde(default)]
    pub planned_policy: Option<String>,
    pub stored: Vec<Stored>,
    pub role: Option<RoleStep>,
    pub policy: Option<PolicyStep>,
    pub register: Option<RegisterStep>,
    pub services: Vec<ServiceStep>,
    pub deregistered: Vec<String>,
    pub completed: bool,
    pub rolled_back: bool,
    /// A rollback has begun on this journal: it is never resumed again,
    /// whether or not the rollback finished.
    #[serde(default)]
    pub rollback_started: bool,
    /// The revision this fix registered was deregistered by a rollback.
    #[serde(default)]
    pub new_deregistered: bool,
}

/// A family name short enough for a file name (ECS allows 255 characters;
/// a file name holds 255 bytes in all): long ones end with a hash.
fn short_family(family: &str) -> String {
    ecsguard_core::plan::unique_name(family, 64)
}

/// Writes a journal atomically (a temporary file, then a rename), making its
/// folder when missing.
pub(crate) fn save_json(value: &impl Serialize, path: &Path) -> Result<(), String> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| format!("cannot encode the journal: {e}"))?;
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, text + "\n")
        .map_err(|e| format!("cannot write {}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, path).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// The journal format this build writes and reads.
pub const JOURNAL_VERSION: u32 = 1;

/// A parameter or secret written (or found holding the same value, and reused).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Stored {
    pub name: String,
    pub arn: String,
    /// False when it existed already: rollback leaves it alone.
    pub created: bool,
    /// Deleted by `rollback --delete-secrets`.
    #[serde(default)]
    pub deleted: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct RoleStep {
    pub name: String,
    pub arn: String,
    pub created: bool,
    /// Deleted by `rollback --delete-secrets`.
    #[serde(default)]
    pub deleted: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PolicyStep {
    pub role: String,
    pub name: String,
    /// Deleted by `rollback --delete-secrets`.
    #[serde(default)]
    pub deleted: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct RegisterStep {
    /// Set once RegisterTaskDefinition answered.
    pub arn: Option<String>,
    /// When the first registration was sent (Unix seconds): a revision found
    /// by its plan tag counts as this fix's only if registered near then,
    /// since a copy of the fix's revision carries the same tags.
    #[serde(default)]
    pub started: Option<i64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ServiceStep {
    pub cluster: String,
    pub service: String,
    pub previous: String,
    pub updated: bool,
}

impl Journal {
    /// One journal per fix: a second fix of the family never overwrites the
    /// first one's, which can still be rolled back.
    pub fn path(dir: &Path, account: &str, region: &str, family: &str, plan_id: &str) -> PathBuf {
        dir.join(format!(
            "{account}-{region}-{}-{plan_id}.json",
            short_family(family)
        ))
    }

    /// The lock a fix of this family holds while it applies: two fixes of
    /// one family at once would each register a revision and move the
    /// services in turn.
    pub fn lock_path(dir: &Path, account: &str, region: &str, family: &str) -> PathBuf {
        dir.join(format!("{account}-{region}-{}.lock", short_family(family)))
    }

    /// Reads a journal. An unreadable, truncated or unknown-version journal
    /// is an error naming it: nothing is resumed or overwritten from it.
    pub fn load(path: &Path) -> Result<Journal, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read journal {}: {e}", path.display()))?;
        // serde_json's message names a line and column, never the input text.
        let journal: Journal = serde_json::from_str(&text).map_err(|e| {
            format!(
                "journal {} is not valid (line {}, column {}): {}; it was left as it is",
                path.display(),
                e.line(),
                e.column(),
                match e.classify() {
                    serde_json::error::Category::Eof => "it ends early (truncated?)",
                    serde_json::error::Category::Syntax => "it is not JSON",
                    serde_json::error::Category::Data => "a field is missing or has the wrong type",
                    serde_json::error::Category::Io => "it could not be read",
                }
            )
        })?;
        if journal.version != JOURNAL_VERSION {
            return Err(format!(
                "journal {} has version {}, which this ecsguard does not know (it writes version {JOURNAL_VERSION}); it was left as it is",
                path.display(),
                journal.version
            ));
        }
        Ok(journal)
    }

    /// Writes the journal atomically (a temporary file, then a rename).
    pub fn save(&self, path: &Path) -> Result<(), String> {
        save_json(self, path)
    }

    pub fn stored(&self, name: &str) -> Option<&Stored> {
        self.stored.iter().find(|s| s.name == name)
    }

    pub fn new_arn(&self) -> Option<&str> {
        self.register.as_ref().and_then(|r| r.arn.as_deref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_disk() {
        let dir =
            std::env::temp_dir().join(format!("ecsguard-journal-test-{}", std::process::id()));
        let path = Journal::path(&dir, "1", "us-east-1", "app", "abc");
        let j = Journal {
            version: 1,
            family: "app".into(),
            stored: vec![Stored {
                name: "/x".into(),
                arn: "arn:x".into(),
                created: true,
                deleted: false,
            }],
            ..Journal::default()
        };
        j.save(&path).expect("save");
        assert_eq!(Journal::load(&path).expect("load"), j);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn truncated_garbled_or_unknown_journals_are_refused_by_name() {
        let dir = std::env::temp_dir().join(format!("ecsguard-journal-bad-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let good = Journal {
            version: JOURNAL_VERSION,
            family: "app".into(),
            ..Journal::default()
        };
        let text = serde_json::to_string(&good).expect("json");
        for (name, body) in [
            ("truncated.json", text[..text.len() / 2].to_owned()),
            ("garbled.json", "{not json".to_owned()),
            (
                "future.json",
                text.replace("\"version\":1", "\"version\":99"),
            ),
        ] {
            let path = dir.join(name);
            std::fs::write(&path, &body).expect("write");
            let err = Journal::load(&path).expect_err(name);
            assert!(err.contains(name), "{err}");
            assert_eq!(
                std::fs::read_to_string(&path).expect("read"),
                body,
                "left as it is"
            );
        }
        let _ = std::fs::remove_dir_all(dir);
    }
}
