//! AICO's foreign keys set aside for a bulk write, and put back exactly as they were, checked.
//! PostgreSQL only; the sibling of [`super::indexes`].
//!
//! A row written under a foreign key is checked at once, one lookup (and one row lock) in the
//! parent table per row: for 300,000 facts under `ams_user_memories`' key to `user_profiles` about
//! 3.6 s, where checking them all at the end is one join. When a write is large and its rows'
//! parents have been checked already (the move refuses a fact whose user is missing), the table's
//! valid foreign keys are recorded in `aico_ams.parked_foreign_keys` (committed first) and dropped;
//! after the write each is added again `NOT VALID` and then validated (one scan of the table,
//! while AICO reads and writes it), checked (valid, the same definition), and only then its record
//! is deleted. A run that finds a record (one killed half-way) finishes what it says.
//!
//! A definition is read as `pg_get_constraintdef` prints it with only `pg_catalog` on the search
//! path, so the parent table's name in it is schema-qualified. Names are the catalog's, each
//! quoted; nothing from a flag or the environment is pasted.

use aico_connect::dialect::Dialect;
use aico_connect::target::{OWN_PG_SCHEMA, quote_ident};
use sea_orm::{
    ConnectionTrait, DbBackend, DbErr, RuntimeErr, SqlxError, SqlxPostgresError, Statement, TransactionTrait,
};

use super::indexes::{IndexPlan, in_catalog, record_exists};
use crate::error::AppError;
use crate::sql::Db;

/// Our record of the foreign keys set aside, in our own schema.
pub const PARKED: &str = "parked_foreign_keys";

/// A foreign key of a table, as the catalog has it (or as it was recorded).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ForeignKey {
    /// The schema of its table.
    pub schema: String,
    /// Its table.
    pub table: String,
    /// Its name.
    pub name: String,
    /// `pg_get_constraintdef`: `FOREIGN KEY (user_id) REFERENCES aico_core.user_profiles(uuid) ...`
    /// (with ` NOT VALID` at the end while it is not validated).
    pub definition: String,
    /// `pg_constraint.convalidated`.
    pub valid: bool,
}

impl ForeignKey {
    fn is(&self, other: &ForeignKey) -> bool {
        (&self.schema, &self.table, &self.name) == (&other.schema, &other.table, &other.name)
    }

    /// Whether this is `recorded`, there and validated, as it was.
    fn is_back(&self, recorded: &ForeignKey) -> bool {
        self.is(recorded) && self.valid && self.definition == recorded.definition
    }

    /// `schema.table`, quoted.
    fn table_sql(&self) -> String {
        format!("{}.{}", quote_ident(&self.schema), quote_ident(&self.table))
    }
}

/// What became of a table's foreign keys before a bulk write ([`set_aside_for`]).
#[derive(Clone, Debug)]
pub struct Aside {
    /// The recorded ones to put back ([`put_back`]); empty: they stayed.
    pub recorded: Vec<ForeignKey>,
    /// What they go through.
    pub plan: IndexPlan,
}

/// Before a bulk write into `table` (as a statement names it): set its valid foreign keys aside
/// when `worth` it (recorded first, then dropped), or go on with what an earlier run left.
pub async fn set_aside_for(db: &Db, table: &str, worth: bool) -> Result<Aside, AppError> {
    let now = foreign_keys(db, table).await?;
    let plan = if now.is_empty() { IndexPlan::Absent } else { IndexPlan::Kept };
    let recorded = parked(db, &now, table).await?;
    if recorded.is_empty() {
        // One AICO left unvalidated stays as it is: validating it is not ours to do.
        let valid: Vec<ForeignKey> = now.iter().filter(|k| k.valid).cloned().collect();
        if !worth || valid.is_empty() {
            return Ok(Aside { recorded, plan });
        }
        record(db, &valid).await?;
        for k in &valid {
            drop_key(db, Some(k), k).await?;
        }
        return Ok(Aside { recorded: valid, plan: IndexPlan::Rebuilt });
    }
    let all_back = recorded.iter().all(|r| now.iter().any(|k| k.is_back(r)));
    if all_back && !worth {
        return Ok(Aside { recorded, plan });
    }
    for r in &recorded {
        drop_key(db, now.iter().find(|k| k.is(r)), r).await?;
    }
    Ok(Aside { recorded, plan: IndexPlan::Rebuilt })
}

/// After the write: each recorded key added again (`NOT VALID`, then validated) unless it is back,
/// all checked, and their record deleted. The seconds that took.
pub async fn put_back(db: &Db, table: &str, aside: &Aside) -> Result<f64, AppError> {
    if aside.recorded.is_empty() {
        return Ok(0.0);
    }
    let began = std::time::Instant::now();
    let now = foreign_keys(db, table).await?;
    for r in &aside.recorded {
        let here = now.iter().find(|k| k.is(r));
        if here.is_some_and(|k| k.is_back(r)) {
            continue;
        }
        let unvalidated = format!("{} NOT VALID", r.definition);
        if here.is_none_or(|k| k.definition != unvalidated) {
            drop_key(db, here, r).await?;
            let add = format!("ALTER TABLE {} ADD CONSTRAINT {} {unvalidated}", r.table_sql(), quote_ident(&r.name));
            alter_key(db, r, add, "added back").await?;
        }
        tracing::info!(table = %r.table, foreign_key = %r.name, "validating AICO's foreign key again");
        let validate = format!("ALTER TABLE {} VALIDATE CONSTRAINT {}", r.table_sql(), quote_ident(&r.name));
        // A row written meanwhile whose parent is missing (AICO ran during the move) fails it.
        alter_key(db, r, validate, "validated").await?;
    }
    let now = foreign_keys(db, table).await?;
    for r in &aside.recorded {
        match now.iter().find(|k| k.is(r)) {
            Some(k) if k.is_back(r) => {}
            Some(k) => {
                return Err(error(db, r, format!("was put back as `{}` (valid: {})", k.definition, k.valid)));
            }
            None => return Err(error(db, r, "is missing after it was put back".into())),
        }
    }
    let txn = db.conn.begin().await.map_err(|e| db.error(e))?;
    for r in &aside.recorded {
        txn.execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            format!("DELETE FROM {OWN_PG_SCHEMA}.{PARKED} WHERE table_schema = $1 AND table_name = $2 AND name = $3"),
            [r.schema.clone().into(), r.table.clone().into(), r.name.clone().into()],
        ))
        .await
        .map_err(|e| db.error(e))?;
    }
    txn.commit().await.map_err(|e| db.error(e))?;
    Ok(began.elapsed().as_secs_f64())
}

/// The foreign keys of `table` (through the search path); none when there is no such table.
async fn foreign_keys(db: &Db, table: &str) -> Result<Vec<ForeignKey>, AppError> {
    let rows = in_catalog(
        &db.conn,
        table,
        "SELECT n.nspname AS schema, t.relname::text AS table, k.conname::text AS name, \
         pg_get_constraintdef(k.oid) AS definition, k.convalidated AS valid \
         FROM pg_constraint k JOIN pg_class t ON t.oid = k.conrelid JOIN pg_namespace n ON n.oid = t.relnamespace \
         WHERE k.conrelid = CAST($1 AS oid) AND k.contype = 'f' AND $2::text IS NULL ORDER BY k.conname",
        Option::<String>::None.into(),
    )
    .await
    .map_err(|e| db.error(e))?;
    rows.iter()
        .map(|r| {
            Ok(ForeignKey {
                schema: r.try_get("", "schema")?,
                table: r.try_get("", "table")?,
                name: r.try_get("", "name")?,
                definition: r.try_get("", "definition")?,
                valid: r.try_get("", "valid")?,
            })
        })
        .collect::<Result<_, DbErr>>()
        .map_err(|e| db.error(e))
}

/// The keys recorded for `table` by an earlier run (its schema and name as the catalog or, once
/// the table is gone, nothing has them).
async fn parked(db: &Db, now: &[ForeignKey], table: &str) -> Result<Vec<ForeignKey>, AppError> {
    if !record_exists(db, PARKED).await? {
        return Ok(Vec::new());
    }
    let parked = format!("{OWN_PG_SCHEMA}.{PARKED}");
    // The table's schema and name as the catalog has them (the keys still there tell, else the
    // catalog itself).
    let named = match now.first() {
        Some(k) => Some((k.schema.clone(), k.table.clone())),
        None => {
            let rows = in_catalog(
                &db.conn,
                table,
                "SELECT n.nspname AS schema, t.relname::text AS table FROM pg_class t \
                 JOIN pg_namespace n ON n.oid = t.relnamespace WHERE t.oid = CAST($1 AS oid) AND $2::text IS NULL",
                Option::<String>::None.into(),
            )
            .await
            .map_err(|e| db.error(e))?;
            rows.first()
                .map(|r| Ok::<_, DbErr>((r.try_get("", "schema")?, r.try_get("", "table")?)))
                .transpose()
                .map_err(|e| db.error(e))?
        }
    };
    let Some((schema, name)) = named else { return Ok(Vec::new()) };
    let rows = db
        .conn
        .query_all_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            format!("SELECT name, definition FROM {parked} WHERE table_schema = $1 AND table_name = $2 ORDER BY name"),
            [schema.clone().into(), name.clone().into()],
        ))
        .await
        .map_err(|e| db.error(e))?;
    rows.iter()
        .map(|r| {
            Ok(ForeignKey {
                schema: schema.clone(),
                table: name.clone(),
                name: r.try_get("", "name")?,
                definition: r.try_get("", "definition")?,
                valid: true,
            })
        })
        .collect::<Result<_, DbErr>>()
        .map_err(|e| db.error(e))
}

/// Record `keys` (our table made when missing), in one transaction committed before any is dropped.
async fn record(db: &Db, keys: &[ForeignKey]) -> Result<(), AppError> {
    let parked = format!("{OWN_PG_SCHEMA}.{PARKED}");
    db.rows(&format!(
        "CREATE TABLE IF NOT EXISTS {parked} (table_schema TEXT NOT NULL, table_name TEXT NOT NULL, \
         name TEXT NOT NULL, definition TEXT NOT NULL, \
         parked_at TIMESTAMPTZ NOT NULL DEFAULT CURRENT_TIMESTAMP, PRIMARY KEY (table_schema, table_name, name))"
    ))
    .await?;
    let txn = db.conn.begin().await.map_err(|e| db.error(e))?;
    for k in keys {
        txn.execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            format!("INSERT INTO {parked} (table_schema, table_name, name, definition) VALUES ($1, $2, $3, $4)"),
            [k.schema.clone().into(), k.table.clone().into(), k.name.clone().into(), k.definition.clone().into()],
        ))
        .await
        .map_err(|e| db.error(e))?;
    }
    txn.commit().await.map_err(|e| db.error(e))?;
    for k in keys {
        tracing::info!(table = %k.table, foreign_key = %k.name, definition = %k.definition, "recorded AICO's foreign key before setting it aside");
    }
    Ok(())
}

/// Drop the recorded key `r` as it is `now` (valid, or added back but not yet validated); a valid
/// key whose definition is not the recorded one is refused (someone changed it).
async fn drop_key(db: &Db, now: Option<&ForeignKey>, r: &ForeignKey) -> Result<(), AppError> {
    let Some(now) = now else { return Ok(()) };
    if now.valid && now.definition != r.definition {
        return Err(error(
            db,
            r,
            format!("is now `{}`, not the recorded `{}`: left as it is", now.definition, r.definition),
        ));
    }
    execute(db, format!("ALTER TABLE {} DROP CONSTRAINT IF EXISTS {}", r.table_sql(), quote_ident(&r.name))).await?;
    tracing::info!(table = %r.table, foreign_key = %r.name, "set AICO's foreign key aside");
    Ok(())
}

/// Our own DDL, with the catalog's names, each quoted.
async fn execute(db: &Db, sql: String) -> Result<(), AppError> {
    db.conn.execute_raw(Dialect::Postgres.stmt(sql)).await.map(|_| ()).map_err(|e| db.error(e))
}

/// Our DDL putting the recorded key `r` back; a failure names the key and what PostgreSQL said of
/// it, with its detail: the row that breaks it (`Key (user_id)=(x) is not present in table ...`).
async fn alter_key(db: &Db, r: &ForeignKey, sql: String, what: &str) -> Result<(), AppError> {
    db.conn.execute_raw(Dialect::Postgres.stmt(sql)).await.map(|_| ()).map_err(|e| {
        let detail = pg_detail(&e).map(|d| format!(" ({d})")).unwrap_or_default();
        error(db, r, format!("could not be {what}: {e}{detail}"))
    })
}

/// PostgreSQL's `DETAIL` of a failed statement, when it gave one.
fn pg_detail(e: &DbErr) -> Option<String> {
    let (DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e))) = e else { return None };
    let SqlxError::Database(e) = &**e else { return None };
    e.try_downcast_ref::<SqlxPostgresError>()?.detail().map(str::to_owned)
}

fn error(db: &Db, k: &ForeignKey, detail: String) -> AppError {
    AppError::AicoIndex {
        target: db.target.to_string(),
        index: format!("foreign key {} of {}.{}", k.name, k.schema, k.table),
        detail,
        record: format!("{OWN_PG_SCHEMA}.{PARKED}"),
    }
}
