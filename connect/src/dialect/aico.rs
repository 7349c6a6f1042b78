//! Which of AICO's databases this is: AICO's own PostgreSQL database, and AICO's schema version
//! on its SQLite `aico.db`. The migrations' catalog asks these to find a database's layout.

use sea_orm::{ConnectionTrait, DbBackend, DbErr, Statement};

use super::Dialect;

impl Dialect {
    /// Whether this is AICO's own PostgreSQL database ([`crate::target::AICO_PG_FACTS`] exists);
    /// false on SQLite.
    pub async fn is_aico_postgres<C: ConnectionTrait>(self, conn: &C) -> Result<bool, DbErr> {
        if self != Self::Postgres {
            return Ok(false);
        }
        let stmt = Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT to_regclass($1) IS NOT NULL AS found",
            [crate::target::AICO_PG_FACTS.into()],
        );
        match conn.query_one_raw(stmt).await? {
            Some(row) => row.try_get::<bool>("", "found"),
            None => Ok(false),
        }
    }

    /// AICO's schema version as stored (`_aico_schema_metadata`, key `schema_version`), if the row
    /// exists. The table must exist.
    pub async fn aico_schema_version<C: ConnectionTrait>(self, conn: &C) -> Result<Option<String>, DbErr> {
        let sql = "SELECT CAST(value AS TEXT) AS v FROM _aico_schema_metadata WHERE key = 'schema_version'";
        match conn.query_one_raw(self.stmt(sql)).await? {
            Some(row) => Ok(row.try_get::<Option<String>>("", "v")?),
            None => Ok(None),
        }
    }
}
