//! What every AMS migration shares, written once: it runs in one transaction of its own, and it
//! is handed the database as it finds it — the schema manager, the connection's [`Dialect`] and
//! the database's [`Layout`] — so that each migration file holds only what it makes. On AICO's
//! PostgreSQL database every phase is AICO's own: it adopts or makes its objects in `aico_core`
//! ([`crate::aico_pg`]), and its rollback drops nothing.

use sea_orm_migration::prelude::*;
use sea_orm_migration::{MigrationName, MigrationTrait, SchemaManager, SchemaManagerConnection};

use crate::aico_pg;
use crate::catalog::Layout;
use aico_connect::dialect::Dialect;

/// The database a migration runs on.
pub(crate) struct On<'a, 'c> {
    /// sea-orm-migration's schema manager (creating tables and indexes, `has_table`).
    pub manager: &'a SchemaManager<'c>,
    /// The connection under it, inside the migration's transaction.
    pub conn: &'a SchemaManagerConnection<'c>,
    /// How this backend says what differs.
    pub dialect: Dialect,
    /// Whose schema the database follows (the seed's, or AICO's at a version).
    pub layout: Layout,
}

impl<'a, 'c> On<'a, 'c> {
    async fn of(manager: &'a SchemaManager<'c>) -> Result<Self, DbErr> {
        let conn = manager.get_connection();
        Ok(Self { manager, conn, dialect: Dialect::of_conn(conn)?, layout: Layout::detect(conn).await? })
    }
}

/// One AMS migration: its `up` and `down` on the database as found.
#[async_trait::async_trait]
pub(crate) trait Phase: MigrationName + Send + Sync {
    /// Apply it.
    async fn up(&self, on: &On<'_, '_>) -> Result<(), DbErr>;
    /// Roll it back.
    async fn down(&self, on: &On<'_, '_>) -> Result<(), DbErr>;
    /// AICO's objects in `aico_core` that this phase is on AICO's PostgreSQL database.
    fn aico_pg(&self) -> &'static [aico_pg::Object];
    /// The tables its `down` drops on a database of `layout`, in the order it drops them: the
    /// runner backs them up first where they hold rows ([`crate::safety::guard_drop`]).
    fn drops(&self, _layout: Layout) -> Vec<&'static str> {
        Vec::new()
    }
}

/// The tables the rollback of migration `name` drops on a database of `layout` (none on AICO's
/// PostgreSQL database, where every phase is AICO's, nor for a migration not the AMS's).
pub(crate) fn rollback_drops(name: &str, layout: Layout) -> Vec<&'static str> {
    match layout {
        Layout::AicoPostgres => Vec::new(),
        _ => crate::MIGRATIONS.iter().find(|m| m.name() == name).map_or_else(Vec::new, |m| m.drops(layout)),
    }
}

/// A [`Phase`] as sea-orm-migration runs it: atomic (`use_transaction`), so that a failure half-way
/// leaves nothing behind, under our runner and under sea-orm's own CLI alike.
pub(crate) struct Atomic(pub &'static dyn Phase);

impl MigrationName for Atomic {
    fn name(&self) -> &str {
        self.0.name()
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Atomic {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let on = On::of(manager).await?;
        match on.layout {
            Layout::AicoPostgres => aico_pg::adopt_or_make(on.conn, self.0.aico_pg()).await,
            _ => self.0.up(&on).await,
        }
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let on = On::of(manager).await?;
        match on.layout {
            // AICO's objects: AICO's schema file owns them.
            Layout::AicoPostgres => Ok(()),
            _ => self.0.down(&on).await,
        }
    }
}
