//! Source positions of every node of a catalog, by catalog path.
//!
//! Problems found after reading (an unknown type name, a duplicate, a
//! `subject` naming no field) need the position of the node at fault. This
//! module indexes the span-aware tree of [`crate::yaml`] by catalog path
//! (`categories.user.events.created`): where each node's key and value start.

use std::collections::HashMap;

use crate::diagnostic::Position;
use crate::yaml::{self, Kind};

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
    /// Indexes the nodes under `root` by catalog path.
    pub fn new(root: &yaml::Node) -> Self {
        let mut positions = Positions::default();
        positions.add(&mut String::new(), None, root);
        positions
    }

    /// Adds `node`, at `path`, and the nodes under it; `path` is as it was when this returns.
    fn add(&mut self, path: &mut String, key: Option<Position>, node: &yaml::Node) {
        let occurrence = Node { key, value: node.at };
        self.nodes.entry(path.clone()).or_default().push(occurrence);
        let mut child = |positions: &mut Self, segment: &str, key, value| {
            let length = path.len();
            if !path.is_empty() {
                path.push('.');
            }
            path.push_str(segment);
            positions.add(path, key, value);
            path.truncate(length);
        };
        match &node.kind {
            Kind::Scalar { .. } => {}
            Kind::Sequence(items) => {
                for (index, item) in items.iter().enumerate() {
                    child(self, &index.to_string(), None, item);
                }
            }
            Kind::Mapping(entries) => {
                for (name, value) in entries {
                    // A collection used as a mapping key has no catalog path; give it a placeholder one.
                    child(self, name.text().unwrap_or("?"), Some(name.at), value);
                }
            }
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_paths_to_key_and_value_positions() {
        let text = "a:\n  bb: 1\n  cc: [x, y]\n  bb: 2\n";
        let positions = Positions::new(&yaml::parse(text).expect("valid YAML").expect("a document"));
        let at = |line, column| Position { line, column };
        assert_eq!(positions.of("a.cc"), Some(at(3, 3)));
        assert_eq!(positions.value_of("a.cc.1"), Some(at(3, 11)));
        let duplicates: Vec<_> = positions.occurrences("a.bb").iter().map(|n| n.key).collect();
        assert_eq!(duplicates, [Some(at(2, 3)), Some(at(4, 3))]);
        assert_eq!(positions.of("a.cc.missing.deeper"), Some(at(3, 3)));
    }
}
