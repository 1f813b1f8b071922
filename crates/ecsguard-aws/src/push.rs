//! `fix PATH --push`: the literal values found in code are stored before any
//! file references them, through the same verified write as `fix --aws`
//! (written, read back, compared; tagged with the plan id in the creating
//! call), and journaled without values.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use ecsguard_core::plan::{StoreKind, StoreSettings};
use ecsguard_core::SecretValue;
use serde::{Deserialize, Serialize};

use crate::journal::Stored;
use crate::scan::{base_config, message, LiveOptions};
use crate::store::{SecretStore, Write};

/// One name to store: one value for SSM, a JSON object of them for Secrets
/// Manager.
#[derive(Debug, Clone)]
pub struct PushItem {
    pub store_name: String,
    pub entries: Vec<(String, SecretValue)>,
    /// Where the values are written in code (file and family), for a tag.
    pub source: String,
}

#[derive(Debug, Default)]
pub struct PushReport {
    /// Store name → ARN, for every item stored and verified.
    pub stored: HashMap<String, String>,
    pub errors: Vec<String>,
    pub journal: Option<PathBuf>,
}

/// The journal of one push: names and ARNs, never values.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PushJournal {
    pub version: u32,
    pub plan_id: String,
    pub account: String,
    pub region: String,
    pub store: String,
    pub stored: Vec<Stored>,
    /// Set once every item is stored; the files are written after.
    pub completed: bool,
}

/// Tag values allow letters, digits, spaces and `_.:/=+-@` only.
fn tag_value(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_alphanumeric() || " _.:/=+-@".contains(c) {
                c
            } else {
                '_'
            }
        })
        .take(256)
        .collect()
}

/// Stores every item; stops at the first failure (nothing after it is
/// referenced, since the files are written only when all are stored).
pub async fn push(
    options: &LiveOptions,
    store: &StoreSettings,
    items: &[PushItem],
    overwrite: bool,
    journal_dir: &Path,
) -> PushReport {
    let mut out = PushReport::default();
    if items.is_empty() {
        return out;
    }
    let config = match base_config(options).await {
        Ok(c) => c,
        Err(e) => {
            out.errors.push(e);
            return out;
        }
    };
    let region = config.region().map(|r| r.to_string()).unwrap_or_default();
    let sts = aws_sdk_sts::Client::new(&config);
    let identity = match sts.get_caller_identity().send().await {
        Ok(o) => o,
        Err(e) => {
            out.errors
                .push(message("cannot learn which account to store in", &e));
            return out;
        }
    };
    let (Some(account), Some(caller)) = (identity.account(), identity.arn()) else {
        out.errors
            .push("GetCallerIdentity returned no account".to_owned());
        return out;
    };
    let partition = caller.split(':').nth(1).unwrap_or("aws").to_owned();
    let ssm = aws_sdk_ssm::Client::new(&config);
    let sm = aws_sdk_secretsmanager::Client::new(&config);
    let secret_store = match store.kind {
        StoreKind::Ssm => SecretStore::Ssm(&ssm),
        StoreKind::SecretsManager => SecretStore::SecretsManager(&sm),
    };
    let plan_id = crate::fix::new_plan_id(&format!("push-{account}-{region}"));
    let mut journal = PushJournal {
        version: 1,
        plan_id: plan_id.clone(),
        account: account.to_owned(),
        region: region.clone(),
        store: match store.kind {
            StoreKind::Ssm => "ssm",
            StoreKind::SecretsManager => "secretsmanager",
        }
        .to_owned(),
        stored: Vec::new(),
        completed: false,
    };
    let path = journal_dir.join(format!("{account}-{region}-push-{plan_id}.json"));
    let save = |j: &PushJournal| crate::journal::save_json(j, &path);
    if let Err(e) = save(&journal) {
        out.errors.push(e);
        return out;
    }
    out.journal = Some(path.clone());
    for item in items {
        let parameter_arn = format!(
            "arn:{partition}:ssm:{region}:{account}:parameter/{}",
            item.store_name.trim_start_matches('/')
        );
        let source = tag_value(&item.source);
        let result = secret_store
            .write(&Write {
                name: &item.store_name,
                entries: &item.entries,
                source: &source,
                plan_id: &plan_id,
                kms_key_id: store.kms_key_id.clone(),
                // A different value already stored is replaced only when asked.
                overwrite,
                parameter_arn,
            })
            .await;
        match result {
            Ok(stored) => {
                out.stored
                    .insert(item.store_name.clone(), stored.arn.clone());
                journal.stored.push(stored);
                if let Err(e) = save(&journal) {
                    out.errors.push(e);
                    return out;
                }
            }
            Err(e) => {
                out.errors.push(e);
                return out;
            }
        }
    }
    journal.completed = true;
    if let Err(e) = save(&journal) {
        out.errors.push(e);
    }
    out
}
