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
    /// Listeners; the default is one `PLAINTEXT` listener of tenant `default`.
    pub listeners: Vec<ListenerSpec>,
    /// Raw TOML lines inside the `[broker]` table, e.g. `max_connections = 10`.
    pub broker_extra: String,
    /// Raw TOML appended before the listeners, e.g. an `[auth]` table. Relative paths in it
    /// resolve in the broker's temporary directory (its working directory).
    pub extra_config: String,
    /// `schloss` commands run in that directory before the first start, e.g.
    /// `["certs", "dev", "--dir", "certs"]` or `["users", "add", "default/alice", ...]`.
    pub setup: Vec<Vec<String>>,
}

/// One listener of a test broker; it binds 127.0.0.1 on a free port.
#[derive(Debug, Clone)]
pub struct ListenerSpec {
    pub name: String,
    pub security_protocol: String,
    /// Raw TOML inside the listener's table (keys first, then `[listeners.tls]` if any).
    pub extra: String,
}

impl ListenerSpec {
    pub fn new(name: &str, security_protocol: &str, extra: &str) -> Self {
        Self {
            name: name.to_owned(),
            security_protocol: security_protocol.to_owned(),
            extra: extra.to_owned(),
        }
    }
}

impl Default for BrokerOptions {
    fn default() -> Self {
        Self {
            num_partitions: 1,
            auto_create_topics: true,
            retention_check_interval_ms: 300_000,
            topic_defaults: Vec::new(),
            env: Vec::new(),
            listeners: vec![ListenerSpec::new("PLAINTEXT", "PLAINTEXT", "")],
            broker_extra: String::new(),
            extra_config: String::new(),
            setup: Vec::new(),
        }
    }
}

/// A running broker process. Killed when dropped.
pub struct BrokerProcess {
    child: Option<Child>,
    /// Address of the first listener.
    pub addr: SocketAddr,
    addrs: Vec<(String, SocketAddr)>,
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
            addrs: Vec::new(),
            dir,
            options,
            stderr_log,
        };
        for command in &broker.options.setup {
            let args: Vec<&str> = command.iter().map(String::as_str).collect();
            run_cli(broker.dir.path(), &args);
        }
        broker.launch();
        broker
    }

    /// The temporary directory holding config, data and log (certificates may go here too).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// `host:port` of the named listener.
    pub fn bootstrap_of(&self, listener: &str) -> String {
        self.addrs
            .iter()
            .find(|(n, _)| n == listener)
            .map(|(_, a)| a.to_string())
            .unwrap_or_else(|| panic!("no listener named {listener}"))
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

    fn write_config(&self) -> PathBuf {
        let o = &self.options;
        let mut text = format!(
            "[broker]\nnode_id = 1\ndata_dir = {:?}\nnum_partitions = {}\nauto_create_topics = {}\nretention_check_interval_ms = {}\n{}\n\n[topic_defaults]\n",
            self.data_dir().display().to_string(),
            o.num_partitions,
            o.auto_create_topics,
            o.retention_check_interval_ms,
            o.broker_extra
        );
        for (k, v) in &o.topic_defaults {
            text.push_str(&format!("{k:?} = {v:?}\n"));
        }
        text.push('\n');
        text.push_str(&o.extra_config);
        text.push('\n');
        for l in &o.listeners {
            // On restart keep each listener's port, so clients reconnect to the same address.
            let port = self
                .addrs
                .iter()
                .find(|(n, _)| *n == l.name)
                .map_or(0, |(_, a)| a.port());
            text.push_str(&format!(
                "\n[[listeners]]\nname = {:?}\naddress = \"127.0.0.1:{port}\"\nadvertised = \"127.0.0.1:{port}\"\nsecurity_protocol = {:?}\ntenant = \"default\"\n{}\n",
                l.name, l.security_protocol, l.extra
            ));
        }
        let path = self.dir.path().join("schloss.toml");
        std::fs::write(&path, text).unwrap_or_else(|e| panic!("writing config: {e}"));
        path
    }

    fn launch(&mut self) {
        let config = self.write_config();
        let stderr = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.stderr_log)
            .unwrap_or_else(|e| panic!("log file: {e}"));
        let mut cmd = Command::new(schloss_bin());
        cmd.arg("serve")
            .arg("--config")
            .arg(&config)
            .current_dir(self.dir.path())
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
                if let Some(rest) = line.strip_prefix("schloss: listener ") {
                    if let Some((name, addr)) = rest.split_once(" on ") {
                        let _ = tx.send((name.to_owned(), addr.trim().to_owned()));
                    }
                }
            }
        });
        let mut addrs = Vec::new();
        while addrs.len() < self.options.listeners.len() {
            match rx.recv_timeout(Duration::from_secs(60)) {
                Ok((name, addr)) => {
                    let addr: SocketAddr = addr
                        .parse()
                        .unwrap_or_else(|e| panic!("bad address {addr}: {e}"));
                    addrs.push((name, addr));
                }
                Err(_) => {
                    let _ = child.kill();
                    panic!("broker did not start; log:\n{}", self.log());
                }
            }
        }
        self.addr = addrs.first().map(|(_, a)| *a).unwrap_or(self.addr);
        self.addrs = addrs;
        self.child = Some(child);
    }

    /// SIGKILL: no shutdown code runs, as in a crash or power cut (page cache aside).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the broker again on the same ports and data directory.
    pub fn restart(&mut self) {
        self.kill();
        self.launch();
    }

    /// Runs the `schloss` binary with `args` (e.g. `users add`, `certs dev`) in the broker's
    /// directory and returns its stdout; panics if it fails.
    pub fn cli(&self, args: &[&str]) -> String {
        run_cli(self.dir.path(), args)
    }

    /// Sends SIGHUP (TLS certificate reload).
    pub fn sighup(&self) {
        if let Some(child) = &self.child {
            let _ = Command::new("kill")
                .args(["-HUP", &child.id().to_string()])
                .status();
        }
    }

    pub fn is_running(&mut self) -> bool {
        match self.child.as_mut() {
            Some(c) => matches!(c.try_wait(), Ok(None)),
            None => false,
        }
    }
}

/// Runs the `schloss` binary with `args` in `dir`; panics with its stderr if it fails.
pub fn run_cli(dir: &Path, args: &[&str]) -> String {
    let out = Command::new(schloss_bin())
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("running schloss {args:?}: {e}"));
    if !out.status.success() {
        panic!(
            "schloss {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    String::from_utf8_lossy(&out.stdout).into_owned()
}

impl Drop for BrokerProcess {
    fn drop(&mut self) {
        self.kill();
    }
}
