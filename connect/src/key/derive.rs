//! A database key: AICO's PBKDF2 derivation from the master key and the salt, the key written
//! as 64 hex digits, and `PRAGMA key` on sqlx's options.

use std::fmt;

use sea_orm::sqlx::sqlite::SqliteConnectOptions;
use zeroize::Zeroizing;

use super::KeyError;

/// What AICO appends to the master key before deriving the database key.
const KDF_CONTEXT: &[u8] = b"aico-db-libsql";
/// AICO's PBKDF2 iteration count (`security.key_derivation.pbkdf2.iterations`).
const PBKDF2_ITERATIONS: u32 = 100_000;
/// The length of a key, in bytes.
pub(crate) const KEY_LEN: usize = 32;

/// A 32-byte database key, zeroed when dropped.
#[derive(Clone)]
pub struct DbKey(Zeroizing<[u8; KEY_LEN]>);

impl fmt::Debug for DbKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DbKey(***)")
    }
}

impl DbKey {
    /// A key written as 64 hex digits (surrounding white space ignored).
    pub fn from_hex(text: &str, source_name: &'static str) -> Result<Self, KeyError> {
        Ok(Self(decode_hex32(text).ok_or(KeyError::Malformed { source_name })?))
    }

    /// The database key AICO derives from its 32-byte master key and the file's 16-byte salt.
    pub fn derive(master_key: &[u8], salt: &[u8]) -> Self {
        let mut input = Zeroizing::new(Vec::with_capacity(master_key.len() + KDF_CONTEXT.len()));
        input.extend_from_slice(master_key);
        input.extend_from_slice(KDF_CONTEXT);
        let mut out = Zeroizing::new([0u8; KEY_LEN]);
        pbkdf2::pbkdf2_hmac::<sha2::Sha256>(&input, salt, PBKDF2_ITERATIONS, out.as_mut());
        Self(out)
    }

    /// The value of `PRAGMA key` as AICO writes it: `'x"<64 hex>"'`.
    pub fn pragma_value(&self) -> Zeroizing<String> {
        let mut hex = Zeroizing::new(String::with_capacity(2 * KEY_LEN + 5));
        hex.push_str("'x\"");
        for byte in self.0.iter() {
            hex.push(char::from(HEX_DIGITS[usize::from(byte >> 4)]));
            hex.push(char::from(HEX_DIGITS[usize::from(byte & 0x0f)]));
        }
        hex.push_str("\"'");
        hex
    }
}

/// `opts` keyed with `key`, if any: sqlx runs `PRAGMA key` before every other pragma, as SQLite3
/// Multiple Ciphers needs.
pub fn keyed(opts: SqliteConnectOptions, key: Option<&DbKey>) -> SqliteConnectOptions {
    match key {
        // The value is built from the key's 32 decoded bytes: only hex digits between fixed quotes.
        Some(key) => opts.pragma("key", key.pragma_value().as_str().to_owned()),
        None => opts,
    }
}

const HEX_DIGITS: &[u8; 16] = b"0123456789abcdef";

/// The 32 bytes written as 64 hex digits in `text` (surrounding white space ignored).
pub(crate) fn decode_hex32(text: &str) -> Option<Zeroizing<[u8; KEY_LEN]>> {
    let text = text.trim().as_bytes();
    if text.len() != 2 * KEY_LEN {
        return None;
    }
    let mut out = Zeroizing::new([0u8; KEY_LEN]);
    for (byte, pair) in out.iter_mut().zip(text.chunks_exact(2)) {
        let digit = |c: u8| char::from(c).to_digit(16);
        *byte = u8::try_from(digit(pair[0])? * 16 + digit(pair[1])?).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derivation_matches_aico() {
        // python: PBKDF2HMAC(SHA256, 32, salt=bytes(range(16)), iterations=100000)
        //           .derive(bytes(range(32)) + b"aico-db-libsql").hex()
        let master: Vec<u8> = (0u8..32).collect();
        let salt: Vec<u8> = (0u8..16).collect();
        let key = DbKey::derive(&master, &salt);
        assert_eq!(
            key.pragma_value().as_str(),
            "'x\"099b0484cbabcfe99a622551b58d1b90c9ec75732e0e5c364cf2a2cc233dd63e\"'"
        );
    }

    #[test]
    fn malformed_keys_are_refused_without_echo() {
        let e = DbKey::from_hex("zz", "database key (--db-key / AICO_DB_KEY)").unwrap_err();
        assert!(!e.to_string().contains("zz"), "{e}");
        assert!(DbKey::from_hex(&"ab".repeat(32), "x").is_ok());
        assert!(DbKey::from_hex(&"ab".repeat(31), "x").is_err());
        assert!(DbKey::from_hex(&"é".repeat(32), "x").is_err());
        assert_eq!(format!("{:?}", DbKey::from_hex(&"ab".repeat(32), "x").unwrap()), "DbKey(***)");
    }
}
