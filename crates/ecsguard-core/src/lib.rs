//! ecsguard's core: the model, the detectors and the rules. No I/O, no AWS SDK.

pub mod asff;
pub mod detect;
pub mod finding;
pub mod fingerprint;
pub mod model;
pub mod plan;
pub mod rules;
pub mod secret;
pub mod suppress;

pub use finding::{
    ErrorSource, Finding, InputError, LiveSummary, Report, RuleId, Severity, Summary,
};
pub use model::{
    Container, EntrySpans, EnvValue, EnvVar, Location, Origin, Reference, ReferenceTarget, Span,
    TaskDefinition,
};
pub use rules::{check, RuleConfig, Ruleset};
pub use secret::SecretValue;
