//! Stable finding fingerprints: a keyed hash, so a baseline can match a finding
//! across runs and line moves without storing anything that reveals the value.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The key used when the user configures none. Set `ECSGUARD_FINGERPRINT_KEY`
/// to a private key to stop anyone holding a report from testing guesses
/// against its fingerprints.
pub const DEFAULT_KEY: &[u8] = b"ecsguard-fingerprint-v1";

pub fn fingerprint(key: &[u8], parts: &[&str], value: &str) -> String {
    // HMAC accepts keys of any length, so this cannot fail.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key) else {
        return String::new();
    };
    for p in parts {
        mac.update(p.as_bytes());
        mac.update(&[0]);
    }
    mac.update(value.as_bytes());
    let bytes = mac.finalize().into_bytes();
    bytes[..16].iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stable_and_keyed() {
        let a = fingerprint(DEFAULT_KEY, &["r", "f", "c", "V"], "hunter2");
        assert_eq!(
            a,
            fingerprint(DEFAULT_KEY, &["r", "f", "c", "V"], "hunter2")
        );
        assert_ne!(a, fingerprint(b"other", &["r", "f", "c", "V"], "hunter2"));
        assert_ne!(
            a,
            fingerprint(DEFAULT_KEY, &["r", "f", "c", "V"], "hunter3")
        );
        assert_eq!(a.len(), 32);
        assert!(!a.contains("hunter2"));
    }
}
