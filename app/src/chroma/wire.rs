//! The requests and answers of Chroma's v2 HTTP API that this tool uses, as JSON.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// `GET /api/v2/pre-flight-checks`.
#[derive(Deserialize)]
pub(super) struct PreFlight {
    pub(super) max_batch_size: Option<u64>,
}

/// `GET .../collections/{name}`.
#[derive(Deserialize)]
pub(super) struct Collection {
    pub(super) id: String,
    /// The width of its vectors (`None` before the first record).
    #[serde(default)]
    pub(super) dimension: Option<u64>,
}

/// `POST .../get`.
#[derive(Serialize)]
pub(super) struct GetRequest {
    pub(super) limit: u64,
    pub(super) offset: u64,
    pub(super) include: [&'static str; 1],
}

/// `POST .../get` of whole records: ids, vectors, documents and metadata.
#[derive(Serialize)]
pub(super) struct GetRecordsRequest {
    pub(super) limit: u64,
    pub(super) offset: u64,
    pub(super) include: [&'static str; 3],
}

/// Its answer. Each vector is kept as the JSON text Chroma sent (its `f32`s, printed shortest),
/// so that every number is parsed straight to `f32` ([`super::records`]): never by way of `f64`.
#[derive(Deserialize)]
pub(super) struct RecordsPage {
    pub(super) ids: Vec<String>,
    #[serde(default)]
    pub(super) embeddings: Option<Vec<Option<Box<serde_json::value::RawValue>>>>,
    #[serde(default)]
    pub(super) documents: Option<Vec<Option<String>>>,
    #[serde(default)]
    pub(super) metadatas: Option<Vec<Option<Map<String, Value>>>>,
}

/// Its answer: ids and their metadata (`null` for a record without any).
#[derive(Deserialize)]
pub(super) struct Page {
    pub(super) ids: Vec<String>,
    pub(super) metadatas: Vec<Option<Map<String, Value>>>,
}

/// `POST .../update`: only the given keys of each record's metadata are set (Chroma merges).
#[derive(Serialize)]
pub(super) struct UpdateRequest {
    pub(super) ids: Vec<String>,
    pub(super) metadatas: Vec<Map<String, Value>>,
}

/// An error answer.
#[derive(Deserialize)]
pub(super) struct ErrorBody {
    pub(super) message: String,
}
