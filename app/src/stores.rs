//! Which of AICO's three stores a command works on, where each one is, and how a store that is
//! missing or unreachable is reported (never silently passed).

use std::path::PathBuf;

use clap::{Args, ValueEnum};
use serde::Serialize;

use crate::chroma::ChromaConfig;

/// A store, or all of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StoreChoice {
    /// `semantic_facts` in the SQL database.
    Sql,
    /// The LMDB working memory.
    Lmdb,
    /// The ChromaDB collection.
    Chroma,
    /// All three.
    All,
}

/// Where the stores are.
#[derive(Debug, Args, Clone)]
pub struct StoreArgs {
    /// Which store(s).
    #[arg(long, value_enum, default_value = "sql")]
    pub store: StoreChoice,

    /// AICO's memory directory (its `working/` LMDB environment); default
    /// `$AICO_MEMORY_DIR`, else `<AICO data dir>/data/memory`.
    #[arg(long, env = "AICO_MEMORY_DIR")]
    pub memory_dir: Option<PathBuf>,

    /// The Chroma server.
    #[arg(long, env = "CHROMA_URL", default_value = "http://localhost:8000")]
    pub chroma_url: String,

    /// A bearer token for the Chroma server.
    #[arg(long, env = "CHROMA_TOKEN")]
    pub chroma_token: Option<String>,

    /// The Chroma collection.
    #[arg(long, default_value = "conversation_segments")]
    pub collection: String,

    /// The Chroma tenant.
    #[arg(long, default_value = "default_tenant")]
    pub chroma_tenant: String,

    /// The Chroma database.
    #[arg(long, default_value = "default_database")]
    pub chroma_database: String,
}

impl StoreArgs {
    /// Whether `store` is one of the chosen.
    pub fn includes(&self, store: StoreChoice) -> bool {
        self.store == store || self.store == StoreChoice::All
    }

    /// The LMDB environment directory (`<memory dir>/working`).
    pub fn working_dir(&self) -> Result<PathBuf, String> {
        let memory = match &self.memory_dir {
            Some(dir) => dir.clone(),
            None => migration::target::aico_data_dir().map_err(|e| e.to_string())?.join("data").join("memory"),
        };
        Ok(memory.join("working"))
    }

    /// The Chroma collection to use.
    pub fn chroma(&self) -> ChromaConfig {
        ChromaConfig {
            url: self.chroma_url.clone(),
            token: self.chroma_token.clone(),
            tenant: self.chroma_tenant.clone(),
            database: self.chroma_database.clone(),
            collection: self.collection.clone(),
        }
    }
}

/// Each chosen store's outcome, for one command; a store that was not chosen is left out.
#[derive(Clone, Debug, Serialize)]
pub struct PerStore<S, L, C> {
    /// `semantic_facts`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sql: Option<Outcome<S>>,
    /// The LMDB working memory.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lmdb: Option<Outcome<L>>,
    /// The Chroma collection.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chroma: Option<Outcome<C>>,
}

impl<S, L, C> Default for PerStore<S, L, C> {
    fn default() -> Self {
        Self { sql: None, lmdb: None, chroma: None }
    }
}

/// One store's outcome in a report: `{"status": "done", ...}` or why it could not be done.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Outcome<T> {
    /// The job ran; its findings.
    Done(T),
    /// The store is not where it was looked for (not set up, or not configured).
    NotConfigured {
        /// What was looked for.
        detail: String,
    },
    /// The store's server could not be reached.
    Unreachable {
        /// Why.
        detail: String,
    },
    /// The job failed part-way.
    Failed {
        /// Why.
        detail: String,
    },
}

impl<T> Outcome<T> {
    /// The findings, when the job ran.
    pub fn done(&self) -> Option<&T> {
        match self {
            Self::Done(t) => Some(t),
            _ => None,
        }
    }

    /// A one-line account of a store that was not done.
    pub fn problem(&self) -> Option<String> {
        match self {
            Self::Done(_) => None,
            Self::NotConfigured { detail } => Some(format!("not configured: {detail}")),
            Self::Unreachable { detail } => Some(format!("unreachable: {detail}")),
            Self::Failed { detail } => Some(format!("failed: {detail}")),
        }
    }
}

/// The outcome of opening the working memory at `dir` and running `job` on it.
pub fn with_working_memory<T>(
    dir: Result<PathBuf, String>,
    job: impl FnOnce(&crate::working_memory::WorkingMemory) -> Result<T, crate::working_memory::WorkingMemoryError>,
) -> Outcome<T> {
    use crate::working_memory::{WorkingMemory, WorkingMemoryError};
    let dir = match dir {
        Ok(dir) => dir,
        Err(detail) => return Outcome::NotConfigured { detail },
    };
    match WorkingMemory::open(&dir).and_then(|m| job(&m)) {
        Ok(t) => Outcome::Done(t),
        Err(e @ (WorkingMemoryError::NotFound { .. } | WorkingMemoryError::MissingDatabase { .. })) => {
            Outcome::NotConfigured { detail: e.to_string() }
        }
        Err(e) => Outcome::Failed { detail: e.to_string() },
    }
}

/// The outcome of reaching the Chroma collection and running `job` on it.
pub async fn with_chroma<T, F>(config: ChromaConfig, job: impl FnOnce(crate::chroma::Chroma) -> F) -> Outcome<T>
where
    F: std::future::Future<Output = Result<T, crate::chroma::ChromaError>>,
{
    use crate::chroma::{Chroma, ChromaError};
    let classify = |e: ChromaError| match e {
        ChromaError::Unreachable { .. } => Outcome::Unreachable { detail: e.to_string() },
        ChromaError::NoCollection { .. } => Outcome::NotConfigured { detail: e.to_string() },
        other => Outcome::Failed { detail: other.to_string() },
    };
    match Chroma::connect(config).await {
        Err(e) => classify(e),
        Ok(chroma) => match job(chroma).await {
            Ok(t) => Outcome::Done(t),
            Err(e) => classify(e),
        },
    }
}
