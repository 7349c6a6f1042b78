//! The checks before anything is written, against the target's live catalog: each table the move
//! writes exists in `aico_core`; every source column has a column to go to; every `NOT NULL`
//! column without a default is filled; every column written has a type the move writes. What
//! passes is a [`Prepared`] table: the columns read from the source and written to the target,
//! side by side.

use aico_connect::target::AICO_PG_SCHEMA;

use super::convert::Kind;
use super::error::MoveError;
use super::mapping::{METADATA_COLUMN, TableMap, fact_dated_by};
use super::pg::{Dest, TargetColumn};
use super::report::{Problem, TableMove};
use super::source::Source;

/// One table of the move, checked: where it is read and where written.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// The mapping.
    pub map: TableMap,
    /// The source's table, when it has one.
    pub source_table: Option<String>,
    /// The source columns read, the key first.
    pub source_columns: Vec<String>,
    /// The target columns written: `source_columns`' in the same order (but for folded ones),
    /// then a fold's JSON column and the metadata column when the source has none.
    pub target_columns: Vec<TargetColumn>,
    /// The source columns folded or gathered into a JSON column. Folded columns come last in
    /// `source_columns`.
    pub folded: Vec<Folded>,
    /// The index of the metadata column in `target_columns`, when the table fills it.
    pub metadata: Option<usize>,
    /// Rows in the source.
    pub in_source: u64,
    /// What stops the move.
    pub problems: Vec<Problem>,
}

impl Prepared {
    /// This table's report before anything of it is moved: its names, columns and source count.
    pub(crate) fn nothing_moved(&self) -> TableMove {
        let columns = self.target_columns.iter().map(|c| c.name.clone()).collect();
        TableMove::nothing_yet(self.source_table.clone(), self.map.target, columns, self.in_source)
    }
}

/// A source column kept inside a JSON object column of the target.
#[derive(Debug, Clone)]
pub struct Folded {
    /// Its index in `source_columns`.
    pub from: usize,
    /// The JSON column's index in `target_columns`.
    pub into: usize,
    /// The key inside the JSON object.
    pub under: String,
    /// Gathered ([`super::mapping::Gather`]: NULL kept as JSON null, text parsed only when it
    /// holds an object or array) rather than folded ([`super::mapping::Fold`]).
    pub gathered: bool,
}

/// `aico_core.<table>`.
pub fn qualified(table: &str) -> String {
    format!("{AICO_PG_SCHEMA}.{table}")
}

/// Why the move stops when the target lacks `target` (`aico_core.<table>`).
pub(super) fn missing_table(target: &str) -> String {
    format!("{target} does not exist in the target: run `aico pg init` (AICO's schema) on it first")
}

/// Why the move stops when the target table `table` (`target`, qualified) has rules: PostgreSQL
/// refuses the move's `INSERT ... ON CONFLICT` on it, and a `COPY` would skip them. None without.
pub(super) async fn rules_problem(dest: &Dest, table: &str, target: &str) -> Result<Option<String>, MoveError> {
    let rules = dest.rules(table).await?;
    Ok((!rules.is_empty()).then(|| {
        format!(
            "{target} has rules ({}): PostgreSQL refuses the move's INSERT ... ON CONFLICT on a table with rules, \
             and a COPY would skip them; drop them for the move, or move into a table without",
            rules.join(", ")
        )
    }))
}

/// Why the move stops when `target`'s column `column` is of a type it does not write.
pub(super) fn unsupported_type(target: &str, column: &str, ty: &str) -> String {
    format!("{target}.{column} is of type {ty}, which the move does not write yet")
}

/// The columns of `live` that are `NOT NULL` without a default and not among those `written`:
/// a row could not be inserted.
pub(super) fn unfilled(live: &[TargetColumn], written: impl Fn(&str) -> bool) -> Vec<&TargetColumn> {
    live.iter().filter(|c| c.not_null && !c.has_default && !written(&c.name)).collect()
}

/// The source table `map` reads, among `tables`: the first of its names present whose columns
/// have its shape.
pub async fn source_of(source: &Source, tables: &[String], map: &TableMap) -> Result<Option<String>, MoveError> {
    for name in map.sources {
        if !tables.iter().any(|t| t == name) {
            continue;
        }
        match map.shape {
            Some(shape) if !shape(&source.columns(name).await?) => {}
            _ => return Ok(Some((*name).to_owned())),
        }
    }
    Ok(None)
}

/// Check `map` against the source (whose tables are `tables`) and the target's live catalog.
pub async fn prepare(
    source: &Source,
    dest: &Dest,
    tables: &[String],
    mut map: TableMap,
) -> Result<Prepared, MoveError> {
    let source_table = source_of(source, tables, &map).await?;
    let columns = match &source_table {
        Some(table) => source.columns(table).await?,
        None => Vec::new(),
    };
    // A source that already has the gathered column moves column by column, as it is.
    if let Some(g) = map.gather
        && columns.iter().any(|c| c == g.into)
    {
        map.gather = None;
        map.renames = &[];
    }
    let target = qualified(map.target);
    let mut prepared = Prepared {
        map,
        source_table: source_table.clone(),
        source_columns: Vec::new(),
        target_columns: Vec::new(),
        metadata: None,
        folded: Vec::new(),
        in_source: 0,
        problems: Vec::new(),
    };
    let problem = |column: Option<&str>, message: String| Problem {
        table: target.clone(),
        column: column.map(str::to_owned),
        message,
    };
    let Some(live) = dest.columns(map.target).await? else {
        prepared.problems.push(problem(None, missing_table(&target)));
        return Ok(prepared);
    };
    let Some(table) = source_table else { return Ok(prepared) };
    prepared.in_source = source.count(&table).await?;
    if prepared.in_source > 0
        && let Some(message) = rules_problem(dest, map.target, &target).await?
    {
        prepared.problems.push(problem(None, message));
    }
    let find = |name: &str| live.iter().find(|c| c.name == name);
    for key in map.key {
        let from = map.source_column(key);
        match (columns.iter().any(|c| c == from), find(key)) {
            (false, _) => prepared.problems.push(Problem {
                table: table.clone(),
                column: Some(from.to_owned()),
                message: format!("the source's {table} has no column {from}: is this AICO's aico.db?"),
            }),
            (true, None) => prepared.problems.push(problem(
                Some(key),
                format!("{target} has no column {key}: run `aico pg init` on a database made by AICO's schema"),
            )),
            (true, Some(c)) if c.kind != Kind::Text && !(map.key.len() > 1 && c.kind == Kind::Int) => prepared
                .problems
                .push(problem(Some(key), format!("{target}.{key} is {}, where the move writes text keys", c.shown))),
            _ => {}
        }
    }
    // The key first, then every other source column, in the source's order; folded columns last.
    let keys: Vec<String> = map.key.iter().map(|k| map.source_column(k).to_owned()).collect();
    let ordered = keys.iter().cloned().chain(columns.iter().filter(|c| !keys.contains(c)).cloned());
    let mut folded = Vec::new();
    for column in ordered.filter(|c| columns.contains(c)) {
        if let Some(fold) = map.folds.iter().find(|f| f.column == column) {
            folded.push((column, fold.into, fold.under.to_owned(), false));
            continue;
        }
        if let Some(g) = map.gather
            && !keys.contains(&column)
            && !g.keep.contains(&column.as_str())
        {
            let under = column.clone();
            folded.push((column, g.into, under, true));
            continue;
        }
        let to = map.target_column(&column);
        match find(to) {
            Some(c) => {
                if let Kind::Unsupported(ty) = &c.kind {
                    prepared.problems.push(problem(Some(to), unsupported_type(&target, to, ty)));
                }
                prepared.source_columns.push(column.clone());
                prepared.target_columns.push(c.clone());
            }
            None => prepared.problems.push(problem(
                Some(&column),
                format!(
                    "the source's {table}.{column} has no column in {target}: its values would be lost \
                     (has the target drifted from AICO's schema?)"
                ),
            )),
        }
    }
    for (column, into, under, gathered) in folded {
        let at = prepared.target_columns.iter().position(|c| c.name == into);
        let at = match (at, find(into)) {
            (Some(i), _) => Some(i),
            (None, Some(c)) if c.kind == Kind::Json => {
                prepared.target_columns.push(c.clone());
                Some(prepared.target_columns.len() - 1)
            }
            _ => None,
        };
        match at {
            Some(i) if prepared.target_columns[i].kind == Kind::Json => {
                prepared.source_columns.push(column.clone());
                let from = prepared.source_columns.len() - 1;
                prepared.folded.push(Folded { from, into: i, under, gathered });
            }
            _ => prepared.problems.push(problem(
                Some(into),
                format!(
                    "{target} has no JSON column {into} to keep the source's {table}.{column} in (under \"{under}\")"
                ),
            )),
        }
    }
    if map.fills_metadata {
        match prepared.target_columns.iter().position(|c| c.name == METADATA_COLUMN) {
            Some(i) => prepared.metadata = Some(i),
            None => match find(METADATA_COLUMN) {
                Some(c) => {
                    prepared.target_columns.push(c.clone());
                    prepared.metadata = Some(prepared.target_columns.len() - 1);
                }
                None => prepared.problems.push(problem(
                    Some(METADATA_COLUMN),
                    format!("{target} has no column {METADATA_COLUMN}: run `aico pg init` (AICO's schema) first"),
                )),
            },
        }
        let dated = fact_dated_by().iter().any(|d| prepared.target_columns.iter().any(|c| c.name == *d));
        if !dated {
            prepared.problems.push(Problem {
                table: table.clone(),
                column: None,
                message: format!("the source's {table} has none of {} to date a fact by", fact_dated_by().join(", ")),
            });
        }
    }
    for parent in map.parents {
        if !prepared.target_columns.iter().any(|c| c.name == parent.column) {
            prepared.problems.push(Problem {
                table: table.clone(),
                column: Some(parent.column.to_owned()),
                message: format!("the source's {table} has no column {}", map.source_column(parent.column)),
            });
        }
    }
    for c in unfilled(&live, |name| prepared.target_columns.iter().any(|w| w.name == name)) {
        prepared.problems.push(problem(
            Some(&c.name),
            format!(
                "{target}.{} is NOT NULL without a default, and the source's {table} has no {} to fill it",
                c.name,
                map.source_column(&c.name)
            ),
        ));
    }
    Ok(prepared)
}
