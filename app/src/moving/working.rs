//! AICO's LMDB working memory (`<memory dir>/working`, database `session_memory`) into
//! `aico_core.working_memory_messages`: one row per entry, `payload_json` the message as stored,
//! `stored_at`/`expires_at` from its `_stored_at`/`_expires_at` (read as the backfill reads them).
//!
//! The target has no natural key, so the move keeps its own: `aico_ams.working_memory_keys`
//! (LMDB key -> the row's id), written in the transaction of the insert. A key already there is
//! skipped: a rerun writes nothing, and a batch that fails leaves neither rows nor keys.
//! `user_sessions` has no target: counted only. The environment is opened read-only.

use std::collections::HashSet;
use std::path::PathBuf;

use aico_connect::target::{AICO_PG_SCHEMA, OWN_PG_SCHEMA};
use chrono::{DateTime, Utc};
use sea_orm::sqlx;
use serde::Serialize;
use serde_json::Value;

use super::error::MoveError;
use super::pg::Dest;
use super::report::Rows;
use super::{MoveOptions, Step};
use crate::lmdb::{self, WorkingMemory, WorkingMemoryError};

/// Our table in [`OWN_PG_SCHEMA`] of the LMDB keys moved and the rows they became.
pub const KEY_MAP: &str = "working_memory_keys";

/// AICO's LMDB database of sessions: no target in AICO's PostgreSQL.
pub const SESSIONS: &str = "user_sessions";

/// Where the messages go, in `aico_core`.
pub const TARGET: &str = "working_memory_messages";

/// What the move did with the working memory.
#[derive(Clone, Debug, Default, Serialize)]
pub struct WorkingMove {
    /// The LMDB environment read (opened read-only).
    pub dir: String,
    /// Why it was not read (no environment there): then nothing else is set.
    pub skipped: Option<String>,
    /// Entries in `session_memory`.
    pub in_source: u64,
    /// Rows written by this run (a dry run: that would be written).
    pub moved: u64,
    /// Entries whose key is in `aico_ams.working_memory_keys` already: moved before, left alone.
    pub already_moved: u64,
    /// Entries that cannot go, with the reason: never written.
    pub refused: Rows,
    /// Entries in `user_sessions` (no target; None: no such database).
    pub user_sessions: Option<u64>,
}

impl WorkingMove {
    /// Whether every entry is moved, now or before (a dry run: would be); true when skipped.
    pub fn complete(&self) -> bool {
        self.skipped.is_some() || (self.refused.count == 0 && self.moved + self.already_moved == self.in_source)
    }
}

/// One entry as a row of `working_memory_messages`.
#[derive(Debug)]
struct Message {
    key: String,
    conversation_id: String,
    user_id: Option<String>,
    message_id: Option<String>,
    role: Option<String>,
    content: Option<String>,
    language: Option<String>,
    message_type: Option<String>,
    payload: String,
    stored_at: DateTime<Utc>,
    expires_at: Option<DateTime<Utc>>,
}

/// A field as text: a string as it is, another value as its JSON, null or absent as None.
fn text(message: &serde_json::Map<String, Value>, name: &str) -> Option<String> {
    match message.get(name) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(v) => Some(v.to_string()),
    }
}

/// The row of one entry, or why it cannot go.
fn message_of(key: &str, value: &[u8]) -> Result<Message, String> {
    let payload = std::str::from_utf8(value).map_err(|_| "value is not UTF-8".to_owned())?;
    let Ok(Value::Object(message)) = serde_json::from_str::<Value>(payload) else {
        return Err("value is not a JSON object".into());
    };
    if payload.contains("\\u0000") {
        return Err("value holds \\u0000, which jsonb cannot store".into());
    }
    let conversation_id = match text(&message, "conversation_id").filter(|c| !c.is_empty()) {
        Some(c) => c,
        None => match key.split_once(':') {
            Some((c, _)) if !c.is_empty() => c.to_owned(),
            _ => return Err("no conversation_id in the message or the key".into()),
        },
    };
    let stored_at = match message.get("_stored_at") {
        None | Some(Value::Null) => return Err("no _stored_at".into()),
        Some(v) => lmdb::time_of(v).ok_or_else(|| format!("_stored_at {v} is not a time AICO reads"))?,
    };
    let expires_at = match message.get("_expires_at") {
        None | Some(Value::Null) => None,
        Some(v) => Some(lmdb::time_of(v).ok_or_else(|| format!("_expires_at {v} is not a time AICO reads"))?),
    };
    Ok(Message {
        key: key.to_owned(),
        conversation_id,
        user_id: text(&message, "user_id"),
        message_id: text(&message, "message_id"),
        role: text(&message, "role"),
        content: text(&message, "content"),
        language: text(&message, "language"),
        message_type: text(&message, "message_type"),
        payload: payload.to_owned(),
        stored_at: stored_at.as_datetime(),
        expires_at: expires_at.map(|t| t.as_datetime()),
    })
}

/// Move (or plan) the working memory at `dir` into `dest`, `batch_size` entries per transaction.
pub async fn move_working_memory(
    dir: Result<PathBuf, String>,
    dest: &Dest,
    opts: MoveOptions<'_>,
) -> Result<WorkingMove, MoveError> {
    let (batch_size, dry_run) = (opts.batch_size, opts.dry_run);
    let mut report = WorkingMove::default();
    let dir = match dir {
        Ok(dir) => dir,
        Err(detail) => {
            report.skipped = Some(format!("not read: {detail}"));
            return Ok(report);
        }
    };
    report.dir = dir.display().to_string();
    let memory = match WorkingMemory::open_read_only(&dir) {
        Ok(m) => m,
        Err(e @ (WorkingMemoryError::NotFound { .. } | WorkingMemoryError::MissingDatabase { .. })) => {
            report.skipped = Some(format!("not read: {e}"));
            return Ok(report);
        }
        Err(e) => return Err(e.into()),
    };
    report.user_sessions = memory.count_of(SESSIONS)?;
    (opts.progress)(Step::Begin { table: TARGET, rows: memory.count_of(lmdb::DATABASE)? });
    if !dry_run {
        dest.make_key_map().await?;
    }
    let mut mapped = dest.mapped_keys().await?;
    let mut after: Option<Vec<u8>> = None;
    loop {
        let page = memory.page(after.as_deref(), batch_size.max(1))?;
        let Some((last, _)) = page.last() else { break };
        after = Some(last.clone());
        let mut batch = Vec::with_capacity(page.len());
        for (key, value) in &page {
            report.in_source += 1;
            let Ok(key) = std::str::from_utf8(key) else {
                report.refused.add(String::from_utf8_lossy(key), "key is not UTF-8");
                continue;
            };
            if mapped.contains(key) {
                report.already_moved += 1;
                continue;
            }
            match message_of(key, value) {
                Ok(m) => batch.push(m),
                Err(reason) => report.refused.add(key, reason),
            }
        }
        if !dry_run {
            dest.insert_messages(&batch).await?;
        }
        report.moved += batch.len() as u64;
        mapped.extend(batch.into_iter().map(|m| m.key));
        tracing::debug!(moved = report.moved, "working memory batch done");
        (opts.progress)(Step::Rows(page.len() as u64));
    }
    (opts.progress)(Step::End { table: TARGET, moved: report.moved, of: report.in_source });
    Ok(report)
}

impl Dest {
    /// Make `aico_ams.working_memory_keys` when it is not there.
    async fn make_key_map(&self) -> Result<(), MoveError> {
        let sql = format!(
            "CREATE TABLE IF NOT EXISTS {OWN_PG_SCHEMA}.{KEY_MAP} (lmdb_key TEXT PRIMARY KEY, message_row_id BIGINT NOT NULL)"
        );
        sqlx::query(sqlx::AssertSqlSafe(sql)).execute(self.pool()).await.map_err(|e| self.err(e))?;
        Ok(())
    }

    /// The LMDB keys moved before (none when our table is not there: a dry run makes nothing).
    async fn mapped_keys(&self) -> Result<HashSet<String>, MoveError> {
        let exists: bool = sqlx::query_scalar("SELECT to_regclass($1) IS NOT NULL")
            .bind(format!("{OWN_PG_SCHEMA}.{KEY_MAP}"))
            .fetch_one(self.pool())
            .await
            .map_err(|e| self.err(e))?;
        if !exists {
            return Ok(HashSet::new());
        }
        let sql = format!("SELECT lmdb_key FROM {OWN_PG_SCHEMA}.{KEY_MAP}");
        let keys: Vec<String> =
            sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).fetch_all(self.pool()).await.map_err(|e| self.err(e))?;
        Ok(keys.into_iter().collect())
    }

    /// Insert `messages` and their keys in one transaction: both or neither.
    async fn insert_messages(&self, messages: &[Message]) -> Result<(), MoveError> {
        if messages.is_empty() {
            return Ok(());
        }
        let insert = format!(
            "INSERT INTO {AICO_PG_SCHEMA}.{TARGET} (conversation_id, user_id, message_id, role, \
             content, language, message_type, payload_json, stored_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, CAST($8 AS jsonb), $9, $10) RETURNING id"
        );
        let map = format!("INSERT INTO {OWN_PG_SCHEMA}.{KEY_MAP} (lmdb_key, message_row_id) VALUES ($1, $2)");
        let mut tx = self.pool().begin().await.map_err(|e| self.err(e))?;
        for m in messages {
            let id: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(insert.as_str()))
                .bind(&m.conversation_id)
                .bind(&m.user_id)
                .bind(&m.message_id)
                .bind(&m.role)
                .bind(&m.content)
                .bind(&m.language)
                .bind(&m.message_type)
                .bind(&m.payload)
                .bind(m.stored_at)
                .bind(m.expires_at)
                .fetch_one(&mut *tx)
                .await
                .map_err(|e| self.err(e))?;
            sqlx::query(sqlx::AssertSqlSafe(map.as_str()))
                .bind(&m.key)
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(|e| self.err(e))?;
        }
        tx.commit().await.map_err(|e| self.err(e))
    }
}

#[cfg(test)]
mod tests {
    use super::message_of;

    #[test]
    fn an_entry_as_a_row() {
        let v = br#"{"message_id": "m1", "user_id": "u", "conversation_id": "c1", "role": "user", "content": "hi",
            "_stored_at": 1762538400.5, "_expires_at": "2025-12-07T18:00:00Z"}"#;
        let m = message_of("c1:2025-11-07T18:00:00Z", v).expect("row");
        assert_eq!(m.conversation_id, "c1");
        assert_eq!(m.stored_at.to_rfc3339(), "2025-11-07T18:00:00.500+00:00");
        assert_eq!(m.expires_at.map(|t| t.to_rfc3339()).as_deref(), Some("2025-12-07T18:00:00+00:00"));
        assert_eq!(m.payload.as_bytes(), v);
        let k = message_of("c2:2025-11-07T18:00:00Z", br#"{"_stored_at": "2025-11-07T18:00:00Z"}"#).expect("row");
        assert_eq!(k.conversation_id, "c2", "from the key");
        assert!(message_of("c:x", br#"{"role": "user"}"#).expect_err("no time").contains("_stored_at"));
        assert!(message_of("c:x", b"[1]").is_err());
    }
}
