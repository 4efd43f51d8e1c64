//! The catalog's YAML as a tree in which every node knows where it stands.
//!
//! One pass over the event stream of `yaml-rust2`, which marks every event with its position, builds the tree;
//! [`crate::load`] reads the catalog from it and [`crate::positions`] indexes it by catalog path. A catalog is one
//! YAML 1.2 document:
//! - a UTF-8 byte-order mark at the start is skipped (some editors write one);
//! - a second document is an error at its start (`---`);
//! - anchors and aliases are expanded (within [`MAX_ALIAS_NODES`], so that a few lines cannot grow without bound);
//! - tags (`!include x.yaml`, `!!str 5`) are kept on their node, for [`crate::load`] to reject;
//! - nesting is at most [`MAX_DEPTH`] collections deep.
//!
//! Nothing here panics on bad input: every problem is a [`SyntaxError`] with a position.

use std::collections::HashMap;

use yaml_rust2::parser::{Event, Parser, Tag};
use yaml_rust2::scanner::{Marker, ScanError, TScalarStyle};

use crate::diagnostic::Position;

/// How many collections may be nested inside each other.
pub const MAX_DEPTH: usize = 64;

/// How many nodes aliases may add to a catalog in all.
pub const MAX_ALIAS_NODES: usize = 100_000;

/// One node of the tree.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// Where the node starts (for a block mapping, its first key).
    pub at: Position,
    /// Its tag as written (`!include`, `!!str`), if it has one.
    pub tag: Option<String>,
    /// What it holds.
    pub kind: Kind,
}

/// What a node holds.
#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    /// A scalar: its text, and whether it was written plain (neither quoted nor a `|`/`>` block).
    Scalar {
        /// The text, with quotes and escapes resolved.
        text: String,
        /// Whether it was written without quotes, so that YAML reads `true`, `5` or `~` as such.
        plain: bool,
    },
    /// A sequence of nodes.
    Sequence(Vec<Node>),
    /// A mapping: key and value nodes in file order, duplicates included.
    Mapping(Vec<(Node, Node)>),
}

/// What a scalar means under YAML 1.2's core schema.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Scalar<'a> {
    /// `~`, `null` or nothing.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A whole number (`5`, `-1`, `0x1f`, `0o17`).
    Integer(i128),
    /// A number with a fraction or exponent, or `.inf`/`.nan`.
    Float(f64),
    /// Anything else, and every quoted or block scalar.
    Text(&'a str),
}

impl Node {
    /// The meaning of a scalar node; `None` for a collection.
    pub fn scalar(&self) -> Option<Scalar<'_>> {
        match &self.kind {
            Kind::Scalar { text, plain: true } => Some(resolve(text)),
            Kind::Scalar { text, plain: false } => Some(Scalar::Text(text)),
            _ => None,
        }
    }

    /// The text of a scalar node as written (without quotes); `None` for a collection.
    pub fn text(&self) -> Option<&str> {
        match &self.kind {
            Kind::Scalar { text, .. } => Some(text),
            _ => None,
        }
    }

    /// Whether the node is a null scalar (`~`, `null` or nothing).
    pub fn is_null(&self) -> bool {
        self.scalar() == Some(Scalar::Null)
    }

    /// How the node reads in a message: "the text `maybe`", "the number `-1`", "a list", "nothing".
    pub fn describe(&self) -> String {
        match (&self.kind, self.scalar()) {
            (Kind::Sequence(_), _) => "a list".to_owned(),
            (Kind::Mapping(_), _) => "a map".to_owned(),
            (_, Some(Scalar::Null)) => "nothing".to_owned(),
            (_, Some(Scalar::Bool(flag))) => format!("`{flag}`"),
            (Kind::Scalar { text, .. }, Some(Scalar::Integer(_) | Scalar::Float(_))) => {
                format!("the number `{text}`")
            }
            (Kind::Scalar { text, plain: true }, _) => format!("the text `{}`", shorten(text)),
            (Kind::Scalar { text, plain: false }, _) => format!("the text `\"{}\"`", shorten(text)),
        }
    }
}

/// The first line of `text`, cut to a length that fits a message.
fn shorten(text: &str) -> String {
    let line = text.lines().next().unwrap_or_default();
    let mut short: String = line.chars().take(40).collect();
    if short.len() < text.trim_end().len() {
        short.push('…');
    }
    short
}

/// Resolves a plain scalar by YAML 1.2's core schema.
fn resolve(text: &str) -> Scalar<'_> {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Scalar::Null,
        "true" | "True" | "TRUE" => return Scalar::Bool(true),
        "false" | "False" | "FALSE" => return Scalar::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => return Scalar::Float(f64::INFINITY),
        "-.inf" | "-.Inf" | "-.INF" => return Scalar::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Scalar::Float(f64::NAN),
        _ => {}
    }
    let radix = |prefix: &str, radix: u32| {
        let digits = text.strip_prefix(prefix)?;
        let valid = !digits.is_empty() && digits.chars().all(|c| c.is_digit(radix));
        valid.then(|| i128::from_str_radix(digits, radix).ok()).flatten()
    };
    if let Some(number) = radix("0x", 16).or_else(|| radix("0o", 8)) {
        return Scalar::Integer(number);
    }
    let unsigned = text.strip_prefix(['-', '+']).unwrap_or(text);
    if !unsigned.is_empty() && unsigned.bytes().all(|b| b.is_ascii_digit()) {
        // Too long for an i128: still a number, if not an exact one.
        return text
            .parse()
            .map_or_else(|_| Scalar::Float(text.parse().unwrap_or(f64::NAN)), Scalar::Integer);
    }
    if let Some(number) = is_float(unsigned).then(|| text.parse().ok()).flatten() {
        return Scalar::Float(number);
    }
    Scalar::Text(text)
}

/// Whether `text` (without its sign) is a float of the core schema: `1.5`, `.5`, `1.`, `1e3`, `2.5E-3`.
fn is_float(text: &str) -> bool {
    let (mantissa, exponent) = match text.find(['e', 'E']) {
        Some(at) => (&text[..at], Some(&text[at + 1..])),
        None => (text, None),
    };
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits = |part: &str| part.bytes().all(|b| b.is_ascii_digit());
    let mantissa_ok = digits(whole) && digits(fraction) && !(whole.is_empty() && fraction.is_empty());
    let exponent_ok = exponent.is_none_or(|e| {
        let e = e.strip_prefix(['-', '+']).unwrap_or(e);
        !e.is_empty() && digits(e)
    });
    mantissa_ok && exponent_ok && (mantissa.contains('.') || exponent.is_some())
}

/// A problem that keeps the file from being read as YAML at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    /// Where it is.
    pub at: Position,
    /// What is wrong.
    pub message: String,
    /// How to fix it, where we can tell.
    pub hint: Option<String>,
}

/// Parses `text` into its tree; `Ok(None)` when it holds no document (only comments, or nothing).
pub fn parse(text: &str) -> Result<Option<Node>, SyntaxError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut parser = Parser::new_from_str(text);
    let mut builder = Builder::default();
    let mut documents = 0;
    loop {
        let (event, marker) = parser.next_token().map_err(|error| scan_error(text, &error))?;
        let at = position(&marker);
        match event {
            Event::StreamEnd => return Ok(builder.root),
            Event::DocumentStart => {
                documents += 1;
                if documents > 1 {
                    return Err(SyntaxError {
                        at,
                        message: "a second YAML document starts here; a catalog is one document".into(),
                        hint: Some("remove this `---` and what follows, or merge it into the document above".into()),
                    });
                }
            }
            Event::Scalar(text, style, anchor, tag) => {
                let plain = matches!(style, TScalarStyle::Plain);
                let tag = tag.as_ref().map(tag_name);
                builder.add(
                    Node {
                        at,
                        tag,
                        kind: Kind::Scalar { text, plain },
                    },
                    anchor,
                );
            }
            Event::SequenceStart(anchor, ref tag) | Event::MappingStart(anchor, ref tag) => {
                if builder.open.len() >= MAX_DEPTH {
                    return Err(SyntaxError {
                        at,
                        message: format!("the YAML is nested more than {MAX_DEPTH} levels deep"),
                        hint: Some("a catalog needs a dozen levels at most; check the brackets and indentation".into()),
                    });
                }
                let kind = match event {
                    Event::SequenceStart(..) => Kind::Sequence(Vec::new()),
                    _ => Kind::Mapping(Vec::new()),
                };
                let tag = tag.as_ref().map(tag_name);
                builder.open.push(Open {
                    node: Node { at, tag, kind },
                    anchor,
                    key: None,
                });
            }
            Event::SequenceEnd | Event::MappingEnd => {
                if let Some(open) = builder.open.pop() {
                    builder.add(open.node, open.anchor);
                }
            }
            Event::Alias(anchor) => builder.alias(anchor, at)?,
            Event::Nothing | Event::StreamStart | Event::DocumentEnd => {}
        }
    }
}

/// A collection still being read.
#[derive(Debug)]
struct Open {
    node: Node,
    /// Its anchor id (0: none).
    anchor: usize,
    /// In a mapping, the key whose value comes next.
    key: Option<Node>,
}

#[derive(Debug, Default)]
struct Builder {
    open: Vec<Open>,
    root: Option<Node>,
    /// Anchored nodes by anchor id.
    anchors: HashMap<usize, Node>,
    /// Nodes added by aliases so far.
    alias_nodes: usize,
}

impl Builder {
    /// Adds a complete node to the open collection (or makes it the root), recording it under `anchor` (0: none).
    fn add(&mut self, node: Node, anchor: usize) {
        if anchor != 0 {
            self.anchors.insert(anchor, node.clone());
        }
        let Some(Open { node: open, key, .. }) = self.open.last_mut() else {
            self.root = Some(node);
            return;
        };
        match (&mut open.kind, key.take()) {
            (Kind::Sequence(items), _) => items.push(node),
            (Kind::Mapping(entries), Some(key)) => entries.push((key, node)),
            (Kind::Mapping(entries), None) => {
                // A block mapping is marked after its first key: let it start there.
                if entries.is_empty() && node.at < open.at {
                    open.at = node.at;
                }
                *key = Some(node);
            }
            (Kind::Scalar { .. }, _) => {}
        }
    }

    /// Adds a copy of the node anchored as `anchor`, standing at `at`.
    fn alias(&mut self, anchor: usize, at: Position) -> Result<(), SyntaxError> {
        let Some(node) = self.anchors.get(&anchor) else {
            return Err(SyntaxError {
                at,
                message: "this alias refers to a node that contains it".into(),
                hint: Some("an alias (`*name`) can only repeat a node that is complete before it".into()),
            });
        };
        self.alias_nodes += count(node);
        if self.alias_nodes > MAX_ALIAS_NODES {
            return Err(SyntaxError {
                at,
                message: format!("aliases expand the catalog by more than {MAX_ALIAS_NODES} nodes"),
                hint: Some("write the repeated parts out, or use fewer aliases of aliases".into()),
            });
        }
        let mut copy = node.clone();
        copy.at = at;
        self.add(copy, 0);
        Ok(())
    }
}

/// The number of nodes in the tree under `node`, itself included.
fn count(node: &Node) -> usize {
    1 + match &node.kind {
        Kind::Scalar { .. } => 0,
        Kind::Sequence(items) => items.iter().map(count).sum(),
        Kind::Mapping(entries) => entries.iter().map(|(key, value)| count(key) + count(value)).sum(),
    }
}

/// A tag as written: `!include`, `!!str`, `!<tag:example.com,2024:x>`.
fn tag_name(tag: &Tag) -> String {
    match tag.handle.as_str() {
        "tag:yaml.org,2002:" => format!("!!{}", tag.suffix),
        "" => format!("!<{}>", tag.suffix),
        handle => format!("{handle}{}", tag.suffix),
    }
}

fn position(marker: &Marker) -> Position {
    Position {
        line: marker.line(),
        column: marker.col() + 1,
    }
}

/// A scanner error with its position and a hint; a tab on the line is pointed at.
fn scan_error(text: &str, error: &ScanError) -> SyntaxError {
    let mut at = position(error.marker());
    let message = error.info();
    let line = text.lines().nth(at.line.saturating_sub(1)).unwrap_or_default();
    let tab = line.chars().position(|c| c == '\t');
    if let Some(tab) = tab {
        at.column = tab + 1;
    }
    let before_tab = tab.map(|tab| line.chars().take(tab).collect::<String>());
    let previous = at.line.checked_sub(2).and_then(|index| text.lines().nth(index));
    let glued = |line: &str| !line.contains(": ") && line.trim_end().trim_end_matches(':').contains(':');
    let hint = if before_tab
        .as_deref()
        .is_some_and(|before| before.trim_end_matches(' ').ends_with(':'))
    {
        "a tab follows the `:`: separate a key from its value with a space (`key: value`)".to_owned()
    } else if tab.is_some() || message.contains("tab") {
        "YAML indents with spaces only; replace the tab with spaces".to_owned()
    } else if (message.contains("mapping values are not allowed") || message.contains("simple key expect"))
        && previous.is_some_and(glued)
    {
        format!(
            "line {} has a `:` with no space after it: write `key: value`",
            at.line - 1
        )
    } else if message.contains("mapping values are not allowed") {
        "`: ` inside a value starts a map: put the value in quotes (`\"…\"`)".to_owned()
    } else if message.contains("unexpected character") && line.contains('{') {
        "inside `{ … }` a comma ends a value: put text that contains commas in quotes".to_owned()
    } else if message.contains("flow") || message.contains("',' or ']'") || message.contains("',' or '}'") {
        "a `[` or `{` is not closed, or its items are not separated by commas".to_owned()
    } else if message.contains("quote") {
        "a quoted string is not closed".to_owned()
    } else if message.contains("did not find expected key") || message.contains("did not find expected '-'") {
        "check the indentation: the keys of one map, and the items of one list, start in the same column".to_owned()
    } else if message.contains("simple key expect") && at.line > 1 {
        format!(
            "line {} has a key without a `:` after it: write `key: value`",
            at.line - 1
        )
    } else if message.contains("unknown anchor") {
        "define the anchor (`&name`) before an alias (`*name`) uses it".to_owned()
    } else {
        return SyntaxError {
            at,
            message: format!("invalid YAML: {message}"),
            hint: None,
        };
    };
    SyntaxError {
        at,
        message: format!("invalid YAML: {message}"),
        hint: Some(hint),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root(text: &str) -> Node {
        parse(text).expect("valid YAML").expect("a document")
    }

    #[test]
    fn keeps_the_position_of_every_node() {
        let node = root("a:\n  bb: 1\n  cc: [x, y]\n");
        let at = |line, column| Position { line, column };
        let Kind::Mapping(entries) = &node.kind else {
            panic!("{node:?}")
        };
        assert_eq!(node.at, at(1, 1));
        let (key, value) = &entries[0];
        assert_eq!(
            (key.at, value.at),
            (at(1, 1), at(2, 3)),
            "a block mapping starts at its first key"
        );
        let Kind::Mapping(inner) = &value.kind else {
            panic!("{value:?}")
        };
        let Kind::Sequence(items) = &inner[1].1.kind else {
            panic!("{inner:?}")
        };
        assert_eq!(items[1].at, at(3, 11));
    }

    #[test]
    fn resolves_scalars_by_the_core_schema() {
        let cases = [
            ("~", Scalar::Null),
            ("True", Scalar::Bool(true)),
            ("yes", Scalar::Text("yes")),
            ("-1", Scalar::Integer(-1)),
            ("0x1f", Scalar::Integer(31)),
            ("0o17", Scalar::Integer(15)),
            ("1.5", Scalar::Float(1.5)),
            ("1e3", Scalar::Float(1000.0)),
            (".inf", Scalar::Float(f64::INFINITY)),
            ("1.2.3", Scalar::Text("1.2.3")),
            ("e3", Scalar::Text("e3")),
            ("5s", Scalar::Text("5s")),
            ("0x", Scalar::Text("0x")),
        ];
        for (text, meaning) in cases {
            assert_eq!(resolve(text), meaning, "{text}");
        }
        assert_eq!(root("'5'").scalar(), Some(Scalar::Text("5")), "quoted scalars are text");
    }

    #[test]
    fn skips_a_byte_order_mark_and_rejects_a_second_document() {
        assert_eq!(root("\u{feff}a: 1\n"), root("a: 1\n"));
        let error = parse("a: 1\n---\nb: 2\n").expect_err("two documents");
        assert_eq!(error.at, Position { line: 2, column: 1 });
        assert_eq!(parse("# only a comment\n"), Ok(None));
    }

    #[test]
    fn expands_aliases_within_a_budget() {
        let node = root("a: &x {k: 1}\nb: *x\n");
        let Kind::Mapping(entries) = &node.kind else {
            panic!("{node:?}")
        };
        assert_eq!(entries[1].1.kind, entries[0].1.kind);
        assert_eq!(entries[1].1.at, Position { line: 2, column: 4 });
        let mut laughs = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for level in 1..10 {
            let previous = format!("*a{}", level - 1);
            let items = [previous.as_str(); 10].join(", ");
            laughs.push_str(&format!("a{level}: &a{level} [{items}]\n"));
        }
        let error = parse(&laughs).expect_err("too many nodes");
        assert!(error.message.contains("aliases expand"), "{}", error.message);
    }

    #[test]
    fn limits_nesting() {
        let deep = format!("a: {}{}\n", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
        let error = parse(&deep).expect_err("too deep");
        assert!(error.message.contains("nested more than"), "{}", error.message);
        let deep_blocks: String = (0..200).map(|level| format!("{}k:\n", " ".repeat(level))).collect();
        assert!(parse(&deep_blocks).is_err());
    }

    #[test]
    fn reports_syntax_errors_with_a_position_and_hint() {
        let error = parse("a:\n\tb: 1\n").expect_err("tab indentation");
        assert_eq!(error.at, Position { line: 2, column: 1 });
        assert_eq!(
            error.hint.as_deref(),
            Some("YAML indents with spaces only; replace the tab with spaces")
        );
        let error = parse("a:\tb\n").expect_err("tab after a colon");
        assert_eq!(error.at, Position { line: 1, column: 3 });
        assert!(error.hint.is_some_and(|hint| hint.starts_with("a tab follows the `:`")));
    }
}
