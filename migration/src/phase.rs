//! What every AMS migration shares, written once: it runs in one transaction of its own, and it
//! is handed the database as it finds it — the schema manager, the connection's [`Dialect`], the
//! database's [`Layout`] and what every migration makes ([`Catalog`]) — so that each migration
//! file holds only what it makes, and declares it ([`Phase::makes`]). On AICO's
//! PostgreSQL database every phase is AICO's own: it adopts or makes its objects in `aico_core`
//! ([`crate::aico_pg`]), and its rollback drops nothing.

use sea_orm_migration::prelude::*;
use sea_orm_migration::{MigrationName, MigrationTrait, SchemaManager, SchemaManagerConnection};

use std::sync::Arc;

use crate::aico_pg;
use crate::layout::{Catalog, Layout, Makes};
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
    /// What every migration makes (e.g. the columns of AICO's tables that they rely on).
    pub catalog: &'a Catalog,
}

impl<'a, 'c> On<'a, 'c> {
    async fn of(manager: &'a SchemaManager<'c>, catalog: &'a Catalog) -> Result<Self, DbErr> {
        let conn = manager.get_connection();
        Ok(Self { manager, conn, dialect: Dialect::of_conn(conn)?, layout: Layout::detect(conn).await?, catalog })
    }
}

/// One AMS migration: its `up` and `down` on the database as found, and what it makes. Its name is
/// its file's (`DeriveMigrationName`).
#[async_trait::async_trait]
pub(crate) trait Phase: MigrationName + Send + Sync {
    /// What it makes, on each layout: declared once, beside its code.
    fn makes(&self) -> &'static Makes;
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

/// A [`Phase`] as sea-orm-migration runs it: atomic (`use_transaction`), so that a failure half-way
/// leaves nothing behind, under our runner and under sea-orm's own CLI alike; handed the catalog
/// of every migration.
pub(crate) struct Atomic {
    /// The migration.
    pub phase: &'static dyn Phase,
    /// What every migration makes.
    pub catalog: Arc<Catalog>,
}

impl MigrationName for Atomic {
    fn name(&self) -> &str {
        self.phase.name()
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Atomic {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let on = On::of(manager, &self.catalog).await?;
        match on.layout {
            Layout::AicoPostgres => aico_pg::adopt_or_make(on.conn, self.phase.aico_pg()).await,
            _ => self.phase.up(&on).await,
        }
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let on = On::of(manager, &self.catalog).await?;
        match on.layout {
            // AICO's objects: AICO's schema file owns them.
            Layout::AicoPostgres => Ok(()),
            _ => self.phase.down(&on).await,
        }
    }
}
