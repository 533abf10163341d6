//! The session cookie: AES-256-GCM encrypted (cookie crate "private" jar), HttpOnly, Secure,
//! SameSite=Lax, with its own expiry inside. Costs no database read.

use base64::Engine;
use cookie::{Cookie, CookieJar, Key, SameSite};
use lambda_http::http::HeaderMap;
use serde::{Deserialize, Serialize};

use crate::config::ConfigError;
use crate::domain::MemberId;

pub const COOKIE_NAME: &str = "kenpo_session";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    #[serde(rename = "m")]
    pub member_id: MemberId,
    /// A fresh random id per hand-off (no session fixation).
    #[serde(rename = "s")]
    pub session_id: String,
    /// Unix seconds.
    #[serde(rename = "e")]
    pub expires_at: i64,
}

pub struct SessionCodec {
    key: Key,
    secure: bool,
    lifetime_seconds: i64,
}

impl SessionCodec {
    pub fn new(master_key: &[u8], secure: bool, lifetime_seconds: u64) -> Result<Self, ConfigError> {
        if master_key.len() < 32 {
            return Err(ConfigError { name: "SESSION_KEY", reason: "must be at least 32 bytes".into() });
        }
        Ok(Self { key: Key::derive_from(master_key), secure, lifetime_seconds: i64::try_from(lifetime_seconds).unwrap_or(i64::MAX / 2) })
    }

    /// A new session for `member_id` and its `Set-Cookie` header value.
    pub fn issue(&self, member_id: MemberId, now_unix: i64) -> (Session, String) {
        let session_id = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand::random::<[u8; 16]>());
        let session = Session { member_id, session_id, expires_at: now_unix + self.lifetime_seconds };
        let payload = serde_json::to_string(&session).unwrap_or_default();
        let mut jar = CookieJar::new();
        jar.private_mut(&self.key).add(self.base_cookie(payload, self.lifetime_seconds));
        let header = jar.delta().next().map(|c| c.encoded().to_string()).unwrap_or_default();
        (session, header)
    }

    /// The session in the request's `Cookie` header, if present, authentic and not expired.
    pub fn read(&self, headers: &HeaderMap, now_unix: i64) -> Option<Session> {
        let mut jar = CookieJar::new();
        for header in headers.get_all("cookie") {
            let Ok(text) = header.to_str() else { continue };
            for cookie in Cookie::split_parse_encoded(text.to_owned()).flatten() {
                if cookie.name() == COOKIE_NAME {
                    jar.add_original(cookie.into_owned());
                }
            }
        }
        let cookie = jar.private(&self.key).get(COOKIE_NAME)?;
        let session: Session = serde_json::from_str(cookie.value()).ok()?;
        (session.expires_at > now_unix).then_some(session)
    }

    /// `Set-Cookie` value that removes the session (logout).
    pub fn clear(&self) -> String {
        self.base_cookie(String::new(), 0).encoded().to_string()
    }

    fn base_cookie(&self, value: String, max_age: i64) -> Cookie<'static> {
        Cookie::build((COOKIE_NAME, value))
            .path("/")
            .http_only(true)
            .secure(self.secure)
            .same_site(SameSite::Lax)
            .max_age(cookie::time::Duration::seconds(max_age))
            .build()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::http::HeaderValue;

    fn codec() -> SessionCodec {
        SessionCodec::new(&[7u8; 64], true, 1800).unwrap()
    }

    fn headers(cookie: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("cookie", HeaderValue::from_str(cookie).unwrap());
        h
    }

    fn cookie_pair(set_cookie: &str) -> String {
        set_cookie.split(';').next().unwrap().to_owned()
    }

    #[test]
    fn issued_cookie_reads_back_and_has_the_flags() {
        let (session, set) = codec().issue(MemberId::parse("M1").unwrap(), 1000);
        for flag in ["HttpOnly", "Secure", "SameSite=Lax", "Path=/", "Max-Age=1800"] {
            assert!(set.contains(flag), "{set} lacks {flag}");
        }
        assert!(!set.contains("M1"), "the member id is encrypted");
        let read = codec().read(&headers(&format!("other=1; {}", cookie_pair(&set))), 1001).unwrap();
        assert_eq!(read, session);
    }

    #[test]
    fn expired_tampered_and_foreign_cookies_are_refused() {
        let (_, set) = codec().issue(MemberId::parse("M1").unwrap(), 1000);
        let pair = cookie_pair(&set);
        assert!(codec().read(&headers(&pair), 1000 + 1800).is_none(), "expired");
        let foreign = SessionCodec::new(&[8u8; 64], true, 1800).unwrap();
        assert!(foreign.read(&headers(&pair), 1001).is_none(), "other key");
        let mut tampered = pair.clone().into_bytes();
        let last = tampered.len() - 2;
        tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
        assert!(codec().read(&headers(&String::from_utf8(tampered).unwrap()), 1001).is_none(), "tampered");
    }

    proptest::proptest! {
        /// Any Cookie header: no session unless it is ours, and never a panic.
        #[test]
        fn reading_any_cookie_header_never_panics(value in "[ -~]{0,400}") {
            let mut h = HeaderMap::new();
            if let Ok(v) = HeaderValue::from_str(&format!("kenpo_session={value}")) {
                h.insert("cookie", v);
                proptest::prop_assert!(codec().read(&h, 1000).is_none());
            }
        }
    }

    #[test]
    fn each_hand_off_gets_a_new_session_id() {
        let (a, _) = codec().issue(MemberId::parse("M1").unwrap(), 1000);
        let (b, _) = codec().issue(MemberId::parse("M1").unwrap(), 1000);
        assert_ne!(a.session_id, b.session_id);
    }
}
