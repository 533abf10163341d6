//! The portal's hand-off token: a JWT (`sub`, `iat`, `exp`, `jti`), HS256 with a shared secret, or
//! RS256/ES256 with the portal's public key.

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::config::ConfigError;
use crate::domain::MemberId;

pub const MAX_TOKEN_BYTES: usize = 4096;
/// A hand-off token is for immediate use: refuse ones that live longer than this.
pub const MAX_TOKEN_LIFETIME_SECONDS: i64 = 15 * 60;
/// Clock skew allowed between the portal and us on `iat`, `nbf` and `exp` (seconds); a used `jti`
/// stays claimed until `exp` plus this, the last moment its token could be accepted.
pub const LEEWAY_SECONDS: u64 = 30;

#[derive(Debug, Serialize, Deserialize)]
pub struct HandoffClaims {
    pub sub: String,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedHandoff {
    pub member_id: MemberId,
    pub jti: String,
    pub expires_at: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum HandoffError {
    #[error("token missing")]
    Missing,
    #[error("token too long")]
    TooLong,
    #[error("token invalid")]
    Invalid,
    #[error("token expired")]
    Expired,
    #[error("token used already")]
    Replayed,
    #[error("member unknown")]
    UnknownMember,
    /// Posted by a page that is not the portal's (or without an `Origin`): a login CSRF.
    #[error("hand-off from another origin")]
    CrossOrigin,
}

impl HandoffError {
    pub fn code(self) -> &'static str {
        match self {
            HandoffError::Missing => "token_missing",
            HandoffError::TooLong => "token_too_long",
            HandoffError::Invalid => "token_invalid",
            HandoffError::Expired => "token_expired",
            HandoffError::Replayed => "token_replayed",
            HandoffError::UnknownMember => "unknown_member",
            HandoffError::CrossOrigin => "cross_origin",
        }
    }
}

pub struct HandoffVerifier {
    key: DecodingKey,
    validation: Validation,
}

impl HandoffVerifier {
    /// The verifier `settings` configure: the portal's public key if one is set, else the HS256
    /// secret. Errors: `ConfigError` for an unusable key, or when neither is configured
    /// (DESIGN.md: at least 32 bytes of secret).
    pub fn from_settings(settings: &crate::config::Settings) -> Result<Self, ConfigError> {
        match &settings.sso_public_key {
            Some((algorithm, pem)) => Self::public_key(algorithm, pem.as_bytes()),
            None if settings.sso_jwt_secret.len() >= 32 => Ok(Self::hs256(&settings.sso_jwt_secret)),
            None => Err(ConfigError { name: "SSO_JWT_SECRET", reason: "is required by the hand-off function (or SSO_JWT_PUBLIC_KEY)".into() }),
        }
    }

    pub fn hs256(secret: &[u8]) -> Self {
        Self::with(DecodingKey::from_secret(secret), Algorithm::HS256)
    }

    /// `algorithm`: RS256 or ES256, `pem`: the portal's public key.
    pub fn public_key(algorithm: &str, pem: &[u8]) -> Result<Self, ConfigError> {
        let bad = |reason: &str| ConfigError { name: "SSO_JWT_PUBLIC_KEY", reason: reason.into() };
        match algorithm {
            "RS256" => Ok(Self::with(DecodingKey::from_rsa_pem(pem).map_err(|_| bad("not an RSA public key in PEM"))?, Algorithm::RS256)),
            "ES256" => Ok(Self::with(DecodingKey::from_ec_pem(pem).map_err(|_| bad("not an EC public key in PEM"))?, Algorithm::ES256)),
            _ => Err(ConfigError { name: "SSO_JWT_ALGORITHM", reason: "expected HS256, RS256 or ES256".into() }),
        }
    }

    fn with(key: DecodingKey, algorithm: Algorithm) -> Self {
        let mut validation = Validation::new(algorithm);
        // Times are checked below against the caller's clock (one clock for the whole app).
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.set_required_spec_claims(&["exp", "sub"]);
        Self { key, validation }
    }

    /// Signature, algorithm, times and shape. Replay and membership are the caller's (they need the store).
    pub fn verify(&self, token: &str, now_unix: i64) -> Result<VerifiedHandoff, HandoffError> {
        if token.is_empty() {
            return Err(HandoffError::Missing);
        }
        if token.len() > MAX_TOKEN_BYTES {
            return Err(HandoffError::TooLong);
        }
        let data = jsonwebtoken::decode::<HandoffClaims>(token, &self.key, &self.validation).map_err(|_| HandoffError::Invalid)?;
        let c = data.claims;
        let leeway = LEEWAY_SECONDS as i64;
        if c.exp <= now_unix - leeway {
            return Err(HandoffError::Expired);
        }
        let sane_times = c.iat <= now_unix + leeway
            && c.nbf.is_none_or(|nbf| nbf <= now_unix + leeway)
            && c.exp - now_unix <= MAX_TOKEN_LIFETIME_SECONDS + leeway;
        let sane_jti = (8..=128).contains(&c.jti.len()) && c.jti.bytes().all(|b| b.is_ascii_graphic());
        if !sane_times || !sane_jti {
            return Err(HandoffError::Invalid);
        }
        let member_id = MemberId::parse(&c.sub).map_err(|_| HandoffError::UnknownMember)?;
        Ok(VerifiedHandoff { member_id, jti: c.jti, expires_at: c.exp })
    }
}

/// Sign a hand-off token as the portal would (development portal, tests, load tools).
pub fn sign_hs256(secret: &[u8], member_id: &str, now_unix: i64, lifetime_seconds: i64) -> String {
    let claims = HandoffClaims {
        sub: member_id.to_owned(),
        iat: now_unix,
        exp: now_unix + lifetime_seconds,
        jti: format!("{:032x}", rand::random::<u128>()),
        nbf: None,
    };
    sign_claims_hs256(secret, &claims)
}

pub fn sign_claims_hs256(secret: &[u8], claims: &HandoffClaims) -> String {
    jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &EncodingKey::from_secret(secret)).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    fn now() -> i64 {
        chrono::Utc::now().timestamp()
    }

    #[test]
    fn a_fresh_token_verifies() {
        let token = sign_hs256(SECRET, "M1", now(), 120);
        let v = HandoffVerifier::hs256(SECRET).verify(&token, now()).unwrap();
        assert_eq!(v.member_id.as_str(), "M1");
    }

    #[test]
    fn wrong_key_expired_long_lived_and_overlong_are_refused() {
        let verifier = HandoffVerifier::hs256(SECRET);
        let other = sign_hs256(b"another-secret-another-secret-xx", "M1", now(), 120);
        assert_eq!(verifier.verify(&other, now()), Err(HandoffError::Invalid));
        let expired = sign_hs256(SECRET, "M1", now() - 600, 120);
        assert_eq!(verifier.verify(&expired, now()), Err(HandoffError::Expired));
        let long_lived = sign_hs256(SECRET, "M1", now(), 86_400);
        assert_eq!(verifier.verify(&long_lived, now()), Err(HandoffError::Invalid));
        assert_eq!(verifier.verify(&"a".repeat(MAX_TOKEN_BYTES + 1), now()), Err(HandoffError::TooLong));
        assert_eq!(verifier.verify("", now()), Err(HandoffError::Missing));
        assert_eq!(verifier.verify("not.a.jwt", now()), Err(HandoffError::Invalid));
    }

    #[test]
    fn alg_none_is_refused() {
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let header = b64.encode(r#"{"alg":"none","typ":"JWT"}"#);
        let claims = b64.encode(format!(r#"{{"sub":"M1","iat":{},"exp":{},"jti":"abcdefgh12345678"}}"#, now(), now() + 60));
        let token = format!("{header}.{claims}.");
        assert_eq!(HandoffVerifier::hs256(SECRET).verify(&token, now()), Err(HandoffError::Invalid));
    }

    proptest::proptest! {
        /// Any text, any dotted shape, any length: refused or verified, never a panic.
        #[test]
        fn verify_never_panics(token in "\\PC{0,300}", dotted in "[A-Za-z0-9_=-]{0,60}\\.[A-Za-z0-9_=-]{0,200}\\.[A-Za-z0-9_=-]{0,60}") {
            let verifier = HandoffVerifier::hs256(SECRET);
            let _ = verifier.verify(&token, now());
            proptest::prop_assert!(verifier.verify(&dotted, now()).is_err());
        }
    }

    #[test]
    fn not_yet_valid_is_refused() {
        let claims = HandoffClaims { sub: "M1".into(), iat: now(), exp: now() + 300, jti: "abcdefgh12345678".into(), nbf: Some(now() + 200) };
        let token = sign_claims_hs256(SECRET, &claims);
        assert_eq!(HandoffVerifier::hs256(SECRET).verify(&token, now()), Err(HandoffError::Invalid));
    }
}
