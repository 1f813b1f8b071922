//! Rendering a fix plan (and what applying it did), as text or JSON. Names
//! and ARNs only: a plan never holds a value.

use std::fmt::Write as _;

use ecsguard_aws::fix::FamilyFix;
use ecsguard_aws::FixReport;
use ecsguard_core::plan::{RolePlan, StoreKind};
use serde_json::json;

fn value_from_preview(f: &FamilyFix, m: &ecsguard_core::plan::Move) -> String {
    f.plan.value_from(m, &stored_arn_preview(f, &m.store_name))
}

/// The ARN a move is stored under: as recorded, or as it will be.
fn stored_arn_preview(f: &FamilyFix, name: &str) -> String {
    f.journal
        .as_ref()
        .and_then(|j| j.stored(name))
        .map(|s| s.arn.clone())
        .unwrap_or_else(|| match f.plan.store.kind {
            StoreKind::Ssm => f.plan.parameter_arn(name),
            // The random suffix is known once the secret exists.
            StoreKind::SecretsManager => format!(
                "arn:{}:secretsmanager:{}:{}:secret:{}-??????",
                f.plan.partition, f.plan.region, f.plan.account, name
            ),
        })
}

fn notes(f: &FamilyFix) -> Vec<String> {
    let mut notes = vec![format!(
        "rotate the exposed values: revisions 1 to {} of {} can still be read with ecs:DescribeTaskDefinition (deregistered ones too); --deregister-old deregisters {} once no service uses it",
        f.exposed_revisions, f.plan.family, f.plan.old_arn
    )];
    for (s, td) in &f.older_services {
        notes.push(format!(
            "service {} in {} runs an older revision ({td}) that holds the same values; it is not moved: deploy the fixed revision to it, then rotate",
            s.service, s.cluster
        ));
    }
    if f.plan.static_aws_keys {
        notes.push("AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY are static keys: give the task a task role (taskRoleArn) instead, then delete the keys".into());
    }
    notes
}

pub fn text(report: &FixReport, apply: bool, update_services: bool) -> String {
    let mut out = String::new();
    for f in &report.families {
        let p = &f.plan;
        let _ = writeln!(
            out,
            "family {} ({}, account {}, region {})",
            p.family, p.old_arn, p.account, p.region
        );
        let store = match p.store.kind {
            StoreKind::Ssm => "SSM Parameter Store, SecureString",
            StoreKind::SecretsManager => "Secrets Manager",
        };
        let key = p
            .store
            .kms_key_id
            .as_deref()
            .unwrap_or("the AWS managed key");
        let _ = writeln!(out, "  store ({store}, encrypted with {key}):");
        for name in p.store_names() {
            let _ = writeln!(out, "    + {name}");
        }
        let _ = writeln!(out, "  new revision:");
        for m in &p.moves {
            let _ = writeln!(out, "    container {}:", m.container);
            let _ = writeln!(out, "      - environment  {}", m.variable);
            let _ = writeln!(
                out,
                "      + secrets      {} valueFrom {}",
                m.variable,
                value_from_preview(f, m)
            );
        }
        match &p.role {
            RolePlan::Existing { name, .. } => {
                let _ = writeln!(
                    out,
                    "  execution role {name}: inline policy {}",
                    p.policy_name
                );
            }
            RolePlan::Create { name } => {
                let _ = writeln!(
                    out,
                    "  execution role {name} (to create, trusted by ecs-tasks.amazonaws.com, with AmazonECSTaskExecutionRolePolicy): inline policy {}",
                    p.policy_name
                );
            }
        }
        // Exactly what apply grants: the stored ARNs, not the `valueFrom` strings.
        let resources: Vec<String> = p
            .store_names()
            .into_iter()
            .map(|n| stored_arn_preview(f, n))
            .collect();
        let _ = writeln!(out, "    {}", p.policy_document(&resources));
        if f.services.is_empty() {
            let _ = writeln!(out, "  services: none run {}", p.old_arn);
        } else {
            let _ = writeln!(out, "  services running {}:", p.old_arn);
            for s in &f.services {
                if update_services {
                    let _ = writeln!(out, "    ~ {} in {}", s.service, s.cluster);
                } else {
                    let _ = writeln!(
                        out,
                        "    {} in {}: aws ecs update-service --cluster {} --service {} --task-definition <new revision>  (or pass --update-services)",
                        s.service, s.cluster, s.cluster, s.service
                    );
                }
            }
        }
        for n in notes(f) {
            let _ = writeln!(out, "  note: {n}");
        }
        if let Some(j) = &f.journal {
            let state = if j.completed { "done" } else { "incomplete" };
            let new = j.new_arn().unwrap_or("(not registered)");
            let _ = writeln!(
                out,
                "  applied ({state}): new revision {new}; journal {}",
                f.journal_path.display()
            );
        }
        out.push('\n');
    }
    for e in &report.errors {
        let _ = writeln!(out, "error: {}", e.message);
    }
    let verb = if apply { "fixed" } else { "to fix" };
    // Applied: only the families whose fix finished count as fixed.
    let count = if apply {
        report
            .families
            .iter()
            .filter(|f| f.journal.as_ref().is_some_and(|j| j.completed))
            .count()
    } else {
        report.families.len()
    };
    let _ = writeln!(
        out,
        "{count} task definitions {verb}{}",
        if apply {
            ""
        } else {
            " (dry run: pass --apply to carry the plan out)"
        }
    );
    // Names come from the account; none may act on the reader's terminal.
    out.lines()
        .fold(String::with_capacity(out.len()), |mut acc, line| {
            acc.push_str(&super::text::clean(line));
            acc.push('\n');
            acc
        })
}

pub fn json(report: &FixReport) -> serde_json::Value {
    let plans: Vec<serde_json::Value> = report
        .families
        .iter()
        .map(|f| {
            let p = &f.plan;
            let moves: Vec<serde_json::Value> = p
                .moves
                .iter()
                .map(|m| {
                    json!({"container": m.container, "variable": m.variable, "store_name": m.store_name,
                           "json_key": m.json_key, "value_from": value_from_preview(f, m)})
                })
                .collect();
            // Exactly what apply grants: the stored ARNs, not the `valueFrom` strings.
        let resources: Vec<String> = p
            .store_names()
            .into_iter()
            .map(|n| stored_arn_preview(f, n))
            .collect();
            let (role_name, role_arn, create) = match &p.role {
                RolePlan::Existing { arn, name } => (name.clone(), Some(arn.clone()), false),
                RolePlan::Create { name } => (name.clone(), None, true),
            };
            json!({
                "family": p.family, "old_arn": p.old_arn, "account": p.account, "region": p.region,
                "store": {"kind": match p.store.kind { StoreKind::Ssm => "ssm", StoreKind::SecretsManager => "secretsmanager" },
                          "prefix": p.store.prefix, "kms_key_id": p.store.kms_key_id},
                "moves": moves,
                "execution_role": {"name": role_name, "arn": role_arn, "create": create},
                "policy": {"name": p.policy_name, "document": serde_json::from_str::<serde_json::Value>(&p.policy_document(&resources)).unwrap_or_default()},
                "services": f.services.iter().map(|s| json!({"cluster": s.cluster, "service": s.service})).collect::<Vec<_>>(),
                "older_services": f.older_services.iter().map(|(s, td)| json!({"cluster": s.cluster, "service": s.service, "task_definition": td})).collect::<Vec<_>>(),
                "notes": notes(f),
                "journal": f.journal.as_ref().map(|_| f.journal_path.display().to_string()),
                "new_arn": f.journal.as_ref().and_then(|j| j.new_arn()),
                "completed": f.journal.as_ref().map(|j| j.completed),
            })
        })
        .collect();
    let errors: Vec<super::json::JsonError<'_>> =
        report.errors.iter().map(super::json::error).collect();
    json!({"version": 1, "plans": plans, "errors": errors})
}
