//! The SQL backfill on facts shaped like a real AICO user's (uuid4 keys in random order, `created_at`
//! in every form real databases hold): every readable form is filled, with exactly the bytes Rust
//! builds, whether the walk follows storage order (SQLite's `rowid`, PostgreSQL's heap blocks) or
//! the key (a SQLite table without a rowid); a row moved behind PostgreSQL's walk is still filled;
//! and the SQLite function that runs Rust inside the `UPDATE` is Rust's own judgement, value for
//! value.

use aico_ams::sql::Db;
use aico_ams::sql::backfill::backfill;
use aico_ams::sql::initial_metadata::{SQLITE_FUNCTION, initial_metadata};
use aico_connect::target::Target;
use aico_tests::shaped::{self, Form, Keys, Table, Timestamps};
use aico_tests::{Backend, TestDb, column_of, exec, insert_texts, near_miss_timestamps};
use migration::runner::{self, Command};
use rstest::rstest;
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};

const ROWS: u64 = 2000;

/// Every fact's `created_at` and metadata as text.
async fn metadata(conn: &DatabaseConnection) -> Vec<(Option<String>, Option<String>)> {
    let sql = "SELECT CAST(created_at AS TEXT) AS c, CAST(temporal_metadata AS TEXT) AS m FROM semantic_facts";
    conn.query_all_raw(Statement::from_string(conn.get_database_backend(), sql.to_owned()))
        .await
        .expect(sql)
        .iter()
        .map(|row| (row.try_get("", "c").expect("c"), row.try_get("", "m").expect("m")))
        .collect()
}

/// Backfill `db` in batches of `batch` and check the outcome against Rust, row by row; the report.
async fn backfill_matches_rust(db: &TestDb, batch: u64) -> aico_ams::sql::SqlBackfill {
    let conn = db.connect().await;
    runner::run(&conn, &db.target, Command::Up { steps: None }, &Default::default(), |_| {}).await.expect("migrate");
    let app =
        Db::open(Target::resolve(Some(&db.url), None).expect("url"), None, &Default::default()).await.expect("open");
    let report = backfill(&app, app.layout().await.expect("layout"), batch, false, |_| {}).await.expect("backfill");
    let rows = metadata(&conn).await;
    assert_eq!(rows.len() as u64, ROWS);
    for (created_at, meta) in &rows {
        assert_eq!(meta, &initial_metadata(created_at.as_deref()).ok(), "{}: created_at {created_at:?}", db.name);
    }
    report
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test]
async fn aico_shaped_facts_are_all_filled_but_the_unreadable(#[case] backend: Backend) {
    let Some(db) = TestDb::of(backend).await else { return };
    shaped::fill(&db.connect().await, Table::Seed, ROWS, Keys::Uuid4, Timestamps::Aico).await;
    let report = backfill_matches_rust(&db, 64).await;
    let bad = shaped::count_of(Timestamps::Aico, Form::Bad, ROWS);
    assert!(bad > 0);
    assert_eq!((report.without_temporal, report.filled, report.bad.count), (ROWS, ROWS - bad, bad), "{}", db.name);
    // Batches of 64 rows: exactly so in rowid order; by heap blocks, as many blocks as hold
    // about 64 of the rows to fill.
    let expected = ROWS.div_ceil(64);
    match backend {
        Backend::Sqlite => assert_eq!(report.batches, expected),
        Backend::Postgres => assert!(
            (expected / 2..=expected * 2).contains(&report.batches),
            "{} batches, expected about {expected}",
            report.batches
        ),
    }
}

/// A row that a writer moves out of the walk's way while PostgreSQL's walk by blocks runs is
/// filled all the same (by the sweep that ends the walk). The writer is a trigger, so that the
/// move happens at a known moment: at the end of the first batch it updates the table's last
/// fact, still without metadata, whose new version then lands where the walk does not go (in the
/// block this connection last wrote, past the table's end when the walk began).
#[tokio::test]
async fn a_row_moved_during_the_walk_is_filled() {
    let Some(db) = TestDb::of(Backend::Postgres).await else { return };
    let conn = db.connect().await;
    shaped::fill(&conn, Table::Seed, ROWS, Keys::Uuid4, Timestamps::All(Form::Zulu)).await;
    runner::run(&conn, &db.target, Command::Up { steps: None }, &Default::default(), |_| {}).await.expect("migrate");
    exec(
        &conn,
        "CREATE TABLE moved AS SELECT id, ctid::text AS was, CAST(NULL AS TEXT) AS became \
         FROM semantic_facts ORDER BY ctid DESC LIMIT 1",
    )
    .await;
    exec(
        &conn,
        "CREATE FUNCTION move_last() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
         IF pg_trigger_depth() = 1 AND (SELECT became IS NULL FROM moved) THEN \
         UPDATE semantic_facts SET user_id = 'moved' WHERE id = (SELECT id FROM moved); \
         UPDATE moved SET became = (SELECT ctid::text FROM semantic_facts WHERE id = moved.id); \
         END IF; RETURN NULL; END $$",
    )
    .await;
    exec(&conn, "CREATE TRIGGER move_last AFTER UPDATE ON semantic_facts FOR EACH ROW EXECUTE FUNCTION move_last()")
        .await;

    let app =
        Db::open(Target::resolve(Some(&db.url), None).expect("url"), None, &Default::default()).await.expect("open");
    let report = backfill(&app, app.layout().await.expect("layout"), 64, false, |_| {}).await.expect("backfill");
    let moved = column_of(&conn, "SELECT was || ' -> ' || became FROM moved").await;
    assert!(matches!(&moved[..], [m] if m.contains(" -> ")), "the trigger ran: {moved:?}");
    let pending = "SELECT CAST(COUNT(*) AS TEXT) FROM semantic_facts WHERE temporal_metadata IS NULL";
    assert_eq!(column_of(&conn, pending).await, ["0"], "the last fact moved {moved:?}");
    let who = "SELECT user_id FROM semantic_facts WHERE id = (SELECT id FROM moved)";
    assert_eq!(column_of(&conn, who).await, ["moved"], "the writer's change stays");
    assert_eq!((report.without_temporal, report.filled, report.bad.count), (ROWS, ROWS, 0));
}

#[tokio::test]
async fn a_sqlite_table_without_rowid_is_walked_by_its_key() {
    let db = TestDb::sqlite();
    let conn = db.connect().await;
    exec(
        &conn,
        "CREATE TABLE semantic_facts (id TEXT PRIMARY KEY, user_id TEXT NOT NULL, content TEXT NOT NULL, \
         created_at TEXT, updated_at TEXT) WITHOUT ROWID",
    )
    .await;
    exec(
        &conn,
        &format!(
            "INSERT INTO semantic_facts (id, user_id, content, created_at) \
             WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < {ROWS}) \
             SELECT lower(hex(randomblob(16))), 'u', 'fact ' || i, \
             CASE i % 4 WHEN 0 THEN '2025-01-01T10:00:00+02:00' WHEN 1 THEN '2025-01-01 10:00:00' \
             WHEN 2 THEN '2025-01-01T10:00:00.123456' ELSE 'never' END FROM s"
        ),
    )
    .await;
    let report = backfill_matches_rust(&db, 100).await;
    assert_eq!((report.filled, report.bad.count, report.batches), (ROWS * 3 / 4, ROWS / 4, ROWS / 100));
}

#[tokio::test]
async fn the_sqlite_function_is_rusts_own_judgement() {
    let db = TestDb::sqlite();
    let conn = db.connect().await;
    exec(&conn, "CREATE TABLE samples (i INTEGER PRIMARY KEY, s)").await;
    let mut texts = near_miss_timestamps(20_000, 0x13);
    texts.extend(
        ["2025-01-01T10:00:00+02:00", "2025-01-01 10:00:00", "２０２５-01-01 10:00:00", "é"].map(str::to_owned),
    );
    // The function remembers its last answer (an UPDATE asks twice per row): the same text in a
    // row, a bad one between two good ones, a good one after the same text spelt otherwise.
    texts.extend(
        ["2025-03-01T10:00:00Z", "2025-03-01T10:00:00Z", "never", "2025-03-01T10:00:00Z", "2025-03-01 10:00:00"]
            .map(str::to_owned),
    );
    insert_texts(&conn, "INSERT INTO samples (i, s) VALUES", &texts, |i, s| format!("({i}, {s})")).await;
    // Values that are no text: NULL, numbers, a blob holding a valid timestamp's bytes.
    exec(
        &conn,
        "INSERT INTO samples (i, s) VALUES (-1, NULL), (-2, 20250101), (-3, 1.5), (-4, x'323032352d30312d3031')",
    )
    .await;
    let app =
        Db::open(Target::resolve(Some(&db.url), None).expect("url"), None, &Default::default()).await.expect("open");
    let rows = app
        .rows(&format!(
            "SELECT i, CAST(s AS TEXT) AS s, {SQLITE_FUNCTION}(s) AS m, {SQLITE_FUNCTION}(s) AS again \
             FROM samples ORDER BY i"
        ))
        .await
        .expect("query");
    assert_eq!(rows.len(), texts.len() + 4);
    let mut filled = 0;
    for row in &rows {
        let i: i64 = row.try_get("", "i").expect("i");
        let s: Option<String> = row.try_get("", "s").expect("s");
        let m: Option<String> = row.try_get("", "m").expect("m");
        let again: Option<String> = row.try_get("", "again").expect("again");
        assert_eq!(m, again, "sample {i} ({s:?}) asked twice");
        match i {
            ..0 => assert_eq!(m, None, "sample {i} ({s:?}) is no text"),
            _ => assert_eq!(m, initial_metadata(s.as_deref()).ok(), "{s:?}"),
        }
        filled += usize::from(m.is_some());
    }
    assert!(filled > 1000 && filled < texts.len(), "{filled} of {} filled", texts.len());
}
