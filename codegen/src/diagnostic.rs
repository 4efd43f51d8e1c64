//! A problem found in a catalog, reported as `FILE:LINE:COLUMN: error: …`
//! with the catalog path of the offending node and, where one exists, a hint.

use std::fmt;

/// A position in the catalog file, both 1-based.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Position {
    /// Line, from 1.
    pub line: usize,
    /// Column, from 1.
    pub column: usize,
}

impl fmt::Display for Position {
    /// `LINE:COLUMN`, as diagnostics name another place of the file.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// One problem in a catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// The catalog file as the user named it.
    pub file: String,
    /// Where in the file; `None` when the file could not be read at all.
    pub position: Option<Position>,
    /// The path inside the catalog, e.g. `categories.user.events.created.fields.email`.
    pub path: String,
    /// What is wrong.
    pub message: String,
    /// How to fix it, where we can tell (e.g. "did you mean `datetime`?").
    pub hint: Option<String>,
}

impl Diagnostic {
    /// A diagnostic at `position` of `file`.
    pub fn new(file: &str, position: Option<Position>, path: &str, message: impl Into<String>) -> Self {
        Diagnostic {
            file: file.to_owned(),
            position,
            path: path.to_owned(),
            message: message.into(),
            hint: None,
        }
    }

    /// The same diagnostic with a hint.
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// The same diagnostic with a hint, if there is one.
    pub fn with_optional_hint(mut self, hint: Option<String>) -> Self {
        self.hint = hint;
        self
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.position {
            Some(Position { line, column }) => write!(f, "{}:{line}:{column}: error: ", self.file)?,
            None => write!(f, "{}: error: ", self.file)?,
        }
        f.write_str(&self.message)?;
        if !self.path.is_empty() {
            write!(f, "\n  at: {}", self.path)?;
        }
        if let Some(hint) = &self.hint {
            write!(f, "\n  hint: {hint}")?;
        }
        Ok(())
    }
}

/// All problems of one run, in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for diagnostic in &self.0 {
            writeln!(f, "{diagnostic}")?;
        }
        let count = self.0.len();
        write!(f, "{count} error{}", if count == 1 { "" } else { "s" })
    }
}

impl std::error::Error for Diagnostics {}

/// The candidate closest to `wrong` when it is close enough to be a likely
/// typo (or differs only in case).
pub fn closest<'a>(wrong: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|candidate| {
            let distance = if candidate.eq_ignore_ascii_case(wrong) {
                0.0
            } else {
                1.0 - strsim::normalized_damerau_levenshtein(wrong, candidate)
            };
            (distance, candidate)
        })
        .filter(|(distance, _)| *distance <= 0.34)
        .min_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, candidate)| candidate)
}

/// The [`closest`] candidate as a "did you mean" hint.
pub fn did_you_mean<'a>(wrong: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<String> {
    closest(wrong, candidates).map(|candidate| format!("did you mean `{candidate}`?"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_names_and_case_fixes() {
        assert_eq!(
            did_you_mean("feilds", ["fields", "description"]).as_deref(),
            Some("did you mean `fields`?")
        );
        assert_eq!(
            did_you_mean("Userrole", ["UserRole", "Money"]).as_deref(),
            Some("did you mean `UserRole`?")
        );
        assert_eq!(
            did_you_mean("strng", ["string", "bool"]).as_deref(),
            Some("did you mean `string`?")
        );
        assert_eq!(did_you_mean("zzz", ["string", "bool"]), None);
    }
}
