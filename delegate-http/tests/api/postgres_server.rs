//! A private PostgreSQL cluster on a spare loopback port, for tests that stop and start the
//! database (the shared one on 5432 is never touched). Run as the `postgres` user when the
//! tests run as root, since PostgreSQL refuses to run as root.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;
use tempfile::TempDir;

/// A PostgreSQL cluster in a temporary directory; stopped and removed on drop.
pub struct PostgresServer {
    dir: TempDir,
    bin: PathBuf,
    port: u16,
}

impl PostgresServer {
    /// Creates a cluster (trust auth, no fsync) and starts it.
    pub async fn start() -> Self {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .ok()
            .and_then(|versions| versions.flatten().map(|v| v.path().join("bin")).max())
            .filter(|bin| bin.join("initdb").exists())
            .expect("PostgreSQL server binaries under /usr/lib/postgresql/*/bin");
        let dir = tempfile::tempdir().expect("temp dir");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("free port");
        let server = Self { dir, bin, port };
        if is_root() {
            let status = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(server.dir.path())
                .status()
                .expect("chown runs");
            assert!(status.success(), "chown the cluster directory");
        }
        let data = server.data();
        server.run(
            "initdb",
            &["-D", &data, "-A", "trust", "-U", "postgres", "--no-sync"],
        );
        server.resume().await;
        server
    }

    fn data(&self) -> String {
        self.dir.path().join("data").display().to_string()
    }

    /// One of the server binaries, to run as `postgres` when we are root.
    fn tool(&self, tool: &str) -> Command {
        let program = self.bin.join(tool);
        if is_root() {
            let mut cmd = Command::new("runuser");
            cmd.args(["-u", "postgres", "--"]).arg(program);
            cmd
        } else {
            Command::new(program)
        }
    }

    /// Runs one of the server binaries and expects success.
    fn run(&self, tool: &str, args: &[&str]) {
        let output = self
            .tool(tool)
            .args(args)
            .output()
            .expect("PostgreSQL tool runs");
        assert!(
            output.status.success(),
            "{tool} {args:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// `postgres://postgres@127.0.0.1:<port>/postgres`.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Stops the server at once (connections are cut, as in a crash or a restart).
    pub fn stop(&self) {
        self.run(
            "pg_ctl",
            &["-D", &self.data(), "-m", "immediate", "-w", "stop"],
        );
    }

    /// Starts the server again on the same port and data, and waits until it accepts.
    pub async fn resume(&self) {
        let options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -c unix_socket_directories={} -c fsync=off",
            self.port,
            self.dir.path().display()
        );
        let log = self.dir.path().join("log").display().to_string();
        self.run(
            "pg_ctl",
            &[
                "-D",
                &self.data(),
                "-o",
                &options,
                "-l",
                &log,
                "-w",
                "start",
            ],
        );
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("PostgreSQL on port {} did not start", self.port);
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

impl Drop for PostgresServer {
    fn drop(&mut self) {
        let data = self.data();
        let stop = ["-D", &data, "-m", "immediate", "stop"];
        let _ = self.tool("pg_ctl").args(stop).output();
    }
}
