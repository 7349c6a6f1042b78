//! The move's binary `COPY` (`Dest::copy`, for a table that held none of the move's rows) against
//! its insert (`Dest::insert`), on PostgreSQL 18 with pgvector: the same rows, of every type the
//! `COPY` writes, stored the same, byte for byte as PostgreSQL prints them; and a batch that cannot
//! go by `COPY` (a key the table holds, a value too wide for its column, a cell of another kind)
//! leaves nothing written, for the insert to write as it always did.

use aico_ams::moving::binary::Forms;
use aico_ams::moving::convert::Cell;
use aico_ams::moving::pg::{Dest, TargetColumn};
use aico_connect::key::KeySources;
use aico_tests::{AicoPg, aico_pg18, column_of};
use entity::values::Timestamp;
use serde_json::json;

const COLUMNS: &str = "id TEXT PRIMARY KEY, b BOOLEAN, i2 SMALLINT, i4 INTEGER, i8 BIGINT, f8 DOUBLE PRECISION, \
                       f4 REAL, j JSON, jb JSONB, tz TIMESTAMPTZ, ts TIMESTAMP, v aico_core.vector(3), s TEXT";

fn time(text: &str) -> Cell {
    Cell::Time(Timestamp::parse(text).expect("a time"))
}

/// Rows of every type, NULLs, extremes, text PostgreSQL would escape, instants before 2000.
fn rows() -> Vec<(String, Vec<Cell>)> {
    let row = |id: &str, cells: Vec<Cell>| (id.to_owned(), [vec![Cell::Text(id.to_owned())], cells].concat());
    vec![
        row(
            "r1",
            vec![
                Cell::Bool(true),
                Cell::Int(-32_768),
                Cell::Int(2_147_483_647),
                Cell::Int(i64::MIN),
                Cell::Float(0.1),
                Cell::Float(f64::from(1.1f32)),
                Cell::Json(json!({"b": [1, 2.5, null], "a": "é\u{1F600}"})),
                Cell::Json(json!({"b": {"c": true}, "a": "x\"y\\z"})),
                time("2025-10-01T09:30:00.123456Z"),
                time("1999-12-31T23:59:59.999999Z"),
                Cell::Vector(vec![1.0, -0.5, f32::MIN_POSITIVE]),
                Cell::Text("tab\there, newline\nthere, backslash \\, quote ', unicode ☃".into()),
            ],
        ),
        row("r2", vec![Cell::Null; 12]),
        row(
            "r3",
            vec![
                Cell::Bool(false),
                Cell::Int(0),
                Cell::Int(-1),
                Cell::Int(i64::MAX),
                Cell::Float(-1e300),
                Cell::Float(f64::from(f32::MAX)),
                Cell::Json(json!([])),
                Cell::Json(json!("a string")),
                time("1970-01-01T00:00:00Z"),
                time("2038-01-19T03:14:08Z"),
                Cell::Vector(vec![0.0, 3.4e38, -1e-30]),
                Cell::Text(String::new()),
            ],
        ),
    ]
}

/// Every row of `aico_core.<table>`, as PostgreSQL prints it, in key order.
async fn printed(conn: &sea_orm::DatabaseConnection, table: &str) -> Vec<String> {
    column_of(conn, &format!("SELECT t::text FROM aico_core.{table} t ORDER BY id")).await
}

async fn dest_with(db: &aico_tests::TestDb, tables: &[&str]) -> (Dest, Vec<TargetColumn>) {
    let conn = db.connect().await;
    for table in tables {
        let sql = format!("CREATE TABLE aico_core.{table} ({COLUMNS})");
        sea_orm::ConnectionTrait::execute_unprepared(&conn, &sql).await.expect("create the table");
    }
    let dest = Dest::open(db.target.clone(), &KeySources::none(), true).await.expect("open the target");
    let columns = dest.columns(tables[0]).await.expect("the catalog").expect("the table");
    (dest, columns)
}

#[tokio::test]
async fn copy_stores_every_type_as_the_insert_does() {
    let Some(db) = aico_pg18(AicoPg::AsFile).await else { return };
    let (dest, columns) = dest_with(&db, &["by_copy", "by_insert"]).await;
    let forms = Forms::of(&columns).expect("every column here has a binary form");
    let rows = rows();

    let copied = dest.copy("by_copy", "id", &columns, &forms, &rows).await.expect("copy").expect("by COPY");
    let inserted = dest.insert("by_insert", &["id"], &columns, &rows).await.expect("insert");
    for (k, _) in &rows {
        assert_eq!(copied.get(k), Some(&None), "{k}: written and read back the same by COPY");
        assert_eq!(inserted.get(k), Some(&None), "{k}: written and read back the same by the insert");
    }
    let conn = db.connect().await;
    let (by_copy, by_insert) = (printed(&conn, "by_copy").await, printed(&conn, "by_insert").await);
    assert_eq!(by_copy.len(), 3);
    assert_eq!(by_copy, by_insert);
    assert!(by_copy[0].contains("\"1999-12-31 23:59:59.999999\""), "{}", by_copy[0]);
    dest.close().await;
}

#[tokio::test]
async fn a_batch_that_cannot_go_by_copy_writes_nothing() {
    let Some(db) = aico_pg18(AicoPg::AsFile).await else { return };
    let (dest, columns) = dest_with(&db, &["held"]).await;
    let forms = Forms::of(&columns).expect("forms");
    let rows = rows();
    assert!(dest.copy("held", "id", &columns, &forms, &rows[..1]).await.expect("copy").is_some());
    let conn = db.connect().await;
    let before = printed(&conn, "held").await;

    // r1 is held: the whole batch is refused by the key, r3 is not written either.
    let again = vec![rows[2].clone(), rows[0].clone()];
    assert_eq!(dest.copy("held", "id", &columns, &forms, &again).await.expect("no error"), None);
    // A value too wide for its column (smallint), and a cell of another kind: not encoded at all.
    let mut wide = rows[2].clone();
    wide.1[2] = Cell::Int(40_000);
    assert_eq!(dest.copy("held", "id", &columns, &forms, &[wide]).await.expect("no error"), None);
    let mut other = rows[2].clone();
    other.1[1] = Cell::Text("yes".into());
    assert_eq!(dest.copy("held", "id", &columns, &forms, &[other]).await.expect("no error"), None);
    assert_eq!(printed(&conn, "held").await, before, "nothing written");

    // The insert then writes what it can (r3) and leaves r1 as it is.
    let inserted = dest.insert("held", &["id"], &columns, &again).await.expect("insert");
    assert_eq!(inserted.keys().collect::<Vec<_>>(), ["r3"]);
    assert_eq!(printed(&conn, "held").await.len(), 2);
    dest.close().await;
}
