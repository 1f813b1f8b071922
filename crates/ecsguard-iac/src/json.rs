//! JSON to [`Node`], with positions.

use jsonc_parser::ast::{ObjectPropName, Value};
use jsonc_parser::{CollectOptions, ParseOptions};

use crate::tree::{Key, Kind, LineIndex, Node, Pos, StrStyle};

/// A syntax error, without any of the input's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    pub pos: Pos,
    pub message: String,
}

/// Parses strict JSON (comments and trailing commas are accepted, as many
/// tools write them).
pub fn parse(text: &str) -> Result<Option<Node>, SyntaxError> {
    let options = ParseOptions {
        allow_comments: true,
        allow_loose_object_property_names: false,
        allow_trailing_commas: true,
        allow_missing_commas: false,
        allow_single_quoted_strings: false,
        allow_hexadecimal_numbers: false,
        allow_unary_plus_numbers: false,
        ..ParseOptions::default()
    };
    let parsed =
        jsonc_parser::parse_to_ast(text, &CollectOptions::default(), &options).map_err(|e| {
            SyntaxError {
                pos: Pos {
                    line: u32::try_from(e.line_display()).unwrap_or(u32::MAX),
                    column: u32::try_from(e.column_display()).unwrap_or(u32::MAX),
                    file: 0,
                },
                message: format!("invalid JSON: {}", e.kind()),
            }
        })?;
    let index = LineIndex::new(text);
    Ok(parsed.value.map(|v| convert(v, text, &index)))
}

fn convert(value: Value<'_>, text: &str, index: &LineIndex) -> Node {
    match value {
        Value::StringLit(s) => Node::new(
            Kind::Str(s.value.into_owned(), StrStyle::Inline),
            index.pos(text, s.range.start),
        ),
        Value::NumberLit(n) => Node::new(
            Kind::Number(n.value.to_owned()),
            index.pos(text, n.range.start),
        ),
        Value::BooleanLit(b) => Node::new(Kind::Bool(b.value), index.pos(text, b.range.start)),
        Value::NullKeyword(n) => Node::new(Kind::Null, index.pos(text, n.range.start)),
        Value::Array(a) => {
            let pos = index.pos(text, a.range.start);
            Node::new(
                Kind::Seq(
                    a.elements
                        .into_iter()
                        .map(|v| convert(v, text, index))
                        .collect(),
                ),
                pos,
            )
        }
        Value::Object(o) => {
            let pos = index.pos(text, o.range.start);
            let entries = o
                .properties
                .into_iter()
                .map(|p| {
                    let (key_text, key_start) = match p.name {
                        ObjectPropName::String(s) => (s.value.into_owned(), s.range.start),
                        ObjectPropName::Word(w) => (w.value.to_owned(), w.range.start),
                    };
                    let key = Key {
                        text: key_text,
                        pos: index.pos(text, key_start),
                    };
                    (key, convert(p.value, text, index))
                })
                .collect();
            Node::new(Kind::Map(entries), pos)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based() {
        let node = parse("{\n  \"a\": [1,\n   \"x\"]\n}").ok().flatten();
        let Some(node) = node else {
            panic!("parsed nothing")
        };
        let (key, value) = node.get_entry("a").unwrap_or_else(|| panic!("no key"));
        assert_eq!((key.pos.line, key.pos.column), (2, 3));
        let items = value.as_seq().unwrap_or_default();
        assert_eq!(items[1].pos.line, 3);
    }

    #[test]
    fn errors_name_the_line_and_not_the_text() {
        let err = parse("{\n \"password\": \"hunter2\",\n \"x\": }").err();
        let Some(err) = err else { panic!("no error") };
        assert_eq!(err.pos.line, 3);
        assert!(!err.message.contains("hunter2"));
    }
}
