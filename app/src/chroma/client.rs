//! A connection to one collection over Chroma's v2 HTTP API with reqwest (`http://` or
//! `https://`): [`run`] serves AICO's store for the run when asked ([`super::LocalServer`]),
//! connects, runs a job and sorts what went wrong into a report [`Outcome`]. Names are sent as
//! encoded path segments; connection errors, timeouts and 5xx are retried with backoff; a 4xx is
//! reported with Chroma's message.

use std::time::Duration;

use reqwest::{Method, Url};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::config::check_names;
use super::wire::{Collection, ErrorBody, GetRequest, Page, PreFlight, UpdateRequest};
use super::{ChromaConfig, ChromaError, Endpoint, LocalServer};
use crate::report::Outcome;

/// How many times a transient failure is retried.
const RETRIES: u32 = 5;

/// A connection to one collection.
pub struct Chroma {
    http: reqwest::Client,
    config: ChromaConfig,
    /// The server's URL, as requests are built on it.
    base: Url,
    /// The same without a password, for messages.
    url: String,
    /// Where the collection is, for reports: `url`, or the store served at `url`.
    pub(super) at: String,
    collection_id: String,
    /// The server's largest batch (its pre-flight check).
    pub(super) max_batch_size: u64,
    /// The width of the collection's vectors, as Chroma reports it (`None`: no record yet).
    pub(super) dimension: Option<u64>,
}

/// The outcome of reaching the Chroma collection and running `job` on it; a server started for
/// the run is stopped afterwards, whatever happened.
///
/// An error is returned, before any request, only when the store cannot be set up as the
/// configuration says: a name Chroma cannot have ([`ChromaError::BadName`]), no store to serve
/// ([`ChromaError::NoStore`]), no program to serve it with ([`ChromaError::NoServerProgram`]),
/// or a program that would upgrade the store's format ([`ChromaError::WouldUpgrade`], or
/// [`ChromaError::StoreFormat`] when the format cannot be read). Whether that ends the command
/// is the caller's choice.
pub async fn run<T, F>(config: ChromaConfig, job: impl FnOnce(Chroma) -> F) -> Result<Outcome<T>, ChromaError>
where
    F: Future<Output = Result<T, ChromaError>>,
{
    let classify = |e: ChromaError| match e {
        ChromaError::Unreachable { .. } | ChromaError::ServerFailed { .. } => {
            Outcome::Unreachable { detail: e.to_string() }
        }
        ChromaError::NoCollection { .. } => Outcome::NotConfigured { detail: e.to_string() },
        other => Outcome::Failed { detail: other.to_string() },
    };
    check_names(&config)?;
    let (server, url) = match &config.endpoint {
        Endpoint::Url(url) => (None, url.clone()),
        Endpoint::Serve { path, program } => match LocalServer::serve(path, program.as_deref()).await {
            Ok(server) => {
                let url = server.url().to_owned();
                (Some(server), url)
            }
            Err(
                e @ (ChromaError::NoStore { .. }
                | ChromaError::NoServerProgram { .. }
                | ChromaError::WouldUpgrade { .. }
                | ChromaError::StoreFormat { .. }),
            ) => return Err(e),
            Err(e) => return Ok(classify(e)),
        },
    };
    let outcome = match Chroma::connect(config, &url).await {
        Err(e) => classify(e),
        Ok(mut chroma) => {
            if let Some(server) = &server {
                chroma.at = server.to_string();
            }
            match job(chroma).await {
                Ok(t) => Outcome::Done(t),
                Err(e) => classify(e),
            }
        }
    };
    drop(server);
    Ok(outcome)
}

impl Chroma {
    /// Reach the server at `url`, read its limits and find the collection.
    pub(super) async fn connect(config: ChromaConfig, url: &str) -> Result<Self, ChromaError> {
        let (base, url) = base_url(url)?;
        let mut builder = http_client().timeout(Duration::from_secs(60)).connect_timeout(Duration::from_secs(5));
        if let Some(path) = &config.ca_cert {
            let cert_err = |detail: String| ChromaError::Certificate { path: path.clone(), detail };
            let pem = std::fs::read(path).map_err(|e| cert_err(e.to_string()))?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| cert_err(e.to_string()))?;
            if certs.is_empty() {
                return Err(cert_err("no PEM certificate in it".into()));
            }
            builder = builder.tls_certs_merge(certs);
        }
        let http = builder.build().map_err(|e| ChromaError::Unreachable { url: url.clone(), detail: e.to_string() })?;
        let at = url.clone();
        let mut chroma =
            Self { http, config, base, url, at, collection_id: String::new(), max_batch_size: 0, dimension: None };
        let checks: PreFlight =
            chroma.call(Method::GET, &chroma.endpoint(&["api", "v2", "pre-flight-checks"]), None::<&()>).await?;
        chroma.max_batch_size = checks.max_batch_size.unwrap_or(1000).max(1);
        let name_url = chroma.scoped(&["collections", &chroma.config.collection]);
        let collection: Collection = match chroma.call(Method::GET, &name_url, None::<&()>).await {
            Err(ChromaError::Rejected { status: 404, .. }) => {
                return Err(ChromaError::NoCollection {
                    url: chroma.url.clone(),
                    collection: chroma.config.collection.clone(),
                    tenant: chroma.config.tenant.clone(),
                    database: chroma.config.database.clone(),
                });
            }
            other => other?,
        };
        chroma.collection_id = collection.id;
        chroma.dimension = collection.dimension;
        Ok(chroma)
    }

    /// The server's URL with `segments` appended to its path, each percent-encoded as one segment
    /// (a `/`, `?`, `#` or `%` in a name stays inside its segment).
    fn endpoint(&self, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        // An http(s) URL always has a path to extend (checked in `base_url`).
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        url
    }

    /// `endpoint` under `/api/v2/tenants/{tenant}/databases/{database}`.
    fn scoped(&self, segments: &[&str]) -> Url {
        let scope = ["api", "v2", "tenants", &self.config.tenant, "databases", &self.config.database];
        self.endpoint(&[&scope[..], segments].concat())
    }

    /// The URL of `action` (`get`, `update`) on the collection.
    pub(super) fn collection_url(&self, action: &str) -> Url {
        self.scoped(&["collections", &self.collection_id, action])
    }

    /// One request, retried on transient failures; its JSON answer.
    pub(super) async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        target: &Url,
        body: Option<&impl Serialize>,
    ) -> Result<T, ChromaError> {
        let url = shown(target);
        let url = url.as_str();
        let mut last = String::new();
        for attempt in 0..=RETRIES {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(100 << attempt)).await;
            }
            let mut req = self.http.request(method.clone(), target.clone());
            if let Some(token) = &self.config.token {
                req = req.bearer_auth(token);
            }
            if let Some(body) = body {
                req = req.json(body);
            }
            match req.send().await {
                // A certificate the client does not trust stays untrusted: no retry.
                Err(e) if tls_failure(&e) => {
                    return Err(ChromaError::Unreachable { url: url.to_owned(), detail: error_chain(&e) });
                }
                Err(e) => last = error_chain(&e),
                Ok(resp) if resp.status().is_server_error() => {
                    last = format!("HTTP {}: {}", resp.status().as_u16(), resp.text().await.unwrap_or_default());
                }
                Ok(resp) if !resp.status().is_success() => {
                    let status = resp.status().as_u16();
                    let text = resp.text().await.unwrap_or_default();
                    let message = serde_json::from_str::<ErrorBody>(&text).map_or(text, |b| b.message);
                    return Err(ChromaError::Rejected { method, url: url.to_owned(), status, message });
                }
                Ok(resp) => {
                    return resp
                        .json()
                        .await
                        .map_err(|e| ChromaError::Protocol { url: url.to_owned(), detail: error_chain(&e) });
                }
            }
            tracing::info!(url, attempt, "Chroma request failed, retrying: {last}");
        }
        Err(ChromaError::Unreachable { url: url.to_owned(), detail: last })
    }

    /// Up to `limit` records from `offset`: ids and metadatas.
    pub(super) async fn page(&self, offset: u64, limit: u64) -> Result<Vec<(String, Map<String, Value>)>, ChromaError> {
        let page: Page = self
            .call(
                Method::POST,
                &self.collection_url("get"),
                Some(&GetRequest { limit, offset, include: ["metadatas"] }),
            )
            .await?;
        let metas = page.metadatas.into_iter().map(Option::unwrap_or_default).chain(std::iter::repeat_with(Map::new));
        Ok(page.ids.into_iter().zip(metas).collect())
    }

    /// Set the given keys of each record's metadata (Chroma merges: no other key changes).
    pub(super) async fn update(&self, update: &UpdateRequest) -> Result<(), ChromaError> {
        self.call::<serde::de::IgnoredAny>(Method::POST, &self.collection_url("update"), Some(update)).await.map(drop)
    }
}

/// A new HTTP client's builder. reqwest is built without a crypto provider of its own: it uses
/// the one sqlx already links.
pub(super) fn http_client() -> reqwest::ClientBuilder {
    // An error only says that one is installed already.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
}

/// The server's URL, checked (`http://` or `https://`, no query or fragment), and the same without
/// its password for messages.
fn base_url(text: &str) -> Result<(Url, String), ChromaError> {
    let wrong = |url: String, detail: &str| ChromaError::Unreachable { url, detail: detail.to_owned() };
    // Not shown when it does not parse: its password could not be told apart.
    let url = Url::parse(text).map_err(|e| wrong("--chroma-url".into(), &format!("not a URL ({e})")))?;
    let shown = shown(&url).trim_end_matches('/').to_owned();
    if !matches!(url.scheme(), "http" | "https") || url.cannot_be_a_base() {
        return Err(wrong(shown, "use an http:// or https:// URL"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(wrong(shown, "a server URL has no ?query or #fragment"));
    }
    Ok((url, shown))
}

/// `url` without its password.
fn shown(url: &Url) -> String {
    let mut url = url.clone();
    if url.password().is_some() {
        let _ = url.set_password(Some("***"));
    }
    url.to_string()
}

/// An error and its causes, on one line (reqwest's own message leaves out why a connection failed,
/// e.g. an untrusted certificate).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

/// Whether `e` failed in TLS (an untrusted or invalid certificate, a handshake refused): rustls's
/// error somewhere in its chain, also inside an `io::Error` (which hides its payload from `source`,
/// and may wrap another).
fn tls_failure(e: &(dyn std::error::Error + 'static)) -> bool {
    if e.is::<rustls::Error>() {
        return true;
    }
    let payload = e.downcast_ref::<std::io::Error>().and_then(std::io::Error::get_ref);
    if payload.is_some_and(|inner| tls_failure(inner)) {
        return true;
    }
    e.source().is_some_and(tls_failure)
}
