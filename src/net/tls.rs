//! TLS for the listeners (rustls with the ring provider): the certificate
//! chain and key from PEM files, optionally a CA whose certificates clients
//! must present (mutual TLS, for the gRPC listener), and ALPN for what the
//! listener speaks. [`ReloadableTls::reload`] (on SIGHUP) reads the files
//! again and swaps the whole server configuration; each handshake takes
//! the configuration current at its start, so established connections keep
//! theirs and are never dropped. A reload that fails (a missing or bad file)
//! keeps the configuration in force and says why.
//!
//! The whole `ServerConfig` is swapped rather than only the certified key (a
//! `ResolvesServerCert`) so that the client CA is reloaded as well; the cost
//! is that TLS session resumption starts over after a reload.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arc_swap::ArcSwap;
use rustls::RootCertStore;
use rustls::ServerConfig;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use tokio_rustls::TlsAcceptor;

/// What a listener's TLS is made of.
#[derive(Debug, Clone)]
pub struct TlsSettings {
    pub certificate_chain: PathBuf,
    pub private_key: PathBuf,
    /// Clients must present a certificate one of these CAs signed.
    pub client_ca: Option<PathBuf>,
    /// ALPN protocols, in order of preference (`h2`, `http/1.1`).
    pub alpn: Vec<Vec<u8>>,
}

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read {what} from {path}: {cause}")]
    Read {
        what: &'static str,
        path: PathBuf,
        cause: String,
    },
    #[error("{path} holds no {what}")]
    Empty { what: &'static str, path: PathBuf },
    #[error("invalid TLS configuration: {0}")]
    Invalid(String),
}

fn read_error(
    what: &'static str,
    path: &Path,
) -> impl FnOnce(rustls::pki_types::pem::Error) -> TlsError {
    let path = path.to_owned();
    move |cause| TlsError::Read {
        what,
        path,
        cause: cause.to_string(),
    }
}

fn certificates(what: &'static str, path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certificates = CertificateDer::pem_file_iter(path)
        .map_err(read_error(what, path))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(read_error(what, path))?;
    if certificates.is_empty() {
        return Err(TlsError::Empty {
            what,
            path: path.to_owned(),
        });
    }
    Ok(certificates)
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Builds the server configuration the settings describe.
fn server_config(settings: &TlsSettings) -> Result<ServerConfig, TlsError> {
    let chain = certificates("a certificate chain", &settings.certificate_chain)?;
    let key = PrivateKeyDer::from_pem_file(&settings.private_key)
        .map_err(read_error("a private key", &settings.private_key))?;
    let builder = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|error| TlsError::Invalid(error.to_string()))?;
    let builder = match &settings.client_ca {
        None => builder.with_no_client_auth(),
        Some(path) => {
            let mut roots = RootCertStore::empty();
            for certificate in certificates("CA certificates", path)? {
                roots
                    .add(certificate)
                    .map_err(|error| TlsError::Invalid(format!("{}: {error}", path.display())))?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider())
                .build()
                .map_err(|error| TlsError::Invalid(error.to_string()))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut config = builder
        .with_single_cert(chain, key)
        .map_err(|error| TlsError::Invalid(error.to_string()))?;
    config.alpn_protocols = settings.alpn.clone();
    Ok(config)
}

/// A listener's TLS configuration, swapped whole on [`reload`](Self::reload).
pub struct ReloadableTls {
    settings: TlsSettings,
    current: ArcSwap<ServerConfig>,
}

impl ReloadableTls {
    /// Loads the files now: a listener with bad TLS files does not start.
    pub fn load(settings: TlsSettings) -> Result<Self, TlsError> {
        let config = server_config(&settings)?;
        Ok(Self {
            settings,
            current: ArcSwap::from_pointee(config),
        })
    }

    /// Reads the files again; new handshakes use them, connections already
    /// established keep what they negotiated. On failure nothing changes.
    pub fn reload(&self) -> Result<(), TlsError> {
        let config = server_config(&self.settings)?;
        self.current.store(Arc::new(config));
        Ok(())
    }

    /// The acceptor for the next handshake.
    pub fn acceptor(&self) -> TlsAcceptor {
        TlsAcceptor::from(self.current.load_full())
    }
}
