//! The live scan: accounts × regions, fewest API calls, bounded concurrency.
//!
//! Calls made, per account and region:
//! - default: pages of `ListTaskDefinitionFamilies` (ACTIVE), then one
//!   `DescribeTaskDefinition` per family (by family name, which AWS resolves to
//!   the latest ACTIVE revision). `ListTaskDefinitions` is called for a family
//!   only where it is needed: when the describe answers with an INACTIVE
//!   revision, and to count the older revisions of families with findings.
//! - `--all-revisions`: pages of `ListTaskDefinitions` (ACTIVE, then INACTIVE),
//!   then one `DescribeTaskDefinition` per revision.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::sync::Arc;

use aws_config::retry::RetryConfig;
use aws_config::sts::AssumeRoleProvider;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_ecs::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_ecs::types::{
    SortOrder, TaskDefinition as ApiTaskDefinition, TaskDefinitionFamilyStatus,
    TaskDefinitionStatus,
};
use ecsguard_core::{Finding, InputError, LiveSummary, Report, RuleConfig, TaskDefinition};
use futures::stream::{self, StreamExt};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokio::sync::Semaphore;

use crate::convert;
use crate::counter::ApiCounter;

/// What to scan and how.
#[derive(Debug, Clone)]
pub struct LiveOptions {
    /// Regions to scan; empty means the configured region.
    pub regions: Vec<String>,
    /// Every region enabled for the account (EC2 `DescribeRegions`).
    pub all_regions: bool,
    /// Every revision, ACTIVE and INACTIVE, instead of the latest ACTIVE one.
    pub all_revisions: bool,
    pub profile: Option<String>,
    /// A role to assume first.
    pub role_arn: Option<String>,
    /// With `Some(role name)`, scan every active account of the Organization
    /// by assuming that role in each.
    pub org_role_name: Option<String>,
    /// Most API calls in flight at once.
    pub concurrency: usize,
    /// Attempts per call, throttling included (adaptive retry with backoff).
    pub max_attempts: u32,
    /// Longest one attempt of a call may take; a hung connection is retried.
    pub api_timeout: std::time::Duration,
    /// Show a progress bar on stderr (only drawn when stderr is a terminal).
    pub progress: bool,
}

impl Default for LiveOptions {
    fn default() -> Self {
        Self {
            regions: Vec::new(),
            all_regions: false,
            all_revisions: false,
            profile: None,
            role_arn: None,
            org_role_name: None,
            concurrency: 16,
            max_attempts: 8,
            api_timeout: std::time::Duration::from_secs(60),
            progress: true,
        }
    }
}

/// One account to scan, with the credentials to scan it.
struct Target {
    account: Option<String>,
    config: SdkConfig,
}

struct Ctx {
    counter: ApiCounter,
    limit: Arc<Semaphore>,
    progress: ProgressBar,
    all_revisions: bool,
}

/// Describes a failed call without any part of the response body: a body
/// that could not be parsed may be a task definition, values and all, so
/// neither the SDK's `Display` nor its `Debug` may be used here.
/// Whether an error says the resource is not there (already deleted): for
/// an undo, that is the goal reached.
pub(crate) fn is_not_found<E, R>(err: &SdkError<E, R>) -> bool
where
    E: ProvideErrorMetadata,
{
    match err {
        SdkError::ServiceError(service) => matches!(
            service.err().code(),
            Some(
                "ParameterNotFound"
                    | "ResourceNotFoundException"
                    | "NoSuchEntity"
                    | "NoSuchEntityException"
            )
        ),
        _ => false,
    }
}

pub(crate) fn message<E, R>(context: &str, err: &SdkError<E, R>) -> String
where
    E: ProvideErrorMetadata,
    R: std::fmt::Debug,
    SdkError<E, R>: RawStatus,
{
    let what = match err {
        SdkError::ServiceError(service) => {
            let e = service.err();
            match (e.code(), e.message()) {
                (Some(code), Some(msg)) => format!("{code}: {msg}"),
                (Some(code), None) => code.to_owned(),
                _ => "the service returned an error".to_owned(),
            }
        }
        SdkError::TimeoutError(_) => "timed out".to_owned(),
        SdkError::DispatchFailure(d) => {
            if d.is_io() {
                "could not connect (I/O error)".to_owned()
            } else if d.is_timeout() {
                "could not connect (timed out)".to_owned()
            } else {
                "could not send the request (credentials or connection)".to_owned()
            }
        }
        SdkError::ResponseError(_) => "the response could not be read".to_owned(),
        SdkError::ConstructionFailure(_) => "the request could not be built".to_owned(),
        _ => "unknown failure".to_owned(),
    };
    match err.raw_status() {
        Some(status) => format!("{context}: {what} (HTTP {status})"),
        None => format!("{context}: {what}"),
    }
}

/// The HTTP status of a failed call's response, if one arrived.
pub(crate) trait RawStatus {
    fn raw_status(&self) -> Option<u16>;
}

impl<E> RawStatus for SdkError<E, aws_smithy_runtime_api::client::orchestrator::HttpResponse> {
    fn raw_status(&self) -> Option<u16> {
        self.raw_response().map(|r| r.status().as_u16())
    }
}

fn partition_of(arn: &str) -> &str {
    arn.split(':')
        .nth(1)
        .filter(|p| !p.is_empty())
        .unwrap_or("aws")
}

/// Scans live accounts and applies the rules.
pub async fn scan(options: &LiveOptions, rules: &RuleConfig) -> Report {
    let counter = ApiCounter::default();
    let mut report = Report::default();
    let mut summary = LiveSummary::default();

    let base = match base_config(options).await {
        Ok(c) => c,
        Err(e) => {
            report.errors.push(InputError::live(None, None, None, e));
            return finish(report, summary, &counter);
        }
    };
    let first_account = options
        .role_arn
        .as_deref()
        .and_then(convert::account_of)
        .map(str::to_owned);

    // Accounts.
    let mut not_entered = 0;
    let targets = match &options.org_role_name {
        Some(role_name) => {
            let partition = options
                .role_arn
                .as_deref()
                .map_or("aws", partition_of)
                .to_owned();
            match organization_accounts(&base, &counter).await {
                Ok(ids) => {
                    // The account we are in is scanned as we are: the
                    // management account has no OrganizationAccountAccessRole.
                    let region = base.region().map(|r| r.to_string()).unwrap_or_default();
                    let own = caller_account(&base, &region, &counter).await;
                    let mut candidates = Vec::new();
                    for id in ids {
                        let (config, role) = if own.as_deref() == Some(id.as_str()) {
                            (base.clone(), None)
                        } else {
                            let role = format!("arn:{partition}:iam::{id}:role/{role_name}");
                            (assume(&base, &role).await, Some(role))
                        };
                        candidates.push((id, config, role));
                    }
                    // Each account is entered first: one that cannot be is one
                    // error for that account, and the others are scanned.
                    let entered = futures::future::join_all(candidates.iter().map(
                        |(_, config, role)| async {
                            match role {
                                Some(_) => enter(config, &region, &counter).await,
                                None => Ok(()),
                            }
                        },
                    ))
                    .await;
                    let mut targets = Vec::new();
                    for ((id, config, role), entered) in candidates.into_iter().zip(entered) {
                        match entered {
                            Ok(()) => targets.push(Target {
                                account: Some(id),
                                config,
                            }),
                            Err(e) => report.errors.push(InputError::live(
                                Some(id),
                                None,
                                None,
                                format!(
                                    "cannot enter the account as {}: {e}; its task definitions were not scanned",
                                    role.unwrap_or_default()
                                ),
                            )),
                        }
                    }
                    not_entered = report.errors.len();
                    targets
                }
                Err(e) => {
                    report
                        .errors
                        .push(InputError::live(first_account, None, None, e));
                    return finish(report, summary, &counter);
                }
            }
        }
        None => vec![Target {
            account: first_account,
            config: base.clone(),
        }],
    };
    // Every account of the Organization, entered or not.
    summary.accounts = targets.len() + not_entered;

    // Regions, per account: accounts differ in which regions they enable,
    // and one that cannot be entered is an error for that account alone.
    let mut per_target: Vec<Vec<String>> = Vec::with_capacity(targets.len());
    for target in &targets {
        let regions = if options.all_regions {
            match enabled_regions(&target.config, &counter).await {
                Ok(r) => r,
                Err(e) => {
                    report
                        .errors
                        .push(InputError::live(target.account.clone(), None, None, e));
                    Vec::new()
                }
            }
        } else if options.regions.is_empty() {
            base.region()
                .map(|r| vec![r.to_string()])
                .unwrap_or_default()
        } else {
            let mut r = options.regions.clone();
            r.sort();
            r.dedup();
            r
        };
        per_target.push(regions);
    }
    summary.region_names = per_target
        .iter()
        .flatten()
        .cloned()
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    summary.regions = summary.region_names.len();

    let progress = if options.progress && std::io::stderr().is_terminal() {
        let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
        if let Ok(style) = ProgressStyle::with_template(
            "{spinner} {pos}/{len} task definitions described {wide_msg}",
        ) {
            bar.set_style(style);
        }
        bar
    } else {
        ProgressBar::hidden()
    };
    let ctx = Ctx {
        counter: counter.clone(),
        limit: Arc::new(Semaphore::new(options.concurrency.max(1))),
        progress,
        all_revisions: options.all_revisions,
    };

    let jobs: Vec<(usize, &String)> = per_target
        .iter()
        .enumerate()
        .flat_map(|(t, regions)| regions.iter().map(move |r| (t, r)))
        .collect();
    let results =
        futures::future::join_all(jobs.iter().map(|(t, r)| scan_region(&ctx, &targets[*t], r)))
            .await;
    ctx.progress.finish_and_clear();

    // Families whose latest revision has findings, by (target, region): family -> revision.
    let mut by_place: BTreeMap<(usize, &String), BTreeMap<String, u32>> = BTreeMap::new();
    for (&(t, region), scanned) in jobs.iter().zip(results) {
        let target = &targets[t];
        let RegionScan {
            tds,
            arns,
            mut errors,
            account,
        } = scanned;
        summary.scanned.extend(arns);
        report.summary.task_definitions += tds.len();
        report.summary.containers += tds.iter().map(|t| t.containers.len()).sum::<usize>();
        if !errors.is_empty() && target.account.is_none() {
            let account = match account {
                Some(a) => Some(a),
                None => caller_account(&target.config, region, &counter).await,
            };
            for e in &mut errors {
                if let ecsguard_core::ErrorSource::Live {
                    account: slot @ None,
                    ..
                } = &mut e.source
                {
                    slot.clone_from(&account);
                }
            }
        }
        report.errors.extend(errors);
        for td in &tds {
            let found: Vec<Finding> = ecsguard_core::check(td, rules);
            if !found.is_empty() && !options.all_revisions {
                if let (Some(family), Some(revision)) = (&td.family, td.revision) {
                    by_place
                        .entry((t, region))
                        .or_default()
                        .insert(family.clone(), revision);
                }
            }
            report.findings.extend(found);
        }
    }

    // Older revisions of affected families are still readable: count them,
    // per family where few are affected, from one region-wide listing otherwise.
    let older = futures::future::join_all(
        by_place
            .iter()
            .map(|((t, region), families)| older_revisions(&ctx, &targets[*t], region, families)),
    )
    .await;
    for (count, error) in older {
        summary.older_revisions_not_scanned += count;
        report.errors.extend(error);
    }

    finish(report, summary, &counter)
}

fn finish(mut report: Report, mut summary: LiveSummary, counter: &ApiCounter) -> Report {
    summary.api_calls = counter.get();
    report.summary.live = Some(summary);
    report.sort();
    report
}

/// The SDK configuration every client starts from: the standard credential
/// chain (or `--profile`), adaptive retries, the first `--region`, and the
/// `--role-arn` assumed.
pub(crate) async fn base_config(options: &LiveOptions) -> Result<SdkConfig, String> {
    let retry = RetryConfig::adaptive().with_max_attempts(options.max_attempts.max(1));
    // Without an attempt timeout a connection that never answers hangs the
    // run for good; with one, the attempt is retried like any other failure.
    let timeouts = aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(std::time::Duration::from_secs(5).min(options.api_timeout))
        .operation_attempt_timeout(options.api_timeout)
        .build();
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .retry_config(retry)
        .timeout_config(timeouts);
    if let Some(profile) = &options.profile {
        loader = loader.profile_name(profile);
    }
    if let Some(first) = options.regions.first() {
        loader = loader.region(Region::new(first.clone()));
    }
    let base = loader.load().await;
    if base.region().is_none() {
        return Err(
            "no AWS region configured: pass --region, --all-regions, or set AWS_REGION".into(),
        );
    }
    Ok(match &options.role_arn {
        Some(role) => assume(&base, role).await,
        None => base,
    })
}

async fn assume(base: &SdkConfig, role: &str) -> SdkConfig {
    let provider = AssumeRoleProvider::builder(role)
        .session_name("ecsguard")
        .configure(base)
        .build()
        .await;
    base.to_builder()
        .credentials_provider(
            aws_credential_types::provider::SharedCredentialsProvider::new(provider),
        )
        .build()
}

async fn organization_accounts(
    config: &SdkConfig,
    counter: &ApiCounter,
) -> Result<Vec<String>, String> {
    let client = aws_sdk_organizations::Client::from_conf(
        aws_sdk_organizations::config::Builder::from(config)
            .interceptor(counter.clone())
            .build(),
    );
    let mut pages = client.list_accounts().into_paginator().send();
    let mut ids = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| message("cannot list the Organization's accounts", &e))?;
        for account in page.accounts() {
            let active = account
                .status()
                .is_some_and(|s| *s == aws_sdk_organizations::types::AccountStatus::Active);
            if let (true, Some(id)) = (active, account.id()) {
                ids.push(id.to_owned());
            }
        }
    }
    ids.sort();
    Ok(ids)
}

async fn enabled_regions(config: &SdkConfig, counter: &ApiCounter) -> Result<Vec<String>, String> {
    let client = aws_sdk_ec2::Client::from_conf(
        aws_sdk_ec2::config::Builder::from(config)
            .interceptor(counter.clone())
            .build(),
    );
    let out = client
        .describe_regions()
        .all_regions(false)
        .send()
        .await
        .map_err(|e| message("cannot list the account's enabled regions", &e))?;
    let mut regions: Vec<String> = out
        .regions()
        .iter()
        .filter_map(|r| r.region_name().map(str::to_owned))
        .collect();
    regions.sort();
    Ok(regions)
}

/// `GetCallerIdentity`: assumes the account's role (when the config has one),
/// so it tells early whether the account can be entered at all.
async fn caller_identity(
    config: &SdkConfig,
    region: &str,
    counter: &ApiCounter,
) -> Result<aws_sdk_sts::operation::get_caller_identity::GetCallerIdentityOutput, String> {
    let client = aws_sdk_sts::Client::from_conf(
        aws_sdk_sts::config::Builder::from(config)
            .region(Region::new(region.to_owned()))
            .interceptor(counter.clone())
            .build(),
    );
    client
        .get_caller_identity()
        .send()
        .await
        .map_err(|e| message("cannot assume the role", &e))
}

async fn enter(config: &SdkConfig, region: &str, counter: &ApiCounter) -> Result<(), String> {
    caller_identity(config, region, counter).await.map(|_| ())
}

async fn caller_account(config: &SdkConfig, region: &str, counter: &ApiCounter) -> Option<String> {
    caller_identity(config, region, counter)
        .await
        .ok()
        .and_then(|o| o.account().map(str::to_owned))
}

fn ecs_client(ctx: &Ctx, target: &Target, region: &str) -> aws_sdk_ecs::Client {
    aws_sdk_ecs::Client::from_conf(
        aws_sdk_ecs::config::Builder::from(&target.config)
            .region(Region::new(region.to_owned()))
            .interceptor(ctx.counter.clone())
            .build(),
    )
}

/// Everything read in one account and region, everything that could not be,
/// and the account id, when a described ARN told it.
struct RegionScan {
    tds: Vec<TaskDefinition>,
    /// The ARNs of the revisions read.
    arns: Vec<String>,
    errors: Vec<InputError>,
    account: Option<String>,
}

/// Reads one account and region.
async fn scan_region(ctx: &Ctx, target: &Target, region: &str) -> RegionScan {
    let client = ecs_client(ctx, target, region);
    let account = target.account.clone().unwrap_or_default();
    let error = |arn: Option<String>, msg: String| {
        InputError::live(target.account.clone(), Some(region.to_owned()), arn, msg)
    };
    let mut errors = Vec::new();

    // What to describe: ARNs, or family names (which resolve to the latest ACTIVE revision).
    let mut wanted: Vec<String> = Vec::new();
    if ctx.all_revisions {
        for status in [TaskDefinitionStatus::Active, TaskDefinitionStatus::Inactive] {
            let mut pages = client
                .list_task_definitions()
                .status(status.clone())
                .into_paginator()
                .send();
            while let Some(page) = limited(ctx, pages.next()).await {
                match page {
                    Ok(p) => wanted.extend(p.task_definition_arns().iter().cloned()),
                    Err(e) => {
                        errors.push(error(
                            None,
                            message(
                                &format!("cannot list {} task definitions", status.as_str()),
                                &e,
                            ),
                        ));
                        return RegionScan {
                            tds: Vec::new(),
                            arns: Vec::new(),
                            errors,
                            account: None,
                        };
                    }
                }
            }
        }
    } else {
        let mut pages = client
            .list_task_definition_families()
            .status(TaskDefinitionFamilyStatus::Active)
            .into_paginator()
            .send();
        while let Some(page) = limited(ctx, pages.next()).await {
            match page {
                Ok(p) => wanted.extend(p.families().iter().cloned()),
                Err(e) => {
                    errors.push(error(
                        None,
                        message("cannot list task definition families", &e),
                    ));
                    return RegionScan {
                        tds: Vec::new(),
                        arns: Vec::new(),
                        errors,
                        account: None,
                    };
                }
            }
        }
    }
    wanted.sort();
    wanted.dedup();
    ctx.progress.inc_length(wanted.len() as u64);

    let described: Vec<Result<Option<ApiTaskDefinition>, InputError>> = stream::iter(wanted)
        .map(|what| {
            let client = &client;
            let error = &error;
            async move {
                let result = describe(ctx, client, &what, error).await;
                ctx.progress.inc(1);
                result
            }
        })
        .buffer_unordered(ctx.limit.available_permits().max(1))
        .collect()
        .await;

    let mut tds = Vec::new();
    let mut arns = Vec::new();
    let mut learned = None;
    for d in described {
        match d {
            Ok(Some(td)) => {
                if learned.is_none() {
                    learned = td
                        .task_definition_arn()
                        .and_then(convert::account_of)
                        .map(str::to_owned);
                }
                arns.extend(td.task_definition_arn().map(str::to_owned));
                tds.push(convert::task_definition(&td, &account, region));
            }
            Ok(None) => {}
            Err(e) => errors.push(e),
        }
    }
    tds.sort_by(|a, b| (&a.family, a.revision).cmp(&(&b.family, b.revision)));
    RegionScan {
        tds,
        arns,
        errors,
        account: learned,
    }
}

/// Runs one API call under the concurrency limit.
async fn limited<F: std::future::Future>(ctx: &Ctx, call: F) -> F::Output {
    let _permit = ctx.limit.acquire().await;
    call.await
}

/// Describes an ARN, or the latest ACTIVE revision of a family. `Ok(None)`:
/// a family with no ACTIVE revision, which is not reported.
async fn describe(
    ctx: &Ctx,
    client: &aws_sdk_ecs::Client,
    what: &str,
    error: &impl Fn(Option<String>, String) -> InputError,
) -> Result<Option<ApiTaskDefinition>, InputError> {
    let is_arn = what.starts_with("arn:");
    let out = limited(
        ctx,
        client
            .describe_task_definition()
            .task_definition(what)
            .send(),
    )
    .await
    .map_err(|e| {
        error(
            Some(what.to_owned()),
            message("cannot describe the task definition", &e),
        )
    })?;
    let Some(td) = out.task_definition else {
        return Err(error(
            Some(what.to_owned()),
            "DescribeTaskDefinition returned no task definition".into(),
        ));
    };
    if is_arn || td.status() != Some(&TaskDefinitionStatus::Inactive) {
        return Ok(Some(td));
    }
    // AWS resolves a family to its latest ACTIVE revision; an INACTIVE answer
    // means there is none, or an endpoint that resolves differently: look.
    let listed = limited(
        ctx,
        client
            .list_task_definitions()
            .family_prefix(what)
            .status(TaskDefinitionStatus::Active)
            .sort(SortOrder::Desc)
            .send(),
    )
    .await
    .map_err(|e| {
        error(
            None,
            message(&format!("cannot list the revisions of family {what}"), &e),
        )
    })?;
    let latest = listed
        .task_definition_arns()
        .iter()
        .filter(|arn| family_of(arn) == Some(what))
        .max_by_key(|arn| revision_of(arn));
    match latest {
        Some(arn) => {
            let out = limited(
                ctx,
                client
                    .describe_task_definition()
                    .task_definition(arn)
                    .send(),
            )
            .await
            .map_err(|e| {
                error(
                    Some(arn.clone()),
                    message("cannot describe the task definition", &e),
                )
            })?;
            Ok(out.task_definition)
        }
        None => Ok(None),
    }
}

/// `family` and revision from `arn:…:task-definition/family:7`.
fn family_of(arn: &str) -> Option<&str> {
    arn.rsplit_once(":task-definition/")?
        .1
        .rsplit_once(':')
        .map(|(f, _)| f)
}

fn revision_of(arn: &str) -> u32 {
    arn.rsplit_once(':')
        .and_then(|(_, r)| r.parse().ok())
        .unwrap_or(0)
}

/// Families affected in one place above which one region-wide listing is
/// cheaper than two listings per family.
const PER_FAMILY_LISTING_LIMIT: usize = 5;

/// How many revisions older than the scanned one exist, ACTIVE or INACTIVE,
/// summed over `families` (family → latest revision scanned).
async fn older_revisions(
    ctx: &Ctx,
    target: &Target,
    region: &str,
    families: &BTreeMap<String, u32>,
) -> (usize, Option<InputError>) {
    let client = ecs_client(ctx, target, region);
    let prefixes: Vec<Option<&str>> = if families.len() <= PER_FAMILY_LISTING_LIMIT {
        families.keys().map(|f| Some(f.as_str())).collect()
    } else {
        vec![None]
    };
    let mut older: BTreeMap<(String, u32), ()> = BTreeMap::new();
    for prefix in prefixes {
        for status in [TaskDefinitionStatus::Active, TaskDefinitionStatus::Inactive] {
            let mut pages = client
                .list_task_definitions()
                .set_family_prefix(prefix.map(str::to_owned))
                .status(status)
                .into_paginator()
                .send();
            while let Some(page) = limited(ctx, pages.next()).await {
                match page {
                    Ok(p) => {
                        for arn in p.task_definition_arns() {
                            let (Some(family), revision) = (family_of(arn), revision_of(arn))
                            else {
                                continue;
                            };
                            if families
                                .get(family)
                                .is_some_and(|latest| revision < *latest)
                            {
                                older.insert((family.to_owned(), revision), ());
                            }
                        }
                    }
                    Err(e) => {
                        let err = InputError::live(
                            target.account.clone(),
                            Some(region.to_owned()),
                            None,
                            message("cannot list older task definition revisions", &e),
                        );
                        return (older.len(), Some(err));
                    }
                }
            }
        }
    }
    (older.len(), None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_task_definition_arns() {
        let arn = "arn:aws:ecs:us-east-1:123456789012:task-definition/billing-api:14";
        assert_eq!(family_of(arn), Some("billing-api"));
        assert_eq!(revision_of(arn), 14);
        assert_eq!(convert::account_of(arn), Some("123456789012"));
        assert_eq!(partition_of("arn:aws-cn:iam::1:role/x"), "aws-cn");
    }
}
