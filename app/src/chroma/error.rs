//! What can go wrong with the Chroma store: reaching the server, what it answers, and setting up
//! the store to serve.

use std::path::PathBuf;

use reqwest::Method;

/// What can go wrong talking to Chroma.
#[derive(Debug, thiserror::Error)]
pub enum ChromaError {
    /// The server could not be reached (after retries).
    #[error("cannot reach Chroma at {url}: {detail}")]
    Unreachable {
        /// The URL.
        url: String,
        /// Why.
        detail: String,
    },
    /// The server refused a request.
    #[error("Chroma refused {method} {url}: HTTP {status}: {message}")]
    Rejected {
        /// The method.
        method: Method,
        /// The URL.
        url: String,
        /// The HTTP status.
        status: u16,
        /// Chroma's message.
        message: String,
    },
    /// The collection does not exist.
    #[error("Chroma at {url} has no collection {collection:?} (tenant {tenant}, database {database})")]
    NoCollection {
        /// The server.
        url: String,
        /// The collection.
        collection: String,
        /// The tenant.
        tenant: String,
        /// The database.
        database: String,
    },
    /// The server answered something this tool cannot read.
    #[error("unexpected answer from Chroma at {url}: {detail}")]
    Protocol {
        /// The URL.
        url: String,
        /// What was wrong.
        detail: String,
    },
    /// No program to serve the store with.
    #[error(
        "no Chroma server program ({looked}) to serve AICO's store: install the `chromadb` package \
         (`pip install chromadb`, which brings `chroma`) or name its `chroma` with --chroma-bin / AICO_CHROMA_BIN"
    )]
    NoServerProgram {
        /// Where it was looked for.
        looked: String,
    },
    /// The chosen server would migrate the store to a format of its own, which AICO's pinned
    /// chromadb cannot open.
    #[error(
        "{program} would upgrade the format of AICO's Chroma store {path} from ({format}) to ({upgraded}), \
         after which AICO's own chromadb can no longer open it; nothing was changed. Serve the store with \
         the `chroma` of AICO's chromadb: --chroma-bin PATH (or AICO_CHROMA_BIN)",
        path = path.display()
    )]
    WouldUpgrade {
        /// The store.
        path: PathBuf,
        /// Its format.
        format: String,
        /// The format the server would leave.
        upgraded: String,
        /// The server program, its chromadb version and why it was chosen.
        program: String,
    },
    /// The store's format cannot be read.
    #[error("cannot read the format of the Chroma store database {}: {detail}", path.display())]
    StoreFormat {
        /// The store's database (`chroma.sqlite3`).
        path: PathBuf,
        /// Why.
        detail: String,
    },
    /// The store to serve is not there.
    #[error(
        "no Chroma store at {path}: {detail}; name AICO's `<memory dir>/semantic` with --chroma-path \
         (or --memory-dir / AICO_MEMORY_DIR), or a running server with --chroma-url"
    )]
    NoStore {
        /// The directory.
        path: PathBuf,
        /// What is missing.
        detail: String,
    },
    /// The server started for the run did not come up.
    #[error("Chroma's server ({} run --path {}) did not start: {detail}", program.display(), path.display())]
    ServerFailed {
        /// The program.
        program: PathBuf,
        /// The store.
        path: PathBuf,
        /// Why, with the last lines it wrote.
        detail: String,
    },
    /// A name Chroma cannot have.
    #[error("{flag} {name:?} is not a name Chroma allows: {rule}")]
    BadName {
        /// The flag that gave it.
        flag: &'static str,
        /// The name.
        name: String,
        /// The rule it breaks.
        rule: String,
    },
    /// The CA certificate to trust cannot be read.
    #[error("cannot use the CA certificate {path}: {detail}")]
    Certificate {
        /// The file.
        path: PathBuf,
        /// Why.
        detail: String,
    },
}
