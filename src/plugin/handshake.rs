//! go-plugin's handshake: magic cookie, protocol version, and the stdout line.

use base64::Engine;
use thiserror::Error;

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

/// The line go-plugin reads from our stdout: `1|6|NETWORK|ADDR|grpc|CERT`, the network being
/// `unix` (ADDR a socket path) or `tcp` (ADDR host:port).
pub fn handshake_line(network: &str, addr: &str, cert_der: Option<&[u8]>) -> String {
    let cert = cert_der.map(|d| base64::engine::general_purpose::STANDARD_NO_PAD.encode(d)).unwrap_or_default();
    format!("{CORE_PROTOCOL_VERSION}|{PROTOCOL_VERSION}|{network}|{addr}|grpc|{cert}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_format() {
        assert_eq!(handshake_line("tcp", "127.0.0.1:1234", None), "1|6|tcp|127.0.0.1:1234|grpc|");
        assert_eq!(handshake_line("tcp", "127.0.0.1:1234", Some(&[0xff, 0xfe])), "1|6|tcp|127.0.0.1:1234|grpc|//4");
        assert_eq!(handshake_line("unix", "/tmp/plugin42", Some(&[0xff])), "1|6|unix|/tmp/plugin42|grpc|/w");
    }
}
