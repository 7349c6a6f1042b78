//! AICO's own Phase 3 statements (its `shared/aico/data/schemas/core.py`, versions 14, 15 and 18),
//! transcribed here once, in AICO's order and with AICO's types, defaults, CHECKs, foreign keys
//! and index names.
//!
//! On AICO's database at version 13 (where every fresh install stops, because AICO's own version
//! 14 fails), `m0003` runs [`phase3`]: the statements of those versions on the six behavioural
//! tables, so that AICO's own behavioural code finds the tables it was written for. The tests
//! build AICO's databases and replay AICO's migrator with the same constants.

use crate::layout::AICO_FEEDBACK;

/// One statement of AICO's schema: the table it creates, alters or indexes, and its SQL.
pub type Statement = (&'static str, &'static str);

/// The Memory Album's table (AICO's version 6). AICO's version 14 also names its AMS feedback
/// table so; its `CREATE TABLE IF NOT EXISTS` then leaves the Album's table as it is, and its
/// indexes on `user_id`, `skill_id` and `processed` fail (`no such column: user_id`).
pub const MEMORY_ALBUM_FEEDBACK: &str = "feedback_events";

/// AICO's version 14, "AMS Phase 3 - Behavioral Learning System", every statement.
pub const V14: &[Statement] = &[
    (
        "skills",
        "CREATE TABLE IF NOT EXISTS skills (skill_id TEXT PRIMARY KEY, skill_name TEXT NOT NULL, \
         skill_type TEXT NOT NULL CHECK(skill_type IN ('base', 'user_created')), trigger_context TEXT NOT NULL, \
         procedure_template TEXT NOT NULL, dimension_vector TEXT NOT NULL, \
         created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP, updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP)",
    ),
    ("skills", "CREATE INDEX IF NOT EXISTS idx_skills_type ON skills(skill_type)"),
    (
        "user_skill_confidence",
        "CREATE TABLE IF NOT EXISTS user_skill_confidence (user_id TEXT NOT NULL, skill_id TEXT NOT NULL, \
         confidence_score REAL DEFAULT 0.5 CHECK(confidence_score BETWEEN 0.0 AND 1.0), \
         usage_count INTEGER DEFAULT 0, positive_count INTEGER DEFAULT 0, negative_count INTEGER DEFAULT 0, \
         last_used_at TIMESTAMP, PRIMARY KEY (user_id, skill_id), \
         FOREIGN KEY (user_id) REFERENCES users(uuid) ON DELETE CASCADE, \
         FOREIGN KEY (skill_id) REFERENCES skills(skill_id) ON DELETE CASCADE)",
    ),
    (
        "user_skill_confidence",
        "CREATE INDEX IF NOT EXISTS idx_user_skill_confidence ON user_skill_confidence(user_id, confidence_score DESC)",
    ),
    (
        MEMORY_ALBUM_FEEDBACK,
        "CREATE TABLE IF NOT EXISTS feedback_events (event_id TEXT PRIMARY KEY, user_id TEXT NOT NULL, \
         message_id TEXT NOT NULL, skill_id TEXT, reward INTEGER NOT NULL CHECK(reward IN (-1, 0, 1)), \
         reason TEXT, free_text TEXT, classified_categories TEXT, timestamp TIMESTAMP DEFAULT CURRENT_TIMESTAMP, \
         processed BOOLEAN DEFAULT FALSE, FOREIGN KEY (user_id) REFERENCES users(uuid) ON DELETE CASCADE, \
         FOREIGN KEY (skill_id) REFERENCES skills(skill_id) ON DELETE SET NULL)",
    ),
    (MEMORY_ALBUM_FEEDBACK, "CREATE INDEX IF NOT EXISTS idx_feedback_user ON feedback_events(user_id)"),
    (MEMORY_ALBUM_FEEDBACK, "CREATE INDEX IF NOT EXISTS idx_feedback_skill ON feedback_events(skill_id)"),
    (MEMORY_ALBUM_FEEDBACK, "CREATE INDEX IF NOT EXISTS idx_feedback_processed ON feedback_events(processed)"),
    (
        "trajectories",
        "CREATE TABLE IF NOT EXISTS trajectories (trajectory_id TEXT PRIMARY KEY, user_id TEXT NOT NULL, \
         conversation_id TEXT NOT NULL, turn_number INTEGER NOT NULL, user_input TEXT NOT NULL, \
         selected_skill_id TEXT, ai_response TEXT NOT NULL, \
         feedback_reward INTEGER CHECK(feedback_reward IN (-1, 0, 1)), \
         timestamp TIMESTAMP DEFAULT CURRENT_TIMESTAMP, archived BOOLEAN DEFAULT FALSE, \
         FOREIGN KEY (user_id) REFERENCES users(uuid) ON DELETE CASCADE, \
         FOREIGN KEY (selected_skill_id) REFERENCES skills(skill_id) ON DELETE SET NULL)",
    ),
    (
        "trajectories",
        "CREATE INDEX IF NOT EXISTS idx_trajectories_user_feedback ON trajectories(user_id, feedback_reward)",
    ),
    ("trajectories", "CREATE INDEX IF NOT EXISTS idx_trajectories_timestamp ON trajectories(timestamp)"),
    (
        "context_skill_stats",
        "CREATE TABLE IF NOT EXISTS context_skill_stats (user_id TEXT NOT NULL, \
         context_bucket INTEGER NOT NULL CHECK(context_bucket BETWEEN 0 AND 99), skill_id TEXT NOT NULL, \
         alpha REAL DEFAULT 1.0 CHECK(alpha >= 0.0), beta REAL DEFAULT 1.0 CHECK(beta >= 0.0), \
         last_updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP, PRIMARY KEY (user_id, context_bucket, skill_id), \
         FOREIGN KEY (user_id) REFERENCES users(uuid) ON DELETE CASCADE, \
         FOREIGN KEY (skill_id) REFERENCES skills(skill_id) ON DELETE CASCADE)",
    ),
    (
        "context_skill_stats",
        "CREATE INDEX IF NOT EXISTS idx_context_stats_user_context ON context_skill_stats(user_id, context_bucket)",
    ),
    (
        "context_preference_vectors",
        "CREATE TABLE IF NOT EXISTS context_preference_vectors (user_id TEXT NOT NULL, \
         context_bucket INTEGER NOT NULL CHECK(context_bucket BETWEEN 0 AND 99), dimensions TEXT NOT NULL, \
         last_updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP, PRIMARY KEY (user_id, context_bucket), \
         FOREIGN KEY (user_id) REFERENCES users(uuid) ON DELETE CASCADE)",
    ),
    (
        "context_preference_vectors",
        "CREATE INDEX IF NOT EXISTS idx_preference_vectors_user ON context_preference_vectors(user_id)",
    ),
];

/// AICO's version 15, "AMS Phase 3 - Skill Tracking": `trajectories.message_id`, which AICO's
/// feedback endpoint looks a skill up by.
pub const V15: &[Statement] = &[
    ("trajectories", "ALTER TABLE trajectories ADD COLUMN message_id TEXT"),
    ("trajectories", "CREATE INDEX IF NOT EXISTS idx_trajectories_message ON trajectories(message_id)"),
];

/// AICO's version 18: version 16's misnamed table moved aside, and the AMS feedback table as
/// AICO's code writes it (`timestamp TEXT NOT NULL`, `processed INTEGER`, no
/// `classified_categories`).
pub const V18: &[Statement] = &[
    ("ams_feedback_events", "ALTER TABLE ams_feedback_events RENAME TO temp_memory_album_feedback"),
    (
        AICO_FEEDBACK,
        "CREATE TABLE IF NOT EXISTS ams_behavioral_feedback (event_id TEXT PRIMARY KEY, user_id TEXT NOT NULL, \
         message_id TEXT NOT NULL, skill_id TEXT, reward INTEGER NOT NULL CHECK (reward IN (-1, 0, 1)), \
         reason TEXT, free_text TEXT, timestamp TEXT NOT NULL, processed INTEGER DEFAULT 0, \
         FOREIGN KEY (user_id) REFERENCES users(uuid) ON DELETE CASCADE, \
         FOREIGN KEY (skill_id) REFERENCES skills(skill_id) ON DELETE SET NULL)",
    ),
    (AICO_FEEDBACK, "CREATE INDEX IF NOT EXISTS idx_ams_behavioral_feedback_user ON ams_behavioral_feedback(user_id)"),
    (
        AICO_FEEDBACK,
        "CREATE INDEX IF NOT EXISTS idx_ams_behavioral_feedback_skill ON ams_behavioral_feedback(skill_id)",
    ),
    (
        AICO_FEEDBACK,
        "CREATE INDEX IF NOT EXISTS idx_ams_behavioral_feedback_processed ON ams_behavioral_feedback(processed)",
    ),
];

/// AICO's six behavioural tables, parents first (the order AICO creates them in).
pub const TABLES: [&str; 6] = [
    "skills",
    "user_skill_confidence",
    "trajectories",
    "context_skill_stats",
    "context_preference_vectors",
    AICO_FEEDBACK,
];

/// What `m0003` runs on AICO's database at version 13, in AICO's order: every statement of
/// versions 14, 15 and 18 on one of the six [`TABLES`]. Not run: version 14's four statements on
/// the Memory Album's `feedback_events`, and version 18's rename of a table only version 16 makes.
pub fn phase3() -> impl Iterator<Item = Statement> {
    V14.iter().chain(V15).chain(V18).copied().filter(|(table, _)| TABLES.contains(table))
}

/// The column an `ALTER TABLE ... ADD COLUMN` statement adds, if `sql` is one.
pub fn added_column(sql: &str) -> Option<&str> {
    let (_, rest) = sql.split_once(" ADD COLUMN ")?;
    rest.split_whitespace().next()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phase3_is_versions_14_15_and_18_on_the_six_tables_and_never_the_memory_albums() {
        let sql: Vec<&str> = phase3().map(|(_, sql)| sql).collect();
        assert_eq!(sql.len(), 11 + 2 + 4);
        assert!(sql.iter().all(|s| !s.contains(" feedback_events") && !s.contains("ams_feedback_events")));
        for table in TABLES {
            assert_eq!(
                sql.iter().filter(|s| s.starts_with(&format!("CREATE TABLE IF NOT EXISTS {table} ("))).count(),
                1
            );
        }
        assert_eq!(sql.iter().filter_map(|s| added_column(s)).collect::<Vec<_>>(), ["message_id"]);
    }

    #[test]
    fn every_statement_names_the_table_it_is_listed_with() {
        for (table, sql) in V14.iter().chain(V15).chain(V18) {
            let names = |p: &str| sql.contains(&format!("{p}{table}"));
            assert!(names("EXISTS ") || names("ON ") || names("ALTER TABLE "), "{sql} is listed under {table}");
        }
    }
}
