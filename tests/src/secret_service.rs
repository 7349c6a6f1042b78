//! A real Secret Service for the tests, as a Linux desktop has one: gnome-keyring's daemon on a
//! D-Bus session bus of its own (`dbus-run-session`), its login keyring kept in a temporary HOME.
//!
//! Each command runs in a fresh session: the bus and the daemon start with it and end with it,
//! and the keyring stays on disk in between, so an entry written in one session (by Python's
//! `keyring`, as AICO writes it) is read in the next. Debian packages: `gnome-keyring`, `dbus`
//! (`.ci/run` installs them).

use std::path::{Path, PathBuf};
use std::process::Command;

/// The programs a session needs.
const PROGRAMS: [&str; 2] = ["dbus-run-session", "gnome-keyring-daemon"];

/// The password of the test's login keyring (not a secret: it guards a keyring of the test's).
const KEYRING_PASSWORD: &str = "aico-ams-test-keyring";

/// A session bus that activates no service at all: no Secret Service can answer on it.
const BARE_BUS: &str = r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:tmpdir=/tmp</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"#;

/// What a session offers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Session {
    /// gnome-keyring's Secret Service with the login keyring unlocked (created on first use).
    Unlocked,
    /// gnome-keyring's Secret Service with the login keyring locked (and no display to prompt on).
    Locked,
    /// A session bus on which no Secret Service runs or can be started.
    Absent,
}

/// A temporary HOME holding a login keyring, and the sessions that use it.
pub struct SecretService {
    home: tempfile::TempDir,
    bare_bus: PathBuf,
}

impl SecretService {
    /// A fresh one, or `None` when gnome-keyring or dbus is not installed (a skip outside CI, a
    /// failure under CI).
    pub fn new() -> Option<Self> {
        if !crate::programs_on_path(&PROGRAMS, "the Debian packages gnome-keyring and dbus") {
            return None;
        }
        let home = tempfile::tempdir().expect("HOME for the keyring");
        let bare_bus = home.path().join("bare-bus.conf");
        std::fs::write(&bare_bus, BARE_BUS).expect("bus config");
        Some(Self { home, bare_bus })
    }

    /// The HOME of every session (the keyring lives under it).
    pub fn home(&self) -> &Path {
        self.home.path()
    }

    /// `program` (arguments follow with `.arg`) in a fresh session of the kind `session`, with an
    /// environment of PATH, HOME and `NO_COLOR` only: no key, no display to prompt on. Its exit
    /// status and output are the program's.
    pub fn command(&self, session: Session, program: &Path) -> Command {
        let script = match session {
            Session::Unlocked => {
                "printf %s \"$KEYRING_PASSWORD\" | gnome-keyring-daemon --unlock --components=secrets >/dev/null \
                 || exit 125; unset KEYRING_PASSWORD; exec \"$@\""
            }
            Session::Locked => "gnome-keyring-daemon --start --components=secrets >/dev/null || exit 125; exec \"$@\"",
            Session::Absent => "exec \"$@\"",
        };
        let mut cmd = Command::new("dbus-run-session");
        if session == Session::Absent {
            cmd.arg("--config-file").arg(&self.bare_bus);
        }
        cmd.args(["--", "sh", "-c", script, "sh"]).arg(program);
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.home())
            .env("NO_COLOR", "1");
        if session == Session::Unlocked {
            cmd.env("KEYRING_PASSWORD", KEYRING_PASSWORD);
        }
        cmd
    }

    /// Write AICO's entry (service `AICO`, username `master_key`) holding `master_hex`, with
    /// Python's `keyring` as AICO does, in an unlocked session.
    pub fn set_aico_master_key(&self, python: &Path, master_hex: &str) {
        self.set_aico_entry(python, "master_key", master_hex);
    }

    /// Write AICO's entry `entry` (service `AICO`; e.g. `postgres_postgres_password`, where AICO's
    /// key manager keeps its database password) holding `secret`, with Python's `keyring` as AICO
    /// does, in an unlocked session. The secret goes through standard input, never the arguments.
    pub fn set_aico_entry(&self, python: &Path, entry: &str, secret: &str) {
        let script = "import keyring, sys; keyring.set_password('AICO', sys.argv[1], sys.stdin.read())";
        let mut cmd = self.command(Session::Unlocked, python);
        let mut child = cmd
            .args(["-c", script, entry])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("start python in a D-Bus session");
        let mut stdin = child.stdin.take().expect("stdin");
        std::io::Write::write_all(&mut stdin, secret.as_bytes()).expect("write the secret");
        drop(stdin);
        let out = child.wait_with_output().expect("python");
        assert!(out.status.success(), "keyring.set_password failed: {}", crate::text(&out));
    }
}
