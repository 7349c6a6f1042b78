//! The SQL store's typed reads of the facts and the consolidation history, shared by
//! [`backfill`](mod@super::backfill), [`verify`](mod@super::verify) and
//! [`health`](mod@super::health): each query is written here once.
//!
//! The tables and columns are the catalog's names for the layout at hand ([`Layout::facts`],
//! [`Layout::consolidation_table`]), never input; the JSON reads come from the dialect.

use aico_connect::dialect::Dialect;
use migration::catalog::{FACT_METADATA, Layout};
use sea_orm::QueryResult;
use serde::Serialize;

use crate::error::AppError;
use crate::report::percent;
use crate::sql::Db;
use crate::sql::dialect::StoreDialect;

/// The declared type of the facts table's metadata column (`temporal_metadata`), or None when
/// the table has no such column (the migrations have not run).
pub async fn metadata_column(db: &Db, table: &str) -> Result<Option<String>, AppError> {
    db.dialect.column_type(&db.conn, table, FACT_METADATA).await.map_err(|e| db.error(e))
}

/// [`metadata_column`], required: [`AppError::NotMigrated`] when it is missing.
pub async fn require_metadata_column(db: &Db, table: &str) -> Result<String, AppError> {
    metadata_column(db, table).await?.ok_or_else(|| AppError::NotMigrated {
        target: db.target.to_string(),
        what: format!("{table}.{FACT_METADATA}"),
    })
}

/// How many facts there are, and how many have temporal metadata.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Coverage {
    /// Facts in the table.
    pub total: i64,
    /// Of those, with temporal metadata.
    pub with_temporal: i64,
}

impl Coverage {
    /// `with_temporal` as a percentage of `total`, two decimals (0 for no facts).
    pub fn percent(self) -> f64 {
        percent(u64::try_from(self.with_temporal).unwrap_or(0), u64::try_from(self.total).unwrap_or(0))
    }
}

/// Seed: temporal metadata coverage of the facts table `table`.
pub async fn coverage(db: &Db, table: &str) -> Result<Coverage, AppError> {
    let rows =
        db.rows(&format!("SELECT COUNT(*) AS total, COUNT({FACT_METADATA}) AS with_temporal FROM {table}")).await?;
    let Some(r) = rows.first() else { return Ok(Coverage::default()) };
    let get = |c: &str| r.try_get::<i64>("", c).map_err(|e| db.error(e));
    Ok(Coverage { total: get("total")?, with_temporal: get("with_temporal")? })
}

/// One consolidation run, newest first (on AICO's database: each user's last run).
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct ConsolidationRun {
    /// The row's key: the seed's `id`, AICO's `user_id` (not serialized: `verify` names the row
    /// by it).
    #[serde(skip)]
    pub id: Option<String>,
    /// AICO's database: the user (null on the seed's table, which is not per user).
    pub user_id: Option<String>,
    /// Its status (`pending`, `completed`, ... on AICO's database; the seed's `state_json.status`).
    pub status: Option<String>,
    /// When it ran.
    pub last_run: Option<String>,
    /// When the row was last written (not serialized: `verify` shows it).
    #[serde(skip)]
    pub updated_at: Option<String>,
    /// Users it completed.
    pub completed_users: Option<f64>,
    /// Users it failed on.
    pub failed_users: Option<f64>,
    /// Experiences it processed.
    pub processed_experiences: Option<f64>,
}

/// What of a consolidation run [`consolidation`] reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunFigures {
    /// Its status and times only (`verify`: the columns every shape of the table has).
    Status,
    /// Its progress too (`health`).
    Progress,
}

/// Seed: the consolidation history, the `limit` newest rows first. The table must exist
/// ([`Db::has_table`] of [`Layout::consolidation_table`]). With [`RunFigures::Status`] the
/// progress columns are not read (they are None), so a table missing one still answers.
pub async fn consolidation(
    db: &Db,
    layout: Layout,
    limit: u32,
    figures: RunFigures,
) -> Result<Vec<ConsolidationRun>, AppError> {
    let d = db.dialect;
    let (table, state) = (layout.consolidation_table(), layout.consolidation_json());
    let experiences = match figures {
        RunFigures::Progress => "messages_consolidated",
        RunFigures::Status => "NULL",
    };
    let sql = match layout {
        // AICO's per-user table: one row per user, its status and last run in columns.
        Layout::Aico { .. } => format!(
            "SELECT user_id AS id, user_id, status, CAST(last_consolidation_at AS TEXT) AS last_run, \
             CAST(updated_at AS TEXT) AS updated_at, NULL AS completed, NULL AS failed, \
             {experiences} AS experiences FROM {table} ORDER BY {table}.updated_at DESC LIMIT {limit}"
        ),
        // The seed's shape (on AICO's PostgreSQL database, under AICO's name). Only the
        // migrations' own table and column names and JSON keys are pasted here.
        Layout::Seed | Layout::AicoPostgres => format!(
            "SELECT id, NULL AS user_id, {} AS status, {} AS last_run, CAST(updated_at AS TEXT) AS updated_at, \
             {} AS completed, {} AS failed, {} AS experiences FROM {table} \
             ORDER BY {table}.updated_at DESC LIMIT {limit}",
            d.json_text(state, "status"),
            d.json_text(state, "last_run"),
            d.json_number(state, "progress.completed_users"),
            d.json_number(state, "progress.failed_users"),
            d.json_number(state, "progress.processed_experiences"),
        ),
    };
    Ok(db.rows(&sql).await?.iter().map(consolidation_run).collect())
}

/// A row of [`consolidation`]'s query; a value that cannot be read is None.
fn consolidation_run(r: &QueryResult) -> ConsolidationRun {
    let num = |c: &str| {
        r.try_get::<Option<f64>>("", c)
            .ok()
            .flatten()
            .or_else(|| r.try_get::<Option<i64>>("", c).ok().flatten().map(|v| v as f64))
    };
    let text = |c: &str| r.try_get::<Option<String>>("", c).ok().flatten();
    ConsolidationRun {
        id: text("id"),
        user_id: text("user_id"),
        status: text("status"),
        last_run: text("last_run"),
        updated_at: text("updated_at"),
        completed_users: num("completed"),
        failed_users: num("failed"),
        processed_experiences: num("experiences"),
    }
}

/// AICO's PostgreSQL database: the facts whose metadata has a `created_at` or `last_accessed`
/// without an offset. AICO's index functions cast those to `timestamptz` in the session's
/// TimeZone, so the instant they read depends on the session (the backfill writes `Z`).
pub async fn facts_without_offset(db: &Db, layout: Layout) -> Result<u64, AppError> {
    let (table, _) = layout.facts();
    let json = format!("CAST({FACT_METADATA} AS jsonb)");
    let naive = Dialect::postgres_instants_without_offset(&json);
    // `table` is the catalog's name for the facts table (`Layout::facts`), never input.
    let rows = db
        .rows(&format!(
            "SELECT COUNT(*) AS n FROM {table} WHERE {FACT_METADATA} IS NOT NULL \
             AND jsonb_typeof({json}) = 'object' AND {naive}"
        ))
        .await?;
    let n = rows.first().map(|r| r.try_get::<i64>("", "n")).transpose().map_err(|e| db.error(e))?;
    Ok(u64::try_from(n.unwrap_or(0)).unwrap_or(0))
}
