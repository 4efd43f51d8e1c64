//! The text of a document, written line by line: each document emitter writes its document with this, in the
//! order and layout of the document, from views it prepared.

use std::fmt::{self, Write};

/// A document being written.
#[derive(Debug, Default)]
pub struct Text(String);

impl Text {
    /// Writes `text` and a line break.
    pub fn line(&mut self, text: fmt::Arguments<'_>) {
        self.push(text);
        self.0.push('\n');
    }

    /// Writes `text`, which ends a line only where it says so.
    pub fn push(&mut self, text: fmt::Arguments<'_>) {
        // Writing to a `String` cannot fail.
        let _ = self.0.write_fmt(text);
    }

    /// The document.
    pub fn finish(self) -> String {
        self.0
    }
}

/// A text that is there and not empty.
pub fn present(text: Option<&str>) -> Option<&str> {
    text.filter(|text| !text.is_empty())
}

/// `items`, each as `item` displays it, separated by `separator`.
pub fn join<T, D: fmt::Display>(
    items: impl IntoIterator<Item = T>,
    separator: &str,
    mut item: impl FnMut(T) -> D,
) -> String {
    let mut out = String::new();
    for (index, value) in items.into_iter().enumerate() {
        if index > 0 {
            out.push_str(separator);
        }
        // Writing to a `String` cannot fail.
        let _ = write!(out, "{}", item(value));
    }
    out
}
