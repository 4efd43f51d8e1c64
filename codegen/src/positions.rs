//! Source positions of every node of a catalog, by catalog path.
//!
//! serde reports positions only for the errors it finds itself; problems
//! found later (an unknown type name, a duplicate, a `subject` naming no
//! field) need the position of the node at fault. This module walks the
//! YAML event stream of `yaml-rust2`, which marks every event, and keeps a
//! map from catalog path (`categories.user.events.created`) to where the
//! node's key and value start.

use std::collections::HashMap;

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, ScanError};

use crate::diagnostic::Position;

/// Where one occurrence of a node stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Node {
    /// The start of its key, when the node is a mapping entry.
    pub key: Option<Position>,
    /// The start of its value.
    pub value: Position,
}

/// Positions of the nodes of one catalog, by path; a path that occurs more
/// than once (a duplicate key) keeps every occurrence in file order.
#[derive(Debug, Clone, Default)]
pub struct Positions {
    nodes: HashMap<String, Vec<Node>>,
}

impl Positions {
    /// Reads the positions of `text`; a YAML syntax error is returned with its position.
    pub fn read(text: &str) -> Result<Self, (Position, String)> {
        let mut walker = Walker::default();
        Parser::new_from_str(text)
            .load(&mut walker, false)
            .map_err(|error: ScanError| (position(error.marker()), error.info().to_owned()))?;
        Ok(Positions { nodes: walker.nodes })
    }

    /// Every occurrence of `path`, in file order.
    pub fn occurrences(&self, path: &str) -> &[Node] {
        self.nodes.get(path).map_or(&[], Vec::as_slice)
    }

    /// Where the node at `path` starts: its key if it has one, else its
    /// value; for a path that is absent, the nearest ancestor that is present.
    pub fn of(&self, path: &str) -> Option<Position> {
        let mut path = path;
        loop {
            if let Some(node) = self.occurrences(path).first() {
                return Some(node.key.unwrap_or(node.value));
            }
            path = &path[..path.rfind('.')?];
        }
    }

    /// Where the value at `path` starts (falling back like [`Positions::of`]).
    pub fn value_of(&self, path: &str) -> Option<Position> {
        match self.occurrences(path).first() {
            Some(node) => Some(node.value),
            None => self.of(path),
        }
    }
}

fn position(marker: &Marker) -> Position {
    Position {
        line: marker.line(),
        column: marker.col() + 1,
    }
}

/// One open collection while walking.
#[derive(Debug)]
enum Frame {
    /// A mapping at `path`; `key` is the entry whose value comes next.
    Mapping {
        path: String,
        key: Option<(String, Position)>,
    },
    /// A sequence at `path`, with the index of its next item.
    Sequence { path: String, next: usize },
}

#[derive(Debug, Default)]
struct Walker {
    stack: Vec<Frame>,
    nodes: HashMap<String, Vec<Node>>,
}

impl Walker {
    /// Where the next value goes: its path and the position of its key.
    /// Returns `None` while a mapping waits for a key (the scalar is a key).
    fn next_value_slot(&mut self) -> Option<(String, Option<Position>)> {
        match self.stack.last_mut() {
            None => Some((String::new(), None)),
            Some(Frame::Mapping { key: None, .. }) => None,
            Some(Frame::Mapping {
                path,
                key: Some((name, at)),
            }) => Some((join(path, name), Some(*at))),
            Some(Frame::Sequence { path, next }) => Some((join(path, &next.to_string()), None)),
        }
    }

    /// Marks the current slot as filled: the mapping waits for its next key,
    /// the sequence moves to its next index.
    fn slot_filled(&mut self) {
        match self.stack.last_mut() {
            Some(Frame::Mapping { key, .. }) => *key = None,
            Some(Frame::Sequence { next, .. }) => *next += 1,
            None => {}
        }
    }

    fn value(&mut self, at: Position) -> Option<String> {
        let (path, key) = self.next_value_slot()?;
        self.nodes
            .entry(path.clone())
            .or_default()
            .push(Node { key, value: at });
        Some(path)
    }
}

impl MarkedEventReceiver for Walker {
    fn on_event(&mut self, event: Event, marker: Marker) {
        let at = position(&marker);
        match event {
            Event::Scalar(text, ..) => match self.value(at) {
                Some(_) => self.slot_filled(),
                None => {
                    if let Some(Frame::Mapping { key, .. }) = self.stack.last_mut() {
                        *key = Some((text, at));
                    }
                }
            },
            Event::Alias(_) if self.value(at).is_some() => self.slot_filled(),
            Event::MappingStart(..) | Event::SequenceStart(..) => {
                // A collection used as a mapping key has no catalog path; give it a placeholder one.
                let path = self.value(at).unwrap_or_else(|| "?".to_owned());
                self.stack.push(match event {
                    Event::MappingStart(..) => Frame::Mapping { path, key: None },
                    _ => Frame::Sequence { path, next: 0 },
                });
            }
            Event::MappingEnd | Event::SequenceEnd => {
                self.stack.pop();
                self.slot_filled();
            }
            _ => {}
        }
    }
}

fn join(path: &str, segment: &str) -> String {
    if path.is_empty() {
        segment.to_owned()
    } else {
        format!("{path}.{segment}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_paths_to_key_and_value_positions() {
        let text = "a:\n  bb: 1\n  cc: [x, y]\n  bb: 2\n";
        let positions = Positions::read(text).expect("valid YAML");
        let at = |line, column| Position { line, column };
        assert_eq!(positions.of("a.cc"), Some(at(3, 3)));
        assert_eq!(positions.value_of("a.cc.1"), Some(at(3, 11)));
        let duplicates: Vec<_> = positions.occurrences("a.bb").iter().map(|n| n.key).collect();
        assert_eq!(duplicates, [Some(at(2, 3)), Some(at(4, 3))]);
        assert_eq!(positions.of("a.cc.missing.deeper"), Some(at(3, 3)));
    }

    #[test]
    fn reports_syntax_errors_with_their_position() {
        let (at, message) = Positions::read("a:\n\tb: 1\n").expect_err("tabs are invalid");
        assert_eq!(at.line, 2);
        assert!(message.contains("tab"), "{message}");
    }
}
