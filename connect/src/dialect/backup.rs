//! What must happen before a statement destroys rows.

use std::path::PathBuf;

use sea_orm::{ConnectionTrait, DbErr, Statement};

use super::Dialect;

/// What must happen before a statement destroys rows, on this backend.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RestorePoint {
    /// Copy the whole database into this file first (a consistent snapshot).
    CopyFile {
        /// The live database file.
        source: PathBuf,
    },
    /// No file to copy: refuse unless the operator forced it.
    RefuseUnlessForced,
}

impl Dialect {
    /// What to do before destroying rows on the database behind `conn`.
    pub async fn restore_point<C: ConnectionTrait>(self, conn: &C) -> Result<RestorePoint, DbErr> {
        match self {
            Self::Sqlite => {
                let row =
                    conn.query_one_raw(self.stmt("SELECT file FROM pragma_database_list WHERE name = 'main'")).await?;
                let file: String = match row {
                    Some(row) => row.try_get("", "file")?,
                    None => String::new(),
                };
                if file.is_empty() {
                    // An in-memory or temporary database: there is no file to keep.
                    Ok(RestorePoint::RefuseUnlessForced)
                } else {
                    Ok(RestorePoint::CopyFile { source: PathBuf::from(file) })
                }
            }
            Self::Postgres => Ok(RestorePoint::RefuseUnlessForced),
        }
    }

    /// The statement that writes a consistent copy of the open SQLite database to `dest`.
    pub fn snapshot_into(self, dest: &std::path::Path) -> Option<Statement> {
        match self {
            Self::Sqlite => {
                // Our own file name beside the database, as one SQL string literal ('' doubled).
                let quoted = dest.to_string_lossy().replace('\'', "''");
                Some(self.stmt(format!("VACUUM INTO '{quoted}'")))
            }
            Self::Postgres => None,
        }
    }
}
