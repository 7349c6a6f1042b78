//! `aico-ams move`, LMDB's working memory: a 2025 install's `<memory dir>/working` written by
//! python `lmdb` as AICO's `WorkingMemoryStore` writes it (`session_memory`, key
//! `{conversation_id}:{iso}Z`, the message as `json.dumps` with `_stored_at`/`_expires_at`; a
//! `user_sessions` database beside it), moved into `aico_core.working_memory_messages` on
//! PostgreSQL 18 as `aico pg init` makes it. Covered: each row's columns and `payload_json` equal
//! to the source's JSON, our key map, a dry run writing nothing, a rerun inserting nothing, and a
//! missing environment reported as skipped.

use std::path::Path;

use aico_tests::{AicoPg, aico_pg18, column_of, command, python, python_with_libsql, run_python};
use serde_json::Value;

/// An empty 2025 `aico.db` (one user), encrypted with `PRAGMA key` as AICO does.
const MAKE_SOURCE: &str = r#"
import libsql, sys
c = libsql.connect(sys.argv[1])
c.execute(f"PRAGMA key = 'x\"{sys.argv[2]}\"'")
c.execute("CREATE TABLE users (uuid TEXT PRIMARY KEY, full_name TEXT NOT NULL, nickname TEXT, "
          "user_type TEXT DEFAULT 'person', is_active BOOLEAN DEFAULT TRUE, "
          "created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP, updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP)")
c.execute("INSERT INTO users (uuid, full_name, created_at, updated_at) "
          "VALUES ('u-ada', 'Ada Example', '2025-10-01 09:30:00', '2025-10-01 09:30:00')")
c.commit()
"#;

/// AICO's working memory: messages stored as its LMDB store stores them; prints them (key, value).
const MAKE_LMDB: &str = r#"
import json, lmdb, sys
env = lmdb.open(sys.argv[1], max_dbs=4, map_size=64 << 20)
sm = env.open_db(b"session_memory")
us = env.open_db(b"user_sessions")
messages = [
    {"message_id": "m-1", "user_id": "u-ada", "conversation_id": "conv-a", "content": "Hello \u00e9\u2603",
     "role": "user", "timestamp": "2025-11-07T18:00:00", "message_type": "text",
     "_stored_at": "2025-11-07T18:00:00.250000", "_expires_at": "2025-12-07T18:00:00.250000"},
    {"message_id": "m-2", "user_id": "u-ada", "conversation_id": "conv-a", "content": "Hi Ada",
     "role": "assistant", "timestamp": "2025-11-07T18:00:05", "message_type": "text",
     "metadata": {"model": "x", "tokens": [1, 2]},
     "_stored_at": 1762538405.5, "_expires_at": 1765130405.5},
    {"message_id": "m-3", "user_id": "u-ada", "content": "no conversation field",
     "role": "user", "timestamp": "2025-11-08T09:00:00", "_stored_at": "2025-11-08T09:00:00Z"},
]
out = []
with env.begin(write=True) as t:
    for i, m in enumerate(messages):
        conv = m.get("conversation_id", "conv-b")
        key = f"{conv}:{m['timestamp']}Z"
        value = json.dumps(m)
        t.put(key.encode(), value.encode(), db=sm)
        out.append([key, value])
    t.put(b"session:u-ada", json.dumps({"user_id": "u-ada", "active": True}).encode(), db=us)
    t.put(b"session:u-bob", json.dumps({"user_id": "u-bob", "active": False}).encode(), db=us)
print(json.dumps(out))
"#;

fn run_move(aico_db: &Path, key_hex: &str, to: &str, memory: &Path, args: &[&str]) -> (Option<i32>, Value) {
    let out = command("aico-ams")
        .args(["move", "--json", "--database-url", &format!("sqlite://{}", aico_db.display()), "--to", to])
        .arg("--memory-dir")
        .arg(memory)
        .args(args)
        .env("AICO_DB_KEY", key_hex)
        .env_remove("AICO_MEMORY_DIR")
        .env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/aico-test-bus")
        .output()
        .expect("run aico-ams move");
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("{e}: {}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
    });
    (out.status.code(), report)
}

/// Figures of the report's working memory: in source, moved, moved before, refused.
fn figures(report: &Value) -> [u64; 4] {
    let w = &report["working_memory"];
    ["in_source", "moved", "already_moved"]
        .map(|k| w[k].as_u64().unwrap_or_else(|| panic!("{k} in {report:#}")))
        .into_iter()
        .chain([w["refused"]["count"].as_u64().expect("refused")])
        .collect::<Vec<_>>()
        .try_into()
        .expect("four")
}

#[tokio::test]
async fn lmdb_session_memory_moves_into_working_memory_messages_once() {
    let Some(libsql_python) = python_with_libsql() else { return };
    let Some(lmdb_python) = python() else { return };
    let Some(db) = aico_pg18(AicoPg::AsFile).await else { return };
    let dir = tempfile::tempdir().expect("temp dir");
    let key_hex: String = (0..32).map(|i| format!("{:02x}", (i * 37 + 11) % 256)).collect();
    let aico_db = dir.path().join("aico.db");
    run_python(&libsql_python, MAKE_SOURCE, &[aico_db.to_str().expect("utf-8"), &key_hex]);
    let memory = dir.path().join("memory");
    let working = memory.join("working");
    std::fs::create_dir_all(&working).expect("mkdir");
    let written = run_python(&lmdb_python, MAKE_LMDB, &[working.to_str().expect("utf-8")]);
    let source: Vec<(String, String)> = serde_json::from_str(written.trim()).expect("the entries");
    let conn = db.connect().await;

    // No environment there: reported, skipped, the tables still move.
    let (code, report) = run_move(&aico_db, &key_hex, &db.url, &dir.path().join("nowhere"), &["--dry-run"]);
    assert_eq!(code, Some(0), "{report:#}");
    let skipped = report["working_memory"]["skipped"].as_str().expect("skipped");
    assert!(skipped.contains("no LMDB environment"), "{skipped}");

    // A dry run: counted, nothing written, not even our key map.
    let (code, report) = run_move(&aico_db, &key_hex, &db.url, &memory, &["--dry-run"]);
    assert_eq!(code, Some(0), "{report:#}");
    assert_eq!(figures(&report), [3, 3, 0, 0]);
    assert_eq!(column_of(&conn, "SELECT count(*)::text FROM aico_core.working_memory_messages").await, ["0"]);
    assert_eq!(column_of(&conn, "SELECT (to_regclass('aico_ams.working_memory_keys') IS NULL)::text").await, ["true"]);

    let (code, report) = run_move(&aico_db, &key_hex, &db.url, &memory, &[]);
    assert_eq!(code, Some(0), "{report:#}");
    assert_eq!(figures(&report), [3, 3, 0, 0]);
    assert_eq!(report["working_memory"]["user_sessions"], 2, "{report:#}");
    assert_eq!(report["ok"], true);

    let got = column_of(
        &conn,
        "SELECT k.lmdb_key || chr(31) || m.conversation_id || chr(31) || coalesce(m.user_id, '') || chr(31) \
         || coalesce(m.message_id, '') || chr(31) || coalesce(m.role, '') || chr(31) || coalesce(m.content, '') \
         || chr(31) || to_char(m.stored_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US') || chr(31) \
         || coalesce(to_char(m.expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US'), 'NULL') \
         || chr(31) || m.access_count::text || chr(31) || m.payload_json::text \
         FROM aico_ams.working_memory_keys k JOIN aico_core.working_memory_messages m ON m.id = k.message_row_id \
         ORDER BY k.lmdb_key",
    )
    .await;
    assert_eq!(got.len(), 3, "{got:?}");
    let expected = [
        ("conv-a", "m-1", "user", "Hello \u{e9}\u{2603}", "2025-11-07T18:00:00.250000", "2025-12-07T18:00:00.250000"),
        ("conv-a", "m-2", "assistant", "Hi Ada", "2025-11-07T18:00:05.500000", "2025-12-07T18:00:05.500000"),
        ("conv-b", "m-3", "user", "no conversation field", "2025-11-08T09:00:00.000000", "NULL"),
    ];
    for ((row, (key, value)), (conv, id, role, content, stored, expires)) in got.iter().zip(&source).zip(expected) {
        let parts: Vec<&str> = row.splitn(10, '\u{1f}').collect();
        assert_eq!(parts[..9], [key.as_str(), conv, "u-ada", id, role, content, stored, expires, "0"], "{row}");
        let payload: Value = serde_json::from_str(parts[9]).expect("payload JSON");
        let stored_value: Value = serde_json::from_str(value).expect("source JSON");
        assert_eq!(payload, stored_value, "payload_json is the message as stored");
    }

    // A rerun: every key mapped already, nothing inserted, the rows untouched.
    let before =
        column_of(&conn, "SELECT xmin::text || ' ' || id::text FROM aico_core.working_memory_messages ORDER BY id")
            .await;
    let (code, report) = run_move(&aico_db, &key_hex, &db.url, &memory, &[]);
    assert_eq!(code, Some(0), "{report:#}");
    assert_eq!(figures(&report), [3, 0, 3, 0]);
    let after =
        column_of(&conn, "SELECT xmin::text || ' ' || id::text FROM aico_core.working_memory_messages ORDER BY id")
            .await;
    assert_eq!(before, after);
    assert_eq!(column_of(&conn, "SELECT count(*)::text FROM aico_ams.working_memory_keys").await, ["3"]);
}
