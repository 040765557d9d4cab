//! The writer: one thread owns the file, numbers and chains the records,
//! commits them with the configured durability, writes checkpoints and
//! rotates files. Appenders wait for the acknowledgement of their record.

use std::{
    fs::{self, File, OpenOptions},
    io::{Read, Write},
    path::{Path, PathBuf},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU64, Ordering},
        mpsc,
    },
    thread::JoinHandle,
    time::{Duration, Instant, SystemTime},
};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::sync::oneshot;

use crate::{
    AuditError, AuditKey, Checkpoint, Tamper,
    merkle::{Frontier, Hash, leaf_hash},
    note::{hex, unhex32},
    record::{self, LineFault, RecordKind},
};

/// When an acknowledged record is on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Durability {
    /// `fdatasync` after every record, before it is acknowledged.
    Fsync,
    /// Records that arrive together are written and synced together; each is
    /// acknowledged once its batch is on disk. As safe as `Fsync`, far faster
    /// under concurrent load. A sync waits for as many records as the last
    /// one acknowledged (their appenders tend to come back together), at most
    /// as long as the last sync took and never over 1 ms, so that they share
    /// one sync instead of two. An appender alone (the last sync released
    /// at most one record) never waits.
    #[default]
    Group,
    /// Written to the operating system, never synced: fast, but a power loss
    /// (not a process crash) may lose acknowledged records.
    None,
}

/// How a log is written.
#[derive(Debug, Clone)]
pub struct AuditConfig {
    /// The active log file; rotated files sit beside it as
    /// `<name>.<first sequence number, 20 digits>`.
    pub path: PathBuf,
    /// Signs the checkpoints; its name is the log's origin.
    pub key: AuditKey,
    /// When records are synced.
    pub durability: Durability,
    /// A checkpoint is written after this many records (and on close and
    /// rotation).
    pub checkpoint_every: u64,
    /// The active file is rotated once it holds this many bytes.
    pub rotate_bytes: Option<u64>,
    /// The active file is rotated at the first commit after it has been
    /// open this long.
    pub rotate_every: Option<Duration>,
    /// The most records one group commit writes.
    pub max_batch: usize,
    /// How long opening waits for another process that has the log open
    /// (one writer at a time, by an exclusive lock on `<path>.lock`).
    pub lock_wait: Duration,
}

impl AuditConfig {
    /// Group commit, a checkpoint every 1,000 records, no rotation.
    pub fn new(path: impl Into<PathBuf>, key: AuditKey) -> Self {
        AuditConfig {
            path: path.into(),
            key,
            durability: Durability::Group,
            checkpoint_every: 1000,
            rotate_bytes: None,
            rotate_every: None,
            max_batch: 4096,
            lock_wait: Duration::from_secs(10),
        }
    }
}

/// What the writer tells an appender.
pub type Ack = Result<u64, AuditError>;

/// Where an acknowledgement goes: to a task, or to a blocked thread (tokio's
/// blocking receive would panic inside a runtime, so threads get a std
/// channel).
enum Reply<T> {
    Task(oneshot::Sender<T>),
    Thread(mpsc::SyncSender<T>),
}

impl<T> Reply<T> {
    fn send(self, value: T) {
        // The appender may have gone away (a dropped call): nothing to tell.
        let _ = match self {
            Reply::Task(tx) => tx.send(value).map_err(drop),
            Reply::Thread(tx) => tx.send(value).map_err(drop),
        };
    }
}

enum Msg {
    Append {
        kind: RecordKind,
        /// The payload's JSON text, written by the appender so that the
        /// writer thread, which every record passes, only chains and hashes.
        payload: Vec<u8>,
        ack: Option<Reply<Ack>>,
        /// Needs no sync of its own (and is acknowledged once written): a
        /// later record of the same call, which is synced, covers it.
        written: bool,
    },
    Close {
        ack: Option<mpsc::SyncSender<Result<(), AuditError>>>,
    },
}

/// An open audit log; cheap to clone, safe to share between threads and
/// tasks. Closing it (or dropping the last clone) writes a signed checkpoint
/// of everything in it.
#[derive(Clone)]
pub struct AuditLog {
    inner: Arc<Inner>,
}

struct Inner {
    tx: mpsc::Sender<Msg>,
    durability: Durability,
    syncs: Arc<AtomicU64>,
    thread: Mutex<Option<JoinHandle<()>>>,
    path: PathBuf,
}

impl Drop for Inner {
    fn drop(&mut self) {
        let _ = self.tx.send(Msg::Close { ack: None });
        if let Some(thread) = self.thread.lock().ok().and_then(|mut t| t.take()) {
            let _ = thread.join();
        }
    }
}

impl std::fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditLog")
            .field("path", &self.inner.path)
            .finish_non_exhaustive()
    }
}

impl AuditLog {
    /// Opens (or creates) the log. An existing log is checked from the start
    /// of its active file; a torn last line (a crash mid-write) is cut off and
    /// the cut is recorded, and a log that was not closed cleanly gets a
    /// `recovered` record. A log damaged anywhere else is refused.
    pub fn open(config: AuditConfig) -> Result<AuditLog, AuditError> {
        if config.checkpoint_every == 0 || config.max_batch == 0 {
            return Err(AuditError::invalid(
                "configuration",
                "checkpoint_every and max_batch must be at least 1",
            ));
        }
        let path = config.path.clone();
        let durability = config.durability;
        let mut writer = Writer::open(config)?;
        if writer.config.durability == Durability::Group {
            writer.syncer = Some(Syncer::start(
                writer.failed.clone(),
                path.clone(),
                writer.syncs.clone(),
            )?);
        }
        let syncs = writer.syncs.clone();
        let (tx, rx) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("audit-writer".into())
            .spawn(move || writer.run(rx))
            .map_err(|e| AuditError::io("start the writer thread for", &path, e))?;
        Ok(AuditLog {
            inner: Arc::new(Inner {
                tx,
                durability,
                syncs,
                thread: Mutex::new(Some(thread)),
                path,
            }),
        })
    }

    /// The active file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// How many times the log has synced its file to storage since it was
    /// opened: the cost that durability adds, for tests and measurements.
    pub fn sync_count(&self) -> u64 {
        self.inner.syncs.load(Ordering::Relaxed)
    }

    fn send(
        &self,
        kind: RecordKind,
        payload: &Value,
        ack: Option<Reply<Ack>>,
    ) -> Result<(), AuditError> {
        self.send_text(kind, json_text(payload), ack, false)
    }

    /// `payload` is JSON text from `serde_json`: it goes into the record as
    /// it is. A `step` of a call asks for no sync of its own (and is
    /// acknowledged once written), unless the log syncs every record
    /// ([`Durability::Fsync`]): the call's outcome record, which its caller
    /// waits for, is synced after it, so one sync per call covers both.
    fn send_text(
        &self,
        kind: RecordKind,
        payload: Vec<u8>,
        ack: Option<Reply<Ack>>,
        step: bool,
    ) -> Result<(), AuditError> {
        self.inner
            .tx
            .send(Msg::Append {
                kind,
                payload,
                ack,
                written: step && self.inner.durability != Durability::Fsync,
            })
            .map_err(|_| AuditError::Closed)
    }

    /// Appends a record and waits until it is committed; returns its
    /// sequence number. Blocks the thread: from async code use
    /// [`AuditLog::record`].
    pub fn append(&self, kind: RecordKind, payload: Value) -> Result<u64, AuditError> {
        let (tx, rx) = mpsc::sync_channel(1);
        self.send(kind, &payload, Some(Reply::Thread(tx)))?;
        rx.recv().map_err(|_| AuditError::Closed)?
    }

    /// Appends a record and waits, without blocking the thread, until it is
    /// committed; returns its sequence number.
    pub async fn record(&self, kind: RecordKind, payload: Value) -> Result<u64, AuditError> {
        let (tx, rx) = oneshot::channel();
        self.send(kind, &payload, Some(Reply::Task(tx)))?;
        rx.await.map_err(|_| AuditError::Closed)?
    }

    /// [`AuditLog::record`] with the payload given as the JSON text
    /// `serde_json` wrote for it, for the layer, which writes its records
    /// straight from the request without building a JSON value. A `step`
    /// of a call (its `received` record) is acknowledged once written: see
    /// [`AuditLog::send_text`].
    pub(crate) async fn record_text(
        &self,
        kind: RecordKind,
        payload: Vec<u8>,
        step: bool,
    ) -> Result<u64, AuditError> {
        let (tx, rx) = oneshot::channel();
        self.send_text(kind, payload, Some(Reply::Task(tx)), step)?;
        rx.await.map_err(|_| AuditError::Closed)?
    }

    /// [`AuditLog::record_detached`] for a step of a call (its decision,
    /// its start) with the payload as JSON text: the call's outcome record
    /// brings it to storage.
    pub(crate) fn record_step(&self, kind: RecordKind, payload: Vec<u8>) {
        let _ = self.send_text(kind, payload, None, true);
    }

    /// Appends a record without waiting for it to be committed, for where
    /// waiting is impossible (a drop). A failure is reported by the next
    /// append that waits.
    pub fn record_detached(&self, kind: RecordKind, payload: Value) {
        let _ = self.send(kind, &payload, None);
    }

    /// Writes a closing checkpoint, syncs and stops the writer, blocking the
    /// thread until it has. Other clones get [`AuditError::Closed`]
    /// afterwards.
    pub fn close(self) -> Result<(), AuditError> {
        let (ack, rx) = mpsc::sync_channel(1);
        self.inner
            .tx
            .send(Msg::Close { ack: Some(ack) })
            .map_err(|_| AuditError::Closed)?;
        let result = rx.recv().map_err(|_| AuditError::Closed)?;
        if let Some(thread) = self.inner.thread.lock().ok().and_then(|mut t| t.take()) {
            let _ = thread.join();
        }
        result
    }
}

/// The compact JSON text of a payload.
fn json_text(payload: &Value) -> Vec<u8> {
    let mut text = Vec::with_capacity(256);
    // Writing a JSON value into memory cannot fail: its keys are strings.
    let _ = serde_json::to_writer(&mut text, payload);
    text
}

/// Takes the exclusive lock of the log at `path` (on `<path>.lock`), waiting
/// at most `wait` for another writer to let go.
fn lock_log(path: &Path, wait: Duration) -> Result<File, AuditError> {
    let mut lock_path = path.as_os_str().to_owned();
    lock_path.push(".lock");
    let lock_path = PathBuf::from(lock_path);
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| AuditError::io("open the lock file", &lock_path, e))?;
    let started = Instant::now();
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(file),
            Err(std::fs::TryLockError::WouldBlock) if started.elapsed() < wait => {
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(AuditError::InUse {
                    path: path.to_path_buf(),
                    lock: lock_path,
                    waited_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
                });
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(AuditError::io("lock", &lock_path, e));
            }
        }
    }
}

/// The files of the log whose active file is `path`, oldest first: the
/// rotated ones, then the active one if it exists.
pub fn log_files(path: &Path) -> Result<Vec<PathBuf>, AuditError> {
    let dir = parent(path);
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| AuditError::invalid("configuration", "the log path has no file name"))?;
    let prefix = format!("{name}.");
    let mut rotated: Vec<PathBuf> = fs::read_dir(&dir)
        .map_err(|e| AuditError::io("list", &dir, e))?
        .filter_map(|e| e.ok())
        .filter(|e| {
            e.file_name().to_str().is_some_and(|n| {
                n.strip_prefix(&prefix)
                    .is_some_and(|s| s.len() == 20 && s.bytes().all(|b| b.is_ascii_digit()))
            })
        })
        .map(|e| e.path())
        .collect();
    rotated.sort();
    if path.exists() {
        rotated.push(path.to_owned());
    }
    Ok(rotated)
}

fn parent(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    }
}

/// Where a file of the log leaves off.
struct Tail {
    next_seq: u64,
    prev: Hash,
    frontier: Frontier,
    good_len: u64,
    torn_bytes: u64,
    closed: bool,
}

/// Reads one file of the log: checks its records and chain from its
/// `file_started` record, and finds a torn last line.
fn scan(path: &Path) -> Result<Option<Tail>, AuditError> {
    let mut bytes = Vec::new();
    File::open(path)
        .and_then(|mut f| f.read_to_end(&mut bytes))
        .map_err(|e| AuditError::io("read", path, e))?;
    let complete = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let torn_bytes = (bytes.len() - complete) as u64;
    let tampered = |tamper, line: usize, seq, detail: String| AuditError::Tampered {
        tamper,
        file: path.to_owned(),
        line: line as u64 + 1,
        seq,
        detail,
    };
    let mut tail: Option<Tail> = None;
    let lines = match complete {
        0 => Vec::new(),
        n => bytes[..n - 1].split(|&b| b == b'\n').collect(),
    };
    for (i, line) in lines.into_iter().enumerate() {
        let (rec, prev, hash) = match record::decode(line) {
            Ok(r) => r,
            Err(LineFault::Malformed(d)) => return Err(tampered(Tamper::Malformed, i, None, d)),
            Err(LineFault::HashMismatch(seq)) => {
                return Err(tampered(
                    Tamper::Edited,
                    i,
                    seq,
                    "the record does not match its hash".into(),
                ));
            }
        };
        let t = match tail.as_mut() {
            None => {
                if rec.kind != RecordKind::FileStarted {
                    return Err(tampered(
                        Tamper::Malformed,
                        i,
                        Some(rec.seq),
                        "a log file starts with a file_started record".into(),
                    ));
                }
                let frontier = header_frontier(rec.seq, &rec.payload).ok_or_else(|| {
                    tampered(Tamper::Malformed, i, Some(rec.seq), "bad frontier".into())
                })?;
                tail.insert(Tail {
                    next_seq: rec.seq,
                    prev,
                    frontier,
                    good_len: 0,
                    torn_bytes,
                    closed: false,
                })
            }
            Some(t) => t,
        };
        if rec.seq != t.next_seq || prev != t.prev {
            return Err(tampered(
                Tamper::BrokenChain,
                i,
                Some(rec.seq),
                format!("expected record {} chained to the one before", t.next_seq),
            ));
        }
        t.next_seq += 1;
        t.prev = hash;
        t.frontier.push(leaf_hash(line));
        t.good_len += line.len() as u64 + 1;
        t.closed = rec.kind == RecordKind::Checkpoint && rec.payload["reason"] == "close";
    }
    Ok(tail.or_else(|| {
        // Nothing complete: a file whose very first line was torn.
        (torn_bytes > 0).then(|| Tail {
            next_seq: 0,
            prev: [0; 32],
            frontier: Frontier::new(),
            good_len: 0,
            torn_bytes,
            closed: false,
        })
    }))
}

pub(crate) fn header_frontier(seq: u64, payload: &Value) -> Option<Frontier> {
    let peaks = payload["frontier"]
        .as_array()?
        .iter()
        .map(|p| p.as_str().and_then(unhex32))
        .collect::<Option<Vec<_>>>()?;
    Frontier::from_parts(seq, peaks)
}

fn sync_dir(path: &Path) -> Result<(), AuditError> {
    let dir = parent(path);
    File::open(&dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| AuditError::io("sync the directory", dir, e))
}

struct Writer {
    config: AuditConfig,
    file: Arc<File>,
    file_len: u64,
    next_seq: u64,
    prev: Hash,
    frontier: Frontier,
    since_checkpoint: u64,
    buf: Vec<u8>,
    /// The time written into the records of the batch being encoded: one
    /// clock read and one formatting per batch, not per record.
    time: Option<String>,
    acks: Vec<(Reply<Ack>, u64)>,
    /// Acknowledged once the batch is written, without waiting for its sync.
    written_acks: Vec<(Reply<Ack>, u64)>,
    /// Whether the batch holds a record that a sync must cover now; the
    /// others (those acknowledged on write) wait for the next sync, which a
    /// later record of the same call brings.
    needs_sync: bool,
    /// How many times the file has been synced, shared with the log.
    syncs: Arc<AtomicU64>,
    failed: Failure,
    file_opened: Instant,
    syncer: Option<Syncer>,
    /// Held while the writer lives: two writers would break the chain.
    _lock: File,
}

impl Writer {
    fn open(config: AuditConfig) -> Result<Writer, AuditError> {
        let path = config.path.clone();
        fs::create_dir_all(parent(&path))
            .map_err(|e| AuditError::io("create the directory of", &path, e))?;
        let lock = lock_log(&path, config.lock_wait)?;
        let exists = path.exists();
        let mut active = if exists { scan(&path)? } else { None };
        if exists && active.as_ref().is_none_or(|t| t.good_len == 0) {
            // Empty, or only a torn first line: the file was being created
            // when the process died. Nothing in it was ever acknowledged.
            fs::remove_file(&path).map_err(|e| AuditError::io("remove", &path, e))?;
            active = None;
        }
        if let Some(tail) = active {
            let file = OpenOptions::new()
                .append(true)
                .open(&path)
                .map_err(|e| AuditError::io("open", &path, e))?;
            if tail.torn_bytes > 0 {
                file.set_len(tail.good_len)
                    .and_then(|()| file.sync_all())
                    .map_err(|e| AuditError::io("cut the torn last line of", &path, e))?;
            }
            let mut w = Writer::with(config, file, tail.good_len, &tail, lock);
            if !tail.closed || tail.torn_bytes > 0 {
                w.push_value(
                    RecordKind::Recovered,
                    &json!({"uncleanShutdown": !tail.closed, "cutBytes": tail.torn_bytes}),
                );
                w.commit(true)?;
            }
            return Ok(w);
        }
        // No active file: continue after the last rotated one, if any.
        let files = log_files(&path)?;
        let tail = match files.last() {
            Some(last) => {
                let tail = scan(last)?.filter(|t| t.torn_bytes == 0).ok_or_else(|| {
                    AuditError::Tampered {
                        tamper: Tamper::Truncated,
                        file: last.clone(),
                        line: 1,
                        seq: None,
                        detail: "a rotated file is incomplete".into(),
                    }
                })?;
                Some(tail)
            }
            None => None,
        };
        let fresh = Tail {
            next_seq: 0,
            prev: [0; 32],
            frontier: Frontier::new(),
            good_len: 0,
            torn_bytes: 0,
            closed: true,
        };
        let previous = files
            .last()
            .and_then(|p| p.file_name())
            .map(|n| n.to_string_lossy().into_owned());
        let mut w = Writer::with(
            config,
            create(&path)?,
            0,
            tail.as_ref().unwrap_or(&fresh),
            lock,
        );
        w.start_file(previous);
        w.commit(true)?;
        sync_dir(&path)?;
        Ok(w)
    }

    fn with(config: AuditConfig, file: File, file_len: u64, tail: &Tail, lock: File) -> Writer {
        Writer {
            config,
            file: Arc::new(file),
            file_len,
            next_seq: tail.next_seq,
            prev: tail.prev,
            frontier: tail.frontier.clone(),
            since_checkpoint: 0,
            buf: Vec::with_capacity(1 << 16),
            time: None,
            acks: Vec::new(),
            written_acks: Vec::new(),
            needs_sync: false,
            syncs: Arc::new(AtomicU64::new(0)),
            failed: Failure::default(),
            file_opened: Instant::now(),
            syncer: None,
            _lock: lock,
        }
    }

    fn start_file(&mut self, previous: Option<String>) {
        let peaks: Vec<String> = self.frontier.peaks().iter().map(|p| hex(p)).collect();
        self.push_value(
            RecordKind::FileStarted,
            &json!({"frontier": peaks, "previous": previous}),
        );
    }

    /// The writer's own records (file starts, checkpoints, recoveries):
    /// each is synced with its batch.
    fn push_value(&mut self, kind: RecordKind, payload: &Value) -> u64 {
        self.needs_sync = true;
        self.push(kind, &json_text(payload))
    }

    /// Encodes a record, given its payload's JSON text, into the pending
    /// batch; returns its sequence number.
    fn push(&mut self, kind: RecordKind, payload: &[u8]) -> u64 {
        let seq = self.next_seq;
        let time = self
            .time
            .get_or_insert_with(|| record::format_time(SystemTime::now()));
        let start = self.buf.len();
        let hash = record::encode_into(&mut self.buf, seq, time, kind, payload, &self.prev);
        let line = &self.buf[start..];
        tracing::info!(
            target: "rustchain_tools_audit",
            seq,
            kind = kind.as_str(),
            record = std::str::from_utf8(line).unwrap_or_default(),
            "audit record"
        );
        self.frontier.push(leaf_hash(line));
        self.buf.push(b'\n');
        self.prev = hash;
        self.next_seq += 1;
        seq
    }

    fn push_checkpoint(&mut self, reason: &str) {
        let checkpoint = Checkpoint {
            origin: self.config.key.name().to_owned(),
            size: self.frontier.size(),
            root: self.frontier.root(),
        };
        let note = self.config.key.sign(&checkpoint);
        self.push_value(
            RecordKind::Checkpoint,
            &json!({"reason": reason, "note": note}),
        );
        self.since_checkpoint = 0;
    }

    /// Writes the pending batch (and syncs it unless durability is `None`
    /// and `force` is false), then acknowledges its records.
    fn commit(&mut self, force: bool) -> Result<(), AuditError> {
        if self.buf.is_empty() && self.acks.is_empty() && self.written_acks.is_empty() {
            return Ok(());
        }
        let mut result = match self.failed.get() {
            Some(m) => Err(m),
            None => self.write_out(),
        };
        self.buf.clear();
        self.time = None;
        let needs_sync = std::mem::take(&mut self.needs_sync);
        for (ack, seq) in self.written_acks.drain(..) {
            ack.send(match &result {
                Ok(()) => Ok(seq),
                Err(message) => Err(AuditError::WriteFailed {
                    path: self.config.path.clone(),
                    message: message.clone(),
                }),
            });
        }
        if result.is_ok() && (needs_sync || force) {
            match (force, self.config.durability, &self.syncer) {
                // Group commit: the syncer thread syncs this batch while the
                // next one is encoded and written, and acknowledges it.
                (false, Durability::Group, Some(syncer)) => {
                    let job = SyncJob {
                        file: self.file.clone(),
                        acks: std::mem::take(&mut self.acks),
                    };
                    if syncer.tx.send(job).is_err() {
                        result = Err("the sync thread is gone".to_owned());
                    }
                }
                (false, Durability::None, _) => {}
                _ => {
                    result = self.file.sync_data().map_err(|e| e.to_string());
                    self.syncs.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        match result {
            Ok(()) => {
                for (ack, seq) in self.acks.drain(..) {
                    ack.send(Ok(seq));
                }
                Ok(())
            }
            Err(message) => {
                // Fail closed: this batch and everything after it is refused.
                self.failed.set(&message);
                let error = self.failed.error(&self.config.path);
                for (ack, _) in self.acks.drain(..) {
                    ack.send(Err(self.failed.error(&self.config.path)));
                }
                Err(error)
            }
        }
    }

    fn write_out(&mut self) -> Result<(), String> {
        match (&*self.file).write_all(&self.buf) {
            Ok(()) => {
                self.file_len += self.buf.len() as u64;
                Ok(())
            }
            Err(e) => {
                // Best effort: leave no partial record behind. Reopening cuts
                // one off anyway.
                let _ = self.file.set_len(self.file_len);
                Err(e.to_string())
            }
        }
    }

    fn rotate_if_due(&mut self) -> Result<(), AuditError> {
        let full = self
            .config
            .rotate_bytes
            .is_some_and(|limit| self.file_len >= limit);
        let old = self
            .config
            .rotate_every
            .is_some_and(|every| self.file_opened.elapsed() >= every);
        if !(full || old) || self.failed.is_set() {
            return Ok(());
        }
        let result = self.rotate();
        if let Err(e) = &result {
            self.failed.set(&e.to_string());
        }
        result
    }

    fn rotate(&mut self) -> Result<(), AuditError> {
        self.push_checkpoint("rotate");
        self.commit(true)?;
        let path = self.config.path.clone();
        let first = first_seq(&path)?;
        let mut name = path.file_name().unwrap_or_default().to_owned();
        name.push(format!(".{first:020}"));
        let rotated = path.with_file_name(&name);
        fs::rename(&path, &rotated).map_err(|e| AuditError::io("rotate", &path, e))?;
        self.file = Arc::new(create(&path)?);
        self.file_len = 0;
        self.file_opened = Instant::now();
        self.start_file(Some(name.to_string_lossy().into_owned()));
        self.commit(true)?;
        sync_dir(&path)
    }

    fn run(&mut self, rx: mpsc::Receiver<Msg>) {
        let mut batch = Vec::new();
        loop {
            let Ok(first) = rx.recv() else {
                // Every handle is gone without a close; close anyway.
                let _ = self.close();
                return;
            };
            batch.push(first);
            if self.config.durability != Durability::Fsync {
                while batch.len() < self.config.max_batch {
                    match rx.try_recv() {
                        Ok(m) => batch.push(m),
                        Err(_) => break,
                    }
                }
            }
            for msg in batch.drain(..) {
                match msg {
                    Msg::Append {
                        kind,
                        payload,
                        ack,
                        written,
                    } => {
                        if self.failed.is_set() {
                            if let Some(ack) = ack {
                                ack.send(Err(self.failed.error(&self.config.path)));
                            }
                            continue;
                        }
                        let seq = self.push(kind, &payload);
                        self.needs_sync |= !written;
                        match ack {
                            Some(ack) if written => self.written_acks.push((ack, seq)),
                            Some(ack) => self.acks.push((ack, seq)),
                            None => {}
                        }
                        self.since_checkpoint += 1;
                        if self.since_checkpoint >= self.config.checkpoint_every {
                            self.push_checkpoint("periodic");
                        }
                        if self.config.durability == Durability::Fsync {
                            let _ = self.commit(false);
                        }
                    }
                    Msg::Close { ack } => {
                        let result = self.close();
                        if let Some(ack) = ack {
                            let _ = ack.send(result);
                        }
                        return;
                    }
                }
            }
            if self.commit(false).is_ok() {
                let _ = self.rotate_if_due();
            }
        }
    }

    fn close(&mut self) -> Result<(), AuditError> {
        let result = self.close_file();
        // Every acknowledgement is out before the close is.
        if let Some(syncer) = self.syncer.take() {
            drop(syncer.tx);
            let _ = syncer.thread.join();
        }
        result
    }

    fn close_file(&mut self) -> Result<(), AuditError> {
        self.commit(false)?;
        if self.failed.is_set() {
            return Err(self.failed.error(&self.config.path));
        }
        self.push_checkpoint("close");
        self.commit(true)
    }
}

/// A write or sync failure, shared by the writer and the sync thread: once
/// set, every append is refused.
#[derive(Clone, Default)]
struct Failure(Arc<FailureState>);

#[derive(Default)]
struct FailureState {
    /// Whether `message` is set: read for every record, so without a lock.
    set: AtomicBool,
    message: Mutex<Option<String>>,
}

impl Failure {
    fn is_set(&self) -> bool {
        self.0.set.load(Ordering::Acquire)
    }

    fn get(&self) -> Option<String> {
        if !self.is_set() {
            return None;
        }
        self.0
            .message
            .lock()
            .map_or_else(|p| p.into_inner().clone(), |m| m.clone())
    }

    fn set(&self, message: &str) {
        let mut m = self.0.message.lock().unwrap_or_else(|p| p.into_inner());
        m.get_or_insert_with(|| message.to_owned());
        self.0.set.store(true, Ordering::Release);
    }

    fn error(&self, path: &Path) -> AuditError {
        AuditError::WriteFailed {
            path: path.to_owned(),
            message: self.get().unwrap_or_default(),
        }
    }
}

/// Records written to `file` and waiting for a sync before they are
/// acknowledged.
struct SyncJob {
    file: Arc<File>,
    acks: Vec<(Reply<Ack>, u64)>,
}

struct Syncer {
    tx: mpsc::Sender<SyncJob>,
    thread: JoinHandle<()>,
}

/// The longest a sync waits for more records to join it.
const MAX_GATHER: Duration = Duration::from_millis(1);

impl Syncer {
    fn start(failed: Failure, path: PathBuf, syncs: Arc<AtomicU64>) -> Result<Syncer, AuditError> {
        let (tx, rx) = mpsc::channel::<SyncJob>();
        let error_path = path.clone();
        let thread = std::thread::Builder::new()
            .name("audit-sync".into())
            .spawn(move || {
                // How many waiters the last sync released, and how long it
                // took.
                let (mut released, mut took) = (0usize, Duration::ZERO);
                while let Ok(first) = rx.recv() {
                    let mut jobs: Vec<SyncJob> =
                        std::iter::once(first).chain(rx.try_iter()).collect();
                    let mut waiters: usize = jobs.iter().map(|j| j.acks.len()).sum();
                    // The appenders the last sync released come back
                    // together, but not at once: syncing the first of them
                    // alone would make the rest wait for a second sync.
                    // So wait for as many as were released, at most as
                    // long as a sync takes (which they would otherwise
                    // wait anyway). After a sync that released at most
                    // one, nothing waits.
                    if waiters < released {
                        let deadline = Instant::now() + took.min(MAX_GATHER);
                        while waiters < released {
                            let left = deadline.saturating_duration_since(Instant::now());
                            match rx.recv_timeout(left) {
                                Ok(job) => {
                                    let before = jobs.len();
                                    jobs.push(job);
                                    jobs.extend(rx.try_iter());
                                    waiters +=
                                        jobs[before..].iter().map(|j| j.acks.len()).sum::<usize>();
                                }
                                Err(_) => break,
                            }
                        }
                    }
                    // One sync covers everything written before it started.
                    let started = Instant::now();
                    let mut ok = !failed.is_set();
                    let mut synced: Vec<&Arc<File>> = Vec::new();
                    for job in &jobs {
                        if ok && !synced.iter().any(|f| Arc::ptr_eq(f, &job.file)) {
                            if let Err(e) = job.file.sync_data() {
                                failed.set(&e.to_string());
                                ok = false;
                            }
                            syncs.fetch_add(1, Ordering::Relaxed);
                            synced.push(&job.file);
                        }
                    }
                    took = started.elapsed();
                    released = waiters;
                    for job in jobs {
                        for (ack, seq) in job.acks {
                            ack.send(if ok {
                                Ok(seq)
                            } else {
                                Err(failed.error(&path))
                            });
                        }
                    }
                }
            })
            .map_err(|e| AuditError::io("start the sync thread for", error_path, e))?;
        Ok(Syncer { tx, thread })
    }
}

fn create(path: &Path) -> Result<File, AuditError> {
    OpenOptions::new()
        .append(true)
        .create_new(true)
        .open(path)
        .map_err(|e| AuditError::io("create", path, e))
}

/// The sequence number of the first record of a file.
fn first_seq(path: &Path) -> Result<u64, AuditError> {
    let mut bytes = Vec::new();
    File::open(path)
        .and_then(|mut f| f.read_to_end(&mut bytes))
        .map_err(|e| AuditError::io("read", path, e))?;
    let line = bytes.split(|&b| b == b'\n').next().unwrap_or_default();
    record::decode(line)
        .map(|(r, _, _)| r.seq)
        .map_err(|_| AuditError::Tampered {
            tamper: Tamper::Malformed,
            file: path.to_owned(),
            line: 1,
            seq: None,
            detail: "the first record cannot be read".into(),
        })
}
