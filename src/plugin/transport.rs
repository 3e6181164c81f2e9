//! go-plugin's transport: where the provider listens, the mutual TLS Terraform asks for,
//! go-plugin's controller and stdio services, and the handshake line on stdout.
//!
//! Like go-plugin's own servers, the provider listens on a unix domain socket on Unix-like
//! systems (in `PLUGIN_UNIX_SOCKET_DIR`, or the temporary directory, made group-writable for
//! `PLUGIN_UNIX_SOCKET_GROUP`) and on loopback TCP (inside `PLUGIN_MIN_PORT..PLUGIN_MAX_PORT`)
//! elsewhere. Where the socket cannot be made (a directory that is not writable, a path longer
//! than `sun_path`), it falls back to TCP, and `AFT_PLUGIN_TRANSPORT=tcp` asks for TCP outright;
//! the handshake line names the network either way, which is how Terraform knows how to dial.

use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;

use futures::StreamExt;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tonic::transport::server::{Connected, Router};
use tonic::{Request, Response, Status};

use super::handshake::{self, HandshakeError};
use super::proto::plugin as gp;
use super::proto::tfplugin6 as pb;
use super::server::ProviderService;
use super::tls;
use super::traits::Provider;

/// The variable that asks for a transport (`unix` or `tcp`); unset means unix where it exists.
pub const TRANSPORT_ENV: &str = "AFT_PLUGIN_TRANSPORT";

/// Why serving stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Handshake(#[from] HandshakeError),
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
    #[error("gRPC server failed: {0}")]
    Transport(#[from] tonic::transport::Error),
}

/// Where the provider listens.
pub enum Listener {
    /// Loopback TCP.
    Tcp(TcpListener),
    /// A unix domain socket; the file is removed when this is dropped.
    #[cfg(unix)]
    Unix(tokio::net::UnixListener, SocketFile),
}

impl Listener {
    /// The network as go-plugin's handshake line names it.
    pub fn network(&self) -> &'static str {
        match self {
            Listener::Tcp(_) => "tcp",
            #[cfg(unix)]
            Listener::Unix(..) => "unix",
        }
    }

    /// The address as go-plugin's handshake line gives it.
    pub fn address(&self) -> std::io::Result<String> {
        match self {
            Listener::Tcp(l) => Ok(l.local_addr()?.to_string()),
            #[cfg(unix)]
            Listener::Unix(_, file) => Ok(file.0.display().to_string()),
        }
    }
}

/// A socket file, removed on drop (go-plugin removes its own when the listener closes).
pub struct SocketFile(PathBuf);

impl Drop for SocketFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Opens the listener go-plugin would: unix where possible, TCP as the fallback.
pub async fn listen() -> Result<Listener, HandshakeError> {
    let wanted = std::env::var(TRANSPORT_ENV).unwrap_or_default();
    #[cfg(unix)]
    if !wanted.eq_ignore_ascii_case("tcp") {
        match listen_unix() {
            Ok(l) => return Ok(l),
            Err(e) => tracing::warn!(error = %e, "cannot listen on a unix socket: falling back to TCP"),
        }
    }
    let _ = wanted;
    Ok(Listener::Tcp(listen_tcp().await?))
}

/// A socket named like go-plugin's (`plugin` and a random suffix) in `PLUGIN_UNIX_SOCKET_DIR` or
/// the temporary directory.
#[cfg(unix)]
fn listen_unix() -> std::io::Result<Listener> {
    let dir = std::env::var_os("PLUGIN_UNIX_SOCKET_DIR")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    let mut last = None;
    for _ in 0..8 {
        let suffix = uuid::Uuid::new_v4().as_u128() % 1_000_000_000_000;
        let path = dir.join(format!("plugin{suffix}"));
        match tokio::net::UnixListener::bind(&path) {
            Ok(l) => {
                let file = SocketFile(path);
                if let Some(group) = std::env::var("PLUGIN_UNIX_SOCKET_GROUP").ok().filter(|g| !g.is_empty()) {
                    group_writable(&file.0, &group)?;
                }
                return Ok(Listener::Unix(l, file));
            }
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| std::io::Error::other("no free socket name")))
}

/// Gives the socket to `group` (a name from /etc/group or a numeric id) with mode 0660, as
/// go-plugin does for `PLUGIN_UNIX_SOCKET_GROUP`.
#[cfg(unix)]
fn group_writable(path: &std::path::Path, group: &str) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let gid = match group.parse::<u32>() {
        Ok(gid) => gid,
        Err(_) => std::fs::read_to_string("/etc/group")?
            .lines()
            .find_map(|l| {
                let mut f = l.split(':');
                (f.next() == Some(group)).then(|| f.nth(1).and_then(|g| g.parse().ok())).flatten()
            })
            .ok_or_else(|| std::io::Error::other(format!("PLUGIN_UNIX_SOCKET_GROUP: no group {group:?}")))?,
    };
    std::os::unix::fs::chown(path, None, Some(gid))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660))
}

/// Binds a loopback listener inside the port range Terraform asks for (any free port when unset).
async fn listen_tcp() -> Result<TcpListener, HandshakeError> {
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

struct Controller {
    shutdown: Arc<Notify>,
}

#[tonic::async_trait]
impl gp::grpc_controller_server::GrpcController for Controller {
    async fn shutdown(&self, _r: Request<gp::Empty>) -> Result<Response<gp::Empty>, Status> {
        self.shutdown.notify_one();
        Ok(Response::new(gp::Empty {}))
    }
}

struct Stdio;

#[tonic::async_trait]
impl gp::grpc_stdio_server::GrpcStdio for Stdio {
    async fn stream_stdio(
        &self,
        _r: Request<()>,
    ) -> Result<Response<Pin<Box<dyn futures::Stream<Item = Result<gp::StdioData, Status>> + Send>>>, Status> {
        // We never write to stdout/stderr through this channel: logs go to stderr directly.
        Ok(Response::new(Box::pin(futures::stream::pending())))
    }
}

/// Serves a provider the way Terraform launches it: handshake on stdout, gRPC until Shutdown.
pub async fn serve<P: Provider>(provider: P) -> Result<(), ServeError> {
    handshake::check_environment()?;
    let listener = listen().await?;
    let network = listener.network();
    let address = listener.address().map_err(HandshakeError::Io)?;
    tracing::debug!(network, address, "serving Terraform plugin protocol 6");
    let shutdown = Arc::new(Notify::new());
    let service = pb::provider_server::ProviderServer::new(ProviderService::new(provider))
        .max_decoding_message_size(256 * 1024 * 1024)
        .max_encoding_message_size(256 * 1024 * 1024);
    let router = tonic::transport::Server::builder()
        .layer(super::timings::RpcTimingLayer)
        .add_service(service)
        .add_service(gp::grpc_controller_server::GrpcControllerServer::new(Controller { shutdown: shutdown.clone() }))
        .add_service(gp::grpc_stdio_server::GrpcStdioServer::new(Stdio));
    // A terminal's Ctrl-C reaches the whole process group, providers included. Like go-plugin's
    // plugins we keep serving (Terraform still needs us to finish the RPCs in flight and save
    // state), but end long waits at once, as StopProvider does.
    tokio::spawn(async {
        while tokio::signal::ctrl_c().await.is_ok() {
            tracing::info!("interrupt received: ending long waits");
            super::stop::global().request();
        }
    });
    let stop = {
        let s = shutdown.clone();
        async move { s.notified().await }
    };

    let client_cert = std::env::var("PLUGIN_CLIENT_CERT").ok().filter(|s| !s.trim().is_empty());
    let tls = match client_cert {
        Some(pem) if std::env::var_os("TF_DISABLE_PLUGIN_TLS").is_none() => Some(tls::server_tls(&pem)?),
        _ => None,
    };
    print_handshake(&handshake::handshake_line(network, &address, tls.as_ref().map(|t| t.cert_der.as_slice())));
    super::timings::handshake_written();
    let acceptor = tls.map(|t| t.acceptor);
    match listener {
        Listener::Tcp(l) => {
            let incoming = tokio_stream::wrappers::TcpListenerStream::new(l).map(|tcp| {
                if let Ok(t) = &tcp {
                    no_delay(t);
                }
                tcp
            });
            run(router, incoming, acceptor, stop).await?;
        }
        #[cfg(unix)]
        Listener::Unix(l, _file) => {
            // `_file` lives until serving ends, then removes the socket
            run(router, tokio_stream::wrappers::UnixListenerStream::new(l), acceptor, stop).await?;
        }
    }
    super::timings::write();
    Ok(())
}

/// Serves `router` on accepted connections, through TLS when an acceptor is given.
async fn run<S, I>(
    router: Router<tower_layer::Stack<super::timings::RpcTimingLayer, tower_layer::Identity>>,
    incoming: I,
    acceptor: Option<tokio_rustls::TlsAcceptor>,
    stop: impl std::future::Future<Output = ()>,
) -> Result<(), tonic::transport::Error>
where
    I: futures::Stream<Item = std::io::Result<S>> + Send + Unpin + 'static,
    S: AsyncRead + AsyncWrite + Connected + Unpin + Send + 'static,
    S::ConnectInfo: Clone + Send + Sync + 'static,
{
    let Some(acceptor) = acceptor else {
        return router.serve_with_incoming_shutdown(incoming, stop).await;
    };
    let (tx, rx) = tokio::sync::mpsc::channel(16);
    tokio::spawn(async move {
        let mut incoming = incoming;
        while let Some(Ok(conn)) = incoming.next().await {
            let acceptor = acceptor.clone();
            let tx = tx.clone();
            // each TLS handshake on its own task, so a slow client cannot hold up the next
            tokio::spawn(async move {
                match acceptor.accept(conn).await {
                    Ok(s) => {
                        let _ = tx.send(Ok::<_, std::io::Error>(s)).await;
                    }
                    Err(e) => tracing::warn!(error = %e, "refused a plugin client at the TLS handshake"),
                }
            });
        }
    });
    router.serve_with_incoming_shutdown(tokio_stream::wrappers::ReceiverStream::new(rx), stop).await
}

/// Turns Nagle's algorithm off on a plugin connection. gRPC writes small frames and waits for
/// the answer; with Nagle on, each exchange could stall on the peer's delayed ACK (up to 40 ms
/// on Linux), which made every resource instance of a plan cost tens of milliseconds of waiting.
fn no_delay(tcp: &tokio::net::TcpStream) {
    if let Err(e) = tcp.set_nodelay(true) {
        tracing::debug!(error = %e, "could not set TCP_NODELAY on a plugin connection");
    }
}

fn print_handshake(line: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_socket_is_made_in_the_asked_directory_and_removed_after() {
        let dir = std::env::temp_dir().join(format!("aft-sock-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        // SAFETY: this test is the only one in the crate touching PLUGIN_UNIX_SOCKET_DIR
        unsafe { std::env::set_var("PLUGIN_UNIX_SOCKET_DIR", &dir) };
        let l = listen_unix().unwrap();
        unsafe { std::env::remove_var("PLUGIN_UNIX_SOCKET_DIR") };
        assert_eq!(l.network(), "unix");
        let path = PathBuf::from(l.address().unwrap());
        assert_eq!(path.parent(), Some(dir.as_path()));
        assert!(path.file_name().unwrap().to_string_lossy().starts_with("plugin"));
        assert!(std::os::unix::fs::FileTypeExt::is_socket(&std::fs::metadata(&path).unwrap().file_type()));
        drop(l);
        assert!(!path.exists(), "the socket file outlived the listener");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
