//! Python with AICO's own libraries (`chromadb`, `lmdb`, `libsql`, `keyring`): `AICO_TEST_PYTHON`,
//! else a virtualenv made on first use in the target directory; running a script with it.

use std::path::{Path, PathBuf};

use crate::skip::unavailable;

/// The Python packages the tests' fixtures are written with: the libraries AICO uses.
const TEST_PACKAGES: &[&str] = &["chromadb>=1.5,<1.6", "lmdb>=1.4", "libsql==0.1.8", "keyring"];

/// What the test Python must import: [`TEST_PACKAGES`] by their module names.
const TEST_MODULES: &str = "chromadb, lmdb, libsql, keyring";

/// The test Python, with `chromadb` (and its `chroma` server), `lmdb`, `libsql` and `keyring`:
/// `AICO_TEST_PYTHON` when set (`.ci/run` sets it), else a virtualenv this helper makes on first
/// use under the target directory (`target/aico-test-venv`, kept for later runs; one process
/// makes it while the others wait on a file lock), as testcontainers-style harnesses do. `None`
/// only when no `python3` can make one.
pub fn test_python() -> Option<PathBuf> {
    static PYTHON: std::sync::OnceLock<Option<PathBuf>> = std::sync::OnceLock::new();
    PYTHON.get_or_init(|| std::env::var_os("AICO_TEST_PYTHON").map(PathBuf::from).or_else(make_venv)).clone()
}

fn imports_ok(python: &Path, modules: &str) -> bool {
    std::process::Command::new(python)
        .args(["-c", &format!("import {modules}")])
        .env("ANONYMIZED_TELEMETRY", "False")
        .output()
        .is_ok_and(|o| o.status.success())
}

fn make_venv() -> Option<PathBuf> {
    let target = workspace_target_dir();
    let venv = target.join("aico-test-venv");
    let python = venv.join("bin").join("python");
    std::fs::create_dir_all(&target).ok()?;
    let lock = std::fs::File::create(target.join("aico-test-venv.lock")).ok()?;
    lock.lock().ok()?; // released when `lock` is dropped
    if imports_ok(&python, TEST_MODULES) {
        return Some(python);
    }
    eprintln!("making the test virtualenv {} (once; {TEST_MODULES} from PyPI) ...", venv.display());
    let made =
        std::process::Command::new("python3").args(["-m", "venv"]).arg(&venv).status().is_ok_and(|s| s.success());
    let installed = made
        && std::process::Command::new(&python)
            .args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check"])
            .args(TEST_PACKAGES)
            .status()
            .is_ok_and(|s| s.success());
    (installed && imports_ok(&python, TEST_MODULES)).then_some(python)
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
