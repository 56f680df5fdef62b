//! The PII key file (`provindex index --pii-key`, `serve --pii-key`): the
//! HMAC key under which personal identifiers are hashed into the
//! `pii_keys` table (issue 19). Its bytes are the key as they are: build and
//! server must read the same file.

use std::path::Path;

/// Fewer bytes than this are refused: the key must not be guessable, since
/// anyone holding it can test candidate identifiers against an index.
pub const MIN_PII_KEY_BYTES: usize = 32;

/// Reads a PII key file; the error names the file and what is wrong (never
/// the key).
pub fn read_pii_key(path: &Path) -> Result<Vec<u8>, String> {
    let bytes =
        std::fs::read(path).map_err(|e| format!("PII key {}: cannot read: {e}", path.display()))?;
    if bytes.len() < MIN_PII_KEY_BYTES {
        return Err(format!(
            "PII key {}: {} bytes, at least {MIN_PII_KEY_BYTES} random bytes are required",
            path.display(),
            bytes.len()
        ));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_and_missing_keys_are_refused_with_the_file_named() {
        let dir = std::env::temp_dir().join(format!("pii-key-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let short = dir.join("short");
        std::fs::write(&short, [7u8; 31]).unwrap();
        let error = read_pii_key(&short).unwrap_err();
        assert!(
            error.contains("31 bytes") && error.contains("short"),
            "{error}"
        );
        let missing = read_pii_key(&dir.join("missing")).unwrap_err();
        assert!(missing.contains("cannot read"), "{missing}");
        let good = dir.join("good");
        std::fs::write(&good, [9u8; 32]).unwrap();
        assert_eq!(read_pii_key(&good).unwrap(), vec![9u8; 32]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
