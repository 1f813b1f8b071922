//! `--format asff` and `scan --to-securityhub`: the report as ASFF, filed
//! under an account and region, and sent to Security Hub.

use std::path::{Path, PathBuf};

use ecsguard_core::asff::{self, AsffFinding, Context, ContextError};
use ecsguard_core::Report;

/// What ASFF and Security Hub need besides the report.
pub struct Settings {
    /// The rules the scan runs (after `--ruleset` and the config).
    pub rules: Vec<String>,
    pub to_securityhub: bool,
    /// `--account`: the account IaC findings are filed under.
    pub account: Option<String>,
    /// Credentials and regions (`--region`, `--profile`, `--role-arn`).
    pub live: ecsguard_aws::LiveOptions,
    /// The project a scan of files covers (None for a live scan).
    pub project: Option<Project>,
}

/// The report as ASFF, and where it was filed.
pub struct Prepared {
    pub findings: Vec<AsffFinding>,
    pub now: String,
    /// The region IaC findings were filed in (None for a live scan).
    pub region: Option<String>,
}

/// What a scan of files covers: a project (a repository, or a folder) and
/// the paths scanned in it. Findings are filed by their path in the
/// project, so the folder a scan runs from changes nothing.
#[derive(Debug, Clone)]
pub struct Project {
    /// `--project`, the repository's origin URL (without credentials), or
    /// its folder's name; `/` outside any repository.
    pub name: String,
    /// The project's folder (the repository's top, or `/`), canonical.
    pub dir: PathBuf,
    /// The paths scanned, in the project (`""` for all of it).
    pub roots: Vec<String>,
    /// The files the walk reads, in the project.
    pub read: std::collections::BTreeSet<String>,
}

impl Project {
    /// Finds the project of the paths scanned: the repository the first
    /// one is in, or (outside any) that path's folder.
    pub fn find(
        paths: &[PathBuf],
        name: Option<String>,
        max_file_size: u64,
    ) -> Result<Project, String> {
        let top = |p: &Path| {
            let abs = std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
            let start = if abs.is_dir() {
                abs.clone()
            } else {
                abs.parent().map_or_else(|| abs.clone(), Path::to_path_buf)
            };
            let repo = start
                .ancestors()
                .find(|d| d.join(".git").exists())
                .map(Path::to_path_buf);
            (start, repo)
        };
        let first = paths
            .first()
            .map_or_else(|| PathBuf::from("."), Clone::clone);
        let (start, repo) = top(&first);
        // One project per run: files of two repositories filed under one
        // would never be archived by a scan of the other.
        for p in paths.iter().skip(1) {
            let (_, other) = top(p);
            if other != repo {
                return Err(format!(
                    "{} and {} are not in the same repository: file them in Security Hub one repository at a time",
                    first.display(),
                    p.display()
                ));
            }
        }
        let repo = repo.as_deref();
        // Outside a repository, paths are filed whole (from the top of the
        // file system), so that the folder a scan runs from, or names,
        // changes nothing.
        let dir = repo.map_or_else(
            || {
                start
                    .ancestors()
                    .last()
                    .map_or_else(|| start.clone(), Path::to_path_buf)
            },
            Path::to_path_buf,
        );
        let name = name.unwrap_or_else(|| match repo {
            Some(top) => origin(top).unwrap_or_else(|| {
                top.file_name().map_or_else(
                    || top.display().to_string(),
                    |n| n.to_string_lossy().into_owned(),
                )
            }),
            None => "/".to_owned(),
        });
        let mut project = Project {
            name,
            dir,
            roots: Vec::new(),
            read: Default::default(),
        };
        let mut roots: Vec<String> = paths.iter().map(|p| project.path_of(p)).collect();
        if roots.is_empty() {
            roots.push(String::new());
        }
        roots.sort();
        roots.dedup();
        project.roots = roots;
        project.read = ecsguard_iac::walk::list(paths, max_file_size)
            .into_iter()
            .map(|(p, _)| project.path_of(&p))
            .collect();
        Ok(project)
    }

    /// For a file in a repository nested in the project (a submodule, a
    /// checkout inside a checkout): that repository's name and the file's
    /// path in it, as a scan of that repository files it.
    pub fn nested(&self, file: &Path) -> Option<(String, String)> {
        let abs = std::fs::canonicalize(file).ok()?;
        let top = abs
            .ancestors()
            .skip(1)
            .take_while(|d| *d != self.dir && d.starts_with(&self.dir))
            .find(|d| d.join(".git").exists())?;
        let name = origin(top).unwrap_or_else(|| {
            top.file_name().map_or_else(
                || top.display().to_string(),
                |n| n.to_string_lossy().into_owned(),
            )
        });
        let rel = abs
            .strip_prefix(top)
            .ok()?
            .to_string_lossy()
            .replace('\\', "/");
        Some((name, rel))
    }

    /// A path's place in the project (`""` for the project's folder); a
    /// path outside it keeps its full, canonical form.
    pub fn path_of(&self, path: &Path) -> String {
        let abs = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        match abs.strip_prefix(&self.dir) {
            Ok(rel) => rel.to_string_lossy().replace('\\', "/"),
            Err(_) => abs.to_string_lossy().into_owned(),
        }
    }
}

/// The git config of a repository's top folder: `.git/config`, or for a
/// worktree or submodule (where `.git` is a file naming the real one) the
/// config of the repository it belongs to.
fn git_config(top: &Path) -> Option<String> {
    let dot = top.join(".git");
    let gitdir = if dot.is_dir() {
        dot
    } else {
        let text = std::fs::read_to_string(&dot).ok()?;
        let named = text.lines().find_map(|l| l.strip_prefix("gitdir:"))?.trim();
        let dir = top.join(named);
        // A worktree's own folder points at the shared one.
        match std::fs::read_to_string(dir.join("commondir")) {
            Ok(common) => dir.join(common.trim()),
            Err(_) => dir,
        }
    };
    std::fs::read_to_string(gitdir.join("config")).ok()
}

/// The `origin` remote's URL, with anything that could be a credential
/// taken out: everything up to the last `@` (a user, a password, a token,
/// whatever characters it holds) and any query or fragment.
fn origin(top: &Path) -> Option<String> {
    let text = git_config(top)?;
    // Git's syntax: `\` at a line's end continues it; keys are read without
    // regard to case; `;` and `#` outside quotes start a comment.
    let joined = text.replace("\\\r\n", "").replace("\\\n", "");
    let mut in_origin = false;
    for line in joined.lines() {
        let line = uncomment(line).trim().to_owned();
        if line.starts_with('[') {
            let section: String = line.chars().filter(|c| !c.is_whitespace()).collect();
            in_origin = section.eq_ignore_ascii_case("[remote\"origin\"]");
        } else if in_origin {
            if let Some((key, value)) = line.split_once('=') {
                if key.trim().eq_ignore_ascii_case("url") {
                    return Some(without_credentials(value.trim()));
                }
            }
        }
    }
    None
}

/// A git config line without its comment (`;` or `#` outside quotes).
fn uncomment(line: &str) -> &str {
    let mut quoted = false;
    for (i, c) in line.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ';' | '#' if !quoted => return &line[..i],
            _ => {}
        }
    }
    line
}

fn without_credentials(url: &str) -> String {
    // Git writes a URL holding `#`, `;` or spaces in quotes.
    let url = url.trim().trim_matches('"');
    let (scheme, rest) = match url.split_once("://") {
        Some((scheme, rest)) => (Some(scheme), rest),
        None => (None, url),
    };
    // The credential first (a password may hold `?` or `#`), then the query.
    let rest = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
    let rest = rest.split(['?', '#']).next().unwrap_or_default();
    match scheme {
        Some(scheme) => format!("{scheme}://{rest}"),
        None => rest.to_owned(),
    }
}

/// Now, as Security Hub wants it (RFC 3339, UTC, milliseconds);
/// `SOURCE_DATE_EPOCH` fixes it, for reproducible output.
pub fn now() -> String {
    let t = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.trim().parse::<i64>().ok())
        .filter(|s| *s >= 0)
        .and_then(|s| time::OffsetDateTime::from_unix_timestamp(s).ok())
        .unwrap_or_else(time::OffsetDateTime::now_utc);
    let t = t
        .replace_nanosecond(u32::from(t.millisecond()) * 1_000_000)
        .unwrap_or(t);
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| "1970-01-01T00:00:00Z".to_owned())
}

/// Runs `f` to completion on a thread of its own with a large stack: the
/// SDK's Security Hub types are very large (a finding has some 80 fields,
/// nested deep), and decoding a page of them overflows the main thread's
/// stack in a debug build.
pub fn block_on<F>(f: F) -> Result<F::Output, String>
where
    F: std::future::Future + Send,
    F::Output: Send,
{
    std::thread::scope(|scope| {
        std::thread::Builder::new()
            .name("securityhub".to_owned())
            .stack_size(256 << 20)
            .spawn_scoped(scope, || {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map(|rt| rt.block_on(f))
                    .map_err(|e| format!("cannot start the async runtime: {e}"))
            })
            .map_err(|e| format!("cannot start a thread for Security Hub: {e}"))?
            .join()
            .map_err(|_| "the Security Hub thread stopped unexpectedly".to_owned())?
    })
}

/// The report as ASFF. IaC findings are filed under `--account` (or the
/// caller's account, asked of STS) in `--region` (or the configured one).
pub fn prepare(report: &Report, settings: &Settings) -> Result<Prepared, String> {
    // What is sent is dated now: Security Hub ages findings by `UpdatedAt`.
    let now = if settings.to_securityhub {
        let t = time::OffsetDateTime::now_utc();
        t.replace_nanosecond(u32::from(t.millisecond()) * 1_000_000)
            .unwrap_or(t)
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_else(|_| now())
    } else {
        now()
    };
    let live = report.summary.live.is_some();
    let needs = !live && (settings.to_securityhub || asff::needs_context(report));
    let (account, region) = if needs {
        file_under(settings)?
    } else {
        (None, None)
    };
    let mut ctx = Context {
        account,
        region: region.clone(),
        now: now.clone(),
        ..Context::default()
    };
    if let Some(project) = &settings.project {
        ctx.project = Some(project.name.clone());
        for f in &report.findings {
            if let ecsguard_core::Location::File { file, .. } = &f.location {
                if ctx.paths.contains_key(file) {
                    continue;
                }
                match project.nested(Path::new(file)) {
                    Some((name, path)) => {
                        ctx.projects.insert(file.clone(), name);
                        ctx.paths.insert(file.clone(), path);
                    }
                    None => {
                        ctx.paths
                            .insert(file.clone(), project.path_of(Path::new(file)));
                    }
                }
            }
        }
    }
    let findings = asff::findings(report, &ctx).map_err(|e| match e {
        ContextError::NoAccount => {
            "ASFF needs the AWS account IaC findings belong to: pass --account 123456789012"
                .to_owned()
        }
        ContextError::NoRegion => {
            "ASFF needs the AWS region IaC findings are filed in: pass --region".to_owned()
        }
    })?;
    Ok(Prepared {
        findings,
        now,
        region,
    })
}

/// The account and region IaC findings are filed under.
fn file_under(settings: &Settings) -> Result<(Option<String>, Option<String>), String> {
    let given_region = settings.live.regions.first().cloned();
    if let (Some(account), Some(region)) = (&settings.account, &given_region) {
        return Ok((Some(account.clone()), Some(region.clone())));
    }
    // Whatever was not given comes from the credentials and their config.
    let caller = block_on(ecsguard_aws::securityhub::caller(&settings.live))?;
    match (&settings.account, caller) {
        (Some(account), Ok(c)) => Ok((Some(account.clone()), given_region.or(Some(c.region)))),
        (None, Ok(c)) => Ok((Some(c.account), given_region.or(Some(c.region)))),
        (Some(account), Err(_)) => match block_on(ecsguard_aws::securityhub::configured_region(&settings.live))? {
            Some(region) => Ok((Some(account.clone()), Some(region))),
            None => Err("ASFF needs the AWS region IaC findings are filed in: pass --region (or set AWS_REGION)".to_owned()),
        },
        (None, Err(e)) => Err(format!(
            "ASFF needs the AWS account and region IaC findings are filed under: pass --account 123456789012{}, or run with credentials so that STS can tell ({e})",
            if given_region.is_some() { "" } else { " --region REGION" }
        )),
    }
}

/// Sends the findings and archives the gone ones; says what happened on
/// stderr. False when anything failed.
pub fn send(report: &Report, settings: &Settings, prepared: &Prepared) -> bool {
    let regions = match (&report.summary.live, &prepared.region) {
        (Some(live), _) => live.region_names.clone(),
        (None, Some(region)) => vec![region.clone()],
        (None, None) => Vec::new(),
    };
    let gone = match (&report.summary.live, &settings.project) {
        (Some(live), _) => {
            ecsguard_aws::securityhub::Gone::Revisions(live.scanned.iter().cloned().collect())
        }
        (None, Some(project)) => ecsguard_aws::securityhub::Gone::Files {
            project: project.name.clone(),
            roots: project.roots.clone(),
            read: project.read.clone(),
            dir: project.dir.clone(),
        },
        (None, None) => ecsguard_aws::securityhub::Gone::Revisions(Default::default()),
    };
    let request = ecsguard_aws::securityhub::ImportRequest {
        findings: prepared.findings.clone(),
        regions,
        gone,
        rules: settings.rules.clone(),
        archive: report.errors.is_empty(),
        now: prepared.now.clone(),
    };
    let result = match block_on(ecsguard_aws::securityhub::import(&settings.live, &request)) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return false;
        }
    };
    for n in &result.notes {
        eprintln!("note: {n}");
    }
    for e in &result.errors {
        eprintln!("error: {e}");
    }
    eprintln!(
        "ecsguard: Security Hub: {} finding{} imported, {} archived",
        result.imported,
        if result.imported == 1 { "" } else { "s" },
        result.archived
    );
    result.errors.is_empty()
}

/// What `fix --from-securityhub` did in Security Hub.
#[derive(Debug, Default)]
pub struct Resolved {
    pub notes: Vec<String>,
    /// Reading Security Hub failed, or a finding names nothing fixable:
    /// nothing was changed for it (exit 2).
    pub input_errors: Vec<String>,
    /// Marking findings RESOLVED failed after their fix (exit 3).
    pub errors: Vec<String>,
}

/// The fixes finished so far, from the journals: the revision each replaced
/// → the revision that replaced it (a fix rolled back does not count).
fn finished_fixes(
    dir: &Path,
) -> std::collections::HashMap<String, (String, String, String, String)> {
    let mut out = std::collections::HashMap::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for path in entries.flatten().map(|e| e.path()) {
        if path.extension().is_none_or(|x| x != "json") {
            continue;
        }
        let Ok(j) = ecsguard_aws::journal::Journal::load(&path) else {
            continue;
        };
        if j.completed && !j.rolled_back && !j.rollback_started {
            if let Some(new) = j.register.as_ref().and_then(|r| r.arn.clone()) {
                out.insert(
                    j.old_arn.clone(),
                    (new, j.account.clone(), j.region.clone(), j.family.clone()),
                );
            }
        }
    }
    out
}

/// `fix --aws --from-securityhub`: the active, failed ECS.8 findings name
/// the task definitions to fix; each region's families are fixed (planned,
/// or with `--apply` carried out). After `--apply`, a finding is marked
/// `RESOLVED`, with a note, when every task definition it names was
/// replaced by a finished fix (this run's or an earlier one's, from the
/// journals) whose new revision no longer fails ECS.8.
pub async fn fix_from_securityhub(
    options: &ecsguard_aws::FixOptions,
    rules: &ecsguard_core::RuleConfig,
) -> (ecsguard_aws::FixReport, Resolved) {
    use std::collections::{BTreeMap, BTreeSet};

    let mut hub = Resolved::default();
    let mut report = ecsguard_aws::FixReport::default();
    let (found, errors) = ecsguard_aws::securityhub::ecs8_findings(&options.live).await;
    hub.input_errors.extend(errors);
    let mut by_region: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for f in &found {
        let families = by_region.entry(f.region.as_str()).or_default();
        if !families.contains(&f.family) {
            families.push(f.family.clone());
        }
    }
    let ids: BTreeSet<&str> = found.iter().map(|f| f.id.as_str()).collect();
    let families: usize = by_region.values().map(Vec::len).sum();
    hub.notes.push(format!(
        "Security Hub: {} active, failed ECS.8 finding{} name {families} task definition famil{}",
        ids.len(),
        if ids.len() == 1 { "" } else { "s" },
        if families == 1 { "y" } else { "ies" }
    ));
    // Each region with its own families: a family named in one region is
    // not fixed in another.
    for (region, families) in &by_region {
        let per_region = ecsguard_aws::FixOptions {
            live: ecsguard_aws::LiveOptions {
                regions: vec![(*region).to_owned()],
                ..options.live.clone()
            },
            families: families.clone(),
            ..options.clone()
        };
        let part = ecsguard_aws::fix(&per_region, rules).await;
        report.families.extend(part.families);
        report.errors.extend(part.errors);
        report.failed |= part.failed;
        if part.stopped {
            report.stopped = true;
            return (report, hub);
        }
    }
    if !options.apply || report.failed {
        return (report, hub);
    }
    let finished = finished_fixes(&options.journal_dir);
    // Each task definition named: fixed, or why not.
    let mut verdicts: BTreeMap<&str, Vec<Result<(), String>>> = BTreeMap::new();
    let mut checked: std::collections::HashMap<String, Result<Vec<String>, String>> =
        std::collections::HashMap::new();
    for f in &found {
        let replaced = match f.revision {
            Some(_) => finished.get(&f.arn).map(|(new, ..)| new.clone()),
            // An ARN without a revision names the family: its latest fix.
            None => finished
                .iter()
                .filter(|(_, (_, account, region, family))| {
                    *account == f.account && *region == f.region && *family == f.family
                })
                .map(|(_, (new, ..))| new.clone())
                .max_by_key(|arn| {
                    arn.rsplit(':')
                        .next()
                        .and_then(|r| r.parse::<u64>().ok())
                        .unwrap_or(0)
                }),
        };
        let verdict = match replaced {
            None => Err(format!(
                "{} was not replaced by a finished fix (one that was planned here but not carried out, or another revision of the family, is not it)",
                f.arn
            )),
            Some(new) => {
                let left = match checked.get(&new) {
                    Some(left) => left.clone(),
                    None => {
                        let left = ecsguard_aws::securityhub::ecs8_left(&options.live, &new).await;
                        checked.insert(new.clone(), left.clone());
                        left
                    }
                };
                match left {
                    Ok(vars) if vars.is_empty() => Ok(()),
                    Ok(vars) => Err(format!(
                        "{new}, which replaced {}, still passes {} as plain environment variables",
                        f.arn,
                        vars.join(", ")
                    )),
                    Err(e) => Err(format!("cannot check {new}: {e}")),
                }
            }
        };
        verdicts.entry(f.id.as_str()).or_default().push(verdict);
    }
    let mut done = Vec::new();
    for f in &found {
        let Some(list) = verdicts.get(f.id.as_str()) else {
            continue;
        };
        if done
            .iter()
            .any(|d: &&ecsguard_aws::securityhub::Ecs8Finding| d.id == f.id)
        {
            continue;
        }
        let why: Vec<&String> = list.iter().filter_map(|v| v.as_ref().err()).collect();
        if why.is_empty() && list.len() == f.names {
            done.push(f);
        } else if why.is_empty() {
            hub.notes.push(format!(
                "Security Hub finding {} was left open: it names task definitions that could not be read (see the errors)",
                f.id
            ));
        } else {
            for w in why {
                let note = format!("Security Hub finding {} was left open: {w}", f.id);
                if !hub.notes.contains(&note) {
                    hub.notes.push(note);
                }
            }
        }
    }
    if !done.is_empty() {
        let note = format!(
            "ecsguard moved this task definition's plain environment secrets to {} and registered a new revision that reads them through secrets[].valueFrom. Rotate the values: older revisions still hold them.",
            match options.store.kind {
                ecsguard_core::plan::StoreKind::Ssm => "SSM Parameter Store",
                ecsguard_core::plan::StoreKind::SecretsManager => "Secrets Manager",
            }
        );
        let errors = ecsguard_aws::securityhub::mark_resolved(&options.live, &done, &note).await;
        if errors.is_empty() {
            hub.notes.push(format!(
                "Security Hub: {} finding{} marked RESOLVED",
                done.len(),
                if done.len() == 1 { "" } else { "s" }
            ));
        }
        hub.errors.extend(errors);
    }
    (report, hub)
}

#[cfg(test)]
mod tests {
    use super::{origin, without_credentials};

    #[test]
    fn origins_are_read_with_gits_syntax() {
        for (config, want) in [
            (
                "[remote \"origin\"]\n\turl = https://h/r.git ; https://ci:Tok@h/r.git\n",
                Some("https://h/r.git"),
            ),
            (
                "[remote \"origin\"]\n\turl = https://ci:Tok\\\n@h/r.git\n",
                Some("https://h/r.git"),
            ),
            (
                "[Remote \"origin\"]\n\tURL = https://h/r.git\n",
                Some("https://h/r.git"),
            ),
            (
                "[remote \"origin\"] # c\n\turl = \"https://h/a#b.git\"\n",
                Some("https://h/a"),
            ),
            ("[remote \"upstream\"]\n\turl = https://h/u.git\n", None),
        ] {
            let dir = tempfile::tempdir().expect("tempdir");
            std::fs::create_dir(dir.path().join(".git")).expect("mkdir");
            std::fs::write(dir.path().join(".git/config"), config).expect("write");
            assert_eq!(origin(dir.path()).as_deref(), want, "{config}");
        }
    }

    #[test]
    fn origins_lose_every_credential_form() {
        for (url, want) in [
            (
                "https://github.com/acme/r.git",
                "https://github.com/acme/r.git",
            ),
            (
                "https://user:tok@github.com/acme/r.git",
                "https://github.com/acme/r.git",
            ),
            (
                "https://tok@github.com/acme/r.git",
                "https://github.com/acme/r.git",
            ),
            (
                "https://oauth2:Tok/abc@gitlab.com/acme/r.git",
                "https://gitlab.com/acme/r.git",
            ),
            (
                "https://user:P@ss@github.com/acme/r.git",
                "https://github.com/acme/r.git",
            ),
            (
                "https://github.com/acme/r.git?access_token=tok",
                "https://github.com/acme/r.git",
            ),
            (
                "https://github.com/acme/r.git#tok",
                "https://github.com/acme/r.git",
            ),
            ("ssh://git:pw@host:22/r.git", "ssh://host:22/r.git"),
            ("git@github.com:acme/b.git", "github.com:acme/b.git"),
            (
                "https://ci:Pw?x@github.com/acme/r.git",
                "https://github.com/acme/r.git",
            ),
            (
                "https://ci:Pw#x@github.com/acme/r.git",
                "https://github.com/acme/r.git",
            ),
            ("\"https://u:p@host/a b.git\"", "https://host/a b.git"),
        ] {
            assert_eq!(without_credentials(url), want, "{url}");
        }
    }
}
