//! Chroma's collections into AICO's pgvector tables: the segments (`conversation_segments`) and
//! the knowledge graph's vectors (`kg_nodes` -> `kg_node_embeddings`, `kg_edges` ->
//! `kg_edge_embeddings`). Each record becomes one row, its vector bit for bit as `f32`; the width
//! of the source's vectors is checked against the target column's before anything is written.
//!
//! The source is read from a private copy of AICO's store ([`crate::chroma::Reader`]), or from a
//! server at a URL; the rows are written and compared as the tables' rows are
//! ([`super::write::write_batch`]).

use std::collections::HashSet;

use serde::Serialize;
use serde_json::Value;

use super::MoveOptions;
use super::checks::{missing_table, qualified, rules_problem, unfilled, unsupported_type};
use super::convert::{Cell, Kind, SqlValue, convert};
use super::error::MoveError;
use super::mapping::Parent;
use super::pg::{Dest, TargetColumn};
use super::report::{Problem, TableMove};
use super::write::{Batch, Writes};
use crate::chroma::{Collection, Reader, Record};
use crate::sql::segments;

/// At most this many vectors a batch (a page of Chroma's, one transaction): each row is held as
/// read, as its cells and as the text of its vector, twice in flight (768-d: about 20 KiB a row),
/// so the memory a batch takes does not grow with the `--batch-size` the tables take (measured:
/// `aico-ams` peaked at 202 MiB on 50,000 segments read from the store's files).
const MAX_BATCH: usize = 1000;

/// Where a target column's value comes from in a Chroma record.
#[derive(Debug, Clone, Copy)]
pub enum Field {
    /// The record's id.
    Id,
    /// Its document.
    Document,
    /// Its vector.
    Embedding,
    /// The metadata's value under this key, as text.
    Meta(&'static str),
    /// The first of these metadata keys present, as an instant (NULL when none is).
    MetaTime(&'static [&'static str]),
    /// The whole metadata, as JSON.
    Metadata,
}

/// One collection the move carries.
#[derive(Debug, Clone, Copy)]
pub struct VectorMap {
    /// The collection in AICO's Chroma store.
    pub collection: &'static str,
    /// The table in `aico_core`.
    pub target: &'static str,
    /// The target's columns and where each comes from; the key first.
    pub fields: &'static [(&'static str, Field)],
    /// The row of a table moved before that the key names (a record without it is refused).
    pub parent: Option<Parent>,
}

/// The column holding the vector, in each target.
pub const EMBEDDING: &str = "embedding";

/// The collections, in order (the graph's vectors after the graph, whose rows they name).
/// Segments: user, conversation and role from the metadata (as AICO's `semantic.py` stores
/// them), `timestamp` from its `timestamp`, the whole metadata kept in `metadata`. Graph vectors:
/// the node or edge id, the document, `created_at` from the metadata.
pub const VECTORS: [VectorMap; 3] = [
    VectorMap {
        collection: "conversation_segments",
        target: "conversation_segments",
        fields: &[
            ("id", Field::Id),
            ("user_id", Field::Meta("user_id")),
            ("conversation_id", Field::Meta("conversation_id")),
            ("role", Field::Meta("role")),
            ("content", Field::Document),
            (EMBEDDING, Field::Embedding),
            ("timestamp", Field::MetaTime(&["timestamp", "created_at"])),
            ("metadata", Field::Metadata),
            ("created_at", Field::MetaTime(&["created_at", "timestamp"])),
        ],
        parent: None,
    },
    VectorMap {
        collection: "kg_nodes",
        target: "kg_node_embeddings",
        fields: &[
            ("node_id", Field::Id),
            (EMBEDDING, Field::Embedding),
            ("document", Field::Document),
            ("created_at", Field::MetaTime(&["created_at"])),
            ("updated_at", Field::MetaTime(&["updated_at", "created_at"])),
        ],
        parent: Some(Parent { column: "node_id", table: "kg_nodes", key: "id" }),
    },
    VectorMap {
        collection: "kg_edges",
        target: "kg_edge_embeddings",
        fields: &[
            ("edge_id", Field::Id),
            (EMBEDDING, Field::Embedding),
            ("document", Field::Document),
            ("created_at", Field::MetaTime(&["created_at"])),
            ("updated_at", Field::MetaTime(&["updated_at", "created_at"])),
        ],
        parent: Some(Parent { column: "edge_id", table: "kg_edges", key: "id" }),
    },
];

/// The width check of one collection: its vectors' against the target column's.
#[derive(Clone, Debug, Serialize)]
pub struct WidthCheck {
    /// The collection.
    pub collection: String,
    /// The column, `aico_core.<table>.embedding`.
    pub column: String,
    /// The width of the source's vectors (None: the collection holds none).
    pub source: Option<u64>,
    /// The target column's (None: a `vector` without a width, which takes any).
    pub target: Option<u64>,
    /// Whether the move may write them.
    pub ok: bool,
}

/// One collection, checked: its records' count, the target columns written.
pub struct PreparedVectors {
    /// The mapping.
    pub map: VectorMap,
    /// The collection, when the source has it.
    pub chroma: Option<Collection>,
    /// The target columns written, in the order of `map.fields`.
    pub columns: Vec<TargetColumn>,
    /// Records in the collection.
    pub in_source: u64,
    /// The width check, when there was one.
    pub width: Option<WidthCheck>,
    /// What stops the move.
    pub problems: Vec<Problem>,
}

impl PreparedVectors {
    /// This collection's report before anything of it is moved.
    pub fn nothing_moved(&self) -> TableMove {
        let source = self.chroma.as_ref().map(|_| format!("Chroma {}", self.map.collection));
        let columns = self.columns.iter().map(|c| c.name.clone()).collect();
        TableMove::nothing_yet(source, self.map.target, columns, self.in_source)
    }
}

/// Check `map` against the collection (if `reader` has it) and the target's live catalog: the
/// table and every column written exist, no other `NOT NULL` column lacks a default, and the
/// vectors' width is the target column's.
pub async fn prepare(reader: &Reader, dest: &Dest, map: VectorMap) -> Result<PreparedVectors, MoveError> {
    let chroma = reader.collection(map.collection).await?;
    let in_source = match &chroma {
        Some(c) => c.count().await?,
        None => 0,
    };
    let mut p = PreparedVectors { map, chroma, columns: Vec::new(), in_source, width: None, problems: Vec::new() };
    let target = qualified(map.target);
    let problem = |column: Option<&str>, message: String| Problem {
        table: target.clone(),
        column: column.map(str::to_owned),
        message,
    };
    let Some(live) = dest.columns(map.target).await? else {
        if p.in_source > 0 {
            p.problems.push(problem(None, missing_table(&target)));
        }
        return Ok(p);
    };
    if p.in_source > 0
        && let Some(message) = rules_problem(dest, map.target, &target).await?
    {
        p.problems.push(problem(None, message));
    }
    for (name, _) in map.fields {
        match live.iter().find(|c| c.name == *name) {
            Some(c) => p.columns.push(c.clone()),
            None => p.problems.push(problem(
                Some(name),
                format!("{target} has no column {name}: has the target drifted from AICO's schema?"),
            )),
        }
    }
    let mapped = |name: &str| map.fields.iter().any(|(field, _)| *field == name);
    for c in unfilled(&live, mapped) {
        let message =
            format!("{target}.{} is NOT NULL without a default, and Chroma's records have nothing to fill it", c.name);
        p.problems.push(problem(Some(&c.name), message));
    }
    for c in live.iter().filter(|c| mapped(&c.name)) {
        if let Kind::Unsupported(ty) = &c.kind {
            p.problems.push(problem(Some(&c.name), unsupported_type(&target, &c.name, ty)));
        }
    }
    let Some(chroma) = &p.chroma else { return Ok(p) };
    let source = match chroma.dimension() {
        Some(width) => Some(width),
        None if p.in_source > 0 => {
            chroma.records(0, 1).await?.first().and_then(|r| r.embedding.as_ref()).map(|v| v.len() as u64)
        }
        None => None,
    };
    let Some(column) = live.iter().find(|c| c.name == EMBEDDING) else { return Ok(p) };
    let target_width = match column.kind {
        Kind::Vector(width) => width.map(|w| w as u64),
        _ => {
            p.problems.push(problem(
                Some(EMBEDDING),
                format!("{target}.{EMBEDDING} is {}, not a pgvector vector", column.shown),
            ));
            return Ok(p);
        }
    };
    let ok = !matches!((source, target_width), (Some(s), Some(t)) if s != t);
    if !ok {
        p.problems.push(problem(
            Some(EMBEDDING),
            format!(
                "{target}.{EMBEDDING} is {} ({} dimensions), but Chroma's {} holds vectors of {} dimensions: \
                 nothing was written (the target must take the source's width)",
                column.shown,
                target_width.unwrap_or_default(),
                map.collection,
                source.unwrap_or_default()
            ),
        ));
    }
    p.width = Some(WidthCheck {
        collection: map.collection.to_owned(),
        column: format!("{target}.{EMBEDDING}"),
        source,
        target: target_width,
        ok,
    });
    Ok(p)
}

/// Move (or, on a dry run, plan) one prepared collection in batches (`opts`);
/// `parents` holds the keys the parent table has (in the target, and moved by this run).
pub async fn move_collection(
    dest: &Dest,
    p: &PreparedVectors,
    opts: MoveOptions<'_>,
    parents: &HashSet<String>,
) -> Result<TableMove, MoveError> {
    let mut t = p.nothing_moved();
    let Some(chroma) = &p.chroma else { return Ok(t) };
    // Many segments into AICO's HNSW index: it is set aside and built once at the end, as the
    // segments backfill does (a row inserted with it in place costs several times more).
    let (into, held) =
        Batch::for_target(dest, p.map.target, vec![p.map.fields[0].0], p.columns.clone(), opts.dry_run).await?;
    let aside = match (p.map.target == segments::TABLE, held) {
        (true, Some(held)) => {
            let db = dest.as_db();
            // At most this many rows are new (fewer when the target held others before): a rerun
            // that writes nothing leaves the index alone.
            let new = p.in_source.saturating_sub(held);
            let worth = new >= segments::PARK_MIN_ROWS && new.saturating_mul(segments::PARK_ONE_IN) >= held + new;
            Some((segments::set_aside_for(&db, worth).await.map_err(|e| dest.index_error(e))?, db))
        }
        _ => None,
    };
    let batch = opts.batch_size.clamp(1, MAX_BATCH) as u64;
    let (mut writes, mut written) = (Writes::new(dest, into), HashSet::new());
    let mut offset = 0;
    loop {
        let records = chroma.records(offset, batch).await?;
        if records.is_empty() {
            break;
        }
        offset += records.len() as u64;
        let mut ready = Vec::with_capacity(records.len());
        for record in &records {
            match convert_record(p, record, parents) {
                Ok(cells) => ready.push((record.id.clone(), cells)),
                Err(reason) => t.refused.add(record.id.clone(), reason),
            }
        }
        let n = records.len() as u64;
        writes.push(ready, HashSet::new(), n, &mut t, &mut written, opts.progress).await?;
    }
    writes.finish(&mut t, &mut written, opts.progress).await?;
    if let Some((aside, db)) = aside {
        let seconds = segments::put_back(&db, &aside).await.map_err(|e| dest.index_error(e))?;
        tracing::info!(plan = ?aside.plan, seconds, "AICO's index on conversation_segments");
        (t.indexes, t.index_seconds) = (aside.plan, seconds);
    }
    Ok(t)
}

/// A record as its row's cells, in the order of `p.columns`; or why it cannot go.
fn convert_record(p: &PreparedVectors, record: &Record, parents: &HashSet<String>) -> Result<Vec<Cell>, String> {
    let target = qualified(p.map.target);
    let mut cells = Vec::with_capacity(p.columns.len());
    for ((name, field), column) in p.map.fields.iter().zip(&p.columns) {
        let cell = match field {
            Field::Id => convert("id", &SqlValue::Text(record.id.clone()), &column.kind)?,
            Field::Document => match &record.document {
                Some(d) => convert("document", &SqlValue::Text(d.clone()), &column.kind)?,
                None => Cell::Null,
            },
            Field::Meta(key) => match record.metadata.get(*key) {
                None | Some(Value::Null) => Cell::Null,
                Some(Value::String(s)) => convert(key, &SqlValue::Text(s.clone()), &column.kind)?,
                Some(Value::Number(n)) => convert(key, &SqlValue::Text(n.to_string()), &column.kind)?,
                Some(other) => return Err(format!("the metadata's {key} is {other}, not text")),
            },
            Field::MetaTime(keys) => match keys.iter().find_map(|k| record.metadata.get(*k).map(|v| (k, v))) {
                None | Some((_, Value::Null)) => Cell::Null,
                Some((k, Value::String(s))) => convert(k, &SqlValue::Text(s.clone()), &column.kind)?,
                Some((k, other)) => return Err(format!("the metadata's {k} is {other}, not a timestamp")),
            },
            Field::Metadata => match column.kind {
                Kind::Json => Cell::Json(Value::Object(record.metadata.clone())),
                _ => Cell::Text(Value::Object(record.metadata.clone()).to_string()),
            },
            Field::Embedding => match (&record.embedding, &column.kind) {
                (None, _) => Cell::Null,
                (Some(v), Kind::Vector(Some(width))) if v.len() != *width => {
                    return Err(format!("its vector has {} dimensions, where {target}.{name} takes {width}", v.len()));
                }
                (Some(v), _) => Cell::Vector(v.clone()),
            },
        };
        if cell == Cell::Null && column.not_null {
            let from = match field {
                Field::Meta(key) => format!("the metadata has no {key}"),
                Field::MetaTime(keys) => format!("the metadata has none of {}", keys.join(", ")),
                _ => format!("it has no {name}"),
            };
            return Err(format!("{from}, and {target}.{name} takes no NULL"));
        }
        cells.push(cell);
    }
    if let Some(parent) = p.map.parent
        && let Some(Cell::Text(id)) = p.map.fields.iter().position(|(n, _)| *n == parent.column).map(|i| &cells[i])
        && !parents.contains(id)
    {
        return Err(format!("{} {id} is in neither the source nor {}", parent.column, qualified(parent.table)));
    }
    Ok(cells)
}
