//! `aico db verify`: every verification query of the seed, plus the checks the seed leaves to the
//! reader — valid metadata, the real query plan, and a live schema that matches the migrations.

use migration::catalog::CATALOG;
use migration::runner;
use sea_orm::sea_query::ColumnType;
use sea_orm::{ColumnTrait, EntityTrait, IdenStatic, Iterable};
use serde::Serialize;

use crate::db::Db;
use crate::error::AppError;

/// Keys every temporal metadata value must have (non-null).
const REQUIRED_KEYS: [&str; 6] =
    ["created_at", "last_updated", "last_accessed", "access_count", "confidence", "version"];

/// How a check came out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// It holds.
    Pass,
    /// It does not: `verify` exits 1.
    Fail,
    /// It does not apply (its migration is not applied).
    Skip,
}

/// One check and its outcome.
#[derive(Clone, Debug, Serialize)]
pub struct Check {
    /// What was checked.
    pub name: String,
    /// The outcome.
    pub status: Status,
    /// What was found, one line per finding.
    pub details: Vec<String>,
}

/// The outcome of `aico db verify`.
#[derive(Clone, Debug, Serialize)]
pub struct VerifyReport {
    /// The SQL database (password hidden), when it was checked.
    pub target: Option<String>,
    /// True when no check failed.
    pub passed: bool,
    /// Every check, in order.
    pub checks: Vec<Check>,
}

fn check(name: &str, status: Status, details: Vec<String>) -> Check {
    Check { name: name.to_owned(), status, details }
}

/// Run every check on `db`.
pub async fn verify(db: &Db) -> Result<VerifyReport, AppError> {
    let applied: Vec<String> = runner::status(&db.conn, &db.target)
        .await?
        .into_iter()
        .filter(|m| m.applied_at.is_some())
        .map(|m| m.name)
        .collect();
    let is_applied = |name: &str| applied.iter().any(|a| a == name);
    let d = db.dialect;
    let mut checks = Vec::new();

    // Seed: PRAGMA table_info(semantic_facts) -- the column exists.
    let column = d.column_type(&db.conn, "semantic_facts", "temporal_metadata").await.map_err(|e| db.error(e))?;
    let has_column = column.is_some();
    checks.push(match column {
        Some(ty) => {
            check("temporal_metadata column", Status::Pass, vec![format!("semantic_facts.temporal_metadata ({ty})")])
        }
        None => check(
            "temporal_metadata column",
            Status::Fail,
            vec!["semantic_facts has no temporal_metadata column: run `aico db migrate`".into()],
        ),
    });

    if has_column {
        // Seed: facts with temporal metadata.
        let rows = db.rows("SELECT COUNT(*) AS n, COUNT(temporal_metadata) AS m FROM semantic_facts").await?;
        let (total, with): (i64, i64) = match rows.first() {
            Some(r) => (r.try_get("", "n").map_err(|e| db.error(e))?, r.try_get("", "m").map_err(|e| db.error(e))?),
            None => (0, 0),
        };
        checks.push(check("facts with temporal metadata", Status::Pass, vec![format!("{with} of {total}")]));

        // Seed: sample temporal metadata.
        let sample = db
            .rows(&format!(
                "SELECT CAST(id AS TEXT) AS id, {} AS created, CAST({} AS TEXT) AS confidence, CAST({} AS TEXT) AS accesses \
                 FROM semantic_facts WHERE temporal_metadata IS NOT NULL ORDER BY id LIMIT 5",
                d.json_text("temporal_metadata", "created_at"),
                d.json_number("temporal_metadata", "confidence"),
                d.json_text("temporal_metadata", "access_count"),
            ))
            .await;
        let details = match sample {
            Ok(rows) => rows
                .iter()
                .map(|r| {
                    let get =
                        |c: &str| r.try_get::<Option<String>>("", c).ok().flatten().unwrap_or_else(|| "null".into());
                    format!(
                        "{}: created {}, confidence {}, accesses {}",
                        get("id"),
                        get("created"),
                        get("confidence"),
                        get("accesses")
                    )
                })
                .collect(),
            Err(e) => vec![format!("cannot read samples: {e}")],
        };
        checks.push(check("sample temporal metadata", Status::Pass, details));

        // Every value is a JSON object with the required keys.
        let bad = db
            .rows(&format!(
                "SELECT CAST(id AS TEXT) AS id FROM semantic_facts WHERE {} ORDER BY id LIMIT 11",
                d.json_object_lacking("temporal_metadata", &REQUIRED_KEYS)
            ))
            .await;
        checks.push(match bad {
            Ok(rows) if rows.is_empty() => check(
                "temporal metadata is valid",
                Status::Pass,
                vec![format!("every value is a JSON object with {}", REQUIRED_KEYS.join(", "))],
            ),
            Ok(rows) => {
                let mut ids: Vec<String> = rows.iter().filter_map(|r| r.try_get::<String>("", "id").ok()).collect();
                let more = ids.len() > 10;
                ids.truncate(10);
                check(
                    "temporal metadata is valid",
                    Status::Fail,
                    vec![format!(
                        "not a JSON object with {}: fact {}{}",
                        REQUIRED_KEYS.join(", "),
                        ids.join(", "),
                        if more { ", ..." } else { "" }
                    )],
                )
            }
            Err(e) => check("temporal metadata is valid", Status::Fail, vec![format!("cannot check: {e}")]),
        });

        // Seed: EXPLAIN QUERY PLAN. SQLite really says SCAN ... USING INDEX (the seed's SEARCH is wrong).
        let query = format!(
            "SELECT * FROM semantic_facts WHERE {} > 0.5 ORDER BY {} DESC LIMIT 10",
            d.json_number("temporal_metadata", "confidence"),
            d.json_text("temporal_metadata", "last_accessed")
        );
        let plan = d.query_plan(&db.conn, &query).await.map_err(|e| db.error(e))?;
        let uses = plan.iter().any(|l| l.contains("idx_semantic_facts_temporal"));
        checks.push(check(
            "temporal query uses idx_semantic_facts_temporal",
            if uses { Status::Pass } else { Status::Fail },
            plan,
        ));
    }

    // Seed: consolidation_state exists, and its latest state.
    if is_applied("m0002_consolidation_state") {
        if db.has_table("consolidation_state").await? {
            checks.push(check("consolidation_state present", Status::Pass, vec![]));
            let rows = db
                .rows(&format!(
                    "SELECT id, {} AS status, {} AS last_run, CAST(updated_at AS TEXT) AS updated_at \
                     FROM consolidation_state ORDER BY updated_at DESC LIMIT 1",
                    d.json_text("state_json", "status"),
                    d.json_text("state_json", "last_run")
                ))
                .await?;
            let details = rows
                .iter()
                .map(|r| {
                    let get =
                        |c: &str| r.try_get::<Option<String>>("", c).ok().flatten().unwrap_or_else(|| "null".into());
                    format!(
                        "{}: status {}, last run {}, updated {}",
                        get("id"),
                        get("status"),
                        get("last_run"),
                        get("updated_at")
                    )
                })
                .collect::<Vec<_>>();
            let details = if details.is_empty() { vec!["no consolidation has run yet".into()] } else { details };
            checks.push(check("latest consolidation state", Status::Pass, details));
        } else {
            checks.push(check(
                "consolidation_state present",
                Status::Fail,
                vec!["m0002 is recorded as applied but the table is missing".into()],
            ));
        }
    } else {
        checks.push(check("consolidation_state present", Status::Skip, vec!["Phase 2 (m0002) is not applied".into()]));
    }

    // Phase 3 tables, and every index of every applied migration.
    for entry in CATALOG {
        let name = format!("{} objects", entry.migration);
        if !is_applied(entry.migration) {
            checks.push(check(&name, Status::Skip, vec!["not applied".into()]));
            continue;
        }
        let mut missing = Vec::new();
        for table in entry.tables {
            if !db.has_table(table).await? {
                missing.push(format!("table {table} is missing"));
            }
        }
        for (index, table) in entry.indexes {
            if !d.has_index(&db.conn, index).await.map_err(|e| db.error(e))? {
                missing.push(format!("index {index} on {table} is missing"));
            }
        }
        checks.push(if missing.is_empty() {
            check(&name, Status::Pass, vec![format!("{} tables, {} indexes", entry.tables.len(), entry.indexes.len())])
        } else {
            check(&name, Status::Fail, missing)
        });
    }

    // Drift: every column the models (generated from the migrations) expect is in the live schema.
    let mut drift = Vec::new();
    let mut expected = Vec::new();
    columns_of::<entity::semantic_facts::Entity>(&mut expected);
    columns_of::<entity::consolidation_state::Entity>(&mut expected);
    columns_of::<entity::skills::Entity>(&mut expected);
    columns_of::<entity::user_skill_confidence::Entity>(&mut expected);
    columns_of::<entity::context_skill_stats::Entity>(&mut expected);
    columns_of::<entity::context_preference_vectors::Entity>(&mut expected);
    columns_of::<entity::feedback_events::Entity>(&mut expected);
    columns_of::<entity::trajectories::Entity>(&mut expected);
    for (table, column, _) in &expected {
        let owner = CATALOG.iter().find(|e| e.tables.contains(table));
        let column_migration =
            if *column == "temporal_metadata" { Some("m0001_temporal_metadata") } else { owner.map(|e| e.migration) };
        if column_migration.is_some_and(|m| !is_applied(m)) {
            continue;
        }
        if d.column_type(&db.conn, table, column).await.map_err(|e| db.error(e))?.is_none() {
            drift.push(format!("column {table}.{column} is missing"));
        }
    }
    checks.push(if drift.is_empty() {
        check("schema matches the migrations", Status::Pass, vec![format!("{} columns checked", expected.len())])
    } else {
        check("schema matches the migrations", Status::Fail, drift)
    });

    let passed = checks.iter().all(|c| c.status != Status::Fail);
    Ok(VerifyReport { target: Some(db.target.to_string()), passed, checks })
}

/// Run `aico db verify` on the chosen stores: the SQL checks above, and for LMDB and Chroma their
/// coverage and bad values. A store that cannot be reached fails its check.
pub async fn run(args: &crate::cli::ReportArgs) -> Result<VerifyReport, AppError> {
    use crate::stores::{StoreChoice, with_chroma, with_working_memory};
    let mut report = VerifyReport { target: None, passed: true, checks: Vec::new() };
    if args.stores.includes(StoreChoice::Sql) {
        let db = Db::open(&args.common).await?;
        if !args.common.json {
            println!("target: {}", db.target);
        }
        report = verify(&db).await?;
        db.conn.close().await.ok();
    }
    if args.stores.includes(StoreChoice::Lmdb) {
        let outcome = with_working_memory(args.stores.working_dir(), |m| m.health(chrono::Utc::now()));
        report.checks.push(match outcome.done() {
            Some(h) if h.bad_count == 0 => check(
                "working memory (LMDB)",
                Status::Pass,
                vec![format!(
                    "{} of {} entries with temporal metadata ({:.2}%), {} expired",
                    h.with_temporal, h.entries, h.coverage_percent, h.expired
                )],
            ),
            Some(h) => check(
                "working memory (LMDB)",
                Status::Fail,
                h.bad_entries.iter().take(10).map(|e| format!("{}: {}", e.key, e.reason)).collect(),
            ),
            None => check("working memory (LMDB)", Status::Fail, vec![outcome.problem().unwrap_or_default()]),
        });
    }
    if args.stores.includes(StoreChoice::Chroma) {
        let outcome = with_chroma(args.stores.chroma(), |c| async move { c.health().await }).await;
        report.checks.push(match outcome.done() {
            Some(h) if h.bad_count == 0 => check(
                "semantic memory (Chroma)",
                Status::Pass,
                vec![format!("{} of {} records with temporal fields", h.with_temporal, h.records)],
            ),
            Some(h) => check(
                "semantic memory (Chroma)",
                Status::Fail,
                h.bad_records.iter().take(10).map(|b| format!("{}: {}", b.id, b.reason)).collect(),
            ),
            None => check("semantic memory (Chroma)", Status::Fail, vec![outcome.problem().unwrap_or_default()]),
        });
    }
    report.passed = report.checks.iter().all(|c| c.status != Status::Fail);
    Ok(report)
}

/// (table, column, type) of every column of entity `E`.
fn columns_of<E: EntityTrait>(out: &mut Vec<(&'static str, &'static str, ColumnType)>) {
    let table = E::default().table_name();
    for c in E::Column::iter() {
        out.push((table, c.as_str(), c.def().get_column_type().clone()));
    }
}

impl std::fmt::Display for VerifyReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for c in &self.checks {
            let mark = match c.status {
                Status::Pass => "pass",
                Status::Fail => "FAIL",
                Status::Skip => "skip",
            };
            writeln!(f, "{mark}  {}", c.name)?;
            for d in &c.details {
                writeln!(f, "        {d}")?;
            }
        }
        writeln!(f, "{}", if self.passed { "verify: all checks passed" } else { "verify: FAILED" })
    }
}
