//! Live fixes: move secrets from `environment` into SSM Parameter Store or
//! Secrets Manager, in an order that never loses a value:
//! 1. write each value, read it back and compare;
//! 2. let the execution role read exactly what was written;
//! 3. register a new revision, a faithful copy with only the moved variables changed;
//! 4. with `--update-services`, point the services at it;
//! 5. with `--deregister-old`, deregister the revision that held the values.
//!
//! A journal without values is written after every step; a rerun resumes from
//! it, and `rollback` undoes it.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use aws_config::SdkConfig;
use aws_sdk_ecs::types::{
    KeyValuePair, Secret, TaskDefinition as ApiTaskDefinition, TaskDefinitionField,
};
use ecsguard_core::plan::{self, FamilyPlan, RolePlan, StoreKind, StoreSettings};
use ecsguard_core::{Finding, InputError, Location, RuleConfig, SecretValue};

use crate::journal::{Journal, PolicyStep, RegisterStep, RoleStep, ServiceStep, Stored};
use crate::scan::{base_config, is_not_found, message, LiveOptions};
use crate::store::{Recheck, SecretStore, Write, PLAN_TAG};

const EXECUTION_ROLE_POLICY: &str =
    "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy";
const TRUST_POLICY: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ecs-tasks.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;

#[derive(Debug, Clone)]
pub struct FixOptions {
    pub live: LiveOptions,
    /// Only these families (all with findings when empty).
    pub families: Vec<String>,
    pub store: StoreSettings,
    pub update_services: bool,
    /// Only services in these clusters (all clusters when empty).
    pub clusters: Vec<String>,
    pub overwrite: bool,
    pub deregister_old: bool,
    pub apply: bool,
    pub journal_dir: PathBuf,
    /// Test hook: stop (as a crash would) after this many steps.
    pub stop_after: Option<usize>,
    /// Test hook: stop after RegisterTaskDefinition answered but before the
    /// journal recorded the new ARN, the one crash a journal cannot see.
    pub crash_in_register: bool,
}

/// A service running the revision being fixed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceRef {
    pub cluster: String,
    pub service: String,
}

/// One family: its plan, and what applying it did.
#[derive(Debug, Clone)]
pub struct FamilyFix {
    pub plan: FamilyPlan,
    pub services: Vec<ServiceRef>,
    /// Services running an older revision of the family (with it): they
    /// still read the values from it, and are not moved by this fix.
    pub older_services: Vec<(ServiceRef, String)>,
    /// Older revisions of the family that still hold the values.
    pub exposed_revisions: u32,
    pub journal_path: PathBuf,
    /// After `--apply`: the journal as it stands.
    pub journal: Option<Journal>,
}

#[derive(Debug, Default)]
pub struct FixReport {
    pub families: Vec<FamilyFix>,
    pub errors: Vec<InputError>,
    /// A step failed part-way (exit status 3); the journal says where.
    pub failed: bool,
    /// The test hook stopped the run.
    pub stopped: bool,
}

struct Clients {
    ecs: aws_sdk_ecs::Client,
    ssm: aws_sdk_ssm::Client,
    sm: aws_sdk_secretsmanager::Client,
    iam: aws_sdk_iam::Client,
}

impl Clients {
    fn new(config: &SdkConfig, region: &str) -> Self {
        let region = aws_config::Region::new(region.to_owned());
        Self {
            ecs: aws_sdk_ecs::Client::from_conf(
                aws_sdk_ecs::config::Builder::from(config)
                    .region(region.clone())
                    .build(),
            ),
            ssm: aws_sdk_ssm::Client::from_conf(
                aws_sdk_ssm::config::Builder::from(config)
                    .region(region.clone())
                    .build(),
            ),
            sm: aws_sdk_secretsmanager::Client::from_conf(
                aws_sdk_secretsmanager::config::Builder::from(config)
                    .region(region)
                    .build(),
            ),
            iam: aws_sdk_iam::Client::new(config),
        }
    }

    fn store(&self, kind: &StoreKind) -> SecretStore<'_> {
        match kind {
            StoreKind::Ssm => SecretStore::Ssm(&self.ssm),
            StoreKind::SecretsManager => SecretStore::SecretsManager(&self.sm),
        }
    }
}

/// Counts steps for the test hook.
struct Steps {
    done: usize,
    stop_after: Option<usize>,
}

enum StepError {
    Failed(String),
    Stopped,
}

impl From<String> for StepError {
    fn from(s: String) -> Self {
        StepError::Failed(s)
    }
}

impl Steps {
    /// Records a finished step: saves the journal, then honours the test hook.
    fn finished(&mut self, journal: &Journal, path: &Path) -> Result<(), StepError> {
        journal.save(path)?;
        self.done += 1;
        if self.stop_after == Some(self.done) {
            return Err(StepError::Stopped);
        }
        Ok(())
    }
}

/// Plans, and with `apply` carries out, the fixes for every finding in the
/// configured account and regions.
pub async fn fix(options: &FixOptions, rules: &RuleConfig) -> FixReport {
    let mut out = FixReport::default();
    let config = match base_config(&options.live).await {
        Ok(c) => c,
        Err(e) => {
            out.errors.push(InputError::live(None, None, None, e));
            return out;
        }
    };
    // Resume unfinished journals first: after a crash the latest revision may
    // already be the clean one, so a scan alone would not find the work.
    let mut targets: BTreeMap<String, (String, String)> = BTreeMap::new(); // old ARN -> (region, family)
    let mut resumable: HashMap<String, (PathBuf, Journal)> = HashMap::new(); // old ARN -> journal
    if options.apply {
        let journals = match unfinished_journals(&options.journal_dir) {
            Ok(j) => j,
            Err(errors) => {
                // A journal that cannot be read may be a fix half done: change nothing.
                out.errors.extend(
                    errors
                        .into_iter()
                        .map(|e| InputError::live(None, None, None, e)),
                );
                return out;
            }
        };
        for (path, journal) in journals {
            let family_wanted =
                options.families.is_empty() || options.families.contains(&journal.family);
            let region_wanted =
                options.live.regions.is_empty() || options.live.regions.contains(&journal.region);
            if family_wanted && region_wanted {
                // A resume follows the journal's plan: other flags would mix two plans
                // (a grant on `/a/…` while the revision reads `/b/…`).
                let wanted = (
                    store_word(&options.store.kind),
                    options.store.prefix.trim_matches('/'),
                    options.store.kms_key_id.as_deref(),
                );
                // A journal from before settings were recorded has no prefix: not compared.
                let recorded = (
                    journal.store.as_str(),
                    if journal.prefix.is_empty() {
                        wanted.1
                    } else {
                        journal.prefix.trim_matches('/')
                    },
                    journal.kms_key_id.as_deref(),
                );
                if wanted != recorded {
                    out.errors.push(InputError::live(
                        None,
                        Some(journal.region.clone()),
                        Some(journal.old_arn.clone()),
                        format!(
                            "journal {} was started with --store {} --prefix /{}{}; rerun with the same flags to finish it, or roll it back",
                            path.display(),
                            recorded.0,
                            recorded.1,
                            recorded.2.map(|k| format!(" --kms-key-id {k}")).unwrap_or_default()
                        ),
                    ));
                    return out;
                }
                targets.insert(
                    journal.old_arn.clone(),
                    (journal.region.clone(), journal.family.clone()),
                );
                resumable
                    .entry(journal.old_arn.clone())
                    .or_insert((path, journal));
            }
        }
    }
    let scan_options = LiveOptions {
        all_revisions: false,
        org_role_name: None,
        progress: false,
        ..options.live.clone()
    };
    let report = crate::scan::scan(&scan_options, rules).await;
    out.errors.extend(report.errors);
    // A family resumed in one region says nothing about the same family in
    // another: resumed pairs are (region, family).
    let resumed: Vec<(String, String)> = targets.values().cloned().collect();
    for f in &report.findings {
        let (Location::Live { arn, region, .. }, Some(family)) = (&f.location, &f.family) else {
            continue;
        };
        if (!options.families.is_empty() && !options.families.contains(family))
            || resumed.contains(&(region.clone(), family.clone()))
        {
            continue;
        }
        targets.insert(arn.clone(), (region.clone(), family.clone()));
    }

    for (old_arn, (region, family)) in targets {
        let clients = Clients::new(&config, &region);
        let existing = resumable.remove(&old_arn);
        match fix_family(
            options, rules, &clients, &old_arn, &region, &family, existing,
        )
        .await
        {
            Ok(None) => {}
            Ok(Some(fix)) => {
                let failed = fix.1;
                out.families.push(fix.0);
                match failed {
                    Some(StepError::Stopped) => {
                        out.stopped = true;
                        return out;
                    }
                    Some(StepError::Failed(e)) => {
                        out.failed = true;
                        out.errors
                            .push(InputError::live(None, Some(region), Some(old_arn), e));
                    }
                    None => {}
                }
            }
            // Nothing was changed yet (a describe, a plan, a setting refused):
            // an input error, exit 2, not a fix that failed part-way.
            Err(e) => {
                out.errors
                    .push(InputError::live(None, Some(region), Some(old_arn), e));
            }
        }
    }
    out
}

fn store_word(kind: &StoreKind) -> &'static str {
    match kind {
        StoreKind::Ssm => "ssm",
        StoreKind::SecretsManager => "secretsmanager",
    }
}

/// Journals of fixes that neither finished nor were rolled back (nor had a
/// rollback begin), with their paths. Any journal that cannot be read is an
/// error: it may be a fix half done.
fn unfinished_journals(dir: &Path) -> Result<Vec<(PathBuf, Journal)>, Vec<String>> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for path in entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
    {
        match Journal::load(&path) {
            Ok(j) if !j.completed && !j.rolled_back && !j.rollback_started => out.push((path, j)),
            Ok(_) => {}
            Err(e) => errors.push(e),
        }
    }
    if !errors.is_empty() {
        errors.sort();
        return Err(errors);
    }
    out.sort_by(|a, b| a.1.old_arn.cmp(&b.1.old_arn));
    Ok(out)
}

async fn describe(
    ecs: &aws_sdk_ecs::Client,
    arn: &str,
) -> Result<(ApiTaskDefinition, Vec<aws_sdk_ecs::types::Tag>), String> {
    let out = ecs
        .describe_task_definition()
        .task_definition(arn)
        .include(TaskDefinitionField::Tags)
        .send()
        .await
        .map_err(|e| message(&format!("cannot describe {arn}"), &e))?;
    let tags = out.tags().to_vec();
    let td = out
        .task_definition
        .ok_or_else(|| format!("{arn} has no task definition"))?;
    Ok((td, tags))
}

/// Plans one revision and, with `apply`, carries the plan out.
async fn fix_family(
    options: &FixOptions,
    rules: &RuleConfig,
    clients: &Clients,
    old_arn: &str,
    region: &str,
    family: &str,
    existing: Option<(PathBuf, Journal)>,
) -> Result<Option<(FamilyFix, Option<StepError>)>, String> {
    let (old, tags) = describe(&clients.ecs, old_arn).await?;
    let account = crate::convert::account_of(old_arn)
        .unwrap_or_default()
        .to_owned();
    let model = crate::convert::task_definition(&old, &account, region);
    let findings: Vec<Finding> = ecsguard_core::check(&model, rules);
    // An empty value (ECS.8 flags `AWS_ACCESS_KEY_ID=""` by name) has nothing
    // to move; a variable listed twice is empty only when every entry is.
    let empty = |f: &&Finding| {
        model.containers.iter().any(|c| {
            c.name == f.container
                && c.environment.iter().filter(|v| v.name == f.variable).all(|v| {
                    matches!(&v.value, ecsguard_core::EnvValue::Literal(s) if s.expose().is_empty())
                })
        })
    };
    let refs: Vec<&Finding> = findings.iter().filter(|f| !empty(f)).collect();
    if refs.is_empty() {
        return Ok(None);
    }
    let plan = plan::plan_family(
        old_arn,
        family,
        old.execution_role_arn(),
        &refs,
        &options.store,
    )
    .map_err(|e| e.0)?;
    // A variable that already has a `secrets` entry of the same name: the fix
    // would replace that reference. Said, and done only with --overwrite.
    if !options.overwrite {
        for m in &plan.moves {
            let existing = old
                .container_definitions()
                .iter()
                .filter(|c| c.name() == Some(m.container.as_str()))
                .flat_map(|c| c.secrets())
                .find(|s| s.name() == m.variable);
            if let Some(s) = existing {
                return Err(format!(
                    "container {} has both an environment variable and a secrets entry named {} (valueFrom {}); the fix would replace that reference: pass --overwrite to do so",
                    m.container,
                    m.variable,
                    s.value_from()
                ));
            }
        }
    }
    // Services of the family: those on this revision move; those on an older
    // one still read the values from it, and are listed.
    let family_prefix = old_arn
        .rsplit_once(':')
        .map_or(old_arn, |(head, _)| head)
        .to_owned()
        + ":";
    let of_family = services_running(&clients.ecs, &options.clusters, |td| {
        td.starts_with(&family_prefix)
    })
    .await?;
    let (services, older_services): (Vec<_>, Vec<_>) =
        of_family.into_iter().partition(|(_, td)| td == old_arn);
    let services: Vec<ServiceRef> = services.into_iter().map(|(s, _)| s).collect();
    let exposed_revisions = u32::try_from(old.revision()).unwrap_or(0);
    // Resume the unfinished journal of this revision, or start a new one.
    let new_id = new_plan_id(old_arn);
    let (journal_path, existing) = match existing {
        Some((path, journal)) => (path, Some(journal)),
        None => (
            Journal::path(&options.journal_dir, &account, region, family, &new_id),
            None,
        ),
    };
    // One policy per plan: a later fix of the same revision (after a
    // rollback, or run alongside) writes its own, and a rollback deletes only
    // the one its own plan wrote.
    let mut plan = plan;
    let plan_id = existing
        .as_ref()
        .map_or(new_id.as_str(), |j| j.plan_id.as_str());
    plan.policy_name = match existing.as_ref().and_then(|j| j.policy.as_ref()) {
        Some(p) => p.name.clone(),
        None => plan::unique_name(
            &format!(
                "{}-{}",
                plan.policy_name,
                plan_id.get(..8).unwrap_or(plan_id)
            ),
            128,
        ),
    };
    let mut fix = FamilyFix {
        plan,
        services,
        older_services,
        exposed_revisions,
        journal_path,
        journal: None,
    };
    if !options.apply {
        return Ok(Some((fix, None)));
    }
    // The values, read from the old revision (which keeps them until deregistered).
    let mut values: HashMap<(String, String), SecretValue> = HashMap::new();
    for var in model
        .containers
        .iter()
        .flat_map(|c| c.environment.iter().map(move |v| (c, v)))
    {
        let (container, v) = var;
        // Listed twice: ECS keeps the last; an empty entry never hides a value.
        if let ecsguard_core::EnvValue::Literal(value) = &v.value {
            let key = (container.name.clone().unwrap_or_default(), v.name.clone());
            if !value.expose().is_empty() || !values.contains_key(&key) {
                values.insert(key, value.clone());
            }
        }
    }
    let mut journal = match existing {
        Some(j) => j,
        None => Journal {
            version: crate::journal::JOURNAL_VERSION,
            plan_id: new_id,
            account: account.clone(),
            region: region.to_owned(),
            family: family.to_owned(),
            old_arn: old_arn.to_owned(),
            store: store_word(&options.store.kind).into(),
            prefix: options.store.prefix.clone(),
            kms_key_id: options.store.kms_key_id.clone(),
            planned: fix
                .plan
                .store_names()
                .into_iter()
                .map(str::to_owned)
                .collect(),
            planned_policy: Some(fix.plan.policy_name.clone()),
            planned_role: match &fix.plan.role {
                RolePlan::Create { name } => Some(name.clone()),
                RolePlan::Existing { .. } => None,
            },
            ..Journal::default()
        },
    };
    // One fix of a family at a time (the lock goes with the process, even
    // when it is killed).
    std::fs::create_dir_all(&options.journal_dir)
        .map_err(|e| format!("cannot create {}: {e}", options.journal_dir.display()))?;
    let lock_path = Journal::lock_path(&options.journal_dir, &account, region, family);
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| format!("cannot open lock {}: {e}", lock_path.display()))?;
    if lock.try_lock().is_err() {
        return Err(format!(
            "another ecsguard fix of {family} in {region} is running (it holds {}); wait for it, then run again",
            lock_path.display()
        ));
    }
    // A fix of this revision that another run started meanwhile (it planned
    // before this one took the lock) is that run's to finish or roll back.
    if let Some(other) = other_plan_of(&options.journal_dir, old_arn, &journal.plan_id) {
        return Err(format!(
            "{old_arn} already has a fix in progress or done (journal {}); let it finish, or roll it back, before fixing again",
            other.display()
        ));
    }
    journal.save(&fix.journal_path)?;
    let mut steps = Steps {
        done: 0,
        stop_after: options.stop_after,
    };
    let result = apply(
        options,
        clients,
        &fix,
        &old,
        &tags,
        &values,
        &mut journal,
        &mut steps,
    )
    .await;
    drop(lock);
    fix.journal = Some(journal);
    Ok(Some((fix, result.err())))
}

/// Another plan's journal for the same old revision, not rolled back.
fn other_plan_of(dir: &Path, old_arn: &str, plan_id: &str) -> Option<PathBuf> {
    std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .find(|p| {
            Journal::load(p).is_ok_and(|j| {
                j.old_arn == old_arn
                    && j.plan_id != plan_id
                    && !j.rolled_back
                    && !j.rollback_started
            })
        })
}

/// A plan id from the old ARN and the time: unique per fix, and not secret.
pub(crate) fn new_plan_id(old_arn: &str) -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    old_arn.hash(&mut h);
    std::time::SystemTime::now().hash(&mut h);
    std::process::id().hash(&mut h);
    format!("{:016x}", h.finish())
}

#[allow(clippy::too_many_arguments)]
async fn apply(
    options: &FixOptions,
    clients: &Clients,
    fix: &FamilyFix,
    old: &ApiTaskDefinition,
    tags: &[aws_sdk_ecs::types::Tag],
    values: &HashMap<(String, String), SecretValue>,
    journal: &mut Journal,
    steps: &mut Steps,
) -> Result<(), StepError> {
    let plan = &fix.plan;
    let path = &fix.journal_path;

    // 1. Values: written, read back, compared. On a resume, what the journal
    // says was stored is checked again: still there, with the same value.
    let store = clients.store(&plan.store.kind);
    for name in plan.store_names() {
        let entries = entries_for(plan, name, values)?;
        if journal.stored(name).is_some() {
            match store.recheck(name, &entries).await? {
                Recheck::Same => continue,
                Recheck::Gone => journal.stored.retain(|s| s.name != name),
            }
        }
        let stored = store
            .write(&Write {
                name,
                entries: &entries,
                source: &plan.old_arn,
                plan_id: &journal.plan_id,
                kms_key_id: plan.store.kms_key_id.clone(),
                overwrite: options.overwrite,
                parameter_arn: plan.parameter_arn(name),
            })
            .await?;
        journal.stored.push(stored);
        steps.finished(journal, path)?;
    }
    let stored_by_name: HashMap<String, String> = journal
        .stored
        .iter()
        .map(|s| (s.name.clone(), s.arn.clone()))
        .collect();
    // Every name was stored above; an ARN missing here is a broken journal,
    // never an empty string sent on to IAM or ECS.
    let arn_of = |name: &str| -> Result<String, String> {
        stored_by_name
            .get(name)
            .filter(|a| !a.is_empty())
            .cloned()
            .ok_or_else(|| format!("the journal has no ARN for {name}; roll it back and fix again"))
    };
    let stored_arns: Vec<String> = plan
        .store_names()
        .into_iter()
        .map(arn_of)
        .collect::<Result<_, _>>()?;

    // 2. IAM: the role, then exactly the permission it needs.
    if journal.role.is_none() {
        let role = match &plan.role {
            RolePlan::Existing { arn, name } => RoleStep {
                name: name.clone(),
                arn: arn.clone(),
                created: false,
                deleted: false,
            },
            RolePlan::Create { name } => {
                create_role(clients, name, &plan.old_arn, &journal.plan_id).await?
            }
        };
        journal.role = Some(role);
        steps.finished(journal, path)?;
    }
    let role = journal.role.clone().ok_or_else(|| "no role".to_owned())?;
    if journal.policy.is_none() {
        clients
            .iam
            .put_role_policy()
            .role_name(&role.name)
            .policy_name(&plan.policy_name)
            .policy_document(plan.policy_document(&stored_arns))
            .send()
            .await
            .map_err(|e| {
                message(
                    &format!(
                        "cannot put policy {} on role {}",
                        plan.policy_name, role.name
                    ),
                    &e,
                )
            })?;
        journal.policy = Some(PolicyStep {
            role: role.name.clone(),
            name: plan.policy_name.clone(),
            deleted: false,
        });
        steps.finished(journal, path)?;
    }

    // 3. The new revision: registered once, found again after a crash by its plan tag.
    if journal.new_arn().is_none() {
        let found = match &journal.register {
            Some(RegisterStep { arn: None, started }) => {
                find_registered(&clients.ecs, &plan.family, &journal.plan_id, *started).await?
            }
            _ => None,
        };
        let arn = match found {
            Some(arn) => arn,
            None => {
                let started = journal
                    .register
                    .as_ref()
                    .and_then(|r| r.started)
                    .unwrap_or_else(now_secs);
                journal.register = Some(RegisterStep {
                    arn: None,
                    started: Some(started),
                });
                journal.save(path)?;
                let moved: Vec<(String, String, String)> = plan
                    .moves
                    .iter()
                    .map(|m| {
                        Ok((
                            m.container.clone(),
                            m.variable.clone(),
                            plan.value_from(m, &arn_of(&m.store_name)?),
                        ))
                    })
                    .collect::<Result<_, String>>()?;
                let mut new_tags = tags.to_vec();
                new_tags.retain(|t| t.key() != Some(PLAN_TAG));
                new_tags.push(
                    aws_sdk_ecs::types::Tag::builder()
                        .key(PLAN_TAG)
                        .value(&journal.plan_id)
                        .build(),
                );
                let request =
                    || register_copy(&clients.ecs, old, &moved, Some(&role.arn), new_tags.clone());
                let arn = register_once(
                    &clients.ecs,
                    request,
                    (&plan.family, &journal.plan_id, Some(started)),
                    options.live.max_attempts,
                )
                .await?;
                if options.crash_in_register {
                    return Err(StepError::Stopped);
                }
                arn
            }
        };
        let started = journal.register.as_ref().and_then(|r| r.started);
        journal.register = Some(RegisterStep {
            arn: Some(arn),
            started,
        });
        steps.finished(journal, path)?;
    }
    let new_arn = journal
        .new_arn()
        .filter(|a| !a.is_empty())
        .ok_or_else(|| "the new revision has no ARN".to_owned())?
        .to_owned();

    // 4. Services. Each update is journaled as intended before the call, so
    // that an update whose answer was lost is still known, and rolled back.
    if options.update_services {
        for s in &fix.services {
            let at = match journal
                .services
                .iter()
                .position(|j| j.cluster == s.cluster && j.service == s.service)
            {
                Some(i) if journal.services[i].updated => continue,
                Some(i) => i,
                None => {
                    journal.services.push(ServiceStep {
                        cluster: s.cluster.clone(),
                        service: s.service.clone(),
                        previous: plan.old_arn.clone(),
                        updated: false,
                    });
                    journal.save(path)?;
                    journal.services.len() - 1
                }
            };
            point_service(&clients.ecs, &s.cluster, &s.service, &new_arn).await?;
            journal.services[at].updated = true;
            steps.finished(journal, path)?;
        }
        // Updates an interrupted run began: done if the service runs the new
        // revision now (it is then no longer among those running the old).
        for i in 0..journal.services.len() {
            let step = &journal.services[i];
            if step.updated {
                continue;
            }
            let current =
                current_task_definition(&clients.ecs, &step.cluster, &step.service).await?;
            if current.as_deref() == Some(new_arn.as_str()) {
                journal.services[i].updated = true;
                journal.save(path)?;
            }
        }
    }

    // 5. The old revision, once nothing runs it.
    if options.deregister_old && !journal.deregistered.contains(&plan.old_arn) {
        // Every cluster, whatever `--cluster` limited the update to.
        let still_used = find_services(&clients.ecs, &[], &plan.old_arn).await?;
        if !still_used.is_empty() {
            return Err(StepError::Failed(format!(
                "not deregistering {}: {} service(s) still use it (add --update-services)",
                plan.old_arn,
                still_used.len()
            )));
        }
        clients
            .ecs
            .deregister_task_definition()
            .task_definition(&plan.old_arn)
            .send()
            .await
            .map_err(|e| message(&format!("cannot deregister {}", plan.old_arn), &e))?;
        journal.deregistered.push(plan.old_arn.clone());
        steps.finished(journal, path)?;
    }

    journal.completed = true;
    journal.save(path)?;
    Ok(())
}

/// What a store name holds: for SSM one value, for Secrets Manager each
/// move's JSON key (the variable name unless the plan says otherwise).
fn entries_for(
    plan: &FamilyPlan,
    name: &str,
    values: &HashMap<(String, String), SecretValue>,
) -> Result<Vec<(String, SecretValue)>, String> {
    let entries = plan
        .moves
        .iter()
        .filter(|m| m.store_name == name)
        .map(|m| {
            let value = values
                .get(&(m.container.clone(), m.variable.clone()))
                .ok_or_else(|| {
                    format!(
                        "{} in container {} has no literal value to move",
                        m.variable, m.container
                    )
                })?;
            Ok((
                m.json_key.clone().unwrap_or_else(|| m.variable.clone()),
                value.clone(),
            ))
        })
        .collect::<Result<Vec<_>, String>>()?;
    if entries.is_empty() {
        return Err(format!("nothing to store in {name}"));
    }
    Ok(entries)
}

async fn create_role(
    clients: &Clients,
    name: &str,
    source: &str,
    plan_id: &str,
) -> Result<RoleStep, String> {
    // Tagged in the creating call, so a run killed before its journal
    // recorded the role still knows it as its own.
    let tag = aws_sdk_iam::types::Tag::builder()
        .key(PLAN_TAG)
        .value(plan_id)
        .build()
        .map_err(|e| format!("cannot build a tag: {e}"))?;
    let (arn, created) = match clients
        .iam
        .create_role()
        .role_name(name)
        .assume_role_policy_document(TRUST_POLICY)
        .description(format!(
            "ECS task execution role created by ecsguard for {source}"
        ))
        .tags(tag)
        .send()
        .await
    {
        Ok(out) => (
            out.role()
                .map(|r| r.arn().to_owned())
                .filter(|a| !a.is_empty())
                .ok_or_else(|| format!("CreateRole returned no ARN for {name}"))?,
            true,
        ),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_entity_already_exists_exception()) =>
        {
            let out = clients
                .iam
                .get_role()
                .role_name(name)
                .send()
                .await
                .map_err(|e| message(&format!("cannot read role {name}"), &e))?;
            let role = out.role();
            // Ours only when this plan created it; any other role is never
            // deleted by this fix's rollback.
            let ours = role.is_some_and(|r| {
                r.tags()
                    .iter()
                    .any(|t| t.key() == PLAN_TAG && t.value() == plan_id)
            });
            let arn = role
                .map(|r| r.arn().to_owned())
                .filter(|a| !a.is_empty())
                .ok_or_else(|| format!("GetRole returned no ARN for {name}"))?;
            (arn, ours)
        }
        Err(e) => return Err(message(&format!("cannot create role {name}"), &e)),
    };
    clients
        .iam
        .attach_role_policy()
        .role_name(name)
        .policy_arn(EXECUTION_ROLE_POLICY)
        .send()
        .await
        .map_err(|e| {
            message(
                &format!("cannot attach AmazonECSTaskExecutionRolePolicy to {name}"),
                &e,
            )
        })?;
    Ok(RoleStep {
        name: name.to_owned(),
        arn,
        created,
        deleted: false,
    })
}

/// `RegisterTaskDefinition` is not idempotent: a retry after an answer that
/// was lost (a reset, a 500 or a timeout after the call took effect)
/// registers a second revision. So the SDK never retries it; after a failure
/// the revision is looked for by its plan tag, and registered again only when
/// it is not there.
async fn register_once<F, Fut>(
    ecs: &aws_sdk_ecs::Client,
    request: F,
    (family, plan_id, started): (&str, &str, Option<i64>),
    attempts: u32,
) -> Result<String, String>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<String, String>>,
{
    let mut last = String::new();
    for attempt in 0..attempts.max(1) {
        if attempt > 0 {
            let wait = std::time::Duration::from_millis(200u64 << attempt.min(5));
            tokio::time::sleep(wait).await;
            if let Some(arn) = find_registered(ecs, family, plan_id, started).await? {
                return Ok(arn);
            }
        }
        match request().await {
            Ok(arn) => return Ok(arn),
            Err(e) => last = e,
        }
    }
    match find_registered(ecs, family, plan_id, started).await? {
        Some(arn) => Ok(arn),
        None => Err(last),
    }
}

fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Registers a copy of `old` with `moved` (container, variable, valueFrom)
/// taken out of `environment` and added to `secrets`. Everything else that
/// RegisterTaskDefinition accepts is copied as it is. One attempt only: see
/// [`register_once`].
async fn register_copy(
    ecs: &aws_sdk_ecs::Client,
    old: &ApiTaskDefinition,
    moved: &[(String, String, String)],
    execution_role_arn: Option<&str>,
    tags: Vec<aws_sdk_ecs::types::Tag>,
) -> Result<String, String> {
    let containers = old
        .container_definitions()
        .iter()
        .map(|c| {
            let name = c.name().unwrap_or_default();
            let mine: Vec<&(String, String, String)> =
                moved.iter().filter(|(cn, _, _)| cn == name).collect();
            if mine.is_empty() {
                return c.clone();
            }
            let mut c = c.clone();
            let environment: Vec<KeyValuePair> = c
                .environment()
                .iter()
                .filter(|kv| !mine.iter().any(|(_, v, _)| Some(v.as_str()) == kv.name()))
                .cloned()
                .collect();
            let mut secrets: Vec<Secret> = c.secrets().to_vec();
            for (_, variable, value_from) in &mine {
                secrets.retain(|s| s.name() != variable.as_str());
                if let Ok(s) = Secret::builder()
                    .name(variable)
                    .value_from(value_from)
                    .build()
                {
                    secrets.push(s);
                }
            }
            c.environment = Some(environment);
            c.secrets = Some(secrets);
            c
        })
        .collect();
    let out = copy_request(ecs, old, containers, execution_role_arn, tags)
        .customize()
        .config_override(
            aws_sdk_ecs::config::Builder::default()
                .retry_config(aws_smithy_types::retry::RetryConfig::disabled()),
        )
        .send()
        .await
        .map_err(|e| message("cannot register the new revision", &e))?;
    out.task_definition()
        .and_then(|t| t.task_definition_arn())
        .map(str::to_owned)
        .ok_or_else(|| "RegisterTaskDefinition returned no ARN".to_owned())
}

/// The `RegisterTaskDefinition` request for a faithful copy of `old`: every
/// field of the request is taken from the old revision (a test checks that
/// none is left unset, so a field the API adds later is not silently lost).
#[allow(deprecated)] // inference accelerators: retired by AWS, still copied
fn copy_request(
    ecs: &aws_sdk_ecs::Client,
    old: &ApiTaskDefinition,
    containers: Vec<aws_sdk_ecs::types::ContainerDefinition>,
    execution_role_arn: Option<&str>,
    tags: Vec<aws_sdk_ecs::types::Tag>,
) -> aws_sdk_ecs::operation::register_task_definition::builders::RegisterTaskDefinitionFluentBuilder
{
    ecs.register_task_definition()
        .set_family(old.family.clone())
        .set_task_role_arn(old.task_role_arn.clone())
        .set_execution_role_arn(
            execution_role_arn
                .map(str::to_owned)
                .or_else(|| old.execution_role_arn.clone()),
        )
        .set_network_mode(old.network_mode.clone())
        .set_container_definitions(Some(containers))
        .set_volumes(old.volumes.clone())
        .set_placement_constraints(old.placement_constraints.clone())
        .set_requires_compatibilities(old.requires_compatibilities.clone())
        .set_cpu(old.cpu.clone())
        .set_memory(old.memory.clone())
        .set_tags(if tags.is_empty() { None } else { Some(tags) })
        .set_pid_mode(old.pid_mode.clone())
        .set_ipc_mode(old.ipc_mode.clone())
        .set_proxy_configuration(old.proxy_configuration.clone())
        .set_ephemeral_storage(old.ephemeral_storage.clone())
        .set_runtime_platform(old.runtime_platform.clone())
        // Retired by AWS (Elastic Inference), but a revision that has them
        // keeps them: if AWS refuses, that is reported, never silently dropped.
        .set_inference_accelerators(old.inference_accelerators.clone())
        .set_enable_fault_injection(old.enable_fault_injection)
}

/// The task definition a service runs now (`None` when the service is gone).
async fn current_task_definition(
    ecs: &aws_sdk_ecs::Client,
    cluster: &str,
    service: &str,
) -> Result<Option<String>, String> {
    let out = ecs
        .describe_services()
        .cluster(cluster)
        .services(service)
        .send()
        .await
        .map_err(|e| {
            message(
                &format!("cannot describe service {service} in {cluster}"),
                &e,
            )
        })?;
    // A deleted service is still described for a while, as INACTIVE.
    Ok(out
        .services()
        .first()
        .filter(|s| s.status() != Some("INACTIVE"))
        .and_then(|s| s.task_definition())
        .map(str::to_owned))
}

/// A revision registered by an interrupted run, found by its plan tag.
async fn find_registered(
    ecs: &aws_sdk_ecs::Client,
    family: &str,
    plan_id: &str,
    started: Option<i64>,
) -> Result<Option<String>, String> {
    Ok(all_registered(ecs, family, plan_id, started)
        .await?
        .into_iter()
        .next())
}

/// The ACTIVE revisions of the family, among its latest, that carry the
/// plan tag and were registered while the fix was registering (a copy of the
/// fix's revision, made later by hand or by a pipeline, carries the same
/// tags but is not the fix's), newest first.
async fn all_registered(
    ecs: &aws_sdk_ecs::Client,
    family: &str,
    plan_id: &str,
    started: Option<i64>,
) -> Result<Vec<String>, String> {
    const BEFORE: i64 = 120;
    const AFTER: i64 = 900;
    let out = ecs
        .list_task_definitions()
        .family_prefix(family)
        .sort(aws_sdk_ecs::types::SortOrder::Desc)
        .send()
        .await
        .map_err(|e| message(&format!("cannot list the revisions of {family}"), &e))?;
    let mut arns: Vec<&String> = out.task_definition_arns().iter().collect();
    arns.sort_by_key(|a| {
        std::cmp::Reverse(
            a.rsplit(':')
                .next()
                .and_then(|r| r.parse::<u32>().ok())
                .unwrap_or(0),
        )
    });
    let mut found = Vec::new();
    for arn in arns.into_iter().take(10) {
        let (td, tags) = describe(ecs, arn).await?;
        let tagged = tags
            .iter()
            .any(|t| t.key() == Some(PLAN_TAG) && t.value() == Some(plan_id));
        let in_time = match (started, td.registered_at()) {
            (Some(s), Some(at)) => (s - BEFORE..=s + AFTER).contains(&at.secs()),
            _ => true,
        };
        if tagged && in_time && td.family() == Some(family) {
            found.push(arn.clone());
        }
    }
    Ok(found)
}

/// Services (in `clusters`, or every cluster) whose task definition is `arn`.
pub async fn find_services(
    ecs: &aws_sdk_ecs::Client,
    clusters: &[String],
    arn: &str,
) -> Result<Vec<ServiceRef>, String> {
    Ok(services_running(ecs, clusters, |td| td == arn)
        .await?
        .into_iter()
        .map(|(s, _)| s)
        .collect())
}

/// The services whose task definition `wanted` accepts, with that task definition.
async fn services_running(
    ecs: &aws_sdk_ecs::Client,
    clusters: &[String],
    wanted: impl Fn(&str) -> bool,
) -> Result<Vec<(ServiceRef, String)>, String> {
    let clusters: Vec<String> = if clusters.is_empty() {
        let mut all = Vec::new();
        let mut pages = ecs.list_clusters().into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| message("cannot list clusters", &e))?;
            all.extend(page.cluster_arns().iter().cloned());
        }
        all
    } else {
        clusters.to_vec()
    };
    let mut found = Vec::new();
    for cluster in clusters {
        let mut names = Vec::new();
        let mut pages = ecs
            .list_services()
            .cluster(&cluster)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page =
                page.map_err(|e| message(&format!("cannot list services in {cluster}"), &e))?;
            names.extend(page.service_arns().iter().cloned());
        }
        for batch in names.chunks(10) {
            let out = ecs
                .describe_services()
                .cluster(&cluster)
                .set_services(Some(batch.to_vec()))
                .send()
                .await
                .map_err(|e| message(&format!("cannot describe services in {cluster}"), &e))?;
            for s in out.services() {
                if let Some(td) = s.task_definition().filter(|td| wanted(td)) {
                    found.push((
                        ServiceRef {
                            cluster: cluster.clone(),
                            service: s.service_name().unwrap_or_default().to_owned(),
                        },
                        td.to_owned(),
                    ));
                }
            }
        }
    }
    found.sort_by(|(a, _), (b, _)| (&a.cluster, &a.service).cmp(&(&b.cluster, &b.service)));
    Ok(found)
}

/// What the task definitions that may still run read: every ACTIVE revision
/// in the region, and every revision a service runs (ACTIVE or not).
struct Readers {
    revisions: Vec<Reader>,
}

/// One revision that may run: what it runs as and what it reads.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct Reader {
    arn: String,
    execution_role: Option<String>,
    task_role: Option<String>,
    value_froms: Vec<String>,
}

impl Readers {
    async fn load(ecs: &aws_sdk_ecs::Client) -> Result<Self, String> {
        let mut arns: Vec<String> = Vec::new();
        let mut pages = ecs
            .list_task_definitions()
            .status(aws_sdk_ecs::types::TaskDefinitionStatus::Active)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| message("cannot list task definitions", &e))?;
            arns.extend(page.task_definition_arns().iter().cloned());
        }
        arns.extend(
            services_running(ecs, &[], |_| true)
                .await?
                .into_iter()
                .map(|(_, td)| td),
        );
        arns.sort();
        arns.dedup();
        use futures::StreamExt as _;
        let described: Vec<Result<ApiTaskDefinition, String>> =
            futures::stream::iter(arns.iter().map(|arn| async move {
                let out = ecs
                    .describe_task_definition()
                    .task_definition(arn)
                    .send()
                    .await
                    .map_err(|e| message(&format!("cannot describe {arn}"), &e))?;
                out.task_definition
                    .ok_or_else(|| format!("{arn} has no task definition"))
            }))
            .buffer_unordered(8)
            .collect()
            .await;
        let mut revisions = Vec::new();
        for td in described {
            let td = td?;
            let value_froms = td
                .container_definitions()
                .iter()
                .flat_map(|c| c.secrets().iter().map(|s| s.value_from().to_owned()))
                .collect();
            revisions.push(Reader {
                arn: td.task_definition_arn().unwrap_or_default().to_owned(),
                execution_role: td.execution_role_arn().map(str::to_owned),
                task_role: td.task_role_arn().map(str::to_owned),
                value_froms,
            });
        }
        revisions.sort();
        Ok(Self { revisions })
    }

    /// Revisions that read `stored` (by ARN, partial ARN or name).
    fn of_value(&self, stored: &Stored) -> Vec<&str> {
        self.revisions
            .iter()
            .filter(|r| r.value_froms.iter().any(|f| reads(f, stored)))
            .map(|r| r.arn.as_str())
            .collect()
    }

    /// Revisions that run as `role` (execution or task role).
    fn of_role(&self, role: &str) -> Vec<&str> {
        self.revisions
            .iter()
            .filter(|r| {
                r.execution_role.as_deref() == Some(role) || r.task_role.as_deref() == Some(role)
            })
            .map(|r| r.arn.as_str())
            .collect()
    }
}

/// Whether a `valueFrom` reads what was stored: its ARN (with a JSON key
/// after it, or without Secrets Manager's random suffix), or its name.
fn reads(value_from: &str, stored: &Stored) -> bool {
    let name = stored.name.trim_start_matches('/');
    let arn = stored.arn.as_str();
    // `arn:…:secret:NAME-AbCdEf`: the partial ARN leaves out `-AbCdEf`.
    let partial = arn
        .rsplit_once('-')
        .filter(|(_, suffix)| suffix.len() == 6 && arn.contains(":secret:"))
        .map(|(head, _)| head);
    let at_or_key = |prefix: &str| {
        value_from == prefix
            || value_from
                .strip_prefix(prefix)
                .is_some_and(|rest| rest.starts_with(':'))
    };
    at_or_key(arn)
        || partial.is_some_and(at_or_key)
        || value_from.trim_start_matches('/') == name
        || value_from.ends_with(&format!(":parameter/{name}"))
}

fn listed(arns: &[&str]) -> String {
    const SHOWN: usize = 3;
    let mut s = arns
        .iter()
        .take(SHOWN)
        .copied()
        .collect::<Vec<_>>()
        .join(", ");
    if arns.len() > SHOWN {
        s.push_str(&format!(" and {} more", arns.len() - SHOWN));
    }
    s
}

/// `rollback --delete-secrets`: deletes what the fix created, each step
/// journaled so a rerun carries on where an interrupted one stopped. What a
/// revision that may still run reads, or runs as, is never deleted: a
/// deployment that copied the fix's revision since (a new image, say) still
/// needs the values, the grant and the role.
async fn delete_created(
    clients: &Clients,
    journal: &mut Journal,
    journal_path: &Path,
    out: &mut RollbackReport,
) -> Result<(), String> {
    // The fix's own revisions were deregistered above, so they are not among
    // the ACTIVE ones; a service that still runs one is a reader like any other.
    let readers = Readers::load(&clients.ecs).await?;
    let kind = if journal.store == "ssm" {
        StoreKind::Ssm
    } else {
        StoreKind::SecretsManager
    };
    let store = clients.store(&kind);
    // What a killed run made but never journaled: under a planned name, and
    // tagged with this plan's id.
    for name in journal.planned.clone() {
        if journal.stored.iter().any(|s| s.name == name) {
            continue;
        }
        if store.plan_id(&name).await.ok().flatten().as_deref() == Some(journal.plan_id.as_str()) {
            let arn = match kind {
                StoreKind::Ssm => format!(
                    "arn:aws:ssm:{}:{}:parameter/{}",
                    journal.region,
                    journal.account,
                    name.trim_start_matches('/')
                ),
                StoreKind::SecretsManager => name.clone(),
            };
            journal.stored.push(Stored {
                name,
                arn,
                created: true,
                deleted: false,
            });
            journal.save(journal_path)?;
        }
    }
    if let (None, Some(name)) = (&journal.role, journal.planned_role.clone()) {
        if let Ok(out) = clients.iam.get_role().role_name(&name).send().await {
            if let Some(r) = out.role().filter(|r| {
                r.tags()
                    .iter()
                    .any(|t| t.key() == PLAN_TAG && t.value() == journal.plan_id)
            }) {
                journal.role = Some(RoleStep {
                    name: name.clone(),
                    arn: r.arn().to_owned(),
                    created: true,
                    deleted: false,
                });
                journal.save(journal_path)?;
            }
        }
    }

    // A policy put by a run killed before its journal said so.
    if let (None, Some(role), Some(name)) = (
        &journal.policy,
        journal.role.as_ref(),
        journal.planned_policy.clone(),
    ) {
        journal.policy = Some(PolicyStep {
            role: role.name.clone(),
            name,
            deleted: false,
        });
    }
    // Every value the plan grants, created or reused: while a revision reads
    // one, the grant stays.
    let mut still_read = false;
    for s in &journal.stored {
        let users = readers.of_value(s);
        if s.deleted || users.is_empty() {
            continue;
        }
        still_read = true;
        if s.created {
            out.errors.push(format!(
                "not deleting {}: {} still read(s) it; point it elsewhere, then roll back again",
                s.name,
                listed(&users)
            ));
        }
    }
    // The grant goes only when nothing still reads what it grants.
    if let Some(p) = journal.policy.as_mut().filter(|p| !p.deleted) {
        if still_read {
            out.errors.push(format!(
                "not deleting inline policy {} from {}: it grants values still read",
                p.name, p.role
            ));
        } else {
            match clients
                .iam
                .delete_role_policy()
                .role_name(&p.role)
                .policy_name(&p.name)
                .send()
                .await
            {
                Ok(_) => out
                    .actions
                    .push(format!("deleted inline policy {} from {}", p.name, p.role)),
                Err(e) if is_not_found(&e) => out
                    .actions
                    .push(format!("inline policy {} was already gone", p.name)),
                Err(e) => {
                    return Err(message(&format!("cannot delete policy {}", p.name), &e));
                }
            }
            p.deleted = true;
            journal.save(journal_path)?;
        }
    }
    if let Some(r) = journal.role.as_mut().filter(|r| r.created && !r.deleted) {
        let users = readers.of_role(&r.arn);
        if users.is_empty() {
            delete_role(clients, &r.name).await?;
            out.actions.push(format!("deleted role {}", r.name));
            r.deleted = true;
            journal.save(journal_path)?;
        } else {
            out.errors.push(format!(
                "not deleting role {}: {} still run(s) as it",
                r.name,
                listed(&users)
            ));
        }
    }
    for i in 0..journal.stored.len() {
        let s = &journal.stored[i];
        if !s.created || s.deleted || !readers.of_value(s).is_empty() {
            continue;
        }
        match store.delete(s).await {
            Ok(()) => {
                out.actions.push(format!("deleted {}", s.name));
                journal.stored[i].deleted = true;
                journal.save(journal_path)?;
            }
            Err(e) => out.errors.push(e),
        }
    }
    Ok(())
}

/// Detaches the managed policy from a role the fix created, and deletes it.
async fn delete_role(clients: &Clients, name: &str) -> Result<(), String> {
    match clients
        .iam
        .detach_role_policy()
        .role_name(name)
        .policy_arn(EXECUTION_ROLE_POLICY)
        .send()
        .await
    {
        Ok(_) => {}
        Err(e) if is_not_found(&e) => {}
        Err(e) => {
            return Err(message(
                &format!("cannot detach the managed policy from {name}"),
                &e,
            ))
        }
    }
    match clients.iam.delete_role().role_name(name).send().await {
        Ok(_) => Ok(()),
        Err(e) if is_not_found(&e) => Ok(()),
        Err(e) => Err(message(&format!("cannot delete role {name}"), &e)),
    }
}

/// Points a service at a task definition.
async fn point_service(
    ecs: &aws_sdk_ecs::Client,
    cluster: &str,
    service: &str,
    task_definition: &str,
) -> Result<(), String> {
    ecs.update_service()
        .cluster(cluster)
        .service(service)
        .task_definition(task_definition)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| message(&format!("cannot update service {service} in {cluster}"), &e))
}

/// What `rollback` did.
#[derive(Debug, Default)]
pub struct RollbackReport {
    pub actions: Vec<String>,
    pub errors: Vec<String>,
    /// The journal could not be read: nothing was done (exit status 2).
    pub unreadable: bool,
}

/// Points the journal's services back at their previous revisions; with
/// `delete_secrets`, also removes what the fix created.
pub async fn rollback(
    options: &LiveOptions,
    journal_path: &Path,
    delete_secrets: bool,
) -> RollbackReport {
    let mut out = RollbackReport::default();
    let mut journal = match Journal::load(journal_path) {
        Ok(j) => j,
        Err(e) => {
            out.errors.push(e);
            out.unreadable = true;
            return out;
        }
    };
    // From here on the journal is never resumed, whatever this rollback does.
    if !journal.rollback_started {
        journal.rollback_started = true;
        if let Err(e) = journal.save(journal_path) {
            out.errors.push(e);
            return out;
        }
    }
    let live = LiveOptions {
        regions: vec![journal.region.clone()],
        ..options.clone()
    };
    let config = match base_config(&live).await {
        Ok(c) => c,
        Err(e) => {
            out.errors.push(e);
            return out;
        }
    };
    let clients = Clients::new(&config, &journal.region);
    let new_arn = journal.new_arn().map(str::to_owned);
    // Every service the fix moved, or began to move (its answer may have been
    // lost after the update took effect): whatever runs the fix's revision.
    for s in journal.services.iter_mut() {
        // A service that moved on to another deployment since is left alone.
        match current_task_definition(&clients.ecs, &s.cluster, &s.service).await {
            Ok(Some(current)) if Some(&current) != new_arn.as_ref() => {
                if !s.updated {
                    continue;
                }
                out.actions.push(format!(
                    "service {} in {} now runs {current}, not the fix's revision: left as it is",
                    s.service, s.cluster
                ));
                s.updated = false;
                continue;
            }
            Ok(None) => {
                if s.updated {
                    out.actions.push(format!(
                        "service {} in {} is gone: nothing to point back",
                        s.service, s.cluster
                    ));
                }
                s.updated = false;
                continue;
            }
            Ok(Some(_)) => {}
            Err(e) => {
                out.errors.push(e);
                continue;
            }
        }
        match point_service(&clients.ecs, &s.cluster, &s.service, &s.previous).await {
            Ok(()) => {
                s.updated = false;
                out.actions.push(format!(
                    "service {} in {} points at {} again",
                    s.service, s.cluster, s.previous
                ));
            }
            Err(e) => out.errors.push(e),
        }
    }
    // Services the fix did not move but that run its revision now (moved by
    // hand with the command the plan printed): pointed back as well.
    if let Some(new) = &new_arn {
        match find_services(&clients.ecs, &[], new).await {
            Ok(found) => {
                for s in found {
                    if journal
                        .services
                        .iter()
                        .any(|j| j.cluster == s.cluster && j.service == s.service && j.updated)
                    {
                        continue;
                    }
                    match point_service(&clients.ecs, &s.cluster, &s.service, &journal.old_arn)
                        .await
                    {
                        Ok(()) => out.actions.push(format!(
                            "service {} in {} (moved to the fix's revision outside the fix) points at {} again",
                            s.service, s.cluster, journal.old_arn
                        )),
                        Err(e) => out.errors.push(e),
                    }
                }
            }
            Err(e) => out.errors.push(e),
        }
    }
    if !journal.deregistered.is_empty() {
        out.errors.push(format!(
            "{} was deregistered; ECS cannot reactivate a revision, so services cannot be pointed at it",
            journal.deregistered.join(", ")
        ));
    }
    // The revision this fix registered is deregistered in every rollback:
    // left ACTIVE, it would be the family's latest, and a scan would call the
    // family clean while its services run the old values. A run that died
    // inside RegisterTaskDefinition left no ARN: it is found by its plan tag.
    if out.errors.is_empty() && !journal.new_deregistered {
        // The journal's revision; without one (a run that died inside the
        // call), those its plan tagged while it was registering.
        let registered = match &journal.register {
            Some(RegisterStep { arn: Some(arn), .. }) => Ok(vec![arn.clone()]),
            Some(RegisterStep { arn: None, started }) => {
                all_registered(&clients.ecs, &journal.family, &journal.plan_id, *started).await
            }
            None => Ok(Vec::new()),
        };
        match registered {
            Ok(mut arns) => {
                if let Some(arn) = journal.new_arn() {
                    if !arns.iter().any(|a| a == arn) {
                        arns.push(arn.to_owned());
                    }
                }
                let mut all_done = true;
                for arn in arns {
                    match clients
                        .ecs
                        .deregister_task_definition()
                        .task_definition(&arn)
                        .send()
                        .await
                    {
                        Ok(_) => out.actions.push(format!(
                            "deregistered {arn}, the revision this fix registered"
                        )),
                        Err(e) if is_not_found(&e) => {}
                        Err(e) => {
                            all_done = false;
                            out.errors
                                .push(message(&format!("cannot deregister {arn}"), &e));
                        }
                    }
                }
                journal.new_deregistered = all_done;
            }
            Err(e) => out.errors.push(e),
        }
    }
    if delete_secrets && out.errors.is_empty() {
        if let Err(e) = delete_created(&clients, &mut journal, journal_path, &mut out).await {
            out.errors.push(e);
        }
    }
    // Once rolled back, always rolled back: a later failing run never flips it.
    journal.rolled_back |= out.errors.is_empty();
    if let Err(e) = journal.save(journal_path) {
        out.errors.push(e);
    }
    out
}

#[cfg(test)]
mod reads_tests {
    use super::*;

    fn stored(name: &str, arn: &str) -> Stored {
        Stored {
            name: name.into(),
            arn: arn.into(),
            created: true,
            deleted: false,
        }
    }

    #[test]
    fn a_value_from_reads_a_parameter_by_arn_or_name() {
        let p = stored(
            "/ecsguard/app/web/DB_PASSWORD",
            "arn:aws:ssm:us-east-1:1:parameter/ecsguard/app/web/DB_PASSWORD",
        );
        assert!(reads(&p.arn, &p));
        assert!(reads("/ecsguard/app/web/DB_PASSWORD", &p));
        assert!(reads("ecsguard/app/web/DB_PASSWORD", &p));
        assert!(reads(
            "arn:aws:ssm:us-east-1:1:parameter/ecsguard/app/web/DB_PASSWORD",
            &p
        ));
        assert!(!reads("/ecsguard/app/web/DB_PASSWORD_2", &p));
        assert!(!reads(
            "arn:aws:ssm:us-east-1:1:parameter/ecsguard/app/web/DB_PASSWORD_OLD",
            &p
        ));
    }

    #[test]
    fn a_value_from_reads_a_secret_by_full_or_partial_arn_and_key() {
        let s = stored(
            "ecsguard/app/web",
            "arn:aws:secretsmanager:us-east-1:1:secret:ecsguard/app/web-AbCdEf",
        );
        assert!(reads(&s.arn, &s));
        assert!(reads(&format!("{}:DB_PASSWORD::", s.arn), &s));
        assert!(reads(
            "arn:aws:secretsmanager:us-east-1:1:secret:ecsguard/app/web:DB_PASSWORD::",
            &s
        ));
        assert!(!reads(
            "arn:aws:secretsmanager:us-east-1:1:secret:ecsguard/app/web2-XyZabc",
            &s
        ));
    }
}

#[cfg(test)]
#[allow(deprecated)] // inference accelerators: retired by AWS, still copied
mod copy_tests {
    use super::*;
    use aws_sdk_ecs::types::{
        ContainerDefinition, EphemeralStorage, InferenceAccelerator, IpcMode, NetworkMode, PidMode,
        ProxyConfiguration, RuntimePlatform, TaskDefinitionPlacementConstraint, Volume,
    };

    /// Every field of the request must come from the old revision: a field
    /// left unset (`None` in the request) is one the copy would lose. When
    /// the SDK grows a field, this test fails until the copy sets it.
    #[test]
    #[allow(deprecated)]
    fn the_copy_sets_every_field_of_the_request() {
        let old = ApiTaskDefinition::builder()
            .family("app")
            .task_role_arn("arn:aws:iam::1:role/task")
            .execution_role_arn("arn:aws:iam::1:role/exec")
            .network_mode(NetworkMode::Awsvpc)
            .container_definitions(ContainerDefinition::builder().name("c").build())
            .volumes(Volume::builder().name("v").build())
            .placement_constraints(TaskDefinitionPlacementConstraint::builder().build())
            .requires_compatibilities(aws_sdk_ecs::types::Compatibility::Fargate)
            .cpu("256")
            .memory("512")
            .pid_mode(PidMode::Task)
            .ipc_mode(IpcMode::Task)
            .proxy_configuration(
                ProxyConfiguration::builder()
                    .container_name("envoy")
                    .build()
                    .expect("proxy"),
            )
            .inference_accelerators(
                InferenceAccelerator::builder()
                    .device_name("d")
                    .device_type("t")
                    .build()
                    .expect("accelerator"),
            )
            .ephemeral_storage(EphemeralStorage::builder().size_in_gib(30).build())
            .runtime_platform(RuntimePlatform::builder().build())
            .enable_fault_injection(true)
            .build();
        let config = aws_sdk_ecs::Config::builder()
            .behavior_version(aws_sdk_ecs::config::BehaviorVersion::latest())
            .region(aws_sdk_ecs::config::Region::new("us-east-1"))
            .build();
        let ecs = aws_sdk_ecs::Client::from_conf(config);
        let tag = aws_sdk_ecs::types::Tag::builder()
            .key("k")
            .value("v")
            .build();
        let request = copy_request(
            &ecs,
            &old,
            old.container_definitions().to_vec(),
            None,
            vec![tag],
        );
        let shown = format!("{:?}", request.as_input());
        // The request's own fields: split at commas outside nested values.
        let body = shown
            .split_once('{')
            .map(|(_, b)| b.trim_end_matches('}'))
            .unwrap_or_default();
        let mut fields = Vec::new();
        let (mut depth, mut start) = (0i32, 0usize);
        for (i, c) in body.char_indices() {
            match c {
                '(' | '[' | '{' => depth += 1,
                ')' | ']' | '}' => depth -= 1,
                ',' if depth == 0 => {
                    fields.push(body[start..i].trim());
                    start = i + 1;
                }
                _ => {}
            }
        }
        fields.push(body[start..].trim());
        assert!(fields.len() >= 17, "{fields:?}");
        let unset: Vec<&str> = fields
            .into_iter()
            .filter(|f| f.ends_with(": None"))
            .collect();
        assert!(
            unset.is_empty(),
            "fields the copy does not set: {unset:?}\n{shown}"
        );
    }
}
