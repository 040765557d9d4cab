//! One record: its kinds, its line format and how a line is read back.
//!
//! A record is one JSON line:
//! `{"seq":N,"time":"…","kind":"…","payload":{…},"prev":"<hex>","hash":"<hex>"}`.
//! `hash` is SHA-256 of the line's bytes without the `hash` member (the
//! "body", which ends `…"prev":"<hex>"}`), so hashing never depends on how a
//! JSON library would re-serialize the record. `prev` is the hash of the
//! record before (64 zeros for the first record of a log). The Merkle leaf of
//! a record is the whole line without its newline.

use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::{merkle::Hash, note::unhex32};

/// What a record records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum RecordKind {
    /// A call arrived: its id, tool, principal and (redacted) arguments.
    Received,
    /// Validation refused the call, with every violation.
    Rejected,
    /// A policy decided about the call: allowed or not, every reason, the
    /// policy's revision and profiles, the obligations.
    Decided,
    /// Every layer let the call through and the tool started.
    Started,
    /// A policy denied the call, with its reasons.
    Denied,
    /// The tool ran to the end: outcome, duration, output size and digest.
    Finished,
    /// A resource limit stopped or refused the call (which one).
    LimitExceeded,
    /// The call ran past its deadline.
    TimedOut,
    /// The caller cancelled the call.
    Cancelled,
    /// The tool failed.
    Failed,
    /// The call was refused for another reason (no such tool or version).
    Refused,
    /// A tool was registered.
    ToolRegistered,
    /// A tool was removed.
    ToolRemoved,
    /// A policy was loaded or reloaded.
    PolicyLoaded,
    /// The configuration changed.
    ConfigChanged,
    /// A signed checkpoint of the records before this one.
    Checkpoint,
    /// The first record of each file: where the log continues from.
    FileStarted,
    /// The log was reopened after it was not closed cleanly.
    Recovered,
    /// A tool's definition changed under a version already seen (its
    /// digest differs from the pinned one), so the tool was refused.
    DefinitionChanged,
    /// A serving session began or ended (transport, client, why it ended).
    Session,
}

impl RecordKind {
    /// The kind's name in records.
    pub fn as_str(self) -> &'static str {
        match self {
            RecordKind::Received => "received",
            RecordKind::Rejected => "rejected",
            RecordKind::Decided => "decided",
            RecordKind::Started => "started",
            RecordKind::Denied => "denied",
            RecordKind::Finished => "finished",
            RecordKind::LimitExceeded => "limit_exceeded",
            RecordKind::TimedOut => "timed_out",
            RecordKind::Cancelled => "cancelled",
            RecordKind::Failed => "failed",
            RecordKind::Refused => "refused",
            RecordKind::ToolRegistered => "tool_registered",
            RecordKind::ToolRemoved => "tool_removed",
            RecordKind::PolicyLoaded => "policy_loaded",
            RecordKind::ConfigChanged => "config_changed",
            RecordKind::Checkpoint => "checkpoint",
            RecordKind::FileStarted => "file_started",
            RecordKind::Recovered => "recovered",
            RecordKind::DefinitionChanged => "definition_changed",
            RecordKind::Session => "session",
        }
    }
}

/// A record read back from a log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// Its position in the log, from 0, across files.
    pub seq: u64,
    /// When it was written, RFC 3339 in UTC.
    pub time: String,
    /// What it records.
    pub kind: RecordKind,
    /// The details.
    pub payload: Value,
    /// The hash of the record before, hex.
    pub prev: String,
    /// This record's hash, hex.
    pub hash: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ParsedBody {
    seq: u64,
    time: String,
    kind: RecordKind,
    payload: Value,
    prev: String,
}

/// `,"hash":"` + 64 hex digits + `"}`.
const HASH_SUFFIX_LEN: usize = 9 + 64 + 2;

/// Appends the line (without newline) of a record to `out` and returns its
/// hash. `payload` is the payload's compact JSON text (as `serde_json`
/// writes it); the line is built by hand, byte for byte what `serde_json`
/// writes for the body `{seq, time, kind, payload, prev}` followed by the
/// hash, so that the writer neither builds nor serializes a JSON value per
/// record.
pub(crate) fn encode_into(
    out: &mut Vec<u8>,
    seq: u64,
    time: &str,
    kind: RecordKind,
    payload: &[u8],
    prev: &Hash,
) -> Hash {
    let start = out.len();
    out.extend_from_slice(b"{\"seq\":");
    push_u64(out, seq);
    out.extend_from_slice(b",\"time\":\"");
    out.extend_from_slice(time.as_bytes());
    out.extend_from_slice(b"\",\"kind\":\"");
    out.extend_from_slice(kind.as_str().as_bytes());
    out.extend_from_slice(b"\",\"payload\":");
    out.extend_from_slice(payload);
    out.extend_from_slice(b",\"prev\":\"");
    push_hex(out, prev);
    out.extend_from_slice(b"\"}");
    let hash: Hash = Sha256::digest(&out[start..]).into();
    out.pop(); // the closing brace, put back after the hash
    out.extend_from_slice(b",\"hash\":\"");
    push_hex(out, &hash);
    out.extend_from_slice(b"\"}");
    hash
}

/// `n` in decimal, as JSON writes it.
fn push_u64(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

/// `bytes` in lowercase hex.
fn push_hex(out: &mut Vec<u8>, bytes: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)]);
        out.push(DIGITS[usize::from(b & 15)]);
    }
}

/// Why a line is not a sound record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum LineFault {
    /// Not a record.
    Malformed(String),
    /// A record whose bytes do not match its hash; its sequence number if it
    /// could be read.
    HashMismatch(Option<u64>),
}

/// A line (without newline) read back and its hash checked.
pub(crate) fn decode(line: &[u8]) -> Result<(Record, Hash, Hash), LineFault> {
    let malformed = |d: &str| LineFault::Malformed(d.to_owned());
    if line.len() < HASH_SUFFIX_LEN + 2 {
        return Err(malformed("too short to be a record"));
    }
    let (body, suffix) = line.split_at(line.len() - HASH_SUFFIX_LEN);
    let hash_hex = suffix
        .strip_prefix(b",\"hash\":\"")
        .and_then(|s| s.strip_suffix(b"\"}"))
        .and_then(|h| std::str::from_utf8(h).ok())
        .ok_or_else(|| malformed("a record ends with its hash"))?;
    let hash = unhex32(hash_hex).ok_or_else(|| malformed("the hash is not 64 hex digits"))?;
    let mut body = body.to_vec();
    body.push(b'}');
    let parsed: ParsedBody = match serde_json::from_slice(&body) {
        Ok(p) => p,
        // An edit that keeps the hash suffix but breaks the JSON is still an
        // edit if the bytes do not hash right; report the more telling fault.
        Err(e) => {
            return Err(if Sha256::digest(&body).as_slice() != hash {
                LineFault::HashMismatch(None)
            } else {
                LineFault::Malformed(format!("not a record: {e}"))
            });
        }
    };
    if Sha256::digest(&body).as_slice() != hash {
        return Err(LineFault::HashMismatch(Some(parsed.seq)));
    }
    let prev = unhex32(&parsed.prev).ok_or_else(|| malformed("prev is not 64 hex digits"))?;
    Ok((
        Record {
            seq: parsed.seq,
            time: parsed.time,
            kind: parsed.kind,
            payload: parsed.payload,
            prev: parsed.prev,
            hash: hash_hex.to_owned(),
        },
        prev,
        hash,
    ))
}

/// `t` as RFC 3339 in UTC with microseconds.
pub(crate) fn format_time(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Howard Hinnant's civil_from_days.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:06}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60,
        d.subsec_micros()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::note::hex;
    use serde_json::json;
    use std::time::Duration;

    /// The body as a JSON library writes it: what the hand-built line must
    /// match byte for byte, so that logs written before and after read the
    /// same.
    #[derive(Serialize)]
    struct Body<'a> {
        seq: u64,
        time: &'a str,
        kind: RecordKind,
        payload: &'a Value,
        prev: &'a str,
    }

    fn encode(seq: u64, kind: RecordKind, payload: &Value, prev: &Hash) -> (Vec<u8>, Hash) {
        let mut line = Vec::new();
        let text = serde_json::to_vec(payload).unwrap();
        let hash = encode_into(&mut line, seq, TIME, kind, &text, prev);
        (line, hash)
    }

    const TIME: &str = "2026-01-01T00:00:00.000000Z";

    #[test]
    fn a_line_round_trips_and_an_edit_is_caught() {
        let payload = json!({"callId": "c1", "n": 1.5});
        let (line, hash) = encode(7, RecordKind::Received, &payload, &[1; 32]);
        let (record, prev, h) = decode(&line).unwrap();
        assert_eq!(
            (record.seq, record.kind, prev, h),
            (7, RecordKind::Received, [1; 32], hash)
        );
        assert_eq!(record.payload, payload);
        let edited = String::from_utf8(line).unwrap().replace("c1", "c2");
        assert_eq!(
            decode(edited.as_bytes()),
            Err(LineFault::HashMismatch(Some(7)))
        );
        assert!(matches!(
            decode(b"{\"seq\":1}"),
            Err(LineFault::Malformed(_))
        ));
        assert!(matches!(decode(&[0u8; 200]), Err(LineFault::Malformed(_))));
    }

    proptest::proptest! {
        #[test]
        fn the_built_line_is_what_serde_json_writes(
            seq in proptest::prelude::any::<u64>(),
            prev in proptest::prelude::any::<[u8; 32]>(),
            text in ".{0,40}",
            n in proptest::prelude::any::<i64>(),
            x in proptest::prelude::any::<f64>(),
        ) {
            let payload = json!({"callId": text, "n": n, "x": x, "nested": {"a": [1, null, true]}, "quote": "\"\\\n"});
            let (line, hash) = encode(seq, RecordKind::LimitExceeded, &payload, &prev);
            let mut body = serde_json::to_vec(&Body {
                seq,
                time: TIME,
                kind: RecordKind::LimitExceeded,
                payload: &payload,
                prev: &hex(&prev),
            })
            .unwrap();
            proptest::prop_assert_eq!(hash, <[u8; 32]>::from(Sha256::digest(&body)));
            body.pop();
            body.extend_from_slice(format!(",\"hash\":\"{}\"}}", hex(&hash)).as_bytes());
            proptest::prop_assert_eq!(line, body);
        }
    }

    #[test]
    fn times_are_rfc3339_utc() {
        let t = UNIX_EPOCH + Duration::from_micros(1_764_088_496_123_456);
        assert_eq!(format_time(t), "2025-11-25T16:34:56.123456Z");
        assert_eq!(format_time(UNIX_EPOCH), "1970-01-01T00:00:00.000000Z");
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400); // 2000-02-29
        assert_eq!(format_time(leap), "2000-02-29T00:00:00.000000Z");
    }
}
