//! `--format asff` and `scan --to-securityhub`: the report as ASFF, filed
//! under an account and region, and sent to Security Hub.

use std::path::PathBuf;

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
    /// What the scan covered: only findings of the same scope are archived.
    pub scope: String,
}

/// The report as ASFF, and where it was filed.
pub struct Prepared {
    pub findings: Vec<AsffFinding>,
    pub now: String,
    /// The region IaC findings were filed in (None for a live scan).
    pub region: Option<String>,
}

/// The scope of a scan of files: the paths as given, tidied, so that
/// `infra/` and `./infra` are one scope and a scan of `infra/` never
/// archives what a scan of `apps/` sent.
pub fn files_scope(paths: &[PathBuf]) -> String {
    let mut roots: Vec<String> = paths
        .iter()
        .map(|p| {
            let s = p.to_string_lossy().replace('\\', "/");
            let s = s.trim_start_matches("./").trim_end_matches('/');
            if s.is_empty() || s == "." {
                ".".to_owned()
            } else {
                s.to_owned()
            }
        })
        .collect();
    roots.sort();
    roots.dedup();
    let scope = format!("files:{}", roots.join(","));
    if scope.chars().count() <= 512 {
        scope
    } else {
        // Security Hub caps a ProductFields value; a long list is hashed.
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        scope.hash(&mut h);
        format!("files:#{:016x}", h.finish())
    }
}

/// Now, as Security Hub wants it (RFC 3339, UTC, milliseconds);
/// `SOURCE_DATE_EPOCH` fixes it, for reproducible output.
pub fn now() -> String {
    let t = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.trim().parse::<i64>().ok())
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
    let now = now();
    let live = report.summary.live.is_some();
    let needs = !live && (settings.to_securityhub || asff::needs_context(report));
    let (account, region) = if needs {
        file_under(settings)?
    } else {
        (None, None)
    };
    let ctx = Context {
        account,
        region: region.clone(),
        now: now.clone(),
    };
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
        (Some(account), Err(e)) => match block_on(ecsguard_aws::securityhub::configured_region(&settings.live))? {
            Some(region) => Ok((Some(account.clone()), Some(region))),
            None => Err(format!("ASFF needs the AWS region IaC findings are filed in: pass --region ({e})")),
        },
        (None, Err(e)) => Err(format!(
            "ASFF needs the AWS account IaC findings belong to: pass --account 123456789012, or run with credentials so that STS can tell ({e})"
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
    let request = ecsguard_aws::securityhub::ImportRequest {
        findings: prepared.findings.clone(),
        regions,
        scope: settings.scope.clone(),
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
    pub errors: Vec<String>,
}

/// `fix --aws --from-securityhub`: the active, failed ECS.8 findings name
/// the task definitions to fix; each region's families are fixed (planned,
/// or with `--apply` carried out), and after `--apply` the findings whose
/// task definition was fixed are marked `RESOLVED`, with a note.
pub async fn fix_from_securityhub(
    options: &ecsguard_aws::FixOptions,
    rules: &ecsguard_core::RuleConfig,
) -> (ecsguard_aws::FixReport, Resolved) {
    use std::collections::BTreeMap;

    let mut hub = Resolved::default();
    let mut report = ecsguard_aws::FixReport::default();
    let (found, errors) = ecsguard_aws::securityhub::ecs8_findings(&options.live).await;
    hub.errors.extend(errors);
    let mut by_region: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for f in &found {
        let families = by_region.entry(f.region.as_str()).or_default();
        if !families.contains(&f.family) {
            families.push(f.family.clone());
        }
    }
    hub.notes.push(format!(
        "Security Hub: {} active, failed ECS.8 finding{} name {} task definition famil{}",
        found.len(),
        if found.len() == 1 { "" } else { "s" },
        by_region.values().map(Vec::len).sum::<usize>(),
        if by_region.values().map(Vec::len).sum::<usize>() == 1 {
            "y"
        } else {
            "ies"
        }
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
    if !options.apply {
        return (report, hub);
    }
    // A finding is resolved when its own revision was the one fixed, and
    // the fix finished.
    let mut done = Vec::new();
    for f in &found {
        let fixed = report.families.iter().find(|x| {
            x.plan.region == f.region
                && x.plan.family == f.family
                && x.journal.as_ref().is_some_and(|j| j.completed)
        });
        match fixed {
            Some(x) if f.revision.is_none() || x.plan.old_arn == f.arn => done.push(f),
            Some(x) => hub.notes.push(format!(
                "Security Hub finding {} names {}, but the revision fixed was {}: the named revision still holds the values, so the finding was left open (deregister that revision, then Security Hub passes it)",
                f.id, f.arn, x.plan.old_arn
            )),
            None => hub.notes.push(format!(
                "Security Hub finding {} ({}) was left open: this run did not finish a fix of that task definition (see above)",
                f.id, f.arn
            )),
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
        let failed = errors.len();
        hub.errors.extend(errors);
        if failed == 0 {
            hub.notes.push(format!(
                "Security Hub: {} finding{} marked RESOLVED",
                done.len(),
                if done.len() == 1 { "" } else { "s" }
            ));
        }
    }
    (report, hub)
}
