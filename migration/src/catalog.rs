//! What the migrations make, by name, read from the one list of migrations ([`crate::MIGRATIONS`]):
//! the tables and indexes `aico-ams verify` looks for and the fingerprints read back, on the
//! seed's layout and on AICO's own databases, as each migration declares them in its own file
//! ([`Makes`], through its `Phase::makes`). A test compares them with the schema the migrations
//! really build.
//!
//! This module sits above the migrations: it reads the list, and no migration reads it (each is
//! handed the [`Catalog`] as it runs). The words it speaks in are [`crate::layout`]'s, re-exported
//! here for the callers that name them by the catalog.

use crate::MIGRATIONS;
pub use crate::layout::{
    AICO_FACT_KEY, AICO_FACTS, AICO_FEEDBACK, AICO_METADATA, AICO_PG_FACTS, AICO_PHASE1, AICO_PHASE2, AICO_PHASE3,
    AICO_PHASE3_DONE, Catalog, Entry, FACT_CREATED, FACT_METADATA, Layout, Makes, Objects, adoptable, require_table,
};

/// What every migration of the list makes, in migration order.
pub fn catalog() -> Catalog {
    Catalog::new(MIGRATIONS.iter().map(|&m| (m.name(), m.makes())))
}

/// Every migration's tables and indexes on the seed's layout, in migration order.
pub fn seed() -> Vec<Entry> {
    catalog().entries(Layout::Seed)
}

/// The catalog read for one layout (here, not in [`crate::layout`], because it reads the list).
impl Layout {
    /// Every migration's tables and indexes on a database of this layout, in migration order.
    pub fn catalog(self) -> Vec<Entry> {
        catalog().entries(self)
    }

    /// The columns of AICO's tables that the migrations rely on on a database of this layout
    /// ([`Entry::columns`]), table by table in migration order; none on the seed's.
    pub fn aico_tables(self) -> Vec<(&'static str, &'static [&'static str])> {
        catalog().aico_tables(self)
    }

    /// Whether AICO applied the phase of `migration` itself (then it is adopted as AICO made it).
    /// On AICO's PostgreSQL database every phase is AICO's own (its schema file makes them all).
    pub fn aico_applied(self, migration: &str) -> bool {
        catalog().aico_applied(self, migration)
    }
}

/// The tables the rollback of migration `name` drops on a database of `layout` (none on AICO's
/// PostgreSQL database, where every phase is AICO's, nor for a migration not the AMS's).
pub(crate) fn rollback_drops(name: &str, layout: Layout) -> Vec<&'static str> {
    match layout {
        Layout::AicoPostgres => Vec::new(),
        _ => MIGRATIONS.iter().find(|m| m.name() == name).map_or_else(Vec::new, |m| m.drops(layout)),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::path::Path;

    use super::*;

    #[test]
    fn the_list_is_in_name_order_and_every_migration_is_in_the_catalog_once() {
        let names: Vec<&str> = MIGRATIONS.iter().map(|m| m.name()).collect();
        assert!(names.windows(2).all(|w| w[0] < w[1]), "applied in name order: {names:?}");
        assert_eq!(catalog().names().collect::<Vec<_>>(), names);
        assert_eq!(seed().len(), names.len());
    }

    /// The modules a file's code (not its comments) names as `crate::NAME`.
    fn imports(text: &str) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        for line in text.lines().filter(|l| !l.trim_start().starts_with("//")) {
            for (at, _) in line.match_indices("crate::") {
                let rest = &line[at + "crate::".len()..];
                let name: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                let name = if name.is_empty() && rest.starts_with('{') { "{".to_owned() } else { name };
                out.insert(name);
            }
        }
        out
    }

    #[test]
    fn no_file_the_migrations_import_reads_the_list() {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let migrations: Vec<String> = MIGRATIONS.iter().map(|m| m.name().to_owned()).collect();
        let (mut todo, mut below) = (migrations.clone(), BTreeSet::new());
        while let Some(module) = todo.pop() {
            let text = std::fs::read_to_string(src.join(format!("{module}.rs"))).expect("a module of the crate");
            for name in imports(&text) {
                assert!(name != "{", "{module}.rs: name each module it imports on its own (crate::NAME)");
                if src.join(format!("{name}.rs")).exists() && !migrations.contains(&name) && below.insert(name.clone())
                {
                    todo.push(name);
                }
            }
        }
        assert!(below.contains("layout") && below.contains("phase"), "{below:?}");
        for module in below.iter().chain(&migrations) {
            let text = std::fs::read_to_string(src.join(format!("{module}.rs"))).expect("a module of the crate");
            let names = imports(&text);
            let list = |n: &String| {
                (migrations.contains(n) && n != module) || ["catalog", "MIGRATIONS", "Migrator"].contains(&n.as_str())
            };
            assert!(!names.iter().any(list), "{module}.rs reads the list of migrations, or another one: {names:?}");
        }
    }
}
