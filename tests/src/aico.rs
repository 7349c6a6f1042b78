//! AICO's own database, built the way AICO's migrator builds it (its `core.py`, versions 1–18),
//! reduced to the tables the AMS touches or could mistake for its own: users, the facts table
//! (`facts_metadata`, `user_memories` from version 11), the Memory Album's `feedback_events`
//! (version 6), AICO's AMS versions 12–18, and AICO's version bookkeeping.
//!
//! Written from AICO's schema in our own words; each version's statements run in order, as AICO
//! runs them, and each is recorded in `_aico_migration_history`. AICO's Phase 3 statements
//! (versions 14, 15 and 18) are the migration crate's own copy, [`migration::aico_phase3`].

use migration::aico_phase3::{self, MEMORY_ALBUM_FEEDBACK as ALBUM};
use sea_orm::{ConnectionTrait, DatabaseConnection};

use crate::{exec, fingerprint};

/// An AICO database at one of the versions real installations reach.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AicoVersion {
    /// Versions 1–11: `user_memories` without `temporal_metadata` (before the AMS).
    V11,
    /// Versions 1–12: Phase 1 applied by AICO, its `consolidation_state` not yet.
    V12,
    /// Versions 1–13: what a fresh install reaches. AICO's migrator goes on to version 14 in the
    /// same run, which fails at its first index on the Memory Album's `feedback_events`; its
    /// `CREATE` statements before that one stay (python `libsql` runs DDL outside the version's
    /// transaction, so the rollback does not undo them): AICO's `skills` and
    /// `user_skill_confidence`, empty, with their indexes.
    V13,
    /// Versions 1–18 on a database repaired by hand so that 14 could run: version 14 created its
    /// tables except the AMS `feedback_events` (the Memory Album's holds the name).
    V18,
}

impl AicoVersion {
    /// The schema version AICO records.
    pub fn number(self) -> i64 {
        match self {
            Self::V11 => 11,
            Self::V12 => 12,
            Self::V13 => 13,
            Self::V18 => 18,
        }
    }
}

/// AICO's version bookkeeping, created before its first version.
const BOOKKEEPING: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS _aico_schema_metadata (key TEXT PRIMARY KEY, value TEXT NOT NULL, \
     created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP, updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP)",
    "CREATE TABLE IF NOT EXISTS _aico_migration_history (id INTEGER PRIMARY KEY AUTOINCREMENT, \
     version INTEGER NOT NULL, name TEXT NOT NULL, description TEXT, \
     applied_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP, rollback_sql TEXT, checksum TEXT)",
    "INSERT INTO _aico_schema_metadata (key, value) VALUES ('schema_version', '0')",
    "INSERT INTO _aico_schema_metadata (key, value) VALUES ('schema_initialized', '2025-10-01T09:30:00.123456')",
];

/// The Memory Album's `feedback_events` (version 6), which version 16 creates again after moving
/// the first one aside.
const MEMORY_ALBUM_FEEDBACK: [&str; 5] = [
    "CREATE TABLE IF NOT EXISTS feedback_events (id TEXT PRIMARY KEY, user_uuid TEXT NOT NULL, \
     conversation_id TEXT NOT NULL, message_id TEXT, event_type TEXT NOT NULL, \
     event_category TEXT NOT NULL, payload TEXT NOT NULL, timestamp INTEGER NOT NULL, \
     is_sensitive INTEGER DEFAULT 0, federated_at INTEGER, \
     FOREIGN KEY (user_uuid) REFERENCES users(uuid) ON DELETE CASCADE)",
    "CREATE INDEX IF NOT EXISTS idx_feedback_user_time ON feedback_events(user_uuid, timestamp DESC)",
    "CREATE INDEX IF NOT EXISTS idx_feedback_conversation ON feedback_events(conversation_id)",
    "CREATE INDEX IF NOT EXISTS idx_feedback_type ON feedback_events(event_type, event_category)",
    "CREATE INDEX IF NOT EXISTS idx_feedback_message ON feedback_events(message_id) WHERE message_id IS NOT NULL",
];

/// AICO's version 17 (emotion state), which the replay of AICO's migrator passes through.
const EMOTION: [&str; 5] = [
    "CREATE TABLE IF NOT EXISTS emotion_state (id INTEGER PRIMARY KEY CHECK (id = 1), \
     user_id TEXT NOT NULL DEFAULT 'system', timestamp TEXT NOT NULL, subjective_feeling TEXT NOT NULL, \
     mood_valence REAL NOT NULL, mood_arousal REAL NOT NULL, intensity REAL NOT NULL, warmth REAL NOT NULL, \
     directness REAL NOT NULL, formality REAL NOT NULL, engagement REAL NOT NULL, closeness REAL NOT NULL, \
     care_focus REAL NOT NULL, updated_at TEXT DEFAULT CURRENT_TIMESTAMP)",
    "CREATE TABLE IF NOT EXISTS emotion_history (id INTEGER PRIMARY KEY AUTOINCREMENT, \
     user_id TEXT NOT NULL DEFAULT 'system', timestamp TEXT NOT NULL, feeling TEXT NOT NULL, valence REAL NOT NULL, \
     arousal REAL NOT NULL, intensity REAL NOT NULL, created_at TEXT DEFAULT CURRENT_TIMESTAMP)",
    "CREATE INDEX IF NOT EXISTS idx_emotion_history_user_time ON emotion_history(user_id, timestamp DESC)",
    "CREATE INDEX IF NOT EXISTS idx_emotion_history_feeling ON emotion_history(feeling)",
    "INSERT OR IGNORE INTO emotion_state (id, user_id, timestamp, subjective_feeling, mood_valence, mood_arousal, \
     intensity, warmth, directness, formality, engagement, closeness, care_focus) VALUES (1, 'system', \
     datetime('now'), 'neutral', 0.0, 0.5, 0.5, 0.6, 0.5, 0.3, 0.6, 0.5, 0.7)",
];

/// The SQL of AICO's own statements `of` one version.
fn sql_of(of: &[aico_phase3::Statement]) -> impl Iterator<Item = &'static str> + '_ {
    of.iter().map(|(_, sql)| *sql)
}

/// Every statement of AICO's version `n` (14–18), as AICO's own migrator runs them: version 14
/// with its statements on `feedback_events`, which fail on every real database.
pub fn aicos_statements(n: i64) -> Vec<&'static str> {
    match n {
        14 => sql_of(aico_phase3::V14).collect(),
        15 => sql_of(aico_phase3::V15).collect(),
        16 => ["ALTER TABLE feedback_events RENAME TO ams_feedback_events"]
            .into_iter()
            .chain(MEMORY_ALBUM_FEEDBACK)
            .collect(),
        17 => EMOTION.to_vec(),
        18 => sql_of(aico_phase3::V18).collect(),
        _ => Vec::new(),
    }
}

/// Version 14 repaired by hand so that it runs: without its four statements on the Memory
/// Album's `feedback_events` (the name the Album holds).
pub fn repaired_version_14() -> Vec<&'static str> {
    aico_phase3::V14.iter().filter(|(table, _)| *table != ALBUM).map(|(_, sql)| *sql).collect()
}

/// The statements of one AICO version that matter here (other tables of AICO's are left out).
fn version(n: i64) -> Vec<&'static str> {
    match n {
        1 => vec![
            "CREATE TABLE IF NOT EXISTS users (uuid TEXT PRIMARY KEY, full_name TEXT NOT NULL, nickname TEXT, \
             user_type TEXT DEFAULT 'person', is_active BOOLEAN DEFAULT TRUE, \
             created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP, updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP)",
        ],
        5 => vec![
            "CREATE TABLE IF NOT EXISTS facts_metadata (fact_id TEXT PRIMARY KEY, user_id TEXT NOT NULL, \
             fact_type TEXT NOT NULL, category TEXT NOT NULL, confidence REAL NOT NULL, \
             is_immutable BOOLEAN NOT NULL DEFAULT FALSE, valid_from TIMESTAMP NOT NULL, valid_until TIMESTAMP, \
             content TEXT NOT NULL, entities_json TEXT, extraction_method TEXT NOT NULL, \
             source_conversation_id TEXT NOT NULL, source_message_id TEXT, \
             created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP, updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP, \
             FOREIGN KEY (user_id) REFERENCES users(uuid) ON DELETE CASCADE)",
            "CREATE INDEX IF NOT EXISTS idx_facts_user_type ON facts_metadata(user_id, fact_type)",
            "CREATE INDEX IF NOT EXISTS idx_facts_confidence ON facts_metadata(confidence)",
        ],
        6 => MEMORY_ALBUM_FEEDBACK
            .into_iter()
            .chain([
                "ALTER TABLE facts_metadata ADD COLUMN user_note TEXT",
                "ALTER TABLE facts_metadata ADD COLUMN tags_json TEXT",
                "ALTER TABLE facts_metadata ADD COLUMN is_favorite INTEGER DEFAULT 0",
                "ALTER TABLE facts_metadata ADD COLUMN revisit_count INTEGER DEFAULT 0",
                "ALTER TABLE facts_metadata ADD COLUMN last_revisited TIMESTAMP",
                "ALTER TABLE facts_metadata ADD COLUMN emotional_tone TEXT",
                "ALTER TABLE facts_metadata ADD COLUMN memory_type TEXT",
            ])
            .collect(),
        7 => vec![
            "ALTER TABLE facts_metadata ADD COLUMN content_type TEXT DEFAULT 'message'",
            "ALTER TABLE facts_metadata ADD COLUMN conversation_title TEXT",
            "ALTER TABLE facts_metadata ADD COLUMN conversation_summary TEXT",
            "ALTER TABLE facts_metadata ADD COLUMN turn_range TEXT",
            "ALTER TABLE facts_metadata ADD COLUMN key_moments_json TEXT",
        ],
        11 => vec![
            "ALTER TABLE facts_metadata RENAME TO user_memories",
            "DROP INDEX IF EXISTS idx_facts_user_type",
            "DROP INDEX IF EXISTS idx_facts_confidence",
            "CREATE INDEX IF NOT EXISTS idx_user_memories_user_type ON user_memories(user_id, fact_type)",
            "CREATE INDEX IF NOT EXISTS idx_user_memories_confidence ON user_memories(confidence)",
        ],
        12 => vec![
            "ALTER TABLE user_memories ADD COLUMN temporal_metadata TEXT DEFAULT NULL",
            "CREATE INDEX IF NOT EXISTS idx_user_memories_temporal ON user_memories(\
             json_extract(temporal_metadata, '$.last_accessed'), json_extract(temporal_metadata, '$.confidence'))",
            "CREATE INDEX IF NOT EXISTS idx_user_memories_superseded ON user_memories(\
             json_extract(temporal_metadata, '$.superseded_by'))",
        ],
        13 => vec![
            "CREATE TABLE IF NOT EXISTS consolidation_state (user_id TEXT NOT NULL, \
             last_consolidation_at TIMESTAMP, messages_consolidated INTEGER DEFAULT 0, \
             memories_created INTEGER DEFAULT 0, status TEXT DEFAULT 'pending', error_message TEXT, \
             created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP, updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP, \
             PRIMARY KEY (user_id), FOREIGN KEY (user_id) REFERENCES users(uuid) ON DELETE CASCADE)",
            "CREATE INDEX IF NOT EXISTS idx_consolidation_status ON consolidation_state(status)",
            "CREATE INDEX IF NOT EXISTS idx_consolidation_last_run ON consolidation_state(last_consolidation_at)",
        ],
        14 => repaired_version_14(),
        15..=18 => aicos_statements(n),
        _ => Vec::new(),
    }
}

/// AICO's version tables (`_aico_schema_metadata`, `_aico_migration_history`), byte for byte.
pub async fn version_tables(conn: &DatabaseConnection) -> Vec<String> {
    let mut rows =
        fingerprint(conn, "_aico_schema_metadata", &["key", "value", "created_at", "updated_at"], "key").await;
    rows.extend(
        fingerprint(
            conn,
            "_aico_migration_history",
            &["id", "version", "name", "description", "applied_at", "rollback_sql", "checksum"],
            "id",
        )
        .await,
    );
    rows
}

/// AICO's 2025 `users` as a source of `aico-ams move` holds it (its version 1).
pub const USERS_2025: &str = "CREATE TABLE users (uuid TEXT PRIMARY KEY, full_name TEXT NOT NULL, nickname TEXT, \
     user_type TEXT DEFAULT 'person', is_active BOOLEAN DEFAULT TRUE, \
     created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP, updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP)";

/// AICO's `user_memories` as its migrator leaves it at version 13 (the Memory Album's columns and
/// `temporal_metadata` in one statement): what the move's fixtures and benchmark write with python.
pub const USER_MEMORIES_V13: &str = "CREATE TABLE user_memories (fact_id TEXT PRIMARY KEY, user_id TEXT NOT NULL, \
     fact_type TEXT NOT NULL, category TEXT NOT NULL, confidence REAL NOT NULL, \
     is_immutable BOOLEAN NOT NULL DEFAULT FALSE, valid_from TIMESTAMP NOT NULL, valid_until TIMESTAMP, \
     content TEXT NOT NULL, entities_json TEXT, extraction_method TEXT NOT NULL, \
     source_conversation_id TEXT NOT NULL, source_message_id TEXT, \
     created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP, updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP, \
     user_note TEXT, tags_json TEXT, is_favorite INTEGER DEFAULT 0, revisit_count INTEGER DEFAULT 0, \
     last_revisited TIMESTAMP, emotional_tone TEXT, memory_type TEXT, content_type TEXT DEFAULT 'message', \
     conversation_title TEXT, conversation_summary TEXT, turn_range TEXT, key_moments_json TEXT, \
     temporal_metadata TEXT DEFAULT NULL, FOREIGN KEY (user_id) REFERENCES users(uuid) ON DELETE CASCADE)";

/// The user every fixture row belongs to.
pub const USER: &str = "5b1f0c52-9d3e-4e8a-b6a1-0c9a7d2e4f10";

/// Build AICO's schema up to `at` on `db` (a fresh SQLite database), as AICO's migrator does:
/// each version's statements, then its history row and the new `schema_version`. Facts and
/// Memory Album rows are added once their tables exist (after version 7), so that later versions
/// carry them along as AICO would. At [`AicoVersion::V13`], AICO's failed attempt at version 14
/// follows, as AICO's migrator leaves it.
pub async fn build(db: &DatabaseConnection, at: AicoVersion, facts: usize) {
    for sql in BOOKKEEPING {
        exec(db, sql).await;
    }
    for n in 1..=at.number() {
        for sql in version(n) {
            exec(db, sql).await;
        }
        if n == 1 {
            exec(db, &format!("INSERT INTO users (uuid, full_name) VALUES ('{USER}', 'Ada')")).await;
        }
        if n == 7 {
            insert_facts(db, facts).await;
            insert_album_feedback(db).await;
        }
        exec(
            db,
            &format!(
                "INSERT INTO _aico_migration_history (version, name, description, applied_at, checksum) \
                 VALUES ({n}, 'version {n}', 'AICO schema version {n}', '2025-10-01 09:30:{n:02}', 'sum{n}')"
            ),
        )
        .await;
        exec(
            db,
            &format!(
                "UPDATE _aico_schema_metadata SET value = '{n}', updated_at = '2025-10-01 09:31:{n:02}' \
                 WHERE key = 'schema_version'"
            ),
        )
        .await;
    }
    if at == AicoVersion::V13 {
        failed_version_14(db).await;
    }
}

/// AICO's version 14 as its migrator runs it on a fresh install: statement by statement, each
/// `CREATE` committed on its own, until the first index on the Memory Album's `feedback_events`
/// fails; nothing is recorded.
async fn failed_version_14(db: &DatabaseConnection) {
    for sql in aicos_statements(14) {
        if let Err(e) = db.execute_unprepared(sql).await {
            assert!(sql.contains("ON feedback_events(user_id)"), "{sql}: {e}");
            assert!(e.to_string().contains("no such column: user_id"), "{sql}: {e}");
            return;
        }
    }
    panic!("AICO's version 14 ran whole on the Memory Album's feedback_events");
}

/// A uuid4 in text (random bits from a small deterministic generator; version 4, variant 10).
pub fn uuid4(seed: u64) -> String {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xD1B5_4A32_D192_ED03;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let (a, b) = (next(), next());
    format!(
        "{:08x}-{:04x}-4{:03x}-{:x}{:03x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        8 + (b >> 62),
        (b >> 48) & 0xfff,
        b & 0xffff_ffff_ffff
    )
}

/// `created_at` of fact `i` as AICO writes it: SQLite's `CURRENT_TIMESTAMP` form
/// (`YYYY-MM-DD HH:MM:SS`) for even `i`, Python's naive `isoformat()` with microseconds for odd.
pub fn created_at(i: usize) -> String {
    let (day, hour, minute, second) = (1 + i % 28, i % 24, (i * 7) % 60, (i * 13) % 60);
    match i % 2 {
        0 => format!("2025-09-{day:02} {hour:02}:{minute:02}:{second:02}"),
        _ => format!("2025-09-{day:02}T{hour:02}:{minute:02}:{second:02}.{:06}", (i * 7919) % 1_000_000),
    }
}

/// `facts` uuid4 facts with both `created_at` forms, as AICO's memory album writes them.
async fn insert_facts(db: &DatabaseConnection, facts: usize) {
    for chunk in (0..facts).collect::<Vec<_>>().chunks(500) {
        let rows: Vec<String> = chunk
            .iter()
            .map(|&i| {
                format!(
                    "('{}', '{USER}', 'preference', 'preferences', 0.{:02}, {}, '{}', 'fact number {i}: it''s tea', \
                     'llm', 'conv-{}', '{}', '{}', 'note {i}', 'conversation')",
                    uuid4(i as u64),
                    i % 100,
                    i % 2,
                    created_at(i),
                    i % 10,
                    created_at(i),
                    created_at(i + 1),
                )
            })
            .collect();
        exec(
            db,
            &format!(
                "INSERT INTO facts_metadata (fact_id, user_id, fact_type, category, confidence, is_immutable, \
                 valid_from, content, extraction_method, source_conversation_id, created_at, updated_at, \
                 user_note, content_type) VALUES {}",
                rows.join(", ")
            ),
        )
        .await;
    }
}

/// Three Memory Album feedback events (version 6's table).
async fn insert_album_feedback(db: &DatabaseConnection) {
    for i in 0..3 {
        exec(
            db,
            &format!(
                "INSERT INTO feedback_events (id, user_uuid, conversation_id, message_id, event_type, event_category, \
                 payload, timestamp) VALUES ('fb-{i}', '{USER}', 'conv-{i}', 'msg-{i}', 'reaction', 'memory', \
                 '{{\"liked\": true}}', {})",
                1_759_300_000 + i
            ),
        )
        .await;
    }
}

/// The columns of `user_memories` at version 11 and later, but `temporal_metadata`: what the
/// backfill must leave byte-identical.
pub const FACT_COLUMNS: &[&str] = &[
    "fact_id",
    "user_id",
    "fact_type",
    "category",
    "confidence",
    "is_immutable",
    "valid_from",
    "valid_until",
    "content",
    "entities_json",
    "extraction_method",
    "source_conversation_id",
    "source_message_id",
    "created_at",
    "updated_at",
    "user_note",
    "tags_json",
    "is_favorite",
    "revisit_count",
    "last_revisited",
    "emotional_tone",
    "memory_type",
    "content_type",
    "conversation_title",
    "conversation_summary",
    "turn_range",
    "key_moments_json",
];
