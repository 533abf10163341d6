//! 医療費通知等更新のお知らせ (DESIGN.md Part 2, "Mail, part 2"; issue 12), pure: no store, no
//! SES, no clock. `decide` says whether a member gets the notice of a publication day, `mail`
//! writes it (text and HTML parts saying the same, the RFC 8058 headers), and `unsubscribe` signs
//! and checks the token of its one-click unsubscribe link.

pub mod decide;
pub mod mail;
pub mod unsubscribe;

pub use decide::{Decision, NoticeClaim, NoticeInput, decide};
pub use unsubscribe::{UnsubscribeError, UnsubscribeKey};
