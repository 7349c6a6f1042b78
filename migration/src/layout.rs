//! The words that describe a database's layout, below the migrations: whose schema a database
//! follows ([`Layout`]), what one migration makes on each layout ([`Makes`], declared in the
//! migration's own file), what every migration makes ([`Catalog`], handed to each migration), the
//! names of AICO's tables and versions, and whether a table that exists has the shape a migration
//! needs before it is adopted. Nothing here names a migration: the list is `crate::MIGRATIONS`,
//! read as a catalog by [`crate::catalog`].

use sea_orm_migration::sea_orm::{ConnectionTrait, DbErr};

use aico_connect::dialect::Dialect;

/// One migration's tables, indexes and relied-on columns on one layout, as its file declares them.
#[derive(Debug, Clone, Copy)]
pub struct Objects {
    /// The tables it creates (or adopts).
    pub tables: &'static [&'static str],
    /// Its indexes, with their tables.
    pub indexes: &'static [(&'static str, &'static str)],
    /// The columns of tables AICO makes that this migration relies on (on AICO's layouts; empty on
    /// the seed's, where each migration checks the tables it adopts itself).
    pub columns: &'static [(&'static str, &'static [&'static str])],
}

/// What a migration makes, on the seed's layout and on AICO's own databases: declared once, in
/// the migration's own file (its [`crate::phase::Phase::makes`]), and read by the catalog, by the
/// checks before adoption, by `aico-ams verify` and by the fingerprints.
#[derive(Debug, Clone, Copy)]
pub struct Makes {
    /// On the seed's layout.
    pub seed: Objects,
    /// On AICO's own SQLite database (made, or adopted where AICO made it).
    pub aico: Objects,
    /// On AICO's own PostgreSQL database (2026; AICO's objects in `aico_core`, adopted, or made
    /// with AICO's own statements where missing: see [`crate::aico_pg`]).
    pub aico_pg: Objects,
    /// The schema version at which AICO applies this phase itself (then it is adopted as AICO
    /// made it).
    pub aico_version: i64,
    /// The columns it adds to the facts table of an earlier migration ([`Layout::facts`]): in the
    /// fingerprints they count for this migration, not for the table's.
    pub adds_to_facts: &'static [&'static str],
}

impl Makes {
    /// What it makes on a database of `layout`.
    pub fn on(&self, layout: Layout) -> &Objects {
        match layout {
            Layout::Seed => &self.seed,
            Layout::Aico { .. } => &self.aico,
            Layout::AicoPostgres => &self.aico_pg,
        }
    }

    /// Whether AICO applied this phase itself on a database of `layout` (then it is adopted as
    /// AICO made it). On AICO's PostgreSQL database every phase is AICO's own (its schema file
    /// makes them all).
    pub fn aico_applied(&self, layout: Layout) -> bool {
        match layout {
            Layout::Seed => false,
            Layout::Aico { version } => version >= self.aico_version,
            Layout::AicoPostgres => true,
        }
    }
}

/// One migration's tables and indexes on one layout, with the migration's name: a line of the
/// catalog.
#[derive(Debug, Clone, Copy)]
pub struct Entry {
    /// The migration.
    pub migration: &'static str,
    /// The tables it creates (or adopts).
    pub tables: &'static [&'static str],
    /// Its indexes, with their tables.
    pub indexes: &'static [(&'static str, &'static str)],
    /// The columns of tables AICO makes that this migration relies on ([`Objects::columns`]).
    pub columns: &'static [(&'static str, &'static [&'static str])],
}

/// What every migration makes, in migration order: each migration's name and its [`Makes`]. Built
/// from the list of migrations ([`crate::catalog::catalog`]) and handed to each migration as it
/// runs ([`crate::phase::On`]), so that no migration names another.
#[derive(Debug, Clone, Default)]
pub struct Catalog(Vec<(&'static str, &'static Makes)>);

impl Catalog {
    /// The catalog of these migrations, in order.
    pub fn new(migrations: impl IntoIterator<Item = (&'static str, &'static Makes)>) -> Self {
        Self(migrations.into_iter().collect())
    }

    /// The migrations' names, in order.
    pub fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.0.iter().map(|(name, _)| *name)
    }

    /// What `migration` makes; `None` for a migration not in the catalog.
    pub fn makes(&self, migration: &str) -> Option<&'static Makes> {
        self.0.iter().find(|(name, _)| *name == migration).map(|(_, makes)| *makes)
    }

    /// Every migration's tables and indexes on a database of `layout`, in migration order.
    pub fn entries(&self, layout: Layout) -> Vec<Entry> {
        self.0
            .iter()
            .map(|(migration, makes)| {
                let Objects { tables, indexes, columns } = *makes.on(layout);
                Entry { migration, tables, indexes, columns }
            })
            .collect()
    }

    /// The columns of AICO's tables that the migrations rely on on a database of `layout`
    /// ([`Objects::columns`]), table by table in migration order; none on the seed's.
    pub fn aico_tables(&self, layout: Layout) -> Vec<(&'static str, &'static [&'static str])> {
        match layout {
            Layout::Seed => Vec::new(),
            _ => self.0.iter().flat_map(|(_, makes)| makes.on(layout).columns.iter().copied()).collect(),
        }
    }

    /// AICO's columns of `table` on its SQLite database that the migrations rely on: what is
    /// checked before such a table is adopted, and by `aico-ams verify` afterwards. Empty for a
    /// table AICO does not make.
    pub fn aico_columns(&self, table: &str) -> Vec<&'static str> {
        self.0
            .iter()
            .flat_map(|(_, makes)| makes.aico.columns.iter())
            .filter(|(t, _)| *t == table)
            .flat_map(|(_, columns)| columns.iter().copied())
            .collect()
    }

    /// Whether AICO applied the phase of `migration` itself on a database of `layout`
    /// ([`Makes::aico_applied`]); false for a migration not in the catalog.
    pub fn aico_applied(&self, layout: Layout, migration: &str) -> bool {
        self.makes(migration).is_some_and(|makes| makes.aico_applied(layout))
    }

    /// The columns of the facts table that `migration` adds, and those that the others add
    /// ([`Makes::adds_to_facts`]).
    pub fn facts_columns_added(&self, migration: &str) -> (Vec<&'static str>, Vec<&'static str>) {
        let (mine, others): (Vec<_>, Vec<_>) = self.0.iter().partition(|(name, _)| *name == migration);
        let columns = |of: Vec<&(&'static str, &'static Makes)>| {
            of.into_iter().flat_map(|(_, makes)| makes.adds_to_facts.iter().copied()).collect()
        };
        (columns(mine), columns(others))
    }
}

/// The column of a facts table that dates a fact: the backfill's source of time.
pub const FACT_CREATED: &str = "created_at";
/// The column of a facts table that holds its temporal metadata (JSON): what the backfill writes.
pub const FACT_METADATA: &str = "temporal_metadata";

/// AICO's facts table (`facts_metadata` until its version 11).
pub const AICO_FACTS: &str = "user_memories";
/// The primary key of AICO's facts table: a uuid4 in text.
pub const AICO_FACT_KEY: &str = "fact_id";
/// The AMS feedback table on an AICO database (AICO's version 18 name; its `feedback_events` is
/// the Memory Album's, a table of another shape).
pub const AICO_FEEDBACK: &str = "ams_behavioral_feedback";
/// AICO's version table: key/value rows, `schema_version` among them. Never written here.
pub const AICO_METADATA: &str = "_aico_schema_metadata";
/// AICO's schema version that applied Phase 1 (`user_memories.temporal_metadata`).
pub const AICO_PHASE1: i64 = 12;
/// AICO's schema version that created its per-user `consolidation_state` (Phase 2).
pub const AICO_PHASE2: i64 = 13;
/// AICO's schema version that applied Phase 3 (its feedback table renamed by version 18).
pub const AICO_PHASE3: i64 = 14;
/// AICO's schema version that completed Phase 3: `trajectories.message_id` came with 15,
/// `ams_behavioral_feedback` with 18.
pub const AICO_PHASE3_DONE: i64 = 18;

/// AICO's facts table on PostgreSQL (in `aico_core`).
pub const AICO_PG_FACTS: &str = "ams_user_memories";

/// Whose schema the database follows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Layout {
    /// The seed's: `semantic_facts` keyed by `id`, the seed's `consolidation_state`.
    Seed,
    /// AICO's own SQLite database (2025), managed by AICO's migrator (`_aico_schema_metadata`) at
    /// this schema version.
    Aico {
        /// `_aico_schema_metadata.schema_version`.
        version: i64,
    },
    /// AICO's own PostgreSQL database (2026): everything in `aico_core`, made by AICO's schema
    /// file, which has no versions (`aico_core.ams_user_memories` marks it).
    AicoPostgres,
}

impl Layout {
    /// The layout of the database behind `conn`: AICO's PostgreSQL one when
    /// `aico_core.ams_user_memories` exists, AICO's SQLite one when `_aico_schema_metadata` exists,
    /// else the seed's. Reads only.
    pub async fn detect<C: ConnectionTrait>(conn: &C) -> Result<Self, DbErr> {
        let dialect = Dialect::of_conn(conn)?;
        if dialect.is_aico_postgres(conn).await? {
            return Ok(Self::AicoPostgres);
        }
        if dialect.column_names(conn, AICO_METADATA).await?.is_empty() {
            return Ok(Self::Seed);
        }
        match dialect.aico_schema_version(conn).await? {
            None => Ok(Self::Aico { version: 0 }),
            Some(text) => match text.trim().parse::<i64>() {
                Ok(version) => Ok(Self::Aico { version }),
                Err(_) => Err(DbErr::Migration(format!(
                    "{AICO_METADATA}.schema_version is {text:?}, not a version number: is this AICO's database?"
                ))),
            },
        }
    }

    /// The facts table and its key. With [`FACT_METADATA`], [`Layout::fact_dated_by`] and
    /// [`Layout::fact_metadata_json`], everything the backfill, verify and health need to know of
    /// a facts table: to make them work on another table, these are the places to change.
    pub fn facts(self) -> (&'static str, &'static str) {
        match self {
            Self::Seed => ("semantic_facts", "id"),
            Self::Aico { .. } => (AICO_FACTS, AICO_FACT_KEY),
            Self::AicoPostgres => (AICO_PG_FACTS, AICO_FACT_KEY),
        }
    }

    /// [`FACT_METADATA`] as JSON, to read its keys in SQL: the column itself where it is JSON;
    /// on AICO's PostgreSQL database, where it is text, cast (AICO's index functions cast every
    /// value that is not NULL, so every one there is JSON).
    pub fn fact_metadata_json(self) -> &'static str {
        match self {
            Self::AicoPostgres => "CAST(temporal_metadata AS json)",
            _ => FACT_METADATA,
        }
    }

    /// Phase 1's index on (last accessed, confidence), which the seed's temporal query uses.
    pub fn temporal_index(self) -> &'static str {
        match self {
            Self::Seed => "idx_semantic_facts_temporal",
            Self::Aico { .. } | Self::AicoPostgres => "idx_user_memories_temporal",
        }
    }

    /// What the target line adds about this layout, where the target alone does not say it.
    pub fn target_note(self) -> Option<&'static str> {
        match self {
            Self::AicoPostgres => Some(
                "AICO's own PostgreSQL database: the AMS is AICO's, in schema aico_core; this tool's \
                 bookkeeping is in aico_ams",
            ),
            _ => None,
        }
    }

    /// Phase 2's `state_json` as JSON, to read its keys in SQL (on AICO's PostgreSQL database it is
    /// `jsonb`).
    pub fn consolidation_json(self) -> &'static str {
        match self {
            Self::AicoPostgres => "CAST(state_json AS json)",
            _ => "state_json",
        }
    }

    /// The table of Phase 2, where consolidation records its state.
    pub fn consolidation_table(self) -> &'static str {
        match self {
            Self::AicoPostgres => "ams_consolidation_state",
            _ => "consolidation_state",
        }
    }

    /// The columns that date a fact, in order of preference ([`FACT_CREATED`]; on AICO's
    /// PostgreSQL database, where `created_at` may be NULL, then `valid_from`, which may not).
    pub fn fact_dated_by(self) -> &'static [&'static str] {
        match self {
            Self::AicoPostgres => &[FACT_CREATED, "valid_from"],
            _ => &[FACT_CREATED],
        }
    }

    /// Stop unless the migrations can run here: an AICO database below version 12 must first be
    /// brought to version 13 by AICO itself (adding Phase 1 now would make AICO's own migrator
    /// fail at its version 12).
    pub fn require_runnable(self, phase_version: i64) -> Result<(), DbErr> {
        match self {
            Self::Aico { version } if version < phase_version => Err(DbErr::Migration(format!(
                "this is AICO's database at its schema version {version}, older than the AMS (version \
                 {AICO_PHASE2}): start AICO once to bring the database to version {AICO_PHASE2}, then rerun"
            ))),
            _ => Ok(()),
        }
    }
}

/// Whether `table` exists with every column in `needed`: false when it does not exist; an error
/// naming the table and the missing columns when it exists with another shape (it is another
/// table of the same name, and adopting it would break it and the AMS).
pub async fn adoptable<C: ConnectionTrait>(conn: &C, table: &str, needed: &[&str]) -> Result<bool, DbErr> {
    let have = Dialect::of_conn(conn)?.column_names(conn, table).await?;
    if have.is_empty() {
        return Ok(false);
    }
    let missing: Vec<&str> = needed.iter().copied().filter(|c| !have.iter().any(|h| h == c)).collect();
    if missing.is_empty() {
        return Ok(true);
    }
    Err(DbErr::Migration(format!(
        "table {table} exists without the column(s) {} that the AMS needs: it is another table of that name, \
         left as it is",
        missing.join(", ")
    )))
}

/// [`adoptable`] for a table that must exist.
pub async fn require_table<C: ConnectionTrait>(conn: &C, table: &str, needed: &[&str]) -> Result<(), DbErr> {
    if adoptable(conn, table, needed).await? {
        Ok(())
    } else {
        Err(DbErr::Migration(format!("table {table} is missing")))
    }
}
