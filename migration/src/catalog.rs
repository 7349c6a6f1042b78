//! What each migration puts in the database, by name: the tables and indexes `aico db verify`
//! looks for. A test compares this list with the schema the migrations really build.

/// One migration's tables and indexes.
#[derive(Debug, Clone, Copy)]
pub struct Entry {
    /// The migration.
    pub migration: &'static str,
    /// The tables it creates (or adopts).
    pub tables: &'static [&'static str],
    /// Its indexes, with their tables.
    pub indexes: &'static [(&'static str, &'static str)],
}

/// Every migration's tables and indexes, in migration order.
pub const CATALOG: &[Entry] = &[
    Entry { migration: "m0000_semantic_facts_baseline", tables: &["semantic_facts"], indexes: &[] },
    Entry {
        migration: "m0001_temporal_metadata",
        tables: &[],
        indexes: &[
            ("idx_semantic_facts_temporal", "semantic_facts"),
            ("idx_semantic_facts_superseded", "semantic_facts"),
        ],
    },
    Entry {
        migration: "m0002_consolidation_state",
        tables: &["consolidation_state"],
        indexes: &[("idx_consolidation_state_updated", "consolidation_state")],
    },
    Entry {
        migration: "m0003_behavioral_learning",
        tables: &[
            "skills",
            "user_skill_confidence",
            "context_skill_stats",
            "context_preference_vectors",
            "feedback_events",
            "trajectories",
        ],
        indexes: &[
            ("idx_skill_type", "skills"),
            ("idx_user_confidence", "user_skill_confidence"),
            ("idx_user_context", "context_skill_stats"),
            ("idx_user_prefs", "context_preference_vectors"),
            ("idx_feedback_user", "feedback_events"),
            ("idx_feedback_skill", "feedback_events"),
            ("idx_feedback_processed", "feedback_events"),
            ("idx_trajectory_user_feedback", "trajectories"),
            ("idx_trajectory_timestamp", "trajectories"),
        ],
    },
];
