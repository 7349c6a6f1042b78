//! Which `chroma` serves AICO's store, and which `chromadb` it belongs to.
//!
//! AICO pins its `chromadb` (1.0.20 in its lock file), and a newer server migrates a store's format
//! so that AICO's own version can no longer open it. So AICO's own `chroma` comes first: the one
//! named with `--chroma-bin` / `AICO_CHROMA_BIN`, else the one beside the interpreter of AICO's
//! `aico` command (a console script names its interpreter in its first line), else `chroma` on
//! the PATH.

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::ChromaError;

/// A `chroma` program, how it was chosen, and the `chromadb` version it belongs to.
#[derive(Clone, Debug)]
pub struct ServerProgram {
    /// The program.
    pub path: PathBuf,
    /// Why this one.
    pub chosen: Chosen,
    /// The `chromadb` package's version, as its interpreter reports it (`None`: not found out).
    pub version: Option<String>,
}

/// How a `chroma` program was chosen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Chosen {
    /// Named with `--chroma-bin` or `AICO_CHROMA_BIN`.
    Named,
    /// Beside the interpreter of AICO's own `aico` command (that command's path).
    AicoOwn(PathBuf),
    /// The first `chroma` on the PATH.
    OnPath,
}

impl ServerProgram {
    /// The program to serve AICO's store with: `named` (it must exist), else AICO's own, else
    /// the PATH's.
    pub fn find(named: Option<&Path>) -> Result<Self, ChromaError> {
        let missing = |looked: String| ChromaError::NoServerProgram { looked };
        let (path, chosen) = if let Some(program) = named {
            if !program.is_file() {
                return Err(missing(program.display().to_string()));
            }
            (program.to_path_buf(), Chosen::Named)
        } else if let Some((aico, chroma)) = on_path("aico").and_then(|aico| beside_interpreter(&aico, "chroma")) {
            (chroma, Chosen::AicoOwn(aico))
        } else {
            let chroma = on_path("chroma")
                .ok_or_else(|| missing("AICO's own beside its `aico` command, nor `chroma` on the PATH".into()))?;
            (chroma, Chosen::OnPath)
        };
        let version = chromadb_version(&path);
        tracing::info!(program = %path.display(), version = version.as_deref().unwrap_or("unknown"), "Chroma server program");
        Ok(Self { path, chosen, version })
    }
}

/// `PROGRAM (chromadb 1.0.20, AICO's own: beside /home/u/.local/bin/aico)`.
impl fmt::Display for ServerProgram {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let version = self.version.as_deref().unwrap_or("version unknown");
        write!(f, "{} (chromadb {version}, ", self.path.display())?;
        match &self.chosen {
            Chosen::Named => f.write_str("named with --chroma-bin / AICO_CHROMA_BIN)"),
            Chosen::AicoOwn(aico) => write!(f, "AICO's own, beside the interpreter of {})", aico.display()),
            Chosen::OnPath => f.write_str("the PATH's)"),
        }
    }
}

/// The first executable `name` on the PATH.
fn on_path(name: &str) -> Option<PathBuf> {
    let name = format!("{name}{}", std::env::consts::EXE_SUFFIX);
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join(&name)).find(|p| executable(p))
}

/// The interpreter a script names in its first line (`#!/venv/bin/python3`), when it names one
/// directly (not through `env`).
fn interpreter(script: &Path) -> Option<PathBuf> {
    use std::io::{BufRead, Read};
    let mut first = String::new();
    std::io::BufReader::new(std::fs::File::open(script).ok()?).take(4096).read_line(&mut first).ok()?;
    let line = first.strip_prefix("#!")?.trim();
    let program = PathBuf::from(line.split_whitespace().next()?);
    let direct = program.is_absolute() && program.file_name().is_some_and(|n| n != "env");
    direct.then_some(program)
}

/// `script` and the executable `name` in the directory of its interpreter.
fn beside_interpreter(script: &Path, name: &str) -> Option<(PathBuf, PathBuf)> {
    let program = interpreter(script)?.parent()?.join(name);
    executable(&program).then(|| (script.to_path_buf(), program))
}

/// The version of `chromadb` in the Python that runs `chroma` (its first line names it).
fn chromadb_version(chroma: &Path) -> Option<String> {
    const ASK: &str = "import importlib.metadata as m; print(m.version('chromadb'))";
    let out =
        Command::new(interpreter(chroma)?).args(["-c", ASK]).env("ANONYMIZED_TELEMETRY", "False").output().ok()?;
    let version = String::from_utf8(out.stdout).ok()?.trim().to_owned();
    (out.status.success() && !version.is_empty()).then_some(version)
}

/// Whether `p` is a file this process may run.
fn executable(p: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        p.metadata().is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    }
    #[cfg(not(unix))]
    {
        p.is_file()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn script(dir: &Path, name: &str, first_line: &str) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let p = dir.join(name);
        std::fs::write(&p, format!("{first_line}\nprint('hi')\n")).expect("write");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        p
    }

    #[test]
    fn the_interpreter_is_read_from_a_direct_first_line_only() {
        let dir = tempfile::tempdir().expect("tempdir");
        let venv = dir.path().join("venv/bin");
        std::fs::create_dir_all(&venv).expect("mkdir");
        let direct = script(dir.path(), "a", &format!("#!{}/python3 -E", venv.display()));
        assert_eq!(interpreter(&direct), Some(venv.join("python3")));
        assert_eq!(interpreter(&script(dir.path(), "b", "#!/usr/bin/env python3")), None);
        assert_eq!(interpreter(&script(dir.path(), "c", "import sys")), None);
        assert_eq!(interpreter(&script(dir.path(), "d", "#!python3")), None);
    }

    #[test]
    fn aico_s_own_chroma_is_the_one_beside_its_interpreter() {
        let dir = tempfile::tempdir().expect("tempdir");
        let venv = dir.path().join("venv/bin");
        std::fs::create_dir_all(&venv).expect("mkdir");
        let aico = script(dir.path(), "aico", &format!("#!{}/python3", venv.display()));
        assert_eq!(beside_interpreter(&aico, "chroma"), None, "no chroma beside it yet");
        let chroma = script(&venv, "chroma", "#!/bin/sh");
        assert_eq!(beside_interpreter(&aico, "chroma"), Some((aico, chroma)));
    }
}
