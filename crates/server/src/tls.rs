//! TLS on the gRPC listener (rustls, through tonic), optionally requiring client certificates
//! (mTLS), HTTPS on the web console with the same certificate, and the client side the `bindery`
//! command line uses to reach such a server.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Args;
use tonic::transport::{Certificate, ClientTlsConfig, Identity, ServerTlsConfig};

/// A TLS handshake that has not finished by then is dropped (a slow or silent client holds no
/// slot for longer).
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// PEM files larger than this are refused (a certificate chain or a CA bundle is far smaller).
const MAX_PEM_BYTES: u64 = 1024 * 1024;

/// `--tls-cert`/`--tls-key`/`--tls-client-ca`: serve gRPC over TLS, optionally requiring client
/// certificates. Without `--tls-cert` the listener is plaintext (terminate TLS in front of it).
#[derive(Debug, Clone, Default, Args)]
pub struct TlsArgs {
    /// PEM certificate chain (leaf first) to serve gRPC over TLS with; needs --tls-key.
    #[arg(long, env = "BINDERY_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1) of --tls-cert.
    #[arg(long, env = "BINDERY_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// PEM bundle of the CAs client certificates must chain to. Clients must then present a
    /// certificate (mTLS), and its first SAN URI (a SPIFFE ID), else first SAN DNS name, else
    /// subject CN is the caller's principal unless the call also sends a bearer token.
    #[arg(long, env = "BINDERY_TLS_CLIENT_CA", requires = "tls_cert")]
    pub tls_client_ca: Option<PathBuf>,
    /// With --tls-client-ca: also accept connections without a client certificate (those calls
    /// authenticate with a bearer token).
    #[arg(long, env = "BINDERY_TLS_CLIENT_CERT_OPTIONAL", requires = "tls_client_ca")]
    pub tls_client_cert_optional: bool,
}

impl TlsArgs {
    /// The listener's TLS configuration (files read and checked now, so a bad path or an
    /// unreadable key stops start-up); `None` for plaintext.
    pub fn server_config(&self) -> anyhow::Result<Option<ServerTlsConfig>> {
        let (cert, key) = match (&self.tls_cert, &self.tls_key) {
            (Some(cert), Some(key)) => (cert, key),
            (None, None) if self.tls_client_ca.is_none() => return Ok(None),
            _ => bail!("TLS needs both --tls-cert and --tls-key (and --tls-client-ca needs both)"),
        };
        let identity = Identity::from_pem(read_pem(cert, "CERTIFICATE")?, read_pem(key, "PRIVATE KEY")?);
        let mut config = ServerTlsConfig::new().identity(identity).timeout(HANDSHAKE_TIMEOUT);
        if let Some(ca) = &self.tls_client_ca {
            config = config
                .client_ca_root(Certificate::from_pem(read_pem(ca, "CERTIFICATE")?))
                .client_auth_optional(self.tls_client_cert_optional);
        }
        Ok(Some(config))
    }

    /// The same certificate for the web console's HTTPS listener (`None`: plain HTTP). Browsers
    /// sign in with bearer tokens, so client certificates are not asked for there.
    pub fn https_config(&self) -> anyhow::Result<Option<std::sync::Arc<rustls::ServerConfig>>> {
        use rustls_pki_types::pem::PemObject;
        let (Some(cert), Some(key)) = (&self.tls_cert, &self.tls_key) else { return Ok(None) };
        let chain = rustls_pki_types::CertificateDer::pem_slice_iter(&read_pem(cert, "CERTIFICATE")?)
            .collect::<Result<Vec<_>, _>>()
            .with_context(|| format!("reading the certificates in {}", cert.display()))?;
        let key_der = rustls_pki_types::PrivateKeyDer::from_pem_slice(&read_pem(key, "PRIVATE KEY")?)
            .with_context(|| format!("reading the private key in {}", key.display()))?;
        let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(chain, key_der)
            .with_context(|| {
                format!("{} and {} do not make a usable TLS identity", cert.display(), key.display())
            })?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Some(std::sync::Arc::new(config)))
    }

    /// How the listener is secured, for the start-up log line.
    pub fn describe(&self) -> &'static str {
        match (&self.tls_cert, &self.tls_client_ca, self.tls_client_cert_optional) {
            (None, _, _) => "plaintext",
            (Some(_), None, _) => "tls",
            (Some(_), Some(_), false) => "mtls (client certificate required)",
            (Some(_), Some(_), true) => "tls, client certificate optional",
        }
    }
}

/// The `bindery` command line's TLS settings, used when `--server` is an `https://` URL.
#[derive(Debug, Clone, Default, Args)]
pub struct ClientTlsArgs {
    /// PEM bundle of the CAs to trust for the server's certificate (default: the system's roots).
    #[arg(long, env = "BINDERY_CA_CERT", global = true)]
    pub ca_cert: Option<PathBuf>,
    /// PEM client certificate to present (mTLS); needs --client-key.
    #[arg(long, env = "BINDERY_CLIENT_CERT", requires = "client_key", global = true)]
    pub client_cert: Option<PathBuf>,
    /// PEM private key of --client-cert.
    #[arg(long, env = "BINDERY_CLIENT_KEY", requires = "client_cert", global = true)]
    pub client_key: Option<PathBuf>,
}

impl ClientTlsArgs {
    /// The channel's TLS configuration for `server` (`None` for an `http://` URL).
    pub fn client_config(&self, server: &str) -> anyhow::Result<Option<ClientTlsConfig>> {
        if !server.starts_with("https://") {
            if self.ca_cert.is_some() || self.client_cert.is_some() {
                bail!("--ca-cert and --client-cert need an https:// --server, got {server:?}");
            }
            return Ok(None);
        }
        let mut config = ClientTlsConfig::new().timeout(HANDSHAKE_TIMEOUT);
        config = match &self.ca_cert {
            Some(ca) => config.ca_certificate(Certificate::from_pem(read_pem(ca, "CERTIFICATE")?)),
            None => config.with_native_roots(),
        };
        if let (Some(cert), Some(key)) = (&self.client_cert, &self.client_key) {
            config = config
                .identity(Identity::from_pem(read_pem(cert, "CERTIFICATE")?, read_pem(key, "PRIVATE KEY")?));
        }
        Ok(Some(config))
    }
}

/// A PEM file holding at least one `what` block (`CERTIFICATE`, or any kind of `PRIVATE KEY`).
fn read_pem(path: &Path, what: &str) -> anyhow::Result<Vec<u8>> {
    let size = std::fs::metadata(path).with_context(|| format!("reading {}", path.display()))?.len();
    if size > MAX_PEM_BYTES {
        bail!("{} is {size} bytes; a PEM {what} file is at most {MAX_PEM_BYTES}", path.display());
    }
    let pem = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let text = String::from_utf8_lossy(&pem);
    let has_block =
        text.lines().any(|l| l.starts_with("-----BEGIN ") && l.trim_end().ends_with(&format!("{what}-----")));
    if !has_block {
        bail!("{} holds no PEM {what} (expected a -----BEGIN …{what}----- block)", path.display());
    }
    Ok(pem)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plaintext_without_flags_and_clear_errors_otherwise() {
        assert!(TlsArgs::default().server_config().unwrap().is_none());
        let dir = std::env::temp_dir().join(format!("bindery-tls-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let not_pem = dir.join("cert.pem");
        std::fs::write(&not_pem, "hello").unwrap();
        let args = TlsArgs {
            tls_cert: Some(not_pem.clone()),
            tls_key: Some(dir.join("missing.pem")),
            ..TlsArgs::default()
        };
        let err = args.server_config().unwrap_err().to_string();
        assert!(err.contains("holds no PEM CERTIFICATE"), "{err}");
        let client = ClientTlsArgs { ca_cert: Some(not_pem), ..ClientTlsArgs::default() };
        assert!(client.client_config("http://127.0.0.1:50051").is_err(), "a CA needs https");
        assert!(ClientTlsArgs::default().client_config("http://x:1").unwrap().is_none());
        std::fs::remove_dir_all(&dir).ok();
    }
}
