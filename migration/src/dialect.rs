//! How each backend says the few things that differ between SQLite and PostgreSQL.
//!
//! Every per-backend SQL difference of the project lives here (as sea-query keeps each dialect in one
//! backend module); call sites ask a [`Dialect`] and never `match` on the backend themselves.

use std::path::PathBuf;

use sea_orm_migration::sea_orm::{
    ConnectionTrait, DatabaseTransaction, DbBackend, DbErr, SqliteTransactionMode, Statement, TransactionOptions,
    TransactionTrait,
};

/// A database backend the AMS schema supports.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Dialect {
    /// SQLite (and libSQL files), the embedded default.
    Sqlite,
    /// PostgreSQL, for users past one machine.
    Postgres,
}

/// What must happen before a statement destroys rows, on this backend.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RestorePoint {
    /// Copy the whole database into this file first (a consistent snapshot).
    CopyFile {
        /// The live database file.
        source: PathBuf,
    },
    /// No file to copy: refuse unless the operator forced it.
    RefuseUnlessForced,
}

/// Key of the PostgreSQL advisory lock that serialises migrators (`hashtext('aico-ams-migrate')`
/// would be just as good; a constant keeps it readable in `pg_locks`).
const PG_MIGRATE_LOCK_KEY: i64 = 0x0A1C_0A35;

/// How a backend walks a table in the order its rows are stored (see [`Dialect::storage_order`]).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum StorageOrder {
    /// An integer column in storage order (SQLite's `rowid`).
    Column(&'static str),
    /// Ranges of heap blocks (PostgreSQL's `ctid`).
    Blocks,
}

impl Dialect {
    /// The dialect of a connection, or an error for backends the AMS does not support.
    pub fn of(backend: DbBackend) -> Result<Self, DbErr> {
        match backend {
            DbBackend::Sqlite => Ok(Self::Sqlite),
            DbBackend::Postgres => Ok(Self::Postgres),
            other => {
                Err(DbErr::Migration(format!("the AMS schema supports SQLite and PostgreSQL, not {}", other.as_str())))
            }
        }
    }

    /// The dialect of the connection `conn` speaks.
    pub fn of_conn<C: ConnectionTrait>(conn: &C) -> Result<Self, DbErr> {
        Self::of(conn.get_database_backend())
    }

    /// The sea-orm backend of this dialect.
    pub fn backend(self) -> DbBackend {
        match self {
            Self::Sqlite => DbBackend::Sqlite,
            Self::Postgres => DbBackend::Postgres,
        }
    }

    /// A statement of raw SQL in this dialect.
    pub fn stmt(self, sql: impl Into<String>) -> Statement {
        Statement::from_string(self.backend(), sql.into())
    }

    /// `path` (a key, or dotted keys `a.b`) of the JSON object in `column`, as text (strings
    /// unquoted). The seed's `json_extract(col, '$.key')` on SQLite; `(col ->> 'key')` on
    /// PostgreSQL (`#>>` for a dotted path).
    pub fn json_text(self, column: &str, path: &str) -> String {
        match self {
            Self::Sqlite => format!("json_extract({column}, '$.{path}')"),
            Self::Postgres => format!("({})", pg_path(column, path, true)),
        }
    }

    /// `path` of the JSON object in `column` as a number, NULL when it is not a number. On
    /// PostgreSQL the cast is guarded so that an index over it never rejects a row.
    pub fn json_number(self, column: &str, path: &str) -> String {
        match self {
            Self::Sqlite => format!("json_extract({column}, '$.{path}')"),
            Self::Postgres => format!(
                "(CASE WHEN json_typeof({}) = 'number' THEN ({})::double precision END)",
                pg_path(column, path, false),
                pg_path(column, path, true),
            ),
        }
    }

    /// A boolean SQL expression: `column` is not NULL and is not a JSON object holding a non-null
    /// value at each of `keys`.
    pub fn json_object_lacking(self, column: &str, keys: &[&str]) -> String {
        let missing: Vec<String> = keys.iter().map(|k| format!("{} IS NULL", self.json_text(column, k))).collect();
        let missing = missing.join(" OR ");
        match self {
            Self::Sqlite => format!(
                "{column} IS NOT NULL AND CASE WHEN json_valid({column}) AND json_type({column}) = 'object' \
                 THEN ({missing}) ELSE 1 END"
            ),
            Self::Postgres => format!(
                "{column} IS NOT NULL AND CASE WHEN json_typeof({column}) = 'object' THEN ({missing}) ELSE true END"
            ),
        }
    }

    /// Whether an index named `name` exists (in the current schema).
    pub async fn has_index<C: ConnectionTrait>(self, conn: &C, name: &str) -> Result<bool, DbErr> {
        let stmt = match self {
            Self::Sqlite => Statement::from_sql_and_values(
                DbBackend::Sqlite,
                "SELECT 1 AS found FROM sqlite_master WHERE type = 'index' AND name = ?",
                [name.into()],
            ),
            Self::Postgres => Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT 1 AS found FROM pg_indexes WHERE schemaname = current_schema() AND indexname = $1",
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

    /// `CREATE INDEX IF NOT EXISTS` over expressions. On SQLite this is exactly the seed's
    /// statement; PostgreSQL needs each expression in parentheses.
    pub fn expression_index(self, name: &str, table: &str, exprs: &[String]) -> String {
        let list = match self {
            Self::Sqlite => exprs.join(",\n    "),
            Self::Postgres => exprs.iter().map(|e| format!("({e})")).collect::<Vec<_>>().join(", "),
        };
        format!("CREATE INDEX IF NOT EXISTS {name} ON {table} (\n    {list}\n)")
    }

    /// A boolean SQL expression: `column` holds a JSON array of exactly `len` elements. Neither
    /// backend allows a subquery in CHECK, so the element types are not checked here.
    pub fn json_array_of_len(self, column: &str, len: usize) -> String {
        match self {
            Self::Sqlite => format!(
                "CASE WHEN json_valid({column}) THEN json_type({column}) = 'array' \
                 AND json_array_length({column}) = {len} ELSE 0 END"
            ),
            Self::Postgres => format!(
                "CASE WHEN json_typeof({column}) = 'array' \
                 THEN json_array_length({column}) = {len} ELSE false END"
            ),
        }
    }

    /// A boolean SQL expression: `column` holds a JSON object (or is NULL).
    pub fn json_object_or_null(self, column: &str) -> String {
        match self {
            Self::Sqlite => format!("{column} IS NULL OR (json_valid({column}) AND json_type({column}) = 'object')"),
            Self::Postgres => format!("{column} IS NULL OR json_typeof({column}) = 'object'"),
        }
    }

    /// The number of characters in a text column.
    pub fn char_length(self, column: &str) -> String {
        match self {
            Self::Sqlite => format!("length({column})"),
            Self::Postgres => format!("char_length({column})"),
        }
    }

    /// `column`, a timestamp whose declared type is `declared` (see [`Self::column_type`]), as text
    /// that a lenient parser reads: SQLite's stored text as is; on PostgreSQL, typed timestamps as
    /// RFC 3339 UTC (a naive `timestamp` is taken as UTC, as AICO writes it).
    /// A date before year 1 keeps its era (`... BC`), which no reader takes for a year AD.
    pub fn timestamp_text(self, column: &str, declared: &str) -> String {
        const ISO: &str = "YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"";
        match self.typed_utc(column, declared) {
            Some(u) => {
                format!("CASE WHEN {u} < '0001-01-01' THEN to_char({u}, '{ISO} BC') ELSE to_char({u}, '{ISO}') END")
            }
            None => format!("CAST({column} AS TEXT)"),
        }
    }

    /// A typed PostgreSQL timestamp `column` as a naive UTC `timestamp` (a `timestamptz` converted,
    /// a naive one taken as UTC, as AICO writes it); None for text and on SQLite.
    fn typed_utc(self, column: &str, declared: &str) -> Option<String> {
        match (self, declared) {
            (Self::Postgres, "timestamp with time zone") => Some(format!("({column} AT TIME ZONE 'UTC')")),
            (Self::Postgres, "timestamp without time zone") => Some(column.to_owned()),
            _ => None,
        }
    }

    /// SQL giving `column` (a timestamp whose declared type is `declared`) as the canonical text
    /// `entity::values::Timestamp` writes — RFC 3339, UTC, `Z`, the fraction truncated to
    /// microseconds (as Python reads it) and written as 3 or 6 digits only when it is not zero —
    /// wherever that follows from the value alone, else NULL (the caller then reads the value and
    /// parses it in Rust, which also lists what AICO could not read). Text is taken when it is a
    /// valid date-time of the form `YYYY-MM-DD[ T]HH:MM:SS[.f{1,9}][Z|±HH:MM]` (the forms AICO,
    /// Python and SQLite write) from year 1, never at second 60, with an offset of at most 14
    /// hours (which every backend and Rust read alike) only from year 2 to 9998 (so that the
    /// instant in UTC cannot leave the range AICO reads); the backend's own date arithmetic
    /// (`strftime`, `timestamptz`) applies the offset. Typed PostgreSQL timestamps from year 1 to
    /// 9999 always are. Nothing here can raise an error: every cast is behind a shape test in a
    /// `CASE`, which both backends evaluate in order.
    pub fn canonical_timestamp(self, column: &str, declared: &str) -> String {
        if let Some(u) = self.typed_utc(column, declared) {
            return format!(
                "CASE WHEN {u} >= '0001-01-01' AND {u} < '10000-01-01' THEN \
                 to_char({u}, 'YYYY-MM-DD\"T\"HH24:MI:SS') || \
                 CASE WHEN to_char({u}, 'US') = '000000' THEN '' \
                 WHEN to_char({u}, 'US') LIKE '%000' THEN '.' || to_char({u}, 'MS') \
                 ELSE '.' || to_char({u}, 'US') END || 'Z' END"
            );
        }
        let c = self.timestamp_text(column, declared);
        // z: the length of the zone (0, 1 for `Z`, 6 for an offset); n: the length without it. The
        // fraction (if any) is `substr(c, 21, n - 20)`, the offset `substr(c, n + 1, 6)`.
        let z = format!(
            "(CASE WHEN substr({c}, length({c}), 1) = 'Z' THEN 1 \
             WHEN substr({c}, length({c}) - 5, 1) IN ('+', '-') THEN 6 ELSE 0 END)"
        );
        let n = format!("(length({c}) - {z})");
        let offset = format!("substr({c}, {n} + 1, 6)");
        let shape = match self {
            Self::Sqlite => format!(
                "substr({c}, 1, 19) GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9][ T][0-9][0-9]:[0-9][0-9]:[0-9][0-9]' \
                 AND ({n} = 19 OR ({n} BETWEEN 21 AND 29 AND substr({c}, 20, 1) = '.' \
                 AND substr({c}, 21, {n} - 20) NOT GLOB '*[^0-9]*')) \
                 AND ({z} < 6 OR {offset} GLOB '[+-][0-9][0-9]:[0-9][0-9]')"
            ),
            // SIMILAR TO is anchored at both ends; `.` is a literal in it.
            Self::Postgres => format!(
                "{c} SIMILAR TO '[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}[ T][0-9]{{2}}:[0-9]{{2}}:[0-9]{{2}}(.[0-9]{{1,9}}){{0,1}}(Z|[+-][0-9]{{2}}:[0-9]{{2}}){{0,1}}'"
            ),
        };
        let int = |text: &str, from: &str, len: u8| format!("CAST(substr({text}, {from}, {len}) AS INTEGER)");
        let (y, m, d) = (int(&c, "1", 4), int(&c, "6", 2), int(&c, "9", 2));
        let leap = format!("(({y}) % 4 = 0 AND (({y}) % 100 <> 0 OR ({y}) % 400 = 0))");
        let days = format!(
            "CASE WHEN {m} = 2 THEN CASE WHEN {leap} THEN 29 ELSE 28 END WHEN {m} IN (4, 6, 9, 11) THEN 30 ELSE 31 END"
        );
        let (oh, om) = (int(&c, &format!("{n} + 2"), 2), int(&c, &format!("{n} + 5"), 2));
        // The date and time in UTC, to the second: as written, or with the offset applied.
        let local = format!("substr({c}, 1, 10) || ' ' || substr({c}, 12, 8) || {offset}");
        let utc = match self {
            Self::Sqlite => format!("strftime('%Y-%m-%dT%H:%M:%S', {local})"),
            Self::Postgres => {
                format!("to_char(CAST({local} AS timestamptz) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS')")
            }
        };
        // The fraction's first six digits, padded: Python keeps microseconds and drops the rest.
        let f6 = format!("substr(substr({c}, 21, {n} - 20) || '000000', 1, 6)");
        format!(
            "CASE WHEN {shape} THEN CASE WHEN {y} >= 1 AND {m} BETWEEN 1 AND 12 AND {d} BETWEEN 1 AND {days} \
             AND {h} < 24 AND {mi} < 60 AND {s} < 60 \
             AND CASE WHEN {z} = 6 THEN {y} BETWEEN 2 AND 9998 AND {oh} <= 14 AND {om} < 60 ELSE TRUE END \
             THEN CASE WHEN {z} = 6 THEN {utc} ELSE substr({c}, 1, 10) || 'T' || substr({c}, 12, 8) END || \
             CASE WHEN {n} = 19 THEN '' WHEN {f6} = '000000' THEN '' \
             WHEN substr({f6}, 4, 3) = '000' THEN '.' || substr({f6}, 1, 3) \
             ELSE '.' || {f6} END || 'Z' END END",
            h = int(&c, "12", 2),
            mi = int(&c, "15", 2),
            s = int(&c, "18", 2),
        )
    }

    /// A JSON value from the text `expr` (a bound string parameter): PostgreSQL casts it to `json`,
    /// which keeps the text verbatim (a bound `jsonb` would reorder its keys); SQLite stores text.
    pub fn json_from_text(self, expr: &str) -> String {
        match self {
            Self::Sqlite => expr.to_owned(),
            Self::Postgres => format!("CAST({expr} AS json)"),
        }
    }

    /// The SQL that makes an existing text column `column` of `table` a JSON column, keeping
    /// every byte, or `None` where the backend needs no change (SQLite stores JSON as text).
    /// PostgreSQL's `json` type keeps its input text verbatim, so the cast changes no value.
    pub fn adopt_text_as_json(self, table: &str, column: &str, data_type: &str) -> Option<String> {
        match self {
            Self::Sqlite => None,
            Self::Postgres if data_type == "json" => None,
            Self::Postgres => Some(format!("ALTER TABLE {table} ALTER COLUMN {column} TYPE json USING {column}::json")),
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
                let sql = format!("SELECT wr FROM pragma_table_list WHERE schema = 'main' AND name = '{table}'");
                let without_rowid = match conn.query_one_raw(self.stmt(sql)).await? {
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
                let sql = format!(
                    "SELECT (pg_relation_size('{table}') / current_setting('block_size')::bigint)::bigint AS blocks"
                );
                match conn.query_one_raw(self.stmt(sql)).await? {
                    Some(row) => row.try_get::<i64>("", "blocks"),
                    None => Ok(0),
                }
            }
        }
    }

    /// SQL true for the rows stored in blocks `from` (inclusive) to `to` (exclusive, or to the end).
    pub fn in_blocks(self, from: i64, to: Option<i64>) -> String {
        let upto = to.map(|to| format!(" AND ctid < '({to},0)'::tid")).unwrap_or_default();
        format!("ctid >= '({from},0)'::tid{upto}")
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
                "SELECT lower(data_type) AS t FROM information_schema.columns \
                 WHERE table_schema = current_schema() AND table_name = $1 AND column_name = $2",
                [table.into(), column.into()],
            ),
        };
        match conn.query_one_raw(stmt).await? {
            Some(row) => Ok(Some(row.try_get("", "t")?)),
            None => Ok(None),
        }
    }

    /// The column names of `table` (in the current schema), in their order; empty when the table
    /// does not exist.
    pub async fn column_names<C: ConnectionTrait>(self, conn: &C, table: &str) -> Result<Vec<String>, DbErr> {
        let stmt = match self {
            Self::Sqlite => Statement::from_sql_and_values(
                DbBackend::Sqlite,
                "SELECT name AS c FROM pragma_table_info(?) ORDER BY cid",
                [table.into()],
            ),
            Self::Postgres => Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT column_name::text AS c FROM information_schema.columns \
                 WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position",
                [table.into()],
            ),
        };
        conn.query_all_raw(stmt).await?.iter().map(|row| row.try_get::<String>("", "c")).collect()
    }

    /// AICO's schema version as stored (`_aico_schema_metadata`, key `schema_version`), if the row
    /// exists. The table must exist.
    pub async fn aico_schema_version<C: ConnectionTrait>(self, conn: &C) -> Result<Option<String>, DbErr> {
        let sql = "SELECT CAST(value AS TEXT) AS v FROM _aico_schema_metadata WHERE key = 'schema_version'";
        match conn.query_one_raw(self.stmt(sql)).await? {
            Some(row) => Ok(row.try_get::<Option<String>>("", "v")?),
            None => Ok(None),
        }
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
                let sql = format!(
                    "SELECT CAST(id AS TEXT) AS id FROM {table} \
                     WHERE {column} IS NOT NULL AND NOT json_valid({column}) LIMIT {limit}"
                );
                conn.query_all_raw(self.stmt(sql)).await?.iter().map(|row| row.try_get::<String>("", "id")).collect()
            }
            Self::Postgres => Ok(Vec::new()),
        }
    }

    /// Begin a transaction that will write: SQLite takes its write lock at `BEGIN IMMEDIATE`
    /// (waiting for the busy timeout), so no read inside it ever needs a lock upgrade, which
    /// would fail at once with "database is locked" beside another writer; PostgreSQL's default.
    pub async fn begin_write<C>(self, conn: &C) -> Result<DatabaseTransaction, DbErr>
    where
        C: TransactionTrait<Transaction = DatabaseTransaction>,
    {
        match self {
            Self::Sqlite => {
                conn.begin_with_options(TransactionOptions {
                    sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
                    ..Default::default()
                })
                .await
            }
            Self::Postgres => conn.begin().await,
        }
    }

    /// Begin a write transaction whose commit need not wait for the disk: a batch of a job that
    /// a later run redoes if it is lost. SQLite's connections already commit so (WAL with
    /// `synchronous = NORMAL`); PostgreSQL's `synchronous_commit = off` for this transaction.
    /// Either way a crash of the machine can lose only the last such commits, whole, never half
    /// of one, and never one that a later commit depends on.
    pub async fn begin_batch<C>(self, conn: &C) -> Result<DatabaseTransaction, DbErr>
    where
        C: TransactionTrait<Transaction = DatabaseTransaction>,
    {
        let txn = self.begin_write(conn).await?;
        if self == Self::Postgres {
            txn.execute_raw(self.stmt("SET LOCAL synchronous_commit = off")).await?;
        }
        Ok(txn)
    }

    /// Begin the transaction a migrator runs in, holding the lock that keeps a second migrator
    /// out until it ends: SQLite's write lock (`BEGIN IMMEDIATE`, which waits for the busy
    /// timeout), PostgreSQL's transaction-scoped advisory lock. `on_wait` is called once when
    /// another migrator holds the lock and this one waits for it.
    pub async fn begin_locked<C>(self, conn: &C, on_wait: impl FnOnce()) -> Result<DatabaseTransaction, DbErr>
    where
        C: TransactionTrait<Transaction = DatabaseTransaction>,
    {
        match self {
            Self::Sqlite => self.begin_write(conn).await,
            Self::Postgres => {
                let txn = conn.begin().await?;
                let got = txn
                    .query_one_raw(self.stmt(format!("SELECT pg_try_advisory_xact_lock({PG_MIGRATE_LOCK_KEY}) AS got")))
                    .await?
                    .map(|row| row.try_get::<bool>("", "got"))
                    .transpose()?
                    .unwrap_or(false);
                if !got {
                    on_wait();
                    txn.execute_raw(self.stmt(format!("SELECT pg_advisory_xact_lock({PG_MIGRATE_LOCK_KEY})"))).await?;
                }
                Ok(txn)
            }
        }
    }

    /// What to do before destroying rows on the database behind `conn`.
    pub async fn restore_point<C: ConnectionTrait>(self, conn: &C) -> Result<RestorePoint, DbErr> {
        match self {
            Self::Sqlite => {
                let row =
                    conn.query_one_raw(self.stmt("SELECT file FROM pragma_database_list WHERE name = 'main'")).await?;
                let file: String = match row {
                    Some(row) => row.try_get("", "file")?,
                    None => String::new(),
                };
                if file.is_empty() {
                    // An in-memory or temporary database: there is no file to keep.
                    Ok(RestorePoint::RefuseUnlessForced)
                } else {
                    Ok(RestorePoint::CopyFile { source: PathBuf::from(file) })
                }
            }
            Self::Postgres => Ok(RestorePoint::RefuseUnlessForced),
        }
    }

    /// The statement that writes a consistent copy of the open SQLite database to `dest`.
    pub fn snapshot_into(self, dest: &std::path::Path) -> Option<Statement> {
        match self {
            Self::Sqlite => {
                let quoted = dest.to_string_lossy().replace('\'', "''");
                Some(self.stmt(format!("VACUUM INTO '{quoted}'")))
            }
            Self::Postgres => None,
        }
    }
}

/// A PostgreSQL JSON path expression: `col ->> 'k'` (or `->`) for one key, `col #>> '{a,b}'` for a
/// dotted path. One key keeps the `->>` form the indexes are built on.
fn pg_path(column: &str, path: &str, as_text: bool) -> String {
    match (path.contains('.'), as_text) {
        (false, true) => format!("{column} ->> '{path}'"),
        (false, false) => format!("{column} -> '{path}'"),
        (true, true) => format!("{column} #>> '{{{}}}'", path.replace('.', ",")),
        (true, false) => format!("{column} #> '{{{}}}'", path.replace('.', ",")),
    }
}
