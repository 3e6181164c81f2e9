//! `tracing` → go-plugin JSON log lines on stderr.
//!
//! go-plugin reads each stderr line of the plugin; a JSON object with `@level`, `@message` and
//! `@timestamp` is forwarded into Terraform's log at that level, so `TF_LOG_PROVIDER=INFO` shows
//! the provider's own events. The level we emit is taken from `TF_LOG_PROVIDER` or `TF_LOG`.

use std::fmt::Write as _;
use std::io::Write as _;

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::{Context, SubscriberExt};

/// Installs the JSON stderr logger as the global subscriber.
pub fn init() {
    let level = std::env::var("TF_LOG_PROVIDER")
        .ok()
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("TF_LOG").ok())
        .map(|s| parse_level(&s))
        .unwrap_or(Some(Level::WARN));
    let Some(level) = level else { return };
    let subscriber = tracing_subscriber::registry().with(JsonLines { max: level });
    let _ = tracing::subscriber::set_global_default(subscriber);
}

fn parse_level(s: &str) -> Option<Level> {
    match s.to_ascii_uppercase().as_str() {
        "TRACE" | "JSON" => Some(Level::TRACE),
        "DEBUG" => Some(Level::DEBUG),
        "INFO" => Some(Level::INFO),
        "WARN" => Some(Level::WARN),
        "ERROR" => Some(Level::ERROR),
        "OFF" => None,
        _ => Some(Level::WARN),
    }
}

struct JsonLines {
    max: Level,
}

#[derive(Default)]
struct Fields {
    message: String,
    rest: serde_json::Map<String, serde_json::Value>,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message = value.to_string();
        } else {
            self.rest.insert(field.name().to_string(), value.into());
        }
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.rest.insert(field.name().to_string(), value.into());
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.rest.insert(field.name().to_string(), value.into());
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.rest.insert(field.name().to_string(), value.into());
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let mut s = String::new();
        let _ = write!(s, "{value:?}");
        if field.name() == "message" {
            self.message = s;
        } else {
            self.rest.insert(field.name().to_string(), s.into());
        }
    }
}

impl<S: Subscriber> Layer<S> for JsonLines {
    fn enabled(&self, metadata: &tracing::Metadata<'_>, _ctx: Context<'_, S>) -> bool {
        *metadata.level() <= self.max && metadata.target().starts_with("terraform_provider_aft")
    }

    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let mut f = Fields::default();
        event.record(&mut f);
        let level = match *event.metadata().level() {
            Level::TRACE => "trace",
            Level::DEBUG => "debug",
            Level::INFO => "info",
            Level::WARN => "warn",
            Level::ERROR => "error",
        };
        // go-plugin parses exactly this layout: 2006-01-02T15:04:05.000000Z07:00
        let fmt =
            time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z");
        let ts = time::OffsetDateTime::now_utc().format(&fmt).unwrap_or_default();
        let mut line = serde_json::Map::new();
        line.insert("@level".into(), level.into());
        line.insert("@message".into(), f.message.into());
        line.insert("@timestamp".into(), ts.into());
        line.insert("@module".into(), "aft".into());
        line.extend(f.rest);
        let mut out = std::io::stderr().lock();
        let _ = writeln!(out, "{}", serde_json::Value::Object(line));
    }
}
