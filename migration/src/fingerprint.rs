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
use sea_orm_migration::sea_orm::{ConnectionTrait, DatabaseConnection, TransactionTrait};
use sha2::{Digest, Sha256};

use crate::catalog::{self, AICO_METADATA, Layout};
use crate::dialect::{bound, index_line, marks, rehearsal_scope, table_lines};
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
    let scratch = target.connect_scratch().await.map_err(|e| DbErr::Custom(e.to_string()))?;
    let result = match Dialect::of_conn(&scratch) {
        Ok(dialect) => rehearse_on(&scratch, dialect, layout, migrations).await,
        Err(e) => Err(e),
    };
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
    if let Some(scope) = rehearsal_scope(dialect) {
        // Everything the migrations make goes where it vanishes with the transaction.
        txn.execute_raw(scope).await?;
    }
    if let Layout::Aico { version } = layout {
        txn.execute_raw(dialect.stmt(format!("CREATE TABLE {AICO_METADATA} (key TEXT PRIMARY KEY, value TEXT)")))
            .await?;
        txn.execute_raw(bound(
            dialect,
            &format!("INSERT INTO {AICO_METADATA} (key, value) VALUES ('schema_version', {})", marks(dialect, 1)),
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
    let marks = marks(dialect, 6);
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
    conn.execute_raw(bound(dialect, &sql, values)).await?;
    Ok(())
}

/// Remove `migration`'s record (it was rolled back). The table must exist.
pub async fn forget<C: ConnectionTrait>(conn: &C, migration: &str) -> Result<(), DbErr> {
    let dialect = Dialect::of_conn(conn)?;
    let sql = format!("DELETE FROM {TABLE} WHERE migration = {}", marks(dialect, 1));
    conn.execute_raw(bound(dialect, &sql, vec![migration.into()])).await?;
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
