//! AICO's own AMS on PostgreSQL (2026): the objects of its schema `aico_core` that the three
//! phases are, as AICO's schema file (`shared/aico/data/postgres/schema.sql` in
//! boeni-industries/aico, MIT) makes them, transcribed here once: its statements verbatim, and the
//! shape each object has once they ran (read from PostgreSQL 18's catalog on a database built by
//! that file).
//!
//! On AICO's PostgreSQL database each phase goes through its objects ([`adopt_or_make`]): one of
//! AICO's shape is adopted as it is; a missing one is made with AICO's own statements, run as `aico
//! pg init` runs them (with `aico_core, public` as the search path), so that a later `aico pg
//! init` finds it as its own; and a same-named object of another shape stops the migration before
//! anything is made, with a message that names it. Nothing here is ever dropped.

use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend, DbErr, Statement};

/// AICO's schema, where every one of these objects lives.
pub const SCHEMA: &str = aico_connect::target::AICO_PG_SCHEMA;

/// AICO's facts table.
pub const FACTS: &str = crate::layout::AICO_PG_FACTS;

/// One of AICO's objects: its name in `aico_core`, the shape AICO gives it, and AICO's statements
/// that make it.
#[derive(Debug)]
pub struct Object {
    /// Its name (a column: `table.column`).
    pub name: &'static str,
    /// What it must be to be AICO's.
    pub shape: Shape,
    /// AICO's statements that make it (a table's with its foreign keys), in order.
    pub make: &'static [&'static str],
}

/// What an object must be to be AICO's.
#[derive(Debug)]
pub enum Shape {
    /// A table with at least these columns of these types (`format_type`; other columns are
    /// kept, as live databases add some, such as `tenant_id`).
    Table(&'static [(&'static str, &'static str)]),
    /// A column of a table.
    Column {
        /// The table.
        table: &'static str,
        /// The column.
        column: &'static str,
        /// Its type (`format_type`).
        ty: &'static str,
    },
    /// An index whose definition (`pg_get_indexdef`, without the schema) is this.
    Index(&'static str),
    /// A function of `(text, text)`, immutable, returning this type, with this body (whitespace
    /// collapsed).
    Function {
        /// The type it returns (`format_type`).
        returns: &'static str,
        /// Its body.
        body: &'static str,
    },
}

/// Phase 0: AICO's facts table, never made here (it is what marks AICO's database), with the
/// columns the backfill reads: the key, and the two times that date a fact (`created_at` may be
/// NULL, `valid_from` may not; a drifted database holds them as text).
pub const PHASE0: &[Object] = &[Object {
    name: FACTS,
    shape: Shape::Table(&[("fact_id", "text"), ("user_id", "text"), ("created_at", ""), ("valid_from", "")]),
    make: &[],
}];
/// Phase 1: `ams_user_memories.temporal_metadata`, the three functions AICO's indexes call, and
/// the two indexes.
pub const PHASE1: &[Object] = &[
    Object {
        name: "ams_user_memories.temporal_metadata",
        shape: Shape::Column { table: FACTS, column: "temporal_metadata", ty: "text" },
        // AICO's schema file declares it in the table's `CREATE TABLE`, as `temporal_metadata TEXT DEFAULT NULL`.
        make: &["ALTER TABLE ams_user_memories ADD COLUMN IF NOT EXISTS temporal_metadata TEXT DEFAULT NULL"],
    },
    Object {
        name: "jsonb_extract_text_immutable",
        shape: Shape::Function { returns: "text", body: "BEGIN RETURN (data::jsonb)->>path; END;" },
        make: &[r#"CREATE OR REPLACE FUNCTION jsonb_extract_text_immutable(data TEXT, path TEXT)
RETURNS TEXT AS $$
BEGIN
  RETURN (data::jsonb)->>path;
END;
$$ LANGUAGE plpgsql IMMUTABLE"#],
    },
    Object {
        name: "jsonb_extract_timestamptz_immutable",
        shape: Shape::Function {
            returns: "timestamp with time zone",
            body: "BEGIN RETURN ((data::jsonb)->>path)::timestamptz; END;",
        },
        make: &[r#"CREATE OR REPLACE FUNCTION jsonb_extract_timestamptz_immutable(data TEXT, path TEXT)
RETURNS TIMESTAMPTZ AS $$
BEGIN
  RETURN ((data::jsonb)->>path)::timestamptz;
END;
$$ LANGUAGE plpgsql IMMUTABLE"#],
    },
    Object {
        name: "jsonb_extract_double_immutable",
        shape: Shape::Function {
            returns: "double precision",
            body: "BEGIN RETURN ((data::jsonb)->>path)::double precision; END;",
        },
        make: &[r#"CREATE OR REPLACE FUNCTION jsonb_extract_double_immutable(data TEXT, path TEXT)
RETURNS DOUBLE PRECISION AS $$
BEGIN
  RETURN ((data::jsonb)->>path)::double precision;
END;
$$ LANGUAGE plpgsql IMMUTABLE"#],
    },
    Object {
        name: "idx_user_memories_temporal",
        shape: Shape::Index(
            "CREATE INDEX idx_user_memories_temporal ON ams_user_memories USING btree (jsonb_extract_timestamptz_immutable(temporal_metadata, 'last_accessed'::text), jsonb_extract_double_immutable(temporal_metadata, 'confidence'::text)) WHERE (temporal_metadata IS NOT NULL)",
        ),
        make: &[r#"CREATE INDEX IF NOT EXISTS idx_user_memories_temporal 
  ON ams_user_memories(
    jsonb_extract_timestamptz_immutable(temporal_metadata, 'last_accessed'),
    jsonb_extract_double_immutable(temporal_metadata, 'confidence')
  )
  WHERE temporal_metadata IS NOT NULL"#],
    },
    Object {
        name: "idx_user_memories_superseded",
        shape: Shape::Index(
            "CREATE INDEX idx_user_memories_superseded ON ams_user_memories USING btree (jsonb_extract_text_immutable(temporal_metadata, 'superseded_by'::text)) WHERE (temporal_metadata IS NOT NULL)",
        ),
        make: &[r#"CREATE INDEX IF NOT EXISTS idx_user_memories_superseded 
  ON ams_user_memories(jsonb_extract_text_immutable(temporal_metadata, 'superseded_by'))
  WHERE temporal_metadata IS NOT NULL"#],
    },
];

/// Phase 2: `ams_consolidation_state` (the seed's shape under AICO's name) and its index.
pub const PHASE2: &[Object] = &[
    Object {
        name: "ams_consolidation_state",
        shape: Shape::Table(&[("id", "text"), ("state_json", "jsonb"), ("updated_at", "timestamp with time zone")]),
        make: &[r#"CREATE TABLE IF NOT EXISTS "ams_consolidation_state" (
                id TEXT PRIMARY KEY,
                state_json JSONB NOT NULL,
                updated_at TIMESTAMPTZ DEFAULT CURRENT_TIMESTAMP
            )"#],
    },
    Object {
        name: "idx_consolidation_state_updated",
        shape: Shape::Index(
            "CREATE INDEX idx_consolidation_state_updated ON ams_consolidation_state USING btree (updated_at DESC)",
        ),
        make: &[
            r#"CREATE INDEX IF NOT EXISTS idx_consolidation_state_updated ON "ams_consolidation_state"(updated_at DESC)"#,
        ],
    },
];

/// Phase 3: the five `ams_*` behavioural tables and `user_skill_confidence`, with their indexes
/// and foreign keys (AICO's `DO` blocks, one per key).
pub const PHASE3: &[Object] = &[
    Object {
        name: "ams_behavioral_skills",
        shape: Shape::Table(&[
            ("skill_id", "text"),
            ("skill_name", "text"),
            ("skill_type", "text"),
            ("trigger_context", "text"),
            ("procedure_template", "text"),
            ("dimension_vector", "text"),
            ("supported_languages", "text"),
            ("created_at", "timestamp with time zone"),
            ("updated_at", "timestamp with time zone"),
            ("status", "text"),
        ]),
        make: &[
            r#"CREATE TABLE IF NOT EXISTS "ams_behavioral_skills" (skill_id TEXT PRIMARY KEY, skill_name TEXT NOT NULL, skill_type TEXT NOT NULL, trigger_context TEXT NOT NULL, procedure_template TEXT NOT NULL, dimension_vector TEXT NOT NULL, supported_languages TEXT, created_at TIMESTAMPTZ DEFAULT CURRENT_TIMESTAMP, updated_at TIMESTAMPTZ DEFAULT CURRENT_TIMESTAMP, status TEXT DEFAULT 'active')"#,
        ],
    },
    Object {
        name: "idx_behavioral_skills_status",
        shape: Shape::Index("CREATE INDEX idx_behavioral_skills_status ON ams_behavioral_skills USING btree (status)"),
        make: &[r#"CREATE INDEX IF NOT EXISTS idx_behavioral_skills_status ON "ams_behavioral_skills"(status)"#],
    },
    Object {
        name: "idx_behavioral_skills_type",
        shape: Shape::Index(
            "CREATE INDEX idx_behavioral_skills_type ON ams_behavioral_skills USING btree (skill_type)",
        ),
        make: &[r#"CREATE INDEX IF NOT EXISTS idx_behavioral_skills_type ON "ams_behavioral_skills"(skill_type)"#],
    },
    Object {
        name: "user_skill_confidence",
        shape: Shape::Table(&[
            ("user_id", "text"),
            ("skill_id", "text"),
            ("confidence_score", "double precision"),
            ("usage_count", "integer"),
            ("positive_count", "integer"),
            ("negative_count", "integer"),
            ("last_used_at", "timestamp with time zone"),
        ]),
        make: &[
            r#"CREATE TABLE IF NOT EXISTS "user_skill_confidence" (
            user_id TEXT NOT NULL,
            skill_id TEXT NOT NULL,
            confidence_score DOUBLE PRECISION DEFAULT 0.5 CHECK(confidence_score BETWEEN 0.0 AND 1.0),
            usage_count INTEGER DEFAULT 0,
            positive_count INTEGER DEFAULT 0,
            negative_count INTEGER DEFAULT 0,
            last_used_at TIMESTAMPTZ,
            PRIMARY KEY (user_id, skill_id)
        )"#,
            r#"DO $$ BEGIN
    ALTER TABLE user_skill_confidence ADD CONSTRAINT fk_user_skill_confidence_user_id_user_profiles FOREIGN KEY (user_id) REFERENCES user_profiles(uuid) ON DELETE CASCADE;
  EXCEPTION WHEN duplicate_object THEN NULL; END $$"#,
        ],
    },
    Object {
        name: "idx_user_skill_confidence",
        shape: Shape::Index(
            "CREATE INDEX idx_user_skill_confidence ON user_skill_confidence USING btree (user_id, confidence_score DESC)",
        ),
        make: &[
            r#"CREATE INDEX IF NOT EXISTS idx_user_skill_confidence ON user_skill_confidence(user_id, confidence_score DESC)"#,
        ],
    },
    Object {
        name: "ams_context_skill_stats",
        shape: Shape::Table(&[
            ("user_id", "text"),
            ("context_bucket", "integer"),
            ("skill_id", "text"),
            ("alpha", "double precision"),
            ("beta", "double precision"),
            ("last_updated_at", "timestamp with time zone"),
        ]),
        make: &[
            r#"CREATE TABLE IF NOT EXISTS ams_context_skill_stats (
        user_id TEXT NOT NULL,
        context_bucket INTEGER NOT NULL CHECK(context_bucket BETWEEN 0 AND 99),
        skill_id TEXT NOT NULL,
        alpha DOUBLE PRECISION NOT NULL DEFAULT 1.0 CHECK(alpha >= 0.0),
        beta DOUBLE PRECISION NOT NULL DEFAULT 1.0 CHECK(beta >= 0.0),
        last_updated_at TIMESTAMPTZ NOT NULL,
        PRIMARY KEY (user_id, context_bucket, skill_id)
    )"#,
            r#"DO $$ BEGIN
    ALTER TABLE ams_context_skill_stats ADD CONSTRAINT fk_ams_context_skill_stats_user_id_user_profiles FOREIGN KEY (user_id) REFERENCES user_profiles(uuid) ON DELETE CASCADE;
  EXCEPTION WHEN duplicate_object THEN NULL; END $$"#,
            r#"DO $$ BEGIN
    ALTER TABLE ams_context_skill_stats ADD CONSTRAINT fk_ams_context_skill_stats_skill_id_ams_behavioral_skills FOREIGN KEY (skill_id) REFERENCES ams_behavioral_skills(skill_id) ON DELETE CASCADE;
  EXCEPTION WHEN duplicate_object THEN NULL; END $$"#,
        ],
    },
    Object {
        name: "idx_ams_context_skill_stats_user",
        shape: Shape::Index(
            "CREATE INDEX idx_ams_context_skill_stats_user ON ams_context_skill_stats USING btree (user_id, context_bucket)",
        ),
        make: &[
            r#"CREATE INDEX IF NOT EXISTS idx_ams_context_skill_stats_user ON ams_context_skill_stats(user_id, context_bucket)"#,
        ],
    },
    Object {
        name: "idx_ams_context_skill_stats_skill",
        shape: Shape::Index(
            "CREATE INDEX idx_ams_context_skill_stats_skill ON ams_context_skill_stats USING btree (skill_id)",
        ),
        make: &[r#"CREATE INDEX IF NOT EXISTS idx_ams_context_skill_stats_skill ON ams_context_skill_stats(skill_id)"#],
    },
    Object {
        name: "ams_context_preference_vectors",
        shape: Shape::Table(&[
            ("user_id", "text"),
            ("context_bucket", "integer"),
            ("dimensions", "text"),
            ("last_updated_at", "timestamp with time zone"),
        ]),
        make: &[
            r#"CREATE TABLE IF NOT EXISTS ams_context_preference_vectors (
        user_id TEXT NOT NULL,
        context_bucket INTEGER NOT NULL CHECK(context_bucket BETWEEN 0 AND 99),
        dimensions TEXT NOT NULL,
        last_updated_at TIMESTAMPTZ NOT NULL,
        PRIMARY KEY (user_id, context_bucket)
    )"#,
            r#"DO $$ BEGIN
    ALTER TABLE ams_context_preference_vectors ADD CONSTRAINT fk_ams_context_preference_vectors_user_id_user_profiles FOREIGN KEY (user_id) REFERENCES user_profiles(uuid) ON DELETE CASCADE;
  EXCEPTION WHEN duplicate_object THEN NULL; END $$"#,
        ],
    },
    Object {
        name: "idx_ams_context_preferences_user",
        shape: Shape::Index(
            "CREATE INDEX idx_ams_context_preferences_user ON ams_context_preference_vectors USING btree (user_id)",
        ),
        make: &[
            r#"CREATE INDEX IF NOT EXISTS idx_ams_context_preferences_user ON ams_context_preference_vectors(user_id)"#,
        ],
    },
    Object {
        name: "idx_ams_context_preferences_updated",
        shape: Shape::Index(
            "CREATE INDEX idx_ams_context_preferences_updated ON ams_context_preference_vectors USING btree (last_updated_at DESC)",
        ),
        make: &[
            r#"CREATE INDEX IF NOT EXISTS idx_ams_context_preferences_updated ON ams_context_preference_vectors(last_updated_at DESC)"#,
        ],
    },
    Object {
        name: "ams_behavioral_feedback",
        shape: Shape::Table(&[
            ("feedback_id", "text"),
            ("user_id", "text"),
            ("message_id", "text"),
            ("skill_id", "text"),
            ("reward", "integer"),
            ("reason", "text"),
            ("timestamp", "timestamp with time zone"),
            ("processed", "integer"),
            ("outcome", "text"),
            ("execution_time_ms", "integer"),
            ("context_json", "jsonb"),
            ("user_satisfaction", "double precision"),
            ("free_text", "text"),
        ]),
        make: &[
            r#"CREATE TABLE IF NOT EXISTS "ams_behavioral_feedback" (
            feedback_id TEXT PRIMARY KEY,
            user_id TEXT NOT NULL,
            message_id TEXT,
            skill_id TEXT,
            reward INTEGER,
            reason TEXT,
            timestamp TIMESTAMPTZ NOT NULL,
            processed INTEGER DEFAULT 0,
            outcome TEXT,
            execution_time_ms INTEGER,
            context_json JSONB,
            user_satisfaction DOUBLE PRECISION,
            free_text TEXT
        )"#,
            r#"DO $$ BEGIN
    ALTER TABLE ams_behavioral_feedback ADD CONSTRAINT fk_ams_behavioral_feedback_user_id_user_profiles FOREIGN KEY (user_id) REFERENCES user_profiles(uuid) ON DELETE CASCADE;
  EXCEPTION WHEN duplicate_object THEN NULL; END $$"#,
        ],
    },
    Object {
        name: "idx_behavioral_feedback_processed",
        shape: Shape::Index(
            "CREATE INDEX idx_behavioral_feedback_processed ON ams_behavioral_feedback USING btree (processed)",
        ),
        make: &[
            r#"CREATE INDEX IF NOT EXISTS idx_behavioral_feedback_processed ON ams_behavioral_feedback(processed)"#,
        ],
    },
    Object {
        name: "idx_behavioral_feedback_skill",
        shape: Shape::Index(
            "CREATE INDEX idx_behavioral_feedback_skill ON ams_behavioral_feedback USING btree (skill_id)",
        ),
        make: &[r#"CREATE INDEX IF NOT EXISTS idx_behavioral_feedback_skill ON ams_behavioral_feedback(skill_id)"#],
    },
    Object {
        name: "idx_behavioral_feedback_user",
        shape: Shape::Index(
            "CREATE INDEX idx_behavioral_feedback_user ON ams_behavioral_feedback USING btree (user_id)",
        ),
        make: &[r#"CREATE INDEX IF NOT EXISTS idx_behavioral_feedback_user ON ams_behavioral_feedback(user_id)"#],
    },
    Object {
        name: "ams_trajectories",
        shape: Shape::Table(&[
            ("trajectory_id", "text"),
            ("user_id", "text"),
            ("conversation_id", "text"),
            ("selected_skill_id", "text"),
            ("context_bucket", "text"),
            ("feedback_reward", "integer"),
            ("timestamp", "timestamp with time zone"),
            ("archived", "boolean"),
            ("agency_context", "text"),
            ("message_id", "text"),
            ("turn_number", "integer"),
            ("user_input", "text"),
            ("ai_response", "text"),
        ]),
        make: &[
            r#"CREATE TABLE IF NOT EXISTS "ams_trajectories" (
            trajectory_id TEXT PRIMARY KEY,
            user_id TEXT NOT NULL,
            conversation_id TEXT,
            selected_skill_id TEXT,
            context_bucket TEXT,
            feedback_reward INTEGER,
            timestamp TIMESTAMPTZ NOT NULL,
            archived BOOLEAN DEFAULT FALSE,
            agency_context TEXT,
            message_id TEXT,
            turn_number INTEGER,
            user_input TEXT,
            ai_response TEXT
        )"#,
            r#"DO $$ BEGIN
    ALTER TABLE ams_trajectories ADD CONSTRAINT fk_ams_trajectories_user_id_user_profiles FOREIGN KEY (user_id) REFERENCES user_profiles(uuid) ON DELETE CASCADE;
  EXCEPTION WHEN duplicate_object THEN NULL; END $$"#,
        ],
    },
    Object {
        name: "idx_trajectories_archived",
        shape: Shape::Index("CREATE INDEX idx_trajectories_archived ON ams_trajectories USING btree (archived)"),
        make: &[r#"CREATE INDEX IF NOT EXISTS idx_trajectories_archived ON ams_trajectories(archived)"#],
    },
    Object {
        name: "idx_trajectories_conversation",
        shape: Shape::Index(
            "CREATE INDEX idx_trajectories_conversation ON ams_trajectories USING btree (conversation_id)",
        ),
        make: &[r#"CREATE INDEX IF NOT EXISTS idx_trajectories_conversation ON ams_trajectories(conversation_id)"#],
    },
    Object {
        name: "idx_trajectories_user",
        shape: Shape::Index("CREATE INDEX idx_trajectories_user ON ams_trajectories USING btree (user_id)"),
        make: &[r#"CREATE INDEX IF NOT EXISTS idx_trajectories_user ON ams_trajectories(user_id)"#],
    },
];

/// What the database holds under an object's name.
enum Found {
    /// AICO's object.
    Aicos,
    /// Nothing.
    Missing,
    /// Something else: why it is not AICO's.
    Other(String),
}

impl Object {
    /// What the database behind `conn` holds under this object's name.
    async fn found<C: ConnectionTrait>(&self, conn: &C) -> Result<Found, DbErr> {
        match self.shape {
            Shape::Table(columns) => {
                let live = columns_of(conn, self.name).await?;
                if live.is_empty() {
                    return Ok(if exists(conn, self.name).await? {
                        Found::Other("is not a table".into())
                    } else {
                        Found::Missing
                    });
                }
                let differ: Vec<String> = columns
                    .iter()
                    .filter_map(|(column, ty)| match live.iter().find(|(c, _)| c == column) {
                        None => Some(format!("has no column {column}")),
                        Some((_, t)) if !ty.is_empty() && t != ty => {
                            Some(format!("has {column} as {t} where AICO's schema says {ty}"))
                        }
                        Some(_) => None,
                    })
                    .collect();
                Ok(if differ.is_empty() { Found::Aicos } else { Found::Other(differ.join(", ")) })
            }
            Shape::Column { table, column, ty } => {
                Ok(match columns_of(conn, table).await?.into_iter().find(|(c, _)| c == column) {
                    None => Found::Missing,
                    Some((_, t)) if t == ty => Found::Aicos,
                    Some((_, t)) => Found::Other(format!("is {t} where AICO's schema says {ty}")),
                })
            }
            Shape::Index(def) => {
                let sql = "SELECT CASE WHEN c.relkind = 'i' THEN pg_get_indexdef(c.oid) END AS def \
                           FROM pg_class c WHERE c.oid = to_regclass($1)";
                let Some(row) = conn.query_one_raw(pg(sql, vec![qualified(self.name).into()])).await? else {
                    return Ok(Found::Missing);
                };
                let live: Option<String> = row.try_get("", "def")?;
                Ok(match live.map(|d| collapsed(&d.replace(&format!("{SCHEMA}."), ""))) {
                    None => Found::Other("is not an index".into()),
                    Some(live) if live == def => Found::Aicos,
                    Some(live) => Found::Other(format!("is `{live}` where AICO's schema makes `{def}`")),
                })
            }
            Shape::Function { returns, body } => {
                let sql = "SELECT format_type(p.prorettype, NULL) AS returns, p.provolatile::text AS volatility, \
                           p.prosrc AS body FROM pg_proc p WHERE p.oid = to_regprocedure($1)";
                let signature = format!("{}(text, text)", qualified(self.name));
                let Some(row) = conn.query_one_raw(pg(sql, vec![signature.into()])).await? else {
                    return Ok(Found::Missing);
                };
                let (r, v, b): (String, String, String) =
                    (row.try_get("", "returns")?, row.try_get("", "volatility")?, row.try_get("", "body")?);
                Ok(if r == returns && v == "i" && collapsed(&b) == body {
                    Found::Aicos
                } else {
                    Found::Other(format!(
                        "returns {r} ({}) with the body `{}`, where AICO's returns {returns} (immutable) with `{body}`",
                        if v == "i" { "immutable" } else { "not immutable" },
                        collapsed(&b)
                    ))
                })
            }
        }
    }

    /// What it is, for messages: `table aico_core.x`, `column aico_core.t.c`, ...
    fn described(&self) -> String {
        let kind = match self.shape {
            Shape::Table(_) => "table",
            Shape::Column { .. } => "column",
            Shape::Index(_) => "index",
            Shape::Function { .. } => "function",
        };
        format!("{kind} {SCHEMA}.{}", self.name)
    }
}

/// Adopt each of `objects` that has AICO's shape, and make the missing ones with AICO's own
/// statements; stop, before anything is made, at the first same-named object of another shape.
pub(crate) async fn adopt_or_make<C: ConnectionTrait>(conn: &C, objects: &[Object]) -> Result<(), DbErr> {
    let mut missing = Vec::new();
    for object in objects {
        match object.found(conn).await? {
            Found::Aicos => {}
            Found::Missing if object.make.is_empty() => {
                return Err(DbErr::Migration(format!("{} is missing", object.described())));
            }
            Found::Missing => missing.push(object),
            Found::Other(why) => {
                return Err(DbErr::Migration(format!(
                    "{} {why}: it is not AICO's, and is left as it is",
                    object.described()
                )));
            }
        }
    }
    if missing.is_empty() {
        return Ok(());
    }
    tracing::info!(objects = ?missing.iter().map(|o| o.name).collect::<Vec<_>>(), "making AICO's missing objects as AICO's schema file makes them");
    let statements: Vec<&'static str> = missing.iter().flat_map(|o| o.make.iter().copied()).collect();
    as_aico(conn, &statements).await
}

/// Run `statements` as `aico pg init` runs AICO's schema file: with `aico_core, public` as the
/// search path (for this transaction only; the path before is restored afterwards).
async fn as_aico<C: ConnectionTrait>(conn: &C, statements: &[&'static str]) -> Result<(), DbErr> {
    let path: String = match conn.query_one_raw(pg("SELECT current_setting('search_path') AS path", vec![])).await? {
        Some(row) => row.try_get("", "path")?,
        None => "public".into(),
    };
    // A constant of ours: AICO's schema file says `SET search_path TO aico_core, public`.
    conn.execute_raw(pg("SET LOCAL search_path TO aico_core, public", vec![])).await?;
    for statement in statements {
        conn.execute_raw(pg(statement, vec![])).await?;
    }
    conn.execute_raw(pg("SELECT set_config('search_path', $1, true)", vec![path.into()])).await?;
    Ok(())
}

/// The columns of `aico_core.<table>` and their types (`format_type`); none when it is no table.
async fn columns_of<C: ConnectionTrait>(conn: &C, table: &str) -> Result<Vec<(String, String)>, DbErr> {
    let sql = "SELECT a.attname::text AS name, format_type(a.atttypid, NULL) AS ty FROM pg_attribute a \
               JOIN pg_class c ON c.oid = a.attrelid WHERE c.oid = to_regclass($1) AND c.relkind IN ('r', 'p') \
               AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum";
    conn.query_all_raw(pg(sql, vec![qualified(table).into()]))
        .await?
        .iter()
        .map(|row| Ok((row.try_get("", "name")?, row.try_get("", "ty")?)))
        .collect()
}

/// Whether `aico_core` holds a relation named `name`.
async fn exists<C: ConnectionTrait>(conn: &C, name: &str) -> Result<bool, DbErr> {
    let sql = "SELECT to_regclass($1) IS NOT NULL AS found";
    match conn.query_one_raw(pg(sql, vec![qualified(name).into()])).await? {
        Some(row) => row.try_get("", "found"),
        None => Ok(false),
    }
}

/// `aico_core.<name>`, quoted.
fn qualified(name: &str) -> String {
    format!("{SCHEMA}.{}", aico_connect::target::quote_ident(name))
}

/// `text` with its whitespace collapsed to single spaces, trimmed.
fn collapsed(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn pg(sql: &str, values: Vec<sea_orm_migration::sea_orm::Value>) -> Statement {
    Statement::from_sql_and_values(DbBackend::Postgres, sql, values)
}
