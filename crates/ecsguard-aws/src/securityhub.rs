//! Security Hub, both ways: findings out (`scan --to-securityhub`, with the
//! ones no longer present archived) and ECS.8 findings in (`fix --aws
//! --from-securityhub`, marked `RESOLVED` once fixed).
//!
//! Every filter sent to `GetFindings` is applied again on the client side:
//! moto ignores filters, and a filter Security Hub did not apply must not
//! widen what is archived or fixed.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use aws_config::{Region, SdkConfig};
use aws_sdk_securityhub::types::{
    AwsSecurityFinding, AwsSecurityFindingFilters, AwsSecurityFindingIdentifier, Compliance,
    ComplianceStatus, NoteUpdate, Recommendation, RecordState, Remediation, Resource,
    ResourceDetails, Severity, SeverityLabel, StringFilter, StringFilterComparison, WorkflowStatus,
    WorkflowUpdate,
};
use ecsguard_core::asff::{AsffFinding, GENERATOR_PREFIX, PATH_FIELD, PROJECT_FIELD, RULE_FIELD};

use crate::scan::{base_config, message, LiveOptions};

/// `BatchImportFindings` and `BatchUpdateFindings` take at most this many.
const BATCH: usize = 100;

/// Who is calling, and where by default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub account: String,
    pub partition: String,
    pub region: String,
}

/// The account, partition and default region of the credentials in use
/// (`--profile`, `--role-arn`, the standard chain).
pub async fn caller(options: &LiveOptions) -> Result<Caller, String> {
    let config = base_config(options).await?;
    caller_of(&config).await
}

/// The region the configuration names (`--region`, `AWS_REGION`, the
/// profile), if any; no call is made.
pub async fn configured_region(options: &LiveOptions) -> Option<String> {
    base_config(options)
        .await
        .ok()
        .and_then(|c| c.region().map(|r| r.to_string()))
}

async fn caller_of(config: &SdkConfig) -> Result<Caller, String> {
    let region = config.region().map(|r| r.to_string()).unwrap_or_default();
    let client = aws_sdk_sts::Client::new(config);
    let out = client
        .get_caller_identity()
        .send()
        .await
        .map_err(|e| message("cannot ask STS who the credentials belong to", &e))?;
    let account = out
        .account()
        .ok_or("STS did not name the caller's account")?
        .to_owned();
    let partition = out
        .arn()
        .and_then(|a| a.split(':').nth(1))
        .filter(|p| !p.is_empty())
        .unwrap_or("aws")
        .to_owned();
    Ok(Caller {
        account,
        partition,
        region,
    })
}

fn client(config: &SdkConfig, region: &str) -> aws_sdk_securityhub::Client {
    aws_sdk_securityhub::Client::from_conf(
        aws_sdk_securityhub::config::Builder::from(config)
            .region(Region::new(region.to_owned()))
            .build(),
    )
}

fn equals(value: &str) -> StringFilter {
    StringFilter::builder()
        .comparison(StringFilterComparison::Equals)
        .value(value)
        .build()
}

/// Every finding `filters` selects in one region, all pages.
async fn get_all(
    client: &aws_sdk_securityhub::Client,
    filters: AwsSecurityFindingFilters,
    region: &str,
) -> Result<Vec<AwsSecurityFinding>, String> {
    let mut out = Vec::new();
    let mut pages = client
        .get_findings()
        .filters(filters)
        .max_results(100)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page =
            page.map_err(|e| message(&format!("cannot read Security Hub in {region}"), &e))?;
        out.extend(page.findings().iter().cloned());
    }
    Ok(out)
}

/// What `scan --to-securityhub` should send, and what it looked at.
#[derive(Debug, Clone)]
pub struct ImportRequest {
    pub findings: Vec<AsffFinding>,
    /// Regions to look in for ecsguard findings this scan no longer has.
    pub regions: Vec<String>,
    /// What the scan read: only a finding there can be gone.
    pub gone: Gone,
    /// The rules the scan ran: a finding of another rule (from a run with
    /// another `--ruleset` or config) is not gone, only not looked for.
    pub rules: Vec<String>,
    /// False when the scan had errors: a finding missing from a scan that
    /// could not read everything may only be unread, so nothing is archived.
    pub archive: bool,
    /// RFC 3339, UTC.
    pub now: String,
}

/// Where a finding can have gone from.
#[derive(Debug, Clone)]
pub enum Gone {
    /// A live scan: the ARNs of the revisions it read. A revision it did
    /// not read (an older one, without `--all-revisions`) keeps its findings.
    Revisions(BTreeSet<String>),
    /// A scan of files: the project, the paths scanned in it (`""` for all
    /// of it), the files the walk read, and the project's folder. A file
    /// under the paths that was read, or is no longer there, and has no
    /// finding now has lost it; a file the walk left out (ignored, too
    /// large, a link out of the tree) keeps its findings.
    Files {
        project: String,
        roots: Vec<String>,
        read: BTreeSet<String>,
        dir: std::path::PathBuf,
    },
}

impl Gone {
    fn covers(&self, f: &AwsSecurityFinding) -> bool {
        let field = |key: &str| {
            f.product_fields
                .as_ref()
                .and_then(|p| p.get(key))
                .map(String::as_str)
        };
        match self {
            Gone::Revisions(arns) => f.resources().iter().any(|r| {
                r.r#type.as_deref() == Some("AwsEcsTaskDefinition")
                    && r.id.as_deref().is_some_and(|id| arns.contains(id))
            }),
            Gone::Files {
                project,
                roots,
                read,
                dir,
            } => {
                field(PROJECT_FIELD) == Some(project.as_str())
                    && field(PATH_FIELD).is_some_and(|path| {
                        let under = roots.iter().any(|root| {
                            root.is_empty()
                                || path == root
                                || path
                                    .strip_prefix(root.as_str())
                                    .is_some_and(|rest| rest.starts_with('/'))
                        });
                        under && (read.contains(path) || !dir.join(path).exists())
                    })
            }
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct ImportReport {
    /// Findings Security Hub accepted (new or updated).
    pub imported: usize,
    /// Findings no longer present, now `ARCHIVED`.
    pub archived: usize,
    pub errors: Vec<String>,
    pub notes: Vec<String>,
}

/// Sends the findings as ASFF (`BatchImportFindings`, 100 at a time); once
/// every one was accepted, archives the ecsguard findings this scan read
/// the place of and no longer has.
pub async fn import(options: &LiveOptions, request: &ImportRequest) -> ImportReport {
    let mut report = ImportReport::default();
    let config = match base_config(options).await {
        Ok(c) => c,
        Err(e) => {
            report.errors.push(e);
            return report;
        }
    };
    let caller = match caller_of(&config).await {
        Ok(c) => c,
        Err(e) => {
            report.errors.push(e);
            return report;
        }
    };
    // Security Hub takes a finding only from the account it is about.
    let mut by_region: BTreeMap<String, Vec<&AsffFinding>> = BTreeMap::new();
    for f in &request.findings {
        if f.aws_account_id == caller.account {
            by_region.entry(f.region.clone()).or_default().push(f);
        } else {
            report.errors.push(format!(
                "finding {} is about account {}, and Security Hub takes it only from that account (these credentials are {}'s): scan it with --role-arn into that account",
                f.id, f.aws_account_id, caller.account
            ));
        }
    }
    let regions: BTreeSet<String> = request
        .regions
        .iter()
        .cloned()
        .chain(by_region.keys().cloned())
        .collect();
    // First every finding, with when it was first seen kept.
    let mut stale: Vec<(String, Vec<AwsSecurityFinding>)> = Vec::new();
    for region in regions {
        let client = client(&config, &region);
        let existing = match existing(&client, &caller, &region).await {
            Ok(e) => e,
            Err(e) => {
                report
                    .errors
                    .push(format!("{e}; nothing was imported there"));
                continue;
            }
        };
        let current = by_region.remove(&region).unwrap_or_default();
        let first_seen: HashMap<&str, (&str, &str)> = existing
            .iter()
            .filter_map(|f| {
                Some((
                    f.id.as_deref()?,
                    (
                        f.created_at.as_deref()?,
                        f.first_observed_at.as_deref().or(f.created_at.as_deref())?,
                    ),
                ))
            })
            .collect();
        let batch: Vec<AwsSecurityFinding> = current
            .iter()
            .map(|f| {
                let mut sdk = to_sdk(f);
                if let Some((created, first)) = first_seen.get(f.id.as_str()) {
                    sdk.created_at = Some((*created).to_owned());
                    sdk.first_observed_at = Some((*first).to_owned());
                }
                sdk
            })
            .collect();
        let (done, errors) = send(&client, &region, batch).await;
        report.imported += done;
        report.errors.extend(errors);
        let sent: BTreeSet<&str> = current.iter().map(|f| f.id.as_str()).collect();
        let gone: Vec<AwsSecurityFinding> = existing
            .iter()
            .filter(|f| {
                let rule_ran = f
                    .product_fields
                    .as_ref()
                    .and_then(|p| p.get(RULE_FIELD))
                    .is_some_and(|r| request.rules.contains(r));
                rule_ran
                    && request.gone.covers(f)
                    && f.id.as_deref().is_some_and(|id| !sent.contains(id))
            })
            .map(|f| {
                let mut gone = f.clone();
                gone.record_state = Some(RecordState::Archived);
                gone.updated_at = Some(request.now.clone());
                gone
            })
            .collect();
        if !gone.is_empty() {
            stale.push((region.clone(), gone));
        }
    }
    // Then, only when everything was read and accepted, what is gone.
    if !request.archive {
        report.notes.push(
            "nothing was archived: the scan had errors, so a finding missing from it may only be unread".to_owned(),
        );
    } else if !report.errors.is_empty() {
        report
            .notes
            .push("nothing was archived: not every finding reached Security Hub".to_owned());
    } else {
        for (region, gone) in stale {
            let (done, errors) = send(&client(&config, &region), &region, gone).await;
            report.archived += done;
            report.errors.extend(errors);
        }
    }
    report
}

/// The active ecsguard findings this account filed in a region, every page.
async fn existing(
    client: &aws_sdk_securityhub::Client,
    caller: &Caller,
    region: &str,
) -> Result<Vec<AwsSecurityFinding>, String> {
    let product = ecsguard_core::asff::product_arn(&caller.partition, region, &caller.account);
    let filters = AwsSecurityFindingFilters::builder()
        .product_arn(equals(&product))
        .generator_id(
            StringFilter::builder()
                .comparison(StringFilterComparison::Prefix)
                .value(GENERATOR_PREFIX)
                .build(),
        )
        .record_state(equals("ACTIVE"))
        .build();
    Ok(get_all(client, filters, region)
        .await?
        .into_iter()
        .filter(|f| {
            f.product_arn.as_deref() == Some(product.as_str())
                && f.generator_id
                    .as_deref()
                    .is_some_and(|g| g.starts_with(GENERATOR_PREFIX))
                && f.record_state.as_ref() != Some(&RecordState::Archived)
        })
        .collect())
}

/// `BatchImportFindings`, 100 at a time: how many were accepted, and the
/// errors (refused findings named).
async fn send(
    client: &aws_sdk_securityhub::Client,
    region: &str,
    findings: Vec<AwsSecurityFinding>,
) -> (usize, Vec<String>) {
    let mut done = 0;
    let mut errors = Vec::new();
    for chunk in findings.chunks(BATCH) {
        match client
            .batch_import_findings()
            .set_findings(Some(chunk.to_vec()))
            .send()
            .await
        {
            Ok(out) => {
                for f in out.failed_findings() {
                    errors.push(format!(
                        "Security Hub in {region} refused finding {}: {}: {}",
                        f.id().unwrap_or("?"),
                        f.error_code().unwrap_or("?"),
                        f.error_message().unwrap_or("no message")
                    ));
                }
                done += chunk.len().saturating_sub(out.failed_findings().len());
            }
            Err(e) => errors.push(message(
                &format!(
                    "cannot import {} findings into Security Hub in {region}",
                    chunk.len()
                ),
                &e,
            )),
        }
    }
    (done, errors)
}

/// The SDK's shape of a finding.
pub fn to_sdk(f: &AsffFinding) -> AwsSecurityFinding {
    let resources = f
        .resources
        .iter()
        .map(|r| {
            let mut b = Resource::builder()
                .r#type(r.kind)
                .id(&r.id)
                .partition(r.partition.as_str().into())
                .region(&r.region);
            if let Some(d) = &r.details {
                b = b.details(
                    ResourceDetails::builder()
                        .set_other(Some(d.other.clone().into_iter().collect()))
                        .build(),
                );
            }
            b.build()
        })
        .collect();
    let fields: HashMap<String, String> = f.product_fields.clone().into_iter().collect();
    AwsSecurityFinding::builder()
        .schema_version(f.schema_version)
        .id(&f.id)
        .product_arn(&f.product_arn)
        .product_name(f.product_name)
        .company_name(f.company_name)
        .generator_id(&f.generator_id)
        .aws_account_id(&f.aws_account_id)
        .region(&f.region)
        .set_types(Some(f.types.iter().map(|t| (*t).to_owned()).collect()))
        .first_observed_at(&f.first_observed_at)
        .last_observed_at(&f.last_observed_at)
        .created_at(&f.created_at)
        .updated_at(&f.updated_at)
        .severity(
            Severity::builder()
                .label(SeverityLabel::from(f.severity.label))
                .original(f.severity.original)
                .build(),
        )
        .title(&f.title)
        .description(&f.description)
        .remediation(
            Remediation::builder()
                .recommendation(
                    Recommendation::builder()
                        .text(&f.remediation.recommendation.text)
                        .url(&f.remediation.recommendation.url)
                        .build(),
                )
                .build(),
        )
        .set_product_fields(Some(fields))
        .set_resources(Some(resources))
        .compliance(
            Compliance::builder()
                .status(ComplianceStatus::Failed)
                .set_security_control_id(f.compliance.security_control_id.map(str::to_owned))
                .set_related_requirements((!f.compliance.related_requirements.is_empty()).then(
                    || {
                        f.compliance
                            .related_requirements
                            .iter()
                            .map(|r| (*r).to_owned())
                            .collect()
                    },
                ))
                .build(),
        )
        .record_state(RecordState::Active)
        .build()
}

/// One active, failed ECS.8 finding, resolved to its task definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ecs8Finding {
    pub id: String,
    pub product_arn: String,
    /// The region it was read from (where it is updated).
    pub home_region: String,
    /// The task definition's ARN, and what it names.
    pub arn: String,
    /// How many task definitions the finding names (a finding is resolved
    /// only when every one was fixed).
    pub names: usize,
    pub account: String,
    pub region: String,
    pub family: String,
    pub revision: Option<u32>,
}

/// Whether a finding is Security Hub's own control finding for ECS.8, in
/// any of the shapes Security Hub has written: `Compliance.SecurityControlId`
/// or `GeneratorId` `security-control/ECS.8` (consolidated control findings),
/// or a per-standard `GeneratorId` (`…/v/1.0.0/ECS.8`) together with
/// `ProductFields.ControlId`. Findings of other products (ecsguard's own
/// among them) are not taken: they do not say what Security Hub checked.
fn is_ecs8(f: &AwsSecurityFinding) -> bool {
    let own = f
        .product_arn
        .as_deref()
        .is_some_and(|p| p.ends_with(":product/aws/securityhub"));
    let control = f
        .compliance
        .as_ref()
        .and_then(|c| c.security_control_id.as_deref())
        == Some("ECS.8");
    let field = f
        .product_fields
        .as_ref()
        .and_then(|p| p.get("ControlId"))
        .map(String::as_str)
        == Some("ECS.8");
    let generator = f.generator_id.as_deref().unwrap_or_default();
    own && (control
        || generator == "security-control/ECS.8"
        || (field && generator.ends_with("/ECS.8")))
}

/// The variables of a registered revision that still fail ECS.8 (named
/// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` or `ECS_ENGINE_AUTH_DATA`
/// in `environment`): what a fix must have left none of before its
/// Security Hub finding is resolved.
pub async fn ecs8_left(options: &LiveOptions, arn: &str) -> Result<Vec<String>, String> {
    let config = base_config(options).await?;
    let (region, account, ..) =
        task_definition(arn).ok_or_else(|| format!("{arn} is not a task definition ARN"))?;
    let ecs = aws_sdk_ecs::Client::from_conf(
        aws_sdk_ecs::config::Builder::from(&config)
            .region(Region::new(region.clone()))
            .build(),
    );
    let out = ecs
        .describe_task_definition()
        .task_definition(arn)
        .send()
        .await
        .map_err(|e| message(&format!("cannot describe {arn}"), &e))?;
    let td = out
        .task_definition()
        .ok_or_else(|| format!("{arn} was described without a task definition"))?;
    let model = crate::convert::task_definition(td, &account, &region);
    let rules = ecsguard_core::RuleConfig {
        ruleset: ecsguard_core::Ruleset::SecurityHub,
        ..ecsguard_core::RuleConfig::default()
    };
    Ok(ecsguard_core::check(&model, &rules)
        .into_iter()
        .map(|f| f.variable)
        .collect())
}

/// `arn:aws:ecs:REGION:ACCOUNT:task-definition/FAMILY:REVISION` → parts.
fn task_definition(arn: &str) -> Option<(String, String, String, Option<u32>)> {
    let mut parts = arn.splitn(6, ':');
    let (_, _, service, region, account) = (
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
    );
    let rest = parts.next()?.strip_prefix("task-definition/")?;
    if service != "ecs" || region.is_empty() || account.is_empty() || rest.is_empty() {
        return None;
    }
    let (family, revision) = match rest.rsplit_once(':') {
        Some((family, rev)) => (family, Some(rev.parse().ok()?)),
        None => (rest, None),
    };
    Some((
        region.to_owned(),
        account.to_owned(),
        family.to_owned(),
        revision,
    ))
}

/// The active, failed ECS.8 findings in `options`' regions (or the
/// configured one), each resolved to its task definition. Findings that
/// cannot be resolved, or that are about another account, are errors.
pub async fn ecs8_findings(options: &LiveOptions) -> (Vec<Ecs8Finding>, Vec<String>) {
    let mut errors = Vec::new();
    let config = match base_config(options).await {
        Ok(c) => c,
        Err(e) => return (Vec::new(), vec![e]),
    };
    let caller = match caller_of(&config).await {
        Ok(c) => c,
        Err(e) => return (Vec::new(), vec![e]),
    };
    let regions: Vec<String> = if options.regions.is_empty() {
        vec![caller.region.clone()]
    } else {
        options.regions.clone()
    };
    let mut found: BTreeMap<String, Ecs8Finding> = BTreeMap::new();
    for region in regions {
        let client = client(&config, &region);
        // Not filtered by control id: findings from before consolidated
        // control findings have none. The control is checked below.
        let filters = AwsSecurityFindingFilters::builder()
            .compliance_status(equals("FAILED"))
            .record_state(equals("ACTIVE"))
            .workflow_status(equals("NEW"))
            .workflow_status(equals("NOTIFIED"))
            .resource_type(equals("AwsEcsTaskDefinition"))
            .build();
        let all = match get_all(&client, filters, &region).await {
            Ok(all) => all,
            Err(e) => {
                errors.push(e);
                continue;
            }
        };
        for f in all {
            let active = f.record_state.as_ref() != Some(&RecordState::Archived);
            let failed = f
                .compliance
                .as_ref()
                .and_then(|c| c.status.as_ref())
                .is_some_and(|s| *s == ComplianceStatus::Failed);
            let open = f
                .workflow
                .as_ref()
                .and_then(|w| w.status.as_ref())
                .is_none_or(|s| matches!(s, WorkflowStatus::New | WorkflowStatus::Notified));
            if !(is_ecs8(&f) && active && failed && open) {
                continue;
            }
            let (Some(id), Some(product_arn)) = (f.id.clone(), f.product_arn.clone()) else {
                continue;
            };
            let resources: Vec<&Resource> = f
                .resources()
                .iter()
                .filter(|r| r.r#type.as_deref() == Some("AwsEcsTaskDefinition"))
                .collect();
            if resources.is_empty() {
                continue;
            }
            let names = resources.len();
            for r in resources {
                let arn = r.id.clone().unwrap_or_default();
                let Some((td_region, account, family, revision)) = task_definition(&arn) else {
                    errors.push(format!(
                        "Security Hub finding {id} names {arn:?}, which is not a task definition ARN; it was left alone"
                    ));
                    continue;
                };
                if account != caller.account {
                    errors.push(format!(
                        "Security Hub finding {id} is about {arn} in account {account}; these credentials are {}'s: fix it with --role-arn into that account",
                        caller.account
                    ));
                    continue;
                }
                found.insert(
                    format!("{id}\u{0}{arn}"),
                    Ecs8Finding {
                        id: id.clone(),
                        product_arn: product_arn.clone(),
                        home_region: region.clone(),
                        names,
                        arn,
                        account,
                        region: td_region,
                        family,
                        revision,
                    },
                );
            }
        }
    }
    (found.into_values().collect(), errors)
}

/// Sets the findings' workflow status to `RESOLVED`, with `note`
/// (`BatchUpdateFindings`, 100 at a time, in the region each was read
/// from). Returns the errors; findings not processed are named.
pub async fn mark_resolved(
    options: &LiveOptions,
    findings: &[&Ecs8Finding],
    note: &str,
) -> Vec<String> {
    let config = match base_config(options).await {
        Ok(c) => c,
        Err(e) => return vec![e],
    };
    let mut by_region: BTreeMap<&str, Vec<&Ecs8Finding>> = BTreeMap::new();
    for f in findings {
        by_region.entry(f.home_region.as_str()).or_default().push(f);
    }
    let mut errors = Vec::new();
    for (region, list) in by_region {
        let client = client(&config, region);
        // One finding may name several task definitions: update it once.
        let mut ids: Vec<(&str, &str)> = list
            .iter()
            .map(|f| (f.id.as_str(), f.product_arn.as_str()))
            .collect();
        ids.sort_unstable();
        ids.dedup();
        for chunk in ids.chunks(BATCH) {
            let identifiers = chunk
                .iter()
                .map(|(id, product)| {
                    AwsSecurityFindingIdentifier::builder()
                        .id(*id)
                        .product_arn(*product)
                        .build()
                })
                .collect();
            match client
                .batch_update_findings()
                .set_finding_identifiers(Some(identifiers))
                .workflow(
                    WorkflowUpdate::builder()
                        .status(WorkflowStatus::Resolved)
                        .build(),
                )
                .note(
                    NoteUpdate::builder()
                        .text(note)
                        .updated_by("ecsguard")
                        .build(),
                )
                .send()
                .await
            {
                Ok(out) => {
                    for u in out.unprocessed_findings() {
                        errors.push(format!(
                            "Security Hub in {region} did not mark finding {} RESOLVED: {}: {}",
                            u.finding_identifier().and_then(|i| i.id()).unwrap_or("?"),
                            u.error_code().unwrap_or("?"),
                            u.error_message().unwrap_or("no message")
                        ));
                    }
                }
                Err(e) => errors.push(message(
                    &format!(
                        "cannot mark {} findings RESOLVED in Security Hub in {region}",
                        chunk.len()
                    ),
                    &e,
                )),
            }
        }
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_definition_arns_resolve() {
        assert_eq!(
            task_definition("arn:aws:ecs:eu-west-1:123456789012:task-definition/billing-api:14"),
            Some((
                "eu-west-1".into(),
                "123456789012".into(),
                "billing-api".into(),
                Some(14)
            ))
        );
        assert_eq!(
            task_definition("arn:aws-cn:ecs:cn-north-1:1:task-definition/a"),
            Some(("cn-north-1".into(), "1".into(), "a".into(), None))
        );
        for bad in [
            "arn:aws:ecs:eu-west-1:1:service/c/s",
            "arn:aws:ecs::1:task-definition/a:1",
            "arn:aws:ecs:eu-west-1:1:task-definition/a:x",
            "not an arn",
        ] {
            assert_eq!(task_definition(bad), None, "{bad}");
        }
    }
}
