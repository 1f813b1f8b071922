//! A container for secret values that cannot be printed, logged or serialized by accident.

use std::fmt;

/// A value that may be a secret.
///
/// `Debug` shows only the length; there is no `Display` and no `Serialize`, so
/// the only way to read the value is [`SecretValue::expose`], which the
/// detectors, the redactor and the fingerprinter call.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretValue(Box<str>);

impl SecretValue {
    pub fn new(value: impl Into<Box<str>>) -> Self {
        Self(value.into())
    }

    /// The raw value. Callers must never let it reach an output.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.trim().is_empty()
    }

    /// At most the first 4 characters, and nothing for values shorter than 16.
    pub fn redacted(&self) -> String {
        redact(&self.0)
    }
}

/// Redacts a raw string as DESIGN §4 requires.
pub fn redact(value: &str) -> String {
    if value.chars().count() < 16 {
        return "…".to_owned();
    }
    let head: String = value.chars().take(4).collect();
    format!("{head}…")
}

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "SecretValue(<{} chars redacted>)",
            self.0.chars().count()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_value() {
        let s = SecretValue::new("hunter2-hunter2-hunter2");
        let shown = format!("{s:?} {s:#?}");
        assert!(!shown.contains("hunter2"), "{shown}");
    }

    #[test]
    fn redaction_keeps_four_chars_of_long_values_only() {
        assert_eq!(redact("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"), "wJal…");
        assert_eq!(redact("short-secret"), "…");
        assert_eq!(redact("ééééééééééééééééé"), "éééé…");
    }
}
