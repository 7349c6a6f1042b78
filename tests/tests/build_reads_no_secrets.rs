//! A build reads no secrets: entity's build script, run as cargo runs it but with a malformed
//! `AICO_DB_KEY`, a malformed `AICO_MASTER_KEY` and no reachable keyring, still generates the
//! models, on a scratch database that is plain.

use std::path::PathBuf;

/// The compiled build script of `entity` in this target directory (the newest, should an older
/// build of it be left beside it).
fn entity_build_script() -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    let build = exe.parent().and_then(std::path::Path::parent).expect("target dir").join("build");
    let scripts = std::fs::read_dir(&build).expect("target/debug/build").filter_map(|entry| {
        let entry = entry.ok()?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.starts_with("entity-") {
            return None;
        }
        // Cargo names the script after its file: `build/main.rs` is `build-script-main`.
        let script = std::fs::read_dir(entry.path()).ok()?.filter_map(Result::ok).map(|f| f.path()).find(|f| {
            f.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("build-script-") && !n.contains('.'))
        })?;
        let modified = std::fs::metadata(&script).and_then(|m| m.modified()).ok()?;
        Some((modified, script))
    });
    scripts.max().map(|(_, script)| script).expect("entity's build script: run the tests with `cargo test --workspace`")
}

#[test]
fn the_entity_build_script_reads_no_key() {
    let out = tempfile::tempdir().expect("OUT_DIR");
    let home = tempfile::tempdir().expect("HOME");
    let run = std::process::Command::new(entity_build_script())
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("OUT_DIR", out.path())
        .env("HOME", home.path())
        .env("AICO_DATA_DIR", home.path())
        .env("AICO_DB_KEY", "not-a-key")
        .env("AICO_MASTER_KEY", "not-a-master-key-either")
        .env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/aico-test-bus")
        .output()
        .expect("run entity's build script");
    let said = aico_tests::text(&run);
    assert!(run.status.success(), "the build script failed with key variables set:\n{said}");
    assert!(!said.contains("not-a-key"), "the build script printed a key variable:\n{said}");
    let models = std::fs::read_to_string(out.path().join("entities.rs")).expect("entities.rs");
    assert!(models.contains("pub mod aico"), "no models of AICO's tables generated");
    for scratch in ["schema.db", "aico.db"] {
        let bytes = std::fs::read(out.path().join(scratch)).expect("the scratch database");
        assert!(bytes.starts_with(b"SQLite format 3\0"), "{scratch} is not a plain SQLite file");
    }
    assert_eq!(std::fs::read_dir(home.path()).expect("HOME").count(), 0, "the build wrote into HOME");
}
