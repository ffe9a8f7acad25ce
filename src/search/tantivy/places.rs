//! Where a passage is in its segment (file, line, column), the order of equal scores: read
//! from fast fields, each segment's columns opened once per searcher.

use std::collections::HashMap;
use std::sync::Mutex;

use anyhow::Result;
use tantivy::columnar::{Column, ColumnType};

use super::columns::{Strings, U64Column};
use crate::store::index::Fields;

/// A candidate's place in its segment: the order of equal scores, read from fast fields.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Place {
    /// The file's ordinal in the segment's dictionary of sources (the order of their names).
    pub(super) source: u64,
    pub(super) line: u64,
    pub(super) column: Option<u64>,
    pub(super) doc: u32,
}

/// The fast fields that place a passage in its segment (see [`columns`] for why they are not
/// opened by Tantivy).
#[derive(Clone)]
pub(super) struct Places {
    source: Option<Strings>,
    line: U64Column,
    column: U64Column,
}

impl Places {
    fn new(reader: &tantivy::SegmentReader, f: &Fields) -> Result<Places> {
        let ff = reader.fast_fields();
        let schema = reader.schema();
        let u64_column = |field| -> Result<U64Column> {
            Ok(
                match ff.dynamic_column_handle(schema.get_field_name(field), ColumnType::U64)? {
                    Some(h) => U64Column::open(&h)?,
                    None => U64Column::Tantivy(Column::build_empty_column(reader.max_doc())),
                },
            )
        };
        let source = ff.dynamic_column_handle(schema.get_field_name(f.source), ColumnType::Str)?;
        Ok(Places {
            source: source.map(|h| Strings::open(&h)).transpose()?,
            line: u64_column(f.line_start)?,
            column: u64_column(f.column_start)?,
        })
    }

    pub(super) fn of(&mut self, doc: u32) -> Place {
        Place {
            source: self
                .source
                .as_mut()
                .and_then(|s| s.ords.first(doc))
                .unwrap_or(0),
            line: self.line.first(doc).unwrap_or(0),
            column: self.column.first(doc),
            doc,
        }
    }

    /// The names of the ordinals `sorted` (ascending, distinct), in one pass over the
    /// dictionary: looked up one by one, each decoded its dictionary block from the start
    /// (a search for `"床前明月光"` on the ×10 index named 613 files for 20 M instructions).
    /// An ordinal past the dictionary's end (a damaged index) gets an empty name, as in
    /// [`Places::name`].
    pub(super) fn names(&self, sorted: &[u64]) -> Result<Vec<String>> {
        let mut out = Vec::with_capacity(sorted.len());
        if let Some(s) = &self.source {
            s.dictionary.sorted_ords_to_term_cb(sorted, |b| {
                out.push(String::from_utf8_lossy(b).into_owned());
            })?;
        }
        out.resize(sorted.len(), String::new());
        Ok(out)
    }

    pub(super) fn name(&self, ord: u64) -> Result<String> {
        let mut bytes = Vec::new();
        if let Some(s) = &self.source
            && !s.dictionary.ord_to_term(ord, &mut bytes)?
        {
            bytes.clear();
        }
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }
}

/// Each segment's [`Places`], opened once per searcher: a long-lived process keeps the block
/// headers read (see [`columns`](super::columns)).
pub(super) struct PlaceCache {
    pub(super) fields: Fields,
    pub(super) open: Mutex<HashMap<tantivy::index::SegmentId, Places>>,
}

impl PlaceCache {
    pub(super) fn of(&self, reader: &tantivy::SegmentReader) -> Result<Places> {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(p) = open.get(&reader.segment_id()) {
            return Ok(p.clone());
        }
        let p = Places::new(reader, &self.fields)?;
        open.insert(reader.segment_id(), p.clone());
        Ok(p)
    }
}
