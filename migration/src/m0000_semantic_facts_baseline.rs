//! Baseline: AICO's `semantic_facts`, adopted untouched when it exists, created when it does not.

use sea_orm_migration::prelude::*;

/// The columns of `semantic_facts` the AMS relies on: `id` names a fact (keyset batches, reports)
/// and `created_at` dates it (the backfill's source of time).
const REQUIRED_COLUMNS: [&str; 2] = ["id", "created_at"];

/// Adopts or creates `semantic_facts`.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.has_table("semantic_facts").await? {
            let mut missing = Vec::new();
            for column in REQUIRED_COLUMNS {
                if !manager.has_column("semantic_facts", column).await? {
                    missing.push(column);
                }
            }
            if !missing.is_empty() {
                return Err(DbErr::Migration(format!(
                    "table semantic_facts exists but lacks the column(s) {} that the AMS needs",
                    missing.join(", ")
                )));
            }
            return Ok(());
        }
        manager
            .create_table(
                Table::create()
                    .table(SemanticFacts::Table)
                    .if_not_exists()
                    .col(ColumnDef::new(SemanticFacts::Id).text().not_null().primary_key())
                    .col(ColumnDef::new(SemanticFacts::UserId).text().not_null())
                    .col(ColumnDef::new(SemanticFacts::Content).text().not_null())
                    .col(
                        ColumnDef::new(SemanticFacts::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null()
                            .default(Expr::current_timestamp()),
                    )
                    .col(
                        ColumnDef::new(SemanticFacts::UpdatedAt)
                            .timestamp_with_time_zone()
                            .not_null()
                            .default(Expr::current_timestamp()),
                    )
                    .to_owned(),
            )
            .await
    }

    /// Keeps `semantic_facts`: it is AICO's table and holds the companion's memory.
    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        Ok(())
    }
}

#[derive(DeriveIden)]
enum SemanticFacts {
    Table,
    Id,
    UserId,
    Content,
    CreatedAt,
    UpdatedAt,
}
