//! Which of AICO's 2025 tables go where in AICO's PostgreSQL (shared/DESIGN.md, "Old to new"): the
//! tables this increment moves, the ones with no target, and the ones that are not moved yet.

/// One table the move carries: its names in a 2025 `aico.db` (AICO's first, then the later
/// `user_profiles` / `ams_*` name), its table in `aico_core`, and how its columns change on the
/// way (the per-table hook: renames, a column folded into JSON, integer ranges).
#[derive(Debug, Clone, Copy)]
pub struct TableMap {
    /// The source's names, in the order they are looked for.
    pub sources: &'static [&'static str],
    /// The table in `aico_core`.
    pub target: &'static str,
    /// The primary key's columns, as the target names them (one text column, or several: the
    /// compared key is their text joined by [`KEY_SEPARATOR`]).
    pub key: &'static [&'static str],
    /// Columns a row names a row of a table moved before this one by: a row whose parent is in
    /// neither the source nor the target is refused.
    pub parents: &'static [Parent],
    /// Whether every row arrives with its temporal metadata (see [`METADATA_COLUMN`]).
    pub fills_metadata: bool,
    /// Source columns whose target column has another name: (source, target).
    pub renames: &'static [(&'static str, &'static str)],
    /// A source column with no target column, kept inside a JSON column under a named key.
    pub folds: &'static [Fold],
    /// Integer columns (target names) whose value must lie in a range, both ends included.
    pub ranges: &'static [(&'static str, i64, i64)],
    /// Whether a source table of these columns is this table's shape (None: any is).
    pub shape: Option<fn(&[String]) -> bool>,
    /// Many source columns gathered into one JSON object column, when the source has no column
    /// of that name (else the table moves column by column, without `renames`).
    pub gather: Option<Gather>,
}

impl TableMap {
    /// The target column a source column goes to (renamed, or the same name).
    pub fn target_column<'a>(&self, source: &'a str) -> &'a str {
        self.renames.iter().find(|(s, _)| *s == source).map_or(source, |(_, t)| t)
    }

    /// The source column a target column comes from.
    pub fn source_column<'a>(&self, target: &'a str) -> &'a str {
        self.renames.iter().find(|(_, t)| *t == target).map_or(target, |(s, _)| s)
    }
}

/// A source column kept inside a JSON object column of the target, under a key.
#[derive(Debug, Clone, Copy)]
pub struct Fold {
    /// The source column.
    pub column: &'static str,
    /// The target's JSON column.
    pub into: &'static str,
    /// The key inside the JSON object.
    pub under: &'static str,
}

/// Source columns gathered into one JSON object column of the target: every column but the key
/// and `keep`, under its own name, with its value (NULL as JSON null; text holding a JSON object
/// or array as that JSON; other text as a string; numbers as numbers).
#[derive(Debug, Clone, Copy)]
pub struct Gather {
    /// The target's JSON column.
    pub into: &'static str,
    /// Source columns that go to their own target column instead.
    pub keep: &'static [&'static str],
}

/// Joins the parts of a composite key in the compared key text (ASCII unit separator, the same
/// character PostgreSQL's `chr(31)` gives).
pub const KEY_SEPARATOR: char = '\u{1f}';

/// A key as a report shows it: the parts of a composite key joined by " / ".
pub fn shown_key(key: &str) -> String {
    key.replace(KEY_SEPARATOR, " / ")
}

/// A foreign key the move checks itself, before writing.
#[derive(Debug, Clone, Copy)]
pub struct Parent {
    /// The column of the child table (its target name).
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

const USER: Parent = Parent { column: "user_id", table: "user_profiles", key: "uuid" };
const SKILL: Parent = Parent { column: "skill_id", table: "ams_behavioral_skills", key: "skill_id" };
const EDGE_SOURCE: Parent = Parent { column: "source_id", table: "kg_nodes", key: "id" };
const EDGE_TARGET: Parent = Parent { column: "target_id", table: "kg_nodes", key: "id" };

/// A table that maps column by column under the same names (the defaults of the hook).
const PLAIN: TableMap = TableMap {
    sources: &[],
    target: "",
    key: &[],
    parents: &[USER],
    fills_metadata: false,
    renames: &[],
    folds: &[],
    ranges: &[],
    shape: None,
    gather: None,
};

/// The bucket of AICO's context tables: an integer from 0 to 99 (AICO's libSQL v22 made it TEXT).
const BUCKET: (&str, i64, i64) = ("context_bucket", 0, 99);

/// The key inside `ams_behavioral_feedback.context_json` that keeps a 2025 feedback event's
/// `classified_categories` (the target has no column for it).
pub const CLASSIFIED_CATEGORIES_KEY: &str = "classified_categories";

/// The tables this version moves, in order: users first (every AMS table's foreign keys point to
/// them), then the facts, the skills before everything that names a skill.
pub const MOVED: [TableMap; 11] = [
    TableMap { sources: &["users", "user_profiles"], target: "user_profiles", key: &["uuid"], parents: &[], ..PLAIN },
    // AICO's v13 made one row per user (`user_id`, `status`, counters...): gathered into
    // `state_json`, the user id as `id`. A source of the seed's shape (`id`, `state_json`,
    // `updated_at`) moves column by column.
    TableMap {
        sources: &["consolidation_state", "ams_consolidation_state"],
        target: "ams_consolidation_state",
        key: &["id"],
        parents: &[],
        renames: &[("user_id", "id")],
        gather: Some(Gather { into: "state_json", keep: &["updated_at"] }),
        ..PLAIN
    },
    TableMap {
        sources: &["user_memories", "ams_user_memories"],
        target: "ams_user_memories",
        key: &["fact_id"],
        fills_metadata: true,
        ..PLAIN
    },
    TableMap {
        sources: &["skills", "ams_behavioral_skills"],
        target: "ams_behavioral_skills",
        key: &["skill_id"],
        parents: &[],
        ..PLAIN
    },
    TableMap {
        sources: &["user_skill_confidence"],
        target: "user_skill_confidence",
        key: &["user_id", "skill_id"],
        ..PLAIN
    },
    TableMap {
        sources: &["context_skill_stats", "ams_context_skill_stats"],
        target: "ams_context_skill_stats",
        key: &["user_id", "context_bucket", "skill_id"],
        parents: &[USER, SKILL],
        ranges: &[BUCKET],
        ..PLAIN
    },
    TableMap {
        sources: &["context_preference_vectors", "ams_context_preference_vectors"],
        target: "ams_context_preference_vectors",
        key: &["user_id", "context_bucket"],
        ranges: &[BUCKET],
        ..PLAIN
    },
    TableMap {
        sources: &["ams_behavioral_feedback", "feedback_events", "ams_feedback_events"],
        target: "ams_behavioral_feedback",
        key: &["feedback_id"],
        renames: &[("event_id", "feedback_id")],
        folds: &[Fold { column: "classified_categories", into: "context_json", under: CLASSIFIED_CATEGORIES_KEY }],
        shape: Some(is_ams_feedback),
        ..PLAIN
    },
    TableMap {
        sources: &["trajectories", "ams_trajectories"],
        target: "ams_trajectories",
        key: &["trajectory_id"],
        ..PLAIN
    },
    TableMap { sources: &["kg_nodes"], target: "kg_nodes", key: &["id"], ..PLAIN },
    TableMap {
        sources: &["kg_edges"],
        target: "kg_edges",
        key: &["id"],
        parents: &[USER, EDGE_SOURCE, EDGE_TARGET],
        ..PLAIN
    },
];

/// Source tables that have no target in AICO's PostgreSQL, and why. `feedback_events` is listed
/// only in the Memory Album's shape (see [`is_album_feedback`]).
pub const NO_TARGET: [(&str, &str); 1] =
    [("feedback_events", "the Memory Album's feedback events have no table in AICO's PostgreSQL")];

/// Source tables AICO's own triggers derive from another table's `properties` (its version 9): no
/// table in AICO's PostgreSQL, where `properties` is `jsonb`. Reported with no target.
pub const DERIVED: [(&str, &str); 2] = [
    ("kg_node_properties", "derived by AICO's triggers from kg_nodes.properties, which moves as jsonb"),
    ("kg_edge_properties", "derived by AICO's triggers from kg_edges.properties, which moves as jsonb"),
];

/// Source tables that have a target but are not moved by this version yet, with their target
/// (none of `aico.db`'s any more; LMDB moves in `working`, Chroma in `vectors`).
pub const NOT_YET: [(&str, &str); 0] = [];

/// Whether a feedback table with these columns is the AMS's (`event_id`, `user_id`), whatever
/// its name.
pub fn is_ams_feedback(columns: &[String]) -> bool {
    columns.iter().any(|c| c == "event_id") && columns.iter().any(|c| c == "user_id")
}

/// Whether a `feedback_events` table with these columns is the Memory Album's (AICO's version 6:
/// `user_uuid`, `event_category`) rather than the AMS's (which has `user_id`).
pub fn is_album_feedback(columns: &[String]) -> bool {
    columns.iter().any(|c| c == "user_uuid") && !columns.iter().any(|c| c == "user_id")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_parent_moves_before_its_children_and_renames_go_both_ways() {
        for (i, map) in MOVED.iter().enumerate() {
            for parent in map.parents {
                let at = MOVED.iter().position(|m| m.target == parent.table).expect("parent moved");
                assert!(at < i, "{} moves before its parent {}", map.target, parent.table);
            }
            assert!(!map.key.is_empty(), "{}", map.target);
        }
        let feedback = MOVED.iter().find(|m| m.target == "ams_behavioral_feedback").expect("feedback");
        assert_eq!(feedback.target_column("event_id"), "feedback_id");
        assert_eq!(feedback.source_column("feedback_id"), "event_id");
        assert_eq!(feedback.target_column("user_id"), "user_id");
        assert_eq!(shown_key(&["u", "42", "s"].join(&KEY_SEPARATOR.to_string())), "u / 42 / s");
    }

    #[test]
    fn consolidation_gathers_into_state_json_and_edges_name_their_nodes() {
        let state = MOVED.iter().find(|m| m.target == "ams_consolidation_state").expect("consolidation");
        let gather = state.gather.expect("gather");
        assert_eq!((gather.into, gather.keep), ("state_json", &["updated_at"][..]));
        assert_eq!(state.source_column("id"), "user_id");
        let edges = MOVED.iter().find(|m| m.target == "kg_edges").expect("edges");
        let named: Vec<_> = edges.parents.iter().map(|p| (p.column, p.table)).collect();
        assert_eq!(named, [("user_id", "user_profiles"), ("source_id", "kg_nodes"), ("target_id", "kg_nodes")]);
        assert!(NOT_YET.is_empty());
    }

    #[test]
    fn the_ams_feedback_is_told_from_the_memory_albums() {
        let cols = |c: &[&str]| c.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        let album = cols(&["id", "user_uuid", "event_category"]);
        let ams = cols(&["event_id", "user_id", "classified_categories"]);
        assert!(is_album_feedback(&album) && !is_ams_feedback(&album));
        assert!(is_ams_feedback(&ams) && !is_album_feedback(&ams));
    }
}
