//! AICO's semantic memory in ChromaDB, over Chroma's v2 HTTP API with reqwest.
//!
//! AICO embeds Chroma's persistent store in `<memory dir>/semantic`; `chroma run --path <that dir>`
//! serves the same store to this tool. The backfill pages through a collection and gives each
//! record lacking them the seed's flat temporal fields. Chroma's update *merges* metadata, so only
//! the missing keys are sent: every other key, the embedding and the document stay as they are.
//! Batches never exceed the server's `max_batch_size` (its pre-flight check; the server itself does
//! not enforce it). Connection errors, timeouts and 5xx are retried with backoff; a 4xx is reported.

use std::time::Duration;

use entity::values::Timestamp;
use serde::Serialize;
use serde_json::{Map, Value, json};

/// The flat temporal fields of the seed, in its order.
pub const FIELDS: [&str; 5] = ["created_at", "confidence", "version", "last_accessed", "access_count"];

/// How many times a transient failure is retried.
const RETRIES: u32 = 5;

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
        method: &'static str,
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
}

/// Where the collection is.
#[derive(Clone, Debug)]
pub struct ChromaConfig {
    /// The server, e.g. `http://localhost:8000`.
    pub url: String,
    /// A bearer token, if the server wants one.
    pub token: Option<String>,
    /// The tenant (Chroma's default: `default_tenant`).
    pub tenant: String,
    /// The database (Chroma's default: `default_database`).
    pub database: String,
    /// The collection (AICO's: `conversation_segments`).
    pub collection: String,
}

/// A record the backfill left as it was, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct BadRecord {
    /// The record's id.
    pub id: String,
    /// Why.
    pub reason: String,
}

/// What a Chroma backfill did, or what `health` found.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ChromaReport {
    /// Records in the collection.
    pub records: u64,
    /// Records that had every temporal field.
    pub with_temporal: u64,
    /// Records this run filled (dry run: would fill; 0 for health).
    pub filled: u64,
    /// Records without a usable time: left as they were.
    pub bad_count: u64,
    /// The first of those.
    pub bad_records: Vec<BadRecord>,
    /// The batch size used (the server's `max_batch_size` caps it).
    pub batch_size: u64,
}

/// A connection to one collection.
pub struct Chroma {
    http: reqwest::Client,
    config: ChromaConfig,
    collection_id: String,
    max_batch_size: u64,
}

impl Chroma {
    /// Reach the server, read its limits and find the collection.
    pub async fn connect(config: ChromaConfig) -> Result<Self, ChromaError> {
        let url = config.url.trim_end_matches('/').to_owned();
        if !url.starts_with("http://") {
            return Err(ChromaError::Unreachable { url, detail: "only http:// URLs are supported".into() });
        }
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .connect_timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| ChromaError::Unreachable { url: url.clone(), detail: e.to_string() })?;
        let config = ChromaConfig { url, ..config };
        let mut chroma = Self { http, config, collection_id: String::new(), max_batch_size: 0 };
        let checks = chroma.call("GET", &format!("{}/api/v2/pre-flight-checks", chroma.config.url), None).await?;
        chroma.max_batch_size = checks.get("max_batch_size").and_then(Value::as_u64).unwrap_or(1000).max(1);
        let name_url = format!("{}/collections/{}", chroma.scope(), chroma.config.collection);
        let collection = match chroma.call("GET", &name_url, None).await {
            Err(ChromaError::Rejected { status: 404, .. }) => {
                return Err(ChromaError::NoCollection {
                    url: chroma.config.url.clone(),
                    collection: chroma.config.collection.clone(),
                    tenant: chroma.config.tenant.clone(),
                    database: chroma.config.database.clone(),
                });
            }
            other => other?,
        };
        chroma.collection_id = collection
            .get("id")
            .and_then(Value::as_str)
            .ok_or_else(|| ChromaError::Protocol { url: name_url, detail: "collection without an id".into() })?
            .to_owned();
        Ok(chroma)
    }

    fn scope(&self) -> String {
        format!("{}/api/v2/tenants/{}/databases/{}", self.config.url, self.config.tenant, self.config.database)
    }

    /// One request, retried on transient failures; the JSON answer.
    async fn call(&self, method: &'static str, url: &str, body: Option<&Value>) -> Result<Value, ChromaError> {
        let mut last = String::new();
        for attempt in 0..=RETRIES {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(100 << attempt)).await;
            }
            let mut req = match method {
                "POST" => self.http.post(url),
                _ => self.http.get(url),
            };
            if let Some(token) = &self.config.token {
                req = req.bearer_auth(token);
            }
            if let Some(body) = body {
                req = req.json(body);
            }
            match req.send().await {
                Err(e) => last = e.to_string(),
                Ok(resp) if resp.status().is_server_error() => {
                    last = format!("HTTP {}: {}", resp.status().as_u16(), resp.text().await.unwrap_or_default());
                }
                Ok(resp) if !resp.status().is_success() => {
                    let status = resp.status().as_u16();
                    let text = resp.text().await.unwrap_or_default();
                    let message = serde_json::from_str::<Value>(&text)
                        .ok()
                        .and_then(|v| v.get("message").and_then(Value::as_str).map(str::to_owned))
                        .unwrap_or(text);
                    return Err(ChromaError::Rejected { method, url: url.to_owned(), status, message });
                }
                Ok(resp) => {
                    return resp
                        .json()
                        .await
                        .map_err(|e| ChromaError::Protocol { url: url.to_owned(), detail: e.to_string() });
                }
            }
            tracing::info!(url, attempt, "Chroma request failed, retrying: {last}");
        }
        Err(ChromaError::Unreachable { url: url.to_owned(), detail: last })
    }

    /// Up to `limit` records from `offset`: ids and metadatas.
    async fn page(&self, offset: u64, limit: u64) -> Result<Vec<(String, Map<String, Value>)>, ChromaError> {
        let url = format!("{}/collections/{}/get", self.scope(), self.collection_id);
        let got =
            self.call("POST", &url, Some(&json!({"limit": limit, "offset": offset, "include": ["metadatas"]}))).await?;
        let protocol = |detail: &str| ChromaError::Protocol { url: url.clone(), detail: detail.into() };
        let ids = got.get("ids").and_then(Value::as_array).ok_or_else(|| protocol("no ids"))?;
        let metas = got.get("metadatas").and_then(Value::as_array).ok_or_else(|| protocol("no metadatas"))?;
        ids.iter()
            .zip(metas.iter().map(Some).chain(std::iter::repeat(None)))
            .map(|(id, meta)| {
                let id = id.as_str().ok_or_else(|| protocol("an id that is not a string"))?.to_owned();
                let meta = meta.and_then(Value::as_object).cloned().unwrap_or_default();
                Ok((id, meta))
            })
            .collect()
    }

    /// Give every record lacking them the seed's flat temporal fields (only the missing keys).
    ///
    /// The server applies updates one at a time, so the time is the updates' and the reads ride
    /// along: each page is read while the previous page's update is in flight (an update changes
    /// no record's place in the collection, so the offsets stay true).
    pub async fn backfill(&self, batch: u64, dry_run: bool) -> Result<ChromaReport, ChromaError> {
        let batch = batch.clamp(1, self.max_batch_size);
        let mut report = ChromaReport { batch_size: batch, ..Default::default() };
        let update_url = format!("{}/collections/{}/update", self.scope(), self.collection_id);
        let mut offset = 0;
        let mut pending: Option<Value> = None;
        loop {
            let update = pending.take();
            let (page, updated) = tokio::join!(self.page(offset, batch), async {
                match &update {
                    Some(body) => self.call("POST", &update_url, Some(body)).await.map(drop),
                    None => Ok(()),
                }
            });
            updated?;
            let page = page?;
            if page.is_empty() {
                break;
            }
            offset += page.len() as u64;
            report.records += page.len() as u64;
            let (mut ids, mut metas) = (Vec::new(), Vec::new());
            for (id, meta) in page {
                match missing_fields(&meta) {
                    Ok(None) => report.with_temporal += 1,
                    Ok(Some(add)) => {
                        ids.push(Value::String(id));
                        metas.push(Value::Object(add));
                    }
                    Err(reason) => {
                        report.bad_count += 1;
                        if report.bad_records.len() < 1000 {
                            report.bad_records.push(BadRecord { id, reason });
                        }
                    }
                }
            }
            report.filled += ids.len() as u64;
            if !dry_run && !ids.is_empty() {
                pending = Some(json!({"ids": ids, "metadatas": metas}));
            }
        }
        Ok(report)
    }

    /// Coverage and bad records, read only.
    pub async fn health(&self) -> Result<ChromaReport, ChromaError> {
        self.backfill(self.max_batch_size, true).await.map(|r| ChromaReport { filled: 0, ..r })
    }
}

/// The temporal keys `meta` lacks, with their initial values (`None` when it has them all), or
/// why none can be derived. The time comes from `created_at`, else AICO's `timestamp`.
pub fn missing_fields(meta: &Map<String, Value>) -> Result<Option<Map<String, Value>>, String> {
    if FIELDS.iter().all(|k| meta.contains_key(*k)) {
        return Ok(None);
    }
    let source = ["created_at", "timestamp"].iter().find_map(|k| meta.get(*k).map(|v| (*k, v)));
    let created = match source {
        Some((_, Value::String(s))) => Timestamp::parse(s).map_err(|e| e.to_string())?,
        Some((k, other)) => return Err(format!("{k} is not a timestamp string: {other}")),
        None => return Err("no created_at or timestamp in the metadata".into()),
    };
    let at = Value::String(created.to_string());
    let initial = [
        ("created_at", at.clone()),
        ("confidence", json!(1.0)),
        ("version", json!(1)),
        ("last_accessed", at),
        ("access_count", json!(0)),
    ];
    Ok(Some(initial.into_iter().filter(|(k, _)| !meta.contains_key(*k)).map(|(k, v)| (k.to_owned(), v)).collect()))
}

#[cfg(test)]
mod tests {
    use super::missing_fields;
    use serde_json::json;

    #[test]
    fn only_missing_keys_are_added() {
        let meta = json!({"user_id": "u", "timestamp": "2025-11-07T18:00:00", "confidence": 0.4});
        let add = missing_fields(meta.as_object().expect("object")).expect("ok").expect("some");
        assert_eq!(
            serde_json::Value::Object(add),
            json!({"created_at": "2025-11-07T18:00:00Z", "version": 1, "last_accessed": "2025-11-07T18:00:00Z", "access_count": 0})
        );
        let full = json!({"created_at": "x", "confidence": 1, "version": 1, "last_accessed": "x", "access_count": 0});
        assert_eq!(missing_fields(full.as_object().expect("object")).expect("ok"), None);
        assert!(missing_fields(json!({"user_id": "u"}).as_object().expect("object")).is_err());
    }
}
