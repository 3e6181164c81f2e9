//! Where a provider process spends its time, for the benchmark's breakdown of a plan.
//!
//! Off unless `AFT_TIMINGS_FILE` names a file: then every RPC (and whatever else calls
//! [`record`], such as the fleet's bulk read) adds its count and duration to a table, and when the
//! process stops serving it appends one JSON line to that file:
//! `{"pid":…,"handshake_us":…,"spans":{"ReadResource":{"count":…,"total_us":…,"max_us":…},…}}`.
//! `handshake_us` is the time from the process start to the handshake line on stdout. Nothing in
//! it names an account or holds a value, only counts and durations.

use std::collections::BTreeMap;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// The variable naming the file the figures are appended to.
pub const TIMINGS_ENV: &str = "AFT_TIMINGS_FILE";

#[derive(Default, Clone, Copy)]
struct Span {
    count: u64,
    total: Duration,
    max: Duration,
}

struct Table {
    file: String,
    spans: Mutex<BTreeMap<&'static str, Span>>,
    handshake: Mutex<Option<Duration>>,
}

fn started() -> Instant {
    static START: OnceLock<Instant> = OnceLock::new();
    *START.get_or_init(Instant::now)
}

fn table() -> Option<&'static Table> {
    static TABLE: OnceLock<Option<Table>> = OnceLock::new();
    TABLE
        .get_or_init(|| {
            std::env::var(TIMINGS_ENV).ok().filter(|f| !f.is_empty()).map(|file| Table {
                file,
                spans: Mutex::new(BTreeMap::new()),
                handshake: Mutex::new(None),
            })
        })
        .as_ref()
}

/// Marks the process start; call first thing in `main`.
pub fn start() {
    started();
    table();
}

/// True when figures are being kept.
pub fn enabled() -> bool {
    table().is_some()
}

/// Times every gRPC call of the server it wraps, named by the method (`ReadResource`), codec
/// included; a no-op unless figures are being kept.
#[derive(Clone, Copy, Default)]
pub struct RpcTimingLayer;

impl<S> tower_layer::Layer<S> for RpcTimingLayer {
    type Service = Timed<S>;
    fn layer(&self, inner: S) -> Timed<S> {
        Timed(inner)
    }
}

/// A service whose calls [`RpcTimingLayer`] times.
#[derive(Clone)]
pub struct Timed<S>(S);

impl<S, B> tower_service::Service<http::Request<B>> for Timed<S>
where
    S: tower_service::Service<http::Request<B>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = std::pin::Pin<Box<dyn std::future::Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut std::task::Context<'_>) -> std::task::Poll<Result<(), S::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let name = enabled().then(|| method_name(req.uri().path()));
        let began = Instant::now();
        let fut = self.0.call(req);
        Box::pin(async move {
            let out = fut.await;
            if let Some(name) = name {
                record(name, began.elapsed());
            }
            out
        })
    }
}

/// `/tfplugin6.Provider/ReadResource` → `rpc ReadResource`, with a fixed set of names so the
/// table's keys stay `'static`.
fn method_name(path: &str) -> &'static str {
    static NAMES: OnceLock<Mutex<BTreeMap<String, &'static str>>> = OnceLock::new();
    let method = path.rsplit('/').next().unwrap_or(path);
    let mut names = NAMES.get_or_init(Default::default).lock().unwrap_or_else(|e| e.into_inner());
    if let Some(n) = names.get(method) {
        return n;
    }
    // at most one leak per distinct method name (about 25)
    let n: &'static str = Box::leak(format!("rpc {method}").into_boxed_str());
    names.insert(method.to_string(), n);
    n
}

/// Adds one occurrence of `name` that took `took`.
pub fn record(name: &'static str, took: Duration) {
    if let Some(t) = table()
        && let Ok(mut spans) = t.spans.lock()
    {
        let s = spans.entry(name).or_default();
        s.count += 1;
        s.total += took;
        s.max = s.max.max(took);
    }
}

/// Notes that the handshake line has just been written.
pub fn handshake_written() {
    if let Some(t) = table()
        && let Ok(mut h) = t.handshake.lock()
    {
        *h = Some(started().elapsed());
    }
}

/// Appends this process's line to the file (once serving has ended).
pub fn write() {
    let Some(t) = table() else { return };
    let spans = t.spans.lock().map(|s| s.clone()).unwrap_or_default();
    let handshake = t.handshake.lock().ok().and_then(|h| *h);
    let line = serde_json::json!({
        "pid": std::process::id(),
        "handshake_us": handshake.map(|d| d.as_micros() as u64),
        "lifetime_us": started().elapsed().as_micros() as u64,
        "spans": spans
            .iter()
            .map(|(k, s)| {
                (
                    k.to_string(),
                    serde_json::json!({"count": s.count, "total_us": s.total.as_micros() as u64, "max_us": s.max.as_micros() as u64}),
                )
            })
            .collect::<serde_json::Map<_, _>>(),
    });
    use std::io::Write;
    match std::fs::OpenOptions::new().create(true).append(true).open(&t.file) {
        // one write of one line, so concurrent processes do not interleave
        Ok(mut f) => {
            let _ = f.write_all(format!("{line}\n").as_bytes());
        }
        Err(e) => tracing::warn!(error = %e, file = %t.file, "cannot write {TIMINGS_ENV}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn off_without_the_variable() {
        // the test process does not set AFT_TIMINGS_FILE: recording is a no-op
        if std::env::var_os(TIMINGS_ENV).is_none() {
            record("ReadResource", Duration::from_millis(1));
            assert!(!enabled());
        }
    }
}
