//! File fixes (`ecsguard fix PATH`, DESIGN §5): each finding gets an outcome,
//! and the rewrite is data — byte-range edits of one file — so that it can be
//! shown as a diff, checked, and only then written.
//!
//! The `environment` entry leaves its list, and a `secrets` entry with the
//! same name and a `valueFrom` joins the container's `secrets` list (made
//! when missing), in the file's own style: the new entry is the old one's
//! text with `value` renamed `valueFrom` and the value replaced. The
//! `valueFrom` is, by the kind of value: the stored ARN of a pushed literal;
//! the store a reference already reads; or a store declared in the file for
//! a secret input ([`declare`]). Template entries are in [`template`], the
//! syntaxes in [`hcl`], [`yaml`] and [`cfn_json`]. What cannot be moved
//! safely is `manual`, with the reason.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use ecsguard_core::plan::{plan_moves, StoreKind, StoreSettings};
use ecsguard_core::{EnvValue, Finding, InputError, Origin, SecretValue};

use crate::scan::{scan_for_fix, ScanOptions};
use crate::source::FileKind;
use crate::tree::{ByteSpan, Kind, Node};

/// What happens to one finding (names FIXED by DESIGN §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum OutcomeKind {
    Fixed,
    NeedsPush,
    Manual,
    Unchanged,
}

impl OutcomeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            OutcomeKind::Fixed => "fixed",
            OutcomeKind::NeedsPush => "needs-push",
            OutcomeKind::Manual => "manual",
            OutcomeKind::Unchanged => "unchanged",
        }
    }
}

/// One finding and what the fix does with it.
#[derive(Debug, Clone)]
pub struct Planned {
    pub finding: Finding,
    pub outcome: OutcomeKind,
    /// Why, for `manual` (and what to do by hand); what was done otherwise.
    pub reason: String,
    /// The parameter or secret that holds (or would hold) the value.
    pub store_name: Option<String>,
    /// The `valueFrom` the file now reads.
    pub value_from: Option<String>,
}

/// A literal value to store before any file references it.
#[derive(Debug, Clone)]
pub struct Push {
    pub store_name: String,
    /// (JSON key or variable, value): one entry for SSM, one per variable of
    /// the container for Secrets Manager.
    pub entries: Vec<(String, SecretValue)>,
    /// Where the values are written (`file`, family), for the store's tags.
    pub source: String,
    /// The entry each value comes from, parallel to `entries`.
    spans: Vec<Spans>,
}

type Spans = Option<Box<ecsguard_core::EntrySpans>>;

/// One byte-range replacement in one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edit {
    pub start: usize,
    pub end: usize,
    pub text: String,
}

/// The edits to one file, and the byte ranges of values that must never be
/// shown (every environment value of the containers touched).
#[derive(Debug, Clone)]
pub struct FilePatch {
    pub path: PathBuf,
    pub original: String,
    pub edits: Vec<Edit>,
    pub secret_ranges: Vec<(usize, usize)>,
    /// Values that must not be shown wherever they appear in the diff (in a
    /// local, a `command`, a container that is not rewritten …).
    pub secret_texts: Vec<SecretValue>,
    /// HCL objects (original spans) whose attributes are aligned again after
    /// the edits, as `terraform fmt` aligns them.
    pub realign: Vec<(usize, usize)>,
    /// Stores to declare for secret inputs, once the entries are rewritten.
    pending: Vec<declare::Pending>,
    /// Entries (by span) that stay where they are, and why.
    refused: Vec<(u32, u32, String)>,
}

impl FilePatch {
    /// Whether the file is YAML: neither Terraform (by its name) nor JSON
    /// (by its first character), whatever its name (`.template`, none).
    pub fn is_yaml(&self) -> bool {
        let terraform = self
            .path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| e.eq_ignore_ascii_case("tf") || e.eq_ignore_ascii_case("hcl"));
        let json = self
            .original
            .trim_start_matches('\u{feff}')
            .trim_start()
            .starts_with(['{', '[']);
        !terraform && !json
    }

    /// The file's text after the edits.
    pub fn patched(&self) -> String {
        self.finish(&self.edits)
    }

    /// Applies edits, then aligns the objects `realign` names.
    fn finish(&self, edits: &[Edit]) -> String {
        // A file written with CRLF gets CRLF in what is added too.
        let converted: Vec<Edit>;
        let edits = if self.original.contains("\r\n") {
            converted = edits
                .iter()
                .map(|e| Edit {
                    start: e.start,
                    end: e.end,
                    text: e.text.replace("\r\n", "\n").replace('\n', "\r\n"),
                })
                .collect();
            &converted
        } else {
            edits
        };
        let mut text = apply_edits(&self.original, edits);
        // Back to front, so earlier ranges keep their offsets.
        let mut ranges: Vec<(usize, usize)> = self
            .realign
            .iter()
            .map(|&(s, e)| (map_offset(edits, s, false), map_offset(edits, e, true)))
            .collect();
        ranges.sort();
        // Back to front; a range holding one already aligned grows or
        // shrinks with it.
        for i in (0..ranges.len()).rev() {
            let (s, e) = ranges[i];
            if s > e || e > text.len() {
                continue;
            }
            let aligned = hcl::align(&text[s..e]);
            let delta = aligned.len() as isize - (e - s) as isize;
            text.replace_range(s..e, &aligned);
            for outer in ranges[..i].iter_mut() {
                if outer.0 <= s && e <= outer.1 {
                    outer.1 = (outer.1 as isize + delta).max(0) as usize;
                }
            }
        }
        text
    }

    /// A unified diff with every value redacted: the texts diffed have each
    /// environment value of the touched containers replaced by a marker, so
    /// a value cannot reach the diff whatever the edit.
    pub fn redacted_texts(&self) -> (String, String) {
        // Each value its own mark, so that the diff tells apart the values
        // that go from those that stay; a value over several lines keeps
        // its lines, so that the hunks' line numbers stay the file's.
        // A YAML block value's span runs on over the next line's indentation.
        let mut ranges: Vec<(usize, usize)> = self
            .secret_ranges
            .iter()
            .map(|&(s, e)| {
                let kept = self.original.get(s..e).map_or(0, |t| t.trim_end().len());
                (s, s + kept)
            })
            .collect();
        ranges.sort_unstable();
        ranges.dedup();
        let marks: Vec<Edit> = ranges
            .iter()
            .enumerate()
            .map(|(i, &(start, end))| Edit {
                start,
                end,
                text: format!(
                    "<redacted #{}>{}",
                    i + 1,
                    "\n".repeat(
                        self.original
                            .get(start..end)
                            .map_or(0, |t| t.matches('\n').count())
                    )
                ),
            })
            .collect();
        let before = apply_edits(&self.original, &marks);
        // Redactions inside a removed range disappear with it.
        let mut after_edits = self.edits.clone();
        for m in marks {
            if !self
                .edits
                .iter()
                .any(|e| e.start < m.end && m.start < e.end.max(e.start + 1))
            {
                after_edits.push(m);
            }
        }
        // Every form of every value, in one pass (leftmost-longest, so a value
        // inside another is not half hidden).
        let mut forms: Vec<String> = Vec::new();
        // An expression moved into a declared secret is shown in the new
        // text only when the scan shows it as written (a bare reference).
        // Any other (`!Sub 'u:${DbPassword}@h'`, `"${var.pw}suffix"`, a
        // condition with a literal branch, `Fn::Join` …) is hidden whole, and
        // each literal word of it too, wherever it lands and however it was
        // laid out again.
        for &(s, e) in &self.secret_ranges {
            let moved = self.edits.iter().any(|x| x.start < e && s < x.end);
            if let (true, Some(text)) = (moved, self.original.get(s..e)) {
                forms.extend(moved_literals(text.trim()));
            }
        }
        for v in &self.secret_texts {
            let raw = v.expose();
            let escaped = serde_json::to_string(raw).unwrap_or_default();
            for form in [raw, escaped.trim_matches('"')] {
                if !form.is_empty() {
                    forms.push(form.to_owned());
                }
            }
        }
        let matcher = aho_corasick::AhoCorasick::builder()
            .match_kind(aho_corasick::MatchKind::LeftmostLongest)
            .build(&forms)
            .ok();
        let hide = |text: String| -> String {
            if forms.is_empty() {
                return text;
            }
            match &matcher {
                Some(m) => m.replace_all(&text, &vec!["<redacted>"; forms.len()]),
                // Never shown unredacted.
                None => "<the diff cannot be shown redacted>\n".to_owned(),
            }
        };
        // Every line is shown with its values masked (default deny): keys,
        // references, numbers, types, names and the shapes the fix writes
        // (store names, ARNs, its grant) stay. A diff's lines hold whatever
        // the file has besides the values moved: a neighbour's password, a
        // comment, a command.
        let file = mask::file_tokens(&self.original);
        let yaml = self.is_yaml();
        let after = mask::mask_text(&hide(self.finish(&after_edits)), &file, yaml);
        let before = mask::mask_text(&hide(before), &file, yaml);
        (scrub(&before), scrub(&after))
    }
}

/// Whether the scan shows a value's text as it is written: a bare
/// reference (`!Ref X`, `!GetAtt X.Y`, `{"Ref": "X"}`, `Ref: X`,
/// `var.x`, `"${var.x}"`, `{{resolve:…}}`), with no literal text of its own.
pub fn shown_as_is(text: &str) -> bool {
    static BARE: std::sync::OnceLock<Option<regex::Regex>> = std::sync::OnceLock::new();
    let bare = BARE.get_or_init(|| {
        regex::Regex::new(concat!(
            r#"^(?:"#,
            r#"!Ref\s+[A-Za-z0-9:_.]+"#,
            r#"|!GetAtt\s+[A-Za-z0-9_]+\.[A-Za-z0-9_.]+"#,
            r#"|Ref:\s*[A-Za-z0-9:_.]+"#,
            r#"|\{\s*"Ref"\s*:\s*"[A-Za-z0-9:_.]+"\s*\}"#,
            r#"|\{\s*"Fn::GetAtt"\s*:\s*\[\s*"[A-Za-z0-9_]+"\s*,\s*"[A-Za-z0-9_.]+"\s*\]\s*\}"#,
            r#"|[A-Za-z_][A-Za-z0-9_-]*(?:\.[A-Za-z_][A-Za-z0-9_-]*|\[[0-9]+\])+"#,
            r#"|"\$\{[A-Za-z_][A-Za-z0-9_-]*(?:\.[A-Za-z_][A-Za-z0-9_-]*|\[[0-9]+\])+\}""#,
            r#"|'?\{\{resolve:[A-Za-z0-9:/_.+=@-]*\}\}'?"#,
            r#")$"#
        ))
        .ok()
    });
    bare.as_ref().is_some_and(|r| r.is_match(text.trim()))
}

/// What of a moved value's expression must not be shown: nothing for a bare
/// reference; otherwise the expression itself, and each literal word of it
/// (three characters or more, once references, intrinsic functions and
/// tags are taken out), so that it stays hidden when the fix lays the
/// expression out again.
fn moved_literals(text: &str) -> Vec<String> {
    static SYNTAX: std::sync::OnceLock<Option<regex::Regex>> = std::sync::OnceLock::new();
    if text.is_empty() || shown_as_is(text) {
        return Vec::new();
    }
    let syntax = SYNTAX.get_or_init(|| {
        regex::Regex::new(concat!(
            r#"\$\{[^!}][^}]*\}"#,
            r#"|!Ref\s+[A-Za-z0-9:_.]+|!GetAtt\s+[A-Za-z0-9_.]+"#,
            r#"|"Ref"\s*:\s*"[^"]*"|"Fn::GetAtt"\s*:\s*\[[^\]]*\]"#,
            r#"|"?Fn::[A-Za-z]+"?\s*:?|![A-Za-z]+"#,
            r#"|\b(?:var|local|data|module|each|count|path|self)\.[A-Za-z0-9_.\-\[\]"*]+"#,
            r#"|\b[a-z][a-z0-9_]*\(|\[\s*"[A-Za-z0-9_.-]*"\s*\]"#,
            r#"|\b(?:Ref|Condition|true|false|null)\b"#,
        ))
        .ok()
    });
    let mut out = vec![text.to_owned()];
    let Some(syntax) = syntax else {
        return out;
    };
    let rest = syntax.replace_all(text, " ");
    out.extend(
        rest.split(|c: char| c.is_whitespace() || "\"'[]{}(),".contains(c))
            .map(|w| w.trim_matches(|c: char| ":=?!|&<>".contains(c)))
            .filter(|w| w.chars().count() >= 3)
            .map(str::to_owned),
    );
    out
}

/// Hides, line by line, what looks like a secret in the texts a diff shows
/// (its context lines hold whatever else the file has: a database's
/// `MasterUserPassword`, a `password = "…"`): the value of a key whose name
/// says it is a secret, and any quoted or bare value a value detector
/// recognises (a provider token, a key, a URL with a password).
fn scrub(text: &str) -> String {
    static PAIR: std::sync::OnceLock<Option<regex::Regex>> = std::sync::OnceLock::new();
    static TOKEN: std::sync::OnceLock<Option<regex::Regex>> = std::sync::OnceLock::new();
    let pair = PAIR.get_or_init(|| {
        regex::Regex::new(
            r#"(?P<key>[A-Za-z_][A-Za-z0-9_.-]*)"?\s*(?::|=)\s*(?P<val>"(?:[^"\\]|\\.)*"|'[^']*'|[^\s,}\]#]+)"#,
        )
        .ok()
    });
    let token = TOKEN
        .get_or_init(|| regex::Regex::new(r#""(?:[^"\\]|\\.)*"|'[^']*'|[^\s"',\[\]{}()]+"#).ok());
    let (Some(pair), Some(token)) = (pair, token) else {
        return "<the diff cannot be shown redacted>\n".to_owned();
    };
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        let named = pair.replace_all(line, |c: &regex::Captures<'_>| {
            let (key, val) = (&c["key"], &c["val"]);
            let bare = val.trim_matches(|q| q == '"' || q == '\'');
            let secret_name = matches!(
                ecsguard_core::detect::names::classify(key),
                ecsguard_core::detect::names::NameClass::Secret(_)
            );
            let reference = bare.starts_with(['<', '!', '{', '[', '|', '>', '&', '*'])
                || bare.starts_with("${")
                || shown_as_is(bare);
            if secret_name && !reference && !bare.is_empty() {
                c[0].replacen(val, "<redacted>", 1)
            } else {
                c[0].to_owned()
            }
        });
        let valued = token.replace_all(&named, |c: &regex::Captures<'_>| {
            let t = &c[0];
            let inner = t.trim_matches(|q| q == '"' || q == '\'');
            if !ecsguard_core::detect::values::detect("", inner).is_empty() {
                "<redacted>".to_owned()
            } else {
                t.to_owned()
            }
        });
        out.push_str(&valued);
    }
    out
}

/// Where an offset of the original text lands once the edits are applied:
/// an edit wholly before it shifts it; `end` says whether an insertion at
/// exactly that offset counts as before it.
fn map_offset(edits: &[Edit], at: usize, end: bool) -> usize {
    let mut shift: isize = 0;
    for e in edits {
        let before = e.end < at || (e.end == at && (e.start < at || end));
        if before {
            shift += e.text.len() as isize - (e.end - e.start) as isize;
        }
    }
    (at as isize + shift).max(0) as usize
}

/// The plan for every file under the given paths.
#[derive(Debug, Default)]
pub struct FixPlan {
    pub planned: Vec<Planned>,
    pub pushes: Vec<Push>,
    pub files: Vec<FilePatch>,
    /// What each task definition's execution role must be allowed.
    pub iam: Vec<IamNote>,
    pub errors: Vec<InputError>,
}

/// The grant a task definition's execution role needs to read the values
/// its rewritten containers now take from `secrets`.
#[derive(Debug, Clone)]
pub struct IamNote {
    pub file: String,
    pub family: String,
    pub role: iam::ExecutionRole,
    /// The ARNs (or ARN patterns, before `--push`) to allow.
    pub resources: Vec<String>,
    pub policy: String,
    /// Written into the file (the role and its grant in the file's own
    /// language); `None` when the grant is left to do by hand.
    pub written: Option<String>,
}

/// A grant written into a file: its edits, the ranges to align again after
/// them, and what was done.
struct Grant {
    edits: Vec<Edit>,
    realign: Vec<(usize, usize)>,
    what: String,
}

/// What a task definition's grant must cover, to be written in its file.
#[derive(Clone, Copy)]
struct Need<'a> {
    /// A container of the task definition (byte span).
    container: (u32, u32),
    role: &'a iam::ExecutionRole,
    resources: &'a [String],
    kms: Option<&'a str>,
    family: &'a str,
}

#[derive(Debug, Clone)]
pub struct FixSettings {
    pub scan: ScanOptions,
    pub store: StoreSettings,
    /// Show literals' rewrites in the diff as they will be once pushed (the
    /// outcome stays `needs-push`); never for a plan that is written.
    pub preview: bool,
    /// Where the journals are: they name stores too, but read none.
    pub journal_dir: Option<PathBuf>,
}

/// Applies non-overlapping edits (in any order).
pub fn apply_edits(text: &str, edits: &[Edit]) -> String {
    let mut sorted: Vec<&Edit> = edits.iter().collect();
    sorted.sort_by_key(|e| (e.start, e.end));
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for e in sorted {
        if e.start < at || e.end > text.len() {
            continue;
        }
        out.push_str(&text[at..e.start]);
        out.push_str(&e.text);
        at = e.end;
    }
    out.push_str(&text[at..]);
    out
}

/// One variable the fix will move, with what it needs.
struct Candidate {
    finding: Finding,
    value: EnvValue,
}

/// Plans the fix. `stored` maps store names to the ARNs `--push` stored them
/// under: a literal whose name is there is rewritten to read it; one that is
/// not is `needs-push`.
pub fn plan(
    paths: &[PathBuf],
    settings: &FixSettings,
    stored: &HashMap<String, String>,
) -> FixPlan {
    let (report, tds) = scan_for_fix(paths, &settings.scan);
    // The files the scan read (listed once: both checks below need them).
    let source_files = crate::walk::list(paths, settings.scan.max_file_size);
    let mut plan = FixPlan {
        errors: report.errors,
        ..FixPlan::default()
    };
    // Findings grouped by task definition, with their values.
    let mut by_container: BTreeMap<(String, String, String), Vec<Candidate>> = BTreeMap::new();
    // The task definitions (file, family) that read each file of
    // containers (`file()`, `templatefile()`), as the scan resolved them:
    // also those in folders that the calls' search does not look in.
    let mut renderers: HashMap<String, std::collections::BTreeSet<(String, String)>> =
        HashMap::new();
    for td in &tds {
        let findings = ecsguard_core::check(td, &settings.scan.rules);
        for f in &findings {
            if let (Some(spans), Some(td_file)) = (&f.spans, &td.file) {
                if *spans.file != **td_file {
                    renderers
                        .entry(spans.file.to_string())
                        .or_default()
                        .insert((td_file.clone(), td.family.clone().unwrap_or_default()));
                }
            }
        }
        for f in findings {
            let value = td
                .containers
                .iter()
                .filter(|c| c.name == f.container)
                .flat_map(|c| c.environment.iter())
                .filter(|v| v.name == f.variable)
                .max_by_key(|v| crate::extract::secret_rank(&v.value))
                .map(|v| v.value.clone());
            let Some(value) = value else { continue };
            let file = f
                .spans
                .as_ref()
                .map(|s| s.file.to_string())
                .or_else(|| td.file.clone())
                .unwrap_or_default();
            // A bare container list has no family: its file names it.
            let family = td.family.clone().unwrap_or_else(|| {
                Path::new(&file)
                    .file_stem()
                    .map(|s| s.to_string_lossy().trim_end_matches(".json").to_owned())
                    .unwrap_or_else(|| "containers".to_owned())
            });
            by_container
                .entry((file, family, f.container.clone().unwrap_or_default()))
                .or_default()
                .push(Candidate { finding: f, value });
        }
    }

    // Per file: the containers whose entries are rewritten.
    let mut per_file: BTreeMap<String, Vec<ContainerMove>> = BTreeMap::new();
    // Per task definition: a container's span, and the ARNs to grant.
    /// A container's span, and what its moves read.
    type Grant = ((u32, u32), Vec<(Spans, String)>);
    // Keyed by file, family and where the task definition starts: two task
    // definitions of one family (in one file) each get their own grant.
    let mut grants: BTreeMap<(String, String, Option<u32>), Grant> = BTreeMap::new();
    // Each file read and parsed once (without its byte-order mark, whose
    // length is kept: spans start after it).
    let mut texts: HashMap<String, Parsed> = HashMap::new();
    let mut claimed: HashMap<String, Spans> = HashMap::new();
    let mut taken = declare::Taken::default();
    let mut users = template::Users::default();
    // Edits to the `.tf` files whose `templatefile()` calls pass the values
    // of rewritten template entries, each with the finding it is for.
    let mut side: BTreeMap<String, Vec<SideEdit>> = BTreeMap::new();
    let mut collided: std::collections::HashSet<Spans> = std::collections::HashSet::new();
    // The store names literals would be pushed to, with their findings.
    let mut literal_names: Vec<(String, Option<String>, Spans)> = Vec::new();
    for ((file, family, _container), candidates) in by_container {
        let refs: Vec<&Finding> = candidates.iter().map(|c| &c.finding).collect();
        let moves = match plan_moves(&family, &refs, &settings.store) {
            Ok(m) => m,
            Err(e) => {
                for c in candidates {
                    plan.planned.push(manual(c.finding, e.to_string()));
                }
                continue;
            }
        };
        let mut moving = ContainerMove::default();
        let mut resources: Vec<(Spans, String)> = Vec::new();
        // The container as written in place (a value from a local has the
        // local's spans, or none).
        // A reference interpolated in a heredoc's JSON is computed, but its
        // container is written in place all the same.
        let container_span = candidates
            .iter()
            .filter(|c| {
                c.finding.origin == Origin::InPlace
                    || (file.ends_with(".tf")
                        && matches!(c.finding.origin, Origin::Computed { .. })
                        && matches!(c.value, EnvValue::Reference(_)))
            })
            .find_map(|c| c.finding.spans.as_ref())
            .map(|s| s.container);
        let mut push_entries: BTreeMap<String, Vec<(String, SecretValue, Spans)>> = BTreeMap::new();
        // Containers read by `file()`/`templatefile()`: the task definition
        // (and its grant) is where the one call that reads them is.
        let uses: Vec<template::Use> = if file.ends_with(".tf") {
            Vec::new()
        } else {
            users.of(Path::new(&file)).to_vec()
        };
        // Read by more task definitions than the calls found beside it (one
        // in a sibling folder, say): an edit here would change them all,
        // and only some would be given what they need.
        let read_by = renderers.get(&file).map_or(0, |r| r.len());
        // (Templates whose every call is beside them are judged below, by
        // their calls.)
        let all_templated_here = uses.len() == read_by && uses.iter().all(|u| u.templated);
        if read_by > 1 && !all_templated_here {
            let names: Vec<String> = renderers[&file]
                .iter()
                .map(|(f, fam)| format!("{fam} in {f}"))
                .collect();
            for c in candidates {
                plan.planned.push(manual(
                    c.finding,
                    format!(
                        "the file is read by {read_by} task definitions ({}): an edit here changes all of them, and each needs its own store and grant; change it for all of them by hand, or give each task definition its own copy",
                        names.join(", ")
                    ),
                ));
            }
            continue;
        }
        let grant_site = match uses.as_slice() {
            [u] => Some((u.tf_file.clone(), (u.call.0 as u32, u.call.1 as u32))),
            // A container module's grant goes to the task definition that reads it.
            _ => container_span.map(|s| {
                let site = if file.ends_with(".tf") {
                    let p = parsed_file(&mut texts, &file);
                    match &p.parsed {
                        iam::Parsed::Terraform(body) => {
                            hcl::module_user(&p.text, body, s).unwrap_or(s)
                        }
                        _ => s,
                    }
                } else {
                    s
                };
                (file.clone(), site)
            }),
        };
        for c in candidates {
            let Some(m) = moves.iter().find(|m| {
                m.variable == c.finding.variable
                    && Some(&m.container) == c.finding.container.as_ref()
            }) else {
                plan.planned
                    .push(manual(c.finding, "no store name could be made".into()));
                continue;
            };
            // A template entry whose value is one variable of the one
            // `templatefile()` that renders it: the entry reads the variable
            // through secrets, and the call passes the store's ARN instead.
            if matches!(c.finding.origin, Origin::Computed { .. }) && !file.ends_with(".tf") {
                let templated: Vec<&template::Use> = uses.iter().filter(|u| u.templated).collect();
                if let Some(spans) = c.finding.spans.clone() {
                    if !templated.is_empty() {
                        let tpl = std::fs::read_to_string(&file).unwrap_or_default();
                        let tpl = tpl.strip_prefix('\u{feff}').unwrap_or(&tpl);
                        let entry = tpl
                            .get(spans.entry.0 as usize..spans.entry.1 as usize)
                            .unwrap_or_default();
                        let var = template::sole_variable(tpl, entry);
                        let passed = var.as_ref().and_then(|name| {
                            templated[0].vars.iter().find(|(n, ..)| n == name).cloned()
                        });
                        let why = match (templated.as_slice(), &var, &passed) {
                            ([_, _, ..], ..) => Some(format!(
                                "the template is rendered by {} templatefile() calls ({}): change it for all of them by hand, or give each task definition its own template",
                                templated.len(),
                                templated.iter().map(|u| u.tf_file.as_str()).collect::<Vec<_>>().join(", ")
                            )),
                            (_, None, _) => Some(
                                "the value is not one template variable used only here (`\"${name}\"`): move it to secrets by hand, in the template and in the templatefile() call".into(),
                            ),
                            (_, Some(name), None) => Some(format!(
                                "the template variable `{name}` is not passed in the templatefile() call as written (a map from elsewhere?): move it to secrets by hand"
                            )),
                            _ => None,
                        };
                        if let Some(why) = why {
                            plan.planned.push(manual(c.finding, why));
                            continue;
                        }
                        let (Some(name), Some((_, vspan, literal))) = (var, passed) else {
                            continue;
                        };
                        let u = templated[0];
                        let entry_value = NewValue::Text(format!("${{{name}}}"));
                        let tf_text = std::fs::read_to_string(&u.tf_file).unwrap_or_default();
                        let mut side_edit = SideEdit {
                            spans: c.finding.spans.clone(),
                            edit: Edit {
                                start: vspan.0,
                                end: vspan.1,
                                text: String::new(),
                            },
                            pending: None,
                            secret: literal,
                        };
                        match (&c.value, literal) {
                            (EnvValue::Literal(v), true) => {
                                let key = m.json_key.clone().unwrap_or_else(|| m.variable.clone());
                                claim(
                                    &mut claimed,
                                    &mut collided,
                                    format!("{}\u{0}{key}", m.store_name),
                                    &c.finding.spans,
                                );
                                literal_names.push((
                                    m.store_name.clone(),
                                    m.json_key.clone(),
                                    c.finding.spans.clone(),
                                ));
                                push_entries.entry(m.store_name.clone()).or_default().push((
                                    key,
                                    v.clone(),
                                    c.finding.spans.clone(),
                                ));
                                let (stored_vf, preview_vf) =
                                    literal_value_from(stored, m, &settings.store.kind);
                                let vf = stored_vf.clone().unwrap_or(preview_vf);
                                resources.push((c.finding.spans.clone(), resource_of(&vf)));
                                side_edit.edit.text = NewValue::Text(vf.clone()).hcl();
                                if stored_vf.is_some() || settings.preview {
                                    moving.entries.push((c.finding.clone(), entry_value));
                                    side.entry(u.tf_file.clone()).or_default().push(side_edit);
                                }
                                plan.planned.push(match stored_vf {
                                    Some(vf) => Planned {
                                        reason: format!("stored in {}; the template reads `{name}` through secrets, and {} passes the stored ARN as `{name}`", m.store_name, u.tf_file),
                                        finding: c.finding,
                                        outcome: OutcomeKind::Fixed,
                                        store_name: Some(m.store_name.clone()),
                                        value_from: Some(vf),
                                    },
                                    None => Planned {
                                        reason: format!(
                                            "a literal in the code ({}, passed to the template as `{name}`): store it with --push (as {} {}), then the template reads it through secrets; rotate it, since it stays in the repository's history",
                                            u.tf_file,
                                            store_word(&settings.store.kind),
                                            m.store_name
                                        ),
                                        finding: c.finding,
                                        outcome: OutcomeKind::NeedsPush,
                                        store_name: Some(m.store_name.clone()),
                                        value_from: None,
                                    },
                                });
                            }
                            _ => {
                                let expr = tf_text
                                    .get(vspan.0..vspan.1)
                                    .unwrap_or_default()
                                    .trim()
                                    .to_owned();
                                if let Err(why) = declare::check_hcl(&expr) {
                                    plan.planned.push(manual(c.finding, why));
                                    continue;
                                }
                                let d = match declared(
                                    &mut taken,
                                    &u.tf_file,
                                    &family,
                                    m,
                                    &settings.store,
                                    Some(u.call),
                                ) {
                                    Ok(d) => d,
                                    Err(why) => {
                                        plan.planned.push(manual(c.finding, why));
                                        continue;
                                    }
                                };
                                claim_declared(
                                    &mut claimed,
                                    &mut collided,
                                    &d,
                                    m,
                                    &c.finding.spans,
                                );
                                side_edit.edit.text = d.reference();
                                side_edit.pending = Some(declare::Pending {
                                    declared: d.clone(),
                                    expr,
                                    container: u.call,
                                    block: false,
                                });
                                side.entry(u.tf_file.clone()).or_default().push(side_edit);
                                moving.entries.push((c.finding.clone(), entry_value));
                                resources.push((c.finding.spans.clone(), d.resource()));
                                plan.planned.push(Planned {
                                    reason: format!(
                                        "the template variable `{name}` comes from an expression in {}: declared {} fed by it; the template reads `{name}` through secrets, and the call passes the store's ARN",
                                        u.tf_file,
                                        d.what()
                                    ),
                                    finding: c.finding,
                                    outcome: OutcomeKind::Fixed,
                                    store_name: Some(d.name.clone()),
                                    value_from: Some(d.reference()),
                                });
                            }
                        }
                        continue;
                    }
                }
            }
            // A reference interpolated in a Terraform heredoc's JSON is
            // written in its entry: a store can be fed by it there.
            let in_entry = file.ends_with(".tf")
                && matches!(c.value, EnvValue::Reference(_))
                && c.finding.spans.is_some();
            let reason = match why_manual(&c.finding, &file) {
                Some(_) if in_entry && matches!(c.finding.origin, Origin::Computed { .. }) => None,
                other => other,
            };
            if let Some(reason) = reason {
                plan.planned.push(manual(c.finding, reason));
                continue;
            }
            match &c.value {
                EnvValue::Template(_)
                    if declare::lang_of(&file) == Some(declare::Lang::Terraform) =>
                {
                    // Built from inputs at plan time: a store is fed by the same template.
                    let at = container_span.map(|(a, b)| (a as usize, b as usize));
                    let d = match declared(&mut taken, &file, &family, m, &settings.store, at) {
                        Ok(d) => d,
                        Err(why) => {
                            plan.planned.push(manual(c.finding, why));
                            continue;
                        }
                    };
                    claim_declared(&mut claimed, &mut collided, &d, m, &c.finding.spans);
                    push_declared(
                        &mut plan,
                        &mut moving,
                        &mut resources,
                        c.finding,
                        d,
                        "a Terraform template (built from other values)",
                    );
                }
                EnvValue::Literal(v) | EnvValue::Template(v) => {
                    if matches!(c.value, EnvValue::Template(_)) {
                        plan.planned.push(manual(
                            c.finding,
                            "the value is only partly written here (it has `${…}` parts known at deploy time): move it by hand".into(),
                        ));
                        continue;
                    }
                    let key = m.json_key.clone().unwrap_or_else(|| m.variable.clone());
                    // Two entries (of two files, families or containers whose
                    // names clean up alike) that would share one store name:
                    // one value would replace the other.
                    claim(
                        &mut claimed,
                        &mut collided,
                        format!("{}\u{0}{key}", m.store_name),
                        &c.finding.spans,
                    );
                    literal_names.push((
                        m.store_name.clone(),
                        m.json_key.clone(),
                        c.finding.spans.clone(),
                    ));
                    push_entries.entry(m.store_name.clone()).or_default().push((
                        key,
                        v.clone(),
                        c.finding.spans.clone(),
                    ));
                    match stored.get(&m.store_name) {
                        Some(arn) => {
                            let value_from = match &m.json_key {
                                Some(key) => format!("{arn}:{key}::"),
                                None => arn.clone(),
                            };
                            moving
                                .entries
                                .push((c.finding.clone(), NewValue::Text(value_from.clone())));
                            resources.push((c.finding.spans.clone(), resource_of(&value_from)));
                            plan.planned.push(Planned {
                                reason: format!(
                                    "stored in {} and read through secrets",
                                    m.store_name
                                ),
                                finding: c.finding,
                                outcome: OutcomeKind::Fixed,
                                store_name: Some(m.store_name.clone()),
                                value_from: Some(value_from),
                            });
                        }
                        None => {
                            resources.push((
                                c.finding.spans.clone(),
                                resource_of(&preview_value_from(
                                    &settings.store.kind,
                                    &m.store_name,
                                    m.json_key.as_deref(),
                                )),
                            ));
                            if settings.preview {
                                let value_from = preview_value_from(
                                    &settings.store.kind,
                                    &m.store_name,
                                    m.json_key.as_deref(),
                                );
                                moving
                                    .entries
                                    .push((c.finding.clone(), NewValue::Text(value_from)));
                            }
                            plan.planned.push(Planned {
                            reason: format!(
                                "a literal in the code: store it with --push (as {} {}), then the file reads it through secrets; rotate it, since it stays in the repository's history",
                                store_word(&settings.store.kind),
                                m.store_name
                            ),
                            finding: c.finding,
                            outcome: OutcomeKind::NeedsPush,
                            store_name: Some(m.store_name.clone()),
                            value_from: None,
                        });
                        }
                    }
                }
                EnvValue::Reference(r) => {
                    // Already in a store: read it from there, nothing new.
                    if let Some((value, resource)) = store_reference(&r.expression) {
                        resources.push((c.finding.spans.clone(), resource));
                        moving.entries.push((c.finding.clone(), value.clone()));
                        plan.planned.push(Planned {
                            reason: format!(
                                "already read from a store (`{}`): now read through secrets from that store, with no new one",
                                r.expression
                            ),
                            finding: c.finding,
                            outcome: OutcomeKind::Fixed,
                            store_name: None,
                            value_from: Some(value.shown()),
                        });
                        continue;
                    }
                    // A secret input (or any other expression): a store is
                    // declared beside the task definition, fed by it.
                    if declare::lang_of(&file).is_some() && !r.expression.contains("{{resolve:") {
                        let at = container_span.map(|(a, b)| (a as usize, b as usize));
                        let d = match declared(&mut taken, &file, &family, m, &settings.store, at) {
                            Ok(d) => d,
                            Err(why) => {
                                plan.planned.push(manual(c.finding, why));
                                continue;
                            }
                        };
                        claim_declared(&mut claimed, &mut collided, &d, m, &c.finding.spans);
                        let what = format!("`{}`", r.expression);
                        push_declared(&mut plan, &mut moving, &mut resources, c.finding, d, &what);
                        continue;
                    }
                    let pinned = r
                        .expression
                        .strip_prefix("{{resolve:ssm-secure:")
                        .is_some_and(|n| !n.starts_with("arn:") && n.contains(':'));
                    let reason = if r.expression.starts_with('…') || r.expression.ends_with('…')
                    {
                        // Literal text beside a dynamic reference would be
                        // copied into the template as it is.
                        format!(
                            "the value joins `{}` with literal text, which may itself be a secret: store the whole value in one secret and read it through secrets by hand",
                            r.expression
                        )
                    } else if pinned {
                        format!(
                            "the value comes from `{}`, a pinned version of the parameter, which valueFrom cannot name: add a secrets entry by hand if reading the latest version is right",
                            r.expression
                        )
                    } else if r.expression.starts_with("{{resolve:secretsmanager:") {
                        format!(
                            "the value comes from `{}`, which names the secret without its full ARN, and ECS reads a secret only by its full ARN: add a secrets entry with the secret's ARN by hand",
                            r.expression
                        )
                    } else {
                        format!(
                            "the value comes from `{}`: move what it refers to into SSM or Secrets Manager and read it through secrets",
                            r.expression
                        )
                    };
                    plan.planned.push(manual(c.finding, reason));
                }
            }
        }
        for (name, entries) in push_entries {
            let (entries, spans): (Vec<_>, Vec<_>) =
                entries.into_iter().map(|(k, v, sp)| ((k, v), sp)).unzip();
            plan.pushes.push(Push {
                store_name: name,
                entries,
                source: format!("{file} ({family})"),
                spans,
            });
        }
        // The grant: what this container's moves read (stored or planned).
        if let (false, Some((grant_file, span))) = (resources.is_empty(), grant_site) {
            let file = grant_file;
            let p = parsed_file(&mut texts, &file);
            let (_, anchor) = p.parsed.task_definition_of(&p.text, span);
            let entry = grants
                .entry((file.clone(), family.clone(), anchor))
                .or_insert_with(|| (span, Vec::new()));
            entry.1.extend(resources);
        }
        if !moving.entries.is_empty() {
            per_file.entry(file.clone()).or_default().push(moving);
        }
    }

    // A name a file already reads (a task definition fixed in an earlier
    // run, a store declared in Terraform): a value pushed there would
    // replace what that task definition reads.
    let already: std::collections::HashSet<Spans> = if literal_names.is_empty() {
        Default::default()
    } else {
        let entry_files = by_file_spans(&tds);
        let walked = &source_files;
        // Every source file, but not the journals, which name stores too.
        let journals = settings
            .journal_dir
            .as_ref()
            .and_then(|d| std::fs::canonicalize(d).ok());
        let walked: Vec<String> = walked
            .iter()
            .filter(|(p, _)| {
                journals
                    .as_ref()
                    .is_none_or(|j| !std::fs::canonicalize(p).is_ok_and(|c| c.starts_with(j)))
            })
            .map(|(p, _)| p.display().to_string())
            .collect();
        let mut files: Vec<&str> = walked.iter().map(String::as_str).collect();
        files.extend(tds.iter().filter_map(|td| td.file.as_deref()));
        files.extend(entry_files.iter().map(|f| f.as_ref()));
        already_read(&files, &literal_names).into_iter().collect()
    };
    demote(&mut plan.planned, &mut per_file, &already, |name| {
        format!(
            "the name {name} is already read by a file here (a task definition fixed in an earlier run, or a declared parameter): a value stored there would replace what that task definition reads; fix this one with another --prefix, or move it by hand"
        )
    });
    demote(&mut plan.planned, &mut per_file, &collided, |name| {
        format!(
            "another finding would be stored under the same name ({name}): give the task definitions different families, or fix them one at a time with different --prefix values"
        )
    });
    // A `.tf` file that the template entries' calls are in, and that cannot
    // be rewritten: those entries stay as they are.
    for (file, edits) in &side {
        let ok = std::fs::read_to_string(file)
            .map_err(|e| format!("cannot read {file} again to rewrite it: {e}"))
            .and_then(|text| {
                if text.starts_with('\u{feff}') {
                    return Err(format!(
                        "{file} starts with a byte-order mark: move the variable by hand"
                    ));
                }
                let pending: Vec<declare::Pending> =
                    edits.iter().filter_map(|e| e.pending.clone()).collect();
                hcl::declarations(&text, &pending).map(|_| ())
            });
        if let Err(message) = ok {
            let dropped: Vec<&Spans> = edits.iter().map(|e| &e.spans).collect();
            for p in &mut plan.planned {
                if p.finding.spans.is_some() && dropped.contains(&&p.finding.spans) {
                    p.outcome = OutcomeKind::Manual;
                    p.reason.clone_from(&message);
                    p.value_from = None;
                }
            }
            for moves in per_file.values_mut() {
                for m in moves.iter_mut() {
                    m.entries.retain(|(f, _)| !dropped.contains(&&f.spans));
                }
                moves.retain(|m| !m.entries.is_empty());
            }
        }
    }
    for (file, moves) in per_file {
        // All containers of the file at once (one parse); when one cannot be
        // rewritten, one at a time, so that it alone is manual.
        if moves.is_empty() {
            continue;
        }
        if let Ok(patch) = patch_file(Path::new(&file), &moves) {
            refuse(&mut plan.planned, &patch.refused, &moves);
            plan.files.push(patch);
            continue;
        }
        let mut merged: Option<FilePatch> = None;
        for m in &moves {
            match patch_file(Path::new(&file), std::slice::from_ref(m)) {
                Ok(patch) => match &mut merged {
                    Some(all) => {
                        refuse(&mut plan.planned, &patch.refused, &moves);
                        all.edits.extend(patch.edits);
                        all.secret_ranges.extend(patch.secret_ranges);
                        all.realign.extend(patch.realign);
                    }
                    None => {
                        refuse(&mut plan.planned, &patch.refused, &moves);
                        merged = Some(patch);
                    }
                },
                Err(message) => {
                    for p in &mut plan.planned {
                        if matches!(p.outcome, OutcomeKind::Fixed | OutcomeKind::NeedsPush)
                            && p.finding.spans.is_some()
                            && m.entries.iter().any(|(f, _)| f.spans == p.finding.spans)
                        {
                            p.outcome = OutcomeKind::Manual;
                            p.reason.clone_from(&message);
                            p.value_from = None;
                        }
                    }
                }
            }
        }
        plan.files.extend(merged);
    }
    // The `.tf` side of template entries, for those still rewritten.
    for (file, edits) in side {
        let edits: Vec<SideEdit> = edits
            .into_iter()
            .filter(|e| {
                plan.planned.iter().any(|p| {
                    p.finding.spans.is_some()
                        && p.finding.spans == e.spans
                        && (p.outcome == OutcomeKind::Fixed
                            || (settings.preview && p.outcome == OutcomeKind::NeedsPush))
                })
            })
            .collect();
        if edits.is_empty() {
            continue;
        }
        // Checked before the templates were patched: it cannot fail here.
        if let Err(message) = side_patch(&mut plan.files, &file, &edits) {
            plan.errors.push(InputError::file(&file, 1, None, message));
        }
    }
    // Only what is still to be rewritten is stored.
    let planned = &plan.planned;
    keep_pushes(&mut plan.pushes, |sp| {
        planned.iter().any(|p| {
            p.finding.spans.is_some()
                && p.finding.spans == *sp
                && matches!(p.outcome, OutcomeKind::Fixed | OutcomeKind::NeedsPush)
        })
    });
    // Every value that is a finding's is hidden from the diffs wherever it
    // appears (a local, a `command`, a container not rewritten); the others
    // are hidden where they are written, in the containers rewritten.
    let finding_names: std::collections::HashSet<(Option<String>, String)> = plan
        .planned
        .iter()
        .map(|p| (p.finding.container.clone(), p.finding.variable.clone()))
        .collect();
    let mut secret_texts: Vec<SecretValue> = Vec::new();
    for td in &tds {
        for c in &td.containers {
            for v in &c.environment {
                let (EnvValue::Literal(x) | EnvValue::Template(x)) = &v.value else {
                    continue;
                };
                let len = x.expose().chars().count();
                let is_finding = finding_names.contains(&(c.name.clone(), v.name.clone()));
                if is_finding && len >= 4 {
                    secret_texts.push(x.clone());
                }
            }
        }
    }
    // Longest first, so a value inside another is not half hidden.
    secret_texts.sort_by_key(|v| std::cmp::Reverse(v.expose().len()));
    secret_texts.dedup();
    for patch in &mut plan.files {
        patch.secret_texts.clone_from(&secret_texts);
    }
    let mut modules: HashMap<Option<PathBuf>, hcl::ModuleResources> = HashMap::new();
    for ((file, family, _), (container, moved)) in grants {
        // Only what is still rewritten (a container that could not be is manual).
        let mut resources: Vec<String> = moved
            .into_iter()
            .filter(|(spans, _)| {
                plan.planned.iter().any(|p| {
                    p.finding.spans.is_some()
                        && p.finding.spans == *spans
                        && (p.outcome == OutcomeKind::Fixed
                            // A literal not yet stored is rewritten only in the preview.
                            || (settings.preview && p.outcome == OutcomeKind::NeedsPush))
                })
            })
            .map(|(_, r)| r)
            .collect();
        if resources.is_empty() {
            continue;
        }
        resources.sort();
        resources.dedup();
        let p = parsed_file(&mut texts, &file);
        // Spans start after a byte-order mark; so do the grant's edits.
        let (bom, text) = (p.bom, &p.text);
        // The key's region and account are those of the stored values,
        // once they are stored; until then, the template's own.
        let (region, account) = resources
            .iter()
            .find_map(|r| {
                let mut parts = r.strip_prefix("arn:")?.split(':').skip(2);
                let region = parts.next().filter(|p| !p.is_empty())?;
                let account = parts.next().filter(|p| !p.is_empty())?;
                Some((region.to_owned(), account.to_owned()))
            })
            .unwrap_or_else(|| ("REGION".to_owned(), "ACCOUNT".to_owned()));
        let kms = settings
            .store
            .kms_key_id
            .as_ref()
            .map(|k| ecsguard_core::plan::kms_key_arn(k, &region, &account));
        let (role, _) = p.parsed.task_definition_of(text, container);
        let mut written = None;
        let kind = FileKind::of(Path::new(&file));
        if matches!(
            kind,
            Some(FileKind::Terraform | FileKind::Yaml | FileKind::Json)
        ) {
            let need = Need {
                container,
                role: &role,
                resources: &resources,
                kms: kms.as_deref(),
                family: &family,
            };
            let grant = match &p.parsed {
                iam::Parsed::Tree(docs) if kind == Some(FileKind::Yaml) => {
                    yaml::grant(text, docs, &need)
                }
                iam::Parsed::Tree(docs) => docs
                    .first()
                    .and_then(|root| cfn_json::grant(text, root, &need)),
                iam::Parsed::Terraform(body) => {
                    let dir = Path::new(&file).parent().map(Path::to_path_buf);
                    let module = modules
                        .entry(dir)
                        .or_insert_with(|| hcl::module_resources(Path::new(&file)));
                    hcl::grant(text, body, module, &need)
                }
                iam::Parsed::Nothing => None,
            };
            // The grant may be the only edit of its file (a `.tf` whose
            // `file()` reads the containers that moved).
            let writable = std::fs::symlink_metadata(&file)
                .is_ok_and(|m| m.file_type().is_file() && !m.permissions().readonly());
            if grant.is_some() && writable && !plan.files.iter().any(|f| f.path == Path::new(&file))
            {
                if let Ok(original) = std::fs::read_to_string(&file) {
                    plan.files.push(FilePatch {
                        path: PathBuf::from(&file),
                        original,
                        edits: Vec::new(),
                        secret_ranges: Vec::new(),
                        secret_texts: secret_texts.clone(),
                        realign: Vec::new(),
                        pending: Vec::new(),
                        refused: Vec::new(),
                    });
                }
            }
            let patch = plan.files.iter_mut().find(|p| p.path == Path::new(&file));
            if let (Some(patch), Some(grant)) = (patch, grant) {
                patch.edits.extend(grant.edits.into_iter().map(|mut e| {
                    e.start += bom;
                    e.end += bom;
                    e
                }));
                patch
                    .realign
                    .extend(grant.realign.into_iter().map(|(a, b)| (a + bom, b + bom)));
                written = Some(grant.what);
            }
        }
        plan.iam.push(IamNote {
            policy: ecsguard_core::plan::read_policy_for(&resources, kms.as_deref()),
            role,
            file,
            family,
            resources,
            written,
        });
    }
    // Task definitions that read secrets with no execution role (fixed in
    // an earlier run, or written so by hand): their tasks cannot start, and
    // that stays work to do on every run until a role is set.
    for (path, kind) in source_files {
        if !matches!(kind, FileKind::Terraform | FileKind::Json | FileKind::Yaml) {
            continue;
        }
        let file = path.display().to_string();
        if plan.files.iter().any(|p| p.path == path) {
            // Rewritten now: its grants are planned above.
            continue;
        }
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        for r in iam::roleless(&path, &text) {
            if plan
                .iam
                .iter()
                .any(|n| n.file == file && n.family == r.family)
            {
                continue;
            }
            let mut reads = r.reads;
            reads.sort();
            reads.dedup();
            plan.iam.push(IamNote {
                policy: ecsguard_core::plan::read_policy_for(&reads, None),
                role: iam::ExecutionRole::Missing,
                file: file.clone(),
                family: r.family,
                resources: reads,
                written: None,
            });
        }
    }
    plan.planned
        .sort_by(|a, b| a.finding.sort_key().cmp(&b.finding.sort_key()));
    plan
}

/// A file as read for the grants: its text without a byte-order mark, the
/// mark's length, and the text parsed.
struct Parsed {
    text: String,
    bom: usize,
    parsed: iam::Parsed,
}

fn parsed_file<'a>(cache: &'a mut HashMap<String, Parsed>, file: &str) -> &'a Parsed {
    cache.entry(file.to_owned()).or_insert_with(|| {
        let full = std::fs::read_to_string(file).unwrap_or_default();
        let (bom, text) = match full.strip_prefix('\u{feff}') {
            Some(t) => (3, t.to_owned()),
            None => (0, full),
        };
        let parsed = iam::Parsed::new(Path::new(file), &text);
        Parsed { text, bom, parsed }
    })
}

/// The entries a patch left where they are become `manual`, with why.
fn refuse(planned: &mut [Planned], refused: &[(u32, u32, String)], moves: &[ContainerMove]) {
    for (start, end, why) in refused {
        let spans: Vec<&Spans> = moves
            .iter()
            .flat_map(|m| m.entries.iter())
            .map(|(f, _)| &f.spans)
            .filter(|sp| sp.as_ref().is_some_and(|sp| sp.entry == (*start, *end)))
            .collect();
        for p in planned.iter_mut() {
            if p.finding.spans.is_some() && spans.contains(&&p.finding.spans) {
                p.outcome = OutcomeKind::Manual;
                p.reason.clone_from(why);
                p.value_from = None;
            }
        }
    }
}

/// An edit of a `.tf` file made for a template entry: the variable the
/// `templatefile()` call passes becomes the store's ARN.
struct SideEdit {
    spans: Spans,
    edit: Edit,
    pending: Option<declare::Pending>,
    /// Whether what it replaces is a literal value (hidden from the diff).
    secret: bool,
}

/// Adds side edits to the file's patch (made when the file has none).
fn side_patch(files: &mut Vec<FilePatch>, file: &str, edits: &[SideEdit]) -> Result<(), String> {
    let path = Path::new(file);
    let canonical = crate::scan::canonical_name(path);
    let at = match files
        .iter()
        .position(|p| p.path == path || crate::scan::canonical_name(&p.path) == canonical)
    {
        Some(i) => i,
        None => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read {file} again to rewrite it: {e}"))?;
            if text.starts_with('\u{feff}') {
                return Err(format!(
                    "{file} starts with a byte-order mark: move the variable by hand"
                ));
            }
            files.push(FilePatch {
                path: path.to_path_buf(),
                original: text,
                edits: Vec::new(),
                secret_ranges: Vec::new(),
                secret_texts: Vec::new(),
                realign: Vec::new(),
                pending: Vec::new(),
                refused: Vec::new(),
            });
            files.len() - 1
        }
    };
    let patch = &mut files[at];
    let pending: Vec<declare::Pending> = edits.iter().filter_map(|e| e.pending.clone()).collect();
    let declarations = hcl::declarations(&patch.original, &pending)?;
    for e in edits {
        patch.edits.push(e.edit.clone());
        if e.secret {
            patch.secret_ranges.push((e.edit.start, e.edit.end));
        }
    }
    patch.edits.extend(declarations);
    Ok(())
}

/// Where a literal is read from once pushed: the stored ARN (with its JSON
/// key) when `--push` stored it, and the preview of it.
fn literal_value_from(
    stored: &HashMap<String, String>,
    m: &ecsguard_core::plan::Move,
    kind: &StoreKind,
) -> (Option<String>, String) {
    let stored = stored.get(&m.store_name).map(|arn| match &m.json_key {
        Some(key) => format!("{arn}:{key}::"),
        None => arn.clone(),
    });
    (
        stored,
        preview_value_from(kind, &m.store_name, m.json_key.as_deref()),
    )
}

/// The store declared for a secret input of `file`.
fn declared(
    taken: &mut declare::Taken,
    file: &str,
    family: &str,
    m: &ecsguard_core::plan::Move,
    store: &StoreSettings,
    at: Option<(usize, usize)>,
) -> Result<declare::Declared, String> {
    let lang = declare::lang_of(file).unwrap_or(declare::Lang::Terraform);
    let id = taken.allocate(file, lang, family, &m.variable);
    // CloudFormation cannot declare a SecureString parameter.
    let kind = match lang {
        declare::Lang::CloudFormation => StoreKind::SecretsManager,
        declare::Lang::Terraform => store.kind.clone(),
    };
    // A Secrets Manager secret per variable: it holds what the expression yields.
    let name = match (&kind, &m.json_key) {
        (StoreKind::Ssm, _) => {
            if m.json_key.is_some() {
                format!("/{}/{}", m.store_name.trim_start_matches('/'), m.variable)
            } else {
                m.store_name.clone()
            }
        }
        (StoreKind::SecretsManager, Some(_)) => format!("{}/{}", m.store_name, m.variable),
        (StoreKind::SecretsManager, None) => m.store_name.trim_start_matches('/').to_owned(),
    };
    // A task definition whose family is known only when planned (a module's
    // `family = var.name`): the parameter's name follows it, so that every
    // instance of the module declares its own. One made more than once
    // (`count`, `for_each`), or whose family is computed otherwise, cannot
    // have a name of its own here.
    let mut name = name;
    let mut interpolated = false;
    if let (declare::Lang::Terraform, Some(at)) = (lang, at) {
        let family_name = std::fs::read_to_string(file)
            .ok()
            .and_then(|text| hcl::family_name(&text, at));
        match family_name {
            // Any store declared beside it would need the same count or
            // for_each, and what feeds it (`each.value`) means nothing
            // outside the block.
            Some(Err(why)) if why == hcl::REPEATED => {
                return Err(format!(
                    "{why}: a store declared beside it would need the same count or for_each; move the variable to secrets by hand"
                ))
            }
            _ if kind != StoreKind::Ssm => {}
            Some(Err(why)) => {
                return Err(format!(
                    "{why}: one SSM parameter name would serve every instance; use --store secretsmanager (each instance gets its own name_prefix), or move the variable by hand"
                ))
            }
            Some(Ok(Some(expr))) => {
                let mut segments: Vec<&str> = name.split('/').collect();
                if segments.len() >= 4 {
                    let at = segments.len() - 3;
                    segments[at] = &expr;
                    name = segments.join("/");
                    interpolated = true;
                }
            }
            Some(Ok(None)) | None => {}
        }
    }
    Ok(declare::Declared {
        lang,
        id,
        kind,
        name,
        interpolated,
        kms: store.kms_key_id.clone(),
        about: format!("{} of {family}/{} (ecsguard)", m.variable, m.container),
    })
}

/// A finding fixed by a store declared for it.
fn push_declared(
    plan: &mut FixPlan,
    moving: &mut ContainerMove,
    resources: &mut Vec<(Spans, String)>,
    finding: Finding,
    d: declare::Declared,
    fed_by: &str,
) {
    let credential = finding.rule == ecsguard_core::RuleId::KnownCredentialVariable;
    resources.push((finding.spans.clone(), d.resource()));
    let value = NewValue::Declared(d.clone());
    moving.entries.push((finding.clone(), value.clone()));
    plan.planned.push(Planned {
        reason: format!(
            "the value comes from {fed_by}: declared {} fed by it, and the container reads that through secrets{}",
            d.what(),
            if credential {
                "; better still, give the task a role and drop the static keys"
            } else {
                ""
            }
        ),
        finding,
        outcome: OutcomeKind::Fixed,
        store_name: Some(d.name.clone()),
        value_from: Some(value.shown()),
    });
}

/// A value already read from a store, and the `valueFrom` that reads the
/// same store through `secrets` (with the IAM resource to grant):
/// Terraform's `aws_ssm_parameter` `.value` and
/// `aws_secretsmanager_secret_version` `.secret_string` (or a key of it,
/// through `jsondecode`), data source or resource; CloudFormation's
/// `{{resolve:ssm-secure:…}}`, and `{{resolve:secretsmanager:…}}` given a
/// full ARN (ECS needs the full ARN of a secret).
fn store_reference(expr: &str) -> Option<(NewValue, String)> {
    let e = expr.trim();
    let e = e
        .strip_prefix("nonsensitive(")
        .and_then(|r| r.strip_suffix(')'))
        .unwrap_or(e);
    // `[data.]TYPE.NAME` (with an index) and what follows it.
    let object = |e: &str, kind: &str| -> Option<(String, String)> {
        let (data, rest) = match e.strip_prefix("data.") {
            Some(r) => ("data.", r),
            None => ("", e),
        };
        let rest = rest.strip_prefix(kind)?.strip_prefix('.')?;
        let dot = rest.find('.')?;
        let name = &rest[..dot];
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_alphanumeric() || "_-[]\"".contains(c))
        {
            return None;
        }
        Some((format!("{data}{kind}.{name}"), rest[dot + 1..].to_owned()))
    };
    if let Some(inner) = e.strip_prefix("jsondecode(") {
        let close = inner.find(')')?;
        let (source, attr) = object(&inner[..close], "aws_secretsmanager_secret_version")?;
        if attr != "secret_string" {
            return None;
        }
        let after = &inner[close + 1..];
        let key = after
            .strip_prefix("[\"")
            .and_then(|k| k.strip_suffix("\"]"))
            .or_else(|| after.strip_prefix('.'))?;
        if key.is_empty() || key.contains(['"', '$', '%', ':']) {
            return None;
        }
        return Some((
            NewValue::TfTemplate(format!("${{{source}.arn}}:{key}::")),
            format!("${{{source}.arn}}"),
        ));
    }
    if let Some((source, attr)) = object(e, "aws_ssm_parameter") {
        return (attr == "value").then(|| {
            (
                NewValue::TfExpr(format!("{source}.arn")),
                format!("${{{source}.arn}}"),
            )
        });
    }
    if let Some((source, attr)) = object(e, "aws_secretsmanager_secret_version") {
        return (attr == "secret_string").then(|| {
            (
                NewValue::TfExpr(format!("{source}.arn")),
                format!("${{{source}.arn}}"),
            )
        });
    }
    let inner = e.strip_prefix("{{resolve:")?.strip_suffix("}}")?;
    if let Some(name) = inner.strip_prefix("ssm-secure:") {
        // A pinned version cannot be written in `valueFrom`.
        if name.is_empty() || name.contains(':') {
            return None;
        }
        return Some((
            NewValue::Text(name.to_owned()),
            format!(
                "arn:aws:ssm:REGION:ACCOUNT:parameter/{}",
                name.trim_start_matches('/')
            ),
        ));
    }
    let rest = inner.strip_prefix("secretsmanager:")?;
    if !rest.starts_with("arn:") {
        return None;
    }
    let parts: Vec<&str> = rest.split(':').collect();
    // arn:PARTITION:secretsmanager:REGION:ACCOUNT:secret:NAME, then
    // SecretString:KEY:STAGE:VERSION.
    if parts.len() < 7 || parts.get(7).is_some_and(|p| *p != "SecretString") {
        return None;
    }
    let arn = parts[..7].join(":");
    let field = |i: usize| parts.get(i).copied().unwrap_or("");
    let value_from = if parts.len() > 8 {
        format!("{arn}:{}:{}:{}", field(8), field(9), field(10))
    } else {
        arn.clone()
    };
    Some((NewValue::Text(value_from), arn))
}

/// The IAM resource a `valueFrom` reads: a parameter's ARN (a bare name
/// becomes an ARN pattern), or a secret's ARN without the JSON key part.
pub(super) fn resource_of(value_from: &str) -> String {
    if !value_from.starts_with("arn:") {
        return format!(
            "arn:aws:ssm:REGION:ACCOUNT:parameter/{}",
            value_from.trim_start_matches('/')
        );
    }
    if value_from.contains(":secretsmanager:") {
        // arn:aws:secretsmanager:R:A:secret:NAME[:KEY:STAGE:VERSION]
        let parts: Vec<&str> = value_from.splitn(8, ':').collect();
        return parts[..parts.len().min(7)].join(":");
    }
    value_from.to_owned()
}

/// What a literal's `valueFrom` will look like once pushed: the parameter's
/// name (ECS accepts it for a parameter in the task's own region), or the
/// secret's ARN with its account, region and random suffix still unknown.
fn preview_value_from(kind: &StoreKind, name: &str, key: Option<&str>) -> String {
    match kind {
        StoreKind::Ssm => name.to_owned(),
        StoreKind::SecretsManager => format!(
            "arn:aws:secretsmanager:REGION:ACCOUNT:secret:{name}-??????:{}::",
            key.unwrap_or_default()
        ),
    }
}

fn store_word(kind: &StoreKind) -> &'static str {
    match kind {
        StoreKind::Ssm => "SSM SecureString parameter",
        StoreKind::SecretsManager => "Secrets Manager secret",
    }
}

fn manual(finding: Finding, reason: String) -> Planned {
    Planned {
        finding,
        outcome: OutcomeKind::Manual,
        reason,
        store_name: None,
        value_from: None,
    }
}

/// Claims the name of a parameter declared in Terraform, as a literal's
/// is claimed: a literal pushed to the same name would collide with it.
fn claim_declared(
    claimed: &mut HashMap<String, Spans>,
    collided: &mut std::collections::HashSet<Spans>,
    d: &declare::Declared,
    m: &ecsguard_core::plan::Move,
    spans: &Spans,
) {
    if d.kind == StoreKind::Ssm && m.json_key.is_none() {
        claim(
            claimed,
            collided,
            format!("{}\u{0}{}", d.name, m.variable),
            spans,
        );
    }
}

/// The files that hold containers' entries (templates, container files).
fn by_file_spans(tds: &[ecsguard_core::TaskDefinition]) -> Vec<std::sync::Arc<str>> {
    let mut out: Vec<std::sync::Arc<str>> = tds
        .iter()
        .flat_map(|td| &td.containers)
        .flat_map(|c| &c.environment)
        .filter_map(|v| v.spans.as_ref().map(|s| s.file.clone()))
        .collect();
    out.sort();
    out.dedup();
    out
}

/// The findings whose store name is already written in one of `files`
/// (in a `valueFrom`, an ARN, a declared parameter's `name`), followed by
/// a character that cannot continue a name. A Secrets Manager secret read
/// for another JSON key is not in the way: a push keeps the other keys.
fn already_read(files: &[&str], names: &[(String, Option<String>, Spans)]) -> Vec<Spans> {
    if names.is_empty() {
        return Vec::new();
    }
    let Ok(ac) = aho_corasick::AhoCorasick::new(names.iter().map(|(n, ..)| n.as_str())) else {
        return Vec::new();
    };
    let mut seen = std::collections::HashSet::new();
    let mut hit = vec![false; names.len()];
    for file in files {
        if !seen.insert(*file) {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(file) else {
            continue;
        };
        for m in ac.find_overlapping_iter(&text) {
            let rest = &text[m.end()..];
            let i = m.pattern().as_usize();
            let reads = match &names[i].1 {
                None => !rest
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_alphanumeric() || "_./".contains(c)),
                Some(key) => {
                    // `NAME-AbCdEf:KEY::` (an ARN), or `NAME:KEY::`.
                    let rest = match rest.strip_prefix('-') {
                        Some(r)
                            if r.len() >= 6
                                && r[..6].chars().all(|c| c.is_ascii_alphanumeric()) =>
                        {
                            &r[6..]
                        }
                        _ => rest,
                    };
                    match rest.strip_prefix(':') {
                        Some(r) => r.split(':').next() == Some(key.as_str()),
                        // The whole secret, or a name that goes on.
                        None => !rest
                            .chars()
                            .next()
                            .is_some_and(|c| c.is_ascii_alphanumeric() || "_./-".contains(c)),
                    }
                }
            };
            if reads {
                hit[i] = true;
            }
        }
    }
    names
        .iter()
        .zip(hit)
        .filter(|(_, h)| *h)
        .map(|((_, _, s), _)| s.clone())
        .collect()
}

/// Claims a store name (and key) for a literal: when another finding has
/// claimed it already, both collide, since one value would replace the other.
fn claim(
    claimed: &mut HashMap<String, Spans>,
    collided: &mut std::collections::HashSet<Spans>,
    name: String,
    spans: &Spans,
) {
    match claimed.get(&name) {
        Some(other) if other != spans => {
            collided.insert(other.clone());
            collided.insert(spans.clone());
        }
        _ => {
            claimed.insert(name, spans.clone());
        }
    }
}

/// Why a finding cannot be rewritten here, if it cannot.
fn why_manual(f: &Finding, file: &str) -> Option<String> {
    match &f.origin {
        Origin::Generated => Some(if file.contains("cdk.out") {
            "generated by the CDK: change the CDK app that produces this template, then synthesise again".into()
        } else {
            "generated (a Terraform plan): change the .tf that produced it, then plan again".into()
        }),
        Origin::Embedded { .. } => Some(
            "the container definitions are a JSON string inside another value: rewriting inside it is not built yet; move the variable to secrets by hand".into(),
        ),
        Origin::Computed { .. } => Some(
            "the value is computed (a variable, local, module input or template variable): move it to secrets where it is defined, by hand".into(),
        ),
        Origin::Live => Some("a live task definition: use fix --aws".into()),
        Origin::InPlace => {
            let kind = FileKind::of(Path::new(file));
            let tf = kind == Some(FileKind::Terraform) && file.ends_with(".tf");
            let supported = tf || matches!(kind, Some(FileKind::Json | FileKind::Yaml));
            // The list written elsewhere (`environment = local.env`): the
            // entry is shared by whatever else reads that list.
            let outside = f.spans.as_ref().is_some_and(|s| {
                s.list.0 < s.container.0 || s.list.1 > s.container.1
            });
            match (supported, f.spans.is_some()) {
                (true, true) if outside => Some(
                    "the environment list is written outside the container (in a local or variable that other containers may read too): move the variable to secrets there, by hand".into(),
                ),
                (true, true) => None,
                (true, false) => Some(
                    "the entry is written outside the container (in a local, a variable or a list joined in): move it to secrets there, by hand".into(),
                ),
                (false, _) => Some(
                    "rewriting this file type in place is not built yet: move the variable from environment to secrets by hand".into(),
                ),
            }
        }
    }
}

/// The variables of one container that move, with their new `valueFrom`.
#[derive(Default)]
struct ContainerMove {
    entries: Vec<(Finding, NewValue)>,
}

/// A new `valueFrom`, written in each syntax as it must be.
#[derive(Debug, Clone, PartialEq, Eq)]
enum NewValue {
    /// A plain string (an ARN, a parameter name).
    Text(String),
    /// A Terraform expression that yields it (`data.aws_ssm_parameter.x.arn`).
    TfExpr(String),
    /// A Terraform string template (`${data.….arn}:key::`).
    TfTemplate(String),
    /// A store declared in the file for a secret input.
    Declared(declare::Declared),
}

impl NewValue {
    /// As a JSON string (also YAML, and JSON in a heredoc).
    fn json(&self) -> String {
        let s = match self {
            NewValue::Text(t) | NewValue::TfTemplate(t) => t.clone(),
            NewValue::TfExpr(e) => format!("${{{e}}}"),
            NewValue::Declared(d) => match d.lang {
                declare::Lang::Terraform => d.resource(),
                declare::Lang::CloudFormation => return format!("{{\"Ref\": \"{}\"}}", d.id),
            },
        };
        serde_json::to_string(&s).unwrap_or_default()
    }

    /// As a YAML value (CloudFormation's short `!Ref` for a declared secret).
    fn yaml(&self) -> String {
        match self {
            NewValue::Declared(d) => d.reference(),
            other => other.json(),
        }
    }

    /// As an HCL expression.
    fn hcl(&self) -> String {
        match self {
            // A literal: `${` and `%{` would start a template.
            NewValue::Text(t) => {
                serde_json::to_string(&t.replace("${", "$${").replace("%{", "%%{"))
                    .unwrap_or_default()
            }
            NewValue::TfExpr(e) => e.clone(),
            NewValue::TfTemplate(t) => serde_json::to_string(t).unwrap_or_default(),
            NewValue::Declared(d) => d.reference(),
        }
    }

    /// As shown in the plan.
    fn shown(&self) -> String {
        match self {
            NewValue::Text(t) | NewValue::TfTemplate(t) => t.clone(),
            NewValue::TfExpr(e) => e.clone(),
            NewValue::Declared(d) => d.reference(),
        }
    }
}

/// Finds the node whose span is exactly `span`.
fn node_at(node: &Node, span: (u32, u32)) -> Option<&Node> {
    if (node.span.start, node.span.end) == span {
        return Some(node);
    }
    if !node.span.is_empty() && (span.0 < node.span.start || span.1 > node.span.end) {
        return None;
    }
    match &node.kind {
        Kind::Seq(items) => items.iter().find_map(|n| node_at(n, span)),
        Kind::Map(entries) => entries.iter().find_map(|(_, n)| node_at(n, span)),
        Kind::Tagged(_, inner) => node_at(inner, span),
        _ => None,
    }
}

/// The edits for one JSON file.
fn patch_file(path: &Path, moves: &[ContainerMove]) -> Result<FilePatch, String> {
    // Written by a rename: a symlink would become a copy, and a read-only
    // file would be replaced all the same.
    let meta = std::fs::symlink_metadata(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if meta.file_type().is_symlink() {
        return Err(format!(
            "{} is a symlink: fix the file it points to",
            path.display()
        ));
    }
    if meta.permissions().readonly() {
        return Err(format!(
            "{} is read-only: make it writable to have it rewritten",
            path.display()
        ));
    }
    let full = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {} again to rewrite it: {e}", path.display()))?;
    // The scanner reads past a byte-order mark, so its spans start after it:
    // the edits are made on the text after it, and moved past it at the end.
    const BOM: &str = "\u{feff}";
    let bom = if full.starts_with(BOM) { BOM.len() } else { 0 };
    let mut patch = patch_text(path, &full[bom..], moves)?;
    if bom > 0 {
        for e in &mut patch.edits {
            e.start += bom;
            e.end += bom;
        }
        for r in patch
            .secret_ranges
            .iter_mut()
            .chain(patch.realign.iter_mut())
        {
            r.0 += bom;
            r.1 += bom;
        }
        patch.original = full;
    }
    Ok(patch)
}

fn patch_text(path: &Path, text: &str, moves: &[ContainerMove]) -> Result<FilePatch, String> {
    let text = text.to_owned();
    let kind = FileKind::of(path);
    let mut patch = FilePatch {
        path: path.to_path_buf(),
        original: String::new(),
        edits: Vec::new(),
        secret_ranges: Vec::new(),
        secret_texts: Vec::new(),
        realign: Vec::new(),
        pending: Vec::new(),
        refused: Vec::new(),
    };
    if kind == Some(FileKind::Terraform) {
        hcl::patch(path, &text, moves, &mut patch)?;
        patch.original = text;
        return Ok(patch);
    }
    let syntax = if kind == Some(FileKind::Yaml) {
        Syntax::Yaml
    } else {
        Syntax::Json
    };
    let (roots, aliased): (Vec<Node>, Vec<ByteSpan>) = match syntax {
        Syntax::Yaml => crate::yaml::parse_with_aliases(&text)
            .map_err(|e| format!("{} no longer parses: {}", path.display(), e.message))?,
        Syntax::Json => (
            crate::json::parse(&text)
                .map_err(|e| format!("{} no longer parses: {}", path.display(), e.message))?
                .into_iter()
                .collect(),
            Vec::new(),
        ),
    };
    for m in moves {
        tree_edits(path, &text, &roots, &aliased, m, syntax, &mut patch)?;
    }
    if !patch.pending.is_empty() {
        let edit = declare_in_template(&text, &roots, syntax, &patch.pending)?;
        patch.edits.push(edit);
    }
    // Every environment value anywhere in the file is hidden from the diff,
    // also under a key written twice (which readers ignore, but a diff's
    // context lines would show).
    for root in &roots {
        environment_values(root, &mut patch.secret_ranges);
    }
    patch.secret_ranges.sort_unstable();
    patch.secret_ranges.dedup();
    patch.original = text;
    Ok(patch)
}

/// The secrets declared for secret inputs of a CloudFormation template:
/// after its last resource, indented as its resources are.
fn declare_in_template(
    text: &str,
    roots: &[Node],
    syntax: Syntax,
    pending: &[declare::Pending],
) -> Result<Edit, String> {
    let no_resources = || "the template has no Resources to declare a secret in".to_owned();
    let (_, resources) = roots
        .first()
        .and_then(|r| r.get_entry("Resources"))
        .ok_or_else(no_resources)?;
    let entries = resources.entries();
    let (first_key, _) = entries.first().ok_or_else(no_resources)?;
    let (_, last) = entries.last().ok_or_else(no_resources)?;
    let all: Vec<&declare::Pending> = pending.iter().collect();
    match syntax {
        Syntax::Yaml => {
            let indent = " ".repeat(first_key.pos.column.saturating_sub(1) as usize);
            if indent.is_empty() {
                return Err(no_resources());
            }
            // After the last resource's last line.
            let end = last.span.end as usize;
            let content_end = text[..end].trim_end().len();
            let at = text[content_end..]
                .find('\n')
                .map_or(text.len(), |i| content_end + i + 1);
            let lead = if at == text.len() && !text.ends_with('\n') {
                "\n"
            } else {
                ""
            };
            Ok(Edit {
                start: at,
                end: at,
                text: format!("{lead}{}", declare::yaml(&all, &indent, &indent)),
            })
        }
        Syntax::Json => {
            // A resource's own indentation, and one level of it (the
            // difference from the line holding `Resources`).
            let lead = |line: u32| {
                let l = text
                    .lines()
                    .nth(line.saturating_sub(1) as usize)
                    .unwrap_or("");
                l[..l.len() - l.trim_start().len()].to_owned()
            };
            let indent = lead(first_key.pos.line);
            let outer =
                lead(text[..resources.span.start as usize].matches('\n').count() as u32 + 1);
            let unit = indent.strip_prefix(outer.as_str()).unwrap_or("  ");
            let indent = indent.as_str();
            let unit = if unit.is_empty() { "  " } else { unit };
            let indent = if indent.is_empty() { "  " } else { indent };
            let at = last.span.end as usize;
            Ok(Edit {
                start: at,
                end: at,
                text: declare::json(&all, indent, unit),
            })
        }
    }
}

/// The spans of every `value` in every `environment` list under `node`.
fn environment_values(node: &Node, out: &mut Vec<(usize, usize)>) {
    match &node.kind {
        Kind::Map(entries) => {
            for (k, v) in entries {
                if k.text.eq_ignore_ascii_case("environment") {
                    for item in v.as_seq().unwrap_or_default() {
                        for (ik, iv) in item.entries() {
                            if ik.text.eq_ignore_ascii_case("value") && !iv.span.is_empty() {
                                out.push((iv.span.start as usize, iv.span.end as usize));
                            }
                        }
                    }
                }
                environment_values(v, out);
            }
        }
        Kind::Seq(items) => items.iter().for_each(|i| environment_values(i, out)),
        Kind::Tagged(_, inner) => environment_values(inner, out),
        _ => {}
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Syntax {
    Json,
    Yaml,
}

/// The edits for one container of a JSON or YAML document (a whole file, or
/// JSON in a Terraform heredoc, its spans already file offsets).
fn tree_edits(
    path: &Path,
    text: &str,
    roots: &[Node],
    aliased: &[ByteSpan],
    m: &ContainerMove,
    syntax: Syntax,
    patch: &mut FilePatch,
) -> Result<(), String> {
    let changed = || format!("{} changed since it was scanned", path.display());
    let Some((first, _)) = m.entries.first() else {
        return Ok(());
    };
    let spans = first
        .spans
        .as_ref()
        .ok_or_else(|| "the finding has no position to rewrite".to_owned())?;
    let container = roots
        .iter()
        .find_map(|r| node_at(r, spans.container))
        .ok_or_else(changed)?;
    let list = node_at(container, spans.list).ok_or_else(changed)?;
    // A YAML anchor that an alias copies elsewhere (the list, an item, the
    // container or what holds it): an edit here would change the other
    // places too, which would then lose the variable unseen.
    let overlaps = |s: &ByteSpan| {
        [container.span, list.span]
            .iter()
            .any(|n| s.start < n.end && n.start < s.end)
    };
    if aliased.iter().any(overlaps) {
        return Err(
            "the container or its environment list is a YAML anchor that an alias copies elsewhere: an edit here would change the copies too; move the variable by hand in every place that reads it"
                .into(),
        );
    }
    let items = list.as_seq().unwrap_or_default();
    // Every value of the container is redacted in the diff.
    for item in items {
        if let Some(v) = item.get("value").filter(|v| !v.span.is_empty()) {
            patch
                .secret_ranges
                .push((v.span.start as usize, v.span.end as usize));
        }
    }
    let removed = m.removed(&spans_of(items));
    if removed.is_empty() {
        return Err(changed());
    }
    let value_from_of = |item: &Node| m.value_from((item.span.start, item.span.end));
    // A literal that moves must be a string written whole here: a number or
    // a list would be stored as its JSON text, and a Terraform interpolation
    // in a heredoc would be frozen at its value of today.
    let terraform = FileKind::of(path) == Some(FileKind::Terraform);
    // A name already in `secrets` would be there twice: which one is right
    // is for a person to say.
    let existing: Vec<String> = container
        .get("secrets")
        .and_then(Node::as_seq)
        .unwrap_or_default()
        .iter()
        .filter_map(|s| s.get("name").and_then(Node::as_str).map(str::to_owned))
        .collect();
    // Each entry that cannot move stays, with its reason; the others move.
    let mut pending = Vec::new();
    let mut fit = Vec::new();
    for &i in &removed {
        let item = &items[i];
        match entry_fit(
            text,
            item,
            &value_from_of(item)?,
            &existing,
            syntax,
            terraform,
        ) {
            Ok(p) => {
                pending.extend(p.map(|(declared, expr, block)| declare::Pending {
                    declared,
                    expr,
                    container: (container.span.start as usize, container.span.end as usize),
                    block,
                }));
                fit.push(i);
            }
            Err(why) => patch.refused.push((item.span.start, item.span.end, why)),
        }
    }
    patch.pending.extend(pending);
    let removed = fit;
    if removed.is_empty() {
        return Ok(());
    }
    if syntax == Syntax::Yaml {
        patch.edits.extend(yaml::patch(
            text,
            container,
            list,
            items,
            &removed,
            &value_from_of,
        )?);
        return Ok(());
    }
    patch.edits.extend(remove_items(
        text,
        (list.span.start as usize, list.span.end as usize),
        &spans_of(items),
        &removed,
        false,
    ));
    // The new `secrets` entries, each made from its environment entry.
    let mut new_entries = Vec::new();
    for &i in &removed {
        let item = &items[i];
        new_entries.push(secret_entry(text, item, &value_from_of(item)?)?);
    }
    patch
        .edits
        .push(add_secrets(text, container, list, items, &new_entries)?);
    Ok(())
}

impl ContainerMove {
    /// Which of the list's items (by span) move.
    fn removed(&self, items: &[(usize, usize)]) -> Vec<usize> {
        items
            .iter()
            .enumerate()
            .filter(|(_, &(s, e))| {
                self.entries.iter().any(|(f, _)| {
                    f.spans
                        .as_ref()
                        .is_some_and(|sp| sp.entry == (s as u32, e as u32))
                })
            })
            .map(|(i, _)| i)
            .collect()
    }

    /// The `valueFrom` of the entry with this span.
    fn value_from(&self, entry: (u32, u32)) -> Result<NewValue, String> {
        self.entries
            .iter()
            .find(|(f, _)| f.spans.as_ref().is_some_and(|s| s.entry == entry))
            .map(|(_, v)| v.clone())
            .ok_or_else(|| "lost track of an entry".to_owned())
    }
}

mod cfn_json;
mod declare;
mod hcl;
pub mod iam;
pub mod mask;
mod template;
mod write;
mod yaml;

pub use write::{pending, recover, write_all, WriteOptions};

/// Removes the chosen items of a comma-separated list (a JSON array, an HCL
/// tuple), keeping the separators and indentation of those that stay.
/// `list` spans the brackets; `items` are the elements' spans.
fn remove_items(
    text: &str,
    list: (usize, usize),
    items: &[(usize, usize)],
    removed: &[usize],
    trailing_comma_ok: bool,
) -> Vec<Edit> {
    if removed.len() == items.len() {
        return vec![Edit {
            start: list.0 + 1,
            end: list.1 - 1,
            text: String::new(),
        }];
    }
    // An item alone on its line(s) goes with its line, so comment lines
    // between items (about the next one) stay.
    let own_line = |i: usize| -> Option<(usize, usize)> {
        let (start, end) = items[i];
        let ls = text[..start].rfind('\n').map_or(0, |p| p + 1);
        if !text[ls..start].trim().is_empty() {
            return None;
        }
        let nl = end + text[end..].find('\n')?;
        // Only a comma and a comment may follow it on its line.
        let rest = text[end..nl].trim_start().trim_start_matches(',').trim();
        let comment = rest.is_empty() || rest.starts_with('#') || rest.starts_with("//");
        let next_starts_later = items.get(i + 1).is_none_or(|n| n.0 > nl);
        (comment && next_starts_later).then_some((ls, nl + 1))
    };
    let last_kept = (0..items.len())
        .rev()
        .find(|i| !removed.contains(i))
        .unwrap_or(0);
    let mut edits = Vec::new();
    for &i in removed.iter().filter(|&&i| i < last_kept) {
        let (start, end) = own_line(i).unwrap_or((items[i].0, items[i + 1].0));
        edits.push(Edit {
            start,
            end,
            text: String::new(),
        });
    }
    // The removed items after the last kept one: each with its line when the
    // syntax allows the comma left behind and every one has a line of its
    // own; otherwise from the end of the last kept one.
    let trailing: Vec<usize> = removed.iter().copied().filter(|&i| i > last_kept).collect();
    let lines: Vec<Option<(usize, usize)>> = trailing.iter().map(|&i| own_line(i)).collect();
    if trailing_comma_ok && lines.iter().all(Option::is_some) {
        edits.extend(lines.into_iter().flatten().map(|(start, end)| Edit {
            start,
            end,
            text: String::new(),
        }));
    } else if let Some(&last) = trailing.iter().max() {
        edits.push(Edit {
            start: items[last_kept].1,
            end: items[last].1,
            text: String::new(),
        });
    }
    edits
}

fn spans_of(items: &[Node]) -> Vec<(usize, usize)> {
    items
        .iter()
        .map(|n| (n.span.start as usize, n.span.end as usize))
        .collect()
}

/// An environment entry's `value` key, as written, and its value.
fn value_entry(item: &Node) -> Result<(String, &Node), String> {
    match &item.kind {
        Kind::Map(entries) => entries
            .iter()
            .rev()
            .find(|(k, _)| k.text.eq_ignore_ascii_case("value"))
            .map(|(k, v)| (k.text.clone(), v))
            .ok_or_else(|| "an environment entry has no value".to_owned()),
        _ => Err("an environment entry is not a mapping".to_owned()),
    }
}

/// A `secrets` entry written like the environment entry it replaces: the
/// same text, with the `value` key renamed `valueFrom` and its value
/// replaced, so spacing and key case stay the file's own.
fn secret_entry(text: &str, item: &Node, value_from: &NewValue) -> Result<String, String> {
    let (key, value) = value_entry(item)?;
    let (start, vs, ve) = (
        item.span.start as usize,
        value.span.start as usize,
        value.span.end as usize,
    );
    let before = &text[start..vs];
    let quoted_key = format!("\"{key}\"");
    let at = before
        .rfind(&quoted_key)
        .ok_or_else(|| "cannot find the value's key".to_owned())?;
    let new_key = format!("\"{key}From\"");
    let encoded = value_from.json();
    Ok(format!(
        "{}{}{}{}{}",
        &before[..at],
        new_key,
        &before[at + quoted_key.len()..],
        encoded,
        &text[ve..item.span.end as usize]
    ))
}

/// Whether one environment entry can move: a name not already in
/// `secrets`; a literal written whole as a string (a number or a list would
/// be stored as its JSON text, and a Terraform interpolation in a heredoc
/// would be frozen at its value of today); a declared store's expression
/// that can be copied (returned with it).
fn entry_fit(
    text: &str,
    item: &Node,
    value_from: &NewValue,
    existing: &[String],
    syntax: Syntax,
    terraform: bool,
) -> Result<Option<(declare::Declared, String, bool)>, String> {
    if let Some(name) = item.get("name").and_then(Node::as_str) {
        if existing.iter().any(|e| e == name) {
            return Err(format!(
                "{name} is also in secrets: remove the environment entry by hand, keeping the reference that is right"
            ));
        }
    }
    let (_, value) = value_entry(item)?;
    if syntax == Syntax::Yaml {
        // Its lines must be movable as they are.
        yaml::secret_item(text, item, value_from)?;
    }
    match value_from {
        NewValue::Text(_) => {
            let Kind::Str(raw, _) = &value.kind else {
                return Err("the value is not a plain string (an intrinsic function, a number or a list): move it by hand".into());
            };
            if terraform && raw.contains("${") {
                return Err(
                    "the value is built with Terraform interpolation: move it to secrets where its parts are defined, by hand".into(),
                );
            }
            Ok(None)
        }
        NewValue::Declared(d) => {
            let raw = &text[value.span.start as usize..value.span.end as usize];
            let mut block = false;
            let expr = match (syntax, d.lang) {
                (Syntax::Yaml, _) => {
                    let (expr, is_block) = declare::yaml_value_text(text, value).ok_or_else(|| {
                        "the value is written over several lines after its key: declare a store fed by it by hand".to_owned()
                    })?;
                    block = is_block;
                    expr
                }
                // JSON in a Terraform heredoc: its string is a template.
                (Syntax::Json, declare::Lang::Terraform) => {
                    let expr = declare::hcl_of_json_string(raw)?;
                    declare::check_hcl(&expr)?;
                    expr
                }
                (Syntax::Json, declare::Lang::CloudFormation) => raw.to_owned(),
            };
            Ok(Some((d.clone(), expr, block)))
        }
        _ => Ok(None),
    }
}

/// Adds entries to the container's `secrets` list, made when missing.
fn add_secrets(
    text: &str,
    container: &Node,
    env_list: &Node,
    env_items: &[Node],
    entries: &[String],
) -> Result<Edit, String> {
    let (ls, le) = (env_list.span.start as usize, env_list.span.end as usize);
    // The environment list's own layout: what follows `[`, what separates.
    let (open, sep, close) = match (env_items.first(), env_items.last()) {
        (Some(first), Some(last)) => {
            let open = text[ls + 1..first.span.start as usize].to_owned();
            let close = text[last.span.end as usize..le - 1].to_owned();
            let sep = match env_items.get(1) {
                Some(second) => {
                    text[first.span.end as usize..second.span.start as usize].to_owned()
                }
                None => format!(",{open}"),
            };
            (open, sep, close)
        }
        _ => (String::new(), ", ".to_owned(), String::new()),
    };
    let secrets_key = container
        .entries()
        .iter()
        .rev()
        .find(|(k, _)| k.text.eq_ignore_ascii_case("secrets"));
    if let Some((_, secrets)) = secrets_key {
        let items = secrets
            .as_seq()
            .ok_or_else(|| "`secrets` is not a list".to_owned())?;
        return Ok(match items.last() {
            Some(last) => {
                let between = match items.len() {
                    1 => format!(
                        ",{}",
                        &text[secrets.span.start as usize + 1..items[0].span.start as usize]
                    ),
                    _ => text[items[0].span.end as usize..items[1].span.start as usize].to_owned(),
                };
                Edit {
                    start: last.span.end as usize,
                    end: last.span.end as usize,
                    text: entries
                        .iter()
                        .map(|e| format!("{between}{e}"))
                        .collect::<String>(),
                }
            }
            None => Edit {
                start: secrets.span.start as usize,
                end: secrets.span.end as usize,
                text: format!("[{open}{}{close}]", entries.join(&sep)),
            },
        });
    }
    // No `secrets` yet: added after the environment list, with its key
    // written as the environment key is (`secrets` or `Secrets`).
    let env_key = container
        .entries()
        .iter()
        .rev()
        .find(|(_, v)| v.span == env_list.span)
        .map(|(k, _)| k.text.clone())
        .unwrap_or_else(|| "environment".to_owned());
    let key = if env_key.starts_with('E') {
        "Secrets"
    } else {
        "secrets"
    };
    // The space before the environment key: back from its quote.
    let key_start = text[..ls]
        .rfind(&format!("\"{env_key}\""))
        .ok_or_else(|| "cannot find the environment key".to_owned())?;
    let lead_start = text[..key_start]
        .trim_end_matches([' ', '\t', '\r', '\n'])
        .len();
    let lead = &text[lead_start..key_start];
    let colon = &text[key_start + env_key.len() + 2..ls];
    Ok(Edit {
        start: le,
        end: le,
        text: format!(
            ",{lead}\"{key}\"{colon}[{open}{}{close}]",
            entries.join(&sep)
        ),
    })
}

/// Whether a patched file still parses and no longer holds the variables
/// the plan says it fixed.
pub fn verify(
    patch: &FilePatch,
    planned: &[Planned],
    rules: &ecsguard_core::RuleConfig,
) -> Result<(), String> {
    let patched = patch.patched();
    // Read as the scanner reads it: after a byte-order mark.
    let text = patched.strip_prefix('\u{feff}').unwrap_or(&patched);
    let file = patch.path.display().to_string();
    if FileKind::of(&patch.path) == Some(FileKind::Terraform) {
        // Checked again by the scan after writing, with its module.
        return hcl_edit::parser::parse_body(text).map(|_| ()).map_err(|e| {
            format!(
                "{file}: the rewritten file does not parse (line {}); it was not written",
                e.location().line()
            )
        });
    }
    let mut out = crate::source::Outcome::default();
    if FileKind::of(&patch.path) == Some(FileKind::Yaml) {
        crate::source::scan_yaml(&file, text, &mut out);
    } else {
        crate::source::scan_json(&file, text, &mut out);
    }
    if let Some(e) = out.errors.first() {
        return Err(format!(
            "{file}: the rewritten file does not parse ({}); it was not written",
            e.message
        ));
    }
    let left: Vec<Finding> = out
        .task_definitions
        .iter()
        .flat_map(|td| ecsguard_core::check(td, rules))
        .collect();
    for p in planned.iter().filter(|p| {
        p.outcome == OutcomeKind::Fixed
            && p.finding
                .spans
                .as_ref()
                .is_some_and(|s| Path::new(&*s.file) == patch.path)
    }) {
        if left
            .iter()
            .any(|f| f.container == p.finding.container && f.variable == p.finding.variable)
        {
            return Err(format!(
                "{file}: {} is still reported after the rewrite; the file was not written",
                p.finding.variable
            ));
        }
    }
    Ok(())
}

/// Takes over what the preview (the plan as it will be once the literals
/// are stored) refuses: a literal whose file would not take the rewrite
/// (read-only, a symlink, a block scalar, a name already in `secrets` …) is
/// `manual` now, and is not stored. Plan and apply then agree, and nothing
/// is stored for a rewrite that will not happen.
pub fn carry_refusals(plan: &mut FixPlan, preview: &FixPlan) {
    let refused = |spans: &Spans| {
        spans.is_some()
            && preview
                .planned
                .iter()
                .any(|p| p.finding.spans == *spans && p.outcome == OutcomeKind::Manual)
    };
    for p in &mut plan.planned {
        if p.outcome == OutcomeKind::NeedsPush && refused(&p.finding.spans) {
            if let Some(q) = preview
                .planned
                .iter()
                .find(|q| q.finding.spans == p.finding.spans)
            {
                p.outcome = OutcomeKind::Manual;
                p.reason.clone_from(&q.reason);
                p.value_from = None;
            }
        }
    }
    keep_pushes(&mut plan.pushes, |sp| !refused(sp));
}

/// Keeps the values of each push whose entry `keep` accepts, and the
/// pushes left with any.
fn keep_pushes(pushes: &mut Vec<Push>, keep: impl Fn(&Spans) -> bool) {
    for push in pushes.iter_mut() {
        let (entries, spans) = std::mem::take(&mut push.entries)
            .into_iter()
            .zip(std::mem::take(&mut push.spans))
            .filter(|(_, sp)| keep(sp))
            .unzip();
        push.entries = entries;
        push.spans = spans;
    }
    pushes.retain(|p| !p.entries.is_empty());
}

/// Makes the findings of `which` manual (the reason built from their store
/// name), and takes their entries out of the rewrites.
fn demote(
    planned: &mut [Planned],
    per_file: &mut BTreeMap<String, Vec<ContainerMove>>,
    which: &std::collections::HashSet<Spans>,
    reason: impl Fn(&str) -> String,
) {
    if which.is_empty() {
        return;
    }
    for p in planned.iter_mut() {
        if p.finding.spans.is_some() && which.contains(&p.finding.spans) {
            p.outcome = OutcomeKind::Manual;
            p.reason = reason(p.store_name.as_deref().unwrap_or_default());
            p.value_from = None;
        }
    }
    for moves in per_file.values_mut() {
        for m in moves.iter_mut() {
            m.entries.retain(|(f, _)| !which.contains(&f.spans));
        }
        moves.retain(|m| !m.entries.is_empty());
    }
}

/// Checks every rewrite of `plan` (each file parses and is clean), writing
/// nothing: run on the preview before any value is stored.
pub fn verify_all(plan: &FixPlan, settings: &FixSettings) -> Result<(), String> {
    plan.files.iter().try_for_each(|patch| {
        verify(patch, &plan.planned, &settings.scan.rules)?;
        if patch.patched() != patch.original {
            write::probe(&patch.path)?;
        }
        Ok(())
    })
}
