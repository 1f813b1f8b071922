//! A small format-neutral document tree with positions. JSON, YAML and
//! evaluated HCL are all turned into it, so one extractor reads task
//! definitions from every format.
//!
//! Deliberately no `Debug`: strings in the tree may be secrets.

use ecsguard_core::Reference;

/// A 1-based position. `file` indexes the list of files the unit being read
/// has opened (0 for the file itself), since one Terraform expression can pull
/// in nodes from several files.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Pos {
    pub line: u32,
    pub column: u32,
    pub file: u32,
}

impl std::fmt::Debug for Pos {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum StrStyle {
    /// On one line: JSON strings, plain and quoted YAML scalars.
    Inline,
    /// A YAML literal block scalar (`|`), positioned at its first content
    /// line: its lines are the file's lines.
    Block,
    /// A YAML folded block scalar (`>`): its lines are joined, so positions
    /// inside it cannot be mapped back line by line.
    Folded,
}

#[derive(Clone)]
pub enum Kind {
    Null,
    Bool(bool),
    Number(String),
    Str(String, StrStyle),
    Seq(Vec<Node>),
    Map(Vec<(Key, Node)>),
    /// A YAML tag such as `!Ref`, kept with the node it applies to.
    Tagged(String, Box<Node>),
    /// A symbolic value from an evaluated HCL expression.
    Ref(Reference),
    /// A string from an HCL template with unknown parts, kept as `${…}` placeholders.
    Template(String),
}

/// A byte range in the text a node was parsed from (the file `pos.file`
/// names, or for JSON embedded in a string, that string's decoded text).
/// Empty when the node was not read from text (an evaluated value).
#[derive(Clone, Copy, PartialEq, Eq, Default, Debug)]
pub struct ByteSpan {
    pub start: u32,
    pub end: u32,
}

impl ByteSpan {
    pub fn new(start: usize, end: usize) -> Self {
        Self {
            start: u32::try_from(start).unwrap_or(u32::MAX),
            end: u32::try_from(end).unwrap_or(u32::MAX),
        }
    }

    pub fn is_empty(self) -> bool {
        self.end <= self.start
    }

    pub fn contains(self, other: ByteSpan) -> bool {
        !self.is_empty() && self.start <= other.start && other.end <= self.end
    }
}

#[derive(Clone)]
pub struct Key {
    pub text: String,
    pub pos: Pos,
}

#[derive(Clone)]
pub struct Node {
    pub kind: Kind,
    pub pos: Pos,
    pub span: ByteSpan,
}

impl Node {
    pub fn new(kind: Kind, pos: Pos) -> Self {
        Self {
            kind,
            pos,
            span: ByteSpan::default(),
        }
    }

    pub fn with_span(mut self, span: ByteSpan) -> Self {
        self.span = span;
        self
    }

    /// The value under `key`, compared case-insensitively (task-definition JSON
    /// says `environment`, CloudFormation says `Environment`).
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.get_entry(key).map(|(_, v)| v)
    }

    /// With duplicate keys, the last one wins, as in every JSON reader AWS
    /// uses (and Terraform's object constructors).
    pub fn get_entry(&self, key: &str) -> Option<(&Key, &Node)> {
        match &self.kind {
            Kind::Map(entries) => entries
                .iter()
                .rev()
                .find(|(k, _)| k.text.eq_ignore_ascii_case(key))
                .map(|(k, v)| (k, v)),
            _ => None,
        }
    }

    /// The value under exactly `key` (case-sensitive), for formats where case
    /// matters; the last of duplicate keys.
    pub fn get_exact(&self, key: &str) -> Option<&Node> {
        match &self.kind {
            Kind::Map(entries) => entries
                .iter()
                .rev()
                .find(|(k, _)| k.text == key)
                .map(|(_, v)| v),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            Kind::Str(s, _) => Some(s),
            _ => None,
        }
    }

    /// A scalar's text: strings, numbers and booleans.
    pub fn scalar_text(&self) -> Option<String> {
        match &self.kind {
            Kind::Str(s, _) => Some(s.clone()),
            Kind::Number(n) => Some(n.clone()),
            Kind::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }

    pub fn as_seq(&self) -> Option<&[Node]> {
        match &self.kind {
            Kind::Seq(items) => Some(items),
            _ => None,
        }
    }

    pub fn entries(&self) -> &[(Key, Node)] {
        match &self.kind {
            Kind::Map(entries) => entries,
            _ => &[],
        }
    }

    pub fn is_map(&self) -> bool {
        matches!(self.kind, Kind::Map(_))
    }

    /// Moves every span `by` bytes: for JSON parsed out of a larger text
    /// (a heredoc's body) whose offsets should be the file's.
    pub fn shift_spans(&mut self, by: u32) {
        if !self.span.is_empty() {
            self.span.start = self.span.start.saturating_add(by);
            self.span.end = self.span.end.saturating_add(by);
        }
        match &mut self.kind {
            Kind::Seq(items) => items.iter_mut().for_each(|n| n.shift_spans(by)),
            Kind::Map(entries) => entries.iter_mut().for_each(|(_, v)| v.shift_spans(by)),
            Kind::Tagged(_, inner) => inner.shift_spans(by),
            _ => {}
        }
    }

    /// Moves every position with `f`.
    pub fn relocate(&mut self, f: &impl Fn(Pos) -> Pos) {
        self.pos = f(self.pos);
        match &mut self.kind {
            Kind::Seq(items) => items.iter_mut().for_each(|n| n.relocate(f)),
            Kind::Map(entries) => entries.iter_mut().for_each(|(k, v)| {
                k.pos = f(k.pos);
                v.relocate(f);
            }),
            Kind::Tagged(_, inner) => inner.relocate(f),
            _ => {}
        }
    }
}

/// Maps byte offsets to 1-based lines and columns. A line ends at `\n`,
/// `\r\n` or a lone `\r`. Columns count characters; lookups cost time in
/// proportion to the distance from the previous lookup, so a document read
/// in order (the common case) costs linear time even when it is one long line
/// (`terraform show -json` writes one).
pub struct LineIndex {
    starts: Vec<usize>,
    /// Whether each line is pure ASCII (its columns are byte offsets).
    ascii: Vec<bool>,
    /// The last lookup: line, byte offset and its column.
    last: std::cell::Cell<(usize, usize, usize)>,
}

impl LineIndex {
    pub fn new(text: &str) -> Self {
        let bytes = text.as_bytes();
        let mut starts = vec![0];
        for i in memchr::memchr2_iter(b'\n', b'\r', bytes) {
            if bytes[i] == b'\r' && bytes.get(i + 1) == Some(&b'\n') {
                continue;
            }
            starts.push(i + 1);
        }
        let ascii = starts
            .iter()
            .enumerate()
            .map(|(l, &s)| {
                let e = starts.get(l + 1).copied().unwrap_or(bytes.len());
                bytes.get(s..e).is_some_and(<[u8]>::is_ascii)
            })
            .collect();
        Self {
            starts,
            ascii,
            last: std::cell::Cell::new((0, 0, 0)),
        }
    }

    pub fn pos(&self, text: &str, offset: usize) -> Pos {
        let offset = offset.min(text.len());
        let (last_line, last_offset, last_column) = self.last.get();
        let in_line = |l: usize| {
            self.starts[l] <= offset && self.starts.get(l + 1).is_none_or(|&next| offset < next)
        };
        let line = if in_line(last_line) {
            last_line
        } else if last_line + 1 < self.starts.len() && in_line(last_line + 1) {
            last_line + 1
        } else {
            self.starts
                .partition_point(|&s| s <= offset)
                .saturating_sub(1)
        };
        let start = self.starts[line];
        let column = if self.ascii[line] {
            offset - start
        } else {
            // Count characters from the previous lookup when it is earlier on this line.
            let (from, base) = if line == last_line && last_offset >= start && last_offset <= offset
            {
                (last_offset, last_column)
            } else {
                (start, 0)
            };
            base + text
                .get(from..offset)
                .map_or(offset - from, |s| s.chars().count())
        };
        self.last.set((line, offset, column));
        Pos {
            line: u32::try_from(line + 1).unwrap_or(u32::MAX),
            column: u32::try_from(column + 1).unwrap_or(u32::MAX),
            file: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_end_at_lf_crlf_and_lone_cr() {
        let text = "a\rb\r\nc\nd";
        let index = LineIndex::new(text);
        let at = |o: usize| {
            let p = index.pos(text, o);
            (p.line, p.column)
        };
        assert_eq!(at(2), (2, 1));
        assert_eq!(at(5), (3, 1));
        assert_eq!(at(7), (4, 1));
    }

    #[test]
    fn columns_count_characters_in_any_order() {
        let text = "é\"x\": \"é\", \"y\": 1";
        let index = LineIndex::new(text);
        let y = text.find("\"y").unwrap_or_default();
        let x = text.find("\"x").unwrap_or_default();
        assert_eq!(index.pos(text, y).column, 12);
        assert_eq!(index.pos(text, x).column, 2);
        assert_eq!(index.pos(text, y).column, 12);
    }
}
