//! AICO's other two stores as test fixtures: LMDB working memory written with heed, a Chroma
//! collection written by the Python `chromadb` client, and an `https://` endpoint in front of a
//! Chroma server, with a certificate made for the test; a `chroma run` server for a test.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use heed::types::Bytes;
use heed::{CommitOrAbort, Database, EnvOpenOptions};
use rustls::pki_types::PrivateKeyDer;
use serde_json::Value;

use crate::skip::unavailable;
use crate::{run_python, test_python};

/// A fresh LMDB environment in `working` (created) with a map of `map_mib` MiB, holding `entries`
/// (key, value) in its named database `session_memory`, as AICO's `WorkingMemoryStore` keeps them.
pub fn lmdb_working_memory(working: &Path, map_mib: usize, entries: impl IntoIterator<Item = (String, String)>) {
    std::fs::create_dir_all(working).expect("mkdir");
    // SAFETY: heed requires that an environment is opened once per process and its files are not
    // truncated while mapped: this fresh directory is opened here only, and closed when `env` drops.
    let env = unsafe { EnvOpenOptions::new().map_size(map_mib << 20).max_dbs(4).open(working) }.expect("env");
    let wtxn = env.write_txn().expect("txn");
    let db: Database<Bytes, Bytes> = env
        .create_databases_and_commit(wtxn, |wdo, wtxn| {
            wdo.create_database(wtxn, Some("session_memory")).map(CommitOrAbort::<_, ()>::Commit)
        })
        .expect("create")
        .unwrap_commit();
    let mut wtxn = env.write_txn().expect("txn");
    for (key, value) in entries {
        db.put(&mut wtxn, key.as_bytes(), value.as_bytes()).expect("put");
    }
    wtxn.commit().expect("commit");
}

/// Adds the records of a JSON file to AICO's collection, in batches of 5000.
const CHROMA_WRITER: &str = r#"
import json, sys, chromadb
from chromadb.config import Settings
c = chromadb.PersistentClient(path=sys.argv[1], settings=Settings(anonymized_telemetry=False))
col = c.get_or_create_collection("conversation_segments", metadata={"hnsw:space": "cosine"}, embedding_function=None)
with open(sys.argv[2]) as f:
    records = json.load(f)
for s in range(0, len(records), 5000):
    batch = records[s:s + 5000]
    col.add(ids=[r["id"] for r in batch], embeddings=[r["embedding"] for r in batch],
            documents=[r["document"] for r in batch], metadatas=[r["metadata"] for r in batch])
"#;

/// Chroma's persistent store in `path` with AICO's collection `conversation_segments`, holding
/// `records` (`{"id", "embedding", "document", "metadata"}` each: explicit embeddings, so nothing
/// downloads a model), written by the Python `chromadb` client as AICO writes them.
pub fn chroma_collection(python: &Path, path: &Path, records: &[Value]) {
    let file = path.with_extension("records.json");
    std::fs::write(&file, Value::from(records).to_string()).expect("write the records");
    run_python(python, CHROMA_WRITER, &[&path.to_string_lossy(), &file.to_string_lossy()]);
}

/// An `https://` endpoint on a free loopback port that forwards every connection to a plain HTTP
/// server (a [`ChromaServer`](crate::ChromaServer)); its certificate, for `127.0.0.1` and
/// `localhost`, is issued by a CA made for this endpoint alone. Stopped when dropped.
pub struct HttpsProxy {
    /// Its URL, `https://127.0.0.1:PORT`.
    pub url: String,
    /// The certificate of its CA, PEM: what a client must be told to trust.
    pub ca_pem: String,
    runtime: Option<tokio::runtime::Runtime>,
}

impl HttpsProxy {
    /// Start it in front of `upstream` (`http://HOST:PORT`).
    pub fn start(upstream: &str) -> Self {
        let upstream = upstream.strip_prefix("http://").expect("an http:// upstream").to_owned();
        let (ca_pem, config) = certificates();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("rt");
        let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).expect("bind");
        let port = listener.local_addr().expect("address").port();
        runtime.spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let (acceptor, upstream) = (acceptor.clone(), upstream.clone());
                tokio::spawn(async move {
                    // A client that refuses the certificate ends the connection in the handshake.
                    let Ok(mut tls) = acceptor.accept(tcp).await else { return };
                    let Ok(mut plain) = tokio::net::TcpStream::connect(&upstream).await else { return };
                    let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
                });
            }
        });
        Self { url: format!("https://127.0.0.1:{port}"), ca_pem, runtime: Some(runtime) }
    }
}

impl Drop for HttpsProxy {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background(); // also allowed inside another runtime (a tokio test)
        }
    }
}

/// A new CA (its certificate as PEM) and a server configuration whose certificate it issued.
fn certificates() -> (String, rustls::ServerConfig) {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
    let ca_key = KeyPair::generate().expect("CA key");
    let mut ca = CertificateParams::default();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name.push(DnType::CommonName, "aico-ams test CA");
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_pem = ca.self_signed(&ca_key).expect("CA certificate").pem();
    let issuer = Issuer::new(ca, ca_key);
    let key = KeyPair::generate().expect("key");
    let cert = CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
        .and_then(|params| params.signed_by(&key, &issuer))
        .expect("server certificate");
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_no_client_auth()
        .with_single_cert(vec![cert.der().clone()], PrivateKeyDer::Pkcs8(key.serialize_der().into()))
        .expect("server configuration");
    (ca_pem, config)
}

/// A real Chroma server (`chroma run`, from `AICO_TEST_CHROMA`) on a free loopback port, serving
/// the persistent store in `path`; stopped when dropped.
pub struct ChromaServer {
    child: std::process::Child,
    /// Its URL, `http://127.0.0.1:PORT`.
    pub url: String,
}

impl ChromaServer {
    /// Start it, or `None` (with a message; a failure under CI) when `chroma` is not installed.
    pub fn start(path: &Path) -> Option<Self> {
        let chroma = chroma_program()?;
        let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("free port").port();
        let log = std::fs::File::create(path.with_extension("chroma.log")).expect("log file");
        let child = std::process::Command::new(chroma)
            .args(["run", "--path"])
            .arg(path)
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .env("ANONYMIZED_TELEMETRY", "False")
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("start chroma");
        let server = Self { child, url: format!("http://127.0.0.1:{port}") };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while std::time::Instant::now() < deadline {
            if http_status(port, "/api/v2/heartbeat") == Some(200) {
                return Some(server);
            }
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
        panic!("chroma did not answer on port {port} within 60 s (see {}.chroma.log)", path.display());
    }
}

impl Drop for ChromaServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Chroma's server program (`chroma`, from chromadb 1.5): `AICO_TEST_CHROMA`, else the one beside
/// the test Python; `None` (with a message; a failure under CI) when there is none.
pub fn chroma_program() -> Option<PathBuf> {
    let beside_python = || test_python().and_then(|p| p.parent().map(|bin| bin.join("chroma")));
    let chroma = std::env::var_os("AICO_TEST_CHROMA").map(PathBuf::from).or_else(beside_python);
    let found = chroma.filter(|p| p.exists());
    if found.is_none() {
        unavailable("the chroma server (chromadb 1.5)");
    }
    found
}

/// The status code of `GET path` on a loopback port (plain HTTP/1.0), if it answers.
pub fn http_status(port: u16, path: &str) -> Option<u16> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(std::time::Duration::from_secs(2))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut buf = [0u8; 64];
    let n = s.read(&mut buf).ok()?;
    std::str::from_utf8(&buf[..n]).ok()?.split_whitespace().nth(1)?.parse().ok()
}
