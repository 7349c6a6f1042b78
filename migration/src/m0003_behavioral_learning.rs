//! Phase 3: behavioural learning — skills, per-user confidence, Thompson-sampling statistics,
//! context preference vectors, feedback events and trajectories.
//!
//! On the seed's layout, the seed's tables. The seed writes its indexes as MySQL-style `INDEX`
//! clauses inside `CREATE TABLE`, which SQLite and PostgreSQL reject: each is its own
//! `CREATE INDEX IF NOT EXISTS` here. The rules the seed states in comments are CHECK constraints.
//!
//! On AICO's own database this phase is AICO's: its behavioural code reads and writes the tables
//! in the shape of AICO's versions 14, 15 and 18. At AICO's version 13 (where fresh installs stop,
//! because AICO's version 14 fails) this migration runs those versions' statements on the six
//! behavioural tables ([`crate::aico_phase3`]), never the ones on the Memory Album's
//! `feedback_events`. Where AICO applied the phase itself (version 18), it is adopted as is.
//!
//! A table that exists is adopted only when it has every column this phase needs.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::ConnectionTrait;

use crate::aico_phase3;
use crate::layout::{self, AICO_PHASE2, AICO_PHASE3_DONE, Catalog, Layout, Makes, Objects, adoptable, require_table};
use crate::phase::{On, Phase};
use aico_connect::dialect::Dialect;

/// The number of explicit dimensions of a preference vector.
const DIMENSIONS: usize = 16;

/// The seed's tables of this phase, children before parents (the order `down` drops them in).
const TABLES: [&str; 6] = [
    "trajectories",
    "feedback_events",
    "context_preference_vectors",
    "context_skill_stats",
    "user_skill_confidence",
    "skills",
];

/// Creates the behavioural learning tables.
#[derive(DeriveMigrationName)]
pub struct Migration;

fn check(name: &str, sql: String) -> Check {
    Check::named(name.to_owned(), Expr::cust(sql))
}

fn created_now<T: IntoIden>(col: T) -> ColumnDef {
    ColumnDef::new(col).timestamp_with_time_zone().default(Expr::current_timestamp()).to_owned()
}

fn reward_check(name: &str, column: &str) -> Check {
    check(name, format!("{column} IS NULL OR {column} IN (-1, 0, 1)"))
}

fn bucket_check(name: &str) -> Check {
    check(name, "context_bucket BETWEEN 0 AND 99".into())
}

/// The seed's tables, parents first.
fn tables(d: Dialect) -> Vec<TableCreateStatement> {
    vec![
        Table::create()
            .table(Skills::Table)
            .if_not_exists()
            .col(ColumnDef::new(Skills::SkillId).text().not_null().primary_key())
            .col(ColumnDef::new(Skills::SkillName).text().not_null())
            .col(ColumnDef::new(Skills::SkillType).text().not_null())
            .col(ColumnDef::new(Skills::TriggerContext).json().not_null())
            .col(ColumnDef::new(Skills::ProcedureTemplate).text().not_null())
            .col(ColumnDef::new(Skills::Dimensions).json().not_null())
            .col(created_now(Skills::CreatedAt))
            .col(created_now(Skills::UpdatedAt))
            .check(check("ck_skills_skill_type", "skill_type IN ('base', 'user_created')".into()))
            .check(check("ck_skills_dimensions", d.json_array_of_len("dimensions", DIMENSIONS)))
            .to_owned(),
        Table::create()
            .table(UserSkillConfidence::Table)
            .if_not_exists()
            .col(ColumnDef::new(UserSkillConfidence::UserId).text().not_null())
            .col(ColumnDef::new(UserSkillConfidence::SkillId).text().not_null())
            .col(ColumnDef::new(UserSkillConfidence::ConfidenceScore).double().default(0.5))
            .col(ColumnDef::new(UserSkillConfidence::UsageCount).big_integer().default(0))
            .col(ColumnDef::new(UserSkillConfidence::PositiveCount).big_integer().default(0))
            .col(ColumnDef::new(UserSkillConfidence::NegativeCount).big_integer().default(0))
            .col(ColumnDef::new(UserSkillConfidence::LastUsedAt).timestamp_with_time_zone())
            .primary_key(Index::create().col(UserSkillConfidence::UserId).col(UserSkillConfidence::SkillId))
            .check(check(
                "ck_user_skill_confidence_score",
                "confidence_score IS NULL OR (confidence_score >= 0 AND confidence_score <= 1)".into(),
            ))
            .to_owned(),
        Table::create()
            .table(ContextSkillStats::Table)
            .if_not_exists()
            .col(ColumnDef::new(ContextSkillStats::UserId).text().not_null())
            .col(ColumnDef::new(ContextSkillStats::ContextBucket).big_integer().not_null())
            .col(ColumnDef::new(ContextSkillStats::SkillId).text().not_null())
            .col(ColumnDef::new(ContextSkillStats::Alpha).double().default(1.0))
            .col(ColumnDef::new(ContextSkillStats::Beta).double().default(1.0))
            .col(created_now(ContextSkillStats::LastUpdatedAt))
            .primary_key(
                Index::create()
                    .col(ContextSkillStats::UserId)
                    .col(ContextSkillStats::ContextBucket)
                    .col(ContextSkillStats::SkillId),
            )
            .check(bucket_check("ck_context_skill_stats_bucket"))
            .check(check("ck_context_skill_stats_alpha", "alpha IS NULL OR alpha > 0".into()))
            .check(check("ck_context_skill_stats_beta", "beta IS NULL OR beta > 0".into()))
            .to_owned(),
        Table::create()
            .table(ContextPreferenceVectors::Table)
            .if_not_exists()
            .col(ColumnDef::new(ContextPreferenceVectors::UserId).text().not_null())
            .col(ColumnDef::new(ContextPreferenceVectors::ContextBucket).big_integer().not_null())
            .col(ColumnDef::new(ContextPreferenceVectors::Dimensions).json().not_null())
            .col(created_now(ContextPreferenceVectors::LastUpdatedAt))
            .primary_key(
                Index::create().col(ContextPreferenceVectors::UserId).col(ContextPreferenceVectors::ContextBucket),
            )
            .check(bucket_check("ck_context_preference_vectors_bucket"))
            .check(check("ck_context_preference_vectors_dimensions", d.json_array_of_len("dimensions", DIMENSIONS)))
            .to_owned(),
        feedback_table(d),
        Table::create()
            .table(Trajectories::Table)
            .if_not_exists()
            .col(ColumnDef::new(Trajectories::TrajectoryId).text().not_null().primary_key())
            .col(ColumnDef::new(Trajectories::UserId).text().not_null())
            .col(ColumnDef::new(Trajectories::ConversationId).text().not_null())
            .col(ColumnDef::new(Trajectories::TurnNumber).big_integer().not_null())
            .col(ColumnDef::new(Trajectories::UserInput).text().not_null())
            .col(ColumnDef::new(Trajectories::SelectedSkillId).text())
            .col(ColumnDef::new(Trajectories::AiResponse).text().not_null())
            .col(ColumnDef::new(Trajectories::FeedbackReward).big_integer())
            .col(created_now(Trajectories::Timestamp))
            .col(ColumnDef::new(Trajectories::Archived).boolean().default(false))
            .check(reward_check("ck_trajectories_feedback_reward", "feedback_reward"))
            .to_owned(),
    ]
}

/// The seed's `feedback_events`.
fn feedback_table(d: Dialect) -> TableCreateStatement {
    let ck = |rule: &str| format!("ck_feedback_events_{rule}");
    Table::create()
        .table(FeedbackEvents::Table)
        .if_not_exists()
        .col(ColumnDef::new(FeedbackEvents::EventId).text().not_null().primary_key())
        .col(ColumnDef::new(FeedbackEvents::UserId).text().not_null())
        .col(ColumnDef::new(FeedbackEvents::MessageId).text().not_null())
        .col(ColumnDef::new(FeedbackEvents::SkillId).text())
        .col(ColumnDef::new(FeedbackEvents::Reward).big_integer().not_null())
        .col(ColumnDef::new(FeedbackEvents::Reason).text())
        .col(ColumnDef::new(FeedbackEvents::FreeText).text())
        .col(ColumnDef::new(FeedbackEvents::ClassifiedCategories).json())
        .col(created_now(FeedbackEvents::Timestamp))
        .col(ColumnDef::new(FeedbackEvents::Processed).boolean().default(false))
        .check(reward_check(&ck("reward"), "reward"))
        .check(check(&ck("free_text"), format!("free_text IS NULL OR {} <= 300", d.char_length("free_text"))))
        .check(check(&ck("classified_categories"), d.json_object_or_null("classified_categories")))
        .to_owned()
}

/// The seed's indexes, with their tables, in the order [`indexes`] makes them.
const SEED_INDEXES: [(&str, &str); 9] = [
    ("idx_skill_type", "skills"),
    ("idx_user_confidence", "user_skill_confidence"),
    ("idx_user_context", "context_skill_stats"),
    ("idx_user_prefs", "context_preference_vectors"),
    ("idx_feedback_user", "feedback_events"),
    ("idx_feedback_skill", "feedback_events"),
    ("idx_feedback_processed", "feedback_events"),
    ("idx_trajectory_user_feedback", "trajectories"),
    ("idx_trajectory_timestamp", "trajectories"),
];

/// What this migration makes: the seed's six tables and their indexes; on AICO's database what
/// AICO's versions 14, 15 and 18 make (made so at AICO's version 13 from the same statements,
/// [`crate::aico_phase3`], adopted at 18).
const MAKES: Makes = Makes {
    seed: Objects {
        tables: &[
            "skills",
            "user_skill_confidence",
            "context_skill_stats",
            "context_preference_vectors",
            "feedback_events",
            "trajectories",
        ],
        indexes: &SEED_INDEXES,
        columns: &[],
    },
    aico: Objects {
        tables: &aico_phase3::TABLES,
        indexes: &[
            ("idx_skills_type", "skills"),
            ("idx_user_skill_confidence", "user_skill_confidence"),
            ("idx_trajectories_user_feedback", "trajectories"),
            ("idx_trajectories_timestamp", "trajectories"),
            ("idx_context_stats_user_context", "context_skill_stats"),
            ("idx_preference_vectors_user", "context_preference_vectors"),
            ("idx_trajectories_message", "trajectories"),
            ("idx_ams_behavioral_feedback_user", layout::AICO_FEEDBACK),
            ("idx_ams_behavioral_feedback_skill", layout::AICO_FEEDBACK),
            ("idx_ams_behavioral_feedback_processed", layout::AICO_FEEDBACK),
        ],
        // The columns AICO's behavioural code relies on. `trajectories.message_id` (AICO's version
        // 15) is among them: AICO's feedback endpoint finds a message's skill by it; at AICO's
        // version 13 this migration adds it to a `trajectories` that lacks it, as version 15 does.
        columns: &[
            (
                "skills",
                &[
                    "skill_id",
                    "skill_name",
                    "skill_type",
                    "trigger_context",
                    "procedure_template",
                    "dimension_vector",
                    "created_at",
                    "updated_at",
                ],
            ),
            (
                "user_skill_confidence",
                &[
                    "user_id",
                    "skill_id",
                    "confidence_score",
                    "usage_count",
                    "positive_count",
                    "negative_count",
                    "last_used_at",
                ],
            ),
            ("context_skill_stats", &["user_id", "context_bucket", "skill_id", "alpha", "beta", "last_updated_at"]),
            ("context_preference_vectors", &["user_id", "context_bucket", "dimensions", "last_updated_at"]),
            (
                layout::AICO_FEEDBACK,
                &[
                    "event_id",
                    "user_id",
                    "message_id",
                    "skill_id",
                    "reward",
                    "reason",
                    "free_text",
                    "timestamp",
                    "processed",
                ],
            ),
            (
                "trajectories",
                &[
                    "trajectory_id",
                    "user_id",
                    "conversation_id",
                    "turn_number",
                    "user_input",
                    "selected_skill_id",
                    "ai_response",
                    "feedback_reward",
                    "timestamp",
                    "archived",
                    "message_id",
                ],
            ),
        ],
    },
    aico_pg: Objects {
        tables: &[
            "ams_behavioral_skills",
            "user_skill_confidence",
            "ams_context_skill_stats",
            "ams_context_preference_vectors",
            "ams_behavioral_feedback",
            "ams_trajectories",
        ],
        indexes: &[
            ("idx_behavioral_skills_status", "ams_behavioral_skills"),
            ("idx_behavioral_skills_type", "ams_behavioral_skills"),
            ("idx_user_skill_confidence", "user_skill_confidence"),
            ("idx_ams_context_skill_stats_user", "ams_context_skill_stats"),
            ("idx_ams_context_skill_stats_skill", "ams_context_skill_stats"),
            ("idx_ams_context_preferences_user", "ams_context_preference_vectors"),
            ("idx_ams_context_preferences_updated", "ams_context_preference_vectors"),
            ("idx_behavioral_feedback_processed", "ams_behavioral_feedback"),
            ("idx_behavioral_feedback_skill", "ams_behavioral_feedback"),
            ("idx_behavioral_feedback_user", "ams_behavioral_feedback"),
            ("idx_trajectories_archived", "ams_trajectories"),
            ("idx_trajectories_conversation", "ams_trajectories"),
            ("idx_trajectories_user", "ams_trajectories"),
        ],
        columns: &[
            ("ams_behavioral_skills", &["skill_id", "skill_name", "skill_type", "dimension_vector"]),
            ("user_skill_confidence", &["user_id", "skill_id", "confidence_score"]),
            ("ams_context_skill_stats", &["user_id", "context_bucket", "skill_id", "alpha", "beta"]),
            ("ams_context_preference_vectors", &["user_id", "context_bucket", "dimensions"]),
            ("ams_behavioral_feedback", &["feedback_id", "user_id", "reward", "timestamp", "processed"]),
            ("ams_trajectories", &["trajectory_id", "user_id", "message_id", "timestamp"]),
        ],
    },
    aico_version: layout::AICO_PHASE3,
    adds_to_facts: &[],
};

/// The seed's indexes.
fn indexes() -> Vec<IndexCreateStatement> {
    let [
        mut skill_type,
        mut user_confidence,
        mut user_context,
        mut user_prefs,
        mut feedback_user,
        mut feedback_skill,
        mut feedback_processed,
        mut user_feedback,
        mut timestamp,
    ] = SEED_INDEXES.map(|(name, _)| Index::create().if_not_exists().name(name).to_owned());
    vec![
        skill_type.table(Skills::Table).col(Skills::SkillType).to_owned(),
        user_confidence
            .table(UserSkillConfidence::Table)
            .col(UserSkillConfidence::UserId)
            .col((UserSkillConfidence::ConfidenceScore, IndexOrder::Desc))
            .to_owned(),
        user_context
            .table(ContextSkillStats::Table)
            .col(ContextSkillStats::UserId)
            .col(ContextSkillStats::ContextBucket)
            .to_owned(),
        user_prefs.table(ContextPreferenceVectors::Table).col(ContextPreferenceVectors::UserId).to_owned(),
        feedback_user.table(FeedbackEvents::Table).col(FeedbackEvents::UserId).to_owned(),
        feedback_skill.table(FeedbackEvents::Table).col(FeedbackEvents::SkillId).to_owned(),
        feedback_processed.table(FeedbackEvents::Table).col(FeedbackEvents::Processed).to_owned(),
        user_feedback.table(Trajectories::Table).col(Trajectories::UserId).col(Trajectories::FeedbackReward).to_owned(),
        timestamp.table(Trajectories::Table).col(Trajectories::Timestamp).to_owned(),
    ]
}

/// AICO's Phase 3 at AICO's version 13: every table of it that exists must have the columns AICO
/// made it with (checked before anything changes); then AICO's own statements, each skipped where
/// its object exists (`IF NOT EXISTS`; a column that is there is not added again).
async fn aicos_phase3<C: ConnectionTrait>(conn: &C, catalog: &Catalog) -> Result<(), DbErr> {
    let dialect = Dialect::of_conn(conn)?;
    let added: Vec<(&str, &str)> =
        aico_phase3::phase3().filter_map(|(table, sql)| Some((table, aico_phase3::added_column(sql)?))).collect();
    for table in aico_phase3::TABLES {
        let made_with: Vec<&str> =
            catalog.aico_columns(table).into_iter().filter(|c| !added.contains(&(table, *c))).collect();
        adoptable(conn, table, &made_with).await?;
    }
    for (table, sql) in aico_phase3::phase3() {
        if let Some(column) = aico_phase3::added_column(sql)
            && dialect.column_names(conn, table).await?.iter().any(|c| c == column)
        {
            continue;
        }
        conn.execute_raw(dialect.stmt(sql)).await?;
    }
    Ok(())
}

#[async_trait::async_trait]
impl Phase for Migration {
    fn makes(&self) -> &'static Makes {
        &MAKES
    }

    fn aico_pg(&self) -> &'static [crate::aico_pg::Object] {
        crate::aico_pg::PHASE3
    }

    fn drops(&self, layout: Layout) -> Vec<&'static str> {
        if MAKES.aico_applied(layout) {
            // AICO's tables, made by its own versions 14 to 18.
            return Vec::new();
        }
        // Ours: the seed's, or AICO's shape made at AICO's version 13; never the Memory Album's
        // feedback_events. Children first.
        match layout {
            Layout::Seed | Layout::AicoPostgres => TABLES.to_vec(),
            Layout::Aico { .. } => aico_phase3::TABLES.iter().rev().copied().collect(),
        }
    }

    async fn up(&self, on: &On<'_, '_>) -> Result<(), DbErr> {
        let (manager, conn, dialect, layout) = (on.manager, on.conn, on.dialect, on.layout);
        match layout {
            Layout::Aico { version } if MAKES.aico_applied(layout) => {
                if version < AICO_PHASE3_DONE {
                    return Err(DbErr::Migration(format!(
                        "this is AICO's database at its schema version {version}, with only part of AICO's \
                         Phase 3 (trajectories.message_id comes with its version 15, {} with 18): start AICO \
                         once to bring the database to version {AICO_PHASE3_DONE}, then rerun",
                        layout::AICO_FEEDBACK
                    )));
                }
                for table in aico_phase3::TABLES {
                    require_table(conn, table, &on.catalog.aico_columns(table)).await?;
                }
                Ok(())
            }
            Layout::Aico { .. } => {
                layout.require_runnable(AICO_PHASE2)?;
                aicos_phase3(conn, on.catalog).await
            }
            Layout::Seed | Layout::AicoPostgres => {
                let tables = tables(dialect);
                // Adopt nothing of another shape: check every table that exists before changing any.
                for (name, table) in TABLES.iter().rev().zip(&tables) {
                    let columns: Vec<String> = table.get_columns().iter().map(|c| c.get_column_name()).collect();
                    let columns: Vec<&str> = columns.iter().map(String::as_str).collect();
                    adoptable(conn, name, &columns).await?;
                }
                for table in tables {
                    manager.create_table(table).await?;
                }
                for index in indexes() {
                    manager.create_index(index).await?;
                }
                Ok(())
            }
        }
    }

    async fn down(&self, on: &On<'_, '_>) -> Result<(), DbErr> {
        for table in self.drops(on.layout) {
            on.manager.drop_table(Table::drop().table(Alias::new(table)).if_exists().to_owned()).await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Skills {
    Table,
    SkillId,
    SkillName,
    SkillType,
    TriggerContext,
    ProcedureTemplate,
    Dimensions,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum UserSkillConfidence {
    Table,
    UserId,
    SkillId,
    ConfidenceScore,
    UsageCount,
    PositiveCount,
    NegativeCount,
    LastUsedAt,
}

#[derive(DeriveIden)]
enum ContextSkillStats {
    Table,
    UserId,
    ContextBucket,
    SkillId,
    Alpha,
    Beta,
    LastUpdatedAt,
}

#[derive(DeriveIden)]
enum ContextPreferenceVectors {
    Table,
    UserId,
    ContextBucket,
    Dimensions,
    LastUpdatedAt,
}

#[derive(DeriveIden)]
enum FeedbackEvents {
    Table,
    EventId,
    UserId,
    MessageId,
    SkillId,
    Reward,
    Reason,
    FreeText,
    ClassifiedCategories,
    Timestamp,
    Processed,
}

#[derive(DeriveIden)]
enum Trajectories {
    Table,
    TrajectoryId,
    UserId,
    ConversationId,
    TurnNumber,
    UserInput,
    SelectedSkillId,
    AiResponse,
    FeedbackReward,
    Timestamp,
    Archived,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn makes_lists_the_tables_and_indexes_of_aicos_statements() {
        let entry = MAKES.aico;
        assert_eq!(entry.tables, aico_phase3::TABLES);
        let mut made: Vec<(&str, &str)> = aico_phase3::phase3()
            .filter_map(|(table, sql)| {
                let name = sql.strip_prefix("CREATE INDEX IF NOT EXISTS ")?.split_whitespace().next()?;
                Some((name, table))
            })
            .collect();
        let mut listed = entry.indexes.to_vec();
        made.sort_unstable();
        listed.sort_unstable();
        assert_eq!(listed, made);
    }
}
