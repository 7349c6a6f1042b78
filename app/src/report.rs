//! The pieces every store's report is made of: how a store that is missing or unreachable is
//! reported (never silently passed, [`Outcome`]), one outcome per store ([`PerStore`]), and a
//! check of `verify` ([`Check`], [`Status`]). The stores use these; each command's report, which
//! covers every store, sits beside its command in [`crate::commands`] (`migrate`'s, made by the SQL
//! store alone, in [`crate::sql::migrate`]). This module uses neither.

use serde::Serialize;

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
    /// The same outcome for another job's findings: `Done` mapped by `f`.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Outcome<U> {
        match self {
            Self::Done(t) => Outcome::Done(f(t)),
            Self::NotConfigured { detail } => Outcome::NotConfigured { detail },
            Self::Unreachable { detail } => Outcome::Unreachable { detail },
            Self::Failed { detail } => Outcome::Failed { detail },
        }
    }

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

/// Each chosen store's outcome, for one command; a store that was not chosen is left out. On
/// AICO's PostgreSQL database the segments and the working memory are tables (`G`, `W`), reported
/// as `segments` and `working_memory`; on a 2025 install they are Chroma and LMDB.
#[derive(Clone, Debug, Serialize)]
pub struct PerStore<S, L, C, G = (), W = ()> {
    /// The SQL database (its facts table: the seed's `semantic_facts`, or `user_memories` on
    /// AICO's own database).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sql: Option<Outcome<S>>,
    /// The LMDB working memory.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lmdb: Option<Outcome<L>>,
    /// The Chroma collection.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chroma: Option<Outcome<C>>,
    /// `conversation_segments` on AICO's PostgreSQL database.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub segments: Option<Outcome<G>>,
    /// `working_memory_messages` on AICO's PostgreSQL database.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub working_memory: Option<Outcome<W>>,
}

impl<S, L, C, G, W> Default for PerStore<S, L, C, G, W> {
    fn default() -> Self {
        Self { sql: None, lmdb: None, chroma: None, segments: None, working_memory: None }
    }
}

/// How a check came out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// It holds.
    Pass,
    /// It does not: `verify` exits 1.
    Fail,
    /// It does not apply (its migration is not applied).
    Skip,
}

/// One check of `verify` and its outcome.
#[derive(Clone, Debug, Serialize)]
pub struct Check {
    /// What was checked.
    pub name: String,
    /// The outcome.
    pub status: Status,
    /// What was found, one line per finding.
    pub details: Vec<String>,
}

impl Check {
    /// A check named `name` that came out as `status`.
    pub fn new(name: &str, status: Status, details: Vec<String>) -> Self {
        Self { name: name.to_owned(), status, details }
    }

    /// `pass` when `ok`, else `fail`.
    pub fn pass_if(name: &str, ok: bool, details: Vec<String>) -> Self {
        Self::new(name, if ok { Status::Pass } else { Status::Fail }, details)
    }

    /// The check a store's `verify` gave, or a failed one saying why the store could not be checked.
    pub fn of_outcome(name: &str, outcome: Outcome<Check>) -> Self {
        match outcome {
            Outcome::Done(check) => check,
            other => Self::new(name, Status::Fail, vec![other.problem().unwrap_or_default()]),
        }
    }
}

/// `part` of `whole` in percent, two decimals (0 for an empty whole).
pub fn percent(part: u64, whole: u64) -> f64 {
    if whole == 0 { 0.0 } else { (part as f64 * 10_000.0 / whole as f64).round() / 100.0 }
}

/// At most this many bad items are listed in a report (all are counted).
pub const LISTED_BAD_ITEMS: usize = 1000;

/// The items a job left as they were (or, for `health`, found bad): all counted, the first
/// [`LISTED_BAD_ITEMS`] listed. In a report: the fields `bad_count` and `bad_items`.
#[derive(Clone, Debug, Serialize)]
pub struct BadItems<T> {
    /// How many.
    #[serde(rename = "bad_count")]
    pub count: u64,
    /// The first of them, in the order they were found.
    #[serde(rename = "bad_items")]
    pub items: Vec<T>,
}

impl<T> Default for BadItems<T> {
    fn default() -> Self {
        Self { count: 0, items: Vec::new() }
    }
}

impl<T> BadItems<T> {
    /// Count one more; list it (made by `item`) while fewer than [`LISTED_BAD_ITEMS`] are.
    pub fn add(&mut self, item: impl FnOnce() -> T) {
        self.count += 1;
        if self.items.len() < LISTED_BAD_ITEMS {
            self.items.push(item());
        }
    }

    /// Add `other`'s, found after these: counted, and listed while fewer than
    /// [`LISTED_BAD_ITEMS`] are.
    pub fn extend(&mut self, other: BadItems<T>) {
        self.count += other.count;
        let room = LISTED_BAD_ITEMS.saturating_sub(self.items.len());
        self.items.extend(other.items.into_iter().take(room));
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// How many were counted but not listed.
    pub fn unlisted(&self) -> u64 {
        self.count - self.items.len() as u64
    }
}

/// An LMDB entry or a Chroma record that a job left as it was (or found bad), and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct BadItem {
    /// Its id: the LMDB key (lossy UTF-8), the Chroma record's id.
    pub id: String,
    /// Why.
    pub reason: String,
}
