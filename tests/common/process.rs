//! The real `flowdeck` binary as a child process, for tests that need whole processes (fault
//! drills, several replicas): started on a database, ready on a free port, and killed when its
//! handle is dropped, so a failing test leaves nothing running.

use std::{
    io::{Read, Write},
    path::Path,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

/// `flowdeck` with quiet JSON logs.
pub fn flowdeck() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_flowdeck"));
    c.env("RUST_LOG", "warn").env("FLOWDECK_LOG_FORMAT", "json");
    c
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `GET path` over a fresh connection: the status code, or None when nothing answers.
pub fn status_of(port: u16, path: &str) -> Option<u16> {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\n\r\n").ok()?;
    let mut buf = String::new();
    s.read_to_string(&mut buf).ok()?;
    buf.split_whitespace().nth(1)?.parse().ok()
}

/// Waits until `/readyz` on `port` answers 200; false after `within`.
pub fn wait_ready(port: u16, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if status_of(port, "/readyz") == Some(200) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    false
}

/// A running `flowdeck serve`, killed on drop.
pub struct Process {
    pub child: Child,
    pub port: u16,
    /// `http://127.0.0.1:<port>`.
    pub base: String,
}

impl Process {
    /// `flowdeck serve` on database `url`, ready; its log goes to `log`; `extra` environment.
    pub fn serve(url: &str, log: &Path, extra: &[(&str, &str)]) -> Self {
        let port = free_port();
        let mut cmd = flowdeck();
        cmd.args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .env("DATABASE_URL", url)
            .env("FLOWDECK_API_RATE_PER_SECOND", "100000")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(log).unwrap());
        for (k, v) in extra {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().unwrap();
        if !wait_ready(port, Duration::from_secs(30)) {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "flowdeck did not become ready: {}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        Self {
            child,
            port,
            base: format!("http://127.0.0.1:{port}"),
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
