//! Where the CLI gets its key: a key file, CAIRN_KEY, or a passphrase.

use crate::Failure;
use cairn_core::Key;
use cairn_core::crypto::from_hex;
use std::io::{BufRead, IsTerminal};
use std::path::Path;
use zeroize::Zeroizing;

/// A key or passphrase held for the length of one command; wiped when
/// dropped (as is every intermediate buffer below).
pub enum Secret {
    Raw(Zeroizing<Vec<u8>>),
    Passphrase(Zeroizing<String>),
}

impl Secret {
    pub fn as_key(&self) -> Key<'_> {
        match self {
            Secret::Raw(k) => Key::Raw(k),
            Secret::Passphrase(p) => Key::Passphrase(p),
        }
    }
}

/// Reads a key file: exactly 32 raw bytes, or 64 hex characters (surrounding
/// white space allowed). The size is checked by the core (typed error).
pub fn read_key_file(path: &Path) -> Result<Zeroizing<Vec<u8>>, Failure> {
    let bytes = Zeroizing::new(
        std::fs::read(path)
            .map_err(|e| Failure::usage(format!("cannot read the key file: {}", e.kind())))?,
    );
    if bytes.len() == 32 {
        return Ok(bytes);
    }
    // 64 hex characters, or hex of another length (the core then says how
    // many bytes it was). Not UTF-8: the bytes themselves (a wrong size).
    let Ok(text) = std::str::from_utf8(&bytes) else {
        return Ok(bytes);
    };
    let t = text.trim();
    if !t.is_empty()
        && t.len().is_multiple_of(2)
        && let Some(k) = from_hex(t)
    {
        return Ok(Zeroizing::new(k));
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
        // The process environment keeps its own copy; this one is wiped.
        let hex = Zeroizing::new(hex);
        return match from_hex(hex.trim()) {
            Some(k) => Ok(Secret::Raw(Zeroizing::new(k))),
            None => Err(Failure::usage("CAIRN_KEY must be 64 hex characters")),
        };
    }
    Err(Failure::usage(
        "no key: give --key-file FILE, set CAIRN_KEY, or use --passphrase",
    ))
}

/// Prompts on the terminal without echo (twice when `confirm`), or reads
/// one line from standard input when it is not a terminal.
pub fn prompt_passphrase(label: &str, confirm: bool) -> Result<Zeroizing<String>, Failure> {
    let stdin = std::io::stdin();
    let read = || -> Result<Zeroizing<String>, Failure> {
        if stdin.is_terminal() {
            rpassword::prompt_password(format!("{label}: "))
                .map(Zeroizing::new)
                .map_err(|e| Failure::other(format!("cannot read the passphrase: {}", e.kind())))
        } else {
            let mut line = Zeroizing::new(String::new());
            stdin
                .lock()
                .read_line(&mut line)
                .map_err(|e| Failure::other(format!("cannot read the passphrase: {}", e.kind())))?;
            let end = line.trim_end_matches(['\n', '\r']).len();
            line.truncate(end);
            Ok(line)
        }
    };
    let p = read()?;
    if confirm && stdin.is_terminal() {
        let again = rpassword::prompt_password("Repeat: ")
            .map(Zeroizing::new)
            .map_err(|e| Failure::other(format!("cannot read the passphrase: {}", e.kind())))?;
        if *again != *p {
            return Err(Failure::usage("the passphrases differ"));
        }
    }
    Ok(p)
}
