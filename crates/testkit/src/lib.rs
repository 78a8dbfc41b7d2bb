//! Test support code: panicking with a clear message is the right failure mode here.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

//! Helpers for tests: start the `schloss` binary as a real process on 127.0.0.1 with a fresh
//! temporary data directory, learn its port from its stdout, kill and restart it.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// Settings a test may change; everything else comes from a minimal valid config.
#[derive(Debug, Clone)]
pub struct BrokerOptions {
    pub num_partitions: i32,
    pub auto_create_topics: bool,
    pub retention_check_interval_ms: u64,
    /// `[topic_defaults]` entries by Kafka topic config name.
    pub topic_defaults: Vec<(String, String)>,
    /// Extra environment, e.g. `RUST_LOG`.
    pub env: Vec<(String, String)>,
}

impl Default for BrokerOptions {
    fn default() -> Self {
        Self {
            num_partitions: 1,
            auto_create_topics: true,
            retention_check_interval_ms: 300_000,
            topic_defaults: Vec::new(),
            env: Vec::new(),
        }
    }
}

/// A running broker process. Killed when dropped.
pub struct BrokerProcess {
    child: Option<Child>,
    pub addr: SocketAddr,
    dir: tempfile::TempDir,
    options: BrokerOptions,
    stderr_log: PathBuf,
}

/// Path of the `schloss` binary: `$SCHLOSS_BIN`, else `target/<profile>/schloss` next to the
/// running test executable.
pub fn schloss_bin() -> PathBuf {
    if let Ok(p) = std::env::var("SCHLOSS_BIN") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().unwrap_or_default();
    // target/debug/deps/test-xxxx -> target/debug/schloss
    let mut dir = exe.parent().map(Path::to_path_buf).unwrap_or_default();
    if dir.ends_with("deps") {
        dir.pop();
    }
    dir.join("schloss")
}

impl BrokerProcess {
    pub fn start() -> Self {
        Self::start_with(BrokerOptions::default())
    }

    pub fn start_with(options: BrokerOptions) -> Self {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let stderr_log = dir.path().join("broker.log");
        let mut broker = Self {
            child: None,
            addr: "127.0.0.1:0".parse().unwrap_or_else(|e| panic!("{e}")),
            dir,
            options,
            stderr_log,
        };
        broker.launch(0);
        broker
    }

    pub fn bootstrap(&self) -> String {
        self.addr.to_string()
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// The broker's stderr so far (its log).
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.stderr_log).unwrap_or_default()
    }

    fn write_config(&self, port: u16) -> PathBuf {
        let o = &self.options;
        let mut text = format!(
            "[broker]\nnode_id = 1\ndata_dir = {:?}\nnum_partitions = {}\nauto_create_topics = {}\nretention_check_interval_ms = {}\n\n[topic_defaults]\n",
            self.data_dir().display().to_string(),
            o.num_partitions,
            o.auto_create_topics,
            o.retention_check_interval_ms
        );
        for (k, v) in &o.topic_defaults {
            text.push_str(&format!("{k:?} = {v:?}\n"));
        }
        text.push_str(&format!(
            "\n[[listeners]]\nname = \"PLAINTEXT\"\naddress = \"127.0.0.1:{port}\"\nadvertised = \"127.0.0.1:{port}\"\nsecurity_protocol = \"PLAINTEXT\"\ntenant = \"default\"\n"
        ));
        let path = self.dir.path().join("schloss.toml");
        std::fs::write(&path, text).unwrap_or_else(|e| panic!("writing config: {e}"));
        path
    }

    fn launch(&mut self, port: u16) {
        let config = self.write_config(port);
        let stderr = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.stderr_log)
            .unwrap_or_else(|e| panic!("log file: {e}"));
        let mut cmd = Command::new(schloss_bin());
        cmd.arg("serve")
            .arg("--config")
            .arg(&config)
            .stdout(Stdio::piped())
            .stderr(stderr)
            .stdin(Stdio::null());
        for (k, v) in &self.options.env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().unwrap_or_else(|e| {
            panic!(
                "starting {}: {e} (build it with `cargo build --bin schloss`)",
                schloss_bin().display()
            )
        });
        let stdout = child.stdout.take().unwrap_or_else(|| panic!("no stdout"));
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(addr) = line.strip_prefix("schloss: listener PLAINTEXT on ") {
                    let _ = tx.send(addr.trim().to_owned());
                }
            }
        });
        let addr = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(a) => a,
            Err(_) => {
                let _ = child.kill();
                panic!("broker did not start; log:\n{}", self.log());
            }
        };
        self.addr = addr
            .parse()
            .unwrap_or_else(|e| panic!("bad address {addr}: {e}"));
        self.child = Some(child);
    }

    /// SIGKILL: no shutdown code runs, as in a crash or power cut (page cache aside).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the broker again on the same port and data directory.
    pub fn restart(&mut self) {
        self.kill();
        let port = self.addr.port();
        self.launch(port);
    }

    pub fn is_running(&mut self) -> bool {
        match self.child.as_mut() {
            Some(c) => matches!(c.try_wait(), Ok(None)),
            None => false,
        }
    }
}

impl Drop for BrokerProcess {
    fn drop(&mut self) {
        self.kill();
    }
}
