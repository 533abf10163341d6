//! Writes each mail as one RFC 5322 / MIME `.eml` file (UTF-8) into a folder.

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use mail_builder::MessageBuilder;

use super::{MailError, Mailer, OutgoingMail};

pub struct OutboxMailer {
    dir: PathBuf,
}

impl OutboxMailer {
    pub fn new(dir: impl Into<PathBuf>) -> std::io::Result<Self> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir)?;
        Ok(Self { dir })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

/// The mail as RFC 5322 bytes (multipart/alternative when there is an HTML part).
pub fn render_eml(mail: &OutgoingMail) -> Result<Vec<u8>, MailError> {
    let mut builder = match &mail.from_name {
        Some(name) => MessageBuilder::new().from((name.as_str(), mail.from.as_str())),
        None => MessageBuilder::new().from(mail.from.as_str()),
    };
    builder = builder
        .to(mail.to.rfc5322())
        .subject(mail.subject.as_str())
        .text_body(mail.text.as_str());
    if let Some(html) = &mail.html {
        builder = builder.html_body(html.as_str());
    }
    for (name, value) in &mail.headers {
        builder = builder.header(name.as_str(), mail_builder::headers::raw::Raw::new(value.as_str()));
    }
    builder.write_to_vec().map_err(|e| MailError::Unavailable(format!("mail not rendered: {e}")))
}

#[async_trait]
impl Mailer for OutboxMailer {
    async fn send(&self, mail: &OutgoingMail) -> Result<String, MailError> {
        let bytes = render_eml(mail)?;
        let id = format!("{}-{:08x}", chrono::Utc::now().format("%Y%m%dT%H%M%S%.6fZ"), rand::random::<u32>());
        let tmp = self.dir.join(format!(".{id}.tmp"));
        let path = self.dir.join(format!("{id}.eml"));
        let io = |e: std::io::Error| MailError::Unavailable(format!("outbox write failed: {e}"));
        tokio::fs::write(&tmp, bytes).await.map_err(io)?;
        tokio::fs::rename(&tmp, &path).await.map_err(io)?;
        Ok(id)
    }
}
