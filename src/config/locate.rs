//! Turns toml's byte spans into what an operator can act on: a dotted key, or a line and
//! column.

use std::ops::Range;
use toml::de::{DeTable, DeValue};

/// The dotted key (`sync.debounce`) whose name or value covers byte `pos` of `text`, the
/// deepest one when tables nest. `None` when the text does not parse or nothing covers it.
pub(super) fn key_at(text: &str, pos: usize) -> Option<String> {
    let doc = DeTable::parse(text).ok()?;
    let mut best: Option<(usize, usize, String)> = None; // (depth, span length, key)
    walk(doc.get_ref(), &mut Vec::new(), pos, &mut best);
    best.map(|(_, _, k)| k)
}

fn walk<'a>(
    table: &'a DeTable<'a>,
    path: &mut Vec<&'a str>,
    pos: usize,
    best: &mut Option<(usize, usize, String)>,
) {
    for (key, value) in table.iter() {
        path.push(key.get_ref().as_ref());
        consider(key.span(), path, pos, best);
        consider(value.span(), path, pos, best);
        match value.get_ref() {
            DeValue::Table(t) => walk(t, path, pos, best),
            DeValue::Array(items) => {
                for item in items.iter() {
                    if let DeValue::Table(t) = item.get_ref() {
                        walk(t, path, pos, best);
                    }
                }
            }
            _ => {}
        }
        path.pop();
    }
}

fn consider(
    span: Range<usize>,
    path: &[&str],
    pos: usize,
    best: &mut Option<(usize, usize, String)>,
) {
    let covers = span.start <= pos && (pos < span.end || (span.is_empty() && pos == span.start));
    if !covers {
        return;
    }
    let cand = (path.len(), span.len());
    let better = match best {
        None => true,
        Some((depth, len, _)) => cand.0 > *depth || (cand.0 == *depth && cand.1 < *len),
    };
    if better {
        *best = Some((cand.0, cand.1, path.join(".")));
    }
}

/// 1-based line and column of byte `pos`.
pub(super) fn line_col(text: &str, pos: usize) -> (usize, usize) {
    let pos = pos.min(text.len());
    let before = &text[..floor_char_boundary(text, pos)];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

fn floor_char_boundary(text: &str, mut pos: usize) -> usize {
    while pos > 0 && !text.is_char_boundary(pos) {
        pos -= 1;
    }
    pos
}
