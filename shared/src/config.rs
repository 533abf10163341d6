//! Settings, read from the environment (the SAM template sets the same names as the dev server).

use std::env;

use chrono::NaiveDate;

use crate::domain::{InsurerNumber, TermsVersion};

#[derive(Debug, thiserror::Error)]
#[error("setting {name}: {reason}")]
pub struct ConfigError {
    pub name: &'static str,
    pub reason: String,
}

impl ConfigError {
    pub fn code(&self) -> &'static str {
        "config_invalid"
    }
}

/// Everything a handler needs to decide, with development defaults.
#[derive(Clone)]
pub struct Settings {
    pub table_name: String,
    pub sender_address: String,
    pub mail_from_domain: String,
    /// `SOCIETY_NAME`: on every screen, page and mail (required in a Lambda).
    pub society_name: String,
    /// `SOCIETY_PHONE`, `SOCIETY_HOURS`, `SOCIETY_URL`: where members ask (the footer, the error
    /// pages, the lockout message, every mail). The phone is required in a Lambda.
    pub society_phone: String,
    pub society_hours: String,
    pub society_url: Option<String>,
    /// `INSURER_NUMBERS`: `06133946:現役社員・任意継続被保険者の方,63133946:特例退職被保険者の方（記号459）`:
    /// the society's 保険者番号, each with who uses it (optional), for the identity check's messages.
    pub insurer_numbers: Vec<InsurerNumber>,
    pub insurer_number_users: Vec<Option<String>>,
    pub terms_version: TermsVersion,
    /// Members whose last completion is before this day (Japan time) onboard again once.
    pub onboarding_cutoff: NaiveDate,
    pub lockout_attempts: u32,
    pub lockout_seconds: u64,
    /// `SESSION_SECONDS` (1800): a session ends after this much inactivity (seconds).
    pub session_seconds: u64,
    /// `SESSION_MAX_SECONDS` (43200, 12 h): a session ends this long after the hand-off, whatever its use.
    pub session_max_seconds: u64,
    /// HS256 secret of the portal's hand-off tokens.
    pub sso_jwt_secret: Vec<u8>,
    /// Instead of the secret: the portal's public key (PEM) and its algorithm (RS256 or ES256).
    pub sso_public_key: Option<(String, String)>,
    /// `SSO_JWT_SECRET_PREVIOUS` / `SSO_JWT_PUBLIC_KEY_PREVIOUS`: the portal's key before a
    /// rotation, still accepted beside the current one (DESIGN.md Part 2, "Rotation").
    pub sso_jwt_secret_previous: Option<Vec<u8>>,
    pub sso_public_key_previous: Option<String>,
    /// `SSO_CLOCK_SKEW_SECONDS` (default 60): the portal's clock may differ from ours by this much
    /// on `iat`, `nbf` and `exp` alike.
    pub sso_clock_skew_seconds: u64,
    /// `SSO_JWT_ISSUER`, `SSO_JWT_AUDIENCE`: required in the token when set (RFC 7519 §4.1.1, §4.1.3).
    pub sso_jwt_issuer: Option<String>,
    pub sso_jwt_audience: Option<String>,
    /// Master key of the session cookie (at least 32 bytes).
    pub session_key: Vec<u8>,
    /// `SESSION_KEY_PREVIOUS`: the session key before a rotation; its cookies are still opened.
    pub session_key_previous: Option<Vec<u8>>,
    /// `NOTIFY_UNSUBSCRIBE_KEY`: signs the update notice's unsubscribe links (its own key, at
    /// least 32 bytes; required in a Lambda that signs or checks them).
    pub notify_unsubscribe_key: Vec<u8>,
    /// `LOG_PSEUDONYM_KEY`: keys the member pseudonyms in the logs (`crate::pseudonym`; at least
    /// 32 bytes; the stack generates it). Empty: a random key per process.
    pub log_pseudonym_key: Vec<u8>,
    /// Origins allowed to POST/PUT the API (our own).
    pub allowed_origins: Vec<String>,
    /// Where a member who is not logged in goes back to.
    pub portal_url: String,
    /// `PORTAL_ORIGINS`: the origins whose pages may post a hand-off to `/sso` (DESIGN.md Part 2);
    /// `None`: the origin of `portal_url`, or our own origins when it is a path (`/dev/portal`).
    /// `null` counts only when written explicitly.
    pub portal_origins: Option<Vec<String>>,
    pub cookie_secure: bool,
    pub max_body_bytes: usize,
    /// `NOTIFY_SEND_RATE`: mails per second the SES account takes, shared by every sender
    /// (welcome mails, address notices, update notices; DESIGN.md Part 2, "Pacing"). From 0.1 to
    /// 1000. Default 1000 outside a Lambda (the dev server's outbox has no rate; set it for
    /// `kenpo dev --aws`); the template always sets it in a Lambda.
    pub send_rate: f64,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("table_name", &self.table_name)
            .field("terms_version", &self.terms_version)
            .field("onboarding_cutoff", &self.onboarding_cutoff)
            .finish_non_exhaustive()
    }
}

pub const DEV_SSO_JWT_SECRET: &str = "kenpo-dev-only-sso-secret-do-not-use-in-production";
pub const DEV_NOTIFY_UNSUBSCRIBE_KEY: &str = "kenpo-dev-only-unsubscribe-key-do-not-use-in-production";
pub const DEV_LOG_PSEUDONYM_KEY: &str = "kenpo-dev-only-log-pseudonym-key-do-not-use-in-production";
pub const DEV_SESSION_KEY: &str = "kenpo-dev-only-session-key-do-not-use-in-production-0123456789";

impl Settings {
    /// The origins `/sso` accepts a hand-off from: `PORTAL_ORIGINS`, else the origin of
    /// `PORTAL_URL` (scheme, host and port of an absolute `http(s)` URL), else (a path, as in the
    /// dev server) our own `allowed_origins`.
    pub fn portal_origins(&self) -> Vec<String> {
        if let Some(list) = &self.portal_origins {
            return list.clone();
        }
        let origin = ["https://", "http://"].iter().find_map(|scheme| {
            let rest = self.portal_url.strip_prefix(scheme)?;
            let authority = rest.split(['/', '?', '#']).next().filter(|a| !a.is_empty())?;
            Some(format!("{scheme}{authority}"))
        });
        origin.map_or_else(|| self.allowed_origins.clone(), |o| vec![o])
    }

    /// Development defaults: what `kenpo dev` runs with unless the environment says otherwise.
    pub fn development() -> Self {
        Self {
            table_name: "kenpo-dev".into(),
            sender_address: "webmaster@kenpo.example".into(),
            mail_from_domain: "kenpo.example".into(),
            society_name: "けんぽ見本健康保険組合".into(),
            society_phone: "03-0000-0000".into(),
            society_hours: "平日 9:00〜17:00".into(),
            society_url: Some("https://kenpo.example/".into()),
            insurer_numbers: ["06133946", "63133946"].iter().filter_map(|n| InsurerNumber::parse(n).ok()).collect(),
            insurer_number_users: vec![Some("現役社員・任意継続被保険者の方".into()), Some("特例退職被保険者の方（健康保険証の記号が459の方）".into())],
            terms_version: TermsVersion::parse("2026-11-01").expect("valid literal"),
            onboarding_cutoff: NaiveDate::from_ymd_opt(2022, 8, 1).expect("valid literal"),
            lockout_attempts: 5,
            lockout_seconds: 30 * 60,
            session_seconds: 30 * 60,
            session_max_seconds: 12 * 3600,
            sso_jwt_secret: DEV_SSO_JWT_SECRET.as_bytes().to_vec(),
            sso_public_key: None,
            sso_jwt_secret_previous: None,
            sso_public_key_previous: None,
            sso_clock_skew_seconds: crate::handoff::LEEWAY_SECONDS,
            sso_jwt_issuer: None,
            sso_jwt_audience: None,
            session_key: DEV_SESSION_KEY.as_bytes().to_vec(),
            session_key_previous: None,
            notify_unsubscribe_key: DEV_NOTIFY_UNSUBSCRIBE_KEY.as_bytes().to_vec(),
            log_pseudonym_key: DEV_LOG_PSEUDONYM_KEY.as_bytes().to_vec(),
            allowed_origins: vec!["http://127.0.0.1:3000".into(), "http://localhost:3000".into()],
            portal_url: "/dev/portal".into(),
            portal_origins: None,
            cookie_secure: true,
            max_body_bytes: 16 * 1024,
            send_rate: 1000.0,
        }
    }

    /// Read from the environment. In a Lambda (`AWS_LAMBDA_FUNCTION_NAME` set) the secrets and the
    /// table have no defaults: a missing one fails at init, not at the first member.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|k| env::var(k).ok())
    }

    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let in_lambda = get("AWS_LAMBDA_FUNCTION_NAME").is_some();
        let mut s = Self::development();
        let required = |name: &'static str| -> Result<Option<String>, ConfigError> {
            match get(name).filter(|v| !v.trim().is_empty()) {
                Some(v) => Ok(Some(v)),
                None if in_lambda => Err(ConfigError { name, reason: "is required in a Lambda".into() }),
                None => Ok(None),
            }
        };
        if let Some(v) = required("TABLE_NAME")? {
            s.table_name = v;
        }
        if let Some(pem) = get("SSO_JWT_PUBLIC_KEY").filter(|v| !v.trim().is_empty()) {
            s.sso_public_key = Some((get("SSO_JWT_ALGORITHM").unwrap_or_else(|| "RS256".into()), pem));
        } else if let Some(v) = get("SSO_JWT_SECRET").filter(|v| !v.trim().is_empty()) {
            if v.len() < 32 {
                return Err(ConfigError { name: "SSO_JWT_SECRET", reason: "must be at least 32 bytes".into() });
            }
            s.sso_jwt_secret = v.into_bytes();
        } else if in_lambda {
            // Only the hand-off function verifies tokens; the others never hold the secret.
            s.sso_jwt_secret = Vec::new();
        }
        // Only the functions that read the session cookie get SESSION_KEY (they call
        // `require_session_key` at init); in any other Lambda there is none.
        match get("SESSION_KEY").filter(|v| !v.trim().is_empty()) {
            Some(v) if v.len() < 32 => return Err(ConfigError { name: "SESSION_KEY", reason: "must be at least 32 bytes".into() }),
            Some(v) => s.session_key = v.into_bytes(),
            None if in_lambda => s.session_key = Vec::new(),
            None => {}
        }
        let secret = |name: &'static str| -> Result<Option<Vec<u8>>, ConfigError> {
            match get(name).filter(|v| !v.trim().is_empty()) {
                Some(v) if v.len() < 32 => Err(ConfigError { name, reason: "must be at least 32 bytes".into() }),
                v => Ok(v.map(String::into_bytes)),
            }
        };
        s.session_key_previous = secret("SESSION_KEY_PREVIOUS")?;
        match secret("NOTIFY_UNSUBSCRIBE_KEY")? {
            Some(key) => s.notify_unsubscribe_key = key,
            None if in_lambda => s.notify_unsubscribe_key = Vec::new(),
            None => {}
        }
        match secret("LOG_PSEUDONYM_KEY")? {
            Some(key) => s.log_pseudonym_key = key,
            None if in_lambda => s.log_pseudonym_key = Vec::new(),
            None => {}
        }
        s.sso_jwt_secret_previous = secret("SSO_JWT_SECRET_PREVIOUS")?;
        s.sso_public_key_previous = get("SSO_JWT_PUBLIC_KEY_PREVIOUS").filter(|v| !v.trim().is_empty());
        if let Some(v) = required("ALLOWED_ORIGINS")? {
            s.allowed_origins = v.split(',').map(|o| o.trim().trim_end_matches('/').to_owned()).filter(|o| !o.is_empty()).collect();
        }
        if let Some(v) = get("SSO_CLOCK_SKEW_SECONDS").filter(|v| !v.trim().is_empty()) {
            s.sso_clock_skew_seconds = v.trim().parse().ok().filter(|n| *n <= 600).ok_or(ConfigError { name: "SSO_CLOCK_SKEW_SECONDS", reason: "expected seconds from 0 to 600".into() })?;
        }
        s.sso_jwt_issuer = get("SSO_JWT_ISSUER").map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        s.sso_jwt_audience = get("SSO_JWT_AUDIENCE").map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        if let Some(v) = get("PORTAL_ORIGINS").filter(|v| !v.trim().is_empty()) {
            s.portal_origins = Some(v.split(',').map(|o| o.trim().trim_end_matches('/').to_owned()).filter(|o| !o.is_empty()).collect());
        }
        if let Some(v) = get("SENDER_ADDRESS") {
            s.sender_address = v;
        }
        if let Some(v) = get("MAIL_FROM_DOMAIN") {
            s.mail_from_domain = v;
        } else if let Some((_, d)) = s.sender_address.rsplit_once('@') {
            s.mail_from_domain = d.to_owned();
        }
        if let Some(v) = required("SOCIETY_NAME")? {
            s.society_name = v.trim().to_owned();
        }
        if let Some(v) = required("SOCIETY_PHONE")? {
            s.society_phone = v.trim().to_owned();
        }
        if let Some(v) = get("SOCIETY_HOURS") {
            s.society_hours = v.trim().to_owned();
        }
        if let Some(v) = get("SOCIETY_URL") {
            s.society_url = Some(v.trim().to_owned()).filter(|u| u.starts_with("https://") || u.starts_with("http://"));
        }
        if let Some(v) = get("INSURER_NUMBERS") {
            (s.insurer_numbers, s.insurer_number_users) = parse_insurer_numbers(&v)?;
        }
        if let Some(v) = get("TERMS_VERSION") {
            s.terms_version = TermsVersion::parse(&v).map_err(|e| ConfigError { name: "TERMS_VERSION", reason: e.message })?;
        }
        if let Some(v) = get("ONBOARDING_CUTOFF") {
            s.onboarding_cutoff = NaiveDate::parse_from_str(v.trim(), "%Y-%m-%d")
                .map_err(|_| ConfigError { name: "ONBOARDING_CUTOFF", reason: "expected YYYY-MM-DD".into() })?;
        }
        s.lockout_attempts = number(&get, "LOCKOUT_ATTEMPTS", s.lockout_attempts)?;
        s.lockout_seconds = number(&get, "LOCKOUT_SECONDS", s.lockout_seconds)?;
        s.session_seconds = number(&get, "SESSION_SECONDS", s.session_seconds)?;
        s.session_max_seconds = number(&get, "SESSION_MAX_SECONDS", s.session_max_seconds)?;
        if let Some(v) = get("PORTAL_URL") {
            s.portal_url = v;
        }
        if let Some(v) = get("COOKIE_SECURE") {
            s.cookie_secure = !matches!(v.as_str(), "0" | "false" | "no");
        }
        if let Some(v) = get("NOTIFY_SEND_RATE").filter(|v| !v.trim().is_empty()) {
            s.send_rate = v.trim().parse::<f64>().ok().filter(|r| (0.1..=1000.0).contains(r)).ok_or(ConfigError { name: "NOTIFY_SEND_RATE", reason: "expected mails per second from 0.1 to 1000".into() })?;
        }
        if s.lockout_attempts == 0 {
            return Err(ConfigError { name: "LOCKOUT_ATTEMPTS", reason: "must be at least 1".into() });
        }
        Ok(s)
    }

    /// The state machine's rules (`TERMS_VERSION`, `ONBOARDING_CUTOFF`, `LOCKOUT_*`).
    /// For the functions that read the session cookie: `ConfigError` at init when `SESSION_KEY` is
    /// missing (rather than refusing every member's cookie).
    pub fn require_session_key(&self) -> Result<(), ConfigError> {
        if self.session_key.is_empty() {
            return Err(ConfigError { name: "SESSION_KEY", reason: "is required by the functions that read the session cookie".into() });
        }
        Ok(())
    }

    pub fn policy(&self) -> crate::signup::Policy {
        crate::signup::Policy {
            terms_version: self.terms_version.clone(),
            onboarding_cutoff: self.onboarding_cutoff,
            lockout_attempts: self.lockout_attempts,
            lockout_seconds: self.lockout_seconds,
        }
    }

    pub fn is_society_insurer(&self, n: &InsurerNumber) -> bool {
        self.insurer_numbers.contains(n)
    }

    /// 「06133946」または「63133946」
    pub fn insurer_numbers_hint(&self) -> String {
        self.insurer_numbers.iter().map(|n| format!("「{}」", n.as_str())).collect::<Vec<_>>().join("または")
    }

    /// Which members use which number (the manual: 記号 459 = 特例退職), for the identity check's
    /// messages: 「保険者番号は、現役社員・任意継続被保険者の方は「06133946」、特例退職被保険者の方（…）は「63133946」です。」
    /// Without the groups (`INSURER_NUMBERS` without `:`): the numbers only.
    pub fn insurer_numbers_guide(&self) -> String {
        let described: Vec<String> = self
            .insurer_numbers
            .iter()
            .zip(self.insurer_number_users.iter().chain(std::iter::repeat(&None)))
            .filter_map(|(n, who)| who.as_ref().map(|w| format!("{w}は「{}」", n.as_str())))
            .collect();
        if described.len() == self.insurer_numbers.len() && !described.is_empty() {
            format!("保険者番号は、{}です。", described.join("、"))
        } else {
            format!("当組合の保険者番号は{}です。", self.insurer_numbers_hint())
        }
    }

    /// Where members ask, in one line: 「けんぽ見本健康保険組合（電話 03-0000-0000、平日 9:00〜17:00）」.
    pub fn contact_line(&self) -> String {
        if self.society_hours.is_empty() {
            format!("{}（電話 {}）", self.society_name, self.society_phone)
        } else {
            format!("{}（電話 {}、{}）", self.society_name, self.society_phone, self.society_hours)
        }
    }
}

/// `INSURER_NUMBERS` (`06133946:現役社員・任意継続被保険者の方,63133946:…`): the numbers, and who
/// uses each (`None` without a `:`), in order.
///
/// Errors: `INSURER_NUMBERS` when an entry is not a valid 保険者番号 or there is none.
pub fn parse_insurer_numbers(v: &str) -> Result<(Vec<InsurerNumber>, Vec<Option<String>>), ConfigError> {
    let mut numbers = Vec::new();
    let mut users = Vec::new();
    for entry in v.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let (number, who) = entry.split_once(':').map_or((entry, None), |(n, w)| (n, Some(w.trim().to_owned()).filter(|w| !w.is_empty())));
        numbers.push(InsurerNumber::parse(number).map_err(|_| ConfigError { name: "INSURER_NUMBERS", reason: "an entry is not a valid 保険者番号".into() })?);
        users.push(who);
    }
    if numbers.is_empty() {
        return Err(ConfigError { name: "INSURER_NUMBERS", reason: "is empty".into() });
    }
    Ok((numbers, users))
}

fn number<T: std::str::FromStr>(get: &impl Fn(&str) -> Option<String>, name: &'static str, default: T) -> Result<T, ConfigError> {
    match get(name) {
        None => Ok(default),
        Some(v) => v.trim().parse().map_err(|_| ConfigError { name, reason: "expected a whole number".into() }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn a_lambda_without_secrets_fails_at_init() {
        let env: HashMap<&str, &str> = [("AWS_LAMBDA_FUNCTION_NAME", "f")].into();
        let err = Settings::from_lookup(|k| env.get(k).map(|v| v.to_string())).unwrap_err();
        assert_eq!(err.name, "TABLE_NAME");
        let mut env: HashMap<&str, &str> = [("AWS_LAMBDA_FUNCTION_NAME", "f"), ("TABLE_NAME", "t"), ("ALLOWED_ORIGINS", "https://kenpo.example")].into();
        // The society's name and phone are required too: no screen or mail without them.
        assert_eq!(Settings::from_lookup(|k| env.get(k).map(|v| v.to_string())).unwrap_err().name, "SOCIETY_NAME");
        env.insert("SOCIETY_NAME", "見本健康保険組合");
        assert_eq!(Settings::from_lookup(|k| env.get(k).map(|v| v.to_string())).unwrap_err().name, "SOCIETY_PHONE");
        env.insert("SOCIETY_PHONE", "03-1234-5678");
        let s = Settings::from_lookup(|k| env.get(k).map(|v| v.to_string())).unwrap();
        assert_eq!(s.contact_line(), "見本健康保険組合（電話 03-1234-5678、平日 9:00〜17:00）");
        assert_eq!(s.require_session_key().unwrap_err().name, "SESSION_KEY", "a cookie reader without the key fails at init");
        assert!(crate::app::App::new(s, std::sync::Arc::new(crate::store::embedded::EmbeddedStore::new()), std::sync::Arc::new(crate::clock::SystemClock)).is_ok(), "a function that reads no cookie needs none");
        env.insert("SESSION_KEY", "0123456789abcdef0123456789abcdef");
        let s = Settings::from_lookup(|k| env.get(k).map(|v| v.to_string())).unwrap();
        assert!(s.require_session_key().is_ok());
        assert!(crate::handoff::HandoffVerifier::from_settings(&s).is_err(), "no development secret inside a Lambda");
    }

    /// Who uses which 保険者番号, from `INSURER_NUMBERS` (the manual: 記号 459 = 特例退職).
    #[test]
    fn the_insurer_numbers_say_who_uses_them() {
        let env: HashMap<&str, &str> = [("INSURER_NUMBERS", "06133946:現役社員・任意継続被保険者の方, 63133946:特例退職被保険者の方")].into();
        let s = Settings::from_lookup(|k| env.get(k).map(|v| v.to_string())).unwrap();
        assert_eq!(s.insurer_numbers_guide(), "保険者番号は、現役社員・任意継続被保険者の方は「06133946」、特例退職被保険者の方は「63133946」です。");
        let plain: HashMap<&str, &str> = [("INSURER_NUMBERS", "06133946,63133946")].into();
        let s = Settings::from_lookup(|k| plain.get(k).map(|v| v.to_string())).unwrap();
        assert_eq!(s.insurer_numbers_guide(), "当組合の保険者番号は「06133946」または「63133946」です。");
        let bad: HashMap<&str, &str> = [("INSURER_NUMBERS", "06133947:誰か")].into();
        assert_eq!(Settings::from_lookup(|k| bad.get(k).map(|v| v.to_string())).unwrap_err().name, "INSURER_NUMBERS");
    }

    #[test]
    fn settings_are_read_from_the_environment() {
        let env: HashMap<&str, &str> = [
            ("INSURER_NUMBERS", "06133946"),
            ("LOCKOUT_ATTEMPTS", "3"),
            ("ONBOARDING_CUTOFF", "2023-01-01"),
            ("ALLOWED_ORIGINS", "https://kenpo.example/"),
        ]
        .into();
        let s = Settings::from_lookup(|k| env.get(k).map(|v| v.to_string())).unwrap();
        assert_eq!(s.insurer_numbers_hint(), "「06133946」");
        assert_eq!(s.lockout_attempts, 3);
        assert_eq!(s.allowed_origins, vec!["https://kenpo.example"]);
        assert!(Settings::from_lookup(|k| (k == "INSURER_NUMBERS").then(|| "12345678".to_string())).is_err());
    }

    #[test]
    fn the_portals_origins_default_to_the_portal_urls_origin_or_our_own() {
        let mut s = Settings::development();
        assert_eq!(s.portal_origins(), s.allowed_origins, "a path: the dev server's own origins");
        s.portal_url = "https://portal.example.jp:8443/menu?x=1".into();
        assert_eq!(s.portal_origins(), vec!["https://portal.example.jp:8443"]);
        let s = Settings::from_lookup(|k| (k == "PORTAL_ORIGINS").then(|| "https://a.example/, null".to_owned())).unwrap();
        assert_eq!(s.portal_origins(), vec!["https://a.example", "null"]);
    }
}
