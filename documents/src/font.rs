//! The documents' one font: a Japanese TrueType/OpenType face read from a file (Debian's
//! `fonts-ipaexfont-gothic`, `ipaexg.ttf`, in the Lambda's font layer at `/opt/fonts/`; see
//! `docs/DEPLOY.md`). The PDF embeds only the glyphs a document uses (krilla subsets it).

use std::path::Path;
use std::sync::Arc;

use skrifa::MetadataProvider;
use skrifa::raw::TableProvider;
use skrifa::instance::{LocationRef, Size};

/// 〓: what a character the font lacks prints as.
pub const GETA: char = '〓';

/// Where the Lambda's font layer puts the font (`DOCUMENT_FONT` overrides).
pub const LAYER_FONT_PATH: &str = "/opt/fonts/ipaexg.ttf";

/// Where Debian's `fonts-ipaexfont-gothic` installs it (the dev server and the tests).
pub const DEBIAN_FONT_PATH: &str = "/usr/share/fonts/opentype/ipaexfont-gothic/ipaexg.ttf";

/// Why a font could not be used. Stable codes: `font_unreadable`, `font_invalid`,
/// `font_lacks_japanese`.
#[derive(Debug, thiserror::Error)]
pub enum FontError {
    #[error("font_unreadable: {path}: {source}")]
    Unreadable { path: String, source: std::io::Error },
    #[error("font_invalid: {path} is not a TrueType or OpenType font")]
    Invalid { path: String },
    #[error("font_lacks_japanese: {path} has no glyph for 医療費のお知らせ")]
    LacksJapanese { path: String },
}

impl FontError {
    pub fn code(&self) -> &'static str {
        match self {
            FontError::Unreadable { .. } => "font_unreadable",
            FontError::Invalid { .. } => "font_invalid",
            FontError::LacksJapanese { .. } => "font_lacks_japanese",
        }
    }
}

/// A loaded face: the bytes (shared, read once per process), krilla's handle for drawing, and
/// the advance widths for layout. Cloning is cheap.
#[derive(Clone)]
pub struct DocumentFont {
    data: Arc<Vec<u8>>,
    index: u32,
    pdf: krilla::text::Font,
    units_per_em: f32,
    /// Where it was read from (a path, or `(bytes)`).
    source: String,
}

impl std::fmt::Debug for DocumentFont {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (face {}, {} bytes)", self.source, self.index, self.data.len())
    }
}

impl DocumentFont {
    /// Reads face `index` of the file at `path` (0 for a `.ttf`), and checks that it draws Japanese.
    pub fn load(path: &Path, index: u32) -> Result<Self, FontError> {
        let shown = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|source| FontError::Unreadable { path: shown.clone(), source })?;
        match Self::from_bytes(bytes, index) {
            Ok(font) => Ok(Self { source: shown, ..font }),
            Err(FontError::Invalid { .. }) => Err(FontError::Invalid { path: shown }),
            Err(FontError::LacksJapanese { .. }) => Err(FontError::LacksJapanese { path: shown }),
            Err(other) => Err(other),
        }
    }

    /// The first usable font of `candidates` (path, face index): the dev server's search.
    pub fn load_first(candidates: &[(&Path, u32)]) -> Result<Self, FontError> {
        let mut last = None;
        for (path, index) in candidates {
            match Self::load(path, *index) {
                Ok(font) => return Ok(font),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or(FontError::Invalid { path: String::new() }))
    }

    /// A face from bytes already in memory.
    pub fn from_bytes(bytes: Vec<u8>, index: u32) -> Result<Self, FontError> {
        let data = Arc::new(bytes);
        let invalid = || FontError::Invalid { path: String::from("(bytes)") };
        let units_per_em = {
            let face = skrifa::FontRef::from_index(&data, index).map_err(|_| invalid())?;
            let upem = face.head().map(|h| h.units_per_em()).map_err(|_| invalid())?;
            if "医療費のお知らせ".chars().any(|c| face.charmap().map(c).is_none()) {
                return Err(FontError::LacksJapanese { path: String::from("(bytes)") });
            }
            f32::from(upem)
        };
        let pdf = krilla::text::Font::new(data.clone().into(), index).ok_or_else(invalid)?;
        Ok(Self { data, index, pdf, units_per_em, source: String::from("(bytes)") })
    }

    /// krilla's handle, for drawing.
    pub(crate) fn pdf(&self) -> krilla::text::Font {
        self.pdf.clone()
    }

    /// The width of `text` set on one line at `size` points, in points: the sum of the glyphs'
    /// advances (Japanese text has no kerning; a character the font lacks counts as its .notdef).
    pub fn width(&self, text: &str, size: f32) -> f32 {
        self.advances(text, size).iter().sum()
    }

    /// Each character's advance at `size` points (one font lookup for the whole text).
    pub fn advances(&self, text: &str, size: f32) -> Vec<f32> {
        let Ok(face) = skrifa::FontRef::from_index(&self.data, self.index) else { return vec![0.0; text.chars().count()] };
        let charmap = face.charmap();
        let metrics = face.glyph_metrics(Size::unscaled(), LocationRef::default());
        let scale = size / self.units_per_em;
        text.chars().map(|c| metrics.advance_width(charmap.map(c).unwrap_or_default()).unwrap_or(0.0) * scale).collect()
    }

    /// `text` as the PDF can print it: a character the font lacks (𠮷, an emoji, a letter of
    /// another script) becomes 〓 (geta, JIS X 0208's sign for a character that cannot be set),
    /// so it prints as a visible mark and copies as one, never as an empty box; control and
    /// separator characters become a space. The flag says whether anything was replaced.
    pub fn printable(&self, text: &str) -> (String, bool) {
        let Ok(face) = skrifa::FontRef::from_index(&self.data, self.index) else { return (text.to_owned(), false) };
        let charmap = face.charmap();
        let mut replaced = false;
        let out = text
            .chars()
            .map(|c| {
                if c.is_control() || matches!(c, '\u{2028}' | '\u{2029}' | '\u{200b}'..='\u{200f}' | '\u{feff}') {
                    ' '
                } else if c == ' ' || charmap.map(c).is_some() {
                    c
                } else {
                    replaced = true;
                    GETA
                }
            })
            .collect();
        (out, replaced)
    }

    /// Bytes of the whole face (what the PDF would carry without subsetting).
    pub fn file_size(&self) -> usize {
        self.data.len()
    }
}
