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
use super::report::Problem;
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
    /// The target columns written: `source_columns`' in the same order, then the metadata column
    /// when the source has none.
    pub target_columns: Vec<TargetColumn>,
    /// The index of the metadata column in `target_columns`, when the table fills it.
    pub metadata: Option<usize>,
    /// Rows in the source.
    pub in_source: u64,
    /// What stops the move.
    pub problems: Vec<Problem>,
}

/// `aico_core.<table>`.
pub fn qualified(table: &str) -> String {
    format!("{AICO_PG_SCHEMA}.{table}")
}

/// Check `map` against the source (whose tables are `tables`) and the target's live catalog.
pub async fn prepare(source: &Source, dest: &Dest, tables: &[String], map: TableMap) -> Result<Prepared, MoveError> {
    let source_table = map.sources.iter().find(|s| tables.iter().any(|t| t == *s)).map(|s| (*s).to_owned());
    let target = qualified(map.target);
    let mut prepared = Prepared {
        map,
        source_table: source_table.clone(),
        source_columns: Vec::new(),
        target_columns: Vec::new(),
        metadata: None,
        in_source: 0,
        problems: Vec::new(),
    };
    let problem = |column: Option<&str>, message: String| Problem {
        table: target.clone(),
        column: column.map(str::to_owned),
        message,
    };
    let Some(live) = dest.columns(map.target).await? else {
        prepared.problems.push(problem(
            None,
            format!("{target} does not exist in the target: run `aico pg init` (AICO's schema) on it first"),
        ));
        return Ok(prepared);
    };
    let Some(table) = source_table else { return Ok(prepared) };
    prepared.in_source = source.count(&table).await?;
    let columns = source.columns(&table).await?;
    let find = |name: &str| live.iter().find(|c| c.name == name);
    match (columns.iter().any(|c| c == map.key), find(map.key)) {
        (false, _) => prepared.problems.push(Problem {
            table: table.clone(),
            column: Some(map.key.to_owned()),
            message: format!("the source's {table} has no column {}: is this AICO's aico.db?", map.key),
        }),
        (true, None) => prepared.problems.push(problem(
            Some(map.key),
            format!("{target} has no column {}: run `aico pg init` on a database made by AICO's schema", map.key),
        )),
        (true, Some(c)) if c.kind != Kind::Text => prepared.problems.push(problem(
            Some(map.key),
            format!("{target}.{} is {}, where the move writes text keys", map.key, c.shown),
        )),
        _ => {}
    }
    // The key first, then every other source column, in the source's order.
    let ordered = std::iter::once(map.key.to_owned()).chain(columns.iter().filter(|c| *c != map.key).cloned());
    for column in ordered.filter(|c| columns.contains(c)) {
        match find(&column) {
            Some(c) => {
                if let Kind::Unsupported(ty) = &c.kind {
                    prepared.problems.push(problem(
                        Some(&column),
                        format!("{target}.{column} is of type {ty}, which the move does not write yet"),
                    ));
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
    if let Some(parent) = map.parent
        && !prepared.source_columns.iter().any(|c| c == parent.column)
    {
        prepared.problems.push(Problem {
            table: table.clone(),
            column: Some(parent.column.to_owned()),
            message: format!("the source's {table} has no column {}", parent.column),
        });
    }
    for c in &live {
        let written = prepared.target_columns.iter().any(|w| w.name == c.name);
        if c.not_null && !c.has_default && !written {
            prepared.problems.push(problem(
                Some(&c.name),
                format!(
                    "{target}.{} is NOT NULL without a default, and the source's {table} has no {} to fill it",
                    c.name, c.name
                ),
            ));
        }
    }
    Ok(prepared)
}
