//! The secrets file (`secrets_file`): `ZFSYNC_NAME=value` lines, checked before a byte is read.

use std::path::Path;

use super::{ConfigError, SECRET_NAMES};

/// The largest secrets file read: a few `NAME=value` lines, RSA public key included.
pub const MAX_SECRETS_FILE_BYTES: u64 = 64 * 1024;

/// Reads a secrets file: `NAME=value` lines (blank lines and `#` comments skipped, values may be
/// quoted), only the names zfsync knows. The file must be a regular file of at most
/// [`MAX_SECRETS_FILE_BYTES`], not readable by others (0600); all of that is checked before a byte
/// is read, so a path naming a device (`/dev/zero`), a pipe or a huge file fails at once.
pub fn read_secrets_file(
    path: &Path,
) -> Result<std::collections::HashMap<String, String>, ConfigError> {
    use std::io::Read as _;
    let fail = |detail: String| ConfigError::Secrets {
        path: path.to_path_buf(),
        detail,
    };
    let file = std::fs::File::open(path).map_err(|e| fail(e.to_string()))?;
    let meta = file.metadata().map_err(|e| fail(e.to_string()))?;
    if !meta.is_file() {
        return Err(fail(
            "it is not a regular file (a folder, a device or a pipe); point secrets_file at the file of ZFSYNC_NAME=value lines".into(),
        ));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = meta.permissions().mode();
        if mode & 0o077 != 0 {
            return Err(fail(format!(
                "it is readable by other users (mode {:o}); run 'chmod 600 {}'",
                mode & 0o777,
                path.display()
            )));
        }
    }
    let too_big = || {
        fail(format!(
            "it is larger than {} KiB; a secrets file holds a few ZFSYNC_NAME=value lines",
            MAX_SECRETS_FILE_BYTES / 1024
        ))
    };
    if meta.len() > MAX_SECRETS_FILE_BYTES {
        return Err(too_big());
    }
    let mut text = String::new();
    // Bounded again while reading: the file may grow between the check and the read.
    file.take(MAX_SECRETS_FILE_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(|e| fail(e.to_string()))?;
    if text.len() as u64 > MAX_SECRETS_FILE_BYTES {
        return Err(too_big());
    }
    let mut out = std::collections::HashMap::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line);
        let Some((name, value)) = line.split_once('=') else {
            // Never quote the line: it may hold a secret.
            return Err(fail(format!("line {} is not NAME=value", i + 1)));
        };
        let name = name.trim();
        if !SECRET_NAMES.contains(&name) {
            // Quote the name only when it looks like one: in a mangled line (a lost newline or
            // '=') the text before the first '=' can hold another line's secret.
            let looks_like_a_name = name.len() <= 64
                && name.starts_with("ZFSYNC_")
                && name
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_');
            let shown = if looks_like_a_name {
                format!(" {name:?}")
            } else {
                " (not quoted: it is not of the form ZFSYNC_NAME)".to_string()
            };
            return Err(fail(format!(
                "line {}: unknown name{shown} (known: {})",
                i + 1,
                SECRET_NAMES.join(", ")
            )));
        }
        let value = value.trim();
        let value = value
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .or_else(|| value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
            .unwrap_or(value);
        out.insert(name.to_string(), value.to_string());
    }
    Ok(out)
}
