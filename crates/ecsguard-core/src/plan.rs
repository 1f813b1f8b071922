//! Remediation plans: which variables move where, and what the execution role
//! must be allowed to read. Pure: ARNs are computed, nothing is called.

use crate::finding::{Finding, RuleId};

/// Where values are stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreKind {
    /// One SSM `SecureString` per variable, named `<prefix>/<family>/<container>/<VAR>`.
    Ssm,
    /// One Secrets Manager secret per container, named `<prefix>/<family>/<container>`,
    /// with a JSON key per variable.
    SecretsManager,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreSettings {
    pub kind: StoreKind,
    /// `/ecsguard` by default.
    pub prefix: String,
    /// A customer managed key (id or ARN), or the AWS managed default.
    pub kms_key_id: Option<String>,
}

/// The execution role the new revision will use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RolePlan {
    Existing {
        arn: String,
        name: String,
    },
    /// The task definition has none: create one trusted by `ecs-tasks.amazonaws.com`.
    Create {
        name: String,
    },
}

/// One variable to move from `environment` to `secrets`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Move {
    pub container: String,
    pub variable: String,
    /// SSM parameter name, or Secrets Manager secret name.
    pub store_name: String,
    /// For Secrets Manager: the JSON key in the secret.
    pub json_key: Option<String>,
}

/// The plan for one task definition revision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FamilyPlan {
    pub family: String,
    pub old_arn: String,
    pub account: String,
    pub region: String,
    pub partition: String,
    pub store: StoreSettings,
    pub moves: Vec<Move>,
    pub role: RolePlan,
    pub policy_name: String,
    /// `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` were found: a task role is better.
    pub static_aws_keys: bool,
}

/// Why a plan cannot be made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanError(pub String);

impl std::fmt::Display for PlanError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// `arn:partition:service:region:account:...` parts of an ARN.
fn arn_part(arn: &str, i: usize) -> Option<&str> {
    arn.split(':').nth(i).filter(|s| !s.is_empty())
}

/// The role name at the end of a role ARN (`arn:aws:iam::1:role/path/name` → `name`).
pub fn role_name(arn: &str) -> Option<&str> {
    arn.split_once(":role/")
        .and_then(|(_, rest)| rest.rsplit('/').next())
        .filter(|s| !s.is_empty())
}

fn clean_prefix(prefix: &str) -> String {
    let trimmed = prefix.trim_matches('/');
    if trimmed.is_empty() {
        String::new()
    } else {
        format!("/{trimmed}")
    }
}

/// Names allowed in SSM parameter and Secrets Manager names.
fn safe(segment: &str) -> String {
    segment
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Where each finding's value goes: one parameter per variable, or one
/// secret per container with a JSON key per variable. Names never collide.
pub fn plan_moves(
    family: &str,
    findings: &[&Finding],
    store: &StoreSettings,
) -> Result<Vec<Move>, PlanError> {
    let prefix = clean_prefix(&store.prefix);
    let mut moves: Vec<Move> = Vec::new();
    for f in findings {
        let container = f.container.clone().unwrap_or_default();
        if moves
            .iter()
            .any(|m| m.container == container && m.variable == f.variable)
        {
            continue;
        }
        let base = format!("{prefix}/{}/{}", safe(family), safe(&container));
        let (store_name, json_key) = match store.kind {
            StoreKind::Ssm => (format!("{base}/{}", safe(&f.variable)), None),
            // Secrets Manager names do not start with a slash.
            StoreKind::SecretsManager => {
                // `valueFrom` is `arn:…:secret:NAME:KEY::`: ECS would split a key at its colon.
                if f.variable.contains(':') {
                    return Err(PlanError(format!(
                        "`{}` contains `:`, which ECS would read as the end of the JSON key in `valueFrom`; use --store ssm for this family",
                        f.variable
                    )));
                }
                (
                    base.trim_start_matches('/').to_owned(),
                    Some(f.variable.clone()),
                )
            }
        };
        moves.push(Move {
            container,
            variable: f.variable.clone(),
            store_name,
            json_key,
        });
    }
    moves.sort_by(|a, b| (&a.container, &a.variable).cmp(&(&b.container, &b.variable)));
    // Two variables whose names map to one parameter (`API KEY`, `API/KEY`
    // and `API_KEY`) would share it and lose a value: each gets a suffix
    // made from its own name.
    if store.kind == StoreKind::Ssm {
        let mut counts: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
        for m in &moves {
            *counts.entry(m.store_name.clone()).or_default() += 1;
        }
        for m in &mut moves {
            if counts.get(&m.store_name).copied().unwrap_or(0) > 1 {
                m.store_name = format!("{}-{}", m.store_name, short_hash(&m.variable));
            }
        }
    }
    Ok(moves)
}

/// Builds the plan for one task definition from its findings.
pub fn plan_family(
    old_arn: &str,
    family: &str,
    execution_role_arn: Option<&str>,
    findings: &[&Finding],
    store: &StoreSettings,
) -> Result<FamilyPlan, PlanError> {
    let (Some(partition), Some(region), Some(account)) = (
        arn_part(old_arn, 1),
        arn_part(old_arn, 3),
        arn_part(old_arn, 4),
    ) else {
        return Err(PlanError(format!("not a task definition ARN: {old_arn}")));
    };
    if let Some(key) = &store.kms_key_id {
        if key.starts_with("alias/") {
            return Err(PlanError(
                "--kms-key-id must be a key id or key ARN: an alias cannot be granted kms:Decrypt"
                    .into(),
            ));
        }
    }
    let moves = plan_moves(family, findings, store)?;
    let role = match execution_role_arn.and_then(|arn| role_name(arn).map(|n| (arn, n))) {
        Some((arn, name)) => RolePlan::Existing {
            arn: arn.to_owned(),
            name: name.to_owned(),
        },
        None => RolePlan::Create {
            name: unique_name(&format!("ecsguard-execution-{}", safe(family)), 64),
        },
    };
    let static_aws_keys = findings.iter().any(|f| {
        f.rule == RuleId::KnownCredentialVariable
            && (f.variable == "AWS_ACCESS_KEY_ID" || f.variable == "AWS_SECRET_ACCESS_KEY")
    });
    Ok(FamilyPlan {
        family: family.to_owned(),
        old_arn: old_arn.to_owned(),
        account: account.to_owned(),
        region: region.to_owned(),
        partition: partition.to_owned(),
        store: store.clone(),
        moves,
        role,
        // One policy per fix (family, region and revision): IAM is global, so
        // a later fix, or the same family's fix in another region, adds its
        // own grant and never replaces one an older revision still needs.
        policy_name: unique_name(
            &format!(
                "ecsguard-secrets-{}-{region}-{}",
                safe(family),
                old_arn.rsplit(':').next().unwrap_or_default()
            ),
            128,
        ),
        static_aws_keys,
    })
}

/// A name of at most `max` characters: the name itself when it fits;
/// otherwise truncated and ended with a hash of the whole, so two long names
/// that truncate alike stay apart.
pub fn unique_name(name: &str, max: usize) -> String {
    if name.chars().count() <= max {
        return name.to_owned();
    }
    let hash = short_hash(name);
    let keep: String = name.chars().take(max - hash.len() - 1).collect();
    format!("{keep}-{hash}")
}

/// Eight hex digits of SHA-256: enough to tell generated names apart.
fn short_hash(s: &str) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(s.as_bytes())
        .iter()
        .take(4)
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl FamilyPlan {
    /// The ARN of an SSM parameter this plan writes.
    pub fn parameter_arn(&self, name: &str) -> String {
        format!(
            "arn:{}:ssm:{}:{}:parameter/{}",
            self.partition,
            self.region,
            self.account,
            name.trim_start_matches('/')
        )
    }

    /// The KMS key ARN to allow `kms:Decrypt` on, for a customer managed key.
    pub fn kms_key_arn(&self) -> Option<String> {
        let key = self.store.kms_key_id.as_ref()?;
        Some(if key.starts_with("arn:") {
            key.clone()
        } else {
            format!(
                "arn:{}:kms:{}:{}:key/{key}",
                self.partition, self.region, self.account
            )
        })
    }

    /// The store names this plan writes, each once (a Secrets Manager secret holds several variables).
    pub fn store_names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.moves.iter().map(|m| m.store_name.as_str()).collect();
        names.dedup();
        names
    }

    /// `valueFrom` for a move, given the ARN of what it was stored in.
    pub fn value_from(&self, m: &Move, stored_arn: &str) -> String {
        match &m.json_key {
            // `arn:…:secret:NAME-AbCdEf:KEY::` (JSON key, default stage, current version).
            Some(key) => format!("{stored_arn}:{key}::"),
            None => stored_arn.to_owned(),
        }
    }

    /// The inline policy for the execution role: exactly the stored ARNs.
    pub fn policy_document(&self, stored_arns: &[String]) -> String {
        read_policy(&self.store.kind, stored_arns, self.kms_key_arn().as_deref())
    }
}

/// The least-privilege policy that lets an execution role read exactly
/// these ARNs (and decrypt with a customer managed key).
pub fn read_policy(kind: &StoreKind, arns: &[String], kms_key_arn: Option<&str>) -> String {
    let kinds: Vec<(StoreKind, &String)> = arns.iter().map(|a| (kind.clone(), a)).collect();
    policy_of(&kinds, kms_key_arn)
}

/// Which store an IAM resource is in, told by its ARN (or by the Terraform
/// expression that yields it); a parameter unless it is plainly a secret.
pub fn store_of(resource: &str) -> StoreKind {
    let ssm = resource.contains(":ssm:") || resource.contains("aws_ssm_parameter.");
    // A CloudFormation `!Ref` is of a secret declared in the template
    // (CloudFormation cannot declare a SecureString parameter).
    let declared_secret = resource.starts_with("!Ref ");
    if !ssm
        && (declared_secret
            || resource.contains(":secretsmanager:")
            || resource.contains("aws_secretsmanager_"))
    {
        StoreKind::SecretsManager
    } else {
        StoreKind::Ssm
    }
}

/// The same for resources of either store, each told apart by its ARN (or
/// by the Terraform expression that yields it).
/// The customer key as an IAM policy names it for `kms:Decrypt`: a key ARN
/// as it is; an alias (`alias/x`, or its ARN), which IAM does not accept as
/// the resource of a key operation, becomes every key of its account and
/// region, with the alias as the condition (`kms:ResourceAliases`).
pub fn kms_grant(key: &str) -> (String, Option<String>) {
    match key.split_once(":alias/") {
        Some((head, alias)) if key.starts_with("arn:") => {
            (format!("{head}:key/*"), Some(format!("alias/{alias}")))
        }
        _ => (key.to_owned(), None),
    }
}

/// The ARN form of `--kms-key-id` (a key id, a key ARN, an alias or an
/// alias ARN), with `region` and `account` where they are not written.
pub fn kms_key_arn(key: &str, region: &str, account: &str) -> String {
    if key.starts_with("arn:") {
        key.to_owned()
    } else if key.starts_with("alias/") {
        format!("arn:aws:kms:{region}:{account}:{key}")
    } else {
        format!("arn:aws:kms:{region}:{account}:key/{key}")
    }
}

pub fn read_policy_for(resources: &[String], kms_key_arn: Option<&str>) -> String {
    let kinds: Vec<(StoreKind, &String)> = resources.iter().map(|r| (store_of(r), r)).collect();
    policy_of(&kinds, kms_key_arn)
}

fn policy_of(resources: &[(StoreKind, &String)], kms_key_arn: Option<&str>) -> String {
    let mut statements = Vec::new();
    for (kind, sid, action) in [
        (StoreKind::Ssm, "ReadMovedParameters", "ssm:GetParameters"),
        (
            StoreKind::SecretsManager,
            "ReadMovedSecrets",
            "secretsmanager:GetSecretValue",
        ),
    ] {
        let mut arns: Vec<&String> = resources
            .iter()
            .filter(|(k, _)| *k == kind)
            .map(|(_, a)| *a)
            .collect();
        if arns.is_empty() {
            continue;
        }
        arns.sort();
        arns.dedup();
        let quoted: Vec<String> = arns.iter().map(|r| format!("\"{r}\"")).collect();
        statements.push(format!(
            "{{\"Sid\":\"{sid}\",\"Effect\":\"Allow\",\"Action\":[\"{action}\"],\"Resource\":[{}]}}",
            quoted.join(",")
        ));
    }
    if let Some(key) = kms_key_arn {
        let (resource, alias) = kms_grant(key);
        let condition = alias
            .map(|a| {
                format!(
                    ",\"Condition\":{{\"ForAnyValue:StringEquals\":{{\"kms:ResourceAliases\":\"{}\"}}}}",
                    a.replace('\\', "\\\\").replace('"', "\\\"")
                )
            })
            .unwrap_or_default();
        statements.push(format!(
            "{{\"Sid\":\"DecryptMovedSecrets\",\"Effect\":\"Allow\",\"Action\":[\"kms:Decrypt\"],\"Resource\":[\"{resource}\"]{condition}}}"
        ));
    }
    format!(
        "{{\"Version\":\"2012-10-17\",\"Statement\":[{}]}}",
        statements.join(",")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_alias_is_granted_through_a_condition() {
        let alias = kms_key_arn("alias/app", "REGION", "ACCOUNT");
        assert_eq!(alias, "arn:aws:kms:REGION:ACCOUNT:alias/app");
        assert_eq!(
            kms_grant(&alias),
            (
                "arn:aws:kms:REGION:ACCOUNT:key/*".to_owned(),
                Some("alias/app".to_owned())
            )
        );
        let key = kms_key_arn("1234abcd", "eu-west-1", "111122223333");
        assert_eq!(key, "arn:aws:kms:eu-west-1:111122223333:key/1234abcd");
        assert_eq!(kms_grant(&key), (key.clone(), None));
        let policy = read_policy_for(&[], Some(&alias));
        let v: serde_json::Value = serde_json::from_str(&policy).expect("policy is JSON");
        assert_eq!(
            v["Statement"][0]["Condition"]["ForAnyValue:StringEquals"]["kms:ResourceAliases"],
            "alias/app"
        );
    }
    use crate::finding::Severity;
    use crate::model::Location;

    fn finding(container: &str, variable: &str, rule: RuleId) -> Finding {
        Finding {
            rule,
            severity: Severity::High,
            message: String::new(),
            family: Some("billing".into()),
            revision: Some(3),
            container: Some(container.into()),
            variable: variable.into(),
            value_location: None,
            origin: crate::model::Origin::Live,
            spans: None,
            location: Location::Live {
                arn: String::new(),
                account: String::new(),
                region: String::new(),
            },
            detectors: vec![],
            redacted: None,
            reference: None,
            fingerprint: String::new(),
        }
    }

    const ARN: &str = "arn:aws:ecs:eu-west-1:111122223333:task-definition/billing:3";

    #[test]
    fn ssm_plan_names_parameters_and_grants_exactly_them() {
        let fs = [
            finding("api", "DB_PASSWORD", RuleId::SecretNamedVariable),
            finding(
                "api",
                "AWS_SECRET_ACCESS_KEY",
                RuleId::KnownCredentialVariable,
            ),
        ];
        let refs: Vec<&Finding> = fs.iter().collect();
        let store = StoreSettings {
            kind: StoreKind::Ssm,
            prefix: "/ecsguard/".into(),
            kms_key_id: None,
        };
        let plan = plan_family(
            ARN,
            "billing",
            Some("arn:aws:iam::111122223333:role/service/ecsTaskExecutionRole"),
            &refs,
            &store,
        )
        .expect("plan");
        assert_eq!(
            plan.moves[1].store_name,
            "/ecsguard/billing/api/DB_PASSWORD"
        );
        assert_eq!(
            plan.role,
            RolePlan::Existing {
                arn: "arn:aws:iam::111122223333:role/service/ecsTaskExecutionRole".into(),
                name: "ecsTaskExecutionRole".into()
            }
        );
        assert!(plan.static_aws_keys);
        let arn = plan.parameter_arn(&plan.moves[1].store_name);
        assert_eq!(
            arn,
            "arn:aws:ssm:eu-west-1:111122223333:parameter/ecsguard/billing/api/DB_PASSWORD"
        );
        let policy = plan.policy_document(std::slice::from_ref(&arn));
        assert!(policy.contains(&arn) && !policy.contains('*'), "{policy}");
        assert!(policy.contains("ssm:GetParameters"));
    }

    #[test]
    fn secrets_manager_plan_groups_by_container_and_needs_a_role() {
        let fs = [
            finding("api", "A_TOKEN", RuleId::SecretNamedVariable),
            finding("api", "B_TOKEN", RuleId::SecretNamedVariable),
            finding("worker", "C_TOKEN", RuleId::SecretNamedVariable),
        ];
        let refs: Vec<&Finding> = fs.iter().collect();
        let store = StoreSettings {
            kind: StoreKind::SecretsManager,
            prefix: "/ecsguard".into(),
            kms_key_id: Some("1234abcd-12ab-34cd-56ef-1234567890ab".into()),
        };
        let plan = plan_family(ARN, "billing", None, &refs, &store).expect("plan");
        assert_eq!(
            plan.store_names(),
            ["ecsguard/billing/api", "ecsguard/billing/worker"]
        );
        assert_eq!(
            plan.role,
            RolePlan::Create {
                name: "ecsguard-execution-billing".into()
            }
        );
        let secret =
            "arn:aws:secretsmanager:eu-west-1:111122223333:secret:ecsguard/billing/api-AbCdEf";
        assert_eq!(
            plan.value_from(&plan.moves[0], secret),
            format!("{secret}:A_TOKEN::")
        );
        let policy = plan.policy_document(&[secret.to_owned()]);
        assert!(
            policy.contains("kms:Decrypt")
                && policy.contains("key/1234abcd-12ab-34cd-56ef-1234567890ab"),
            "{policy}"
        );
        assert!(!policy.contains('*'));
    }

    #[test]
    fn names_that_map_to_one_parameter_stay_apart() {
        let fs = [
            finding("api", "API KEY", RuleId::SecretNamedVariable),
            finding("api", "API/KEY", RuleId::SecretNamedVariable),
            finding("api", "API_KEY", RuleId::SecretNamedVariable),
            finding("api", "OTHER", RuleId::SecretNamedVariable),
        ];
        let refs: Vec<&Finding> = fs.iter().collect();
        let store = StoreSettings {
            kind: StoreKind::Ssm,
            prefix: "/ecsguard".into(),
            kms_key_id: None,
        };
        let plan = plan_family(ARN, "billing", None, &refs, &store).expect("plan");
        let names: std::collections::HashSet<&str> =
            plan.moves.iter().map(|m| m.store_name.as_str()).collect();
        assert_eq!(names.len(), 4, "{names:?}");
        assert!(names.contains("/ecsguard/billing/api/OTHER"));
    }

    #[test]
    fn a_colon_in_a_secrets_manager_key_is_refused() {
        let fs = [finding("api", "DB:PASSWORD", RuleId::SecretNamedVariable)];
        let refs: Vec<&Finding> = fs.iter().collect();
        let store = StoreSettings {
            kind: StoreKind::SecretsManager,
            prefix: "/ecsguard".into(),
            kms_key_id: None,
        };
        let err = plan_family(ARN, "billing", None, &refs, &store).err();
        assert!(err.is_some_and(|e| e.0.contains("--store ssm")));
    }

    #[test]
    fn policies_are_per_fix_and_long_names_stay_unique() {
        let store = StoreSettings {
            kind: StoreKind::Ssm,
            prefix: "/ecsguard".into(),
            kms_key_id: None,
        };
        let fs = [finding("api", "DB_PASSWORD", RuleId::SecretNamedVariable)];
        let refs: Vec<&Finding> = fs.iter().collect();
        let r3 = plan_family(ARN, "billing", None, &refs, &store).expect("plan");
        let r4 =
            plan_family(&ARN.replace(":3", ":4"), "billing", None, &refs, &store).expect("plan");
        let other_region = plan_family(
            &ARN.replace("eu-west-1", "us-east-1"),
            "billing",
            None,
            &refs,
            &store,
        )
        .expect("plan");
        assert_eq!(r3.policy_name, "ecsguard-secrets-billing-eu-west-1-3");
        assert_ne!(r3.policy_name, r4.policy_name);
        assert_ne!(r3.policy_name, other_region.policy_name);
        let long_a = format!("{}-a", "x".repeat(200));
        let long_b = format!("{}-b", "x".repeat(200));
        let a = plan_family(ARN, &long_a, None, &refs, &store).expect("plan");
        let b = plan_family(ARN, &long_b, None, &refs, &store).expect("plan");
        assert_ne!(a.policy_name, b.policy_name);
        assert!(a.policy_name.len() <= 128);
        let (RolePlan::Create { name: ra }, RolePlan::Create { name: rb }) = (&a.role, &b.role)
        else {
            panic!("roles")
        };
        assert_ne!(ra, rb);
        assert!(ra.len() <= 64);
    }

    #[test]
    fn aliases_are_refused() {
        let store = StoreSettings {
            kind: StoreKind::Ssm,
            prefix: "/x".into(),
            kms_key_id: Some("alias/mine".into()),
        };
        assert!(plan_family(ARN, "billing", None, &[], &store).is_err());
    }
}

#[cfg(test)]
mod policy_tests {
    use super::*;

    #[test]
    fn each_resource_gets_its_own_store_action() {
        let doc = read_policy_for(
            &[
                "${data.aws_secretsmanager_secret_version.api.arn}".to_owned(),
                "${data.aws_ssm_parameter.db.arn}".to_owned(),
                "arn:aws:ssm:REGION:ACCOUNT:parameter/secretsmanager-migration/x".to_owned(),
                "arn:aws:secretsmanager:us-east-1:1:secret:app-AbCdEf".to_owned(),
            ],
            None,
        );
        assert!(
            doc.contains(r#""Action":["secretsmanager:GetSecretValue"],"Resource":["${data.aws_secretsmanager_secret_version.api.arn}","arn:aws:secretsmanager:us-east-1:1:secret:app-AbCdEf"]"#),
            "{doc}"
        );
        assert!(
            doc.contains(r#""Action":["ssm:GetParameters"],"Resource":["${data.aws_ssm_parameter.db.arn}","arn:aws:ssm:REGION:ACCOUNT:parameter/secretsmanager-migration/x"]"#),
            "{doc}"
        );
    }
}
