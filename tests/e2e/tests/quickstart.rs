//! The README's run command: `schloss` with no arguments serves the embedded default config
//! (data in ./data, plaintext on 127.0.0.1:9092) and `kcat -b localhost:9092 -L` lists it.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

struct KillOnDrop(std::process::Child);
impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn schloss_without_arguments_serves_kcat_on_port_9092() {
    let cwd = tempfile::tempdir().unwrap();
    let mut child = Command::new(schloss_testkit::schloss_bin())
        .current_dir(cwd.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let _guard = KillOnDrop(child);
    let mut lines = BufReader::new(stdout).lines();
    let ready = lines.next().expect("a ready line").unwrap();
    assert_eq!(
        ready, "schloss: listener PLAINTEXT on 127.0.0.1:9092",
        "port 9092 must be free for this test"
    );
    assert!(cwd.path().join("data").is_dir(), "data lives in ./data");

    let out = Command::new("kcat")
        .args(["-b", "localhost:9092", "-L", "-m", "10"])
        .output()
        .expect("kcat is installed (scripts/install-test-deps.sh)");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "kcat -L failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("1 brokers:"), "{text}");
    assert!(text.contains("broker 1 at localhost:9092"), "{text}");

    let produce = Command::new("kcat")
        .args([
            "-b",
            "localhost:9092",
            "-P",
            "-t",
            "quickstart",
            "-z",
            "zstd",
        ])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut stdin = produce.stdin.as_ref().unwrap();
        stdin.write_all(b"one\ntwo\nthree\n").unwrap();
    }
    assert!(produce.wait_with_output().unwrap().status.success());
    std::thread::sleep(Duration::from_millis(100));
    let consumed = Command::new("kcat")
        .args([
            "-b",
            "localhost:9092",
            "-C",
            "-t",
            "quickstart",
            "-o",
            "beginning",
            "-e",
            "-f",
            "%o:%s\n",
        ])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&consumed.stdout),
        "0:one\n1:two\n2:three\n"
    );
}
