//! Where a provider process spends its time, for the benchmark's breakdown of a plan.
//!
//! Off unless `AFT_TIMINGS_FILE` names a file: then every RPC (and whatever else calls
//! [`record`], such as the fleet's bulk read) adds its count and duration to a table, and when the
//! process stops serving it appends one JSON line to that file:
//! `{"pid":…,"handshake_us":…,"spans":{"ReadResource":{"count":…,"total_us":…,"max_us":…,"first_us":…,"last_us":…},…}}`.
//! `handshake_us` is the time from the process start to the handshake line on stdout; a span's
//! `first_us` when its first occurrence began and `last_us` when its last one ended, both from the
//! process start (so the gap between `ConfigureProvider` and the first `ReadResource`, or the
//! length of a refresh walk, can be read). Nothing in it names an account or holds a value, only
//! counts and durations.

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
    /// When the first occurrence began, from the process start.
    first: Option<Duration>,
    /// When the latest occurrence ended, from the process start.
    last: Duration,
}

impl Span {
    /// One more occurrence, which ended `now` (from the process start) and took `took`.
    fn add(&mut self, now: Duration, took: Duration) {
        self.count += 1;
        self.total += took;
        self.max = self.max.max(took);
        let began = now.saturating_sub(took);
        self.first = Some(self.first.map_or(began, |f| f.min(began)));
        self.last = self.last.max(now);
    }
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
        spans.entry(name).or_default().add(started().elapsed(), took);
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
                    serde_json::json!({
                        "count": s.count,
                        "total_us": s.total.as_micros() as u64,
                        "max_us": s.max.as_micros() as u64,
                        "first_us": s.first.unwrap_or_default().as_micros() as u64,
                        "last_us": s.last.as_micros() as u64,
                    }),
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
    fn a_span_keeps_when_its_first_occurrence_began_and_its_last_ended() {
        let ms = Duration::from_millis;
        let mut s = Span::default();
        s.add(ms(100), ms(30)); // 70..100
        s.add(ms(90), ms(50)); // 40..90: began earlier, ended before the latest end
        s.add(ms(200), ms(5)); // 195..200
        assert_eq!((s.count, s.total, s.max), (3, ms(85), ms(50)));
        assert_eq!((s.first, s.last), (Some(ms(40)), ms(200)));
    }

    #[test]
    fn off_without_the_variable() {
        // the test process does not set AFT_TIMINGS_FILE: recording is a no-op
        if std::env::var_os(TIMINGS_ENV).is_none() {
            record("ReadResource", Duration::from_millis(1));
            assert!(!enabled());
        }
    }
}
