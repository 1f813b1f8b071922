//! YAML to [`Node`], keeping tags (`!Ref`, `!Sub` …) and positions. Built on
//! saphyr's event parser so that nothing of the source is lost or retyped.

use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScalarStyle, Span, Tag};

use crate::json::SyntaxError;
use crate::tree::{ByteSpan, Key, Kind, Node, Pos, StrStyle};

/// Deepest nesting accepted, so hostile input cannot exhaust the stack.
const MAX_DEPTH: usize = 256;

/// Most nodes a document may expand to once aliases are copied in. Far above
/// any real template; a "billion laughs" document reaches it after a few
/// levels and is refused instead of filling memory.
const MAX_NODES: usize = 1_000_000;

/// Parses every document in the stream.
pub fn parse(text: &str) -> Result<Vec<Node>, SyntaxError> {
    parse_with_aliases(text).map(|(docs, _)| docs)
}

/// Parses every document in the stream, and gives the spans of the
/// anchored nodes that an alias (or a merge key) copies elsewhere: an edit
/// inside one changes every place that reads it.
pub fn parse_with_aliases(text: &str) -> Result<(Vec<Node>, Vec<ByteSpan>), SyntaxError> {
    let mut builder = Builder {
        stack: Vec::new(),
        anchors: HashMap::new(),
        aliased: Vec::new(),
        docs: Vec::new(),
        nodes: 0,
        offsets: Offsets::new(text),
    };
    for event in Parser::new_from_str(text) {
        let (event, span) = event.map_err(|e| SyntaxError {
            pos: Pos {
                line: u32::try_from(e.marker().line()).unwrap_or(u32::MAX),
                column: u32::try_from(e.marker().col() + 1).unwrap_or(u32::MAX),
                file: 0,
            },
            message: format!("invalid YAML: {}", e.info()),
        })?;
        builder.event(event, span)?;
    }
    Ok((builder.docs, builder.aliased))
}

/// saphyr counts characters; spans are bytes. Lookups come in document
/// order, so a cursor makes them linear overall.
struct Offsets<'t> {
    text: &'t str,
    ascii: bool,
    /// The last lookup: character index and its byte offset.
    cursor: (usize, usize),
}

impl<'t> Offsets<'t> {
    fn new(text: &'t str) -> Self {
        Self {
            text,
            ascii: text.is_ascii(),
            cursor: (0, 0),
        }
    }

    fn byte(&mut self, char_index: usize) -> usize {
        if self.ascii {
            return char_index.min(self.text.len());
        }
        let (mut c, mut b) = self.cursor;
        if char_index < c {
            (c, b) = (0, 0);
        }
        for ch in self.text[b..].chars() {
            if c == char_index {
                break;
            }
            b += ch.len_utf8();
            c += 1;
        }
        self.cursor = (c, b);
        b
    }
}

fn pos(span: &Span) -> Pos {
    Pos {
        line: u32::try_from(span.start.line()).unwrap_or(u32::MAX),
        column: u32::try_from(span.start.col() + 1).unwrap_or(u32::MAX),
        file: 0,
    }
}

enum Frame {
    Seq {
        anchor: usize,
        tag: Option<String>,
        pos: Pos,
        start: usize,
        items: Vec<Node>,
        size: usize,
    },
    Map {
        anchor: usize,
        tag: Option<String>,
        pos: Pos,
        entries: Vec<(Key, Node)>,
        pending_key: Option<Key>,
        start: usize,
        size: usize,
    },
}

struct Builder<'t> {
    stack: Vec<Frame>,
    /// Anchored nodes, with the number of nodes each holds.
    anchors: HashMap<usize, (Node, usize)>,
    /// The spans of anchored nodes read through an alias.
    aliased: Vec<ByteSpan>,
    docs: Vec<Node>,
    /// Nodes built so far, aliases counted at their full size.
    nodes: usize,
    offsets: Offsets<'t>,
}

/// Local tags (`!Ref`) are kept; core-schema tags (`!!str`) say nothing we need.
fn local_tag(tag: Option<std::borrow::Cow<'_, Tag>>) -> Option<String> {
    let tag = tag?;
    (tag.handle == "!").then(|| format!("!{}", tag.suffix))
}

fn wrap(node: Node, tag: Option<String>) -> Node {
    match tag {
        Some(t) => {
            let (pos, span) = (node.pos, node.span);
            Node::new(Kind::Tagged(t, Box::new(node)), pos).with_span(span)
        }
        None => node,
    }
}

impl Builder<'_> {
    fn event(&mut self, event: Event<'_>, span: Span) -> Result<(), SyntaxError> {
        match event {
            Event::Scalar(value, style, anchor, tag) => {
                let style = match style {
                    ScalarStyle::Literal => StrStyle::Block,
                    ScalarStyle::Folded => StrStyle::Folded,
                    _ => StrStyle::Inline,
                };
                let bytes = ByteSpan::new(
                    self.offsets.byte(span.start.index()),
                    self.offsets.byte(span.end.index()),
                );
                let node = wrap(
                    Node::new(Kind::Str(value.into_owned(), style), pos(&span)).with_span(bytes),
                    local_tag(tag),
                );
                self.nodes += 1;
                self.value(node, anchor, 1, &span)?;
            }
            Event::Alias(id) => {
                let (node, size) = self
                    .anchors
                    .get(&id)
                    .cloned()
                    .unwrap_or_else(|| (Node::new(Kind::Null, pos(&span)), 1));
                if !node.span.is_empty() {
                    self.aliased.push(node.span);
                }
                self.nodes = self.nodes.saturating_add(size);
                self.value(node, 0, size, &span)?;
            }
            Event::SequenceStart(anchor, tag) => {
                let start = self.offsets.byte(span.start.index());
                self.push(Frame::Seq {
                    anchor,
                    tag: local_tag(tag),
                    pos: pos(&span),
                    start,
                    items: Vec::new(),
                    size: 1,
                })?;
            }
            Event::MappingStart(anchor, tag) => {
                let start = self.offsets.byte(span.start.index());
                self.push(Frame::Map {
                    anchor,
                    tag: local_tag(tag),
                    pos: pos(&span),
                    entries: Vec::new(),
                    pending_key: None,
                    start,
                    size: 1,
                })?;
            }
            Event::SequenceEnd | Event::MappingEnd => {
                if let Some(frame) = self.stack.pop() {
                    let end = self.offsets.byte(span.end.index());
                    let (node, anchor, size) = match frame {
                        Frame::Seq {
                            anchor,
                            tag,
                            pos,
                            start,
                            items,
                            size,
                        } => (
                            wrap(
                                Node::new(Kind::Seq(items), pos)
                                    .with_span(ByteSpan::new(start, end)),
                                tag,
                            ),
                            anchor,
                            size,
                        ),
                        Frame::Map {
                            anchor,
                            tag,
                            pos,
                            start,
                            entries,
                            size,
                            ..
                        } => (
                            wrap(
                                Node::new(Kind::Map(merge_keys(entries)), pos)
                                    .with_span(ByteSpan::new(start, end)),
                                tag,
                            ),
                            anchor,
                            size,
                        ),
                    };
                    self.value(node, anchor, size, &span)?;
                }
            }
            Event::StreamStart
            | Event::StreamEnd
            | Event::DocumentStart(_)
            | Event::DocumentEnd
            | Event::Nothing => {}
        }
        Ok(())
    }

    fn push(&mut self, frame: Frame) -> Result<(), SyntaxError> {
        self.nodes += 1;
        if self.stack.len() >= MAX_DEPTH {
            let pos = match &frame {
                Frame::Seq { pos, .. } | Frame::Map { pos, .. } => *pos,
            };
            return Err(SyntaxError {
                pos,
                message: format!("YAML nested deeper than {MAX_DEPTH} levels"),
            });
        }
        self.stack.push(frame);
        Ok(())
    }

    /// Adds a finished node of `size` nodes (already counted in `nodes`) to its parent.
    fn value(
        &mut self,
        node: Node,
        anchor: usize,
        size: usize,
        span: &Span,
    ) -> Result<(), SyntaxError> {
        if self.nodes > MAX_NODES {
            return Err(SyntaxError {
                pos: pos(span),
                message: format!(
                    "YAML aliases expand to more than {MAX_NODES} nodes; not scanned (a \"billion laughs\" document?)"
                ),
            });
        }
        if anchor != 0 {
            self.anchors.insert(anchor, (node.clone(), size));
        }
        match self.stack.last_mut() {
            None => self.docs.push(node),
            Some(Frame::Seq { items, size: s, .. }) => {
                *s += size;
                items.push(node);
            }
            Some(Frame::Map {
                entries,
                pending_key,
                size: s,
                ..
            }) => {
                *s += size;
                match pending_key.take() {
                    None => {
                        let pos = node.pos;
                        let text = match node.kind {
                            Kind::Str(s, _) => s,
                            Kind::Tagged(_, inner) => inner.as_str().unwrap_or_default().to_owned(),
                            _ => String::new(),
                        };
                        *pending_key = Some(Key { text, pos });
                    }
                    Some(key) => entries.push((key, node)),
                }
            }
        }
        Ok(())
    }
}

/// Applies YAML merge keys (`<<: *defaults`): entries given directly win.
fn merge_keys(entries: Vec<(Key, Node)>) -> Vec<(Key, Node)> {
    if !entries.iter().any(|(k, _)| k.text == "<<") {
        return entries;
    }
    let mut out: Vec<(Key, Node)> = Vec::new();
    let mut merged: Vec<(Key, Node)> = Vec::new();
    for (k, v) in entries {
        if k.text == "<<" {
            let sources: Vec<Node> = match v.kind {
                Kind::Seq(items) => items,
                _ => vec![v],
            };
            for s in sources {
                if let Kind::Map(e) = s.kind {
                    merged.extend(e);
                }
            }
        } else {
            out.push((k, v));
        }
    }
    for (k, v) in merged {
        if !out.iter().any(|(o, _)| o.text == k.text) {
            out.push((k, v));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_tags_and_lines() {
        let docs = parse("a:\n  b: !Ref Foo\n  c: [1, !Sub 'x']\n").unwrap_or_default();
        let a = docs[0].get("a").unwrap_or_else(|| panic!("a"));
        let b = a.get("b").unwrap_or_else(|| panic!("b"));
        assert!(
            matches!(&b.kind, Kind::Tagged(t, inner) if t == "!Ref" && inner.as_str() == Some("Foo"))
        );
        assert_eq!(b.pos.line, 2);
        let (key, _) = a.get_entry("c").unwrap_or_else(|| panic!("c"));
        assert_eq!((key.pos.line, key.pos.column), (3, 3));
    }

    #[test]
    fn resolves_aliases_and_merge_keys() {
        let docs = parse("x: &env\n  A: '1'\ny:\n  <<: *env\n  B: '2'\n").unwrap_or_default();
        let y = docs[0].get("y").unwrap_or_else(|| panic!("y"));
        assert_eq!(y.get("A").and_then(Node::as_str), Some("1"));
        assert_eq!(y.get("B").and_then(Node::as_str), Some("2"));
    }

    #[test]
    fn alias_expansion_is_bounded() {
        let mut doc = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..12 {
            let p = i - 1;
            doc.push_str(&format!(
                "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
            ));
        }
        let err = parse(&doc).err();
        assert!(
            err.as_ref()
                .is_some_and(|e| e.message.contains("aliases expand")),
            "{:?}",
            err.map(|e| e.message)
        );
    }

    #[test]
    fn errors_name_the_line() {
        let err = parse("a: 1\nb: [unclosed\nc: 3\n").err();
        assert!(err.is_some_and(|e| e.pos.line >= 2));
    }
}
