//! What every walk reads and writes of the facts table: the rows still without metadata, the
//! set-based fill, the rows left to Rust, and the write of the metadata Rust built.

use std::time::Instant;

use aico_connect::dialect::Dialect;
use entity::values::TemporalMetadata;
use sea_orm::sea_query::{
    Alias, Condition, Expr, ExprTrait, IntoIden, Order, Query, SelectStatement, TableRef, ValueTuple,
};
use sea_orm::{ConnectionTrait, DatabaseTransaction, DbErr};

use crate::error::AppError;
use crate::sql::Db;
use crate::sql::dialect::{Fill, StoreDialect};

/// The column the backfill writes.
const METADATA: &str = migration::catalog::FACT_METADATA;

/// The same metadata built by SQL from `timestamp` (SQL giving the canonical RFC 3339 text): the
/// JSON Rust writes for a sentinel instant with the sentinel's text replaced, so both paths write
/// the same bytes and the layout is defined once, by [`TemporalMetadata`].
pub(crate) fn initial_metadata_sql(dialect: Dialect, timestamp: &str) -> String {
    let (template, sentinel) = TemporalMetadata::initial_json_template();
    // Rust's own JSON for a fixed instant, as SQL string literals ('' doubled).
    let literal = |text: &str| format!("'{}'", text.replace('\'', "''"));
    dialect.json_from_text(&format!("replace({}, {}, {timestamp})", literal(template), literal(sentinel)))
}

impl Fill {
    /// SQL that is NULL exactly where the metadata cannot be built in SQL.
    fn fillable(&self) -> &str {
        match self {
            Self::InPlace { metadata } => metadata,
            Self::ByRowId { timestamp, .. } => timestamp,
        }
    }
}

/// The facts table as the backfill sees it: its name and key, the SQL that reads `created_at` as
/// text, and how SQL fills the metadata where it can.
pub(super) struct Facts {
    table: &'static str,
    key: &'static str,
    created_text: String,
    fill: Fill,
    /// The metadata Rust built, bound as text, as the backend stores it (`v.column2`).
    from_values: String,
}

impl Facts {
    /// The facts table `table`, keyed by `key`; `created_text` reads `created_at` as text.
    pub(super) fn new(
        dialect: Dialect,
        table: &'static str,
        key: &'static str,
        created_text: String,
        fill: Fill,
    ) -> Self {
        let from_values = dialect.json_from_text("\"v\".\"column2\"");
        Self { table, key, created_text, fill, from_values }
    }

    /// The table's name.
    pub(super) fn table(&self) -> Alias {
        Alias::new(self.table)
    }

    /// The key's column.
    pub(super) fn key(&self) -> Expr {
        Expr::col((self.table(), Alias::new(self.key)))
    }

    fn metadata(&self) -> Expr {
        Expr::col((self.table(), Alias::new(METADATA)))
    }

    /// Facts without metadata.
    pub(super) fn missing(&self) -> Condition {
        Condition::all().add(self.metadata().is_null())
    }

    /// Rows whose metadata SQL can build.
    pub(super) fn sql_can_fill(&self) -> Expr {
        // `fillable` is built by `Dialect` from the catalog's column names (see `backfill`).
        Expr::cust(format!("({}) IS NOT NULL", self.fill.fillable()))
    }

    /// Rows whose metadata SQL cannot build: they are left to Rust.
    pub(super) fn left_to_rust(&self) -> Expr {
        Expr::cust(format!("({}) IS NULL", self.fill.fillable()))
    }

    /// How many rows match `cond`.
    pub(super) async fn count<C: ConnectionTrait>(&self, conn: &C, cond: Condition) -> Result<u64, DbErr> {
        let stmt = Query::select().expr_as(Expr::cust("COUNT(*)"), "n").from(self.table()).cond_where(cond).to_owned();
        let n: i64 = match conn.query_one(&stmt).await? {
            Some(row) => row.try_get("", "n")?,
            None => 0,
        };
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// Fill the rows of `pending` that SQL can fill; how many it filled.
    ///
    /// [`Fill::ByRowId`]: `UPDATE <facts> SET temporal_metadata = <from b.ts> FROM (SELECT ctid AS
    /// row_id, <canonical> AS ts FROM <facts> WHERE <pending> OFFSET 0) AS b WHERE <facts>.ctid =
    /// b.row_id AND b.ts IS NOT NULL`.
    pub(super) async fn fill<C: ConnectionTrait>(&self, conn: &C, pending: Condition) -> Result<u64, DbErr> {
        let mut stmt = Query::update();
        match &self.fill {
            Fill::InPlace { metadata } => {
                stmt.table(self.table())
                    .value(Alias::new(METADATA), Expr::cust(metadata.clone()))
                    .cond_where(pending.add(self.sql_can_fill()));
            }
            Fill::ByRowId { timestamp, metadata } => {
                let b = Alias::new("b").into_iden();
                let rows = Query::select()
                    .expr_as(Expr::cust("ctid"), "row_id")
                    .expr_as(Expr::cust(timestamp.clone()), "ts")
                    .from(self.table())
                    .cond_where(pending)
                    .offset(0)
                    .to_owned();
                stmt.table(self.table())
                    .value(Alias::new(METADATA), Expr::cust(metadata.clone()))
                    .from(TableRef::SubQuery(rows.into(), b.clone()))
                    // `table` is the catalog's facts table (a constant), quoted as sea-query would.
                    .and_where(Expr::cust(format!("\"{}\".ctid = \"b\".\"row_id\"", self.table)))
                    .and_where(Expr::col((b, Alias::new("ts"))).is_not_null());
            }
        }
        Ok(conn.execute(&stmt).await?.rows_affected())
    }

    /// Key and `created_at` as text of the rows of `pending`, in the walk's `order`.
    pub(super) async fn read<C: ConnectionTrait>(
        &self,
        conn: &C,
        pending: Condition,
        order: Expr,
    ) -> Result<Vec<(String, Option<String>)>, DbErr> {
        let stmt = self.select(pending).order_by_expr(order, Order::Asc).to_owned();
        conn.query_all(&stmt)
            .await?
            .iter()
            .map(|row| Ok((row.try_get("", "k")?, row.try_get("", "created_at")?)))
            .collect()
    }

    /// `SELECT <key> AS k, <created_at as text> AS created_at FROM <facts> WHERE <cond>`.
    pub(super) fn select(&self, cond: Condition) -> SelectStatement {
        Query::select()
            .expr_as(self.key(), "k")
            .expr_as(Expr::cust(self.created_text.clone()), "created_at")
            .from(self.table())
            .cond_where(cond)
            .to_owned()
    }

    /// Write the rows Rust filled: `UPDATE <facts> SET temporal_metadata = v.column2 FROM
    /// (VALUES ...) AS v WHERE <key> = v.column1 AND temporal_metadata IS NULL`. The metadata is
    /// bound as text (and cast where the backend needs it), so its bytes are ours.
    pub(super) async fn write<C: ConnectionTrait>(&self, conn: &C, rows: Vec<ValueTuple>) -> Result<u64, DbErr> {
        let v = Alias::new("v").into_iden();
        let stmt = Query::update()
            .table(self.table())
            .value(Alias::new(METADATA), Expr::cust(self.from_values.clone()))
            .from(TableRef::ValuesList(rows, v.clone()))
            .and_where(self.key().equals((v, Alias::new("column1"))))
            .and_where(self.metadata().is_null())
            .to_owned();
        Ok(conn.execute(&stmt).await?.rows_affected())
    }
}

/// Commit a batch's transaction, begun at `began`, that filled `rows` facts, and log how long it
/// held the write lock (how long AICO's writers had to wait at most for it).
pub(super) async fn commit_batch(db: &Db, txn: DatabaseTransaction, began: Instant, rows: u64) -> Result<(), AppError> {
    txn.commit().await.map_err(|e| db.error(e))?;
    tracing::debug!(rows, write_lock_ms = began.elapsed().as_secs_f64() * 1e3, "batch committed");
    Ok(())
}
