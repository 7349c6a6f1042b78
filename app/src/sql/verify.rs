//! The SQL store's `verify`: every verification query of the seed, plus the checks the seed leaves
//! to the reader — valid metadata, the real query plan, and a live schema that matches the
//! migrations. One function per check; [`verify`] runs them in order.
//!
//! On AICO's own database the facts are `user_memories` (keyed by `fact_id`), the consolidation
//! state is AICO's per-user table, and the tables AICO made are checked against its own columns.

use entity::ModelColumn;
use migration::Migrator;
use migration::catalog::{self, Entry, FACT_METADATA, Layout};
use migration::runner;
use sea_orm::QueryResult;
use sea_orm::sea_query::ColumnType;

use super::reads;
use crate::error::AppError;
use crate::report::{Check, Status};
use crate::sql::Db;
use crate::sql::dialect::StoreDialect;

/// Keys every temporal metadata value must have (non-null).
const REQUIRED_KEYS: [&str; 6] =
    ["created_at", "last_updated", "last_accessed", "access_count", "confidence", "version"];

/// The migrations recorded as applied, and what each puts in this database.
struct Applied {
    names: Vec<String>,
    catalog: Vec<Entry>,
    /// Every migration's state, with its fingerprint check.
    states: Vec<runner::MigrationState>,
}

impl Applied {
    async fn of(db: &Db, layout: Layout) -> Result<Self, AppError> {
        let states = runner::status::<Migrator>(&db.conn, &db.target, &Default::default()).await?;
        Ok(Self {
            names: states.iter().filter(|m| m.applied_at.is_some()).map(|m| m.name.clone()).collect(),
            catalog: layout.catalog(),
            states,
        })
    }

    fn contains(&self, migration: &str) -> bool {
        self.names.iter().any(|a| a == migration)
    }

    /// Whether the migration of the first catalog entry that `owns` picks is applied; true when
    /// `owns` picks no entry (no migration claims the object).
    fn owner_applied(&self, owns: impl Fn(&Entry) -> bool) -> bool {
        self.catalog.iter().find(|e| owns(e)).is_none_or(|e| self.contains(e.migration))
    }
}

/// Run every check on `db`, whose facts follow `layout`, in order.
pub async fn verify(db: &Db, layout: Layout) -> Result<Vec<Check>, AppError> {
    let applied = Applied::of(db, layout).await?;
    let facts = layout.facts();
    let mut checks = vec![temporal_column(db, facts).await?];
    if checks[0].status == Status::Pass {
        checks.push(coverage(db, layout).await?);
        let json = layout.fact_metadata_json();
        checks.push(sample(db, facts, json).await);
        checks.push(valid_metadata(db, facts, json).await);
        checks.push(query_plan(db, layout).await?);
    }
    checks.extend(consolidation(db, layout, &applied).await?);
    for entry in &applied.catalog {
        checks.push(catalog_objects(db, &applied, entry).await?);
    }
    checks.push(drift(db, layout, &applied).await?);
    checks.push(fingerprints(&applied));
    Ok(checks)
}

/// The facts table and its key.
type Facts = (&'static str, &'static str);

/// The text of column `c` of `row`, `null` when NULL or unreadable.
fn text(row: &QueryResult, c: &str) -> String {
    row.try_get::<Option<String>>("", c).ok().flatten().unwrap_or_else(|| "null".into())
}

/// Seed: `PRAGMA table_info(semantic_facts)` — the column exists.
async fn temporal_column(db: &Db, (table, _): Facts) -> Result<Check, AppError> {
    let name = "temporal_metadata column";
    Ok(match reads::metadata_column(db, table).await? {
        Some(ty) => Check::new(name, Status::Pass, vec![format!("{table}.temporal_metadata ({ty})")]),
        None => Check::new(
            name,
            Status::Fail,
            vec![format!("{table} has no temporal_metadata column: run `aico-ams migrate`")],
        ),
    })
}

/// Seed: facts with temporal metadata; on AICO's PostgreSQL database also how many have an
/// instant without an offset ([`reads::facts_without_offset`]).
async fn coverage(db: &Db, layout: Layout) -> Result<Check, AppError> {
    let (table, _) = layout.facts();
    let c = reads::coverage(db, table).await?;
    let mut details = vec![format!("{} of {}", c.with_temporal, c.total)];
    if matches!(layout, Layout::AicoPostgres) {
        let naive = reads::facts_without_offset(db, layout).await?;
        details.push(format!("{naive} facts have a created_at or last_accessed without an offset"));
    }
    Ok(Check::new("facts with temporal metadata", Status::Pass, details))
}

/// Seed: sample temporal metadata (five facts); `json` reads the metadata as JSON.
async fn sample(db: &Db, (table, key): Facts, json: &str) -> Check {
    let d = db.dialect;
    // `table` (and `key`) are the catalog's names for the facts table (`Layout::facts`), never input.
    let sample = db
        .rows(&format!(
            "SELECT CAST({key} AS TEXT) AS id, {} AS created, CAST({} AS TEXT) AS confidence, \
             CAST({} AS TEXT) AS accesses FROM {table} WHERE {FACT_METADATA} IS NOT NULL ORDER BY {key} LIMIT 5",
            d.json_text(json, "created_at"),
            d.json_number(json, "confidence"),
            d.json_text(json, "access_count"),
        ))
        .await;
    let details = match sample {
        Ok(rows) => rows
            .iter()
            .map(|r| {
                format!(
                    "{}: created {}, confidence {}, accesses {}",
                    text(r, "id"),
                    text(r, "created"),
                    text(r, "confidence"),
                    text(r, "accesses")
                )
            })
            .collect(),
        Err(e) => vec![format!("cannot read samples: {e}")],
    };
    Check::new("sample temporal metadata", Status::Pass, details)
}

/// Every value is a JSON object with the required keys; `json` reads the metadata as JSON.
async fn valid_metadata(db: &Db, (table, key): Facts, json: &str) -> Check {
    let name = "temporal metadata is valid";
    // `table` (and `key`) are the catalog's names for the facts table (`Layout::facts`), never input.
    let bad = db
        .rows(&format!(
            "SELECT CAST({key} AS TEXT) AS id FROM {table} WHERE {} ORDER BY {key} LIMIT 11",
            db.dialect.json_object_lacking(json, &REQUIRED_KEYS)
        ))
        .await;
    match bad {
        Ok(rows) if rows.is_empty() => Check::new(
            name,
            Status::Pass,
            vec![format!("every value is a JSON object with {}", REQUIRED_KEYS.join(", "))],
        ),
        Ok(rows) => {
            let mut ids: Vec<String> = rows.iter().filter_map(|r| r.try_get::<String>("", "id").ok()).collect();
            let more = ids.len() > 10;
            ids.truncate(10);
            Check::new(
                name,
                Status::Fail,
                vec![format!(
                    "not a JSON object with {}: fact {}{}",
                    REQUIRED_KEYS.join(", "),
                    ids.join(", "),
                    if more { ", ..." } else { "" }
                )],
            )
        }
        Err(e) => Check::new(name, Status::Fail, vec![format!("cannot check: {e}")]),
    }
}

/// Seed: `EXPLAIN QUERY PLAN`. SQLite really says `SCAN ... USING INDEX` (the seed's `SEARCH` is wrong).
/// On AICO's PostgreSQL database the seed's query is asked as AICO's index reads it: through
/// AICO's functions, on the rows that have metadata (the index's predicate).
async fn query_plan(db: &Db, layout: Layout) -> Result<Check, AppError> {
    let d = db.dialect;
    let ((table, _), index) = (layout.facts(), layout.temporal_index());
    // `table` (and `key`) are the catalog's names for the facts table (`Layout::facts`), never input.
    let query = match layout {
        Layout::AicoPostgres => format!(
            "SELECT * FROM {table} WHERE {FACT_METADATA} IS NOT NULL \
             AND jsonb_extract_double_immutable({FACT_METADATA}, 'confidence') > 0.5 \
             ORDER BY jsonb_extract_timestamptz_immutable({FACT_METADATA}, 'last_accessed') DESC LIMIT 10"
        ),
        _ => format!(
            "SELECT * FROM {table} WHERE {} > 0.5 ORDER BY {} DESC LIMIT 10",
            d.json_number(FACT_METADATA, "confidence"),
            d.json_text(FACT_METADATA, "last_accessed")
        ),
    };
    let plan = d.query_plan(&db.conn, &query).await.map_err(|e| db.error(e))?;
    let uses = plan.iter().any(|l| l.contains(index));
    Ok(Check::pass_if(&format!("temporal query uses {index}"), uses, plan))
}

/// Seed: `consolidation_state` exists, and its latest state (skipped before Phase 2).
async fn consolidation(db: &Db, layout: Layout, applied: &Applied) -> Result<Vec<Check>, AppError> {
    let table = layout.consolidation_table();
    let present = "consolidation_state present";
    let phase2 = applied.catalog.iter().find(|e| e.tables.contains(&table));
    let Some(phase2) = phase2.filter(|e| applied.contains(e.migration)) else {
        let which = phase2.map_or("Phase 2", |e| e.migration);
        return Ok(vec![Check::new(present, Status::Skip, vec![format!("Phase 2 ({which}) is not applied")])]);
    };
    if !db.has_table(table).await? {
        return Ok(vec![Check::new(
            present,
            Status::Fail,
            vec![format!("{} is recorded as applied but the table is missing", phase2.migration)],
        )]);
    }
    let text = |v: &Option<String>| v.clone().unwrap_or_else(|| "null".into());
    let mut details: Vec<String> = reads::consolidation(db, layout, 1, reads::RunFigures::Status)
        .await?
        .iter()
        .map(|r| {
            format!(
                "{}: status {}, last run {}, updated {}",
                text(&r.id),
                text(&r.status),
                text(&r.last_run),
                text(&r.updated_at)
            )
        })
        .collect();
    if details.is_empty() {
        details.push("no consolidation has run yet".into());
    }
    Ok(vec![Check::new(present, Status::Pass, vec![]), Check::new("latest consolidation state", Status::Pass, details)])
}

/// One applied migration's tables and indexes exist.
async fn catalog_objects(db: &Db, applied: &Applied, entry: &Entry) -> Result<Check, AppError> {
    let name = format!("{} objects", entry.migration);
    if !applied.contains(entry.migration) {
        return Ok(Check::new(&name, Status::Skip, vec!["not applied".into()]));
    }
    let mut missing = Vec::new();
    for table in entry.tables {
        if !db.has_table(table).await? {
            missing.push(format!("table {table} is missing"));
        }
    }
    for (index, table) in entry.indexes {
        if !db.dialect.has_index(&db.conn, index).await.map_err(|e| db.error(e))? {
            missing.push(format!("index {index} on {table} is missing"));
        }
    }
    Ok(if missing.is_empty() {
        Check::new(&name, Status::Pass, vec![format!("{} tables, {} indexes", entry.tables.len(), entry.indexes.len())])
    } else {
        Check::new(&name, Status::Fail, missing)
    })
}

/// Drift: every column the models (generated from the migrations, and from AICO's statements on
/// AICO's databases) expect is in the live schema, with a type of the same kind; a pgvector
/// column's width that differs from the model's is noted.
async fn drift(db: &Db, layout: Layout, applied: &Applied) -> Result<Check, AppError> {
    // AICO's tables (Phase 3 included, whoever made it: AICO, or `m0003` at AICO's version 13 from
    // AICO's own statements) are checked against AICO's models and columns; the rest against the
    // seed's models. The Memory Album's `feedback_events` is neither.
    let aicos: Vec<&str> = match layout {
        Layout::Seed => Vec::new(),
        Layout::AicoPostgres => layout.aico_tables().into_iter().map(|(t, _)| t).collect(),
        Layout::Aico { .. } => [catalog::AICO_FACTS, "consolidation_state", "feedback_events"]
            .into_iter()
            .chain(migration::aico_phase3::TABLES)
            .collect(),
    };
    // Every table the migrations make, from the models generated from them (`entity::all_columns`):
    // on AICO's database the seed's facts table is AICO's `user_memories`, and AICO's own tables
    // come from the models generated from a database built as AICO builds it.
    let (seed_facts, _) = Layout::Seed.facts();
    // With each column, whether its model is the permissive one of a table the migrations adopt as
    // found (`entity::ADOPTED_AS_FOUND`, the seed's tables; AICO's models follow AICO's statements).
    let seed = entity::all_columns().into_iter().map(|c| {
        let adopted = entity::ADOPTED_AS_FOUND.contains(&c.table);
        (c, adopted)
    });
    let expected: Vec<(ModelColumn, bool)> = match layout {
        Layout::Seed => seed.collect(),
        // AICO's facts, segments and working memory, modelled from AICO's schema file.
        Layout::AicoPostgres => entity::aico_pg::all_columns().into_iter().map(|c| (c, false)).collect(),
        Layout::Aico { .. } => seed
            .filter(|(c, _)| c.table != seed_facts && !aicos.contains(&c.table))
            .chain(entity::aico::all_columns().into_iter().map(|c| (c, false)))
            .collect(),
    };
    let mut drift = Vec::new();
    // What differs from the model and still reads: reported, not failed.
    let mut notes = Vec::new();
    for (table, columns) in layout.aico_tables() {
        if !aicos.contains(&table) || !applied.owner_applied(|e| e.tables.contains(&table)) {
            continue;
        }
        let live = db.dialect.column_names(&db.conn, table).await.map_err(|e| db.error(e))?;
        for column in columns {
            if !live.iter().any(|c| c == column) {
                drift.push(format!("column {table}.{column} (AICO's) is missing"));
            }
        }
    }
    let (facts, _) = layout.facts();
    let temporal_index = format!("idx_{facts}_temporal");
    for (ModelColumn { table, name: column, column_type: ty, nullable }, adopted) in &expected {
        // temporal_metadata comes with the migration that indexes it, the rest with their table.
        let created = if *column == FACT_METADATA {
            applied.owner_applied(|e| e.indexes.iter().any(|(i, _)| *i == temporal_index))
        } else {
            applied.owner_applied(|e| e.tables.contains(table))
        };
        if !created {
            continue;
        }
        match db.dialect.column_type(&db.conn, table, column).await.map_err(|e| db.error(e))? {
            // Said once: AICO's columns that are missing are named above.
            None if drift.iter().any(|d| d.starts_with(&format!("column {table}.{column} "))) => continue,
            None => drift.push(format!("column {table}.{column} is missing")),
            Some(live) if !Kind::of_model(ty).accepts(Kind::of_live(&live)) => drift
                .push(format!("column {table}.{column} is {live}, the model expects {}", Kind::of_model(ty).name())),
            Some(_) => {
                if let Some(differs) = vector_width(db, table, column, ty).await? {
                    notes.push(differs);
                }
            }
        }
        if let Some(differs) = nullability(db, table, column, *nullable, *adopted).await? {
            drift.push(differs);
        }
    }
    let name = "schema matches the migrations";
    Ok(if drift.is_empty() {
        let checked = format!("{} columns checked, names, types and NOT NULL", expected.len());
        Check::new(name, Status::Pass, std::iter::once(checked).chain(notes).collect())
    } else {
        Check::new(name, Status::Fail, drift.into_iter().chain(notes).collect())
    })
}

/// How the width of pgvector's `table.column` differs from the model's `vector(N)`, if the model
/// declares one and it does: a note, not drift, since the model's `PgVector` reads a vector of any
/// width (AICO's nearest-neighbour queries then need embeddings of the live width).
async fn vector_width(db: &Db, table: &str, column: &str, model: &ColumnType) -> Result<Option<String>, AppError> {
    let ColumnType::Vector(Some(width)) = model else { return Ok(None) };
    let live = db.dialect.vector_width(&db.conn, table, column).await.map_err(|e| db.error(e))?;
    Ok(match live {
        Some(live) if live == i64::from(*width) => None,
        Some(live) => Some(format!(
            "column {table}.{column} is vector({live}), the model (AICO's schema file) says vector({width}): it \
             reads, but AICO's embedder writes {width}-d vectors"
        )),
        None => Some(format!(
            "column {table}.{column} is a vector without a width, the model (AICO's schema file) says \
             vector({width}): it reads, but AICO's HNSW index needs a width"
        )),
    })
}

/// Why `table.column`'s live nullability differs from the model's, if it does. A live column
/// that allows NULL where the model does not is drift (the model cannot read such a row); one
/// that is NOT NULL where the model allows NULL is drift too, except where the model is that of a
/// table the migrations adopt as found (`adopted`), deliberately the more permissive.
async fn nullability(
    db: &Db,
    table: &str,
    column: &str,
    model_nullable: bool,
    adopted: bool,
) -> Result<Option<String>, AppError> {
    let live = db.dialect.column_nullable(&db.conn, table, column).await.map_err(|e| db.error(e))?;
    Ok(match live {
        Some(true) if !model_nullable => Some(format!(
            "column {table}.{column} allows NULL, the model expects NOT NULL (a row holding NULL there cannot be read)"
        )),
        Some(false) if model_nullable && !adopted => {
            Some(format!("column {table}.{column} is NOT NULL, the model allows NULL"))
        }
        _ => None,
    })
}

/// The kind of value a column holds, as far as drift is concerned: two backends spell the same
/// kind differently (`json_text` and `json`, `bigint` and `integer`), and that is no drift.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Text,
    Integer,
    Real,
    Boolean,
    Json,
    Timestamp,
    Binary,
    /// pgvector's `vector` (its width: [`vector_width`]).
    Vector,
    /// A type this check does not judge.
    Other,
}

impl Kind {
    /// The kind of a model's column type.
    fn of_model(ty: &ColumnType) -> Self {
        match ty {
            ColumnType::Char(_) | ColumnType::String(_) | ColumnType::Text => Self::Text,
            ColumnType::TinyInteger
            | ColumnType::SmallInteger
            | ColumnType::Integer
            | ColumnType::BigInteger
            | ColumnType::TinyUnsigned
            | ColumnType::SmallUnsigned
            | ColumnType::Unsigned
            | ColumnType::BigUnsigned => Self::Integer,
            ColumnType::Float | ColumnType::Double | ColumnType::Decimal(_) => Self::Real,
            ColumnType::Boolean => Self::Boolean,
            ColumnType::Json | ColumnType::JsonBinary => Self::Json,
            ColumnType::DateTime | ColumnType::Timestamp | ColumnType::TimestampWithTimeZone => Self::Timestamp,
            ColumnType::Blob | ColumnType::Binary(_) | ColumnType::VarBinary(_) => Self::Binary,
            ColumnType::Vector(_) => Self::Vector,
            _ => Self::Other,
        }
    }

    /// The kind of a live column's declared type (lower case), as either backend reports it.
    fn of_live(declared: &str) -> Self {
        let has = |part: &str| declared.contains(part);
        // `aico_core.vector` where the session's search_path does not reach the extension's schema.
        if declared == "vector" || declared.ends_with(".vector") {
            Self::Vector
        } else if has("json") {
            Self::Json
        } else if has("timestamp") || has("datetime") {
            Self::Timestamp
        } else if has("bool") {
            Self::Boolean
        } else if has("int") {
            Self::Integer
        } else if has("real") || has("double") || has("float") || has("numeric") || has("decimal") {
            Self::Real
        } else if has("char") || has("text") || has("clob") || declared.is_empty() {
            Self::Text
        } else if has("blob") || has("bytea") {
            Self::Binary
        } else {
            Self::Other
        }
    }

    /// Whether a live column of kind `live` holds what a model column of this kind expects. JSON
    /// and timestamps may be kept as text, and booleans as 0/1 integers (AICO's own tables,
    /// adopted untouched, do: its `ams_behavioral_feedback.processed` is an INTEGER).
    fn accepts(self, live: Self) -> bool {
        self == live
            || self == Self::Other
            || live == Self::Other
            || (live == Self::Text && matches!(self, Self::Json | Self::Timestamp))
            || (live == Self::Integer && self == Self::Boolean)
    }

    fn name(self) -> &'static str {
        match self {
            Self::Text => "text",
            Self::Integer => "an integer",
            Self::Real => "a floating-point number",
            Self::Boolean => "a boolean",
            Self::Json => "JSON",
            Self::Timestamp => "a timestamp",
            Self::Binary => "binary",
            Self::Vector => "a vector",
            Self::Other => "any type",
        }
    }
}

/// Fingerprints: every applied migration still makes what it made when it was applied (its
/// recorded fingerprint matches what this tool's migration makes). Not recorded yet (the next
/// `migrate` records it) and adopted (kept as found) pass; skipped when nothing is applied.
fn fingerprints(applied: &Applied) -> Check {
    use migration::fingerprint::Check as Fingerprint;
    let name = "migration fingerprints";
    let mut failed = false;
    let mut details = Vec::new();
    for m in &applied.states {
        match &m.fingerprint {
            None => {}
            Some(Fingerprint::Changed(objects)) => {
                failed = true;
                details.push(format!(
                    "{}: changed since it was applied ({}): check the schema, then run aico-ams migrate --repair",
                    m.name,
                    migration::fingerprint::what_differs(objects)
                ));
            }
            Some(check) => details.push(format!("{}: {}", m.name, check.as_str())),
        }
    }
    let status = match (failed, details.is_empty()) {
        (true, _) => Status::Fail,
        (false, true) => Status::Skip,
        (false, false) => Status::Pass,
    };
    Check::new(name, status, details)
}

#[cfg(test)]
mod tests {
    use super::Kind;

    #[test]
    fn both_backends_spellings_of_a_kind_are_the_same_kind() {
        for (declared, kind) in [
            ("json_text", Kind::Json),
            ("json", Kind::Json),
            ("timestamp_with_timezone_text", Kind::Timestamp),
            ("timestamp with time zone", Kind::Timestamp),
            ("bigint", Kind::Integer),
            ("integer", Kind::Integer),
            ("double", Kind::Real),
            ("double precision", Kind::Real),
            ("real", Kind::Real),
            ("boolean", Kind::Boolean),
            ("text", Kind::Text),
            ("character varying", Kind::Text),
            ("vector", Kind::Vector),
        ] {
            assert_eq!(Kind::of_live(declared), kind, "{declared}");
        }
        assert!(Kind::Json.accepts(Kind::Text), "AICO keeps JSON as text");
        assert!(!Kind::Integer.accepts(Kind::Text));
        assert!(!Kind::Boolean.accepts(Kind::Real));
        assert!(Kind::Boolean.accepts(Kind::Integer), "AICO keeps booleans as 0/1");
        assert!(!Kind::Integer.accepts(Kind::Boolean));
        assert!(!Kind::Vector.accepts(Kind::Text), "an embedding kept as text is no vector");
    }
}
