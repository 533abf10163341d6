//! Domain types that can only hold valid values ("parse, don't validate").
//!
//! Every parser takes what a member typed, normalises it (NFKC, separators) and either returns a
//! value that is valid by construction or a [`FieldError`] whose message is Japanese and never
//! echoes the input back (it may be a birth date or an address).

use std::fmt;

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization;

/// Why one input field was refused: a stable code and a message for the member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub code: &'static str,
    pub message: String,
}

impl FieldError {
    fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self { code, message: message.into() }
    }
}

/// Every dash and hyphen that Japanese input gives between digits, beside ASCII `-`: Unicode's
/// hyphens and dashes U+2010–U+2015 (Shift_JIS 0x815C is U+2015 in JIS X 0208's mapping and
/// U+2014 EM DASH in Windows-31J's), MINUS SIGN U+2212 (0x817C), the small and full-width forms
/// U+FE58, U+FE63, U+FF0D, and the prolonged sound marks U+30FC, U+FF70 that an IME types for
/// 「ー」. Checked after NFKC too (it folds only some of them).
pub const DASHES: [char; 12] = [
    '\u{2010}', '\u{2011}', '\u{2012}', '\u{2013}', '\u{2014}', '\u{2015}', '\u{2212}', '\u{FE58}', '\u{FE63}', '\u{FF0D}', '\u{30FC}', '\u{FF70}',
];

fn is_separator(c: char) -> bool {
    matches!(c, '-' | '/' | '.' | ' ' | '\u{3000}' | '_') || DASHES.contains(&c)
}

/// NFKC, then trim. Full-width digits and slashes become ASCII.
fn nfkc_trim(input: &str) -> String {
    input.nfkc().collect::<String>().trim().to_owned()
}

/// 保険者番号: 8 ASCII digits with a valid MHLW check digit.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct InsurerNumber(String);

impl InsurerNumber {
    pub fn parse(input: &str) -> Result<Self, FieldError> {
        let normalised: String = nfkc_trim(input).chars().filter(|c| !is_separator(*c)).collect();
        if normalised.is_empty() {
            return Err(FieldError::new("required", "保険者番号を入力してください。"));
        }
        if normalised.len() != 8 || !normalised.bytes().all(|b| b.is_ascii_digit()) {
            return Err(FieldError::new(
                "format",
                "保険者番号は半角数字8桁で入力してください（健康保険証の左下に記載されている番号です）。",
            ));
        }
        let digits: Vec<u32> = normalised.bytes().map(|b| u32::from(b - b'0')).collect();
        if check_digit(&digits[..7]) != digits[7] {
            return Err(FieldError::new(
                "check_digit",
                "保険者番号に誤りがあります。健康保険証の左下に記載されている8桁の番号をご確認ください。",
            ));
        }
        Ok(Self(normalised))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// MHLW 保険者番号設定要領: weights 2,1,2,… from the rightmost of the first seven digits,
/// the digits of each product summed, check = 10 − last digit of the sum (0 when that is 0).
fn check_digit(first_seven: &[u32]) -> u32 {
    let sum: u32 = first_seven
        .iter()
        .rev()
        .enumerate()
        .map(|(i, d)| {
            let product = d * if i % 2 == 0 { 2 } else { 1 };
            product / 10 + product % 10
        })
        .sum();
    (10 - sum % 10) % 10
}

impl fmt::Display for InsurerNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// 生年月日 of the insured person: a real date, 1900-01-01 or later, not in the future.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BirthDate(NaiveDate);

impl fmt::Debug for BirthDate {
    // Never print a birth date by accident (logs, panics).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BirthDate(..)")
    }
}

impl BirthDate {
    /// `today` is the current date in Japan time.
    pub fn parse(input: &str, today: NaiveDate) -> Result<Self, FieldError> {
        let normalised = nfkc_trim(input);
        if normalised.is_empty() {
            return Err(FieldError::new("required", "生年月日を入力してください。"));
        }
        let format_error = || {
            FieldError::new(
                "format",
                "生年月日は西暦8桁の半角数字で入力してください（例：1981年4月3日生まれ→19810403）。",
            )
        };
        let groups: Vec<&str> = normalised.split(is_separator).filter(|g| !g.is_empty()).collect();
        let (y, m, d) = match groups.as_slice() {
            [all] if all.len() == 8 && all.is_ascii() => (&all[..4], &all[4..6], &all[6..]),
            [y, m, d] if y.len() == 4 && (1..=2).contains(&m.len()) && (1..=2).contains(&d.len()) => (*y, *m, *d),
            _ => return Err(format_error()),
        };
        let all_ascii_digits = [y, m, d].iter().all(|g| g.bytes().all(|b| b.is_ascii_digit()));
        if !all_ascii_digits {
            return Err(format_error());
        }
        let (Ok(y), Ok(m), Ok(d)) = (y.parse::<i32>(), m.parse::<u32>(), d.parse::<u32>()) else {
            return Err(format_error());
        };
        let date = NaiveDate::from_ymd_opt(y, m, d)
            .ok_or_else(|| FieldError::new("not_a_date", "存在しない日付です。生年月日をご確認ください。"))?;
        if date.year() < 1900 {
            return Err(FieldError::new("out_of_range", "1900年以降の生年月日を入力してください。"));
        }
        if date > today {
            return Err(FieldError::new("out_of_range", "生年月日に未来の日付は入力できません。"));
        }
        Ok(Self(date))
    }

    /// Trusted storage form `YYYYMMDD` (members CSV, the table).
    pub fn from_compact(s: &str) -> Option<Self> {
        if s.len() != 8 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        NaiveDate::parse_from_str(s, "%Y%m%d").ok().filter(|d| d.year() >= 1900).map(Self)
    }

    pub fn compact(&self) -> String {
        self.0.format("%Y%m%d").to_string()
    }

    pub fn date(&self) -> NaiveDate {
        self.0
    }
}

/// A notification address. Japanese carrier addresses that break RFC 5322 in the local part
/// (`taro..yamada@docomo.ne.jp`, `taro.@ezweb.ne.jp`) are accepted on purpose.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct EmailAddress(String);

impl fmt::Debug for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EmailAddress(..)")
    }
}

pub const EMAIL_MAX_LEN: usize = 254;

impl EmailAddress {
    /// Empty (after trimming) means "no address": `Ok(None)`.
    pub fn parse_optional(input: &str) -> Result<Option<Self>, FieldError> {
        let normalised = nfkc_trim(input);
        if normalised.is_empty() {
            return Ok(None);
        }
        Self::parse_present(&normalised).map(Some)
    }

    fn parse_present(s: &str) -> Result<Self, FieldError> {
        let invalid = || {
            FieldError::new(
                "format",
                "メールアドレスの形式が正しくありません。半角英数字で「名前@ドメイン」の形で入力してください。",
            )
        };
        if s.chars().count() > EMAIL_MAX_LEN {
            return Err(FieldError::new("too_long", "メールアドレスは254文字以内で入力してください。"));
        }
        let (local, domain) = s.rsplit_once('@').ok_or_else(invalid)?;
        let local_ok = !local.is_empty()
            && local.len() <= 64
            && local.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-/=?^_`{|}~.".contains(&b));
        let labels: Vec<&str> = domain.split('.').collect();
        let domain_ok = labels.len() >= 2
            && domain.len() <= 253
            && labels.iter().all(|l| {
                !l.is_empty()
                    && l.len() <= 63
                    && !l.starts_with('-')
                    && !l.ends_with('-')
                    && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            })
            && labels.last().is_some_and(|tld| tld.len() >= 2 && tld.bytes().all(|b| b.is_ascii_alphabetic()));
        if !local_ok || !domain_ok {
            return Err(invalid());
        }
        Ok(Self(format!("{local}@{}", domain.to_ascii_lowercase())))
    }

    /// Trusted storage form (already normalised when it was stored).
    pub fn from_stored(s: &str) -> Option<Self> {
        Self::parse_present(s).ok()
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The address as RFC 5322 writes it: a local part that is not a dot-atom (`taro..yamada`,
    /// `taro.`) is quoted, which carriers accept and mail software does not refuse.
    pub fn rfc5322(&self) -> String {
        let (local, domain) = self.0.rsplit_once('@').unwrap_or((&self.0, ""));
        let dot_atom = !local.starts_with('.') && !local.ends_with('.') && !local.contains("..");
        if dot_atom { self.0.clone() } else { format!("\"{local}\"@{domain}") }
    }

    pub fn domain(&self) -> &str {
        self.0.rsplit_once('@').map(|(_, d)| d).unwrap_or("")
    }

    /// Whether `reported` (as SES writes a recipient: maybe quoted, in angle brackets, with the
    /// domain in any case) is this address: `"taro..yamada"@Docomo.ne.jp` is
    /// `taro..yamada@docomo.ne.jp` (RFC 5321: the domain is case-insensitive, the local part is not).
    pub fn same_as_reported(&self, reported: &str) -> bool {
        let a = reported.trim().trim_start_matches('<').trim_end_matches('>');
        let (local, domain) = a.rsplit_once('@').unwrap_or((a, ""));
        let (own_local, own_domain) = self.0.rsplit_once('@').unwrap_or((&self.0, ""));
        local.trim_matches('"') == own_local && domain.eq_ignore_ascii_case(own_domain)
    }
}

/// The society's member id, as the portal sends it in the hand-off token's `sub`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct MemberId(String);

impl MemberId {
    pub fn parse(input: &str) -> Result<Self, FieldError> {
        let ok = (1..=64).contains(&input.len())
            && input.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if ok {
            Ok(Self(input.to_owned()))
        } else {
            Err(FieldError::new("format", "会員IDの形式が正しくありません。"))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for MemberId {
    type Error = String;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s).map_err(|e| e.message)
    }
}

impl From<MemberId> for String {
    fn from(m: MemberId) -> Self {
        m.0
    }
}

impl fmt::Display for MemberId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Version label of the terms of use (e.g. `2026-11-01`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TermsVersion(String);

impl TermsVersion {
    pub fn parse(input: &str) -> Result<Self, FieldError> {
        let ok = (1..=32).contains(&input.len())
            && input.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b));
        if ok {
            Ok(Self(input.to_owned()))
        } else {
            Err(FieldError::new("format", "利用規約の版が正しくありません。"))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The member's choices on 個人情報入力画面. Notifications need an address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preferences {
    email: Option<EmailAddress>,
    notify_medical_expenses: bool,
}

impl Preferences {
    pub fn new(email: Option<EmailAddress>, notify_medical_expenses: bool) -> Result<Self, FieldError> {
        if notify_medical_expenses && email.is_none() {
            return Err(FieldError::new(
                "email_required_for_notifications",
                "医療費通知を「必要」にする場合は、メールアドレスを入力してください。",
            ));
        }
        Ok(Self { email, notify_medical_expenses })
    }

    pub fn email(&self) -> Option<&EmailAddress> {
        self.email.as_ref()
    }

    pub fn notify_medical_expenses(&self) -> bool {
        self.notify_medical_expenses
    }
}

/// Steps of the onboarding, in order, and `Reconsent`: a completed member whose last consent is to
/// older terms (derived by `signup::current_step`, never stored: its record stays `Completed`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Step {
    Identity,
    Consent,
    Preferences,
    Confirm,
    Completed,
    Reconsent,
}

impl Step {
    /// The steps a record stores.
    pub const ALL: [Step; 5] = [Step::Identity, Step::Consent, Step::Preferences, Step::Confirm, Step::Completed];

    pub fn as_str(self) -> &'static str {
        match self {
            Step::Identity => "identity",
            Step::Consent => "consent",
            Step::Preferences => "preferences",
            Step::Confirm => "confirm",
            Step::Completed => "completed",
            Step::Reconsent => "reconsent",
        }
    }

    /// The name stored in the table (upper case, as the stream filter matches it).
    pub fn stored(self) -> &'static str {
        match self {
            Step::Identity => "IDENTITY",
            Step::Consent => "CONSENT",
            Step::Preferences => "PREFERENCES",
            Step::Confirm => "CONFIRM",
            Step::Completed | Step::Reconsent => "COMPLETED",
        }
    }

    pub fn from_stored(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|step| step.stored() == s)
    }

    /// The page a member on this step belongs on. Consent shares the identity screen.
    pub fn page(self) -> &'static str {
        match self {
            Step::Identity | Step::Consent => "/signup/identity",
            Step::Preferences => "/signup/preferences",
            Step::Confirm => "/signup/confirm",
            Step::Completed => "/menu",
            Step::Reconsent => "/signup/terms",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 25).unwrap()
    }

    #[test]
    fn insurer_numbers_of_the_society_pass_the_check_digit() {
        assert_eq!(InsurerNumber::parse("06133946").unwrap().as_str(), "06133946");
        assert_eq!(InsurerNumber::parse("63133946").unwrap().as_str(), "63133946");
    }

    #[test]
    fn insurer_number_accepts_full_width_digits_and_separators() {
        for input in ["０６１３３９４６", " 0613-3946 ", "０６１３ー３９４６", "0613\u{2212}3946", "0613\u{2010}3946", "0613\u{2015}3946", "０６１３－３９４６"] {
            assert_eq!(InsurerNumber::parse(input).unwrap().as_str(), "06133946", "{input}");
        }
    }

    /// Each dash of the table, between the groups of an insurer number and of a birth date.
    #[test]
    fn every_dash_japanese_input_gives_is_a_separator() {
        let today = NaiveDate::from_ymd_opt(2026, 11, 30).unwrap();
        for dash in DASHES {
            let number = format!("0613{dash}3946");
            assert_eq!(InsurerNumber::parse(&number).map(|n| n.as_str().to_owned()), Ok("06133946".to_owned()), "U+{:04X}", dash as u32);
            let date = format!("1981{dash}04{dash}03");
            assert_eq!(BirthDate::parse(&date, today).map(|d| d.compact()), Ok("19810403".to_owned()), "U+{:04X}", dash as u32);
        }
    }

    #[test]
    fn insurer_number_typo_fails_the_check_digit() {
        let err = InsurerNumber::parse("06133947").unwrap_err();
        assert_eq!(err.code, "check_digit");
        assert!(!err.message.contains("06133947"));
    }

    #[test]
    fn insurer_number_rejects_wrong_shapes() {
        for input in ["", "0613394", "061339460", "0613394a", "٠٦١٣٣٩٤٦", "0６133946x"] {
            assert!(InsurerNumber::parse(input).is_err(), "{input}");
        }
    }

    #[test]
    fn birth_date_accepts_the_three_spellings_and_full_width() {
        let expected = NaiveDate::from_ymd_opt(1981, 4, 3).unwrap();
        for input in ["19810403", "1981-04-03", "1981/04/03", "１９８１０４０３", "１９８１／０４／０３", "1981ー04ー03", "1981/4/3"] {
            assert_eq!(BirthDate::parse(input, today()).unwrap().date(), expected, "{input}");
        }
    }

    #[test]
    fn birth_date_must_be_real_past_and_after_1900() {
        assert_eq!(BirthDate::parse("19810230", today()).unwrap_err().code, "not_a_date");
        assert_eq!(BirthDate::parse("18991231", today()).unwrap_err().code, "out_of_range");
        assert_eq!(BirthDate::parse("20261126", today()).unwrap_err().code, "out_of_range");
        assert!(BirthDate::parse("20261125", today()).is_ok());
        assert!(BirthDate::parse("20000229", today()).is_ok());
        assert!(BirthDate::parse("19000229", today()).is_err());
        assert_eq!(BirthDate::parse("", today()).unwrap_err().code, "required");
        assert_eq!(BirthDate::parse("S56.4.3", today()).unwrap_err().code, "format");
        assert_eq!(BirthDate::parse("১৯৮১০৪০৩", today()).unwrap_err().code, "format");
        // Eight bytes that are not eight characters (found by the property test: it used to panic).
        assert_eq!(BirthDate::parse("ab\u{e9}\u{e9}cd", today()).unwrap_err().code, "format");
    }

    #[test]
    fn birth_date_debug_hides_the_value() {
        let d = BirthDate::parse("19810403", today()).unwrap();
        assert!(!format!("{d:?}").contains("1981"));
    }

    #[test]
    fn email_accepts_carrier_addresses_and_normalises() {
        for input in ["taro..yamada@docomo.ne.jp", "taro.@ezweb.ne.jp", " Taro@Example.CO.JP ", "ｔａｒｏ＠ｅｘａｍｐｌｅ．ｊｐ"] {
            assert!(EmailAddress::parse_optional(input).unwrap().is_some(), "{input}");
        }
        assert_eq!(
            EmailAddress::parse_optional(" Taro@Example.CO.JP ").unwrap().unwrap().as_str(),
            "Taro@example.co.jp"
        );
        assert_eq!(EmailAddress::parse_optional("   ").unwrap(), None);
        let carrier = EmailAddress::parse_optional("taro..yamada@docomo.ne.jp").unwrap().unwrap();
        assert_eq!(carrier.rfc5322(), "\"taro..yamada\"@docomo.ne.jp");
        assert_eq!(EmailAddress::parse_optional("taro@example.jp").unwrap().unwrap().rfc5322(), "taro@example.jp");
    }

    #[test]
    fn email_rejects_wrong_shapes() {
        let long = format!("{}@example.jp", "a".repeat(250));
        for input in ["taro", "taro@", "@example.jp", "taro@example", "taro yamada@example.jp", "taro@exa_mple.jp", "太郎@example.jp", "taro@example.j", long.as_str()] {
            assert!(EmailAddress::parse_optional(input).is_err(), "{input}");
        }
    }

    #[test]
    fn notifications_need_an_address() {
        assert_eq!(Preferences::new(None, true).unwrap_err().code, "email_required_for_notifications");
        assert!(Preferences::new(None, false).is_ok());
    }

    #[test]
    fn steps_round_trip_through_storage() {
        for step in Step::ALL {
            assert_eq!(Step::from_stored(step.stored()), Some(step));
        }
    }

    proptest! {
        #[test]
        fn parsers_never_panic(s in "\\PC{0,40}") {
            let _ = InsurerNumber::parse(&s);
            let _ = BirthDate::parse(&s, today());
            let _ = EmailAddress::parse_optional(&s);
            let _ = MemberId::parse(&s);
            let _ = TermsVersion::parse(&s);
        }

        #[test]
        fn errors_never_echo_the_input(s in "[0-9a-z@.]{6,30}") {
            for msg in [InsurerNumber::parse(&s).err(), BirthDate::parse(&s, today()).err(), EmailAddress::parse_optional(&s).err()]
                .into_iter().flatten().map(|e| e.message) {
                prop_assert!(!msg.contains(&s));
            }
        }

        #[test]
        fn every_valid_insurer_number_round_trips(first in proptest::collection::vec(0u32..10, 7)) {
            let check = check_digit(&first);
            let s: String = first.iter().chain(std::iter::once(&check)).map(|d| char::from_digit(*d, 10).unwrap()).collect();
            let parsed = InsurerNumber::parse(&s).unwrap();
            prop_assert_eq!(parsed.as_str(), s.as_str());
            let wrong: String = first.iter().chain(std::iter::once(&((check + 1) % 10))).map(|d| char::from_digit(*d, 10).unwrap()).collect();
            prop_assert!(InsurerNumber::parse(&wrong).is_err());
        }
    }
}
