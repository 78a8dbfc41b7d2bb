//! Small helpers: CPU time from /proc, payload generation, percentiles.

use std::time::Instant;

/// User + system CPU seconds of a process (Linux /proc; `None` elsewhere or if it is gone).
pub fn cpu_seconds(pid: Option<u32>) -> Option<f64> {
    let path = match pid {
        Some(p) => format!("/proc/{p}/stat"),
        None => "/proc/self/stat".to_owned(),
    };
    let stat = std::fs::read_to_string(path).ok()?;
    // The command name (field 2) is in parentheses and may contain spaces: split after it.
    let rest = stat.get(stat.rfind(')')? + 1..)?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After ")" the fields start at field 3 (state); utime is field 14, stime field 15.
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / clock_ticks())
}

fn clock_ticks() -> f64 {
    // sysconf(_SC_CLK_TCK) is 100 on every Linux configuration that matters here; avoid libc.
    100.0
}

/// Measures the CPU use of the broker and of this process over one case.
pub struct CpuMeter {
    broker_pid: Option<u32>,
    broker0: Option<f64>,
    self0: Option<f64>,
    t0: Instant,
}

impl CpuMeter {
    pub fn start(broker_pid: Option<u32>) -> Self {
        Self {
            broker_pid,
            broker0: broker_pid.and_then(|p| cpu_seconds(Some(p))),
            self0: cpu_seconds(None),
            t0: Instant::now(),
        }
    }

    /// (broker %, client %) of one core, averaged since `start`.
    pub fn stop(&self) -> (Option<f64>, Option<f64>) {
        let wall = self.t0.elapsed().as_secs_f64().max(1e-9);
        let broker = match (
            self.broker0,
            self.broker_pid.and_then(|p| cpu_seconds(Some(p))),
        ) {
            (Some(a), Some(b)) => Some((b - a) / wall * 100.0),
            _ => None,
        };
        let client = match (self.self0, cpu_seconds(None)) {
            (Some(a), Some(b)) => Some((b - a) / wall * 100.0),
            _ => None,
        };
        (broker, client)
    }
}

/// A pool of pseudo-random bytes; record `i` takes a fixed-size window at a varying offset, so
/// values differ from record to record without any per-record allocation.
pub struct Payloads {
    pool: Vec<u8>,
    size: usize,
}

impl Payloads {
    pub fn new(size: usize) -> Self {
        let len = (4 << 20) + size;
        let mut pool = Vec::with_capacity(len);
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        while pool.len() < len {
            // xorshift64*
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            pool.extend_from_slice(&x.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes());
        }
        pool.truncate(len);
        Self { pool, size }
    }

    pub fn get(&self, i: u64) -> &[u8] {
        let span = (self.pool.len() - self.size) as u64;
        let off = (i.wrapping_mul(7919) % span.max(1)) as usize;
        self.pool.get(off..off + self.size).unwrap_or(&[])
    }
}

/// The q-quantile (0..=1) of sorted samples, nearest-rank.
pub fn quantile(sorted: &[u64], q: f64) -> Option<u64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted.get(rank - 1).copied()
}
