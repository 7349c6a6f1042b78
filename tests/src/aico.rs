//! AICO's own database, built the way AICO's migrator builds it (its `core.py`, versions 1–18),
//! reduced to the tables the AMS touches or could mistake for its own: users, the facts table
//! (`facts_metadata`, `user_memories` from version 11), the Memory Album's `feedback_events`
//! (version 6), AICO's AMS versions 12–18, and AICO's version bookkeeping.
//!
//! Written from AICO's schema in our own words; each version's statements run in order, as AICO
//! runs them, and each is recorded in `_aico_migration_history`.

use sea_orm::DatabaseConnection;

use crate::exec;

/// An AICO database at one of the versions real installations reach.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AicoVersion {
    /// Versions 1–11: `user_memories` without `temporal_metadata` (before the AMS).
    V11,
    /// Versions 1–12: Phase 1 applied by AICO, its `consolidation_state` not yet.
    V12,
    /// Versions 1–13: what a fresh install reaches (AICO's own version 14 fails there).
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
const MEMORY_ALBUM_FEEDBACK: [&str; 3] = [
    "CREATE TABLE IF NOT EXISTS feedback_events (id TEXT PRIMARY KEY, user_uuid TEXT NOT NULL, \
     conversation_id TEXT NOT NULL, message_id TEXT, event_type TEXT NOT NULL, \
     event_category TEXT NOT NULL, payload TEXT NOT NULL, timestamp INTEGER NOT NULL, \
     is_sensitive INTEGER DEFAULT 0, federated_at INTEGER, \
     FOREIGN KEY (user_uuid) REFERENCES users(uuid) ON DELETE CASCADE)",
    "CREATE INDEX IF NOT EXISTS idx_feedback_user_time ON feedback_events(user_uuid, timestamp DESC)",
    "CREATE INDEX IF NOT EXISTS idx_feedback_type ON feedback_events(event_type, event_category)",
];

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
        14 => {
            let mut v = vec![
                "CREATE TABLE IF NOT EXISTS skills (skill_id TEXT PRIMARY KEY, skill_name TEXT NOT NULL, \
                 skill_type TEXT NOT NULL CHECK(skill_type IN ('base', 'user_created')), \
                 trigger_context TEXT NOT NULL, procedure_template TEXT NOT NULL, dimension_vector TEXT NOT NULL, \
                 created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP, updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP)",
                "CREATE INDEX IF NOT EXISTS idx_skills_type ON skills(skill_type)",
                "CREATE TABLE IF NOT EXISTS user_skill_confidence (user_id TEXT NOT NULL, skill_id TEXT NOT NULL, \
                 confidence_score REAL DEFAULT 0.5 CHECK(confidence_score BETWEEN 0.0 AND 1.0), \
                 usage_count INTEGER DEFAULT 0, positive_count INTEGER DEFAULT 0, negative_count INTEGER DEFAULT 0, \
                 last_used_at TIMESTAMP, PRIMARY KEY (user_id, skill_id), \
                 FOREIGN KEY (user_id) REFERENCES users(uuid) ON DELETE CASCADE, \
                 FOREIGN KEY (skill_id) REFERENCES skills(skill_id) ON DELETE CASCADE)",
                "CREATE INDEX IF NOT EXISTS idx_user_skill_confidence ON user_skill_confidence(user_id, confidence_score DESC)",
            ];
            // AICO's own version 14 creates the AMS `feedback_events` here (a no-op: the name is the
            // Memory Album's) and indexes its user_id, skill_id and processed, which fails; the
            // hand repair skips those four statements.
            v.extend([
                "CREATE TABLE IF NOT EXISTS trajectories (trajectory_id TEXT PRIMARY KEY, user_id TEXT NOT NULL, \
                 conversation_id TEXT NOT NULL, turn_number INTEGER NOT NULL, user_input TEXT NOT NULL, \
                 selected_skill_id TEXT, ai_response TEXT NOT NULL, \
                 feedback_reward INTEGER CHECK(feedback_reward IN (-1, 0, 1)), \
                 timestamp TIMESTAMP DEFAULT CURRENT_TIMESTAMP, archived BOOLEAN DEFAULT FALSE, \
                 FOREIGN KEY (user_id) REFERENCES users(uuid) ON DELETE CASCADE, \
                 FOREIGN KEY (selected_skill_id) REFERENCES skills(skill_id) ON DELETE SET NULL)",
                "CREATE INDEX IF NOT EXISTS idx_trajectories_user_feedback ON trajectories(user_id, feedback_reward)",
                "CREATE INDEX IF NOT EXISTS idx_trajectories_timestamp ON trajectories(timestamp)",
                "CREATE TABLE IF NOT EXISTS context_skill_stats (user_id TEXT NOT NULL, \
                 context_bucket INTEGER NOT NULL CHECK(context_bucket BETWEEN 0 AND 99), skill_id TEXT NOT NULL, \
                 alpha REAL DEFAULT 1.0 CHECK(alpha >= 0.0), beta REAL DEFAULT 1.0 CHECK(beta >= 0.0), \
                 last_updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP, PRIMARY KEY (user_id, context_bucket, skill_id), \
                 FOREIGN KEY (user_id) REFERENCES users(uuid) ON DELETE CASCADE, \
                 FOREIGN KEY (skill_id) REFERENCES skills(skill_id) ON DELETE CASCADE)",
                "CREATE INDEX IF NOT EXISTS idx_context_stats_user_context ON context_skill_stats(user_id, context_bucket)",
                "CREATE TABLE IF NOT EXISTS context_preference_vectors (user_id TEXT NOT NULL, \
                 context_bucket INTEGER NOT NULL CHECK(context_bucket BETWEEN 0 AND 99), dimensions TEXT NOT NULL, \
                 last_updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP, PRIMARY KEY (user_id, context_bucket), \
                 FOREIGN KEY (user_id) REFERENCES users(uuid) ON DELETE CASCADE)",
                "CREATE INDEX IF NOT EXISTS idx_preference_vectors_user ON context_preference_vectors(user_id)",
            ]);
            v
        }
        15 => vec![
            "ALTER TABLE trajectories ADD COLUMN message_id TEXT",
            "CREATE INDEX IF NOT EXISTS idx_trajectories_message ON trajectories(message_id)",
        ],
        16 => [
            // Meant for the AMS table, this moves the Memory Album's rows aside and recreates its table.
            "ALTER TABLE feedback_events RENAME TO ams_feedback_events",
        ]
        .into_iter()
        .chain(MEMORY_ALBUM_FEEDBACK)
        .collect(),
        18 => vec![
            "ALTER TABLE ams_feedback_events RENAME TO temp_memory_album_feedback",
            "CREATE TABLE IF NOT EXISTS ams_behavioral_feedback (event_id TEXT PRIMARY KEY, user_id TEXT NOT NULL, \
             message_id TEXT NOT NULL, skill_id TEXT, reward INTEGER NOT NULL CHECK (reward IN (-1, 0, 1)), \
             reason TEXT, free_text TEXT, timestamp TEXT NOT NULL, processed INTEGER DEFAULT 0, \
             FOREIGN KEY (user_id) REFERENCES users(uuid) ON DELETE CASCADE, \
             FOREIGN KEY (skill_id) REFERENCES skills(skill_id) ON DELETE SET NULL)",
            "CREATE INDEX IF NOT EXISTS idx_ams_behavioral_feedback_user ON ams_behavioral_feedback(user_id)",
            "CREATE INDEX IF NOT EXISTS idx_ams_behavioral_feedback_skill ON ams_behavioral_feedback(skill_id)",
            "CREATE INDEX IF NOT EXISTS idx_ams_behavioral_feedback_processed ON ams_behavioral_feedback(processed)",
        ],
        _ => Vec::new(),
    }
}

/// The user every fixture row belongs to.
pub const USER: &str = "5b1f0c52-9d3e-4e8a-b6a1-0c9a7d2e4f10";

/// Build AICO's schema up to `at` on `db` (a fresh SQLite database), as AICO's migrator does:
/// each version's statements, then its history row and the new `schema_version`. Facts and
/// Memory Album rows are added once their tables exist (after version 7), so that later versions
/// carry them along as AICO would.
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
