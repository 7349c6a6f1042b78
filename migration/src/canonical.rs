//! SQL text in canonical form, so that the same objects spelled differently (another quoting,
//! spacing, `IF NOT EXISTS`, the order of a table's items) read the same: what the fingerprints
//! ([`crate::fingerprint`]) compare. Backend-neutral text work; no SQL is run here.

/// Lower case outside string literals, identifier quotes (`"x"`, `` `x` ``, `[x]`) removed,
/// whitespace collapsed to one space and removed around punctuation, `IF NOT EXISTS` dropped.
pub fn canonical_sql(sql: &str) -> String {
    const PUNCT: &str = "(),=<>+-*/|;.";
    let mut out = String::with_capacity(sql.len());
    let mut space = false;
    let mut chars = sql.chars().peekable();
    let push = |out: &mut String, s: &str, space: &mut bool| {
        let first = s.chars().next().unwrap_or(' ');
        if *space && !out.is_empty() && !out.ends_with(|c| PUNCT.contains(c)) && !PUNCT.contains(first) {
            out.push(' ');
        }
        *space = false;
        out.push_str(s);
    };
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                let mut lit = String::from("'");
                while let Some(d) = chars.next() {
                    lit.push(d);
                    if d == '\'' {
                        if chars.peek() == Some(&'\'') {
                            lit.push('\'');
                            chars.next();
                        } else {
                            break;
                        }
                    }
                }
                push(&mut out, &lit, &mut space);
            }
            '"' | '`' | '[' => {
                let close = if c == '[' { ']' } else { c };
                let mut ident = String::new();
                while let Some(d) = chars.next() {
                    if d == close {
                        if close != ']' && chars.peek() == Some(&close) {
                            ident.push(close);
                            chars.next();
                            continue;
                        }
                        break;
                    }
                    ident.extend(d.to_lowercase());
                }
                push(&mut out, &ident, &mut space);
            }
            c if c.is_whitespace() => space = true,
            c => push(&mut out, &c.to_lowercase().to_string(), &mut space),
        }
    }
    for kind in ["table", "index", "unique index"] {
        out = out.replacen(&format!("create {kind} if not exists "), &format!("create {kind} "), 1);
    }
    out
}

/// The items of a canonical `CREATE TABLE` (columns and table constraints), split at the
/// top-level commas of its body; `None` when it has no body.
pub(crate) fn table_items(canonical: &str) -> Option<Vec<String>> {
    let open = canonical.find('(')?;
    let close = canonical.rfind(')')?;
    let body = canonical.get(open + 1..close)?;
    let (mut items, mut item, mut depth, mut quoted) = (Vec::new(), String::new(), 0i32, false);
    for c in body.chars() {
        match c {
            '\'' => quoted = !quoted,
            '(' if !quoted => depth += 1,
            ')' if !quoted => depth -= 1,
            ',' if !quoted && depth == 0 => {
                items.push(std::mem::take(&mut item));
                continue;
            }
            _ => {}
        }
        item.push(c);
    }
    items.push(item);
    Some(items.into_iter().map(|i| i.trim().to_owned()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spelling_does_not_matter() {
        let a =
            canonical_sql("CREATE INDEX IF NOT EXISTS \"idx_a\" ON \"t\" ( json_extract(\"m\", '$.A b') , x DESC )");
        let b = canonical_sql("create index [idx_a] on `T`(JSON_EXTRACT(m,'$.A b'),x desc)");
        assert_eq!(a, b);
        assert_eq!(a, "create index idx_a on t(json_extract(m,'$.A b'),x desc)");
    }

    #[test]
    fn literals_keep_their_case_and_spaces() {
        assert_eq!(canonical_sql("CHECK (k IN ('Base',  'It''s'))"), "check(k in('Base','It''s'))");
    }

    #[test]
    fn table_items_are_split_at_top_level_commas() {
        let items = table_items(&canonical_sql("CREATE TABLE t (a TEXT, b REAL DEFAULT (1, 2), CHECK (a IN ('x,y')))"));
        assert_eq!(items, Some(vec!["a text".into(), "b real default(1,2)".into(), "check(a in('x,y'))".into()]));
    }
}
