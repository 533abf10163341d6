//! The session cookie (DESIGN.md Part 2, "Sessions and hand-off"): AES-256-GCM encrypted (cookie
//! crate "private" jar), `__Host-kenpo_session; Secure; HttpOnly; SameSite=Lax; Path=/`, no
//! `Max-Age` (it ends with the browser). Inside: the member, a session id, the issue time and the
//! last use. Reading it costs no database request; the member's record then says whether the
//! session was ended (`SignupRecord::accepts_session`, read by the handlers that read the record
//! anyway).
//!
//! Rotation: cookies are sealed with the current `SESSION_KEY`; `SESSION_KEY_PREVIOUS`, when set,
//! still opens the cookies sealed before the rotation (the overlap), and the next answer re-seals
//! them with the current key.

use base64::Engine;
use chrono::{DateTime, Utc};
use cookie::{Cookie, CookieJar, Key, SameSite};
use lambda_http::http::HeaderMap;
use serde::{Deserialize, Serialize};

use crate::config::ConfigError;
use crate::domain::MemberId;

/// The cookie's name with `Secure` (`__Host-`: the browser refuses it from a sibling domain, over
/// HTTP, or with a `Domain` or another `Path`; RFC 6265bis §4.1.3.2).
pub const COOKIE_NAME: &str = "__Host-kenpo_session";
/// The name with `COOKIE_SECURE=false` (a browser refuses the `__Host-` prefix without `Secure`).
pub const INSECURE_COOKIE_NAME: &str = "kenpo_session";

/// One member's session as its cookie carries it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    #[serde(rename = "m")]
    pub member_id: MemberId,
    /// A fresh random id per hand-off (no session fixation).
    #[serde(rename = "s")]
    pub session_id: String,
    /// When the hand-off made it: UTC, microseconds since the Unix epoch (compared to the member's
    /// "sessions valid from" to the microsecond).
    #[serde(rename = "i")]
    pub issued_at_micros: i64,
    /// The last authenticated answer: UTC Unix seconds (`SESSION_SECONDS` of inactivity after it
    /// end the session).
    #[serde(rename = "u")]
    pub last_use: i64,
}

impl Session {
    /// `issued_at_micros` as a time (UTC).
    pub fn issued_at(&self) -> DateTime<Utc> {
        DateTime::from_timestamp_micros(self.issued_at_micros).unwrap_or(DateTime::<Utc>::MIN_UTC)
    }
}

/// Seals and opens session cookies.
pub struct SessionCodec {
    /// The current key first, then the previous one (if any).
    keys: Vec<Key>,
    secure: bool,
    /// `SESSION_SECONDS`: inactivity after which a session ends.
    idle_seconds: i64,
    /// `SESSION_MAX_SECONDS`: a session's whole life, whatever its use.
    max_seconds: i64,
}

fn key(name: &'static str, bytes: &[u8]) -> Result<Key, ConfigError> {
    if bytes.len() < 32 {
        return Err(ConfigError { name, reason: "must be at least 32 bytes".into() });
    }
    Ok(Key::derive_from(bytes))
}

impl SessionCodec {
    /// Errors: `ConfigError` when a key is shorter than 32 bytes.
    pub fn new(current: &[u8], previous: Option<&[u8]>, secure: bool, idle_seconds: u64, max_seconds: u64) -> Result<Self, ConfigError> {
        let mut keys = vec![key("SESSION_KEY", current)?];
        if let Some(previous) = previous {
            keys.push(key("SESSION_KEY_PREVIOUS", previous)?);
        }
        let seconds = |s: u64| i64::try_from(s).unwrap_or(i64::MAX / 2);
        Ok(Self { keys, secure, idle_seconds: seconds(idle_seconds), max_seconds: seconds(max_seconds) })
    }

    /// The cookie's name (`COOKIE_NAME`, or `INSECURE_COOKIE_NAME` without `Secure`).
    pub fn cookie_name(&self) -> &'static str {
        if self.secure { COOKIE_NAME } else { INSECURE_COOKIE_NAME }
    }

    /// A new session for `member_id`, issued at `now`, and its `Set-Cookie` header value.
    pub fn issue(&self, member_id: MemberId, now: DateTime<Utc>) -> (Session, String) {
        let session_id = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand::random::<[u8; 16]>());
        let session = Session { member_id, session_id, issued_at_micros: now.timestamp_micros(), last_use: now.timestamp() };
        let header = self.seal(&session);
        (session, header)
    }

    /// The `Set-Cookie` header value that carries `session` on, used at `now` (every
    /// authenticated answer but a 401 sends it: DESIGN.md Part 2).
    pub fn renew(&self, session: &Session, now: DateTime<Utc>) -> String {
        self.seal(&Session { last_use: now.timestamp(), ..session.clone() })
    }

    fn seal(&self, session: &Session) -> String {
        let payload = serde_json::to_string(session).unwrap_or_default();
        let mut jar = CookieJar::new();
        jar.private_mut(&self.keys[0]).add(self.base_cookie(payload).build());
        jar.delta().next().map(|c| c.encoded().to_string()).unwrap_or_default()
    }

    /// The session in the request's `Cookie` headers, if one is present, sealed by one of our
    /// keys, used within `SESSION_SECONDS` and issued within `SESSION_MAX_SECONDS` of `now`.
    /// Several cookies of our name (one planted for a parent domain): the first that opens counts.
    pub fn read(&self, headers: &HeaderMap, now: DateTime<Utc>) -> Option<Session> {
        let now_unix = now.timestamp();
        let candidates = headers
            .get_all("cookie")
            .iter()
            .filter_map(|h| h.to_str().ok())
            .flat_map(|text| Cookie::split_parse_encoded(text.to_owned()).flatten())
            .filter(|c| c.name() == self.cookie_name());
        for cookie in candidates {
            for key in &self.keys {
                let mut jar = CookieJar::new();
                jar.add_original(cookie.clone().into_owned());
                let Some(opened) = jar.private(key).get(self.cookie_name()) else { continue };
                let Ok(session) = serde_json::from_str::<Session>(opened.value()) else { continue };
                let issued = session.issued_at_micros.div_euclid(1_000_000);
                let fresh = now_unix - session.last_use < self.idle_seconds && now_unix - issued < self.max_seconds && session.last_use <= now_unix + 60;
                return fresh.then_some(session);
            }
        }
        None
    }

    /// For ログアウト only: the session in the cookie as `read` finds it, but also after
    /// `SESSION_SECONDS` of inactivity (a member who presses ログアウト after a pause still ends the
    /// sessions on the other devices); never past `SESSION_MAX_SECONDS`.
    pub fn read_for_logout(&self, headers: &HeaderMap, now: DateTime<Utc>) -> Option<Session> {
        let idle = Self { keys: self.keys.clone(), secure: self.secure, idle_seconds: self.max_seconds, max_seconds: self.max_seconds };
        idle.read(headers, now)
    }

    /// `Set-Cookie` value that removes the session from this browser (logout).
    pub fn clear(&self) -> String {
        self.base_cookie(String::new()).max_age(cookie::time::Duration::ZERO).build().encoded().to_string()
    }

    fn base_cookie(&self, value: String) -> cookie::CookieBuilder<'static> {
        Cookie::build((self.cookie_name(), value)).path("/").http_only(true).secure(self.secure).same_site(SameSite::Lax)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::http::HeaderValue;

    const KEY: [u8; 64] = [7u8; 64];

    fn codec() -> SessionCodec {
        SessionCodec::new(&KEY, None, true, 1800, 12 * 3600).unwrap()
    }

    fn at(unix: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(unix, 0).unwrap()
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
    fn issued_cookie_reads_back_and_has_the_flags_and_no_lifetime() {
        // A long id: a two-letter one turns up in random ciphertext now and then.
        let (session, set) = codec().issue(MemberId::parse("member-4711-kenpo").unwrap(), at(1000));
        assert!(set.starts_with("__Host-kenpo_session="), "{set}");
        for flag in ["HttpOnly", "Secure", "SameSite=Lax", "Path=/"] {
            assert!(set.contains(flag), "{set} lacks {flag}");
        }
        for lasting in ["Max-Age", "Expires", "Domain"] {
            assert!(!set.contains(lasting), "{set} must end with the browser and stay on this host");
        }
        assert!(!set.contains("member-4711-kenpo"), "the member id is encrypted");
        let read = codec().read(&headers(&format!("other=1; {}", cookie_pair(&set))), at(1001)).unwrap();
        assert_eq!(read, session);
        assert_eq!(read.issued_at(), at(1000));
    }

    #[test]
    fn a_session_ends_after_inactivity_unless_renewed_and_after_twelve_hours_in_all() {
        let (session, set) = codec().issue(MemberId::parse("M1").unwrap(), at(0));
        assert!(codec().read(&headers(&cookie_pair(&set)), at(1800)).is_none(), "30 minutes idle");
        // Used every 20 minutes: it lives on, but not past 12 hours.
        let mut cookie = cookie_pair(&set);
        let mut now = 0;
        while now + 1200 < 12 * 3600 {
            now += 1200;
            let read = codec().read(&headers(&cookie), at(now)).expect("renewed on use");
            cookie = cookie_pair(&codec().renew(&read, at(now)));
        }
        assert!(codec().read(&headers(&cookie), at(12 * 3600)).is_none(), "SESSION_MAX_SECONDS");
        assert_eq!(codec().read(&headers(&cookie), at(now)).unwrap().session_id, session.session_id, "the same session throughout");
    }

    #[test]
    fn expired_tampered_and_foreign_cookies_are_refused() {
        let (_, set) = codec().issue(MemberId::parse("M1").unwrap(), at(1000));
        let pair = cookie_pair(&set);
        assert!(codec().read(&headers(&pair), at(1000 + 1800)).is_none(), "expired");
        let foreign = SessionCodec::new(&[8u8; 64], None, true, 1800, 43200).unwrap();
        assert!(foreign.read(&headers(&pair), at(1001)).is_none(), "other key");
        let mut tampered = pair.clone().into_bytes();
        let last = tampered.len() - 2;
        tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
        assert!(codec().read(&headers(&String::from_utf8(tampered).unwrap()), at(1001)).is_none(), "tampered");
        let unprefixed = pair.replacen("__Host-kenpo_session", "kenpo_session", 1);
        assert!(codec().read(&headers(&unprefixed), at(1001)).is_none(), "only the __Host- cookie counts");
    }

    #[test]
    fn a_planted_cookie_beside_ours_does_not_replace_it() {
        let (mine, set) = codec().issue(MemberId::parse("M1").unwrap(), at(1000));
        let header = format!("{}; __Host-kenpo_session=planted", cookie_pair(&set));
        assert_eq!(codec().read(&headers(&header), at(1001)), Some(mine.clone()));
        let header = format!("__Host-kenpo_session=planted; {}", cookie_pair(&set));
        assert_eq!(codec().read(&headers(&header), at(1001)), Some(mine));
    }

    #[test]
    fn during_a_rotation_both_keys_open_and_new_cookies_use_the_current_one() {
        let old = SessionCodec::new(&KEY, None, true, 1800, 43200).unwrap();
        let (session, old_cookie) = old.issue(MemberId::parse("M1").unwrap(), at(1000));
        let rotated = SessionCodec::new(&[9u8; 64], Some(&KEY), true, 1800, 43200).unwrap();
        let read = rotated.read(&headers(&cookie_pair(&old_cookie)), at(1001)).expect("the previous key still opens it");
        assert_eq!(read, session);
        let resealed = cookie_pair(&rotated.renew(&read, at(1001)));
        assert!(old.read(&headers(&resealed), at(1002)).is_none(), "re-sealed with the current key");
        let after = SessionCodec::new(&[9u8; 64], None, true, 1800, 43200).unwrap();
        assert!(after.read(&headers(&resealed), at(1002)).is_some());
        assert!(after.read(&headers(&cookie_pair(&old_cookie)), at(1002)).is_none(), "the old key is refused once the overlap ends");
    }

    #[test]
    fn without_secure_the_cookie_has_no_prefix() {
        let insecure = SessionCodec::new(&KEY, None, false, 1800, 43200).unwrap();
        let (_, set) = insecure.issue(MemberId::parse("M1").unwrap(), at(1000));
        assert!(set.starts_with("kenpo_session=") && !set.contains("Secure"), "{set}");
        assert!(insecure.clear().starts_with("kenpo_session=;") && insecure.clear().contains("Max-Age=0"));
    }

    proptest::proptest! {
        /// Any Cookie header: no session unless it is ours, and never a panic.
        #[test]
        fn reading_any_cookie_header_never_panics(value in "[ -~]{0,400}") {
            let mut h = HeaderMap::new();
            if let Ok(v) = HeaderValue::from_str(&format!("__Host-kenpo_session={value}")) {
                h.insert("cookie", v);
                proptest::prop_assert!(codec().read(&h, at(1000)).is_none());
            }
        }
    }

    #[test]
    fn each_hand_off_gets_a_new_session_id() {
        let (a, _) = codec().issue(MemberId::parse("M1").unwrap(), at(1000));
        let (b, _) = codec().issue(MemberId::parse("M1").unwrap(), at(1000));
        assert_ne!(a.session_id, b.session_id);
    }
}
