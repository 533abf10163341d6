//! The portal's hand-off token: a JWT (`sub`, `iat`, `exp`, `jti`), HS256 with a shared secret, or
//! RS256/ES256 with the portal's public key.

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::config::ConfigError;
use crate::domain::MemberId;

pub const MAX_TOKEN_BYTES: usize = 4096;
/// A hand-off token is for immediate use: refuse ones that live longer than this.
pub const MAX_TOKEN_LIFETIME_SECONDS: i64 = 15 * 60;
/// The default clock skew allowed between the portal and us on `iat`, `nbf` and `exp` alike
/// (seconds; `SSO_CLOCK_SKEW_SECONDS`, DESIGN.md Part 2); a used `jti` stays claimed until `exp`
/// plus the skew, the last moment its token could be accepted.
pub const LEEWAY_SECONDS: u64 = 60;

#[derive(Debug, Serialize, Deserialize)]
pub struct HandoffClaims {
    pub sub: String,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
}

/// The claims as received: NumericDate may be fractional (RFC 7519 §2, what `Date.now() / 1000`
/// gives); `aud` a string or an array of strings (RFC 7519 §4.1.3).
#[derive(Debug, Deserialize)]
struct ReceivedClaims {
    sub: String,
    iat: f64,
    exp: f64,
    jti: String,
    #[serde(default)]
    nbf: Option<f64>,
    #[serde(default)]
    iss: Option<String>,
    #[serde(default)]
    aud: Option<Audience>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
}

impl Audience {
    fn contains(&self, wanted: &str) -> bool {
        match self {
            Audience::One(a) => a == wanted,
            Audience::Many(list) => list.iter().any(|a| a == wanted),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedHandoff {
    pub member_id: MemberId,
    pub jti: String,
    pub expires_at: i64,
}

/// Why a hand-off was refused; `code()` is what the log line says (DESIGN.md Part 2's reasons).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum HandoffError {
    #[error("token missing")]
    Missing,
    #[error("token too long")]
    TooLong,
    /// Not a JWT of ours: unreadable, wrong algorithm, a claim missing or of the wrong type, an
    /// absurd lifetime or `jti`.
    #[error("token malformed")]
    Malformed,
    #[error("token signature invalid")]
    BadSignature,
    #[error("token expired")]
    Expired,
    /// `iat` or `nbf` later than now plus the skew.
    #[error("token not yet valid")]
    NotYetValid,
    #[error("token issuer not the portal's")]
    WrongIssuer,
    /// `aud` missing while `SSO_JWT_AUDIENCE` is set, not containing it, or present while it is not
    /// set (RFC 7519 §4.1.3: a token for another audience must be rejected).
    #[error("token audience not ours")]
    WrongAudience,
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
            HandoffError::Missing => "missing",
            HandoffError::TooLong => "too_long",
            HandoffError::Malformed => "malformed",
            HandoffError::BadSignature => "bad_signature",
            HandoffError::Expired => "expired",
            HandoffError::NotYetValid => "not_yet_valid",
            HandoffError::WrongIssuer => "wrong_issuer",
            HandoffError::WrongAudience => "wrong_audience",
            HandoffError::Replayed => "replayed",
            HandoffError::UnknownMember => "unknown_member",
            HandoffError::CrossOrigin => "cross_origin",
        }
    }
}

pub struct HandoffVerifier {
    /// The current key and its validation, then the previous one during a rotation's overlap
    /// (`SSO_JWT_SECRET_PREVIOUS` / `SSO_JWT_PUBLIC_KEY_PREVIOUS`).
    keys: Vec<(DecodingKey, Validation)>,
    /// Allowed clock skew (seconds) on `iat`, `nbf` and `exp`.
    skew: i64,
    /// `SSO_JWT_ISSUER`: when set, the token's `iss` must equal it.
    issuer: Option<String>,
    /// `SSO_JWT_AUDIENCE`: when set, the token's `aud` must contain it; when not, a token with `aud`
    /// is refused.
    audience: Option<String>,
}

impl HandoffVerifier {
    /// The verifier `settings` configure: the portal's public key if one is set, else the HS256
    /// secret; beside it the previous key, if one is set (a public key with the same
    /// `SSO_JWT_ALGORITHM`, or an HS256 secret), so tokens signed either way are accepted during a
    /// rotation (DESIGN.md Part 2). Errors: `ConfigError` for an unusable key, or when neither is
    /// configured (DESIGN.md: at least 32 bytes of secret).
    pub fn from_settings(settings: &crate::config::Settings) -> Result<Self, ConfigError> {
        let mut verifier = match &settings.sso_public_key {
            Some((algorithm, pem)) => Self::public_key(algorithm, pem.as_bytes())?,
            None if settings.sso_jwt_secret.len() >= 32 => Self::hs256(&settings.sso_jwt_secret),
            None => return Err(ConfigError { name: "SSO_JWT_SECRET", reason: "is required by the hand-off function (or SSO_JWT_PUBLIC_KEY)".into() }),
        };
        if let (Some(pem), Some((algorithm, _))) = (&settings.sso_public_key_previous, &settings.sso_public_key) {
            let previous = Self::public_key(algorithm, pem.as_bytes()).map_err(|e| ConfigError { name: "SSO_JWT_PUBLIC_KEY_PREVIOUS", reason: e.reason })?;
            verifier.keys.extend(previous.keys);
        }
        if let Some(secret) = &settings.sso_jwt_secret_previous {
            verifier.keys.extend(Self::hs256(secret).keys);
        }
        Ok(Self {
            skew: i64::try_from(settings.sso_clock_skew_seconds).unwrap_or(i64::MAX / 4),
            issuer: settings.sso_jwt_issuer.clone(),
            audience: settings.sso_jwt_audience.clone(),
            ..verifier
        })
    }

    /// The allowed clock skew in seconds (a used `jti` stays claimed this long after `exp`).
    pub fn skew_seconds(&self) -> i64 {
        self.skew
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
        // `aud` and `iss` are checked below (a token with `aud` while none is configured is refused).
        validation.validate_aud = false;
        validation.set_required_spec_claims(&["exp", "sub"]);
        Self { keys: vec![(key, validation)], skew: LEEWAY_SECONDS as i64, issuer: None, audience: None }
    }

    /// The member of a token whose signature, algorithm, issuer and audience are right, whatever
    /// its times: for the re-post rule (a used or expired token re-posted by a browser whose
    /// session is already that member's continues to the member's page; DESIGN.md Part 2).
    pub fn signed_member(&self, token: &str) -> Option<MemberId> {
        self.claims(token).ok().and_then(|c| MemberId::parse(&c.sub).ok())
    }

    /// The claims of a token of the portal's: size, signature, algorithm, claim types, `jti`,
    /// issuer and audience; not the times.
    fn claims(&self, token: &str) -> Result<ReceivedClaims, HandoffError> {
        if token.is_empty() {
            return Err(HandoffError::Missing);
        }
        if token.len() > MAX_TOKEN_BYTES {
            return Err(HandoffError::TooLong);
        }
        // The current key first; another key only where this one's signature or algorithm did
        // not match (a token of the previous key during a rotation), so a refusal is the last key's.
        use jsonwebtoken::errors::ErrorKind;
        let mut decoded = Err(HandoffError::Malformed);
        for (key, validation) in &self.keys {
            match jsonwebtoken::decode::<ReceivedClaims>(token, key, validation) {
                Ok(data) => {
                    decoded = Ok(data);
                    break;
                }
                Err(e) => {
                    let other_key = matches!(e.kind(), ErrorKind::InvalidSignature | ErrorKind::InvalidAlgorithm);
                    decoded = Err(if matches!(e.kind(), ErrorKind::InvalidSignature) { HandoffError::BadSignature } else { HandoffError::Malformed });
                    if !other_key {
                        break;
                    }
                }
            }
        }
        let c = decoded?.claims;
        let finite = [c.iat, c.exp].iter().chain(c.nbf.iter()).all(|t| t.is_finite());
        let sane_jti = (8..=128).contains(&c.jti.len()) && c.jti.bytes().all(|b| b.is_ascii_graphic());
        if !finite || !sane_jti {
            return Err(HandoffError::Malformed);
        }
        if self.issuer.as_deref().is_some_and(|wanted| c.iss.as_deref() != Some(wanted)) {
            return Err(HandoffError::WrongIssuer);
        }
        let audience_ok = match (&self.audience, &c.aud) {
            (None, None) => true,
            (Some(wanted), Some(aud)) => aud.contains(wanted),
            _ => false,
        };
        if !audience_ok {
            return Err(HandoffError::WrongAudience);
        }
        Ok(c)
    }

    /// Signature, algorithm, issuer, audience, times (with the skew) and shape. Replay and
    /// membership are the caller's (they need the store).
    pub fn verify(&self, token: &str, now_unix: i64) -> Result<VerifiedHandoff, HandoffError> {
        let c = self.claims(token)?;
        let (now, skew) = (now_unix as f64, self.skew as f64);
        if c.exp <= now - skew {
            return Err(HandoffError::Expired);
        }
        if c.iat > now + skew || c.nbf.is_some_and(|nbf| nbf > now + skew) {
            return Err(HandoffError::NotYetValid);
        }
        if c.exp - now > (MAX_TOKEN_LIFETIME_SECONDS + self.skew) as f64 {
            return Err(HandoffError::Malformed);
        }
        let member_id = MemberId::parse(&c.sub).map_err(|_| HandoffError::UnknownMember)?;
        // The last second the token could be accepted in (a fractional `exp` rounds up).
        Ok(VerifiedHandoff { member_id, jti: c.jti, expires_at: c.exp.ceil() as i64 })
    }
}

/// A `jti` as a log line may name it: the first 12 hex digits of its SHA-256 (enough to find the
/// portal's record of the token, useless to replay it).
pub fn jti_hash(jti: &str) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(jti.as_bytes()).iter().take(6).map(|b| format!("{b:02x}")).collect()
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
    fn during_a_rotation_both_portal_keys_are_accepted_and_the_old_one_is_refused_after_it() {
        const NEW: &[u8] = b"the-portals-new-key-the-portals-new-key";
        let mut settings = crate::config::Settings::development();
        settings.sso_jwt_secret = NEW.to_vec();
        settings.sso_jwt_secret_previous = Some(SECRET.to_vec());
        let overlap = HandoffVerifier::from_settings(&settings).unwrap();
        for key in [NEW, SECRET] {
            assert_eq!(overlap.verify(&sign_hs256(key, "M1", now(), 120), now()).unwrap().member_id.as_str(), "M1");
        }
        let stranger = sign_hs256(b"another-secret-another-secret-xx", "M1", now(), 120);
        assert_eq!(overlap.verify(&stranger, now()), Err(HandoffError::BadSignature));
        settings.sso_jwt_secret_previous = None;
        let after = HandoffVerifier::from_settings(&settings).unwrap();
        assert_eq!(after.verify(&sign_hs256(SECRET, "M1", now(), 120), now()), Err(HandoffError::BadSignature));
        assert!(after.verify(&sign_hs256(NEW, "M1", now(), 120), now()).is_ok());
    }

    #[test]
    fn wrong_key_expired_long_lived_and_overlong_are_refused() {
        let verifier = HandoffVerifier::hs256(SECRET);
        let other = sign_hs256(b"another-secret-another-secret-xx", "M1", now(), 120);
        assert_eq!(verifier.verify(&other, now()), Err(HandoffError::BadSignature));
        let expired = sign_hs256(SECRET, "M1", now() - 600, 120);
        assert_eq!(verifier.verify(&expired, now()), Err(HandoffError::Expired));
        let long_lived = sign_hs256(SECRET, "M1", now(), 86_400);
        assert_eq!(verifier.verify(&long_lived, now()), Err(HandoffError::Malformed));
        assert_eq!(verifier.verify(&"a".repeat(MAX_TOKEN_BYTES + 1), now()), Err(HandoffError::TooLong));
        assert_eq!(verifier.verify("", now()), Err(HandoffError::Missing));
        assert_eq!(verifier.verify("not.a.jwt", now()), Err(HandoffError::Malformed));
    }

    #[test]
    fn alg_none_is_refused() {
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let header = b64.encode(r#"{"alg":"none","typ":"JWT"}"#);
        let claims = b64.encode(format!(r#"{{"sub":"M1","iat":{},"exp":{},"jti":"abcdefgh12345678"}}"#, now(), now() + 60));
        let token = format!("{header}.{claims}.");
        assert_eq!(HandoffVerifier::hs256(SECRET).verify(&token, now()), Err(HandoffError::Malformed));
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
        assert_eq!(HandoffVerifier::hs256(SECRET).verify(&token, now()), Err(HandoffError::NotYetValid));
    }

    fn signed(claims: serde_json::Value) -> String {
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &EncodingKey::from_secret(SECRET)).unwrap()
    }

    /// A portal clock ahead or behind by up to the skew (60 s by default) is accepted, on `iat`,
    /// `nbf` and `exp` alike; beyond it the reason is named.
    #[test]
    fn the_portals_clock_may_differ_by_the_skew() {
        let v = HandoffVerifier::hs256(SECRET);
        let n = now();
        let ahead = |s: i64| signed(serde_json::json!({"sub": "M1", "iat": n + s, "nbf": n + s, "exp": n + s + 60, "jti": "abcdefgh12345678"}));
        assert!(v.verify(&ahead(35), n).is_ok(), "35 s ahead (refused before)");
        assert!(v.verify(&ahead(59), n).is_ok());
        assert_eq!(v.verify(&ahead(61), n), Err(HandoffError::NotYetValid));
        let behind = signed(serde_json::json!({"sub": "M1", "iat": n - 100, "exp": n - 50, "jti": "abcdefgh12345678"}));
        assert!(v.verify(&behind, n).is_ok(), "exp 50 s ago: within the skew");
        let long_gone = signed(serde_json::json!({"sub": "M1", "iat": n - 200, "exp": n - 61, "jti": "abcdefgh12345678"}));
        assert_eq!(v.verify(&long_gone, n), Err(HandoffError::Expired));
    }

    /// RFC 7519 §2: a NumericDate may be fractional (what `Date.now() / 1000` gives).
    #[test]
    fn fractional_times_are_accepted() {
        let n = now() as f64 + 0.25;
        let token = signed(serde_json::json!({"sub": "M1", "iat": n, "exp": n + 60.5, "jti": "abcdefgh12345678"}));
        let verified = HandoffVerifier::hs256(SECRET).verify(&token, now()).unwrap();
        assert_eq!(verified.expires_at, (n + 60.5).ceil() as i64);
    }

    #[test]
    fn issuer_and_audience_when_set_and_no_audience_when_not() {
        let n = now();
        let token = |extra: serde_json::Value| {
            let mut c = serde_json::json!({"sub": "M1", "iat": n, "exp": n + 60, "jti": "abcdefgh12345678"});
            c.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
            signed(c)
        };
        let plain = HandoffVerifier::hs256(SECRET);
        assert!(plain.verify(&token(serde_json::json!({"iss": "anyone"})), n).is_ok(), "no issuer configured: any");
        assert_eq!(plain.verify(&token(serde_json::json!({"aud": "kenpo"})), n), Err(HandoffError::WrongAudience), "aud while none is configured");
        let strict = HandoffVerifier { issuer: Some("https://portal.example".into()), audience: Some("kenpo-web".into()), ..HandoffVerifier::hs256(SECRET) };
        assert!(strict.verify(&token(serde_json::json!({"iss": "https://portal.example", "aud": ["other", "kenpo-web"]})), n).is_ok());
        assert_eq!(strict.verify(&token(serde_json::json!({"iss": "https://evil.example", "aud": "kenpo-web"})), n), Err(HandoffError::WrongIssuer));
        assert_eq!(strict.verify(&token(serde_json::json!({"iss": "https://portal.example"})), n), Err(HandoffError::WrongAudience));
        assert_eq!(strict.verify(&token(serde_json::json!({"aud": "kenpo-web"})), n), Err(HandoffError::WrongIssuer));
    }
}
