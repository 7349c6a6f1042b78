//! Which of AICO's 2025 tables go where in AICO's PostgreSQL (shared/DESIGN.md, "Old to new"): the
//! tables this increment moves, the ones with no target, and the ones that are not moved yet.

/// One table the move carries: its names in a 2025 `aico.db` (AICO's first, then the later
/// `user_profiles` / `ams_*` name) and its table in `aico_core`.
#[derive(Debug, Clone, Copy)]
pub struct TableMap {
    /// The source's names, in the order they are looked for.
    pub sources: &'static [&'static str],
    /// The table in `aico_core`.
    pub target: &'static str,
    /// The primary key (text, the same name on both sides).
    pub key: &'static str,
    /// A column naming a row of a table moved before this one, and that table's key: a row whose
    /// parent is in neither the source nor the target is refused.
    pub parent: Option<Parent>,
    /// Whether every row arrives with its temporal metadata (see [`METADATA_COLUMN`]).
    pub fills_metadata: bool,
}

/// A foreign key the move checks itself, before writing.
#[derive(Debug, Clone, Copy)]
pub struct Parent {
    /// The column of the child table.
    pub column: &'static str,
    /// The parent's table in `aico_core`.
    pub table: &'static str,
    /// The parent's key column.
    pub key: &'static str,
}

/// The column the backfill writes, which a moved fact arrives with.
pub const METADATA_COLUMN: &str = migration::catalog::FACT_METADATA;

/// The columns that date a fact on AICO's PostgreSQL, in order of preference: the backfill's
/// (`Layout::fact_dated_by`).
pub fn fact_dated_by() -> &'static [&'static str] {
    migration::catalog::Layout::AicoPostgres.fact_dated_by()
}

/// The tables this increment moves, in order: users first (every AMS table's foreign keys point
/// to them), then the facts.
pub const MOVED: [TableMap; 2] = [
    TableMap {
        sources: &["users", "user_profiles"],
        target: "user_profiles",
        key: "uuid",
        parent: None,
        fills_metadata: false,
    },
    TableMap {
        sources: &["user_memories", "ams_user_memories"],
        target: "ams_user_memories",
        key: "fact_id",
        parent: Some(Parent { column: "user_id", table: "user_profiles", key: "uuid" }),
        fills_metadata: true,
    },
];

/// Source tables that have no target in AICO's PostgreSQL, and why. `feedback_events` is listed
/// only in the Memory Album's shape (see [`is_album_feedback`]).
pub const NO_TARGET: [(&str, &str); 1] =
    [("feedback_events", "the Memory Album's feedback events have no table in AICO's PostgreSQL")];

/// Source tables that have a target but are not moved by this version yet, with their target.
pub const NOT_YET: [(&str, &str); 14] = [
    ("skills", "ams_behavioral_skills"),
    ("ams_behavioral_skills", "ams_behavioral_skills"),
    ("user_skill_confidence", "user_skill_confidence"),
    ("context_skill_stats", "ams_context_skill_stats"),
    ("ams_context_skill_stats", "ams_context_skill_stats"),
    ("context_preference_vectors", "ams_context_preference_vectors"),
    ("ams_context_preference_vectors", "ams_context_preference_vectors"),
    ("ams_behavioral_feedback", "ams_behavioral_feedback"),
    ("ams_feedback_events", "ams_behavioral_feedback"),
    ("trajectories", "ams_trajectories"),
    ("ams_trajectories", "ams_trajectories"),
    ("consolidation_state", "ams_consolidation_state"),
    ("kg_nodes", "kg_nodes"),
    ("kg_edges", "kg_edges"),
];

/// Whether a `feedback_events` table with these columns is the Memory Album's (AICO's version 6:
/// `user_uuid`, `event_category`) rather than the AMS's (which has `user_id`).
pub fn is_album_feedback(columns: &[String]) -> bool {
    columns.iter().any(|c| c == "user_uuid") && !columns.iter().any(|c| c == "user_id")
}
