//! Fingerprints of applied migrations, on every backend, through the library: a migration changed
//! after it was applied stops `up` before any change, naming what differs, and shows in `status`
//! (so does a fingerprint that differs over the same lines); `repair` re-records;
//! an old database is recorded once; two concurrent `up`s record once; the same objects spelled
//! differently raise nothing; a PostgreSQL role that cannot create schemas migrates.

use aico_connect::dialect::Dialect;
use aico_tests::{Backend, TestDb, applied, column_of, exec, schema};
use migration::fingerprint::{Check, How};
use migration::runner::{self, Command, Progress, Step};
use migration::{DbErr, MigrationName, MigrationTrait, Migrator, MigratorTrait, SchemaManager};
use rstest::rstest;
use sea_orm::{ConnectionTrait, DatabaseConnection};

const PHASE1: &str = "m0001_temporal_metadata";
const INDEX: &str = "idx_semantic_facts_temporal";

/// The real migrations, with Phase 1's `idx_semantic_facts_temporal` on another expression (only
/// `last_accessed`): what a later release that edited Phase 1 would ship.
struct Changed;

/// Phase 1 as it is, then its index made again on another expression, under the same name.
struct ChangedPhase1(Box<dyn MigrationTrait>);

impl MigrationName for ChangedPhase1 {
    fn name(&self) -> &str {
        self.0.name()
    }
}

/// The changed index, in `dialect`.
fn changed_index(dialect: Dialect) -> String {
    dialect.expression_index(INDEX, "semantic_facts", &[dialect.json_text("temporal_metadata", "last_accessed")])
}

#[migration::async_trait::async_trait]
impl MigrationTrait for ChangedPhase1 {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        self.0.up(manager).await?;
        let conn = manager.get_connection();
        let dialect = Dialect::of_conn(conn)?;
        conn.execute_raw(dialect.stmt(format!("DROP INDEX {INDEX}"))).await?;
        conn.execute_raw(dialect.stmt(changed_index(dialect))).await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        self.0.down(manager).await
    }
}

#[migration::async_trait::async_trait]
impl MigratorTrait for Changed {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        Migrator::migrations()
            .into_iter()
            .map(|m| if m.name() == PHASE1 { Box::new(ChangedPhase1(m)) as Box<dyn MigrationTrait> } else { m })
            .collect()
    }
}

/// Run `command` with the migrations of `M`; the progress heard.
async fn run<M: MigratorTrait>(
    db: &TestDb,
    conn: &DatabaseConnection,
    command: Command,
) -> Result<Vec<Progress>, migration::error::MigrateError> {
    let mut heard = Vec::new();
    runner::run_with::<M>(conn, &db.target, command, &Default::default(), |p| heard.push(p)).await?;
    Ok(heard)
}

async fn up<M: MigratorTrait>(db: &TestDb, conn: &DatabaseConnection, steps: Option<u32>) -> Vec<Progress> {
    run::<M>(db, conn, Command::Up { steps }).await.unwrap_or_else(|e| panic!("{}: up: {e}", db.name))
}

/// Each migration's fingerprint check, by name (`None` when pending).
async fn checks<M: MigratorTrait>(db: &TestDb, conn: &DatabaseConnection) -> Vec<(String, Option<Check>)> {
    let states =
        runner::status::<M>(conn, &db.target, &Default::default()).await.unwrap_or_else(|e| panic!("{}: {e}", db.name));
    states.into_iter().map(|m| (m.name, m.fingerprint)).collect()
}

/// The recorded rows: migration, how, fingerprint.
async fn recorded(conn: &DatabaseConnection) -> Vec<String> {
    column_of(
        conn,
        "SELECT migration || ' ' || how || ' ' || fingerprint FROM ams_migration_fingerprints ORDER BY migration",
    )
    .await
}

fn all_match(checks: &[(String, Option<Check>)]) -> bool {
    checks.iter().all(|(_, c)| *c == Some(Check::Matches))
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test]
async fn a_changed_migration_stops_up_before_any_change_and_status_names_it(#[case] backend: Backend) {
    let Some(db) = TestDb::of(backend).await else { return };
    let conn = db.connect().await;
    up::<Migrator>(&db, &conn, Some(3)).await;
    assert!(all_match(&checks::<Migrator>(&db, &conn).await[..3]), "{}", db.name);
    let (schema_before, rows_before) = (schema(&conn).await, recorded(&conn).await);
    assert_eq!(rows_before.len(), 3, "{}: {rows_before:?}", db.name);

    let err = run::<Changed>(&db, &conn, Command::Up { steps: None }).await.expect_err("a changed Phase 1 stops up");
    assert_eq!(err.exit_code(), 2, "{}: {err}", db.name);
    let message = err.to_string();
    assert!(!message.contains('\n'), "{}: one line: {message}", db.name);
    for part in [PHASE1, &format!("(index {INDEX} differ;"), "recorded by version", "--repair"] {
        assert!(message.contains(part), "{}: `{part}` missing in {message}", db.name);
    }
    assert!(!message.contains("( differ)"), "{}: the objects named: {message}", db.name);
    // Nothing changed: m0003 is still pending, the schema and the records are as they were.
    assert_eq!(applied(&conn).await.len(), 3, "{}", db.name);
    assert_eq!(schema(&conn).await, schema_before, "{}", db.name);
    assert_eq!(recorded(&conn).await, rows_before, "{}", db.name);

    let status = checks::<Changed>(&db, &conn).await;
    assert_eq!(status[1], (PHASE1.to_owned(), Some(Check::Changed(vec![format!("index {INDEX}")]))), "{}", db.name);
    assert_eq!(status[0].1, Some(Check::Matches), "{}", db.name);
    assert_eq!(status[3].1, None, "{}: pending", db.name);
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test]
async fn a_fingerprint_that_differs_over_the_same_lines_stops_up_and_says_so(#[case] backend: Backend) {
    let Some(db) = TestDb::of(backend).await else { return };
    let conn = db.connect().await;
    up::<Migrator>(&db, &conn, Some(3)).await;
    // Recorded with the same lines under another hash, as a tool that hashed otherwise would.
    exec(
        &conn,
        &format!("UPDATE ams_migration_fingerprints SET fingerprint = 'elsewise' WHERE migration = '{PHASE1}'"),
    )
    .await;
    let schema_before = schema(&conn).await;

    let err = run::<Migrator>(&db, &conn, Command::Up { steps: None }).await.expect_err("another hash stops up");
    assert_eq!(err.exit_code(), 2, "{}: {err}", db.name);
    let message = err.to_string();
    let by = format!("recorded by version {} of this tool at ", migration::fingerprint::TOOL_VERSION);
    for part in [PHASE1, "each of its object lines is the same", &by, "--repair"] {
        assert!(message.contains(part), "{}: `{part}` missing in {message}", db.name);
    }
    assert!(!message.contains("( differ)"), "{}: {message}", db.name);
    assert_eq!(schema(&conn).await, schema_before, "{}", db.name);
    assert_eq!(
        checks::<Migrator>(&db, &conn).await[1],
        (PHASE1.to_owned(), Some(Check::Changed(vec![]))),
        "{}",
        db.name
    );
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test]
async fn repair_re_records_what_the_database_holds(#[case] backend: Backend) {
    let Some(db) = TestDb::of(backend).await else { return };
    let conn = db.connect().await;
    up::<Migrator>(&db, &conn, Some(3)).await;
    let before = recorded(&conn).await;

    // The user makes the index as the new release does, then re-records: it matches.
    let dialect = Dialect::of_conn(&conn).expect("dialect");
    exec(&conn, &format!("DROP INDEX {INDEX}")).await;
    exec(&conn, &changed_index(dialect)).await;
    let schema_before = schema(&conn).await;
    let repaired = runner::repair::<Changed>(&conn, &db.target, &Default::default()).await.expect("repair");
    assert_eq!(schema(&conn).await, schema_before, "{}: repair changes no schema", db.name);
    assert_eq!(repaired.len(), 3, "{}: {repaired:?}", db.name);
    let phase1 = repaired.iter().find(|r| r.name == PHASE1).expect("Phase 1 re-recorded");
    assert_eq!(phase1.how, How::Applied, "{}", db.name);
    assert_ne!(phase1.was.as_deref(), Some(phase1.now.as_str()), "{}", db.name);
    assert!(phase1.to_string().starts_with(&format!("re-recorded {PHASE1} as applied")), "{}", db.name);
    let after = recorded(&conn).await;
    assert_eq!(after.len(), 3, "{}", db.name);
    assert_ne!(after[1], before[1], "{}", db.name);
    assert_eq!((&after[0], &after[2]), (&before[0], &before[2]), "{}: the others unchanged", db.name);
    assert!(all_match(&checks::<Changed>(&db, &conn).await[..3]), "{}", db.name);
    up::<Changed>(&db, &conn, None).await;
    assert_eq!(applied(&conn).await.len(), 4, "{}", db.name);

    // Repaired without the index made anew: kept as found (adopted), and up goes on.
    let Some(db) = TestDb::of(backend).await else { return };
    let conn = db.connect().await;
    up::<Migrator>(&db, &conn, Some(3)).await;
    let repaired = runner::repair::<Changed>(&conn, &db.target, &Default::default()).await.expect("repair");
    assert_eq!(repaired.iter().find(|r| r.name == PHASE1).map(|r| r.how), Some(How::Adopted), "{}", db.name);
    let status = runner::status::<Changed>(&conn, &db.target, &Default::default()).await.expect("status");
    assert_eq!((status[1].state(), &status[1].fingerprint), ("adopted", &Some(Check::NotCompared)), "{}", db.name);
    up::<Changed>(&db, &conn, None).await;
    assert_eq!(applied(&conn).await.len(), 4, "{}", db.name);
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test]
async fn an_old_database_without_fingerprints_is_recorded_once(#[case] backend: Backend) {
    let Some(db) = TestDb::of(backend).await else { return };
    let conn = db.connect().await;
    up::<Migrator>(&db, &conn, None).await;
    let first = recorded(&conn).await;
    exec(&conn, "DROP TABLE ams_migration_fingerprints").await;
    let status = checks::<Migrator>(&db, &conn).await;
    assert!(status.iter().all(|(_, c)| *c == Some(Check::NotRecorded)), "{}: {status:?}", db.name);

    let heard = up::<Migrator>(&db, &conn, None).await;
    let said: Vec<&Progress> = heard.iter().filter(|p| matches!(p, Progress::Recorded(_))).collect();
    let names: Vec<String> = Migrator::migrations().iter().map(|m| m.name().to_owned()).collect();
    assert_eq!(said, [&Progress::Recorded(names)], "{}", db.name);
    let rows = recorded(&conn).await;
    assert_eq!(rows, first, "{}: the same fingerprints as when applied", db.name);
    assert!(rows.iter().all(|r| r.contains(" applied ")), "{}: {rows:?}", db.name);
    assert!(all_match(&checks::<Migrator>(&db, &conn).await), "{}", db.name);

    // Said once: the next up records nothing.
    let heard = up::<Migrator>(&db, &conn, None).await;
    assert!(!heard.iter().any(|p| matches!(p, Progress::Recorded(_))), "{}: {heard:?}", db.name);
    assert_eq!(recorded(&conn).await, first, "{}", db.name);

    // Rows deleted (the table kept) count as not recorded too.
    exec(&conn, "DELETE FROM ams_migration_fingerprints").await;
    let heard = up::<Migrator>(&db, &conn, None).await;
    assert_eq!(heard.iter().filter(|p| matches!(p, Progress::Recorded(_))).count(), 1, "{}", db.name);
    assert_eq!(recorded(&conn).await, first, "{}", db.name);
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test]
async fn two_concurrent_ups_record_once(#[case] backend: Backend) {
    let Some(db) = TestDb::of(backend).await else { return };
    let (a, b) = (db.connect().await, db.connect().await);
    let (ra, rb) = tokio::join!(
        run::<Migrator>(&db, &a, Command::Up { steps: None }),
        run::<Migrator>(&db, &b, Command::Up { steps: None })
    );
    let heard: Vec<Progress> =
        [ra, rb].into_iter().flat_map(|r| r.unwrap_or_else(|e| panic!("{}: {e}", db.name))).collect();
    let applies = heard.iter().filter(|p| matches!(p, Progress::Finished(Step::Apply(_), _))).count();
    assert_eq!(applies, 4, "{}: each migration applied once: {heard:?}", db.name);
    assert!(!heard.iter().any(|p| matches!(p, Progress::Recorded(_))), "{}", db.name);
    let per_migration = column_of(
        &a,
        "SELECT migration || ' ' || CAST(count(*) AS TEXT) FROM ams_migration_fingerprints GROUP BY migration \
         ORDER BY migration",
    )
    .await;
    let names: Vec<String> = Migrator::migrations().iter().map(|m| format!("{} 1", m.name())).collect();
    assert_eq!(per_migration, names, "{}", db.name);
    assert!(all_match(&checks::<Migrator>(&db, &a).await), "{}", db.name);
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test]
async fn the_same_objects_spelled_differently_raise_nothing(#[case] backend: Backend) {
    let Some(db) = TestDb::of(backend).await else { return };
    let conn = db.connect().await;
    up::<Migrator>(&db, &conn, Some(3)).await;
    // Phase 1's index made again from its own definition, spelled another way: identifiers quoted,
    // spaces added, IF NOT EXISTS.
    let definition = match backend {
        Backend::Sqlite => "SELECT sql FROM sqlite_master WHERE name = 'idx_semantic_facts_temporal'",
        Backend::Postgres => "SELECT indexdef FROM pg_indexes WHERE indexname = 'idx_semantic_facts_temporal'",
    };
    let original = column_of(&conn, definition).await.concat();
    let respelled = original
        .replacen("CREATE INDEX ", "create index if not exists ", 1)
        .replacen(INDEX, &format!("\"{INDEX}\""), 1)
        .replace('(', " ( ")
        .replace(',', " ,\n  ")
        .replace(" USING btree", "");
    assert_ne!(respelled, original);
    exec(&conn, &format!("DROP INDEX {INDEX}")).await;
    exec(&conn, &respelled).await;
    let now = column_of(&conn, definition).await.concat();
    if backend == Backend::Sqlite {
        assert_ne!(now, original, "SQLite keeps the new spelling");
    }
    assert!(all_match(&checks::<Migrator>(&db, &conn).await[..3]), "{}", db.name);
    up::<Migrator>(&db, &conn, None).await;
    assert_eq!(applied(&conn).await.len(), 4, "{}", db.name);
}

/// The same through the binaries a user runs: a recorded fingerprint that no longer matches (as a
/// later release with an edited Phase 1 would find it) makes `aico-ams migrate` and `migration up`
/// stop with exit 2 and one line naming the migration and the object, before the pending Phase 3
/// is applied; `--status` and `verify` name it; `--repair` re-records, and `up` then goes on.
#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test]
async fn the_commands_stop_on_a_changed_migration_and_repair_records_it(#[case] backend: Backend) {
    let Some(db) = TestDb::of(backend).await else { return };
    let conn = db.connect().await;
    let aico = |args: &[&str]| aico_tests::command("aico-ams").args(args).env("DATABASE_URL", &db.url).output();
    let run = |args: &[&str]| aico(args).expect("run aico-ams");
    assert_eq!(run(&["migrate"]).status.code(), Some(0));
    let rollback = run(&["migrate", "--rollback", "--force"]);
    assert_eq!(rollback.status.code(), Some(0), "{}", aico_tests::text(&rollback));
    let tampered = format!(
        "UPDATE {table} SET fingerprint = 'feed', objects = objects || '\nindex idx_from_an_older_release x' \
         WHERE migration = '{PHASE1}'",
        table = migration::fingerprint::TABLE
    );
    exec(&conn, &tampered).await;
    let before = schema(&conn).await;

    for (bin, args) in [("aico-ams", vec!["migrate", "--json"]), ("migration", vec!["up"])] {
        let out = aico_tests::command(bin).args(&args).env("DATABASE_URL", &db.url).output().expect("run");
        let said = aico_tests::text(&out);
        assert_eq!(out.status.code(), Some(2), "{bin} {args:?}: {said}");
        let line =
            said.lines().find(|l| l.contains(PHASE1)).unwrap_or_else(|| panic!("{bin}: no line names it: {said}"));
        assert!(line.contains("idx_from_an_older_release") && line.contains("repair"), "{bin}: {line}");
    }
    assert_eq!(schema(&conn).await, before, "a stopped run changed the schema");
    assert!(!applied(&conn).await.iter().any(|m| m == "m0003_behavioral_learning"), "Phase 3 was applied");

    let status = aico_tests::json_of(&run(&["migrate", "--status", "--json"]));
    let phase1 = status["migrations"].as_array().expect("list").iter().find(|m| m["name"] == PHASE1).expect("m0001");
    assert_eq!(phase1["fingerprint"], "changed", "{status}");
    assert_eq!(run(&["verify"]).status.code(), Some(1), "verify passes a changed migration");

    let repair = run(&["migrate", "--repair"]);
    assert_eq!(repair.status.code(), Some(0), "{}", aico_tests::text(&repair));
    assert!(aico_tests::text(&repair).contains(PHASE1), "repair does not say what it re-records");
    assert_eq!(schema(&conn).await, before, "repair changed the schema");
    assert_eq!(run(&["migrate"]).status.code(), Some(0));
    let status = aico_tests::json_of(&run(&["migrate", "--status", "--json"]));
    for m in status["migrations"].as_array().expect("list") {
        assert_eq!(m["fingerprint"], "matches", "{status}");
    }
    assert_eq!(run(&["verify"]).status.code(), Some(0));
}

/// A login role on the test server, with the test database it works in: dropped after that
/// database, whatever the test's outcome.
struct Role {
    name: String,
    db: Option<TestDb>,
}

impl Drop for Role {
    fn drop(&mut self) {
        drop(self.db.take());
        aico_tests::cleanup_on_server(format!("DROP ROLE IF EXISTS {}", self.name));
    }
}

/// A role that may create tables in its schema but not schemas in its database (as a hosted
/// PostgreSQL often gives): `up` rehearses in the session's temporary schema, applies every phase
/// and records each as applied, and the status finds every fingerprint matching.
#[tokio::test]
async fn a_role_that_cannot_create_schemas_migrates_and_records_applied() {
    let Some(db) = TestDb::postgres().await else { return };
    let (url, name) = {
        let (base, database) = db.url.rsplit_once('/').expect("a database name");
        let (scheme, server) = base.split_once("://").expect("a URL");
        let server = server.rsplit_once('@').map_or(server, |(_, host)| host);
        (format!("{scheme}://{database}_r@{server}/{database}"), format!("{database}_r"))
    };
    let admin = db.connect().await;
    let role = Role { name, db: Some(db) };
    exec(&admin, &format!("CREATE ROLE {} LOGIN", role.name)).await;
    exec(&admin, &format!("GRANT CREATE ON SCHEMA public TO {}", role.name)).await;
    admin.close().await.ok();

    let target = aico_connect::target::Target::from_url(&url).expect("url");
    let conn = target.connect(None).await.expect("connect as the role");
    let denied = conn.execute_unprepared("CREATE SCHEMA ams_probe").await;
    assert!(denied.is_err(), "the role must not be able to create a schema");
    let up = runner::run(&conn, &target, Command::Up { steps: None }, &Default::default(), |_| {}).await;
    assert!(up.is_ok(), "up as a role without CREATE on the database: {up:?}");
    let states = runner::status::<Migrator>(&conn, &target, &Default::default()).await.expect("status");
    assert_eq!(states.len(), Migrator::migrations().len());
    for m in &states {
        assert_eq!((m.how, m.fingerprint.as_ref()), (Some(How::Applied), Some(&Check::Matches)), "{}", m.name);
    }
    conn.close().await.ok();
    drop(role);
}
