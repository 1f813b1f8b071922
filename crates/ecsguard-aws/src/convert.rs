//! An ECS `TaskDefinition` from the API into the core model.
//!
//! The SDK's `Debug` for `KeyValuePair` prints values: nothing here formats
//! SDK types; values go straight into `SecretValue`.

use aws_sdk_ecs::types::TaskDefinition as ApiTaskDefinition;
use ecsguard_core::{Container, EnvValue, EnvVar, Location, SecretValue, TaskDefinition};

/// The account id in an ARN (`arn:aws:ecs:us-east-1:123456789012:…`).
pub fn account_of(arn: &str) -> Option<&str> {
    arn.split(':').nth(4).filter(|a| !a.is_empty())
}

pub fn task_definition(td: &ApiTaskDefinition, account: &str, region: &str) -> TaskDefinition {
    let arn = td.task_definition_arn().unwrap_or_default().to_owned();
    let account = account_of(&arn).unwrap_or(account).to_owned();
    let location = Location::Live {
        arn,
        account,
        region: region.to_owned(),
    };
    TaskDefinition {
        file: None,
        family: td.family().map(str::to_owned),
        revision: u32::try_from(td.revision()).ok(),
        containers: td
            .container_definitions()
            .iter()
            .map(|c| Container {
                name: c.name().map(str::to_owned),
                environment: c
                    .environment()
                    .iter()
                    .filter_map(|kv| {
                        Some(EnvVar {
                            name: kv.name()?.to_owned(),
                            value: EnvValue::Literal(SecretValue::new(
                                kv.value().unwrap_or_default(),
                            )),
                            location: location.clone(),
                            value_location: None,
                            spans: None,
                            origin: ecsguard_core::Origin::Live,
                        })
                    })
                    .collect(),
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_ecs::types::{ContainerDefinition, KeyValuePair};

    #[test]
    fn converts_containers_and_variables() {
        let td = ApiTaskDefinition::builder()
            .task_definition_arn("arn:aws:ecs:eu-west-1:111122223333:task-definition/app:7")
            .family("app")
            .revision(7)
            .container_definitions(
                ContainerDefinition::builder()
                    .name("web")
                    .environment(
                        KeyValuePair::builder()
                            .name("DB_PASSWORD")
                            .value("pw")
                            .build(),
                    )
                    .environment(KeyValuePair::builder().name("EMPTY").build())
                    .build(),
            )
            .build();
        let model = task_definition(&td, "unknown", "eu-west-1");
        assert_eq!(model.family.as_deref(), Some("app"));
        assert_eq!(model.revision, Some(7));
        let env = &model.containers[0].environment;
        assert_eq!(env.len(), 2);
        assert!(matches!(&env[0].value, EnvValue::Literal(v) if v.expose() == "pw"));
        assert!(
            matches!(&env[0].location, Location::Live { account, region, .. } if account == "111122223333" && region == "eu-west-1")
        );
    }
}
