//! Servers under test as child processes, and what the operating system says about them.
//!
//! Each server (Kinerja itself, the echo baselines) runs as its own process, so the CPU time the
//! kernel charges to that process (`utime + stime` of `/proc/<pid>/stat`, every thread, alive or
//! exited) is the server's alone: the load generator's threads live in another process and are
//! charged there (`/proc/self/stat`). In-process servers would share one account with the load
//! generator and could only be told apart per thread, which misses tokio's blocking threads and
//! sqlx's SQLite worker threads. Memory is `VmRSS` (resident now) and `VmHWM` (peak resident)
//! of `/proc/<pid>/status`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use tonic::transport::{Channel, Endpoint};

/// Kernel clock ticks per second in `/proc/<pid>/stat` (`USER_HZ`, fixed at 100 in the Linux
/// user ABI whatever the kernel's internal tick rate).
const USER_HZ: u64 = 100;

/// CPU time (user + system, all threads) charged to process `pid` so far.
pub fn cpu_time(pid: u32) -> Result<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .with_context(|| format!("reading /proc/{pid}/stat"))?;
    parse_cpu(&stat)
}

/// CPU time of the calling process (the load generator).
pub fn own_cpu_time() -> Result<Duration> {
    cpu_time(std::process::id())
}

fn parse_cpu(stat: &str) -> Result<Duration> {
    // The command name (field 2) is in parentheses and may hold spaces: split after it.
    let rest = stat
        .rsplit_once(')')
        .map(|(_, r)| r)
        .context("unexpected /proc stat format")?;
    let f: Vec<&str> = rest.split_whitespace().collect();
    // Field 3 (state) is f[0]; utime is field 14, stime field 15.
    let utime: u64 = f.get(11).context("no utime")?.parse()?;
    let stime: u64 = f.get(12).context("no stime")?.parse()?;
    Ok(Duration::from_millis((utime + stime) * 1000 / USER_HZ))
}

/// The named kB fields of `/proc/<pid>/status`, in bytes (0 for a field the kernel lacks).
fn status_fields<const N: usize>(pid: u32, names: [&str; N]) -> Result<[u64; N]> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("reading /proc/{pid}/status"))?;
    Ok(names.map(|name| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse::<u64>().ok())
            .map_or(0, |kb| kb * 1024)
    }))
}

/// Resident set (`VmRSS`) and its peak (`VmHWM`) of process `pid`, in bytes.
pub fn memory(pid: u32) -> Result<(u64, u64)> {
    let [rss, hwm] = status_fields(pid, ["VmRSS:", "VmHWM:"])?;
    Ok((rss, hwm))
}

/// The resident set of process `pid` split into anonymous pages (`RssAnon`: heap, stacks) and
/// file-backed pages (`RssFile`: the binary's code and libraries as they are paged in), bytes.
pub fn memory_split(pid: u32) -> Result<(u64, u64)> {
    let [anon, file] = status_fields(pid, ["RssAnon:", "RssFile:"])?;
    Ok((anon, file))
}

/// A server under test running as a child process; stopped (SIGTERM, then SIGKILL) on drop.
#[derive(Debug)]
pub struct ServerProcess {
    /// What it is, for reports.
    pub name: String,
    /// Its address.
    pub addr: std::net::SocketAddr,
    /// A channel to it.
    pub channel: Channel,
    child: Child,
    sampler: Arc<RssSampler>,
}

impl ServerProcess {
    /// Starts `program args...` (which must serve gRPC health on `addr`), logging to `log`, and
    /// waits until health answers SERVING.
    pub async fn start(
        name: &str,
        program: &Path,
        args: &[String],
        addr: std::net::SocketAddr,
        log: &Path,
    ) -> Result<Self> {
        let out =
            std::fs::File::create(log).with_context(|| format!("creating {}", log.display()))?;
        let err = out.try_clone()?;
        let child = Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .with_context(|| format!("starting {}", program.display()))?;
        let pid = child.id();
        let endpoint = Endpoint::from_shared(format!("http://{addr}"))?
            .tcp_nodelay(true)
            .connect_timeout(Duration::from_secs(2));
        let deadline = Instant::now() + Duration::from_secs(120);
        let mut me = Self {
            name: name.to_owned(),
            addr,
            channel: endpoint.connect_lazy(),
            child,
            sampler: RssSampler::start(pid),
        };
        loop {
            if let Some(status) = me.child.try_wait()? {
                bail!("{name} exited at start ({status}); see {}", log.display());
            }
            if let Ok(ch) = endpoint.connect().await {
                let mut h = tonic_health::pb::health_client::HealthClient::new(ch.clone());
                if let Ok(r) = h
                    .check(tonic_health::pb::HealthCheckRequest::default())
                    .await
                    && r.into_inner().status
                        == tonic_health::pb::health_check_response::ServingStatus::Serving as i32
                {
                    me.channel = ch;
                    return Ok(me);
                }
            }
            if Instant::now() > deadline {
                bail!("{name} did not become healthy; see {}", log.display());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// CPU time charged to the server so far.
    pub fn cpu(&self) -> Result<Duration> {
        cpu_time(self.pid())
    }

    /// Resident set now, in bytes.
    pub fn rss(&self) -> u64 {
        memory(self.pid()).map_or(0, |m| m.0)
    }

    /// Anonymous and file-backed parts of the resident set now, in bytes.
    pub fn rss_split(&self) -> (u64, u64) {
        memory_split(self.pid()).unwrap_or_default()
    }

    /// Largest resident set seen by the sampler since the last call, in bytes.
    pub fn take_peak_rss(&self) -> u64 {
        self.sampler.take_peak()
    }

    /// New connections to the server (HTTP/2, one each).
    pub async fn connections(&self, n: usize) -> Result<Vec<Channel>> {
        let mut out = Vec::with_capacity(n);
        for _ in 0..n.max(1) {
            out.push(
                Endpoint::from_shared(format!("http://{}", self.addr))?
                    .tcp_nodelay(true)
                    .connect()
                    .await?,
            );
        }
        Ok(out)
    }

    /// Stops the server: SIGTERM, up to 15 s for a graceful exit, then SIGKILL.
    pub fn stop(&mut self) {
        self.sampler.stop.store(true, Ordering::Relaxed);
        if matches!(self.child.try_wait(), Ok(Some(_))) {
            return;
        }
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Samples a process's resident set every 20 ms and keeps the largest value.
#[derive(Debug)]
struct RssSampler {
    peak: AtomicU64,
    stop: AtomicBool,
}

impl RssSampler {
    fn start(pid: u32) -> Arc<Self> {
        let s = Arc::new(Self {
            peak: AtomicU64::new(0),
            stop: AtomicBool::new(false),
        });
        let s2 = s.clone();
        std::thread::spawn(move || {
            while !s2.stop.load(Ordering::Relaxed) {
                match memory(pid) {
                    Ok((rss, _)) => {
                        s2.peak.fetch_max(rss, Ordering::Relaxed);
                    }
                    Err(_) => return,
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        });
        s
    }

    fn take_peak(&self) -> u64 {
        self.peak.swap(0, Ordering::Relaxed)
    }
}

/// A free TCP port on 127.0.0.1 (bound and released; the child binds it right after).
pub fn free_addr() -> Result<std::net::SocketAddr> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?)
}

/// The `kinerja` service binary: next to the running executable (cargo builds both into the
/// same directory), or `KINERJA_BIN`.
pub fn kinerja_binary() -> Result<PathBuf> {
    if let Some(p) = std::env::var_os("KINERJA_BIN") {
        return Ok(PathBuf::from(p));
    }
    let me = std::env::current_exe()?;
    let p = me.with_file_name("kinerja");
    if !p.exists() {
        bail!(
            "{} not found; build it too (`cargo build --release --features bench` builds both) or set KINERJA_BIN",
            p.display()
        );
    }
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_proc_stat_with_spaces_in_the_name() {
        let s = "1234 (my (odd) name) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 4 0 100 1000 200";
        assert_eq!(parse_cpu(s).unwrap(), Duration::from_millis(3000));
    }

    #[test]
    fn reads_own_process() {
        assert!(own_cpu_time().is_ok());
        let (rss, hwm) = memory(std::process::id()).unwrap();
        assert!(rss > 0 && hwm >= rss);
        // The test binary's heap and its code pages are both resident; together they make up
        // the resident set (shared memory aside, read a moment later).
        let (anon, file) = memory_split(std::process::id()).unwrap();
        assert!(anon > 0 && file > 0, "anon {anon}, file {file}");
        let (rss2, _) = memory(std::process::id()).unwrap();
        let (lo, hi) = (rss.min(rss2), rss.max(rss2));
        assert!(
            anon + file <= hi + (1 << 20) && anon + file + (8 << 20) >= lo,
            "anon {anon} + file {file} vs rss {rss}/{rss2}"
        );
    }
}
