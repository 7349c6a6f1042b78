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
}

/// `POST .../get`.
#[derive(Serialize)]
pub(super) struct GetRequest {
    pub(super) limit: u64,
    pub(super) offset: u64,
    pub(super) include: [&'static str; 1],
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
