//! AutoMTLS: the server certificate we print in the handshake, and strict client pinning.
//!
//! Terraform passes its client certificate (ECDSA P-521, self-signed, CA-flagged) as PEM in
//! `PLUGIN_CLIENT_CERT` and pins the certificate we print. We accept exactly that client
//! certificate and nothing else: webpki would refuse a CA certificate as an end entity, so the
//! verifier compares DER bytes and checks handshake signatures with aws-lc-rs (which has P-521).

use std::sync::Arc;

use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName, SignatureScheme};
use thiserror::Error;

/// Why TLS could not be set up.
#[derive(Debug, Error)]
pub enum TlsError {
    #[error("PLUGIN_CLIENT_CERT holds no PEM certificate")]
    NoClientCert,
    #[error("certificate generation failed: {0}")]
    Generate(#[from] rcgen::Error),
    #[error("TLS configuration failed: {0}")]
    Config(#[from] rustls::Error),
    #[error("reading PLUGIN_CLIENT_CERT failed: {0}")]
    Pem(#[from] std::io::Error),
}

/// The server side of AutoMTLS: our certificate (DER, for the handshake line) and the acceptor.
pub struct ServerTls {
    /// Our self-signed certificate, printed base64 in the handshake line.
    pub cert_der: Vec<u8>,
    /// Acceptor that requires the pinned client certificate.
    pub acceptor: tokio_rustls::TlsAcceptor,
}

fn crypto() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// Builds the server TLS setup for a client certificate given as PEM.
pub fn server_tls(client_cert_pem: &str) -> Result<ServerTls, TlsError> {
    let client_der = rustls_pemfile::certs(&mut client_cert_pem.as_bytes()).next().ok_or(TlsError::NoClientCert)??;

    // go-plugin's own server certificate has these properties; the client checks "localhost".
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
    let mut params = rcgen::CertificateParams::new(vec!["localhost".to_string()])?;
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params.key_usages = vec![
        rcgen::KeyUsagePurpose::DigitalSignature,
        rcgen::KeyUsagePurpose::KeyEncipherment,
        rcgen::KeyUsagePurpose::KeyCertSign,
    ];
    params.extended_key_usages =
        vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth, rcgen::ExtendedKeyUsagePurpose::ClientAuth];
    params.distinguished_name.push(rcgen::DnType::OrganizationName, "HashiCorp");
    params.distinguished_name.push(rcgen::DnType::CommonName, "localhost");
    let cert = params.self_signed(&key)?;
    let cert_der = cert.der().to_vec();

    let provider = crypto();
    let verifier =
        Arc::new(PinnedClient { der: client_der.to_vec(), algs: provider.signature_verification_algorithms });
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_client_cert_verifier(verifier)
        .with_single_cert(
            vec![CertificateDer::from(cert_der.clone())],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        )?;
    cfg.alpn_protocols = vec![b"h2".to_vec()];
    Ok(ServerTls { cert_der, acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(cfg)) })
}

/// Accepts exactly one client certificate, byte for byte.
#[derive(Debug)]
struct PinnedClient {
    der: Vec<u8>,
    algs: WebPkiSupportedAlgorithms,
}

impl ClientCertVerifier for PinnedClient {
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        if end_entity.as_ref() == self.der.as_slice() {
            Ok(ClientCertVerified::assertion())
        } else {
            Err(rustls::Error::General("client certificate is not PLUGIN_CLIENT_CERT".into()))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algs)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algs)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algs.supported_schemes()
    }
}
