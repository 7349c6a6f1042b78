//! Whole records (id, vector, document, metadata), read to be carried elsewhere: the source side
//! of `aico-ams move`. [`Reader`] opens AICO's store from its files ([`super::files`]), or
//! reaches a server once (a URL, or a private copy of the store served for the run, when its
//! files are not in a format read here); [`Collection::records`] pages through a collection.
//!
//! Vectors arrive exact. Through a server, Chroma prints each `f32` it keeps shortest; every
//! number is parsed from that text straight to `f32` (correctly rounded, so the very bits Chroma
//! holds), never by way of an `f64`.

use std::sync::Arc;

use reqwest::Method;
use serde_json::{Map, Value};

use super::client::Chroma;
use super::files::{FileCollection, StoreFiles};
use super::wire::{GetRecordsRequest, RecordsPage};
use super::{ChromaConfig, ChromaError, Endpoint, LocalServer, STORE_FILE};

/// One record of a collection.
#[derive(Clone, Debug, PartialEq)]
pub struct Record {
    /// Its id.
    pub id: String,
    /// Its vector (`None`: Chroma sent none).
    pub embedding: Option<Vec<f32>>,
    /// Its document.
    pub document: Option<String>,
    /// Its metadata (empty when it has none).
    pub metadata: Map<String, Value>,
}

/// Where the records come from: AICO's store read from its files; or a server (the one at a
/// URL, or the store served from a private copy ([`LocalServer::serve_copy`]), stopped when this
/// is dropped).
pub struct Reader {
    from: Origin,
    config: ChromaConfig,
}

/// What a [`Reader`] reads.
enum Origin {
    Files(StoreFiles),
    Server { server: Option<LocalServer>, url: String },
}

/// A collection, read from the store's files or through a server.
pub enum Collection {
    /// From the files.
    Files(Arc<FileCollection>),
    /// Through a server.
    Served(Box<Chroma>),
}

impl Reader {
    /// Open the store `config` names from its files; when they are not in a format read here (or
    /// a URL is given), reach the server: a store to serve is copied and the copy served, so the
    /// store is never written. Its `collection` is not used: see [`Reader::collection`].
    pub async fn open(config: ChromaConfig) -> Result<Self, ChromaError> {
        super::config::check_names(&config)?;
        let from = match &config.endpoint {
            Endpoint::Url(url) => Origin::Server { server: None, url: url.clone() },
            Endpoint::Serve { path, program } => {
                // No store there: serving it says so.
                let mut files = None;
                if path.join(STORE_FILE).is_file() {
                    match StoreFiles::open(path, &config.tenant, &config.database).await {
                        Ok(read) => files = Some(read),
                        Err(why) => tracing::warn!(store = %path.display(), "serving the store to read it: {why}"),
                    }
                }
                match files {
                    Some(files) => Origin::Files(files),
                    None => {
                        let server = LocalServer::serve_copy(path, program.as_deref()).await?;
                        let url = server.url().to_owned();
                        Origin::Server { server: Some(server), url }
                    }
                }
            }
        };
        Ok(Self { from, config })
    }

    /// Where the records come from, for reports: the store read from its files, the URL, or the
    /// store and the program serving its copy.
    pub fn at(&self) -> String {
        match &self.from {
            Origin::Files(files) => format!("{} (read from its files)", files.path().display()),
            Origin::Server { server, url } => server.as_ref().map_or_else(|| url.clone(), ToString::to_string),
        }
    }

    /// The collection `name`, or `None` when the store has no such collection.
    pub async fn collection(&self, name: &str) -> Result<Option<Collection>, ChromaError> {
        super::names::check_name(name).map_err(|rule| ChromaError::BadName {
            flag: "collection",
            name: name.to_owned(),
            rule,
        })?;
        let url = match &self.from {
            Origin::Files(files) => return Ok(files.collection(name).map(Collection::Files)),
            Origin::Server { url, .. } => url,
        };
        let config = ChromaConfig { collection: name.to_owned(), ..self.config.clone() };
        match Chroma::connect(config, url).await {
            Ok(mut chroma) => {
                chroma.at = self.at();
                Ok(Some(Collection::Served(Box::new(chroma))))
            }
            Err(ChromaError::NoCollection { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

impl Collection {
    /// The width of the collection's vectors (`None` before its first record).
    pub fn dimension(&self) -> Option<u64> {
        match self {
            Self::Files(c) => c.dimension(),
            Self::Served(c) => c.dimension(),
        }
    }

    /// How many records the collection holds.
    pub async fn count(&self) -> Result<u64, ChromaError> {
        match self {
            Self::Files(c) => Ok(c.count()),
            Self::Served(c) => c.count().await,
        }
    }

    /// Up to `limit` whole records from `offset`, in Chroma's order.
    pub async fn records(&self, offset: u64, limit: u64) -> Result<Vec<Record>, ChromaError> {
        match self {
            Self::Files(c) => c.records(offset, limit).await,
            Self::Served(c) => c.records(offset, limit).await,
        }
    }
}

impl Chroma {
    /// The width of the collection's vectors, as Chroma reports it (`None` before its first
    /// record).
    pub fn dimension(&self) -> Option<u64> {
        self.dimension
    }

    /// How many records the collection holds.
    pub async fn count(&self) -> Result<u64, ChromaError> {
        self.call(Method::GET, &self.collection_url("count"), None::<&()>).await
    }

    /// Up to `limit` whole records from `offset`, in Chroma's order.
    pub async fn records(&self, offset: u64, limit: u64) -> Result<Vec<Record>, ChromaError> {
        let url = self.collection_url("get");
        let request = GetRecordsRequest { limit, offset, include: ["embeddings", "documents", "metadatas"] };
        let page: RecordsPage = self.call(Method::POST, &url, Some(&request)).await?;
        let n = page.ids.len();
        let mut embeddings = page.embeddings.unwrap_or_default().into_iter();
        let mut documents = page.documents.unwrap_or_default().into_iter();
        let mut metadatas = page.metadatas.unwrap_or_default().into_iter();
        let mut records = Vec::with_capacity(n);
        for id in page.ids {
            let embedding = match embeddings.next().flatten() {
                None => None,
                Some(raw) => Some(parse_vector(raw.get()).map_err(|detail| ChromaError::Protocol {
                    url: url.to_string(),
                    detail: format!("the vector of record {id}: {detail}"),
                })?),
            };
            let document = documents.next().flatten();
            let metadata = metadatas.next().flatten().unwrap_or_default();
            records.push(Record { id, embedding, document, metadata });
        }
        Ok(records)
    }
}

/// A JSON array of numbers (`[0.25,-1e-5,...]`, also pgvector's text form), each parsed straight
/// to `f32`.
pub fn parse_vector(text: &str) -> Result<Vec<f32>, String> {
    let inner =
        text.trim().strip_prefix('[').and_then(|t| t.strip_suffix(']')).ok_or_else(|| "not a JSON array".to_owned())?;
    if inner.trim().is_empty() {
        return Ok(Vec::new());
    }
    inner
        .split(',')
        .map(|n| {
            let n = n.trim();
            n.parse::<f32>().ok().filter(|x| x.is_finite()).ok_or_else(|| format!("{n} is not a finite number"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::parse_vector;

    #[test]
    fn vectors_parse_to_the_exact_f32() {
        let x = f32::from_bits(0x3dcc_cccd); // 0.1f32
        let tiny = f32::from_bits(1); // the smallest subnormal
        let text = format!("[{x}, -1e-5,{tiny:e},3.4028235e38]");
        let v = parse_vector(&text).expect("parses");
        assert_eq!(
            v.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
            [0x3dcc_cccd, (-1e-5f32).to_bits(), 1, f32::MAX.to_bits()]
        );
        assert_eq!(parse_vector("[]"), Ok(vec![]));
        assert!(parse_vector("[1, NaN]").is_err());
        assert!(parse_vector("{}").is_err());
    }
}
