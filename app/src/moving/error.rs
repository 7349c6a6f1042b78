//! What stops a move outright (a refused row or a failed check is no error: the report says it).

use aico_connect::error::ConnectError;

/// A move that could not run.
#[derive(Debug, thiserror::Error)]
pub enum MoveError {
    /// Finding or opening the source or the target failed.
    #[error(transparent)]
    Connect(#[from] ConnectError),
    /// The source is not a SQLite file.
    #[error("{target}: the source of a move is AICO's 2025 aico.db (a SQLite file): give --database-url sqlite://PATH")]
    NotSqlite {
        /// What was given (password hidden).
        target: String,
    },
    /// The target is not PostgreSQL.
    #[error("{target}: the target of a move is AICO's PostgreSQL database: give it with --to postgres://...")]
    NotPostgres {
        /// What was given.
        target: String,
    },
    /// Reading the source failed.
    #[error("{source_db}: {detail}")]
    Source {
        /// The source.
        source_db: String,
        /// The driver's words.
        detail: String,
    },
    /// Reading or writing the target failed (a batch that fails is rolled back whole).
    #[error("{target}: {detail}")]
    Target {
        /// The target (password hidden).
        target: String,
        /// The driver's words.
        detail: String,
    },
    /// Reading AICO's LMDB working memory failed.
    #[error(transparent)]
    WorkingMemory(#[from] crate::lmdb::WorkingMemoryError),
    /// Setting AICO's indexes or foreign keys aside for a large write, or putting them back, failed
    /// (their record in our schema says what to put back; a rerun finishes it).
    #[error("{detail}")]
    AicoIndex {
        /// What went wrong, naming the index and its record.
        detail: String,
    },
    /// Reaching or reading AICO's Chroma store failed.
    #[error(transparent)]
    Chroma(#[from] crate::chroma::ChromaError),
}

impl MoveError {
    /// The exit status: 2 for what the user must change first (the source or target given, a
    /// connection), 1 for a query that failed part-way.
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Connect(e) => u8::try_from(e.exit_code()).unwrap_or(2),
            Self::NotSqlite { .. } | Self::NotPostgres { .. } => 2,
            Self::Source { .. }
            | Self::Target { .. }
            | Self::WorkingMemory(_)
            | Self::Chroma(_)
            | Self::AicoIndex { .. } => 1,
        }
    }

    /// `--json`'s `error.kind`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Connect(e) => e.code(),
            Self::NotSqlite { .. } => "move_source_not_sqlite",
            Self::NotPostgres { .. } => "move_target_not_postgres",
            Self::Source { .. } => "move_source_failed",
            Self::Target { .. } => "move_target_failed",
            Self::WorkingMemory(_) => "move_working_memory_failed",
            Self::Chroma(_) => "move_chroma_failed",
            Self::AicoIndex { .. } => "move_aico_index_failed",
        }
    }
}
