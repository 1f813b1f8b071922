//! JSON to [`Node`], with positions.

use jsonc_parser::ast::{ObjectPropName, Value};
use jsonc_parser::errors::ParseErrorKind;
use jsonc_parser::ParseStringErrorKind;
use jsonc_parser::{CollectOptions, ParseOptions};

use crate::tree::{ByteSpan, Key, Kind, LineIndex, Node, Pos, StrStyle};

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
    let index = LineIndex::new(text);
    let parsed =
        jsonc_parser::parse_to_ast(text, &CollectOptions::default(), &options).map_err(|e| {
            SyntaxError {
                // Our own line index, so that lone-CR line endings count as it does elsewhere.
                pos: index.pos(text, e.range().start),
                message: format!("invalid JSON: {}", describe(e.kind())),
            }
        })?;
    let mut bad = None;
    let node = parsed.value.map(|v| convert(v, text, &index, &mut bad));
    // The parser takes escapes JSON does not have (`\q`, `\x41`, `\'`), and
    // reads them as something else: the value would be stored changed.
    if let Some(at) = bad {
        return Err(SyntaxError {
            pos: index.pos(text, at),
            message: "invalid JSON: a string holds an invalid escape sequence".into(),
        });
    }
    Ok(node)
}

/// Where the first escape that JSON does not define is, in a string
/// literal's raw text starting at `start`.
fn invalid_escape(text: &str, start: usize, end: usize, bad: &mut Option<usize>) {
    if bad.is_some() {
        return;
    }
    let raw = text.as_bytes().get(start..end).unwrap_or_default();
    let mut i = 0;
    while i < raw.len() {
        if raw[i] == b'\\' {
            if !raw.get(i + 1).is_some_and(|c| b"\"\\/bfnrtu".contains(c)) {
                *bad = Some(start + i);
                return;
            }
            i += 2;
        } else {
            i += 1;
        }
    }
}

/// The parser's error, in words of our own: some of its messages quote the
/// input (an invalid `\u` escape is shown with its hex digits), and no input
/// text may reach an error message.
fn describe(kind: &ParseErrorKind) -> &'static str {
    use ParseErrorKind as K;
    use ParseStringErrorKind as S;
    match kind {
        K::String(S::ExpectedFourHexDigits | S::ExpectedTwoHexDigits) => {
            "an escape sequence is missing its hex digits"
        }
        K::String(S::InvalidUnicodeEscapeSequence(_)) => {
            "a \\u escape does not encode a valid character"
        }
        K::String(S::UnterminatedStringLiteral) => "a string is not terminated",
        K::String(_) => "a string holds an invalid escape sequence",
        K::BareDecimalPointNumbersNotAllowed
        | K::ExpectedDigit
        | K::ExpectedDigitFollowingNegativeSign
        | K::ExpectedPlusMinusOrDigitInNumberLiteral
        | K::HexadecimalNumbersNotAllowed
        | K::NonFiniteNumbersNotAllowed
        | K::UnaryPlusNumbersNotAllowed => "a number is malformed",
        K::CommentsNotAllowed => "comments are not allowed here",
        K::ExpectedColonAfterObjectKey => "expected `:` after an object key",
        K::ExpectedObjectValue => "expected a value after `:`",
        K::ExpectedStringObjectProperty => "expected a string as the object key",
        K::ExpectedComma => "expected `,`",
        K::MultipleRootJsonValues => "more than one value at the top level",
        K::SingleQuotedStringsNotAllowed => "single-quoted strings are not JSON",
        K::TrailingCommasNotAllowed => "trailing commas are not allowed",
        K::UnexpectedCloseBrace => "unexpected `}`",
        K::UnexpectedCloseBracket => "unexpected `]`",
        K::UnexpectedColon => "unexpected `:`",
        K::UnexpectedComma => "unexpected `,`",
        K::UnexpectedToken | K::UnexpectedTokenInObject | K::UnexpectedWord => "unexpected token",
        K::UnterminatedArray => "an array is not closed",
        K::UnterminatedCommentBlock => "a comment is not closed",
        K::UnterminatedObject => "an object is not closed",
        K::NestingDepthExceeded => "nested too deeply (more than 512 levels)",
        #[allow(unreachable_patterns)]
        _ => "malformed JSON",
    }
}

fn convert(value: Value<'_>, text: &str, index: &LineIndex, bad: &mut Option<usize>) -> Node {
    let span = |r: jsonc_parser::common::Range| ByteSpan::new(r.start, r.end);
    match value {
        Value::StringLit(s) => {
            invalid_escape(text, s.range.start, s.range.end, bad);
            Node::new(
                Kind::Str(s.value.into_owned(), StrStyle::Inline),
                index.pos(text, s.range.start),
            )
            .with_span(span(s.range))
        }
        Value::NumberLit(n) => Node::new(
            Kind::Number(n.value.to_owned()),
            index.pos(text, n.range.start),
        )
        .with_span(span(n.range)),
        Value::BooleanLit(b) => {
            Node::new(Kind::Bool(b.value), index.pos(text, b.range.start)).with_span(span(b.range))
        }
        Value::NullKeyword(n) => {
            Node::new(Kind::Null, index.pos(text, n.range.start)).with_span(span(n.range))
        }
        Value::Array(a) => {
            let pos = index.pos(text, a.range.start);
            Node::new(
                Kind::Seq(
                    a.elements
                        .into_iter()
                        .map(|v| convert(v, text, index, bad))
                        .collect(),
                ),
                pos,
            )
            .with_span(span(a.range))
        }
        Value::Object(o) => {
            let pos = index.pos(text, o.range.start);
            let entries = o
                .properties
                .into_iter()
                .map(|p| {
                    let (key_text, key_start) = match p.name {
                        ObjectPropName::String(s) => {
                            invalid_escape(text, s.range.start, s.range.end, bad);
                            (s.value.into_owned(), s.range.start)
                        }
                        ObjectPropName::Word(w) => (w.value.to_owned(), w.range.start),
                    };
                    let key = Key {
                        text: key_text,
                        pos: index.pos(text, key_start),
                    };
                    (key, convert(p.value, text, index, bad))
                })
                .collect();
            Node::new(Kind::Map(entries), pos).with_span(span(o.range))
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
    fn escapes_json_does_not_have_are_refused() {
        for text in [
            "{\"k\": \"Pl4nted\\q9\"}",
            "{\"k\": \"a\\x41\"}",
            "{\"k\\'\": 1}",
        ] {
            let Err(e) = parse(text) else {
                panic!("accepted: {text}")
            };
            assert_eq!(
                e.message,
                "invalid JSON: a string holds an invalid escape sequence"
            );
            assert!(!e.message.contains("Pl4nted"));
        }
        assert!(parse("{\"k\": \"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\"}").is_ok());
    }

    #[test]
    fn escape_errors_never_quote_the_escape() {
        for text in [
            "{\"k\": \"\\uD83D\\u00e9abcd\"}",
            "{\"k\": \"\\uZZ9Q\"}",
            "{\"k\": \"\\xq\"}",
        ] {
            let err = parse(text)
                .err()
                .unwrap_or_else(|| panic!("no error for {text}"));
            for quoted in ["D83D", "00e9", "ZZ9Q", "xq"] {
                assert!(!err.message.contains(quoted), "{}", err.message);
            }
        }
    }

    #[test]
    fn errors_name_the_line_and_not_the_text() {
        let err = parse("{\n \"password\": \"hunter2\",\n \"x\": }").err();
        let Some(err) = err else { panic!("no error") };
        assert_eq!(err.pos.line, 3);
        assert!(!err.message.contains("hunter2"));
    }
}
