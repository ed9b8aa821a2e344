//! A throwaway certificate authority for TLS tests: a server certificate for 127.0.0.1 and
//! client certificates naming whatever principal a test needs, written as PEM files.

use std::path::{Path, PathBuf};

use bindery_server::TlsArgs;
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DistinguishedName, DnType, ExtendedKeyUsagePurpose,
    IsCa, KeyPair, KeyUsagePurpose, SanType,
};
use tonic::transport::{Certificate, ClientTlsConfig, Identity};

/// What a client certificate says about its holder.
#[derive(Debug, Clone, Copy)]
pub enum CertName<'a> {
    /// A SAN URI, e.g. a SPIFFE ID.
    Uri(&'a str),
    /// A SAN DNS name.
    Dns(&'a str),
    /// Only a subject common name.
    CommonName(&'a str),
}

/// A CA with its files in a fresh directory (removed when dropped).
pub struct TestPki {
    pub dir: PathBuf,
    ca: CertifiedIssuer<'static, KeyPair>,
}

impl TestPki {
    pub fn new(name: &str) -> anyhow::Result<Self> {
        let dir = std::env::temp_dir().join(format!(
            "bindery-pki-{}-{name}-{}",
            std::process::id(),
            super::unique_suffix()
        ));
        std::fs::create_dir_all(&dir)?;
        let mut params = CertificateParams::default();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        params.distinguished_name = DistinguishedName::new();
        params.distinguished_name.push(DnType::CommonName, format!("bindery test CA {name}"));
        let ca = CertifiedIssuer::self_signed(params, KeyPair::generate()?)?;
        std::fs::write(dir.join("ca.pem"), ca.pem())?;
        Ok(Self { dir, ca })
    }

    /// This CA's certificate (PEM file).
    pub fn ca_path(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }

    /// A server certificate for 127.0.0.1 and localhost: (cert, key) PEM files.
    pub fn server_files(&self) -> anyhow::Result<(PathBuf, PathBuf)> {
        self.server_files_for("server", &["127.0.0.1", "localhost"])
    }

    /// A server certificate naming `names` (IP addresses or DNS names): (cert, key) PEM files.
    pub fn server_files_for(&self, file: &str, names: &[&str]) -> anyhow::Result<(PathBuf, PathBuf)> {
        let mut params = CertificateParams::new(names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>())?;
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        self.issue(file, &params)
    }

    /// A client certificate naming `name`: (cert, key) PEM files.
    pub fn client_files(&self, file: &str, name: CertName<'_>) -> anyhow::Result<(PathBuf, PathBuf)> {
        let mut params = CertificateParams::default();
        params.distinguished_name = DistinguishedName::new();
        match name {
            CertName::Uri(uri) => params.subject_alt_names = vec![SanType::URI(uri.try_into()?)],
            CertName::Dns(dns) => params.subject_alt_names = vec![SanType::DnsName(dns.try_into()?)],
            CertName::CommonName(cn) => params.distinguished_name.push(DnType::CommonName, cn),
        }
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        self.issue(file, &params)
    }

    fn issue(&self, file: &str, params: &CertificateParams) -> anyhow::Result<(PathBuf, PathBuf)> {
        let key = KeyPair::generate()?;
        let cert = params.signed_by(&key, &self.ca)?;
        let (cert_path, key_path) =
            (self.dir.join(format!("{file}.pem")), self.dir.join(format!("{file}-key.pem")));
        std::fs::write(&cert_path, cert.pem())?;
        std::fs::write(&key_path, key.serialize_pem())?;
        Ok((cert_path, key_path))
    }

    /// Listener flags serving this CA's server certificate; `client_ca`: requiring client
    /// certificates from `client_ca`.
    pub fn server_args(&self, client_ca: Option<&Path>) -> anyhow::Result<TlsArgs> {
        let (cert, key) = self.server_files()?;
        Ok(TlsArgs {
            tls_cert: Some(cert),
            tls_key: Some(key),
            tls_client_ca: client_ca.map(Path::to_owned),
            tls_client_cert_optional: false,
        })
    }

    /// A client trusting this CA, presenting `identity` (cert and key files) if given.
    pub fn client(&self, identity: Option<&(PathBuf, PathBuf)>) -> anyhow::Result<ClientTlsConfig> {
        let mut config =
            ClientTlsConfig::new().ca_certificate(Certificate::from_pem(std::fs::read(self.ca_path())?));
        if let Some((cert, key)) = identity {
            config = config.identity(Identity::from_pem(std::fs::read(cert)?, std::fs::read(key)?));
        }
        Ok(config)
    }
}

impl Drop for TestPki {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
