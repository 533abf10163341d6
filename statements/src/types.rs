//! Value types of the society's statement files (DESIGN.md Part 2, "Data the society loads"), each
//! valid by construction ("parse, don't validate").
//!
//! Two kinds of parser: the CSV ones (`parse`) take what the society's file holds, normalise it
//! (NFKC: full-width digits and letters become ASCII; trimmed) and explain the usual Excel damage
//! (a `person_no` whose leading zero was dropped, a date shown as `2026/4/1`, a serial number, a
//! thousands separator); the storage ones (`Deserialize`) read back what this crate wrote. Every
//! refusal is a [`FieldError`] with a stable code and a Japanese message that never echoes the value.

use std::fmt;
use std::iter::Sum;
use std::ops::Add;

use chrono::{Datelike, Months, NaiveDate};
use kenpo_shared::domain::FieldError;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use unicode_normalization::UnicodeNormalization;

pub(crate) fn field_error(code: &'static str, message: impl Into<String>) -> FieldError {
    FieldError { code, message: message.into() }
}

/// NFKC, then trim (Unicode white space, so U+3000 too).
pub(crate) fn nfkc_trim(input: &str) -> String {
    input.nfkc().collect::<String>().trim().to_owned()
}

fn all_ascii_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// `2.03E+07`, `1.2e5`: how Excel writes a long number in a cell formatted 「標準」 that is too narrow.
fn is_excel_exponent(s: &str) -> bool {
    let Some((mantissa, exponent)) = s.split_once(['E', 'e']) else { return false };
    let exponent = exponent.strip_prefix(['+', '-']).unwrap_or(exponent);
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, "0"));
    all_ascii_digits(int) && all_ascii_digits(frac) && all_ascii_digits(exponent)
}

/// Digits separated by `/`, `-`, `.` or spaces (`2026/4/1`, `2026-04`, `Apr-26`): a date that
/// Excel (or a person) formatted.
fn is_separated(s: &str) -> bool {
    s.contains(['/', '-', '.', ' ']) && s.split(['/', '-', '.', ' ']).filter(|g| !g.is_empty()).count() >= 2
}

const EXCEL_EXPONENT: &str = "数値がExcelの指数表示（例：2.03E+07）のまま保存されています。この列の表示形式を「数値」（小数点以下0桁）または「文字列」にして保存し直してください。";

/// The society's key of a line or a benefit: 1–40 characters `[A-Za-z0-9_-]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RecordId(String);

impl RecordId {
    pub const MAX_LEN: usize = 40;

    /// Exactly as written (record ids are case-sensitive keys; no normalisation beyond trimming).
    pub fn parse(input: &str) -> Result<Self, FieldError> {
        let s = input.trim();
        if s.is_empty() {
            return Err(field_error("required", "record_id を入力してください。"));
        }
        let ok = s.len() <= Self::MAX_LEN && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !ok {
            return Err(field_error(
                "format",
                "record_id は半角英数字・ハイフン（-）・下線（_）の1〜40文字で入力してください。",
            ));
        }
        Ok(Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for RecordId {
    type Error = String;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s).map_err(|e| e.message)
    }
}

impl From<RecordId> for String {
    fn from(r: RecordId) -> Self {
        r.0
    }
}

impl fmt::Display for RecordId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a row does: `N` new, `C` correction (replaces the record), `D` cancellation (removes it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Action {
    #[serde(rename = "N")]
    New,
    #[serde(rename = "C")]
    Correction,
    #[serde(rename = "D")]
    Cancellation,
}

impl Action {
    /// `N`, `C` or `D`, in either case, half- or full-width.
    pub fn parse(input: &str) -> Result<Self, FieldError> {
        match nfkc_trim(input).to_ascii_uppercase().as_str() {
            "N" => Ok(Action::New),
            "C" => Ok(Action::Correction),
            "D" => Ok(Action::Cancellation),
            "" => Err(field_error("required", "action（N：新規、C：訂正、D：取消）を入力してください。")),
            _ => Err(field_error("format", "action は N（新規）、C（訂正）、D（取消）のいずれかを入力してください。")),
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Action::New => "N",
            Action::Correction => "C",
            Action::Cancellation => "D",
        }
    }
}

/// 枝番 within the household: two digits, `00` = 本人 (the insured person). Serialised as the
/// two-character string (`"00"`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PersonNo(u8);

impl PersonNo {
    /// 本人.
    pub const INSURED: PersonNo = PersonNo(0);

    /// The CSV form: two digits (full-width accepted). One digit is what Excel leaves of `00`/`01`
    /// in a column formatted 「標準」, and the message says so.
    pub fn parse(input: &str) -> Result<Self, FieldError> {
        let s = nfkc_trim(input);
        if s.is_empty() {
            return Err(field_error("required", "枝番（person_no）を入力してください（本人は00）。"));
        }
        if s.len() == 1 && all_ascii_digits(&s) {
            return Err(field_error(
                "excel_leading_zero",
                "枝番が1桁になっています。Excelで先頭の0が消えた可能性があります（00→0、01→1）。この列の表示形式を「文字列」にして、2桁（00、01…）で保存し直してください。",
            ));
        }
        Self::parse_strict(&s)
            .ok_or_else(|| field_error("format", "枝番（person_no）は半角数字2桁で入力してください（本人は00）。"))
    }

    /// The API's `person` parameter and the stored form: exactly two ASCII digits.
    pub fn parse_strict(s: &str) -> Option<Self> {
        (s.len() == 2 && all_ascii_digits(s)).then(|| Self((s.as_bytes()[0] - b'0') * 10 + (s.as_bytes()[1] - b'0')))
    }

    pub fn is_insured(self) -> bool {
        self.0 == 0
    }

    pub fn number(self) -> u8 {
        self.0
    }
}

impl fmt::Display for PersonNo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}", self.0)
    }
}

impl fmt::Debug for PersonNo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PersonNo({:02})", self.0)
    }
}

impl Serialize for PersonNo {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for PersonNo {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        Self::parse_strict(&s).ok_or_else(|| serde::de::Error::custom("person_no: two digits expected"))
    }
}

/// 続柄 as the society writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Relation {
    /// 本人 (the insured person, 枝番 `00`).
    Insured,
    /// 配偶者.
    Spouse,
    /// 子.
    Child,
    /// 父母.
    Parent,
    /// その他.
    Other,
}

impl Relation {
    pub const ALL: [Relation; 5] =
        [Relation::Insured, Relation::Spouse, Relation::Child, Relation::Parent, Relation::Other];

    /// The Japanese word, which is also the CSV and JSON form.
    pub fn label(self) -> &'static str {
        match self {
            Relation::Insured => "本人",
            Relation::Spouse => "配偶者",
            Relation::Child => "子",
            Relation::Parent => "父母",
            Relation::Other => "その他",
        }
    }

    pub fn parse(input: &str) -> Result<Self, FieldError> {
        let s = nfkc_trim(input);
        if s.is_empty() {
            return Err(field_error("required", "続柄（relation）を入力してください。"));
        }
        Self::from_label(&s).ok_or_else(|| {
            field_error("format", "続柄（relation）は 本人、配偶者、子、父母、その他 のいずれかを入力してください。")
        })
    }

    pub fn from_label(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.label() == s)
    }
}

impl Serialize for Relation {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.label())
    }
}

impl<'de> Deserialize<'de> for Relation {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        Self::from_label(&s).ok_or_else(|| serde::de::Error::custom("relation: unknown label"))
    }
}

/// 診療年月: a calendar month. CSV `YYYYMM`; JSON and `Display` `YYYY-MM`; ordered in time.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ServiceMonth {
    // Field order gives the derived ordering: year, then month.
    year: i32,
    month: u32,
}

const MONTH_FORMAT: &str = "年月は西暦の半角数字6桁（YYYYMM、例：202604）で入力してください。";

impl ServiceMonth {
    /// Years a file may carry (a typo such as `002604` is refused rather than stored as year 26).
    pub const YEARS: std::ops::RangeInclusive<i32> = 2000..=2099;

    /// `None` unless `month` is 1–12 and `year` has four digits.
    pub fn new(year: i32, month: u32) -> Option<Self> {
        ((1000..=9999).contains(&year) && (1..=12).contains(&month)).then_some(Self { year, month })
    }

    /// The month a (Japan) date falls in.
    pub fn of(date: NaiveDate) -> Self {
        Self { year: date.year(), month: date.month() }
    }

    /// The CSV form `YYYYMM` (full-width digits accepted), with Excel's usual damage explained.
    pub fn parse(input: &str) -> Result<Self, FieldError> {
        let s = nfkc_trim(input);
        if s.is_empty() {
            return Err(field_error("required", "年月を入力してください（例：202604）。"));
        }
        if all_ascii_digits(&s) {
            match s.len() {
                6 => {}
                5 => {
                    return Err(field_error(
                        "format",
                        "年月は6桁で入力してください（月は2桁：4月→04）。Excelの日付のシリアル値になっている場合は、この列の表示形式をユーザー定義「yyyymm」にして保存し直してください。",
                    ));
                }
                8 => return Err(field_error("format", "年月日ではなく年月（6桁、例：202604）を入力してください。")),
                _ => return Err(field_error("format", MONTH_FORMAT)),
            }
            let year: i32 = s[..4].parse().map_err(|_| field_error("format", MONTH_FORMAT))?;
            let month: u32 = s[4..].parse().map_err(|_| field_error("format", MONTH_FORMAT))?;
            if !(1..=12).contains(&month) {
                return Err(field_error("not_a_month", "月は01〜12で入力してください。"));
            }
            if !Self::YEARS.contains(&year) {
                return Err(field_error("out_of_range", "年は2000年から2099年までで入力してください。"));
            }
            return Self::new(year, month).ok_or_else(|| field_error("format", MONTH_FORMAT));
        }
        if is_excel_exponent(&s) {
            return Err(field_error("excel_exponent", EXCEL_EXPONENT));
        }
        if is_separated(&s) {
            return Err(field_error(
                "excel_date_format",
                "年月が「2026/4」や「2026/4/1」のような日付の形式になっています。半角数字6桁（例：202604）で入力してください。Excelで日付に変換された場合は、この列の表示形式をユーザー定義「yyyymm」または「文字列」にして保存し直してください。",
            ));
        }
        Err(field_error("format", MONTH_FORMAT))
    }

    /// The stored / JSON form `YYYY-MM` (also `YYYYMM`).
    pub fn parse_iso(s: &str) -> Option<Self> {
        let (y, m) = match (s.len(), s.as_bytes().get(4)) {
            (7, Some(b'-')) => (&s[..4], &s[5..]),
            (6, _) if s.is_ascii() => (&s[..4], &s[4..]),
            _ => return None,
        };
        if !all_ascii_digits(y) || !all_ascii_digits(m) {
            return None;
        }
        Self::new(y.parse().ok()?, m.parse().ok()?)
    }

    pub fn year(self) -> i32 {
        self.year
    }

    pub fn month(self) -> u32 {
        self.month
    }

    /// Months since year 0 (a linear index for arithmetic).
    fn index(self) -> i64 {
        i64::from(self.year) * 12 + i64::from(self.month) - 1
    }

    /// How many months `later` is after `self` (negative when it is before): 2026-01 → 2026-03 is 2.
    pub fn months_between(self, later: ServiceMonth) -> i64 {
        later.index() - self.index()
    }

    /// Whether `date` falls in this month.
    pub fn contains(self, date: NaiveDate) -> bool {
        Self::of(date) == self
    }

    pub fn first_day(self) -> NaiveDate {
        // Valid by construction (month 1–12, four-digit year).
        NaiveDate::from_ymd_opt(self.year, self.month, 1).unwrap_or(NaiveDate::MIN)
    }

    /// The first day of the month `n` months later (used for retention: the day a line is gone).
    pub fn first_day_after_months(self, n: u32) -> NaiveDate {
        self.first_day().checked_add_months(Months::new(n)).unwrap_or(NaiveDate::MAX)
    }

    /// `YYYYMM`, the CSV form.
    pub fn compact(self) -> String {
        format!("{:04}{:02}", self.year, self.month)
    }
}

impl fmt::Display for ServiceMonth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

impl fmt::Debug for ServiceMonth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ServiceMonth({self})")
    }
}

impl Serialize for ServiceMonth {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ServiceMonth {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        Self::parse_iso(&s).ok_or_else(|| serde::de::Error::custom("service month: YYYY-MM expected"))
    }
}

/// 区分 of a レセプト. Ordered by code (the order of lines within a month).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Category {
    /// 11 医科入院
    MedicalInpatient,
    /// 12 医科外来
    MedicalOutpatient,
    /// 21 歯科入院
    DentalInpatient,
    /// 22 歯科外来
    DentalOutpatient,
    /// 30 調剤
    Pharmacy,
    /// 40 訪問看護
    HomeNursing,
    /// 50 柔道整復
    JudoTherapy,
    /// 60 はり・きゅう・マッサージ
    AcupunctureMassage,
    /// 90 その他
    Other,
}

impl Category {
    pub const ALL: [Category; 9] = [
        Category::MedicalInpatient,
        Category::MedicalOutpatient,
        Category::DentalInpatient,
        Category::DentalOutpatient,
        Category::Pharmacy,
        Category::HomeNursing,
        Category::JudoTherapy,
        Category::AcupunctureMassage,
        Category::Other,
    ];

    /// The two-digit code (CSV and JSON form).
    pub fn code(self) -> &'static str {
        match self {
            Category::MedicalInpatient => "11",
            Category::MedicalOutpatient => "12",
            Category::DentalInpatient => "21",
            Category::DentalOutpatient => "22",
            Category::Pharmacy => "30",
            Category::HomeNursing => "40",
            Category::JudoTherapy => "50",
            Category::AcupunctureMassage => "60",
            Category::Other => "90",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Category::MedicalInpatient => "医科入院",
            Category::MedicalOutpatient => "医科外来",
            Category::DentalInpatient => "歯科入院",
            Category::DentalOutpatient => "歯科外来",
            Category::Pharmacy => "調剤",
            Category::HomeNursing => "訪問看護",
            Category::JudoTherapy => "柔道整復",
            Category::AcupunctureMassage => "はり・きゅう・マッサージ",
            Category::Other => "その他",
        }
    }

    pub fn from_code(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.code() == s)
    }

    pub fn parse(input: &str) -> Result<Self, FieldError> {
        let s = nfkc_trim(input);
        if s.is_empty() {
            return Err(field_error("required", "区分（category）を入力してください。"));
        }
        Self::from_code(&s).ok_or_else(|| {
            field_error(
                "format",
                "区分（category）は 11 医科入院、12 医科外来、21 歯科入院、22 歯科外来、30 調剤、40 訪問看護、50 柔道整復、60 はり・きゅう・マッサージ、90 その他 のいずれかのコードを入力してください。",
            )
        })
    }
}

impl Serialize for Category {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.code())
    }
}

impl<'de> Deserialize<'de> for Category {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        Self::from_code(&s).ok_or_else(|| serde::de::Error::custom("category: unknown code"))
    }
}

/// An amount in whole yen. JSON: an integer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Yen(pub u64);

impl Yen {
    /// The largest amount a file may carry (12 digits, under 1 兆円), so that sums of a million
    /// lines cannot overflow.
    pub const MAX: Yen = Yen(999_999_999_999);

    /// A CSV amount: digits only (full-width accepted), 0 or more. A thousands separator, a
    /// decimal point, a sign, `円`/`¥` or Excel's exponent form are refused with their own message.
    pub fn parse(input: &str) -> Result<Self, FieldError> {
        let s = nfkc_trim(input);
        if s.is_empty() {
            return Err(field_error("required", "金額を入力してください（円単位の整数）。"));
        }
        if all_ascii_digits(&s) {
            let digits = s.trim_start_matches('0');
            if digits.len() > 12 {
                return Err(field_error("out_of_range", "金額が大きすぎます（12桁まで）。"));
            }
            if digits.is_empty() {
                return Ok(Yen(0));
            }
            return digits.parse().map(Yen).map_err(|_| field_error("format", "金額は半角数字で入力してください。"));
        }
        if is_excel_exponent(&s) {
            return Err(field_error("excel_exponent", EXCEL_EXPONENT));
        }
        let bare = s.trim_start_matches(['¥', '\\', '$']).trim_end_matches('円');
        let digits_and = |extra: char| bare.chars().all(|c| c.is_ascii_digit() || c == extra) && bare.contains(extra);
        if bare.starts_with('-') || bare.starts_with('△') || bare.starts_with('▲') {
            return Err(field_error("negative", "金額は0以上の整数で入力してください。"));
        }
        if digits_and(',') {
            return Err(field_error(
                "thousands_separator",
                "金額に桁区切りのカンマ（,）が含まれています。半角数字だけで入力してください。Excelではこの列の表示形式を「標準」または桁区切りなしの「数値」にして保存し直してください。",
            ));
        }
        if digits_and('.') {
            return Err(field_error("not_integer", "金額は1円単位の整数で入力してください（小数点は使えません）。"));
        }
        if bare != s && all_ascii_digits(bare) {
            return Err(field_error(
                "currency_sign",
                "金額は数字だけで入力してください（「円」や「¥」は付けません）。",
            ));
        }
        Err(field_error("format", "金額は半角数字（円単位の整数）で入力してください。"))
    }

    pub fn amount(self) -> u64 {
        self.0
    }

    /// `1,234`: how the documents print an amount.
    pub fn grouped(self) -> String {
        let digits = self.0.to_string();
        let mut out = String::with_capacity(digits.len() + digits.len() / 3);
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i).is_multiple_of(3) {
                out.push(',');
            }
            out.push(c);
        }
        out
    }
}

impl Add for Yen {
    type Output = Yen;
    /// Saturating: amounts are bounded by [`Yen::MAX`], so this never saturates in practice.
    fn add(self, rhs: Yen) -> Yen {
        Yen(self.0.saturating_add(rhs.0))
    }
}

impl Sum for Yen {
    fn sum<I: Iterator<Item = Yen>>(iter: I) -> Yen {
        iter.fold(Yen(0), Add::add)
    }
}

impl fmt::Display for Yen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// 給付の種類 (the society's own wording is the benefit's `name`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum BenefitCode {
    /// KOGAKU 高額療養費
    Kogaku,
    /// KOGAKU_GASSAN 世帯合算高額療養費
    KogakuGassan,
    /// FUKA_HONNIN 一部負担還元金
    FukaHonnin,
    /// FUKA_KAZOKU 家族療養付加金
    FukaKazoku,
    /// FUKA_GASSAN 合算高額療養付加金
    FukaGassan,
    /// RYOYOHI 療養費
    Ryoyohi,
    /// SHOBYO 傷病手当金
    Shobyo,
    /// SHUSSAN_TEATE 出産手当金
    ShussanTeate,
    /// SHUSSAN_IKUJI 出産育児一時金
    ShussanIkuji,
    /// MAISO 埋葬料
    Maiso,
    /// OTHER その他
    Other,
}

impl BenefitCode {
    pub const ALL: [BenefitCode; 11] = [
        BenefitCode::Kogaku,
        BenefitCode::KogakuGassan,
        BenefitCode::FukaHonnin,
        BenefitCode::FukaKazoku,
        BenefitCode::FukaGassan,
        BenefitCode::Ryoyohi,
        BenefitCode::Shobyo,
        BenefitCode::ShussanTeate,
        BenefitCode::ShussanIkuji,
        BenefitCode::Maiso,
        BenefitCode::Other,
    ];

    /// The CSV and JSON form (`KOGAKU`).
    pub fn code(self) -> &'static str {
        match self {
            BenefitCode::Kogaku => "KOGAKU",
            BenefitCode::KogakuGassan => "KOGAKU_GASSAN",
            BenefitCode::FukaHonnin => "FUKA_HONNIN",
            BenefitCode::FukaKazoku => "FUKA_KAZOKU",
            BenefitCode::FukaGassan => "FUKA_GASSAN",
            BenefitCode::Ryoyohi => "RYOYOHI",
            BenefitCode::Shobyo => "SHOBYO",
            BenefitCode::ShussanTeate => "SHUSSAN_TEATE",
            BenefitCode::ShussanIkuji => "SHUSSAN_IKUJI",
            BenefitCode::Maiso => "MAISO",
            BenefitCode::Other => "OTHER",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            BenefitCode::Kogaku => "高額療養費",
            BenefitCode::KogakuGassan => "世帯合算高額療養費",
            BenefitCode::FukaHonnin => "一部負担還元金",
            BenefitCode::FukaKazoku => "家族療養付加金",
            BenefitCode::FukaGassan => "合算高額療養付加金",
            BenefitCode::Ryoyohi => "療養費",
            BenefitCode::Shobyo => "傷病手当金",
            BenefitCode::ShussanTeate => "出産手当金",
            BenefitCode::ShussanIkuji => "出産育児一時金",
            BenefitCode::Maiso => "埋葬料",
            BenefitCode::Other => "その他",
        }
    }

    pub fn from_code(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.code() == s)
    }

    /// Case-insensitive, full-width accepted.
    pub fn parse(input: &str) -> Result<Self, FieldError> {
        let s = nfkc_trim(input).to_ascii_uppercase();
        if s.is_empty() {
            return Err(field_error("required", "給付の種類（benefit_code）を入力してください。"));
        }
        Self::from_code(&s).ok_or_else(|| {
            field_error(
                "format",
                "給付の種類（benefit_code）は KOGAKU、KOGAKU_GASSAN、FUKA_HONNIN、FUKA_KAZOKU、FUKA_GASSAN、RYOYOHI、SHOBYO、SHUSSAN_TEATE、SHUSSAN_IKUJI、MAISO、OTHER のいずれかを入力してください。",
            )
        })
    }
}

impl Serialize for BenefitCode {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.code())
    }
}

impl<'de> Deserialize<'de> for BenefitCode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        Self::from_code(&s).ok_or_else(|| serde::de::Error::custom("benefit_code: unknown code"))
    }
}

/// 支払方法 of a benefit. JSON: the code as a string (`"1"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PaymentMethod {
    /// 1 給与と合わせて（事業主経由）: 支払日 is the day the society pays the employer.
    WithSalary,
    /// 2 口座振込
    BankTransfer,
    /// 3 医療機関等へ直接
    ToInstitution,
}

impl PaymentMethod {
    pub const ALL: [PaymentMethod; 3] =
        [PaymentMethod::WithSalary, PaymentMethod::BankTransfer, PaymentMethod::ToInstitution];

    pub fn code(self) -> &'static str {
        match self {
            PaymentMethod::WithSalary => "1",
            PaymentMethod::BankTransfer => "2",
            PaymentMethod::ToInstitution => "3",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            PaymentMethod::WithSalary => "給与と合わせて（事業主経由）",
            PaymentMethod::BankTransfer => "口座振込",
            PaymentMethod::ToInstitution => "医療機関等へ直接",
        }
    }

    pub fn from_code(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.code() == s)
    }

    pub fn parse(input: &str) -> Result<Self, FieldError> {
        let s = nfkc_trim(input);
        if s.is_empty() {
            return Err(field_error("required", "支払方法（payment_method）を入力してください。"));
        }
        Self::from_code(&s).ok_or_else(|| {
            field_error(
                "format",
                "支払方法（payment_method）は 1（給与と合わせて）、2（口座振込）、3（医療機関等へ直接）のいずれかを入力してください。",
            )
        })
    }
}

impl Serialize for PaymentMethod {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.code())
    }
}

impl<'de> Deserialize<'de> for PaymentMethod {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        Self::from_code(&s).ok_or_else(|| serde::de::Error::custom("payment_method: unknown code"))
    }
}

/// Which of the two files (and which namespace of `record_id`s).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StatementKind {
    /// 医療費のお知らせ: medical lines.
    Medical,
    /// 給付金支給額: benefit decisions.
    Benefits,
}

impl StatementKind {
    pub fn as_str(self) -> &'static str {
        match self {
            StatementKind::Medical => "medical",
            StatementKind::Benefits => "benefits",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            StatementKind::Medical => "医療費",
            StatementKind::Benefits => "給付金",
        }
    }
}

const DATE_FORMAT: &str = "日付は西暦の半角数字8桁（YYYYMMDD、例：20260401）で入力してください。";

/// A CSV date `YYYYMMDD` (full-width digits accepted), 2000–2099, with Excel's usual damage
/// (`2026/4/1`, a serial number such as `46113`, `2.03E+07`) explained.
pub fn parse_date(input: &str) -> Result<NaiveDate, FieldError> {
    let s = nfkc_trim(input);
    if s.is_empty() {
        return Err(field_error("required", "日付を入力してください（例：20260401）。"));
    }
    if all_ascii_digits(&s) {
        match s.len() {
            8 => {}
            5 => {
                return Err(field_error(
                    "excel_serial",
                    "日付がExcelのシリアル値（5桁の数字）になっています。この列の表示形式をユーザー定義「yyyymmdd」にして保存し直してください。",
                ));
            }
            6 | 7 => return Err(field_error("format", "日付は8桁で入力してください（月と日は2桁：4月1日→0401）。")),
            _ => return Err(field_error("format", DATE_FORMAT)),
        }
        let (Ok(y), Ok(m), Ok(d)) = (s[..4].parse::<i32>(), s[4..6].parse::<u32>(), s[6..].parse::<u32>()) else {
            return Err(field_error("format", DATE_FORMAT));
        };
        let date = NaiveDate::from_ymd_opt(y, m, d).ok_or_else(|| field_error("not_a_date", "存在しない日付です。"))?;
        if !ServiceMonth::YEARS.contains(&y) {
            return Err(field_error("out_of_range", "日付は2000年から2099年までで入力してください。"));
        }
        return Ok(date);
    }
    if is_excel_exponent(&s) {
        return Err(field_error("excel_exponent", EXCEL_EXPONENT));
    }
    if is_separated(&s) {
        return Err(field_error(
            "excel_date_format",
            "日付が「2026/4/1」のような形式になっています。半角数字8桁（例：20260401）で入力してください。Excelで日付として扱われた場合は、この列の表示形式をユーザー定義「yyyymmdd」または「文字列」にして保存し直してください。",
        ));
    }
    Err(field_error("format", DATE_FORMAT))
}

/// `YYYYMMDD`, the CSV form of a date.
pub fn compact_date(date: NaiveDate) -> String {
    date.format("%Y%m%d").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn record_id_shape() {
        assert_eq!(RecordId::parse(" M-2026_04-0001 ").unwrap().as_str(), "M-2026_04-0001");
        assert_eq!(RecordId::parse("").unwrap_err().code, "required");
        for bad in ["a b", "a.b", "あ", &"x".repeat(41)] {
            assert_eq!(RecordId::parse(bad).unwrap_err().code, "format", "{bad}");
        }
        assert!(RecordId::parse(&"x".repeat(40)).is_ok());
    }

    #[test]
    fn action_codes() {
        assert_eq!(Action::parse("N").unwrap(), Action::New);
        assert_eq!(Action::parse("c").unwrap(), Action::Correction);
        assert_eq!(Action::parse("Ｄ").unwrap(), Action::Cancellation);
        assert_eq!(Action::parse("X").unwrap_err().code, "format");
        assert_eq!(Action::parse("").unwrap_err().code, "required");
        assert_eq!(serde_json::to_string(&Action::Correction).unwrap(), "\"C\"");
    }

    #[test]
    fn person_no_two_digits_and_excel_dropped_zero() {
        assert_eq!(PersonNo::parse("00").unwrap(), PersonNo::INSURED);
        assert_eq!(PersonNo::parse("０１").unwrap().to_string(), "01");
        for dropped in ["0", "1", "９"] {
            let e = PersonNo::parse(dropped).unwrap_err();
            assert_eq!(e.code, "excel_leading_zero", "{dropped}");
            assert!(e.message.contains("Excel") && e.message.contains("先頭の0") && e.message.contains("文字列"));
        }
        assert_eq!(PersonNo::parse("001").unwrap_err().code, "format");
        assert_eq!(PersonNo::parse("").unwrap_err().code, "required");
        assert_eq!(serde_json::to_string(&PersonNo::parse("03").unwrap()).unwrap(), "\"03\"");
        assert_eq!(serde_json::from_str::<PersonNo>("\"03\"").unwrap().number(), 3);
        assert!(serde_json::from_str::<PersonNo>("\"3\"").is_err());
        assert!(PersonNo::parse_strict("０１").is_none());
    }

    #[test]
    fn service_month_parse_display_order() {
        let m = ServiceMonth::parse("202604").unwrap();
        assert_eq!(m.to_string(), "2026-04");
        assert_eq!(m.compact(), "202604");
        assert_eq!(serde_json::to_string(&m).unwrap(), "\"2026-04\"");
        assert_eq!(serde_json::from_str::<ServiceMonth>("\"2026-04\"").unwrap(), m);
        assert!(ServiceMonth::parse("202512").unwrap() < m);
        assert_eq!(ServiceMonth::parse("202512").unwrap().months_between(m), 4);
        assert_eq!(m.months_between(ServiceMonth::parse("202512").unwrap()), -4);
        assert!(m.contains(d(2026, 4, 30)) && !m.contains(d(2026, 5, 1)));
        assert_eq!(m.first_day_after_months(24), d(2028, 4, 1));
        assert_eq!(ServiceMonth::parse("２０２６０４").unwrap(), m);
    }

    #[test]
    fn service_month_refusals_explain_excel() {
        assert_eq!(ServiceMonth::parse("202613").unwrap_err().code, "not_a_month");
        assert_eq!(ServiceMonth::parse("199912").unwrap_err().code, "out_of_range");
        assert_eq!(ServiceMonth::parse("2026/4").unwrap_err().code, "excel_date_format");
        assert_eq!(ServiceMonth::parse("2026/4/1").unwrap_err().code, "excel_date_format");
        assert_eq!(ServiceMonth::parse("Apr-26").unwrap_err().code, "excel_date_format");
        assert!(ServiceMonth::parse("20264").unwrap_err().message.contains("2桁"));
        assert!(ServiceMonth::parse("20260401").unwrap_err().message.contains("6桁"));
        assert_eq!(ServiceMonth::parse("2.0E+05").unwrap_err().code, "excel_exponent");
    }

    #[test]
    fn dates_compact_with_excel_hints() {
        assert_eq!(parse_date("20260401").unwrap(), d(2026, 4, 1));
        assert_eq!(parse_date("２０２６０４０１").unwrap(), d(2026, 4, 1));
        assert_eq!(parse_date("20260230").unwrap_err().code, "not_a_date");
        assert_eq!(parse_date("19991231").unwrap_err().code, "out_of_range");
        assert_eq!(parse_date("2026/4/1").unwrap_err().code, "excel_date_format");
        assert_eq!(parse_date("2026-04-01").unwrap_err().code, "excel_date_format");
        assert_eq!(parse_date("46113").unwrap_err().code, "excel_serial");
        assert_eq!(parse_date("2.03E+07").unwrap_err().code, "excel_exponent");
        assert!(parse_date("202641").unwrap_err().message.contains("2桁"));
        assert_eq!(parse_date("").unwrap_err().code, "required");
        assert_eq!(compact_date(d(2026, 4, 1)), "20260401");
    }

    #[test]
    fn category_codes_and_labels() {
        assert_eq!(Category::parse("12").unwrap().label(), "医科外来");
        assert_eq!(Category::parse("60").unwrap().label(), "はり・きゅう・マッサージ");
        assert_eq!(serde_json::to_string(&Category::Pharmacy).unwrap(), "\"30\"");
        assert_eq!(Category::parse("13").unwrap_err().code, "format");
        let mut sorted = Category::ALL;
        sorted.sort_by_key(|c| c.code());
        assert_eq!(sorted, Category::ALL, "the derived order is the order of the codes");
    }

    #[test]
    fn yen_digits_only_with_specific_refusals() {
        assert_eq!(Yen::parse("1234").unwrap(), Yen(1234));
        assert_eq!(Yen::parse("０").unwrap(), Yen(0));
        assert_eq!(Yen::parse("１２３４").unwrap(), Yen(1234));
        assert_eq!(Yen::parse("000120").unwrap(), Yen(120));
        assert_eq!(Yen::parse("1,234").unwrap_err().code, "thousands_separator");
        assert_eq!(Yen::parse("１，２３４").unwrap_err().code, "thousands_separator");
        assert_eq!(Yen::parse("-5").unwrap_err().code, "negative");
        assert_eq!(Yen::parse("12.5").unwrap_err().code, "not_integer");
        assert_eq!(Yen::parse("1234円").unwrap_err().code, "currency_sign");
        assert_eq!(Yen::parse("¥1234").unwrap_err().code, "currency_sign");
        assert_eq!(Yen::parse("1.2E+05").unwrap_err().code, "excel_exponent");
        assert_eq!(Yen::parse("1000000000000").unwrap_err().code, "out_of_range");
        assert!(Yen::parse("999999999999").is_ok());
        assert_eq!(Yen::parse("").unwrap_err().code, "required");
        assert_eq!(Yen(1234567).grouped(), "1,234,567");
        assert_eq!(Yen(123).grouped(), "123");
        assert_eq!(vec![Yen(1), Yen(2)].into_iter().sum::<Yen>(), Yen(3));
    }

    #[test]
    fn benefit_codes_payment_methods_relations() {
        assert_eq!(BenefitCode::parse("kogaku_gassan").unwrap(), BenefitCode::KogakuGassan);
        assert_eq!(BenefitCode::FukaKazoku.label(), "家族療養付加金");
        assert_eq!(serde_json::to_string(&BenefitCode::ShussanIkuji).unwrap(), "\"SHUSSAN_IKUJI\"");
        assert_eq!(BenefitCode::parse("KOGAKUX").unwrap_err().code, "format");
        assert_eq!(PaymentMethod::parse("1").unwrap().label(), "給与と合わせて（事業主経由）");
        assert_eq!(serde_json::to_string(&PaymentMethod::BankTransfer).unwrap(), "\"2\"");
        assert_eq!(PaymentMethod::parse("4").unwrap_err().code, "format");
        assert_eq!(Relation::parse("配偶者").unwrap(), Relation::Spouse);
        assert_eq!(serde_json::to_string(&Relation::Insured).unwrap(), "\"本人\"");
        assert_eq!(Relation::parse("妻").unwrap_err().code, "format");
        assert_eq!(serde_json::to_string(&StatementKind::Benefits).unwrap(), "\"benefits\"");
    }

    #[test]
    fn messages_never_echo_the_value() {
        for value in ["987654", "9876543", "98765", "98,765", "9876.5", "98765432123456", "9876-54", "ZQXV"] {
            let errors = [
                RecordId::parse(value).err(),
                Action::parse(value).err(),
                PersonNo::parse(value).err(),
                Relation::parse(value).err(),
                ServiceMonth::parse(value).err(),
                Category::parse(value).err(),
                Yen::parse(value).err(),
                BenefitCode::parse(value).err(),
                PaymentMethod::parse(value).err(),
                parse_date(value).err(),
            ];
            for e in errors.into_iter().flatten() {
                assert!(!e.message.contains(value), "{value}: {}", e.message);
            }
        }
    }
}
