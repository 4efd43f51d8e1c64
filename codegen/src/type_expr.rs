//! The syntax of field types: `string`, `list<T>`, `map<T>`, `T?` and
//! shared type names, parsed before names are resolved.

/// A parsed type expression; names are not resolved yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TypeExpr {
    /// A built-in scalar or a shared type's name.
    Name(String),
    /// `list<T>`.
    List(Box<TypeExpr>),
    /// `map<T>`: string keys, values of `T`.
    Map(Box<TypeExpr>),
    /// `T?`.
    Optional(Box<TypeExpr>),
}

/// Why a type expression is malformed, with a hint on how to write it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    /// What is wrong.
    pub message: String,
    /// How to write it instead.
    pub hint: String,
}

/// Parses a type expression such as `list<map<Money?>>?`.
pub fn parse(text: &str) -> Result<TypeExpr, SyntaxError> {
    let mut parser = Parser { text, rest: text };
    let expr = parser.expr()?;
    if !parser.rest.trim().is_empty() {
        let rest = parser.rest.trim();
        return Err(if rest.starts_with(',') {
            error(
                format!("`{text}` has more than one type between `<` and `>`"),
                "`map<T>` takes only the value type: map keys are always strings",
            )
        } else {
            error(
                format!("unexpected `{rest}` in type `{text}`"),
                "write one type, e.g. `list<string>`",
            )
        });
    }
    Ok(expr)
}

struct Parser<'a> {
    text: &'a str,
    rest: &'a str,
}

impl Parser<'_> {
    fn expr(&mut self) -> Result<TypeExpr, SyntaxError> {
        self.rest = self.rest.trim_start();
        let end = self
            .rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(self.rest.len());
        let (name, rest) = self.rest.split_at(end);
        self.rest = rest.trim_start();
        if name.is_empty() {
            return Err(error(
                format!("type `{}` is missing a type name", self.text),
                "write a type such as `string`, `uuid`, `list<string>` or a shared type's name",
            ));
        }
        let mut expr = if let Some(rest) = self.rest.strip_prefix('<') {
            self.rest = rest;
            let inner = Box::new(self.expr()?);
            match self.rest.trim_start().strip_prefix('>') {
                Some(rest) => self.rest = rest,
                None if self.rest.trim_start().starts_with(',') => {
                    return Err(error(
                        format!("`{}` has more than one type between `<` and `>`", self.text),
                        "`map<T>` takes only the value type: map keys are always strings",
                    ));
                }
                None => {
                    return Err(error(
                        format!("`<` in type `{}` is not closed", self.text),
                        format!("add the closing `>`: `{}>`", self.text.trim()),
                    ));
                }
            }
            match name {
                "list" => TypeExpr::List(inner),
                "map" => TypeExpr::Map(inner),
                other => {
                    return Err(error(
                        format!("`{other}<…>` is not a type constructor"),
                        "the type constructors are `list<T>` and `map<T>`",
                    ));
                }
            }
        } else if name == "list" || name == "map" {
            return Err(error(
                format!("`{name}` needs an item type"),
                format!("write `{name}<T>`, e.g. `{name}<string>`"),
            ));
        } else {
            TypeExpr::Name(name.to_owned())
        };
        self.rest = self.rest.trim_start();
        if let Some(rest) = self.rest.strip_prefix('?') {
            self.rest = rest.trim_start();
            if self.rest.starts_with('?') {
                return Err(error(
                    format!("type `{}` is optional twice", self.text),
                    "one `?` makes a field optional",
                ));
            }
            expr = TypeExpr::Optional(Box::new(expr));
        }
        Ok(expr)
    }
}

fn error(message: String, hint: impl Into<String>) -> SyntaxError {
    SyntaxError {
        message,
        hint: hint.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(n: &str) -> Box<TypeExpr> {
        Box::new(TypeExpr::Name(n.into()))
    }

    #[test]
    fn parses_nested_and_optional_types() {
        assert_eq!(parse("uuid?"), Ok(TypeExpr::Optional(name("uuid"))));
        assert_eq!(
            parse("list< map<Money?> >?"),
            Ok(TypeExpr::Optional(Box::new(TypeExpr::List(Box::new(TypeExpr::Map(
                Box::new(TypeExpr::Optional(name("Money")))
            ))))))
        );
    }

    #[test]
    fn rejects_malformed_types_with_hints() {
        for (text, message) in [
            ("list<string", "`<` in type `list<string` is not closed"),
            (
                "map<uuid, i32>",
                "`map<uuid, i32>` has more than one type between `<` and `>`",
            ),
            ("list", "`list` needs an item type"),
            ("set<string>", "`set<…>` is not a type constructor"),
            ("string??", "type `string??` is optional twice"),
            ("", "type `` is missing a type name"),
            ("list<>", "type `list<>` is missing a type name"),
            ("string string", "unexpected `string` in type `string string`"),
        ] {
            assert_eq!(parse(text).map_err(|e| e.message), Err(message.to_owned()), "{text}");
        }
    }
}
