//! Python with AICO's own libraries (`chromadb`, `lmdb`, `libsql`, `keyring`): `AICO_TEST_PYTHON`,
//! else a virtualenv made on first use in the target directory; running a script with it. And a
//! second Python with the `chromadb` that AICO's lock file pins (1.0.20): `AICO_TEST_AICO_PYTHON`,
//! else a virtualenv of its own made the same way.

use std::path::{Path, PathBuf};

use crate::skip::unavailable;

/// The Python packages the tests' fixtures are written with: the libraries AICO uses.
const TEST_PACKAGES: &[&str] = &["chromadb>=1.5,<1.6", "lmdb==1.7.3", "libsql==0.1.8", "keyring"];

/// What the test Python must import: [`TEST_PACKAGES`] by their module names.
const TEST_MODULES: &str = "chromadb, lmdb, libsql, keyring";

/// The `chromadb` that AICO's `uv.lock` pins, which AICO's 2025 installs write their semantic
/// memory with.
pub const AICO_CHROMADB: &str = "1.0.20";

/// The test Python, with `chromadb` (and its `chroma` server), `lmdb`, `libsql` and `keyring`:
/// `AICO_TEST_PYTHON` when set (`.ci/run` sets it), else a virtualenv this helper makes on first
/// use under the target directory (`target/aico-test-venv`, kept for later runs; one process
/// makes it while the others wait on a file lock), as testcontainers-style harnesses do. `None`
/// only when no `python3` can make one.
pub fn test_python() -> Option<PathBuf> {
    static PYTHON: std::sync::OnceLock<Option<PathBuf>> = std::sync::OnceLock::new();
    PYTHON
        .get_or_init(|| {
            std::env::var_os("AICO_TEST_PYTHON")
                .map(PathBuf::from)
                .or_else(|| make_venv("aico-test-venv", TEST_PACKAGES, TEST_MODULES))
        })
        .clone()
}

/// A Python with AICO's pinned `chromadb` ([`AICO_CHROMADB`]) and its `chroma` beside it:
/// `AICO_TEST_AICO_PYTHON` when set (`.ci/run` sets it), else a virtualenv made on first use
/// (`target/aico-test-venv-chromadb-1.0.20`). `None` (a skip outside CI, a failure under CI) only
/// when none can be made.
pub fn aico_chromadb_python() -> Option<PathBuf> {
    static PYTHON: std::sync::OnceLock<Option<PathBuf>> = std::sync::OnceLock::new();
    let found = PYTHON.get_or_init(|| {
        let package = format!("chromadb=={AICO_CHROMADB}");
        std::env::var_os("AICO_TEST_AICO_PYTHON")
            .map(PathBuf::from)
            .or_else(|| make_venv(&format!("aico-test-venv-chromadb-{AICO_CHROMADB}"), &[&package], "chromadb"))
            .filter(|python| version_of(python, "chromadb").as_deref() == Some(AICO_CHROMADB))
    });
    if found.is_none() {
        unavailable(&format!("a Python with chromadb {AICO_CHROMADB} (AICO's pinned version)"));
    }
    found.clone()
}

/// The installed version of `package` in `python`'s environment.
fn version_of(python: &Path, package: &str) -> Option<String> {
    let ask = format!("import importlib.metadata as m; print(m.version('{package}'))");
    let out = std::process::Command::new(python).args(["-c", &ask]).output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

fn imports_ok(python: &Path, modules: &str) -> bool {
    std::process::Command::new(python)
        .args(["-c", &format!("import {modules}")])
        .env("ANONYMIZED_TELEMETRY", "False")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// The virtualenv `target/NAME` with `packages`, made once (one process makes it while the others
/// wait on a file lock) and kept; its Python, when it imports `modules`.
fn make_venv(name: &str, packages: &[&str], modules: &str) -> Option<PathBuf> {
    let target = workspace_target_dir();
    let venv = target.join(name);
    let python = venv.join("bin").join("python");
    std::fs::create_dir_all(&target).ok()?;
    let lock = std::fs::File::create(target.join(format!("{name}.lock"))).ok()?;
    lock.lock().ok()?; // released when `lock` is dropped
    if imports_ok(&python, modules) {
        return Some(python);
    }
    eprintln!("making the test virtualenv {} (once; {} from PyPI) ...", venv.display(), packages.join(" "));
    let made =
        std::process::Command::new("python3").args(["-m", "venv"]).arg(&venv).status().is_ok_and(|s| s.success());
    let installed = made
        && std::process::Command::new(&python)
            .args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check"])
            .args(packages)
            .status()
            .is_ok_and(|s| s.success());
    (installed && imports_ok(&python, modules)).then_some(python)
}

/// The target directory the test executables run from (`target/`).
fn workspace_target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    // target/<profile>/deps/<test> -> target
    exe.ancestors().nth(3).map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("target"))
}

/// The test Python if it imports `modules`, else `None` (a skip outside CI, a failure under CI).
fn python_with(modules: &str) -> Option<PathBuf> {
    match test_python() {
        Some(python) if imports_ok(&python, modules) => Some(python),
        _ => {
            unavailable(&format!("a Python with {modules}"));
            None
        }
    }
}

/// A Python with the `lmdb` and `chromadb` packages.
pub fn python() -> Option<PathBuf> {
    python_with("lmdb, chromadb")
}

/// Run `script` with `python`, passing `args`; its stdout.
pub fn run_python(python: &Path, script: &str, args: &[&str]) -> String {
    let out = std::process::Command::new(python)
        .arg("-c")
        .arg(script)
        .args(args)
        .env("ANONYMIZED_TELEMETRY", "False")
        .output()
        .expect("run python");
    assert!(out.status.success(), "python failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A Python with python `libsql` 0.1.8, the library AICO opens its encrypted `aico.db` with.
pub fn python_with_libsql() -> Option<PathBuf> {
    python_with("libsql")
}

/// A Python with `libsql` and `keyring`, the library AICO keeps its master key with.
pub fn python_with_keyring() -> Option<PathBuf> {
    python_with("libsql, keyring")
}
