//! Packages: content addresses and publisher signatures.
//!
//! A package is a directory (the plugin's `plugin.json` and module, its
//! docs and examples). Its [`PackageDigest`] is the SHA-256 of a canonical
//! listing of its files, each line the SHA-256 of one file's contents, its
//! length and its path, sorted by path, so the same files give the same
//! digest on every machine and a changed, added, removed or renamed file
//! gives another.
//!
//! A publisher signs a package's name, version and digest together with
//! Ed25519 ([`SignedPackage::sign`]), so a signature cannot be moved to
//! another package or version. Installing checks the signature against the
//! keys registered to the publisher and the files against the digest
//! ([`SignedPackage::verify`]).

use std::fmt;
use std::path::{Component, Path};
use std::str::FromStr;

use ed25519_dalek::{Signature, Signer};
pub use ed25519_dalek::{SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::MarketError;

/// The most files a package may hold.
pub const MAX_FILES: usize = 1_000;
/// The most bytes a package's files may hold together: 64 MiB.
pub const MAX_PACKAGE_BYTES: u64 = 64 << 20;

/// What a signature covers, before the name, version and digest: binds it
/// to this use so it means nothing anywhere else.
const SIGNING_CONTEXT: &[u8] = b"rustchain-tools package v1\0";
/// The first line of a digest's canonical listing.
const LISTING_HEADER: &[u8] = b"rustchain-tools package files v1\n";

/// One file of a package: its path inside the package (`/`-separated,
/// relative) and its contents.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PackageFile {
    /// The path, e.g. `plugin.json` or `docs/usage.md`.
    pub path: String,
    /// The contents.
    pub bytes: Vec<u8>,
}

/// A package's content address: `sha256:` and 64 hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PackageDigest([u8; 32]);

impl PackageDigest {
    /// The digest of `files`, which must have distinct, well-formed paths.
    pub fn of(files: &[PackageFile]) -> Result<PackageDigest, MarketError> {
        if files.len() > MAX_FILES {
            return Err(MarketError::InvalidPackage {
                path: ".".to_owned(),
                reason: format!("holds {} files; the most is {MAX_FILES}", files.len()),
            });
        }
        let mut sorted: Vec<&PackageFile> = files.iter().collect();
        sorted.sort_by(|a, b| a.path.cmp(&b.path));
        let mut total = 0u64;
        let mut listing = Sha256::new();
        listing.update(LISTING_HEADER);
        for (i, file) in sorted.iter().enumerate() {
            check_path(&file.path)?;
            if i > 0 && sorted[i - 1].path == file.path {
                return Err(MarketError::InvalidPackage {
                    path: file.path.clone(),
                    reason: "appears twice".to_owned(),
                });
            }
            total += file.bytes.len() as u64;
            if total > MAX_PACKAGE_BYTES {
                return Err(MarketError::InvalidPackage {
                    path: ".".to_owned(),
                    reason: format!("holds more than {MAX_PACKAGE_BYTES} bytes"),
                });
            }
            let line = format!(
                "{} {} {}\n",
                hex::encode(Sha256::digest(&file.bytes)),
                file.bytes.len(),
                file.path
            );
            listing.update(line.as_bytes());
        }
        Ok(PackageDigest(listing.finalize().into()))
    }

    /// The raw 32 bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Display for PackageDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", hex::encode(self.0))
    }
}

impl fmt::Debug for PackageDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl FromStr for PackageDigest {
    type Err = MarketError;

    fn from_str(s: &str) -> Result<PackageDigest, MarketError> {
        let bad = || MarketError::InvalidPackage {
            path: "digest".to_owned(),
            reason: format!("`{}` is not `sha256:` and 64 hex digits", s.escape_debug()),
        };
        let hex_digits = s.strip_prefix("sha256:").ok_or_else(bad)?;
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(hex_digits, &mut bytes).map_err(|_| bad())?;
        Ok(PackageDigest(bytes))
    }
}

impl Serialize for PackageDigest {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for PackageDigest {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<PackageDigest, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// A package path: relative, `/`-separated, no `.` or `..` parts, no empty
/// parts, no control characters or backslashes, at most 255 bytes.
fn check_path(path: &str) -> Result<(), MarketError> {
    let bad = |reason: &str| MarketError::InvalidPackage {
        path: path.escape_debug().to_string(),
        reason: reason.to_owned(),
    };
    if path.is_empty() || path.len() > 255 {
        return Err(bad("a path must be 1 to 255 bytes long"));
    }
    if path.chars().any(|c| c.is_control() || c == '\\') {
        return Err(bad(
            "a path must not contain control characters or backslashes",
        ));
    }
    if path
        .split('/')
        .any(|part| part.is_empty() || part == "." || part == "..")
    {
        return Err(bad(
            "a path must be relative, with no empty, `.` or `..` parts",
        ));
    }
    Ok(())
}

/// Reads every file under `dir` as a package. Symbolic links and other
/// non-regular files are refused, so what is signed is what is read.
pub fn read_dir(dir: &Path) -> Result<Vec<PackageFile>, MarketError> {
    let mut files = Vec::new();
    let mut total = 0u64;
    read_into(dir, dir, &mut files, &mut total)?;
    Ok(files)
}

fn read_into(
    root: &Path,
    dir: &Path,
    files: &mut Vec<PackageFile>,
    total: &mut u64,
) -> Result<(), MarketError> {
    let io = |path: &Path, e: std::io::Error| MarketError::InvalidPackage {
        path: path.display().to_string(),
        reason: format!("cannot be read: {e}"),
    };
    for item in std::fs::read_dir(dir).map_err(|e| io(dir, e))? {
        let item = item.map_err(|e| io(dir, e))?;
        let path = item.path();
        let kind = item.file_type().map_err(|e| io(&path, e))?;
        if kind.is_dir() {
            read_into(root, &path, files, total)?;
            continue;
        }
        if !kind.is_file() {
            return Err(MarketError::InvalidPackage {
                path: path.display().to_string(),
                reason: "is not a regular file (links are not packaged)".to_owned(),
            });
        }
        let relative = path.strip_prefix(root).unwrap_or(&path);
        let mut parts = Vec::new();
        for component in relative.components() {
            match component {
                Component::Normal(part) => match part.to_str() {
                    Some(part) => parts.push(part),
                    None => {
                        return Err(MarketError::InvalidPackage {
                            path: path.display().to_string(),
                            reason: "has a name that is not UTF-8".to_owned(),
                        });
                    }
                },
                _ => {
                    return Err(MarketError::InvalidPackage {
                        path: path.display().to_string(),
                        reason: "is not inside the package".to_owned(),
                    });
                }
            }
        }
        let len = item.metadata().map_err(|e| io(&path, e))?.len();
        *total += len;
        if files.len() >= MAX_FILES || *total > MAX_PACKAGE_BYTES {
            return Err(MarketError::InvalidPackage {
                path: root.display().to_string(),
                reason: format!("holds more than {MAX_FILES} files or {MAX_PACKAGE_BYTES} bytes"),
            });
        }
        let bytes = std::fs::read(&path).map_err(|e| io(&path, e))?;
        files.push(PackageFile {
            path: parts.join("/"),
            bytes,
        });
    }
    Ok(())
}

/// Writes `files` below `dir` (which must exist), after checking their
/// paths as [`PackageDigest::of`] does: nothing lands outside `dir`.
pub fn write_dir(dir: &Path, files: &[PackageFile]) -> Result<(), MarketError> {
    PackageDigest::of(files)?;
    for file in files {
        let path = dir.join(&file.path);
        let io = |e: std::io::Error| MarketError::InvalidPackage {
            path: file.path.clone(),
            reason: format!("cannot be written to {}: {e}", path.display()),
        };
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io)?;
        }
        std::fs::write(&path, &file.bytes).map_err(io)?;
    }
    Ok(())
}

/// A package as it travels between the market and its clients: the
/// signature and every file, base64-encoded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackageBundle {
    /// The signed name, version and digest.
    pub package: SignedPackage,
    /// The files.
    pub files: Vec<BundleFile>,
}

/// One file of a [`PackageBundle`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundleFile {
    /// Its path inside the package.
    pub path: String,
    /// Its contents in standard base64.
    pub base64: String,
}

impl PackageBundle {
    /// A bundle of `files` under `package`.
    pub fn new(package: SignedPackage, files: &[PackageFile]) -> PackageBundle {
        use base64::Engine as _;
        PackageBundle {
            package,
            files: files
                .iter()
                .map(|f| BundleFile {
                    path: f.path.clone(),
                    base64: base64::engine::general_purpose::STANDARD.encode(&f.bytes),
                })
                .collect(),
        }
    }

    /// The files, decoded; a file that is not base64 is refused by path.
    pub fn files(&self) -> Result<Vec<PackageFile>, MarketError> {
        use base64::Engine as _;
        self.files
            .iter()
            .map(|f| {
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(&f.base64)
                    .map_err(|e| MarketError::InvalidPackage {
                        path: f.path.clone(),
                        reason: format!("its contents are not base64: {e}"),
                    })?;
                Ok(PackageFile {
                    path: f.path.clone(),
                    bytes,
                })
            })
            .collect()
    }
}

/// A publisher's public key, as registered to their account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublisherKey {
    /// The publisher's account id.
    pub publisher: String,
    /// The Ed25519 public key.
    pub key: VerifyingKey,
}

impl PublisherKey {
    /// The key's id: the first 8 bytes of the SHA-256 of the public key, in
    /// hex; signatures name the key they were made with by it.
    pub fn key_id(&self) -> String {
        key_id(&self.key)
    }

    /// Reads a public key from its 64 hex digits.
    pub fn from_hex(publisher: &str, text: &str) -> Result<PublisherKey, MarketError> {
        let bad = |reason: String| MarketError::InvalidPackage {
            path: format!("key of {publisher}"),
            reason,
        };
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(text.trim(), &mut bytes)
            .map_err(|e| bad(format!("is not 64 hex digits: {e}")))?;
        let key = VerifyingKey::from_bytes(&bytes)
            .map_err(|e| bad(format!("is not an Ed25519 public key: {e}")))?;
        Ok(PublisherKey {
            publisher: publisher.to_owned(),
            key,
        })
    }

    /// The public key as 64 hex digits.
    pub fn to_hex(&self) -> String {
        hex::encode(self.key.as_bytes())
    }
}

fn key_id(key: &VerifyingKey) -> String {
    hex::encode(&Sha256::digest(key.as_bytes())[..8])
}

/// A package version as its publisher signed it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedPackage {
    /// The package's name.
    pub name: String,
    /// Its version.
    pub version: String,
    /// The digest of its files.
    pub digest: PackageDigest,
    /// The publisher's account id.
    pub publisher: String,
    /// The id of the key that signed ([`PublisherKey::key_id`]).
    pub key_id: String,
    /// The Ed25519 signature, in hex.
    pub signature: String,
}

impl SignedPackage {
    /// Signs `name`, `version` and `digest` as `publisher` with `key`.
    pub fn sign(
        key: &SigningKey,
        publisher: &str,
        name: &str,
        version: &str,
        digest: PackageDigest,
    ) -> SignedPackage {
        let signature = key.sign(&signed_message(name, version, &digest));
        SignedPackage {
            name: name.to_owned(),
            version: version.to_owned(),
            digest,
            publisher: publisher.to_owned(),
            key_id: key_id(&key.verifying_key()),
            signature: hex::encode(signature.to_bytes()),
        }
    }

    /// Checks the signature with the publisher's registered `keys` and, if
    /// `files` are given, that they are the files that were signed.
    pub fn verify(
        &self,
        keys: &[PublisherKey],
        files: Option<&[PackageFile]>,
    ) -> Result<(), MarketError> {
        let fail = |reason: String| MarketError::Verification {
            package: format!("{}@{}", self.name, self.version),
            reason,
        };
        let key = keys
            .iter()
            .find(|k| k.publisher == self.publisher && k.key_id() == self.key_id)
            .ok_or_else(|| {
                fail(format!(
                    "key {} is not registered to publisher `{}`",
                    self.key_id, self.publisher
                ))
            })?;
        let mut bytes = [0u8; 64];
        hex::decode_to_slice(&self.signature, &mut bytes)
            .map_err(|_| fail("the signature is not 128 hex digits".to_owned()))?;
        key.key
            .verify_strict(
                &signed_message(&self.name, &self.version, &self.digest),
                &Signature::from_bytes(&bytes),
            )
            .map_err(|_| fail("the signature does not match".to_owned()))?;
        if let Some(files) = files {
            let digest = PackageDigest::of(files)?;
            if digest != self.digest {
                return Err(fail(format!(
                    "the files have digest {digest}, the signature covers {}",
                    self.digest
                )));
            }
        }
        Ok(())
    }
}

fn signed_message(name: &str, version: &str, digest: &PackageDigest) -> Vec<u8> {
    // Length-prefixed, so no name and version pair reads as another.
    let mut message = Vec::with_capacity(SIGNING_CONTEXT.len() + name.len() + version.len() + 40);
    message.extend_from_slice(SIGNING_CONTEXT);
    for part in [name.as_bytes(), version.as_bytes()] {
        message.extend_from_slice(&(part.len() as u32).to_le_bytes());
        message.extend_from_slice(part);
    }
    message.extend_from_slice(digest.as_bytes());
    message
}

/// A new signing key from the operating system's random source.
pub fn generate_key() -> Result<SigningKey, MarketError> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| MarketError::InvalidPackage {
        path: "key".to_owned(),
        reason: format!("no randomness for a new key: {e}"),
    })?;
    Ok(SigningKey::from_bytes(&seed))
}

/// A signing key as the text of a key file: its 32-byte secret in hex.
pub fn secret_key_to_hex(key: &SigningKey) -> String {
    hex::encode(key.to_bytes())
}

/// Reads a signing key from the text of a key file.
pub fn secret_key_from_hex(text: &str) -> Result<SigningKey, MarketError> {
    let mut seed = [0u8; 32];
    hex::decode_to_slice(text.trim(), &mut seed).map_err(|e| MarketError::InvalidPackage {
        path: "key".to_owned(),
        reason: format!("a secret key is 64 hex digits: {e}"),
    })?;
    Ok(SigningKey::from_bytes(&seed))
}
