//! A real S3-compatible server for tests: `s3s-fs` (the s3s project's S3
//! server over a directory, with Signature V4 checked), started on
//! 127.0.0.1 with one bucket and stopped when dropped. Shared by the market
//! server's tests and the CLI's (`#[path]`), so both find it the same way.
//!
//! The server is `RUSTCHAIN_S3S_FS`, else `s3s-fs` on the PATH or in
//! `~/.cargo/bin` (`cargo install s3s-fs --version 0.14.1 --features
//! binary --locked`). Without it [`S3Server::start`] says so and returns
//! `None`, unless `RUSTCHAIN_REQUIRE_S3=1` (set by `.ci/run`), which makes
//! it fail.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The access key the server accepts.
pub const ACCESS_KEY: &str = "rustchain-test";
/// Its secret.
pub const SECRET_KEY: &str = "rustchain-test-secret";
/// The one bucket there is.
pub const BUCKET: &str = "packages";

/// A running `s3s-fs`, killed when dropped.
pub struct S3Server {
    child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
    /// The directory it keeps buckets in, one directory each.
    pub root: tempfile::TempDir,
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn find_server() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("RUSTCHAIN_S3S_FS") {
        return Some(PathBuf::from(path));
    }
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    if let Some(home) = std::env::var_os("HOME") {
        dirs.push(PathBuf::from(home).join(".cargo/bin"));
    }
    dirs.into_iter()
        .map(|d| d.join("s3s-fs"))
        .find(|p| p.is_file())
}

impl S3Server {
    /// Starts a server with the bucket [`BUCKET`], or returns `None`
    /// (after saying why) when there is none here and none is required.
    pub fn start() -> Option<S3Server> {
        let required = std::env::var("RUSTCHAIN_REQUIRE_S3").is_ok_and(|v| v == "1");
        let Some(bin) = find_server() else {
            assert!(
                !required,
                "RUSTCHAIN_REQUIRE_S3=1 but no s3s-fs was found (cargo install s3s-fs \
                 --version 0.14.1 --features binary --locked, or set RUSTCHAIN_S3S_FS)"
            );
            eprintln!(
                "SKIPPED: a test against S3: no s3s-fs found (cargo install s3s-fs \
                 --version 0.14.1 --features binary --locked, or set RUSTCHAIN_S3S_FS)"
            );
            return None;
        };
        let root = tempfile::tempdir().unwrap();
        // s3s-fs keeps each bucket as a directory of its root.
        std::fs::create_dir(root.path().join(BUCKET)).unwrap();
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let child = Command::new(&bin)
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args(["--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY])
            .arg(root.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
        let server = S3Server { child, addr, root };
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            assert!(Instant::now() < deadline, "s3s-fs did not listen on {addr}");
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(server)
    }

    /// Its endpoint URL.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }
}
