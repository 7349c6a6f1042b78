//! Fingerprints of applied migrations: what each migration made, read back from the database's
//! own catalog and written down canonically, so that a migration changed after it was applied is
//! caught (as sqlx's and Flyway's checksums catch it), while the same objects spelled differently
//! (another quoting, spacing, `IF NOT EXISTS`, the order of a table's items) are not.
//!
//! A migration's objects are its tables and indexes as [`Layout::catalog`] lists them. Each is one
//! or more canonical lines, `table NAME ...` or `index NAME ...`:
//!
//! - SQLite: the `CREATE` statement from `sqlite_master` in lower case outside string literals,
//!   without identifier quotes or `IF NOT EXISTS`, whitespace collapsed (and gone around
//!   punctuation), a table's body split at its top-level commas into one sorted line per item;
//!   plus one line per column from `pragma table_info` (type, not null, default, key);
//! - PostgreSQL: one line per column (`format_type`, not null, default by `pg_get_expr`), per
//!   constraint (`pg_get_constraintdef`) and per index (`pg_get_indexdef` without the schema).
//!
//! A column a later migration adds to an earlier one's table (Phase 1's `temporal_metadata`)
//! belongs to the later migration, so a fingerprint does not depend on what came after it. The
//! fingerprint is the SHA-256 (hex) of the sorted lines; the lines are kept beside it, so that a
//! mismatch names the objects that differ.
//!
//! What a migration *should* make is found by rehearsal: the migrations run from empty on a
//! scratch database of the same backend and layout (SQLite: in memory; PostgreSQL: the session's
//! temporary schema, `pg_temp`, in a transaction that is rolled back: it needs no right to create
//! a schema, only the right to make temporary tables, which PostgreSQL gives every role by
//! default), read back the same way.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, Statement, TransactionTrait,
};
use sha2::{Digest, Sha256};

use crate::catalog::{self, AICO_METADATA, Layout};
use aico_connect::dialect::Dialect;
use aico_connect::target::Target;

/// The table where fingerprints are recorded (ours: `seaql_migrations` stays as SeaORM makes it).
pub const TABLE: &str = "ams_migration_fingerprints";

/// The version of this tool, recorded with each fingerprint.
pub const TOOL_VERSION: &str = env!("CARGO_PKG_VERSION");

/// What a migration made, canonically.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fingerprint {
    /// SHA-256 of `objects` joined by newlines, in hex.
    pub hash: String,
    /// The canonical lines, sorted: each starts with `table NAME` or `index NAME`.
    pub objects: Vec<String>,
}

impl Fingerprint {
    /// The fingerprint of these lines (sorted and deduplicated here).
    pub fn of(lines: impl IntoIterator<Item = String>) -> Self {
        let objects: Vec<String> = lines.into_iter().collect::<BTreeSet<_>>().into_iter().collect();
        let digest = Sha256::digest(objects.join("\n").as_bytes());
        let hash = digest.iter().map(|b| format!("{b:02x}")).collect();
        Self { hash, objects }
    }

    /// The objects (`table NAME`, `index NAME`) whose lines differ between `self` and `other`.
    pub fn differing(&self, other: &Self) -> Vec<String> {
        let mine: BTreeSet<&String> = self.objects.iter().collect();
        let theirs: BTreeSet<&String> = other.objects.iter().collect();
        mine.symmetric_difference(&theirs).map(|line| object_of(line)).collect::<BTreeSet<_>>().into_iter().collect()
    }
}

/// `table NAME` or `index NAME` of a canonical line.
fn object_of(line: &str) -> String {
    line.splitn(3, ' ').take(2).collect::<Vec<_>>().join(" ")
}

/// How a fingerprint came to be recorded.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum How {
    /// What the migration made is what this tool's migration makes.
    Applied,
    /// What was found differs from what the migration would make from empty (found made by hand or
    /// by AICO, or accepted by `--repair`): recorded as found, not compared afterwards.
    Adopted,
}

impl How {
    /// Its name in the table and in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Applied => "applied",
            Self::Adopted => "adopted",
        }
    }

    /// How a migration whose objects are `found` is recorded, given what it makes from empty
    /// (`None` where it cannot run from empty: it adopts what AICO made).
    pub fn of(found: &Fingerprint, expected: Option<&Fingerprint>) -> Self {
        match expected {
            Some(e) if e.hash == found.hash => Self::Applied,
            _ => Self::Adopted,
        }
    }
}

/// A recorded fingerprint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// The migration.
    pub migration: String,
    /// What it made, when recorded.
    pub fingerprint: Fingerprint,
    /// Applied or adopted.
    pub how: How,
    /// The tool version that recorded it.
    pub tool_version: String,
    /// When, RFC 3339 UTC.
    pub recorded_at: String,
}

impl Record {
    /// Which version of this tool recorded it, and when: `version 0.1.0 of this tool at
    /// 2026-12-06T01:00:00Z`, for the message that says it no longer matches.
    pub fn recorded_by(&self) -> String {
        format!("version {} of this tool at {}", self.tool_version, self.recorded_at)
    }
}

/// What differs in a changed fingerprint ([`Check::Changed`]), for a message: the objects whose
/// lines differ; where no line differs, only the fingerprint (the lines were hashed otherwise, or
/// a line holds what reading it back does not show), that.
pub fn what_differs(objects: &[String]) -> String {
    if objects.is_empty() {
        "each of its object lines is the same, only its fingerprint differs: its definitions changed in a way \
         no line shows, or the fingerprint is computed otherwise now"
            .to_owned()
    } else {
        format!("{} differ", objects.join(", "))
    }
}

/// Lower case outside string literals, identifier quotes (`"x"`, `` `x` ``, `[x]`) removed,
/// whitespace collapsed to one space and removed around punctuation, `IF NOT EXISTS` dropped.
pub fn canonical_sql(sql: &str) -> String {
    const PUNCT: &str = "(),=<>+-*/|;.";
    let mut out = String::with_capacity(sql.len());
    let mut space = false;
    let mut chars = sql.chars().peekable();
    let push = |out: &mut String, s: &str, space: &mut bool| {
        let first = s.chars().next().unwrap_or(' ');
        if *space && !out.is_empty() && !out.ends_with(|c| PUNCT.contains(c)) && !PUNCT.contains(first) {
            out.push(' ');
        }
        *space = false;
        out.push_str(s);
    };
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                let mut lit = String::from("'");
                while let Some(d) = chars.next() {
                    lit.push(d);
                    if d == '\'' {
                        if chars.peek() == Some(&'\'') {
                            lit.push('\'');
                            chars.next();
                        } else {
                            break;
                        }
                    }
                }
                push(&mut out, &lit, &mut space);
            }
            '"' | '`' | '[' => {
                let close = if c == '[' { ']' } else { c };
                let mut ident = String::new();
                while let Some(d) = chars.next() {
                    if d == close {
                        if close != ']' && chars.peek() == Some(&close) {
                            ident.push(close);
                            chars.next();
                            continue;
                        }
                        break;
                    }
                    ident.extend(d.to_lowercase());
                }
                push(&mut out, &ident, &mut space);
            }
            c if c.is_whitespace() => space = true,
            c => push(&mut out, &c.to_lowercase().to_string(), &mut space),
        }
    }
    for kind in ["table", "index", "unique index"] {
        out = out.replacen(&format!("create {kind} if not exists "), &format!("create {kind} "), 1);
    }
    out
}

/// The items of a canonical `CREATE TABLE` (columns and table constraints), split at the
/// top-level commas of its body; `None` when it has no body.
fn table_items(canonical: &str) -> Option<Vec<String>> {
    let open = canonical.find('(')?;
    let close = canonical.rfind(')')?;
    let body = canonical.get(open + 1..close)?;
    let (mut items, mut item, mut depth, mut quoted) = (Vec::new(), String::new(), 0i32, false);
    for c in body.chars() {
        match c {
            '\'' => quoted = !quoted,
            '(' if !quoted => depth += 1,
            ')' if !quoted => depth -= 1,
            ',' if !quoted && depth == 0 => {
                items.push(std::mem::take(&mut item));
                continue;
            }
            _ => {}
        }
        item.push(c);
    }
    items.push(item);
    Some(items.into_iter().map(|i| i.trim().to_owned()).collect())
}

/// The canonical lines of `migration`'s objects on a database of `layout`, as `conn` holds them.
pub async fn read<C: ConnectionTrait>(conn: &C, layout: Layout, migration: &str) -> Result<Fingerprint, DbErr> {
    let catalog = catalog::catalog();
    let Some(entry) = catalog.entries(layout).into_iter().find(|e| e.migration == migration) else {
        return Ok(Fingerprint::of([]));
    };
    let facts = layout.facts().0;
    let dialect = Dialect::of_conn(conn)?;
    let mut lines = Vec::new();
    // Columns of the facts table that this migration adds (they count for it, not for the
    // table's migration), and those that others add.
    let (mine, skip) = catalog.facts_columns_added(migration);
    for table in entry.tables {
        let skip = if *table == facts { skip.as_slice() } else { &[] };
        lines.extend(table_lines(dialect, conn, table, skip).await?);
    }
    for column in mine {
        let all = table_lines(dialect, conn, facts, &[]).await?;
        lines.extend(all.into_iter().filter(|l| l.split(' ').nth(3).is_some_and(|w| w == column)));
    }
    for (index, _) in entry.indexes {
        lines.extend(index_line(dialect, conn, index).await?);
    }
    Ok(Fingerprint::of(lines))
}

fn stmt(dialect: Dialect, sql: &str, values: Vec<sea_orm_migration::sea_orm::Value>) -> Statement {
    Statement::from_sql_and_values(dialect.backend(), sql, values)
}

/// `table T column|item C ...` lines of `table`, leaving out the columns in `skip`.
async fn table_lines<C: ConnectionTrait>(
    dialect: Dialect,
    conn: &C,
    table: &str,
    skip: &[&str],
) -> Result<Vec<String>, DbErr> {
    let keep = |name: &str| !skip.contains(&name);
    let mut lines = Vec::new();
    match dialect {
        Dialect::Sqlite => {
            let sql = "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?";
            let Some(row) = conn.query_one_raw(stmt(dialect, sql, vec![table.into()])).await? else {
                return Ok(vec![format!("table {table} missing")]);
            };
            let create: String = row.try_get("", "sql")?;
            for item in table_items(&canonical_sql(&create)).unwrap_or_default() {
                if keep(item.split(' ').next().unwrap_or_default()) {
                    lines.push(format!("table {table} item {item}"));
                }
            }
            let sql = "SELECT name, lower(type) AS ty, \"notnull\" AS nn, dflt_value AS dflt, pk \
                       FROM pragma_table_info(?) ORDER BY cid";
            for row in conn.query_all_raw(stmt(dialect, sql, vec![table.into()])).await? {
                let name: String = row.try_get("", "name")?;
                let ty: String = row.try_get("", "ty")?;
                let nn: i64 = row.try_get("", "nn")?;
                let dflt: Option<String> = row.try_get("", "dflt")?;
                let pk: i64 = row.try_get("", "pk")?;
                if keep(&name) {
                    let dflt = dflt.map(|d| canonical_sql(&d)).unwrap_or_default();
                    lines.push(format!("table {table} column {name} {ty} notnull={nn} default={dflt} pk={pk}"));
                }
            }
        }
        Dialect::Postgres => {
            // The first table of that name on the search path, as a statement would find it.
            let rel = "to_regclass(quote_ident($1::text))";
            let sql = format!(
                "SELECT a.attname::text AS name, format_type(a.atttypid, a.atttypmod) AS ty, a.attnotnull AS nn, \
                 pg_get_expr(d.adbin, d.adrelid) AS dflt FROM pg_attribute a \
                 LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum \
                 WHERE a.attrelid = {rel} AND a.attnum > 0 AND NOT a.attisdropped"
            );
            let rows = conn.query_all_raw(stmt(dialect, &sql, vec![table.into()])).await?;
            if rows.is_empty() {
                return Ok(vec![format!("table {table} missing")]);
            }
            for row in rows {
                let name: String = row.try_get("", "name")?;
                let ty: String = row.try_get("", "ty")?;
                let nn: bool = row.try_get("", "nn")?;
                let dflt: Option<String> = row.try_get("", "dflt")?;
                if keep(&name) {
                    let dflt = dflt.unwrap_or_default();
                    lines.push(format!("table {table} column {name} {ty} notnull={nn} default={dflt}"));
                }
            }
            let sql =
                format!("SELECT pg_get_constraintdef(c.oid) AS def FROM pg_constraint c WHERE c.conrelid = {rel}");
            for row in conn.query_all_raw(stmt(dialect, &sql, vec![table.into()])).await? {
                let def: String = row.try_get("", "def")?;
                lines.push(format!("table {table} constraint {def}"));
            }
        }
    }
    Ok(lines)
}

/// The `index I ...` line of index `index` (`index I missing` when there is none).
async fn index_line<C: ConnectionTrait>(dialect: Dialect, conn: &C, index: &str) -> Result<Option<String>, DbErr> {
    let sql = match dialect {
        Dialect::Sqlite => "SELECT sql AS def FROM sqlite_master WHERE type = 'index' AND name = ?",
        Dialect::Postgres => {
            // The table's schema left out: its name, or `pg_temp` for the rehearsal's temporary one.
            "SELECT replace(replace(pg_get_indexdef(i.oid), ' ON ' || quote_ident(n.nspname) || '.', ' ON '), \
             ' ON pg_temp.', ' ON ') AS def \
             FROM pg_class i JOIN pg_namespace n ON n.oid = i.relnamespace \
             WHERE i.oid = to_regclass(quote_ident($1::text)) AND i.relkind = 'i'"
        }
    };
    let def = match conn.query_one_raw(stmt(dialect, sql, vec![index.into()])).await? {
        Some(row) => row.try_get::<Option<String>>("", "def")?.map(|d| canonical_sql(&d)),
        None => None,
    };
    Ok(Some(format!("index {index} {}", def.as_deref().unwrap_or("missing"))))
}

/// Which rehearsal: of one set of migrations, on one backend, for one layout.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Rehearsal {
    /// The migrator, by its type's name (its migrations are its code).
    migrator: &'static str,
    /// Where it is rehearsed: the SQLite library, or the PostgreSQL server of this URL.
    on: Option<String>,
    layout: Layout,
}

/// What sets of migrations make from empty, each rehearsed once ([`rehearse`]) and then kept: the
/// same for every run that shares this value (`aico-ams migrate` runs, then lists the status).
/// A clone shares the rehearsals done (and to be done) with the original.
#[derive(Clone, Debug, Default)]
pub struct Rehearsals(Arc<Mutex<HashMap<Rehearsal, Vec<Option<Fingerprint>>>>>);

impl Rehearsals {
    /// What each migration of `M` makes from empty on `target`'s backend and `layout`, in order
    /// ([`rehearse`]), rehearsed the first time it is asked.
    pub async fn of<M: MigratorTrait>(
        &self,
        target: &Target,
        layout: Layout,
    ) -> Result<Vec<Option<Fingerprint>>, DbErr> {
        let on = match target {
            Target::Sqlite { .. } => None,
            Target::Postgres { url, .. } => Some(url.clone()),
        };
        let key = Rehearsal { migrator: std::any::type_name::<M>(), on, layout };
        // A poisoned lock only means another rehearsal panicked; the map holds whole entries.
        if let Some(done) = self.0.lock().unwrap_or_else(|p| p.into_inner()).get(&key) {
            return Ok(done.clone());
        }
        let all = rehearse(target, layout, &M::migrations()).await?;
        self.0.lock().unwrap_or_else(|p| p.into_inner()).insert(key, all.clone());
        Ok(all)
    }
}

/// What each of `migrations` makes from empty on a database of `layout` (the backend of
/// `target`), in order: `None` for a migration that cannot run from empty there (on AICO's
/// layout, a phase adopted as AICO made it). Runs on a scratch database; changes nothing.
pub async fn rehearse(
    target: &Target,
    layout: Layout,
    migrations: &[Box<dyn MigrationTrait>],
) -> Result<Vec<Option<Fingerprint>>, DbErr> {
    if layout == Layout::AicoPostgres {
        // Every phase there is AICO's objects, adopted (or made with AICO's own statements): none
        // of them is made from empty.
        return Ok(vec![None; migrations.len()]);
    }
    let (url, dialect) = match target {
        Target::Sqlite { .. } => ("sqlite::memory:".to_owned(), Dialect::Sqlite),
        Target::Postgres { url, .. } => (url.clone(), Dialect::Postgres),
    };
    let mut opts = ConnectOptions::new(url);
    opts.max_connections(1).min_connections(1).sqlx_logging(false);
    let scratch: DatabaseConnection = Database::connect(opts).await?;
    let result = rehearse_on(&scratch, dialect, layout, migrations).await;
    scratch.close().await.ok();
    result
}

async fn rehearse_on(
    scratch: &DatabaseConnection,
    dialect: Dialect,
    layout: Layout,
    migrations: &[Box<dyn MigrationTrait>],
) -> Result<Vec<Option<Fingerprint>>, DbErr> {
    let txn = scratch.begin().await?;
    if dialect == Dialect::Postgres {
        // Everything the migrations make goes into this session's temporary schema.
        txn.execute_raw(dialect.stmt("SET LOCAL search_path TO pg_temp".to_owned())).await?;
    }
    if let Layout::Aico { version } = layout {
        txn.execute_raw(dialect.stmt(format!("CREATE TABLE {AICO_METADATA} (key TEXT PRIMARY KEY, value TEXT)")))
            .await?;
        txn.execute_raw(stmt(
            dialect,
            &format!("INSERT INTO {AICO_METADATA} (key, value) VALUES ('schema_version', {})", placeholder(dialect)),
            vec![version.to_string().into()],
        ))
        .await?;
    }
    let mut out = Vec::new();
    for migration in migrations {
        let step = txn.begin().await?;
        match migration.up(&SchemaManager::new(&step)).await {
            Ok(()) => {
                out.push(Some(read(&step, layout, migration.name()).await?));
                step.commit().await?;
            }
            Err(e) if layout == Layout::Seed => return Err(e),
            Err(_) => {
                step.rollback().await?;
                out.push(None);
            }
        }
    }
    txn.rollback().await?;
    Ok(out)
}

fn placeholder(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::Sqlite => "?",
        Dialect::Postgres => "$1",
    }
}

/// Create the fingerprint table when it does not exist.
pub async fn install<C: ConnectionTrait>(conn: &C) -> Result<(), DbErr> {
    let dialect = Dialect::of_conn(conn)?;
    conn.execute_raw(dialect.stmt(format!(
        "CREATE TABLE IF NOT EXISTS {TABLE} (migration TEXT NOT NULL PRIMARY KEY, fingerprint TEXT NOT NULL, \
         how TEXT NOT NULL CHECK (how IN ('applied', 'adopted')), objects TEXT NOT NULL, \
         tool_version TEXT NOT NULL, recorded_at TEXT NOT NULL)"
    )))
    .await?;
    Ok(())
}

/// Drop the fingerprint table (with `reset`).
pub async fn uninstall<C: ConnectionTrait>(conn: &C) -> Result<(), DbErr> {
    conn.execute_raw(Dialect::of_conn(conn)?.stmt(format!("DROP TABLE IF EXISTS {TABLE}"))).await?;
    Ok(())
}

/// Every recorded fingerprint by migration; empty when the table does not exist. Reads only.
pub async fn records<C: ConnectionTrait>(conn: &C) -> Result<BTreeMap<String, Record>, DbErr> {
    let dialect = Dialect::of_conn(conn)?;
    if dialect.column_names(conn, TABLE).await?.is_empty() {
        return Ok(BTreeMap::new());
    }
    let sql = format!("SELECT migration, fingerprint, how, objects, tool_version, recorded_at FROM {TABLE}");
    let mut out = BTreeMap::new();
    for row in conn.query_all_raw(dialect.stmt(sql)).await? {
        let migration: String = row.try_get("", "migration")?;
        let objects: String = row.try_get("", "objects")?;
        let how: String = row.try_get("", "how")?;
        let record = Record {
            migration: migration.clone(),
            fingerprint: Fingerprint {
                hash: row.try_get("", "fingerprint")?,
                objects: objects.lines().map(str::to_owned).collect(),
            },
            how: if how == How::Applied.as_str() { How::Applied } else { How::Adopted },
            tool_version: row.try_get("", "tool_version")?,
            recorded_at: row.try_get("", "recorded_at")?,
        };
        out.insert(migration, record);
    }
    Ok(out)
}

/// Record (or re-record) `migration`'s fingerprint. The table must exist.
pub async fn record<C: ConnectionTrait>(
    conn: &C,
    migration: &str,
    fingerprint: &Fingerprint,
    how: How,
) -> Result<(), DbErr> {
    forget(conn, migration).await?;
    let dialect = Dialect::of_conn(conn)?;
    let marks = match dialect {
        Dialect::Sqlite => "?, ?, ?, ?, ?, ?",
        Dialect::Postgres => "$1, $2, $3, $4, $5, $6",
    };
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let sql = format!(
        "INSERT INTO {TABLE} (migration, fingerprint, how, objects, tool_version, recorded_at) VALUES ({marks})"
    );
    let values = vec![
        migration.into(),
        fingerprint.hash.clone().into(),
        how.as_str().into(),
        fingerprint.objects.join("\n").into(),
        TOOL_VERSION.into(),
        now.into(),
    ];
    conn.execute_raw(stmt(dialect, &sql, values)).await?;
    Ok(())
}

/// Remove `migration`'s record (it was rolled back). The table must exist.
pub async fn forget<C: ConnectionTrait>(conn: &C, migration: &str) -> Result<(), DbErr> {
    let dialect = Dialect::of_conn(conn)?;
    let sql = format!("DELETE FROM {TABLE} WHERE migration = {}", placeholder(dialect));
    conn.execute_raw(stmt(dialect, &sql, vec![migration.into()])).await?;
    Ok(())
}

/// The check of one applied migration's recorded fingerprint against what this tool makes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Check {
    /// Recorded as applied, and the migration still makes the same objects.
    Matches,
    /// Recorded as applied, and the migration now makes other objects: these differ (none where
    /// only the fingerprint differs: see [`what_differs`]).
    Changed(Vec<String>),
    /// Applied before fingerprints existed: the next `up` records it.
    NotRecorded,
    /// Adopted: recorded as found, not compared with what the migration makes from empty.
    NotCompared,
}

impl Check {
    /// Its name in reports: `matches`, `changed`, `not recorded`, `not compared`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Matches => "matches",
            Self::Changed(_) => "changed",
            Self::NotRecorded => "not recorded",
            Self::NotCompared => "not compared",
        }
    }

    /// The check of `record` against `expected` (what the migration makes from empty).
    pub fn of(record: Option<&Record>, expected: Option<&Fingerprint>) -> Self {
        match (record, expected) {
            (None, _) => Self::NotRecorded,
            (Some(r), _) if r.how == How::Adopted => Self::NotCompared,
            (Some(_), None) => Self::NotCompared,
            (Some(r), Some(e)) if r.fingerprint.hash == e.hash => Self::Matches,
            (Some(r), Some(e)) => Self::Changed(r.fingerprint.differing(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spelling_does_not_matter() {
        let a =
            canonical_sql("CREATE INDEX IF NOT EXISTS \"idx_a\" ON \"t\" ( json_extract(\"m\", '$.A b') , x DESC )");
        let b = canonical_sql("create index [idx_a] on `T`(JSON_EXTRACT(m,'$.A b'),x desc)");
        assert_eq!(a, b);
        assert_eq!(a, "create index idx_a on t(json_extract(m,'$.A b'),x desc)");
    }

    #[test]
    fn literals_keep_their_case_and_spaces() {
        assert_eq!(canonical_sql("CHECK (k IN ('Base',  'It''s'))"), "check(k in('Base','It''s'))");
    }

    #[test]
    fn table_items_are_split_at_top_level_commas() {
        let items = table_items(&canonical_sql("CREATE TABLE t (a TEXT, b REAL DEFAULT (1, 2), CHECK (a IN ('x,y')))"));
        assert_eq!(items, Some(vec!["a text".into(), "b real default(1,2)".into(), "check(a in('x,y'))".into()]));
    }

    /// The AMS's migrations under a type of this test's alone.
    struct Once;

    impl MigratorTrait for Once {
        fn migrations() -> Vec<Box<dyn MigrationTrait>> {
            crate::Migrator::migrations()
        }
    }

    #[tokio::test]
    async fn a_set_of_migrations_is_rehearsed_once_per_value() {
        let dir = tempfile::tempdir().expect("temp dir");
        let target = Target::from_url(&format!("sqlite://{}", dir.path().join("a.db").display())).expect("target");
        let rehearsals = Rehearsals::default();
        let made = rehearsals.of::<Once>(&target, Layout::Seed).await.expect("rehearsal");
        assert!(made[0].is_some(), "the first migration runs from empty");
        // What a clone hears comes from the first rehearsal, not from a new one.
        let key = Rehearsal { migrator: std::any::type_name::<Once>(), on: None, layout: Layout::Seed };
        rehearsals.0.lock().expect("rehearsals").get_mut(&key).expect("kept").fill(None);
        let again = rehearsals.clone().of::<Once>(&target, Layout::Seed).await.expect("rehearsal");
        assert_eq!(again[0], None);
        // Another value rehearses again.
        let fresh = Rehearsals::default().of::<Once>(&target, Layout::Seed).await.expect("rehearsal");
        assert!(fresh[0].is_some());
    }

    #[test]
    fn a_difference_names_the_objects() {
        let a = Fingerprint::of(["index i create index i on t(a)".to_owned(), "table t item a text".to_owned()]);
        let b = Fingerprint::of(["index i create index i on t(b)".to_owned(), "table t item a text".to_owned()]);
        assert_ne!(a.hash, b.hash);
        assert_eq!(a.differing(&b), vec!["index i".to_owned()]);
    }
}
