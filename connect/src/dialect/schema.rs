//! What the database holds: indexes, query plans, column types, the order rows are stored in.

use sea_orm::{ConnectionTrait, DatabaseTransaction, DbBackend, DbErr, Statement, TransactionTrait};

use super::Dialect;

/// How a backend walks a table in the order its rows are stored (see [`Dialect::storage_order`]).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum StorageOrder {
    /// An integer column in storage order (SQLite's `rowid`).
    Column(&'static str),
    /// Ranges of heap blocks (PostgreSQL's `ctid`).
    Blocks,
}

impl Dialect {
    /// Whether an index named `name` exists (on PostgreSQL: the first relation of that name on the
    /// search path, as an unqualified name in a statement finds it).
    pub async fn has_index<C: ConnectionTrait>(self, conn: &C, name: &str) -> Result<bool, DbErr> {
        let stmt = match self {
            Self::Sqlite => Statement::from_sql_and_values(
                DbBackend::Sqlite,
                "SELECT 1 AS found FROM sqlite_master WHERE type = 'index' AND name = ?",
                [name.into()],
            ),
            Self::Postgres => Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT 1 AS found FROM pg_class WHERE oid = to_regclass(quote_ident($1)) AND relkind = 'i'",
                [name.into()],
            ),
        };
        Ok(conn.query_one_raw(stmt).await?.is_some())
    }

    /// The plan the backend would use for `query`, one line per step. On PostgreSQL sequential
    /// scans are switched off for the look, so the plan shows whether an index *can* serve the
    /// query (a small table would otherwise always be scanned).
    pub async fn query_plan<C>(self, conn: &C, query: &str) -> Result<Vec<String>, DbErr>
    where
        C: ConnectionTrait + TransactionTrait<Transaction = DatabaseTransaction>,
    {
        match self {
            // `query` is our own SQL (built from the catalog's names by `verify`), never input.
            Self::Sqlite => conn
                .query_all_raw(self.stmt(format!("EXPLAIN QUERY PLAN {query}")))
                .await?
                .iter()
                .map(|row| row.try_get::<String>("", "detail"))
                .collect(),
            Self::Postgres => {
                let txn = conn.begin().await?;
                txn.execute_raw(self.stmt("SET LOCAL enable_seqscan = off")).await?;
                let lines = txn
                    .query_all_raw(self.stmt(format!("EXPLAIN {query}")))
                    .await?
                    .iter()
                    .map(|row| row.try_get_by_index::<String>(0))
                    .collect();
                txn.rollback().await?;
                lines
            }
        }
    }

    /// How to walk `table`'s rows in the order they are stored, where the backend offers a range
    /// scan for it: SQLite's `rowid` (for a table with one), PostgreSQL's heap blocks (`ctid`
    /// ranges, a TID range scan from PostgreSQL 14). A walk in that order reads and writes each
    /// page once; a walk in the order of a random key (AICO's uuid4 `fact_id`) touches pages all
    /// over the table in every batch.
    pub async fn storage_order<C: ConnectionTrait>(self, conn: &C, table: &str) -> Result<Option<StorageOrder>, DbErr> {
        match self {
            Self::Sqlite => {
                let stmt = Statement::from_sql_and_values(
                    DbBackend::Sqlite,
                    "SELECT wr FROM pragma_table_list WHERE schema = 'main' AND name = ?",
                    [table.into()],
                );
                let without_rowid = match conn.query_one_raw(stmt).await? {
                    Some(row) => row.try_get::<i64>("", "wr")? != 0,
                    None => true,
                };
                Ok((!without_rowid).then_some(StorageOrder::Column("rowid")))
            }
            Self::Postgres => {
                let sql = "SELECT current_setting('server_version_num')::int >= 140000 AS tid_ranges";
                let tid_ranges = match conn.query_one_raw(self.stmt(sql)).await? {
                    Some(row) => row.try_get::<bool>("", "tid_ranges")?,
                    None => false,
                };
                Ok(tid_ranges.then_some(StorageOrder::Blocks))
            }
        }
    }

    /// How many blocks `table` has now (PostgreSQL; 0 elsewhere).
    pub async fn table_blocks<C: ConnectionTrait>(self, conn: &C, table: &str) -> Result<i64, DbErr> {
        match self {
            Self::Sqlite => Ok(0),
            Self::Postgres => {
                let stmt = Statement::from_sql_and_values(
                    DbBackend::Postgres,
                    "SELECT (pg_relation_size(CAST($1 AS regclass)) / current_setting('block_size')::bigint)::bigint \
                     AS blocks",
                    [table.into()],
                );
                match conn.query_one_raw(stmt).await? {
                    Some(row) => row.try_get::<i64>("", "blocks"),
                    None => Ok(0),
                }
            }
        }
    }

    /// The declared type of `table.column` as the backend reports it (lower case), if the
    /// column exists.
    pub async fn column_type<C: ConnectionTrait>(
        self,
        conn: &C,
        table: &str,
        column: &str,
    ) -> Result<Option<String>, DbErr> {
        let stmt = match self {
            Self::Sqlite => Statement::from_sql_and_values(
                DbBackend::Sqlite,
                "SELECT lower(type) AS t FROM pragma_table_info(?) WHERE name = ?",
                [table.into(), column.into()],
            ),
            Self::Postgres => Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT lower(format_type(a.atttypid, NULL)) AS t FROM pg_attribute a \
                 WHERE a.attrelid = to_regclass(quote_ident($1)) AND a.attname = $2 AND a.attnum > 0 \
                 AND NOT a.attisdropped",
                [table.into(), column.into()],
            ),
        };
        match conn.query_one_raw(stmt).await? {
            Some(row) => Ok(Some(row.try_get("", "t")?)),
            None => Ok(None),
        }
    }

    /// The width pgvector's `table.column` is declared with (`vector(768)`: 768): `None` when the
    /// column does not exist, is not declared with a width (a plain `vector`, or another type's
    /// modifier-less declaration) or the backend is SQLite. Read it only for a `vector` column: the
    /// type modifier means something else for other types (`varchar(n)` keeps n + 4).
    pub async fn vector_width<C: ConnectionTrait>(
        self,
        conn: &C,
        table: &str,
        column: &str,
    ) -> Result<Option<i64>, DbErr> {
        match self {
            Self::Sqlite => Ok(None),
            Self::Postgres => {
                let stmt = Statement::from_sql_and_values(
                    DbBackend::Postgres,
                    "SELECT CAST(NULLIF(a.atttypmod, -1) AS bigint) AS w FROM pg_attribute a \
                     WHERE a.attrelid = to_regclass(quote_ident($1)) AND a.attname = $2 AND a.attnum > 0 \
                     AND NOT a.attisdropped",
                    [table.into(), column.into()],
                );
                match conn.query_one_raw(stmt).await? {
                    Some(row) => row.try_get::<Option<i64>>("", "w"),
                    None => Ok(None),
                }
            }
        }
    }

    /// Whether `table.column` may hold NULL (no NOT NULL constraint), if the column exists. A
    /// SQLite primary-key column counts as NOT NULL: SQLite's legacy NULL keys (a `TEXT PRIMARY
    /// KEY` without NOT NULL) are not a shape anyone declares on purpose.
    pub async fn column_nullable<C: ConnectionTrait>(
        self,
        conn: &C,
        table: &str,
        column: &str,
    ) -> Result<Option<bool>, DbErr> {
        let stmt = match self {
            Self::Sqlite => Statement::from_sql_and_values(
                DbBackend::Sqlite,
                "SELECT CAST(\"notnull\" = 0 AND pk = 0 AS INTEGER) AS n FROM pragma_table_info(?) WHERE name = ?",
                [table.into(), column.into()],
            ),
            Self::Postgres => Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT CAST(CASE WHEN a.attnotnull THEN 0 ELSE 1 END AS bigint) AS n FROM pg_attribute a \
                 WHERE a.attrelid = to_regclass(quote_ident($1)) AND a.attname = $2 AND a.attnum > 0 \
                 AND NOT a.attisdropped",
                [table.into(), column.into()],
            ),
        };
        match conn.query_one_raw(stmt).await? {
            Some(row) => Ok(Some(row.try_get::<i64>("", "n")? != 0)),
            None => Ok(None),
        }
    }

    /// The column names of `table` (on PostgreSQL: the first table of that name on the search
    /// path), in their order; empty when the table does not exist.
    pub async fn column_names<C: ConnectionTrait>(self, conn: &C, table: &str) -> Result<Vec<String>, DbErr> {
        let stmt = match self {
            Self::Sqlite => Statement::from_sql_and_values(
                DbBackend::Sqlite,
                "SELECT name AS c FROM pragma_table_info(?) ORDER BY cid",
                [table.into()],
            ),
            Self::Postgres => Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT a.attname::text AS c FROM pg_attribute a \
                 WHERE a.attrelid = to_regclass(quote_ident($1)) AND a.attnum > 0 AND NOT a.attisdropped \
                 ORDER BY a.attnum",
                [table.into()],
            ),
        };
        conn.query_all_raw(stmt).await?.iter().map(|row| row.try_get::<String>("", "c")).collect()
    }

    /// Rows of `table` whose `column` is not valid JSON (up to `limit` ids), for an error that
    /// names them. PostgreSQL 15 has no cheap validity test in SQL, so it reports none.
    pub async fn invalid_json_ids<C: ConnectionTrait>(
        self,
        conn: &C,
        table: &str,
        column: &str,
        limit: u32,
    ) -> Result<Vec<String>, DbErr> {
        match self {
            Self::Sqlite => {
                // `table` and `column` are the migrations' own names (constants), `limit` a number.
                let sql = format!(
                    "SELECT CAST(id AS TEXT) AS id FROM {table} \
                     WHERE {column} IS NOT NULL AND NOT json_valid({column}) LIMIT {limit}"
                );
                conn.query_all_raw(self.stmt(sql)).await?.iter().map(|row| row.try_get::<String>("", "id")).collect()
            }
            Self::Postgres => Ok(Vec::new()),
        }
    }
}
