//! Compile the SQLite3 Multiple Ciphers amalgamation (shipped untouched by `sqlite3mc-src`) into
//! `libsqlite3.a` in `OUT_DIR`, and put that directory on the link search path of every crate that
//! depends on this one.
//!
//! sqlx's `libsqlite3-sys` is told by `.cargo/config.toml` to link "sqlite3" from outside
//! (`LIBSQLITE3_SYS_USE_PKG_CONFIG=1`, `SQLITE3_NO_PKG_CONFIG=1`) and to use its shipped
//! bindings; the final link then finds this archive. So there is one SQLite in the binary.

fn main() {
    let src = sqlite3mc_src::source_dir();
    println!("cargo:rerun-if-changed=build.rs");
    let mut build = cc::Build::new();
    build
        .file(src.join(sqlite3mc_src::SOURCE_FILE))
        .include(src)
        // What libsqlite3-sys's bundled build defines, so that sqlx finds the SQLite it expects.
        .define("SQLITE_CORE", None)
        .define("SQLITE_DEFAULT_FOREIGN_KEYS", "1")
        .define("SQLITE_ENABLE_API_ARMOR", None)
        .define("SQLITE_ENABLE_COLUMN_METADATA", None)
        .define("SQLITE_ENABLE_DBSTAT_VTAB", None)
        .define("SQLITE_ENABLE_FTS3", None)
        .define("SQLITE_ENABLE_FTS3_PARENTHESIS", None)
        .define("SQLITE_ENABLE_FTS5", None)
        .define("SQLITE_ENABLE_JSON1", None)
        .define("SQLITE_ENABLE_LOAD_EXTENSION", "1")
        .define("SQLITE_ENABLE_MEMORY_MANAGEMENT", None)
        .define("SQLITE_ENABLE_RTREE", None)
        .define("SQLITE_ENABLE_STAT4", None)
        .define("SQLITE_SOUNDEX", None)
        .define("SQLITE_THREADSAFE", "1")
        .define("SQLITE_USE_URI", None)
        .define("HAVE_USLEEP", "1")
        .define("HAVE_ISNAN", None)
        .define("HAVE_LOCALTIME_R", None)
        // sqlx's `sqlite-unlock-notify` (on with sea-orm's sqlx-sqlite) calls sqlite3_unlock_notify.
        .define("SQLITE_ENABLE_UNLOCK_NOTIFY", None)
        // A double-quoted name that is no column is an error, never a string constant.
        .define("SQLITE_DQS", "0")
        // AICO's cipher (libsql's): `PRAGMA key` alone opens its files, as sqlx runs `key` first.
        .define("CODEC_TYPE", "CODEC_TYPE_AES256")
        // Temporary tables and indices in memory: no plain-text spill of decrypted pages to disk.
        .define("SQLITE_TEMP_STORE", "2")
        // A database file SQLite itself creates is its owner's alone (SQLite's default: 0644),
        // beside the tool making its files 0600 first (`aico_connect::private`); `-wal`, `-shm`
        // and journals take the database file's mode.
        .define("SQLITE_DEFAULT_FILE_PERMISSIONS", "0600")
        .flag_if_supported("-msse4.2")
        .flag_if_supported("-maes")
        .warnings(false)
        // Link nothing from here: libsqlite3-sys asks for `sqlite3`; only the search path is ours.
        .cargo_metadata(false)
        .opt_level(2)
        .compile("sqlite3");
    let out = std::env::var("OUT_DIR").expect("cargo sets OUT_DIR");
    println!("cargo:rustc-link-search=native={out}");
}
