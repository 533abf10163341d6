//! The `kenpo` local tools as a library: the dev server, its router (the template's routes), the
//! demo members and the operator commands. `main.rs` only parses the command line.
//!
//! Modules depend one way: `dev` (the server) → `router`, `welcome`, `stream`, `seed`;
//! `router` → `routes`, `dev_audit`, `dev_pages`; every one of them → `Dev` (here).

pub mod aws;
pub mod cli;
pub mod dev;
pub mod dev_audit;
pub mod dev_import;
pub mod dev_pages;
pub mod import;
pub mod ops;
pub mod router;
pub mod routes;
pub mod seed;
pub mod seed_statements;
pub mod stream;
pub mod welcome;

use std::path::PathBuf;
use std::sync::Arc;

use kenpo_shared::App;
use kenpo_shared::handoff::HandoffVerifier;
use kenpo_shared::mailer::Mailer;
use kenpo_statement_store::StatementStore;

/// Everything the dev server hosts: the API handlers' state, the portal's token verifier
/// (portal-entry's), the mailer (send-welcome-email's), the statements (read-statements' and the
/// import's) and the outbox folder (None with `--aws`).
pub mod notices;

pub struct Dev {
    pub app: Arc<App>,
    pub handoff: HandoffVerifier,
    pub mailer: Arc<dyn Mailer>,
    pub statements: Arc<dyn StatementStore>,
    pub outbox: Option<PathBuf>,
    /// The members of `--members FILE` (listed on /dev/portal after the demo's).
    pub file_members: Vec<kenpo_shared::store::MemberProfile>,
    /// The documents' font (`None`: none found; the downloads answer 503).
    pub font: Option<kenpo_documents::DocumentFont>,
}

/// The documents' font for the dev server and the tests: `DOCUMENT_FONT` (a TrueType/OpenType
/// file, face 0) if set, else Debian's `fonts-ipaexfont-gothic` (what the Lambda's font layer
/// carries), else Debian's `fonts-noto-cjk` (its Japanese face).
pub fn document_font() -> Result<kenpo_documents::DocumentFont, kenpo_documents::FontError> {
    use std::path::Path;
    if let Some(path) = std::env::var_os("DOCUMENT_FONT").filter(|p| !p.is_empty()) {
        return kenpo_documents::DocumentFont::load(Path::new(&path), 0);
    }
    kenpo_documents::DocumentFont::load_first(&[
        (Path::new(kenpo_documents::font::DEBIAN_FONT_PATH), 0),
        (Path::new("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"), 0),
    ])
}

pub struct DevOptions {
    pub port: u16,
    pub members: Option<PathBuf>,
    /// Medical or benefits CSVs applied after the demo data, in order (`--statements`, repeatable).
    pub statements: Vec<PathBuf>,
    pub outbox: PathBuf,
    pub aws: bool,
}


