//! A4 portrait pages as lists of drawing operations (laid out first, so the footer can say
//! "n / N" and tests can read the layout), then written as a PDF by krilla.
//!
//! Units are PDF points (1/72 inch); the origin is the page's top left, `y` grows downwards and a
//! text's `y` is its baseline.

use krilla::color::luma;
use krilla::geom::{PathBuilder, Point, Rect};
use krilla::metadata::{DateTime, Metadata};
use krilla::num::NormalizedF32;
use krilla::page::PageSettings;
use krilla::paint::{Fill, Stroke};
use krilla::text::TextDirection;
use krilla::{Document, SerializeSettings};

use crate::DocumentError;
use crate::font::DocumentFont;

/// A4 (ISO 216, 210 × 297 mm) in points.
pub const PAGE_WIDTH: f32 = 595.28;
pub const PAGE_HEIGHT: f32 = 841.89;
/// Left and right margin, points (15 mm).
pub const MARGIN: f32 = 42.5;
/// The first baseline's room from the top, points.
const TOP: f32 = 56.0;
/// Where content stops: the footer sits below, points.
const BOTTOM: f32 = PAGE_HEIGHT - 60.0;
/// The width content may use, points.
pub const CONTENT_WIDTH: f32 = PAGE_WIDTH - 2.0 * MARGIN;

/// Characters that may not start a line (JIS X 4051's 行頭禁則, the common subset): they hang at
/// the end of the previous line instead.
const NO_LINE_START: &str = "、。，．）」』】〕》〉ー・：；？！ぁぃぅぇぉっゃゅょゎァィゥェォッャュョヮ々";

/// One drawing operation.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Op {
    /// Text on one line from `x` at baseline `y`; `gray` is its lightness (0 black).
    Text { x: f32, y: f32, size: f32, text: String, gray: u8 },
    /// A straight rule.
    Rule { x1: f32, y1: f32, x2: f32, y2: f32, width: f32 },
    /// A filled rectangle (a table's header background), `gray` its lightness.
    Shade { x: f32, y: f32, w: f32, h: f32, gray: u8 },
}

/// Pages being laid out: the current page is the last; `y` is the next free position.
pub(crate) struct Pages<'f> {
    pub font: &'f DocumentFont,
    pages: Vec<Vec<Op>>,
    pub y: f32,
    /// Whether a character the font lacks was printed as 〓 (the footer then says so).
    replaced: std::cell::Cell<bool>,
}

/// Horizontal alignment of a text in a box.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Align {
    Left,
    Right,
    Center,
}

impl<'f> Pages<'f> {
    pub fn new(font: &'f DocumentFont) -> Self {
        Self { font, pages: vec![Vec::new()], y: TOP, replaced: std::cell::Cell::new(false) }
    }

    /// Points left on the current page.
    pub fn room(&self) -> f32 {
        BOTTOM - self.y
    }

    pub fn new_page(&mut self) {
        self.pages.push(Vec::new());
        self.y = TOP;
    }

    /// A new page unless `height` points still fit; `true` when a page was started.
    pub fn ensure(&mut self, height: f32) -> bool {
        if height > self.room() && self.y > TOP {
            self.new_page();
            return true;
        }
        false
    }

    fn push(&mut self, op: Op) {
        if let Some(page) = self.pages.last_mut() {
            page.push(op);
        }
    }

    /// `text` in the box from `x`, `width` wide, aligned, at baseline `y`.
    pub fn text(&mut self, x: f32, width: f32, y: f32, size: f32, text: &str, align: Align) {
        self.text_gray(x, width, y, size, text, align, 0);
    }

    #[allow(clippy::too_many_arguments)]
    pub fn text_gray(&mut self, x: f32, width: f32, y: f32, size: f32, text: &str, align: Align, gray: u8) {
        if text.is_empty() {
            return;
        }
        let (text, replaced) = self.font.printable(text);
        self.replaced.set(self.replaced.get() | replaced);
        let w = self.font.width(&text, size);
        let x = match align {
            Align::Left => x,
            Align::Right => x + width - w,
            Align::Center => x + (width - w) / 2.0,
        };
        self.push(Op::Text { x, y, size, text, gray });
    }

    pub fn rule(&mut self, x1: f32, y1: f32, x2: f32, y2: f32, width: f32) {
        self.push(Op::Rule { x1, y1, x2, y2, width });
    }

    pub fn shade(&mut self, x: f32, y: f32, w: f32, h: f32, gray: u8) {
        self.push(Op::Shade { x, y, w, h, gray });
    }

    /// `text` broken into lines no wider than `max_width` at `size` (its own line breaks kept;
    /// between any two characters, as Japanese is set, with the line-start rule above).
    pub fn wrap(&self, text: &str, size: f32, max_width: f32) -> Vec<String> {
        let mut lines = Vec::new();
        for paragraph in text.lines() {
            let (paragraph, replaced) = self.font.printable(paragraph);
            self.replaced.set(self.replaced.get() | replaced);
            let widths = self.font.advances(&paragraph, size);
            let mut line = String::new();
            let mut width = 0.0;
            for (c, w) in paragraph.chars().zip(widths) {
                if !line.is_empty() && width + w > max_width && !NO_LINE_START.contains(c) {
                    lines.push(std::mem::take(&mut line));
                    width = 0.0;
                }
                line.push(c);
                width += w;
            }
            lines.push(line);
        }
        if lines.is_empty() {
            lines.push(String::new());
        }
        lines
    }

    /// A paragraph from `x`, `width` wide, starting a page when it needs one; leaves `y` below it.
    pub fn paragraph(&mut self, x: f32, width: f32, size: f32, text: &str, gray: u8) {
        let leading = size * 1.6;
        for line in self.wrap(text, size, width) {
            self.ensure(leading);
            self.y += leading;
            self.text_gray(x, width, self.y - size * 0.3, size, &line, Align::Left, gray);
        }
    }

    /// Every page with the footer `footer(n, total)` centred at the bottom, as a PDF.
    pub fn finish(mut self, meta: &Meta, footer: impl Fn(usize, usize) -> String) -> Result<Vec<u8>, DocumentError> {
        let total = self.pages.len();
        for n in 1..=total {
            let mut text = footer(n, total);
            if self.replaced.get() {
                text.push_str("　（〓：この書類の字体にない文字）");
            }
            let w = self.font.width(&text, 8.0);
            if let Some(page) = self.pages.get_mut(n - 1) {
                page.push(Op::Text { x: (PAGE_WIDTH - w) / 2.0, y: PAGE_HEIGHT - 30.0, size: 8.0, text, gray: 90 });
            }
        }
        render(self.font, &self.pages, meta)
    }
}

/// The document's information dictionary and XMP: title, language, creation time (Japan).
pub(crate) struct Meta {
    pub title: String,
    pub author: String,
    /// Japan local time of issue.
    pub created: chrono::NaiveDateTime,
}

fn render(font: &DocumentFont, pages: &[Vec<Op>], meta: &Meta) -> Result<Vec<u8>, DocumentError> {
    use chrono::{Datelike, Timelike};
    let settings = SerializeSettings { ascii_compatible: false, compress_content_streams: true, ..SerializeSettings::default() };
    let mut document = Document::new_with(settings);
    let c = meta.created;
    let as_u8 = |n: u32| u8::try_from(n).unwrap_or(0);
    let created = DateTime::new(u16::try_from(c.year()).unwrap_or(2000))
        .month(as_u8(c.month()))
        .day(as_u8(c.day()))
        .hour(as_u8(c.hour()))
        .minute(as_u8(c.minute()))
        .second(as_u8(c.second()))
        .utc_offset_hour(9)
        .utc_offset_minute(0);
    document.set_metadata(
        Metadata::new()
            .title(meta.title.clone())
            .authors(vec![meta.author.clone()])
            .language("ja".to_owned())
            .creator("kenpo-web".to_owned())
            .creation_date(created),
    );
    let size = PageSettings::from_wh(PAGE_WIDTH, PAGE_HEIGHT).ok_or(DocumentError::Layout)?;
    for ops in pages {
        let mut page = document.start_page_with(size.clone());
        let mut surface = page.surface();
        for op in ops {
            match op {
                Op::Text { x, y, size, text, gray } => {
                    surface.set_stroke(None);
                    surface.set_fill(Some(Fill { paint: luma::Color::new(*gray).into(), opacity: NormalizedF32::ONE, rule: Default::default() }));
                    surface.draw_text(Point::from_xy(*x, *y), font.pdf(), *size, text, false, TextDirection::LeftToRight);
                }
                Op::Rule { x1, y1, x2, y2, width } => {
                    let mut path = PathBuilder::new();
                    path.move_to(*x1, *y1);
                    path.line_to(*x2, *y2);
                    if let Some(path) = path.finish() {
                        surface.set_fill(None);
                        surface.set_stroke(Some(Stroke { paint: luma::Color::new(60).into(), width: *width, ..Default::default() }));
                        surface.draw_path(&path);
                    }
                }
                Op::Shade { x, y, w, h, gray } => {
                    let mut path = PathBuilder::new();
                    if let Some(rect) = Rect::from_xywh(*x, *y, *w, *h) {
                        path.push_rect(rect);
                    }
                    if let Some(path) = path.finish() {
                        surface.set_stroke(None);
                        surface.set_fill(Some(Fill { paint: luma::Color::new(*gray).into(), opacity: NormalizedF32::ONE, rule: Default::default() }));
                        surface.draw_path(&path);
                    }
                }
            }
        }
        surface.finish();
        page.finish();
    }
    document.finish().map_err(|e| DocumentError::Pdf(format!("{e:?}")))
}

/// `2026年11月30日` (the calendar dates members read on the documents).
pub fn ja_date(date: chrono::NaiveDate) -> String {
    use chrono::Datelike;
    format!("{}年{}月{}日", date.year(), date.month(), date.day())
}

/// `12,345円`.
pub fn ja_yen(yen: kenpo_statements::types::Yen) -> String {
    format!("{}円", yen.grouped())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn font() -> Option<DocumentFont> {
        DocumentFont::load(std::path::Path::new(crate::font::DEBIAN_FONT_PATH), 0).ok()
    }

    proptest! {
        /// Any text (a name, a 備考 with line breaks, characters the font lacks) wraps without
        /// losing a character, and every line fits unless it is one character or ends in one
        /// that may not start a line.
        #[test]
        fn wrapping_keeps_every_character_and_fits(text in "\\PC{0,80}(\n\\PC{0,40})?", width in 20.0f32..300.0) {
            let Some(font) = font() else { return Ok(()) };
            let pages = Pages::new(&font);
            let lines = pages.wrap(&text, 8.5, width);
            let joined: String = lines.concat();
            let expected: String = text.lines().map(|l| font.printable(l).0).collect();
            prop_assert_eq!(joined, expected);
            for line in &lines {
                let fits = font.width(line, 8.5) <= width + 0.01;
                let hanging = line.chars().count() <= 1 || line.chars().last().is_some_and(|c| NO_LINE_START.contains(c));
                prop_assert!(fits || hanging, "{line:?} is {} wide", font.width(line, 8.5));
            }
        }
    }
}
