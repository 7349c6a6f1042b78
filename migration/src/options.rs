//! What a run needs, handed to it: [`Options`]. Nothing about a run travels beside its
//! signature (no task-local, no process-wide state, no environment variable read here).

use aico_connect::key::DbKey;

use crate::fingerprint::Rehearsals;

/// Whether a run keeps its work.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub enum Mode {
    /// Commit the run.
    #[default]
    Apply,
    /// Do everything, then roll it all back: nothing changes (to see the SQL a run would execute),
    /// and no backup is written (there is nothing to restore).
    DryRun,
}

/// What a run of the migrations needs besides the database and the command.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Allow dropping tables that hold rows where no backup can be written (PostgreSQL):
    /// `--force`, or `AICO_FORCE_DROP=1` as the binaries read it.
    pub force: bool,
    /// The key the run's encrypted SQLite file was opened with (`None`: a plain file, or
    /// PostgreSQL): a backup written before a destructive step is read and encrypted with it.
    /// Without it an encrypted file's backup cannot be read, and the step that needs it is refused.
    pub key: Option<DbKey>,
    /// Commit, or roll everything back at the end.
    pub mode: Mode,
    /// What the migrations make from empty, rehearsed once and shared by whoever holds a clone
    /// (a run, then the status listed after it).
    pub rehearsals: Rehearsals,
}

impl Options {
    /// Whether this run is rolled back at the end ([`Mode::DryRun`]).
    pub fn rehearsal(&self) -> bool {
        self.mode == Mode::DryRun
    }
}
