//! A real PostgreSQL server for the store's tests: a fresh cluster in a
//! temporary directory on 127.0.0.1, started by the test and stopped when
//! it is dropped.
//!
//! The server's binaries are looked up in `RUSTCHAIN_POSTGRES_BIN`, on the
//! PATH, then in Debian's `/usr/lib/postgresql/*/bin`. Without them the
//! PostgreSQL half of the suite is skipped with a message, unless
//! `RUSTCHAIN_REQUIRE_POSTGRES=1` (set by `.ci/run`), which makes it fail.
//! PostgreSQL refuses to run as root, so as root the server runs as the
//! `postgres` user that Debian's package creates.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Command, Output};

pub struct Postgres {
    dir: tempfile::TempDir,
    bin: PathBuf,
    run_as: Option<String>,
    port: u16,
}

fn find_bin() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("RUSTCHAIN_POSTGRES_BIN") {
        return Some(PathBuf::from(dir));
    }
    let on_path = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .find(|dir| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file())
    });
    if on_path.is_some() {
        return on_path;
    }
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|bin| bin.join("initdb").is_file())
        .collect();
    versions.sort();
    versions.pop()
}

fn run(what: &str, command: &mut Command) -> Output {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("PostgreSQL: cannot run {what}: {e}"));
    assert!(
        output.status.success(),
        "PostgreSQL: {what} failed: {}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

impl Postgres {
    /// Starts a server, or returns `None` (after saying why) when there is
    /// no PostgreSQL here and none is required.
    pub fn start() -> Option<Postgres> {
        let required = std::env::var("RUSTCHAIN_REQUIRE_POSTGRES").is_ok_and(|v| v == "1");
        let Some(bin) = find_bin() else {
            assert!(
                !required,
                "RUSTCHAIN_REQUIRE_POSTGRES=1 but no PostgreSQL binaries were found \
                 (install Debian's `postgresql` or set RUSTCHAIN_POSTGRES_BIN)"
            );
            eprintln!(
                "SKIPPED: the PostgreSQL half of the store suite: no initdb/pg_ctl found \
                 (install Debian's `postgresql` or set RUSTCHAIN_POSTGRES_BIN)"
            );
            return None;
        };
        let dir = tempfile::Builder::new()
            .prefix("rustchain-market-pg")
            .tempdir()
            .expect("a temporary directory");
        let run_as = is_root().then(|| "postgres".to_owned());
        if let Some(user) = &run_as {
            run(
                "chown",
                Command::new("chown")
                    .arg(format!("{user}:"))
                    .arg(dir.path()),
            );
        }
        // A free port: bind, read it, let it go before the server takes it.
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let server = Postgres {
            dir,
            bin,
            run_as,
            port,
        };
        let data = server.data();
        run(
            "initdb",
            &mut server.command(
                "initdb",
                &[
                    "-D",
                    data.to_str().expect("a UTF-8 temporary path"),
                    "-U",
                    "postgres",
                    "--auth=trust",
                    "-E",
                    "UTF8",
                    "--no-sync",
                ],
            ),
        );
        let options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -k {} -c fsync=off",
            server.port,
            server.dir.path().display()
        );
        let log = server.dir.path().join("server.log");
        run(
            "pg_ctl start",
            &mut server.command(
                "pg_ctl",
                &[
                    "-D",
                    data.to_str().expect("a UTF-8 temporary path"),
                    "-l",
                    log.to_str().expect("a UTF-8 temporary path"),
                    "-o",
                    &options,
                    "-w",
                    "start",
                ],
            ),
        );
        Some(server)
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn command(&self, program: &str, args: &[&str]) -> Command {
        let program = self.bin.join(program);
        match &self.run_as {
            Some(user) => {
                let mut command = Command::new("runuser");
                command.args(["-u", user, "--"]).arg(program).args(args);
                command
            }
            None => {
                let mut command = Command::new(program);
                command.args(args);
                command
            }
        }
    }

    /// The URL of database `name` on this server (created by the caller).
    pub fn url(&self, name: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{name}", self.port)
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let data = self.data();
        let _ = self
            .command(
                "pg_ctl",
                &[
                    "-D",
                    &data.to_string_lossy(),
                    "-m",
                    "immediate",
                    "-w",
                    "stop",
                ],
            )
            .output();
    }
}
