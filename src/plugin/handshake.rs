//! go-plugin's handshake: magic cookie, protocol version, listener, and the stdout line.

use std::net::SocketAddr;

use base64::Engine;
use thiserror::Error;
use tokio::net::TcpListener;

/// The magic cookie Terraform sets for provider plugins.
pub const MAGIC_COOKIE_KEY: &str = "TF_PLUGIN_MAGIC_COOKIE";
/// Its value.
pub const MAGIC_COOKIE_VALUE: &str = "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2";
/// The only plugin protocol we speak.
pub const PROTOCOL_VERSION: u32 = 6;
/// go-plugin's core protocol version (first field of the handshake line).
pub const CORE_PROTOCOL_VERSION: u32 = 1;

/// Why the process cannot serve.
#[derive(Debug, Error)]
pub enum HandshakeError {
    #[error(
        "This binary is a plugin. These are not meant to be executed directly.\n\
         Please execute the program that consumes these plugins, which will\n\
         load any plugins automatically.\n\n\
         terraform-provider-aft is a Terraform provider: declare it in a configuration with\n\
         `source = \"aft-rs/aft\"` and run `terraform plan`."
    )]
    NotLaunchedByTerraform,
    #[error(
        "Terraform offered plugin protocol versions {0:?}; this provider speaks only version 6 (Terraform 1.0 or newer)"
    )]
    UnsupportedVersion(String),
    #[error("no free port in PLUGIN_MIN_PORT..PLUGIN_MAX_PORT ({0}..{1})")]
    NoPort(u16, u16),
    #[error("listening failed: {0}")]
    Io(#[from] std::io::Error),
}

/// Checks that Terraform launched us and speaks protocol 6.
pub fn check_environment() -> Result<(), HandshakeError> {
    if std::env::var(MAGIC_COOKIE_KEY).as_deref() != Ok(MAGIC_COOKIE_VALUE) {
        return Err(HandshakeError::NotLaunchedByTerraform);
    }
    if let Ok(offered) = std::env::var("PLUGIN_PROTOCOL_VERSIONS") {
        let ok = offered.split(',').any(|v| v.trim().parse::<u32>() == Ok(PROTOCOL_VERSION));
        if !offered.trim().is_empty() && !ok {
            return Err(HandshakeError::UnsupportedVersion(offered));
        }
    }
    Ok(())
}

/// Binds a loopback listener inside the port range Terraform asks for (any free port when unset).
pub async fn listen() -> Result<TcpListener, HandshakeError> {
    let min = std::env::var("PLUGIN_MIN_PORT").ok().and_then(|s| s.parse::<u16>().ok());
    let max = std::env::var("PLUGIN_MAX_PORT").ok().and_then(|s| s.parse::<u16>().ok());
    match (min, max) {
        (Some(lo), Some(hi)) if lo > 0 && lo <= hi => {
            for port in lo..=hi {
                if let Ok(l) = TcpListener::bind(("127.0.0.1", port)).await {
                    return Ok(l);
                }
            }
            Err(HandshakeError::NoPort(lo, hi))
        }
        _ => Ok(TcpListener::bind(("127.0.0.1", 0)).await?),
    }
}

/// The line go-plugin reads from our stdout: `1|6|tcp|ADDR|grpc|CERT`.
pub fn handshake_line(addr: SocketAddr, cert_der: Option<&[u8]>) -> String {
    let cert = cert_der.map(|d| base64::engine::general_purpose::STANDARD_NO_PAD.encode(d)).unwrap_or_default();
    format!("{CORE_PROTOCOL_VERSION}|{PROTOCOL_VERSION}|tcp|{addr}|grpc|{cert}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_format() {
        let addr: SocketAddr = "127.0.0.1:1234".parse().unwrap();
        assert_eq!(handshake_line(addr, None), "1|6|tcp|127.0.0.1:1234|grpc|");
        assert_eq!(handshake_line(addr, Some(&[0xff, 0xfe])), "1|6|tcp|127.0.0.1:1234|grpc|//4");
    }
}
