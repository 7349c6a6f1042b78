//! Where the collection is: the server (a URL, or AICO's store served for the run), the token and
//! certificate to reach it with, and the tenant, database and collection, checked by Chroma's
//! rules ([`super::names`]) before any request.

use std::path::PathBuf;

use super::{ChromaError, names};

/// Which Chroma server to talk to.
#[derive(Clone, Debug)]
pub enum Endpoint {
    /// A running server, e.g. `http://localhost:8000` or `https://chroma.example:8443`.
    Url(String),
    /// Chroma's own server, started for the run on the persistent store in `path` (AICO's
    /// `PersistentClient` directory), with `program` or else `chroma` on the PATH.
    Serve {
        /// The store's directory (holding `chroma.sqlite3`).
        path: PathBuf,
        /// The `chroma` program (from the `chromadb` package).
        program: Option<PathBuf>,
    },
}

/// Where the collection is.
#[derive(Clone, Debug)]
pub struct ChromaConfig {
    /// The server.
    pub endpoint: Endpoint,
    /// A bearer token, if the server wants one.
    pub token: Option<String>,
    /// A PEM file of certificates to trust for `https://`, beside the system's.
    pub ca_cert: Option<PathBuf>,
    /// The tenant (Chroma's default: `default_tenant`).
    pub tenant: String,
    /// The database (Chroma's default: `default_database`).
    pub database: String,
    /// The collection (AICO's: `conversation_segments`).
    pub collection: String,
}

/// The collection, tenant and database by Chroma's rules, each named by its flag.
pub(super) fn check_names(config: &ChromaConfig) -> Result<(), ChromaError> {
    let bad = |flag, name: &str, rule| ChromaError::BadName { flag, name: name.to_owned(), rule };
    names::check_name(&config.collection).map_err(|rule| bad("--collection", &config.collection, rule))?;
    names::check_name(&config.database).map_err(|rule| bad("--chroma-database", &config.database, rule))?;
    names::check_tenant(&config.tenant).map_err(|rule| bad("--chroma-tenant", &config.tenant, rule))
}
