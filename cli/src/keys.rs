//! Where the CLI gets its key: a key file, CAIRN_KEY, or a passphrase.

use crate::Failure;
use cairn_core::Key;
use cairn_core::crypto::from_hex;
use std::io::{BufRead, IsTerminal};
use std::path::Path;

/// A key or passphrase held for the length of one command.
pub enum Secret {
    Raw(Vec<u8>),
    Passphrase(String),
}

impl Secret {
    pub fn as_key(&self) -> Key<'_> {
        match self {
            Secret::Raw(k) => Key::Raw(k),
            Secret::Passphrase(p) => Key::Passphrase(p),
        }
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        let bytes: &mut [u8] = match self {
            Secret::Raw(k) => k,
            // SAFETY: zeroes are valid UTF-8.
            Secret::Passphrase(p) => unsafe { p.as_bytes_mut() },
        };
        for b in bytes.iter_mut() {
            unsafe { std::ptr::write_volatile(b, 0) };
        }
    }
}

/// Reads a key file: exactly 32 raw bytes, or 64 hex characters (surrounding
/// white space allowed). The size is checked by the core (typed error).
pub fn read_key_file(path: &Path) -> Result<Vec<u8>, Failure> {
    let bytes = std::fs::read(path)
        .map_err(|e| Failure::usage(format!("cannot read the key file: {}", e.kind())))?;
    if bytes.len() == 32 {
        return Ok(bytes);
    }
    let text = String::from_utf8_lossy(&bytes);
    let t = text.trim();
    // 64 hex characters, or hex of another length (the core then says how
    // many bytes it was).
    if !t.is_empty()
        && t.len().is_multiple_of(2)
        && let Some(k) = from_hex(t)
    {
        return Ok(k);
    }
    Ok(bytes)
}

pub fn from_cli(
    key_file: Option<&Path>,
    passphrase: bool,
    creating: bool,
) -> Result<Secret, Failure> {
    if passphrase {
        if key_file.is_some() {
            return Err(Failure::usage(
                "give either --key-file or --passphrase, not both",
            ));
        }
        return Ok(Secret::Passphrase(prompt_passphrase(
            "Passphrase",
            creating,
        )?));
    }
    if let Some(f) = key_file {
        return Ok(Secret::Raw(read_key_file(f)?));
    }
    if let Ok(hex) = std::env::var("CAIRN_KEY") {
        return match from_hex(hex.trim()) {
            Some(k) => Ok(Secret::Raw(k)),
            None => Err(Failure::usage("CAIRN_KEY must be 64 hex characters")),
        };
    }
    Err(Failure::usage(
        "no key: give --key-file FILE, set CAIRN_KEY, or use --passphrase",
    ))
}

/// Prompts on the terminal without echo (twice when `confirm`), or reads
/// one line from standard input when it is not a terminal.
pub fn prompt_passphrase(label: &str, confirm: bool) -> Result<String, Failure> {
    let stdin = std::io::stdin();
    let read = || -> Result<String, Failure> {
        if stdin.is_terminal() {
            rpassword::prompt_password(format!("{label}: "))
                .map_err(|e| Failure::other(format!("cannot read the passphrase: {}", e.kind())))
        } else {
            let mut line = String::new();
            stdin
                .lock()
                .read_line(&mut line)
                .map_err(|e| Failure::other(format!("cannot read the passphrase: {}", e.kind())))?;
            Ok(line.trim_end_matches(['\n', '\r']).to_owned())
        }
    };
    let p = read()?;
    if confirm && stdin.is_terminal() {
        let again = rpassword::prompt_password("Repeat: ")
            .map_err(|e| Failure::other(format!("cannot read the passphrase: {}", e.kind())))?;
        if again != p {
            return Err(Failure::usage("the passphrases differ"));
        }
    }
    Ok(p)
}
