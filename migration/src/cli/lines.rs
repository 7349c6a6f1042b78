//! What both binaries print about the migrations as text: a run's progress as it works, and the
//! status listing. `migration` and `aico-ams migrate` print these same lines.

use std::borrow::Cow;
use std::fmt;

use crate::fingerprint::Check;
use crate::runner::{AicoSchema, MigrationState, Progress};

/// What a run reports as it works ([`Progress`]), as whole lines (each ending in a newline; none
/// for a step that starts).
#[derive(Clone, Copy, Debug)]
pub struct ProgressLines<'a> {
    /// What the run reported.
    pub progress: &'a Progress,
    /// A dry run: the plan says that nothing will change.
    pub dry_run: bool,
}

impl fmt::Display for ProgressLines<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.progress {
            Progress::Waiting => writeln!(f, "another migrator holds the lock on this database; waiting"),
            Progress::Plan(steps) if steps.is_empty() => writeln!(f, "nothing to do: the schema is up to date"),
            Progress::Plan(steps) => {
                let dry = if self.dry_run { " (dry run: nothing will change)" } else { "" };
                writeln!(f, "plan{dry}:")?;
                steps.iter().try_for_each(|step| writeln!(f, "  {step}"))
            }
            Progress::Started(_) => Ok(()),
            Progress::Finished(step, took) => writeln!(f, "done: {step} ({took:.2?})"),
            Progress::Recorded(names) => writeln!(
                f,
                "recorded the fingerprints of {} (applied before fingerprints existed), as the database holds them",
                names.join(", ")
            ),
        }
    }
}

/// One migration's line in a status listing: state, name, when, fingerprint check (no newline).
#[derive(Clone, Debug)]
pub struct StatusLine<'a> {
    /// The migration's name.
    pub name: &'a str,
    /// `applied`, `adopted` or `pending`.
    pub state: &'a str,
    /// When it was applied (RFC 3339 UTC).
    pub applied_at: Option<Cow<'a, str>>,
    /// Its fingerprint check (`matches`, `changed`, ...); none when pending.
    pub fingerprint: Option<&'a str>,
    /// For a changed migration, the objects that differ.
    pub differs: &'a [String],
}

impl<'a> From<&'a MigrationState> for StatusLine<'a> {
    fn from(m: &'a MigrationState) -> Self {
        Self {
            name: &m.name,
            state: m.state(),
            applied_at: m.applied_at_text().map(Cow::Owned),
            fingerprint: m.fingerprint.as_ref().map(Check::as_str),
            differs: match &m.fingerprint {
                Some(Check::Changed(objects)) => objects,
                _ => &[],
            },
        }
    }
}

impl fmt::Display for StatusLine<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "  {:<7}  {}", self.state, self.name)?;
        if let Some(at) = &self.applied_at {
            write!(f, "  (at {at})")?;
        }
        if let Some(check) = self.fingerprint {
            write!(f, "  fingerprint {check}")?;
        }
        if !self.differs.is_empty() {
            write!(f, ": {} differ", self.differs.join(", "))?;
        }
        Ok(())
    }
}

/// AICO's own schema bookkeeping, above the status listing of AICO's database.
#[derive(Clone, Copy, Debug)]
pub struct AicoLines<'a> {
    /// AICO's schema version.
    pub version: i64,
    /// The AMS migrations whose phase AICO applied itself.
    pub applied_by_aico: &'a [String],
}

impl<'a> From<&'a AicoSchema> for AicoLines<'a> {
    fn from(aico: &'a AicoSchema) -> Self {
        Self { version: aico.version, applied_by_aico: &aico.applied_by_aico }
    }
}

impl fmt::Display for AicoLines<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "AICO's database, at AICO's schema version {}", self.version)?;
        match self.applied_by_aico.is_empty() {
            true => writeln!(f, "  AICO applied none of the AMS phases itself"),
            false => writeln!(f, "  applied by AICO itself (adopted as is): {}", self.applied_by_aico.join(", ")),
        }
    }
}

/// The status listing: AICO's bookkeeping on AICO's database, then a line per migration (each
/// ending in a newline).
#[derive(Clone, Debug)]
pub struct StatusLines<'a> {
    /// On AICO's database: its schema version and the phases it applied itself.
    pub aico: Option<AicoLines<'a>>,
    /// Every migration, oldest first.
    pub migrations: Vec<StatusLine<'a>>,
}

impl fmt::Display for StatusLines<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(aico) = &self.aico {
            write!(f, "{aico}")?;
        }
        self.migrations.iter().try_for_each(|m| writeln!(f, "{m}"))
    }
}
