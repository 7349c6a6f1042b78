//! The temporal metadata a fact starts with, derived from its own `created_at`: in Rust, and as the
//! SQLite function `aico_initial_metadata(created_at)`, which runs the same Rust inside SQLite's
//! `UPDATE`, so that a batch on SQLite is one statement whatever form its timestamps take.
//!
//! The function gives the metadata's JSON text where [`Timestamp::parse`] reads `created_at`, and
//! NULL everywhere else (NULL, numbers, blobs, unreadable text): those rows are then read back and
//! judged by [`initial_metadata`], which says why, so a bad row is listed exactly as before.
//! Registered with `sqlite3_auto_extension` ([`register_sqlite_function`]), so every SQLite
//! connection this process opens afterwards has it (there is one SQLite in the binary: SQLite3
//! Multiple Ciphers, which sqlx links).

use std::ffi::{CStr, c_char, c_int};
use std::sync::OnceLock;

use entity::values::{TemporalMetadata, Timestamp};
use libsqlite3_sys as ffi;

/// The name SQL calls the function by, as SQLite is given it.
const NAME: &CStr = c"aico_initial_metadata";

/// The name SQL calls the function by.
pub const SQLITE_FUNCTION: &str = match NAME.to_str() {
    Ok(name) => name,
    Err(_) => panic!("the function's name is ASCII"),
};

/// The metadata a fact created at `created_at` (as stored) starts with, or why there is none.
pub fn initial_metadata(created_at: Option<&str>) -> Result<String, String> {
    let text = created_at.ok_or_else(|| "created_at is NULL".to_owned())?;
    let created = Timestamp::parse(text).map_err(|e| e.to_string())?;
    Ok(TemporalMetadata::initial_json_string(created))
}

/// Make `aico_initial_metadata` part of every SQLite connection opened from now on; an error
/// names SQLite's result code. Idempotent.
pub fn register_sqlite_function() -> Result<(), String> {
    static REGISTERED: OnceLock<c_int> = OnceLock::new();
    // SAFETY: `on_open` has the signature SQLite calls an automatic extension with, and stays
    // valid for the life of the process (a plain function).
    let rc = *REGISTERED.get_or_init(|| unsafe { ffi::sqlite3_auto_extension(Some(on_open)) });
    match rc {
        ffi::SQLITE_OK => Ok(()),
        rc => Err(format!("cannot register {SQLITE_FUNCTION} with SQLite (result code {rc})")),
    }
}

/// What one connection's function keeps between calls: the last `created_at` it was given and
/// the metadata it gave for it. A batch's `UPDATE` calls the function twice per row with the same
/// text (in `WHERE`, then in `SET`); the second call is answered from here.
#[derive(Default)]
struct LastCall {
    created_at: Vec<u8>,
    /// The metadata's JSON, or None when `created_at` cannot be read.
    metadata: Option<String>,
    /// Whether `created_at` and `metadata` hold a call yet.
    valid: bool,
}

impl LastCall {
    /// The metadata for the text `created_at`: the last call's when it was given the same bytes.
    fn metadata(&mut self, created_at: &[u8]) -> Option<&str> {
        if !(self.valid && self.created_at == created_at) {
            self.valid = false;
            self.created_at.clear();
            self.created_at.extend_from_slice(created_at);
            let mut out = self.metadata.take().unwrap_or_default();
            self.metadata =
                std::str::from_utf8(created_at).ok().and_then(|text| Timestamp::parse(text).ok()).map(|created| {
                    TemporalMetadata::write_initial_json(created, &mut out);
                    out
                });
            self.valid = true;
        }
        self.metadata.as_deref()
    }
}

/// The connection's [`LastCall`], owned by SQLite (freed by [`drop_last_call`]).
type State = std::sync::Mutex<LastCall>;

/// Called by SQLite for every new connection: define the function on it.
unsafe extern "C" fn on_open(
    db: *mut ffi::sqlite3,
    _err: *mut *mut c_char,
    _api: *const ffi::sqlite3_api_routines,
) -> c_int {
    let state = Box::into_raw(Box::new(State::default()));
    // SAFETY: `db` is the connection SQLite is opening; the name is a NUL-terminated literal;
    // `state` is a valid pointer that SQLite hands to each call and frees with `drop_last_call`
    // (also when the definition fails). Deterministic and innocuous: its result depends on its
    // argument alone (the state only remembers the last answer) and it touches nothing outside.
    unsafe {
        ffi::sqlite3_create_function_v2(
            db,
            NAME.as_ptr(),
            1,
            ffi::SQLITE_UTF8 | ffi::SQLITE_DETERMINISTIC | ffi::SQLITE_INNOCUOUS,
            state.cast(),
            Some(call),
            None,
            None,
            Some(drop_last_call),
        )
    }
}

/// Free a connection's [`State`], when SQLite closes the connection.
unsafe extern "C" fn drop_last_call(state: *mut std::ffi::c_void) {
    // SAFETY: `state` came from `Box::into_raw` in `on_open`, and SQLite calls this once.
    drop(unsafe { Box::from_raw(state.cast::<State>()) });
}

/// The function's body: the metadata for text that [`Timestamp::parse`] reads, else NULL.
unsafe extern "C" fn call(ctx: *mut ffi::sqlite3_context, n_args: c_int, args: *mut *mut ffi::sqlite3_value) {
    // SAFETY: `ctx` is the call's context, whose user data is the `State` `on_open` gave.
    let state = unsafe { &*ffi::sqlite3_user_data(ctx).cast::<State>() };
    // A panic must not cross into C: it becomes NULL, and the row is judged by the Rust path.
    let answered = std::panic::catch_unwind(|| {
        if n_args != 1 {
            return false;
        }
        // SAFETY: SQLite passes `n_args` (1) valid values in `args` for the duration of the call.
        let value = unsafe { *args };
        // SAFETY: `value` is valid (above); the text pointer and byte count come from the same
        // value and stay valid until the next call on it, after the slice is last used.
        let text = unsafe {
            if ffi::sqlite3_value_type(value) != ffi::SQLITE_TEXT {
                return false;
            }
            let ptr = ffi::sqlite3_value_text(value);
            let Ok(len) = usize::try_from(ffi::sqlite3_value_bytes(value)) else { return false };
            if ptr.is_null() {
                return false;
            }
            std::slice::from_raw_parts(ptr, len)
        };
        // A poisoned lock (a panic in an earlier call) only held a cache: start it afresh.
        let mut last = state.lock().unwrap_or_else(|poisoned| {
            state.clear_poison();
            let mut last = poisoned.into_inner();
            *last = LastCall::default();
            last
        });
        let Some((metadata, len)) = last.metadata(text).and_then(|m| Some((m, c_int::try_from(m.len()).ok()?))) else {
            return false;
        };
        // SAFETY: `ctx` is the call's context; SQLite copies the text (SQLITE_TRANSIENT) before
        // the lock on `metadata` is released.
        unsafe { ffi::sqlite3_result_text(ctx, metadata.as_ptr().cast(), len, ffi::SQLITE_TRANSIENT()) };
        true
    });
    if !matches!(answered, Ok(true)) {
        // SAFETY: as above.
        unsafe { ffi::sqlite3_result_null(ctx) };
    }
}

#[cfg(test)]
mod tests {
    use super::initial_metadata;

    #[test]
    fn initial_metadata_follows_the_seed() {
        let meta = initial_metadata(Some("2025-11-07 18:00:00")).expect("sqlite format");
        assert_eq!(
            meta,
            r#"{"created_at":"2025-11-07T18:00:00Z","last_updated":"2025-11-07T18:00:00Z","last_accessed":"2025-11-07T18:00:00Z","access_count":0,"confidence":1.0,"version":1,"superseded_by":null}"#
        );
        assert!(initial_metadata(None).expect_err("null").contains("NULL"));
        assert!(initial_metadata(Some("yesterday")).expect_err("bad").contains("yesterday"));
    }
}
