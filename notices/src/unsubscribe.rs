//! The unsubscribe token of the update notice (RFC 8058 one-click, and the visible link).
//!
//! DESIGN.md Part 2 (clarifications): the token carries the member and a hash of the address the
//! mail went to (never the address), signed with its own key (`NOTIFY_UNSUBSCRIBE_KEY`), and does not
//! expire while the address is unchanged. It is a JWT (RFC 7519, HS256, by `jsonwebtoken`) with
//! the claims `sub` (the member id), `ah` (the address hash) and `use` = `"unsubscribe"`, so no
//! other token of ours passes for one.

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use kenpo_shared::domain::{EmailAddress, MemberId};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The longest token accepted (a real one is about 200 characters).
pub const MAX_TOKEN_BYTES: usize = 1024;

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    ah: String,
    #[serde(rename = "use")]
    purpose: String,
}

/// Why a token is refused (each answers the same 400 page: nothing to learn from it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum UnsubscribeError {
    #[error("token missing")]
    Missing,
    /// Not ours: unreadable, another key or algorithm, another purpose, a bad member id.
    #[error("token invalid")]
    Invalid,
    /// Ours, but for an address the member no longer has (or another member's).
    #[error("token for another address")]
    OtherAddress,
}

impl UnsubscribeError {
    pub fn code(self) -> &'static str {
        match self {
            UnsubscribeError::Missing => "unsubscribe_token_missing",
            UnsubscribeError::Invalid => "unsubscribe_token_invalid",
            UnsubscribeError::OtherAddress => "unsubscribe_token_other_address",
        }
    }
}

/// The address hash a token carries: the first 16 bytes of SHA-256 of the stored address, hex.
pub fn address_hash(address: &EmailAddress) -> String {
    Sha256::digest(address.as_str().as_bytes()).iter().take(16).map(|b| format!("{b:02x}")).collect()
}

/// Signs and checks unsubscribe tokens with `NOTIFY_UNSUBSCRIBE_KEY` (at least 32 bytes).
pub struct UnsubscribeKey {
    encoding: EncodingKey,
    decoding: DecodingKey,
}

impl UnsubscribeKey {
    /// `None` for a key shorter than 32 bytes.
    pub fn new(secret: &[u8]) -> Option<Self> {
        (secret.len() >= 32).then(|| Self { encoding: EncodingKey::from_secret(secret), decoding: DecodingKey::from_secret(secret) })
    }

    /// The token for `member`'s mail to `address`.
    pub fn token(&self, member: &MemberId, address: &EmailAddress) -> String {
        let claims = Claims { sub: member.as_str().to_owned(), ah: address_hash(address), purpose: "unsubscribe".into() };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding).unwrap_or_default()
    }

    /// The member and address hash of a token of ours (not yet compared with the member's address:
    /// `matches_address`). Errors: `Missing`, `Invalid`.
    pub fn verify(&self, token: &str) -> Result<(MemberId, String), UnsubscribeError> {
        let token = token.trim();
        if token.is_empty() {
            return Err(UnsubscribeError::Missing);
        }
        if token.len() > MAX_TOKEN_BYTES {
            return Err(UnsubscribeError::Invalid);
        }
        let mut validation = Validation::new(Algorithm::HS256);
        validation.validate_exp = false;
        validation.validate_aud = false;
        validation.set_required_spec_claims(&["sub"]);
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &validation).map_err(|_| UnsubscribeError::Invalid)?;
        if data.claims.purpose != "unsubscribe" {
            return Err(UnsubscribeError::Invalid);
        }
        let member = MemberId::parse(&data.claims.sub).map_err(|_| UnsubscribeError::Invalid)?;
        Ok((member, data.claims.ah))
    }

    /// `verify`, and the token's address is `current` (the member's address now). Errors: as
    /// `verify`, and `OtherAddress` when the member has another address now or none.
    pub fn verify_for(&self, token: &str, current: Option<&EmailAddress>) -> Result<MemberId, UnsubscribeError> {
        let (member, hash) = self.verify(token)?;
        match current {
            Some(address) if address_hash(address) == hash => Ok(member),
            _ => Err(UnsubscribeError::OtherAddress),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> UnsubscribeKey {
        UnsubscribeKey::new(b"unsubscribe-test-key-0123456789abcdef").unwrap()
    }

    fn address(a: &str) -> EmailAddress {
        EmailAddress::from_stored(a).unwrap()
    }

    #[test]
    fn a_token_names_its_member_and_address_and_nothing_readable() {
        let m = MemberId::parse("D0005").unwrap();
        let t = key().token(&m, &address("taro@example.jp"));
        assert!(!t.contains("taro") && !t.contains("example"), "no address in the token");
        assert_eq!(key().verify_for(&t, Some(&address("taro@example.jp"))), Ok(m));
    }

    #[test]
    fn tampered_foreign_other_address_and_other_purpose_tokens_are_refused() {
        let m = MemberId::parse("D0005").unwrap();
        let t = key().token(&m, &address("taro@example.jp"));
        assert_eq!(key().verify_for(&t, Some(&address("hanako@example.jp"))), Err(UnsubscribeError::OtherAddress), "an old address");
        assert_eq!(key().verify_for(&t, None), Err(UnsubscribeError::OtherAddress));
        let other = UnsubscribeKey::new(b"another-key-another-key-another-key!").unwrap();
        assert_eq!(other.verify(&t), Err(UnsubscribeError::Invalid), "another key");
        // Another member's id in the payload, the signature kept.
        let mut parts: Vec<String> = t.split('.').map(str::to_owned).collect();
        use base64::Engine;
        let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(&parts[1]).unwrap();
        let forged = String::from_utf8(payload).unwrap().replace("D0005", "D0006");
        parts[1] = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(forged);
        assert_eq!(key().verify(&parts.join(".")), Err(UnsubscribeError::Invalid), "another member");
        // A hand-off token signed with the same secret is not an unsubscribe token.
        let handoff = kenpo_shared::handoff::sign_hs256(b"unsubscribe-test-key-0123456789abcdef", "D0005", 0, 60);
        assert_eq!(key().verify(&handoff), Err(UnsubscribeError::Invalid));
        assert_eq!(key().verify(""), Err(UnsubscribeError::Missing));
        assert_eq!(key().verify(&"a".repeat(5000)), Err(UnsubscribeError::Invalid));
        assert!(UnsubscribeKey::new(b"short").is_none());
    }

    proptest::proptest! {
        #[test]
        fn any_text_is_refused_without_a_panic(t in "\\PC{0,300}") {
            proptest::prop_assert!(key().verify(&t).is_err());
        }
    }
}
