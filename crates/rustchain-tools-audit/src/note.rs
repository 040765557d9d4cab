//! Signing keys, and checkpoints in the C2SP `tlog-checkpoint` format signed
//! as C2SP signed notes with Ed25519.
//!
//! Keys are written as the Go `note` package writes them, so that existing
//! tools can read them: `PRIVATE+KEY+<name>+<id>+<base64(0x01 || seed)>` and
//! `<name>+<id>+<base64(0x01 || public key)>`, where `<id>` is the first four
//! bytes of SHA-256(name || "\n" || 0x01 || public key) in hex.

use std::fmt;

use base64::{Engine, engine::general_purpose::STANDARD as B64};
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use sha2::{Digest, Sha256};

use crate::{AuditError, merkle::Hash};

/// The signature algorithm byte of Ed25519 in signed notes.
const ED25519: u8 = 0x01;
/// What starts a signature line: an em dash and a space.
const SIG_PREFIX: &str = "\u{2014} ";

fn key_id(name: &str, public: &[u8; 32]) -> [u8; 4] {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update(b"\n");
    h.update([ED25519]);
    h.update(public);
    let d = h.finalize();
    [d[0], d[1], d[2], d[3]]
}

fn check_name(name: &str) -> Result<(), AuditError> {
    // The signed-note spec: non-empty, no Unicode spaces, no plus signs.
    if name.is_empty() || name.chars().any(|c| c.is_whitespace() || c == '+') {
        return Err(AuditError::invalid(
            "key",
            format!("key name {name:?} must be non-empty, without spaces or '+'"),
        ));
    }
    Ok(())
}

/// The private key that signs a log's checkpoints; its name is the log's
/// origin (the first line of every checkpoint).
#[derive(Clone)]
pub struct AuditKey {
    name: String,
    key: SigningKey,
}

impl fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print the secret.
        f.debug_struct("AuditKey")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl AuditKey {
    /// A new key named `name`, from the operating system's random source.
    pub fn generate(name: &str) -> Result<Self, AuditError> {
        check_name(name)?;
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed)
            .map_err(|e| AuditError::invalid("key", format!("no randomness from the OS: {e}")))?;
        Ok(AuditKey {
            name: name.to_owned(),
            key: SigningKey::from_bytes(&seed),
        })
    }

    /// Reads a key written by [`AuditKey::to_private_string`].
    pub fn from_private_string(text: &str) -> Result<Self, AuditError> {
        let bad = |d: &str| AuditError::invalid("key", d.to_owned());
        let rest = text
            .trim()
            .strip_prefix("PRIVATE+KEY+")
            .ok_or_else(|| bad("a private key starts with PRIVATE+KEY+"))?;
        let (name, id, bytes) = split_key(rest)?;
        let seed: [u8; 32] = bytes
            .try_into()
            .map_err(|_| bad("an Ed25519 private key has 32 bytes"))?;
        let key = AuditKey {
            name: name.to_owned(),
            key: SigningKey::from_bytes(&seed),
        };
        if key.verifier().id != id {
            return Err(bad("the key id does not match the key"));
        }
        Ok(key)
    }

    /// The key as text, for a key file. Keep it secret.
    pub fn to_private_string(&self) -> String {
        let mut bytes = vec![ED25519];
        bytes.extend_from_slice(self.key.as_bytes());
        let id = self.verifier().id;
        format!(
            "PRIVATE+KEY+{}+{}+{}",
            self.name,
            hex(&id),
            B64.encode(bytes)
        )
    }

    /// The key's name, which is the origin of the checkpoints it signs.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The public half, to give to whoever verifies the log.
    pub fn verifier(&self) -> VerifierKey {
        let public = self.key.verifying_key();
        VerifierKey {
            id: key_id(&self.name, public.as_bytes()),
            name: self.name.clone(),
            key: public,
        }
    }

    /// Signs `checkpoint` and returns the signed note.
    pub fn sign(&self, checkpoint: &Checkpoint) -> String {
        let body = checkpoint.body();
        let signature = self.key.sign(body.as_bytes());
        let mut blob = key_id(&self.name, self.key.verifying_key().as_bytes()).to_vec();
        blob.extend_from_slice(&signature.to_bytes());
        format!("{body}\n{SIG_PREFIX}{} {}\n", self.name, B64.encode(blob))
    }
}

/// The public key that checks a log's checkpoints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifierKey {
    name: String,
    id: [u8; 4],
    key: VerifyingKey,
}

fn split_key(rest: &str) -> Result<(&str, [u8; 4], Vec<u8>), AuditError> {
    let bad = |d: &str| AuditError::invalid("key", d.to_owned());
    let mut parts = rest.splitn(3, '+');
    let (Some(name), Some(id), Some(data)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(bad("a key has the form NAME+ID+BASE64"));
    };
    check_name(name)?;
    let id = u32::from_str_radix(id, 16)
        .ok()
        .filter(|_| id.len() == 8)
        .ok_or_else(|| bad("a key id is 8 hex digits"))?
        .to_be_bytes();
    let bytes = B64
        .decode(data)
        .map_err(|e| bad(&format!("bad base64: {e}")))?;
    match bytes.split_first() {
        Some((&ED25519, key)) => Ok((name, id, key.to_vec())),
        _ => Err(bad("only Ed25519 keys (algorithm 1) are supported")),
    }
}

impl VerifierKey {
    /// Reads a key written by [`VerifierKey::to_string`](ToString::to_string).
    pub fn parse(text: &str) -> Result<Self, AuditError> {
        let (name, id, bytes) = split_key(text.trim())?;
        let bytes: [u8; 32] = bytes
            .try_into()
            .map_err(|_| AuditError::invalid("key", "an Ed25519 public key has 32 bytes"))?;
        let key = VerifyingKey::from_bytes(&bytes)
            .map_err(|e| AuditError::invalid("key", format!("not an Ed25519 point: {e}")))?;
        if key_id(name, &bytes) != id {
            return Err(AuditError::invalid(
                "key",
                "the key id does not match the key",
            ));
        }
        Ok(VerifierKey {
            name: name.to_owned(),
            id,
            key,
        })
    }

    /// The key's name: the origin of the log it verifies.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl fmt::Display for VerifierKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut bytes = vec![ED25519];
        bytes.extend_from_slice(self.key.as_bytes());
        write!(f, "{}+{}+{}", self.name, hex(&self.id), B64.encode(bytes))
    }
}

/// What a checkpoint states: the log, its size and its Merkle root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// Which log (the signing key's name).
    pub origin: String,
    /// How many records the tree covers.
    pub size: u64,
    /// The Merkle root of those records.
    pub root: Hash,
}

/// Why a signed checkpoint was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum NoteFault {
    /// Not a checkpoint.
    Malformed(String),
    /// No valid signature by the key.
    BadSignature(String),
    /// Signed, but for another log.
    WrongOrigin(String),
}

impl NoteFault {
    pub(crate) fn into_error(self) -> AuditError {
        match self {
            NoteFault::Malformed(d) => AuditError::invalid("checkpoint", d),
            NoteFault::BadSignature(d) | NoteFault::WrongOrigin(d) => AuditError::ProofFailed(d),
        }
    }
}

impl Checkpoint {
    /// The checkpoint text that is signed: origin, size, base64 root, each
    /// on its own line.
    pub fn body(&self) -> String {
        format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            B64.encode(self.root)
        )
    }

    /// Reads a signed checkpoint and checks its signature with `key`.
    pub fn open(note: &str, key: &VerifierKey) -> Result<Checkpoint, AuditError> {
        Self::open_note(note, key).map_err(NoteFault::into_error)
    }

    pub(crate) fn open_note(note: &str, key: &VerifierKey) -> Result<Checkpoint, NoteFault> {
        let bad = |d: &str| NoteFault::Malformed(d.to_owned());
        let (body, sigs) = note
            .split_once("\n\n")
            .ok_or_else(|| bad("a signed note has a blank line before its signatures"))?;
        let body = format!("{body}\n");
        let mut lines = body.lines();
        let (Some(origin), Some(size), Some(root)) = (lines.next(), lines.next(), lines.next())
        else {
            return Err(bad("a checkpoint has an origin, a size and a root hash"));
        };
        let size: u64 = size
            .parse()
            .ok()
            .filter(|_| {
                size.bytes().all(|b| b.is_ascii_digit()) && (size == "0" || !size.starts_with('0'))
            })
            .ok_or_else(|| bad("the tree size is not a decimal number"))?;
        let root: Hash = B64
            .decode(root)
            .ok()
            .and_then(|r| r.try_into().ok())
            .ok_or_else(|| bad("the root hash is not 32 bytes of base64"))?;
        let mut signed = false;
        for line in sigs.lines() {
            let Some(rest) = line.strip_prefix(SIG_PREFIX) else {
                return Err(bad("a signature line starts with an em dash"));
            };
            let Some((name, blob)) = rest.split_once(' ') else {
                return Err(bad("a signature line has a key name and a signature"));
            };
            let blob = B64
                .decode(blob)
                .map_err(|_| bad("a signature is not base64"))?;
            if name != key.name || blob.len() != 68 || blob[..4] != key.id {
                continue; // Another key's signature: not ours to check.
            }
            let signature = Signature::from_slice(&blob[4..])
                .map_err(|_| NoteFault::BadSignature("not an Ed25519 signature".into()))?;
            key.key.verify(body.as_bytes(), &signature).map_err(|_| {
                NoteFault::BadSignature(format!("the signature by {} does not verify", key.name))
            })?;
            signed = true;
        }
        if !signed {
            return Err(NoteFault::BadSignature(format!(
                "no signature by key {}",
                key.name
            )));
        }
        if origin != key.name {
            return Err(NoteFault::WrongOrigin(format!(
                "checkpoint of log {origin:?}, the key is for {:?}",
                key.name
            )));
        }
        Ok(Checkpoint {
            origin: origin.to_owned(),
            size,
            root,
        })
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 15)] as char);
    }
    out
}

pub(crate) fn unhex32(text: &str) -> Option<Hash> {
    if text.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checkpoint() -> Checkpoint {
        Checkpoint {
            origin: "example.com/log".into(),
            size: 42,
            root: [7; 32],
        }
    }

    #[test]
    fn a_signed_checkpoint_opens_with_its_key() {
        let key = AuditKey::generate("example.com/log").unwrap();
        let note = key.sign(&checkpoint());
        assert!(note.starts_with("example.com/log\n42\n"));
        assert!(note.contains("\n\n\u{2014} example.com/log "));
        assert_eq!(
            Checkpoint::open(&note, &key.verifier()).unwrap(),
            checkpoint()
        );
    }

    #[test]
    fn another_key_or_an_edit_is_refused() {
        let key = AuditKey::generate("example.com/log").unwrap();
        let other = AuditKey::generate("example.com/log").unwrap();
        let note = key.sign(&checkpoint());
        assert!(matches!(
            Checkpoint::open_note(&note, &other.verifier()),
            Err(NoteFault::BadSignature(_))
        ));
        let edited = note.replacen("\n42\n", "\n43\n", 1);
        assert!(matches!(
            Checkpoint::open_note(&edited, &key.verifier()),
            Err(NoteFault::BadSignature(_))
        ));
        assert!(matches!(
            Checkpoint::open_note("garbage", &key.verifier()),
            Err(NoteFault::Malformed(_))
        ));
    }

    #[test]
    fn keys_round_trip_through_text() {
        let key = AuditKey::generate("audit.local").unwrap();
        let back = AuditKey::from_private_string(&key.to_private_string()).unwrap();
        assert_eq!(back.verifier(), key.verifier());
        let public = key.verifier().to_string();
        assert_eq!(VerifierKey::parse(&public).unwrap(), key.verifier());
        assert!(!format!("{key:?}").contains(&key.to_private_string()[20..]));
        assert!(VerifierKey::parse("audit.local+00000000+AQ==").is_err());
        assert!(AuditKey::generate("has space").is_err());
    }

    #[test]
    fn hex_round_trips() {
        let h = [0xabu8; 32];
        assert_eq!(unhex32(&hex(&h)), Some(h));
        assert_eq!(unhex32("zz"), None);
    }
}
