//! Where moved values go: one abstraction over SSM Parameter Store and
//! Secrets Manager, with one verified write path (write, read back, compare)
//! and one verified delete path (delete, then confirm it is gone). Resume,
//! fix and rollback all go through it, so a value is never referenced, or
//! counted as undone, on the word of a call alone.

use aws_sdk_ssm::types::{ParameterTier, ParameterType};
use ecsguard_core::SecretValue;

use crate::journal::Stored;
use crate::scan::{is_not_found, message};

/// SSM's Standard tier holds 4 KB; Advanced holds 8 KB.
const SSM_STANDARD_LIMIT: usize = 4096;
const SSM_ADVANCED_LIMIT: usize = 8192;
pub(crate) const PLAN_TAG: &str = "ecsguard:plan-id";
pub(crate) const SOURCE_TAG: &str = "ecsguard:source-task-definition";

pub(crate) enum SecretStore<'a> {
    Ssm(&'a aws_sdk_ssm::Client),
    SecretsManager(&'a aws_sdk_secretsmanager::Client),
}

/// One write: the values to keep under `name`. A parameter holds exactly one
/// value (its key is unused); a secret holds a JSON object of them.
pub(crate) struct Write<'a> {
    pub name: &'a str,
    pub entries: &'a [(String, SecretValue)],
    /// The revision the values come from (a tag on what is created).
    pub source: &'a str,
    pub plan_id: &'a str,
    pub kms_key_id: Option<String>,
    pub overwrite: bool,
    /// A parameter's ARN (SSM answers `PutParameter` without one).
    pub parameter_arn: String,
}

/// What a name holds now.
enum Held {
    Parameter {
        value: SecretValue,
        kind: Option<ParameterType>,
    },
    /// A secret's ARN and its value parsed as a JSON object (`None` when it
    /// is not one).
    Secret {
        arn: String,
        object: Option<serde_json::Map<String, serde_json::Value>>,
    },
}

impl Held {
    /// Whether every entry is held with exactly its value.
    fn holds(&self, entries: &[(String, SecretValue)]) -> bool {
        match self {
            Held::Parameter { value, .. } => {
                matches!(entries, [(_, v)] if v.expose() == value.expose())
            }
            Held::Secret { object, .. } => object.as_ref().is_some_and(|o| {
                entries
                    .iter()
                    .all(|(k, v)| o.get(k).and_then(|s| s.as_str()) == Some(v.expose()))
            }),
        }
    }
}

/// What a resume finds under a name the journal says was stored.
pub(crate) enum Recheck {
    Same,
    Gone,
}

impl SecretStore<'_> {
    fn what(&self) -> &'static str {
        match self {
            SecretStore::Ssm(_) => "parameter",
            SecretStore::SecretsManager(_) => "secret",
        }
    }

    /// What `name` holds, or `None` when it is not there.
    async fn read(&self, name: &str) -> Result<Option<Held>, String> {
        match self {
            SecretStore::Ssm(ssm) => {
                match ssm
                    .get_parameter()
                    .name(name)
                    .with_decryption(true)
                    .send()
                    .await
                {
                    Ok(out) => {
                        let p = out.parameter();
                        Ok(Some(Held::Parameter {
                            value: SecretValue::new(p.and_then(|p| p.value()).unwrap_or_default()),
                            kind: p.and_then(|p| p.r#type()).cloned(),
                        }))
                    }
                    Err(e) if is_not_found(&e) => Ok(None),
                    Err(e) => Err(message(&format!("cannot read parameter {name}"), &e)),
                }
            }
            SecretStore::SecretsManager(sm) => {
                match sm.get_secret_value().secret_id(name).send().await {
                    Ok(out) => Ok(Some(Held::Secret {
                        arn: out.arn().unwrap_or_default().to_owned(),
                        object: out
                            .secret_string()
                            .and_then(|s| serde_json::from_str::<serde_json::Value>(s).ok())
                            .and_then(|v| match v {
                                serde_json::Value::Object(map) => Some(map),
                                _ => None,
                            }),
                    })),
                    Err(e) if is_not_found(&e) => Ok(None),
                    // A secret scheduled for deletion answers so: for this
                    // tool it is gone (and cannot be written until restored).
                    Err(e)
                        if e.as_service_error().is_some_and(|s| {
                            s.is_invalid_request_exception()
                                && s.meta().message().is_some_and(|m| m.contains("deletion"))
                        }) =>
                    {
                        Ok(None)
                    }
                    Err(e) => Err(message(&format!("cannot read secret {name}"), &e)),
                }
            }
        }
    }

    /// Whether what a journal says was stored is still there with the same
    /// values. A value changed since is an error: nothing may be referenced
    /// that no longer matches.
    pub(crate) async fn recheck(
        &self,
        name: &str,
        entries: &[(String, SecretValue)],
    ) -> Result<Recheck, String> {
        match self.read(name).await? {
            None => Ok(Recheck::Gone),
            Some(held) if held.holds(entries) => Ok(Recheck::Same),
            Some(_) => Err(format!(
                "{name} no longer holds the value the journal stored (changed since the interrupted run); roll the journal back, or fix it by hand"
            )),
        }
    }

    /// The plan id `name` was tagged with when ecsguard created it.
    pub(crate) async fn plan_id(&self, name: &str) -> Result<Option<String>, String> {
        match self {
            SecretStore::Ssm(ssm) => {
                let out = ssm
                    .list_tags_for_resource()
                    .resource_type(aws_sdk_ssm::types::ResourceTypeForTagging::Parameter)
                    .resource_id(name)
                    .send()
                    .await
                    .map_err(|e| {
                        message(&format!("cannot read the tags of parameter {name}"), &e)
                    })?;
                Ok(out
                    .tag_list()
                    .iter()
                    .find(|t| t.key() == PLAN_TAG)
                    .map(|t| t.value().to_owned()))
            }
            SecretStore::SecretsManager(sm) => {
                let out = sm
                    .describe_secret()
                    .secret_id(name)
                    .send()
                    .await
                    .map_err(|e| message(&format!("cannot describe secret {name}"), &e))?;
                Ok(out
                    .tags()
                    .iter()
                    .find(|t| t.key() == Some(PLAN_TAG))
                    .and_then(|t| t.value())
                    .map(str::to_owned))
            }
        }
    }

    /// Writes the entries, then reads them back: the result is returned only
    /// when the store holds exactly what was written. An existing name is
    /// reused when it holds the same values, refused when it holds others
    /// (unless `overwrite`), and a secret's other keys are kept exactly.
    pub(crate) async fn write(&self, w: &Write<'_>) -> Result<Stored, String> {
        let name = w.name;
        let (existed, created_arn) = match self {
            SecretStore::Ssm(ssm) => (Self::put_parameter(ssm, w).await?, None),
            SecretStore::SecretsManager(sm) => Self::create_secret(sm, w).await?,
        };
        let created = match existed {
            false => true,
            // Made by this plan in a run that died before its journal said so.
            true => self.plan_id(name).await?.as_deref() == Some(w.plan_id),
        };
        if existed {
            let current = self
                .read(name)
                .await?
                .ok_or_else(|| format!("{} {name} exists but cannot be read", self.what()))?;
            self.reconcile(w, &current).await?;
        }
        let back = self.read(name).await?;
        let arn = match &back {
            Some(held) if held.holds(w.entries) => match (held, created_arn) {
                (Held::Parameter { .. }, _) => w.parameter_arn.clone(),
                (Held::Secret { .. }, Some(arn)) => arn,
                (Held::Secret { arn, .. }, None) => arn.clone(),
            },
            _ => {
                return Err(format!(
                    "{} {name} does not read back the value written; nothing references it yet",
                    self.what()
                ))
            }
        };
        if arn.is_empty() {
            return Err(format!("{} {name} has no ARN", self.what()));
        }
        Ok(Stored {
            name: name.to_owned(),
            arn,
            created,
            deleted: false,
        })
    }

    /// `PutParameter` without overwrite; `Ok(true)` when the name existed.
    async fn put_parameter(ssm: &aws_sdk_ssm::Client, w: &Write<'_>) -> Result<bool, String> {
        let name = w.name;
        let [(_, value)] = w.entries else {
            return Err(format!("parameter {name} must hold exactly one value"));
        };
        let len = value.expose().len();
        if len > SSM_ADVANCED_LIMIT {
            return Err(format!(
                "{name}: the value is {len} bytes, over SSM's 8 KB limit; use --store secretsmanager (values are never truncated)"
            ));
        }
        // Tagged in the creating call, with the plan id, so that a run killed
        // before its journal recorded the parameter still knows it as its own.
        let tags = [(SOURCE_TAG, w.source), (PLAN_TAG, w.plan_id)]
            .into_iter()
            .map(|(k, v)| aws_sdk_ssm::types::Tag::builder().key(k).value(v).build())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("cannot build a tag: {e}"))?;
        match ssm
            .put_parameter()
            .name(name)
            .value(value.expose())
            .r#type(ParameterType::SecureString)
            .set_key_id(w.kms_key_id.clone())
            .tier(ssm_tier(len))
            .overwrite(false)
            .set_tags(Some(tags))
            .send()
            .await
        {
            Ok(_) => Ok(false),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_parameter_already_exists()) =>
            {
                Ok(true)
            }
            Err(e) => Err(message(&format!("cannot write parameter {name}"), &e)),
        }
    }

    /// `CreateSecret`; `Ok((true, None))` when the name existed.
    async fn create_secret(
        sm: &aws_sdk_secretsmanager::Client,
        w: &Write<'_>,
    ) -> Result<(bool, Option<String>), String> {
        let name = w.name;
        let text = serde_json::to_string(&object_of(w.entries))
            .map_err(|e| format!("cannot encode secret {name}: {e}"))?;
        let tag = |k: &str, v: &str| {
            aws_sdk_secretsmanager::types::Tag::builder()
                .key(k)
                .value(v)
                .build()
        };
        // The SDK gives the call an idempotency token, so its own retries
        // after a lost answer meet the same secret, not an error.
        match sm
            .create_secret()
            .name(name)
            .secret_string(text)
            .set_kms_key_id(w.kms_key_id.clone())
            .tags(tag(SOURCE_TAG, w.source))
            .tags(tag(PLAN_TAG, w.plan_id))
            .send()
            .await
        {
            Ok(out) => Ok((false, out.arn().map(str::to_owned))),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_exists_exception()) =>
            {
                Ok((true, None))
            }
            Err(e) => Err(message(&format!("cannot create secret {name}"), &e)),
        }
    }

    /// Makes an existing name hold the entries, or says why it may not.
    async fn reconcile(&self, w: &Write<'_>, current: &Held) -> Result<(), String> {
        let name = w.name;
        match (self, current) {
            (SecretStore::Ssm(ssm), Held::Parameter { value, kind }) => {
                let [(_, wanted)] = w.entries else {
                    return Err(format!("parameter {name} must hold exactly one value"));
                };
                let same = value.expose() == wanted.expose();
                if same && kind.as_ref() != Some(&ParameterType::SecureString) {
                    return Err(format!(
                        "parameter {name} already exists, unencrypted ({}), with the same value; a task definition must not read a secret from it: delete it or choose another --prefix",
                        kind.as_ref()
                            .map_or_else(|| "unknown type".to_owned(), |k| k.as_str().to_owned())
                    ));
                }
                // The same value under another key: the execution role is
                // granted only the key asked for, so it could not decrypt.
                let key = parameter_key(ssm, name).await?;
                let key_ok = same_key(key.as_deref(), w.kms_key_id.as_deref(), "alias/aws/ssm");
                if same && key_ok {
                    return Ok(());
                }
                if same && !w.overwrite {
                    return Err(format!(
                        "parameter {name} already holds the value, encrypted with another KMS key ({}); pass --overwrite to encrypt it with the key asked for, or choose another --prefix",
                        key.as_deref().unwrap_or("the default key")
                    ));
                }
                if !same && !w.overwrite {
                    return Err(format!(
                        "parameter {name} already exists with a different value; it was not overwritten (pass --overwrite to replace it)"
                    ));
                }
                ssm.put_parameter()
                    .name(name)
                    .value(wanted.expose())
                    .r#type(ParameterType::SecureString)
                    .set_key_id(w.kms_key_id.clone())
                    .tier(ssm_tier(wanted.expose().len()))
                    .overwrite(true)
                    .send()
                    .await
                    .map_err(|e| message(&format!("cannot overwrite parameter {name}"), &e))?;
                Ok(())
            }
            (SecretStore::SecretsManager(sm), held @ Held::Secret { object, .. }) => {
                let Some(object) = object else {
                    return Err(format!(
                        "secret {name} exists but is not a JSON object, so keys cannot be added to it; choose another --prefix"
                    ));
                };
                let key = sm
                    .describe_secret()
                    .secret_id(name)
                    .send()
                    .await
                    .map_err(|e| message(&format!("cannot describe secret {name}"), &e))?
                    .kms_key_id()
                    .map(str::to_owned);
                if !same_key(
                    key.as_deref(),
                    w.kms_key_id.as_deref(),
                    "alias/aws/secretsmanager",
                ) {
                    return Err(format!(
                        "secret {name} is encrypted with another KMS key ({}); the execution role would be granted the wrong key: choose another --prefix, or re-encrypt it by hand",
                        key.as_deref().unwrap_or("the default key")
                    ));
                }
                if held.holds(w.entries) {
                    return Ok(());
                }
                if !w.overwrite {
                    return Err(format!(
                        "secret {name} already exists with different values; it was not overwritten (pass --overwrite to replace them)"
                    ));
                }
                // Every other key keeps its value exactly, whatever its type.
                let mut merged = object.clone();
                merged.extend(object_of(w.entries));
                let merged = serde_json::to_string(&merged)
                    .map_err(|e| format!("cannot encode secret {name}: {e}"))?;
                sm.put_secret_value()
                    .secret_id(name)
                    .secret_string(merged)
                    .send()
                    .await
                    .map_err(|e| message(&format!("cannot update secret {name}"), &e))?;
                Ok(())
            }
            _ => Err(format!("{name} is not a {}", self.what())),
        }
    }

    /// Deletes what a fix created, then confirms it is gone. Already gone
    /// (a second rollback, or a delete whose answer was lost) is done.
    pub(crate) async fn delete(&self, stored: &Stored) -> Result<(), String> {
        let name = &stored.name;
        let context = format!("cannot delete {name}");
        let result = match self {
            SecretStore::Ssm(ssm) => match ssm.delete_parameter().name(name).send().await {
                Ok(_) => Ok(()),
                Err(e) if is_not_found(&e) => Ok(()),
                Err(e) => Err(message(&context, &e)),
            },
            SecretStore::SecretsManager(sm) => match sm
                .delete_secret()
                .secret_id(&stored.arn)
                .force_delete_without_recovery(true)
                .send()
                .await
            {
                Ok(_) => Ok(()),
                Err(e) if is_not_found(&e) => Ok(()),
                Err(e) => Err(message(&context, &e)),
            },
        };
        result?;
        match self.read(name).await? {
            None => Ok(()),
            Some(_) => Err(format!(
                "{} {name} is still there after it was deleted",
                self.what()
            )),
        }
    }
}

/// The KMS key a parameter is encrypted with, as SSM reports it.
async fn parameter_key(ssm: &aws_sdk_ssm::Client, name: &str) -> Result<Option<String>, String> {
    use aws_sdk_ssm::types::ParameterStringFilter;
    let filter = ParameterStringFilter::builder()
        .key("Name")
        .option("Equals")
        .values(name)
        .build()
        .map_err(|e| format!("cannot build a filter: {e}"))?;
    let out = ssm
        .describe_parameters()
        .parameter_filters(filter)
        .send()
        .await
        .map_err(|e| message(&format!("cannot describe parameter {name}"), &e))?;
    Ok(out
        .parameters()
        .iter()
        .find(|p| p.name() == Some(name))
        .and_then(|p| p.key_id())
        .map(str::to_owned))
}

/// Whether the key in use is the one asked for: an id matches its ARN, and
/// no key asked for means the store's default key.
fn same_key(in_use: Option<&str>, wanted: Option<&str>, default: &str) -> bool {
    let norm = |k: Option<&str>| -> Option<String> {
        let k = k?;
        if k == default || k.ends_with(&format!(":{default}")) {
            return None;
        }
        Some(k.rsplit('/').next().unwrap_or(k).to_owned())
    };
    norm(in_use) == norm(wanted)
}

fn ssm_tier(len: usize) -> ParameterTier {
    if len > SSM_STANDARD_LIMIT {
        ParameterTier::Advanced
    } else {
        ParameterTier::Standard
    }
}

fn object_of(entries: &[(String, SecretValue)]) -> serde_json::Map<String, serde_json::Value> {
    entries
        .iter()
        .map(|(k, v)| (k.clone(), serde_json::Value::String(v.expose().to_owned())))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::same_key;

    #[test]
    fn a_key_matches_by_id_or_arn_and_none_means_the_default() {
        let arn = "arn:aws:kms:us-east-1:1:key/1234abcd";
        assert!(same_key(Some(arn), Some("1234abcd"), "alias/aws/ssm"));
        assert!(same_key(Some("1234abcd"), Some(arn), "alias/aws/ssm"));
        assert!(same_key(Some("alias/aws/ssm"), None, "alias/aws/ssm"));
        assert!(same_key(None, None, "alias/aws/ssm"));
        assert!(!same_key(Some(arn), None, "alias/aws/ssm"));
        assert!(!same_key(
            Some("alias/aws/ssm"),
            Some("1234abcd"),
            "alias/aws/ssm"
        ));
        assert!(!same_key(
            Some("arn:aws:kms:us-east-1:1:key/k1"),
            Some("arn:aws:kms:us-east-1:1:key/k2"),
            "alias/aws/ssm"
        ));
    }
}
