//! Keyed pseudonyms of member ids for the logs (issue 13; docs/DESIGN.md Part 2 clarifications:
//! no log line names a member). A line about a member carries `member = p<16 hex digits>`: the
//! first 64 bits of HMAC-SHA256(`LOG_PSEUDONYM_KEY`, member id) (RFC 2104), the same for the same
//! member in every function and on every day, unreadable without the key. The operator computes
//! one with `kenpo pseudonym <member id>` (the stack's key in the environment) and searches the
//! logs for it.

use std::fmt;
use std::sync::OnceLock;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::domain::MemberId;

static KEY: OnceLock<Vec<u8>> = OnceLock::new();

/// Sets the process's key (`LOG_PSEUDONYM_KEY`, at least 32 bytes), once, at init; later calls
/// change nothing. Without it the process uses a random key: its pseudonyms are stable within the
/// process only (safe, but no use for a search).
pub fn init(key: &[u8]) {
    let _ = KEY.set(key.to_vec());
}

fn key() -> &'static [u8] {
    KEY.get_or_init(|| rand::random::<[u8; 32]>().to_vec())
}

/// The pseudonym of `member` under `key`: `p` and 16 lowercase hex digits.
pub fn pseudonym(key: &[u8], member: &MemberId) -> String {
    // HMAC takes a key of any length: `new_from_slice` cannot fail for it.
    let mut mac = match Hmac::<Sha256>::new_from_slice(key) {
        Ok(mac) => mac,
        Err(_) => return "p-".to_owned(),
    };
    mac.update(member.as_str().as_bytes());
    let digest = mac.finalize().into_bytes();
    let mut out = String::with_capacity(17);
    out.push('p');
    for b in &digest[..8] {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// `member` as a log line names it (`tracing::info!(member = %pseudonym::of(&id), …)`).
pub fn of(member: &MemberId) -> Pseudonym<'_> {
    Pseudonym(member)
}

/// Displays as the member's pseudonym under the process's key.
pub struct Pseudonym<'a>(&'a MemberId);

impl fmt::Display for Pseudonym<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&pseudonym(key(), self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_member_and_key_give_the_same_pseudonym_and_nothing_of_the_id() {
        let key = b"0123456789abcdef0123456789abcdef";
        let m = MemberId::parse("M0001").unwrap();
        let p = pseudonym(key, &m);
        assert_eq!(p, pseudonym(key, &m));
        assert_eq!(p.len(), 17);
        assert!(p.starts_with('p') && p[1..].bytes().all(|b| b.is_ascii_hexdigit()));
        assert!(!p.contains("M0001") && !p.contains("0001"));
        assert_ne!(p, pseudonym(key, &MemberId::parse("M0002").unwrap()), "another member");
        assert_ne!(p, pseudonym(b"another key of thirty-two bytes!", &m), "another key");
        // A known answer (Python: hmac.new(b"key", b"M0001", "sha256").hexdigest()[:16]): the
        // operator's command and every function agree with any other HMAC-SHA256.
        assert_eq!(pseudonym(b"key", &m), "pccd72f5925292611");
    }
}
