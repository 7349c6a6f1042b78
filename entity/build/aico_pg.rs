//! AICO's PostgreSQL tables (`aico_pg.sql`, statements copied from AICO's schema file) as sea-query
//! `CREATE TABLE` statements, for sea-orm-codegen. A build has no PostgreSQL server to run them on
//! and discover the result, so the statements are read here: only the forms AICO's statements of
//! these tables use, each column's name, type, NOT NULL and key. Anything else stops the build
//! with an error naming it (a new form in AICO's file is then added here, never guessed).

use sea_orm::sea_query::{Alias, ColumnDef, ColumnType, Table, TableCreateStatement};

/// The schema AICO's tables are in (AICO's `postgres.yaml`: `core_schema`).
pub const SCHEMA: &str = "aico_core";

/// Every `CREATE TABLE` statement of `sql`, as sea-query statements in the file's order.
pub fn tables(sql: &str) -> Result<Vec<TableCreateStatement>, String> {
    let code: String = sql.lines().map(|l| format!("{} ", strip_comment(l))).collect();
    code.split(';').map(str::trim).filter(|s| !s.is_empty()).map(table).collect()
}

/// `line` without its `--` comment (none of these statements has `--` inside a string literal).
fn strip_comment(line: &str) -> &str {
    line.find("--").map_or(line, |at| &line[..at])
}

/// One `CREATE TABLE [IF NOT EXISTS] name (column, ...)` statement.
fn table(statement: &str) -> Result<TableCreateStatement, String> {
    let words: Vec<&str> = statement.split_whitespace().collect();
    let head = ["CREATE", "TABLE", "IF", "NOT", "EXISTS"];
    let skip = if words.len() > 5 && words[..5].iter().zip(head).all(|(w, h)| w.eq_ignore_ascii_case(h)) {
        5
    } else if words.len() > 2 && words[..2].iter().zip(head).all(|(w, h)| w.eq_ignore_ascii_case(h)) {
        2
    } else {
        return Err(format!("not a CREATE TABLE statement: {statement:.60}"));
    };
    let (open, close) = match (statement.find('('), statement.rfind(')')) {
        (Some(open), Some(close)) if open < close => (open, close),
        _ => return Err(format!("no column list in: {statement:.60}")),
    };
    let name = unquote(words[skip].split('(').next().unwrap_or_default());
    let mut create = Table::create();
    create.table(Alias::new(name));
    for item in top_level_items(&statement[open + 1..close]) {
        create.col(column(name, &item)?);
    }
    Ok(create)
}

/// The comma-separated items of a column list, commas inside parentheses (`vector(768)`,
/// `DEFAULT f(a, b)`) or quotes left alone.
fn top_level_items(list: &str) -> Vec<String> {
    let (mut items, mut current, mut depth, mut quoted) = (Vec::new(), String::new(), 0i32, false);
    for c in list.chars() {
        match c {
            '\'' => quoted = !quoted,
            '(' if !quoted => depth += 1,
            ')' if !quoted => depth -= 1,
            ',' if !quoted && depth == 0 => {
                items.push(std::mem::take(&mut current).trim().to_owned());
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    items.push(current.trim().to_owned());
    items.into_iter().filter(|i| !i.is_empty()).collect()
}

/// The words that end a column's type and start its constraints.
const CONSTRAINTS: [&str; 10] =
    ["PRIMARY", "NOT", "NULL", "DEFAULT", "UNIQUE", "REFERENCES", "CHECK", "CONSTRAINT", "GENERATED", "COLLATE"];

/// One column definition of `table`: `name TYPE [PRIMARY KEY] [NOT NULL] [DEFAULT expr]`.
fn column(table: &str, item: &str) -> Result<ColumnDef, String> {
    let words: Vec<&str> = item.split_whitespace().collect();
    let Some((&name, rest)) = words.split_first() else { return Err(format!("{table}: an empty column")) };
    let is_constraint = |w: &str| CONSTRAINTS.iter().any(|c| c.eq_ignore_ascii_case(w));
    if is_constraint(name) || name.eq_ignore_ascii_case("FOREIGN") {
        return Err(format!("{table}: table constraint `{item}` is not read here"));
    }
    let name = unquote(name);
    let type_end = rest.iter().position(|w| is_constraint(w)).unwrap_or(rest.len());
    let declared = rest[..type_end].join(" ").to_ascii_uppercase();
    let (column_type, serial) =
        column_type(&declared).ok_or_else(|| format!("{table}.{name}: type `{declared}` is not read here"))?;
    let mut def = ColumnDef::new_with_type(Alias::new(name), column_type);
    if serial {
        def.auto_increment().not_null();
    }
    let mut words = rest[type_end..].iter().map(|w| w.to_ascii_uppercase());
    while let Some(word) = words.next() {
        match (word.as_str(), words.next().as_deref()) {
            ("PRIMARY", Some("KEY")) => def.primary_key().not_null(),
            ("NOT", Some("NULL")) => def.not_null(),
            ("NULL", next) => {
                def.null();
                match next {
                    None => break,
                    Some(_) => return Err(format!("{table}.{name}: `{item}` is not read here")),
                }
            }
            // The default's expression: a single word in AICO's statements of these tables.
            ("DEFAULT", Some(_)) => &mut def,
            ("UNIQUE", next) => {
                def.unique_key();
                match next {
                    None => break,
                    Some(_) => return Err(format!("{table}.{name}: `{item}` is not read here")),
                }
            }
            _ => return Err(format!("{table}.{name}: `{item}` is not read here")),
        };
    }
    Ok(def)
}

/// The sea-query type of a PostgreSQL type as AICO declares it (upper case), and whether it is a
/// serial (an auto-incremented key, NOT NULL).
fn column_type(declared: &str) -> Option<(ColumnType, bool)> {
    let plain = match declared {
        "TEXT" => ColumnType::Text,
        "INTEGER" | "INT" | "INT4" => ColumnType::Integer,
        "BIGINT" | "INT8" => ColumnType::BigInteger,
        "SERIAL" => return Some((ColumnType::Integer, true)),
        "BIGSERIAL" => return Some((ColumnType::BigInteger, true)),
        "REAL" => ColumnType::Float,
        "DOUBLE PRECISION" => ColumnType::Double,
        "BOOLEAN" | "BOOL" => ColumnType::Boolean,
        "TIMESTAMPTZ" | "TIMESTAMP WITH TIME ZONE" => ColumnType::TimestampWithTimeZone,
        "TIMESTAMP" | "TIMESTAMP WITHOUT TIME ZONE" => ColumnType::DateTime,
        "JSONB" => ColumnType::JsonBinary,
        "JSON" => ColumnType::Json,
        _ => {
            // pgvector's `vector(N)`.
            let width = declared.strip_prefix("VECTOR(")?.strip_suffix(')')?.trim().parse().ok()?;
            ColumnType::Vector(Some(width))
        }
    };
    Some((plain, false))
}

/// An identifier without its double quotes.
fn unquote(name: &str) -> &str {
    name.strip_prefix('"').and_then(|n| n.strip_suffix('"')).unwrap_or(name)
}
