//! A local HTTP receiver for notifications: records what it accepts (headers, body, when), and
//! follows a script — answer 500 or 429 with `Retry-After`, or be down (every request's
//! connection is dropped unanswered, as when the process is gone).

use std::{
    collections::VecDeque,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use hyper_util::rt::TokioIo;
use serde_json::Value;

/// One scripted answer.
#[derive(Clone, Copy, Debug)]
pub enum Reply {
    Status(u16),
    /// 429 with `Retry-After` seconds.
    TooMany(u64),
}

#[derive(Clone, Debug)]
pub struct Got {
    pub headers: axum::http::HeaderMap,
    pub body: Vec<u8>,
    pub at: Instant,
}

impl Got {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }

    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
}

#[derive(Default)]
struct Inner {
    accepted: Vec<Got>,
    /// Every request that reached it, answered or not (times).
    attempts: Vec<Instant>,
    script: VecDeque<Reply>,
    down: bool,
}

#[derive(Clone)]
pub struct Receiver {
    pub url: String,
    inner: Arc<Mutex<Inner>>,
}

impl Receiver {
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let inner = Arc::new(Mutex::new(Inner::default()));
        let shared = inner.clone();
        tokio::spawn(async move {
            loop {
                let Ok((sock, _)) = listener.accept().await else {
                    continue;
                };
                let shared = shared.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(
                        move |req: hyper::Request<hyper::body::Incoming>| {
                            let shared = shared.clone();
                            async move {
                                let (parts, body) = req.into_parts();
                                let body =
                                    axum::body::to_bytes(axum::body::Body::new(body), 1 << 20)
                                        .await
                                        .map_err(|e| std::io::Error::other(e.to_string()))?;
                                let mut s = shared.lock().unwrap();
                                s.attempts.push(Instant::now());
                                if s.down {
                                    return Err(std::io::Error::other("down"));
                                }
                                let reply = s.script.pop_front();
                                let resp = match reply {
                                    Some(Reply::Status(code)) => hyper::Response::builder()
                                        .status(code)
                                        .body(String::from("scripted"))
                                        .unwrap(),
                                    Some(Reply::TooMany(secs)) => hyper::Response::builder()
                                        .status(429)
                                        .header("retry-after", secs.to_string())
                                        .body(String::from("slow down"))
                                        .unwrap(),
                                    None => {
                                        s.accepted.push(Got {
                                            headers: parts.headers,
                                            body: body.to_vec(),
                                            at: Instant::now(),
                                        });
                                        hyper::Response::new(String::from("ok"))
                                    }
                                };
                                Ok::<_, std::io::Error>(resp)
                            }
                        },
                    );
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(sock), service)
                        .await;
                });
            }
        });
        Self { url, inner }
    }

    pub fn script(&self, replies: &[Reply]) {
        self.inner
            .lock()
            .unwrap()
            .script
            .extend(replies.iter().copied());
    }

    pub fn set_down(&self, down: bool) {
        self.inner.lock().unwrap().down = down;
    }

    pub fn accepted(&self) -> Vec<Got> {
        self.inner.lock().unwrap().accepted.clone()
    }

    pub fn attempts(&self) -> Vec<Instant> {
        self.inner.lock().unwrap().attempts.clone()
    }

    /// Waits (up to 30 s) until it has accepted at least `n` requests.
    pub async fn wait_for(&self, n: usize) -> Vec<Got> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let got = self.accepted();
            if got.len() >= n || Instant::now() > deadline {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}
