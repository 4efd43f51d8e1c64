//! Rust source text, written in the layout prettyplease gives it.
//!
//! The emitter writes each item of the module as text, line by line, the way prettyplease prints it: one
//! statement, field or arm a line, and a list, call or match arm broken only where it would not fit. A line fits
//! when it ends at or before prettyplease's margin (column 89, or 60 columns past a deep indentation), not counting
//! the comma that prettyplease writes only after a broken element (a match arm, a list's last element). Where a
//! line still does not fit (prettyplease would break it in ways not followed here), or where a part is too
//! intricate to lay out by hand, the item is [unsettled](Code::unsettle): prettyplease lays it out ([`format`])
//! from the text, which parses to the same syntax. Either way the output is prettyplease's; the tests check that
//! the settled text of every item is what prettyplease makes of it.

use std::fmt::{self, Write};

/// prettyplease's margin: a line of up to this many columns fits.
const MARGIN: usize = 89;

/// prettyplease's least room for a line's text, however deep it is indented.
const MIN_SPACE: usize = 60;

/// One level of indentation.
const INDENT: &str = "    ";

/// The text of one item, and whether its layout is settled.
#[derive(Debug)]
pub(super) struct Code {
    text: String,
    /// Where each line of `text` starts.
    line_starts: Vec<usize>,
    depth: usize,
    unsettled: bool,
}

impl Default for Code {
    /// An empty item, with room for the text and lines of a typical one (a struct, an impl: a few dozen lines), so
    /// that writing it rarely grows them.
    fn default() -> Self {
        Code {
            text: String::with_capacity(1024),
            line_starts: Vec::with_capacity(32),
            depth: 0,
            unsettled: false,
        }
    }
}

impl Code {
    /// The width of the current indentation, in columns.
    fn indent_width(&self) -> usize {
        self.depth * INDENT.len()
    }

    /// The widest line at the current indentation that fits, in columns.
    fn limit(&self) -> usize {
        MARGIN.max(self.indent_width() + MIN_SPACE)
    }

    /// Whether a line of `width` columns, at the current indentation, fits the margin, so that prettyplease keeps
    /// it whole.
    pub(super) fn fits(&self, width: usize) -> bool {
        self.indent_width() + width <= self.limit()
    }

    /// Leaves the layout of this item to prettyplease: the text is valid Rust but not laid out as it prints it.
    pub(super) fn unsettle(&mut self) {
        self.unsettled = true;
    }

    /// Writes a line of code, indented; one that does not fit (prettyplease would break it) unsettles the item.
    pub(super) fn line(&mut self, text: fmt::Arguments<'_>) {
        let start = self.text.len();
        self.fixed(text);
        if self.text.len() - start - 1 > self.limit() {
            self.unsettled = true;
        }
    }

    /// Writes a line, indented, that prettyplease prints as it is: its text does not depend on the catalog (it may
    /// pass the margin), or the caller checked that it fits.
    pub(super) fn fixed(&mut self, text: fmt::Arguments<'_>) {
        let start = self.text.len();
        self.line_starts.push(start);
        for _ in 0..self.depth {
            self.text.push_str(INDENT);
        }
        // Writing to a `String` cannot fail.
        let _ = self.text.write_fmt(text);
        debug_assert!(!self.text[start..].contains('\n'), "one line at a time");
        self.text.push('\n');
    }

    /// Writes a line and indents the lines after it (a line that ends with an opening brace).
    pub(super) fn open(&mut self, text: fmt::Arguments<'_>) {
        self.line(text);
        self.depth += 1;
    }

    /// Indents the lines after this one by one more level.
    pub(super) fn depth_in(&mut self) {
        self.depth += 1;
    }

    /// Indents the lines after this one by one level less.
    pub(super) fn depth_out(&mut self) {
        self.depth -= 1;
    }

    /// Writes `header {`, what `body` writes, indented, and `}`; `header {}` when it writes nothing.
    pub(super) fn block(&mut self, header: fmt::Arguments<'_>, body: impl FnOnce(&mut Self)) {
        let (start, lines, unsettled) = (self.text.len(), self.line_starts.len(), self.unsettled);
        self.open(format_args!("{header} {{"));
        let opened = self.text.len();
        body(self);
        if self.text.len() == opened {
            self.text.truncate(start);
            self.line_starts.truncate(lines);
            self.unsettled = unsettled;
            self.depth -= 1;
            self.line(format_args!("{header} {{}}"));
        } else {
            self.close("}");
        }
    }

    /// Ends the indentation of [`Code::open`] and writes a line (a closing brace).
    pub(super) fn close(&mut self, text: &str) {
        self.depth -= 1;
        self.line(format_args!("{text}"));
    }

    /// Writes a line one level less indented than the lines before and after it (`) -> Output {` after the
    /// parameters of a signature broken a parameter a line).
    pub(super) fn reopen(&mut self, text: &str) {
        self.close(text);
        self.depth += 1;
    }

    /// Writes a doc comment line, `///` and `text` (a line of a description, with its leading space), as
    /// prettyplease prints a `#[doc]` attribute.
    pub(super) fn doc(&mut self, text: &str) {
        if text.starts_with('/') {
            // prettyplease writes such a line as an attribute.
            self.unsettled = true;
        }
        self.fixed(format_args!("///{}", text.trim_end_matches(' ')));
    }

    /// Writes `open`, the `items` separated by commas and `close` on one line where they fit, else `open`, an item
    /// a line (each followed by a comma, the last one only with `trailing`) and `close`. A comma that ends `close`
    /// is the enclosing list's, which prettyplease does not count in the width.
    pub(super) fn list(&mut self, open: fmt::Arguments<'_>, items: &[String], close: &str, trailing: bool) {
        let open = open.to_string();
        let width = open.len()
            + items.iter().map(String::len).sum::<usize>()
            + 2 * items.len().saturating_sub(1)
            + close.strip_suffix(',').unwrap_or(close).len();
        let fits = self.fits(width);
        if fits || items.is_empty() {
            // An empty list that does not fit breaks elsewhere: prettyplease decides.
            self.unsettled |= !fits;
            self.fixed(format_args!("{open}{}{close}", items.join(", ")));
            return;
        }
        self.open(format_args!("{open}"));
        for (index, item) in items.iter().enumerate() {
            let comma = if trailing || index + 1 < items.len() { "," } else { "" };
            self.line(format_args!("{item}{comma}"));
        }
        self.close(close);
    }

    /// Whether the match arm `pattern => body,` fits on one line (prettyplease does not count its comma).
    pub(super) fn arm_fits(&self, pattern: &str, body: &str) -> bool {
        self.fits(pattern.len() + " => ".len() + body.len())
    }

    /// Writes the match arm `pattern => body,`, or, where it does not fit, with the body in a block.
    pub(super) fn arm(&mut self, pattern: &str, body: &str) {
        if self.arm_fits(pattern, body) {
            self.fixed(format_args!("{pattern} => {body},"));
        } else {
            self.open(format_args!("{pattern} => {{"));
            self.line(format_args!("{body}"));
            self.close("}");
        }
    }

    /// The text as written, when its layout is settled.
    #[cfg(test)]
    pub(super) fn settled_text(&self) -> Option<&str> {
        (!self.unsettled).then_some(self.text.as_str())
    }

    /// The item's text in prettyplease's layout: as written when settled, else laid out by prettyplease.
    pub(super) fn finish(self) -> Lines {
        if !self.unsettled {
            return Lines {
                text: self.text,
                starts: self.line_starts,
            };
        }
        let text = format(&self.text);
        let starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(at, _)| at + 1))
            .filter(|&start| start < text.len())
            .collect();
        Lines { text, starts }
    }
}

/// The text of an item, and where each of its lines starts (so that the module does not look for them again).
#[derive(Debug)]
pub(super) struct Lines {
    text: String,
    starts: Vec<usize>,
}

impl Lines {
    /// The lines, without their line breaks.
    pub(super) fn iter(&self) -> impl Iterator<Item = &str> {
        let ends = self.starts.iter().skip(1).copied().chain([self.text.len()]);
        self.starts.iter().zip(ends).map(|(&start, end)| {
            let line = &self.text[start..end];
            line.strip_suffix('\n').unwrap_or(line)
        })
    }
}

/// `text`, Rust items, laid out by prettyplease.
pub(super) fn format(text: &str) -> String {
    match syn::parse_file(text) {
        Ok(file) => prettyplease::unparse(&file),
        // The text is written from checked names: a parse failure is a generator bug.
        Err(error) => panic!("xerpium-codegen produced invalid Rust ({error}); please report this bug:\n{text}"),
    }
}

/// `text` as a Rust string literal, escaped as proc-macro2's `Literal::string` escapes it (and prettyplease prints
/// it): as `char::escape_debug` does, except that `'` stays as it is and NUL is `\0` (`\x00` before a digit that
/// would make it an octal-looking escape).
pub(super) fn string(text: &str) -> String {
    let mut literal = String::with_capacity(text.len() + 2);
    literal.push('"');
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            '\0' if chars.as_str().starts_with(|next| ('0'..='7').contains(&next)) => literal.push_str("\\x00"),
            '\0' => literal.push_str("\\0"),
            '"' | '\\' => literal.extend(c.escape_debug()),
            // Printable ASCII stays as it is (the common case, without `escape_debug`'s tables).
            ' '..='~' => literal.push(c),
            c => literal.extend(c.escape_debug()),
        }
    }
    literal.push('"');
    literal
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_escaped_as_proc_macro2_escapes_them() {
        let texts = [
            "plain text",
            "quote \" backslash \\ apostrophe '",
            "tab\t line feed\n return\r",
            "nul\0 nul\0 5 nul\x005 nul\08",
            "del \u{7f} nel \u{85} line separator \u{2028} bom \u{feff}",
            "é 日本 😀 e\u{301} \u{301}",
            "\u{1}\u{1f}",
        ];
        for text in texts {
            assert_eq!(string(text), proc_macro2::Literal::string(text).to_string(), "{text:?}");
        }
    }

    #[test]
    fn every_character_is_escaped_as_proc_macro2_escapes_it() {
        // Each character alone and before a digit, in blocks of 4,096.
        let all: Vec<char> = (0..=u32::from(char::MAX)).filter_map(char::from_u32).collect();
        for block in all.chunks(4096) {
            let text: String = block.iter().flat_map(|&c| [c, '7', c]).collect();
            assert_eq!(string(&text), proc_macro2::Literal::string(&text).to_string());
        }
    }
}
