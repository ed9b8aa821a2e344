//! TLS to PostgreSQL with libpq's `sslmode` meanings, on rustls: `disable`, `prefer` (the
//! default: encrypted when the server offers it, unverified), `require` (encrypted, unverified —
//! or verified like `verify-ca` when `sslrootcert` is given, as libpq does), `verify-ca` (the
//! server's chain must lead to `sslrootcert`) and `verify-full` (that, and the certificate must
//! name the host). `sslrootcert=system` uses the platform's roots. The same settings serve the
//! pool, the LISTEN connection and migrations.

use std::sync::Arc;

use bindery_core::{Error, Result};
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio_postgres::config::SslMode;
use tokio_postgres_rustls::MakeRustlsConnect;

/// How the server's certificate is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verify {
    /// Not at all (`prefer`, `require`): protects against eavesdropping, not impersonation.
    None,
    /// The chain must lead to a trusted root; any host name.
    Ca,
    /// The chain, and the host name.
    Full,
}

/// The `sslmode` and `sslrootcert` of a connection string, taken out of it (tokio-postgres knows
/// only disable/prefer/require and no root certificates).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SslSettings {
    pub mode: SslMode,
    pub verify: Verify,
    pub root_cert: Option<String>,
}

/// Splits `sslmode`/`sslrootcert` off `url` (URL or key=value form): what remains for
/// tokio-postgres, and the TLS settings.
pub fn split_ssl(url: &str) -> Result<(String, SslSettings)> {
    let mut mode = None;
    let mut root_cert = None;
    let rest = if let Some((base, query)) = url.split_once('?').filter(|_| url.contains("://")) {
        let mut kept = Vec::new();
        for pair in query.split('&') {
            match pair.split_once('=') {
                Some(("sslmode", v)) => mode = Some(v.to_owned()),
                Some(("sslrootcert", v)) => root_cert = Some(percent_decode(v)),
                _ => kept.push(pair),
            }
        }
        if kept.is_empty() { base.to_owned() } else { format!("{base}?{}", kept.join("&")) }
    } else if url.contains("://") {
        url.to_owned()
    } else {
        let mut kept = Vec::new();
        for pair in url.split_whitespace() {
            match pair.split_once('=') {
                Some(("sslmode", v)) => mode = Some(v.to_owned()),
                Some(("sslrootcert", v)) => root_cert = Some(v.trim_matches('\'').to_owned()),
                _ => kept.push(pair),
            }
        }
        kept.join(" ")
    };
    let (mode, verify) = match mode.as_deref() {
        None | Some("prefer") => (SslMode::Prefer, Verify::None),
        Some("disable") => (SslMode::Disable, Verify::None),
        Some("require") if root_cert.is_some() => (SslMode::Require, Verify::Ca),
        Some("require") => (SslMode::Require, Verify::None),
        Some("verify-ca") => (SslMode::Require, Verify::Ca),
        Some("verify-full") => (SslMode::Require, Verify::Full),
        Some(other) => {
            return Err(Error::InvalidArgument(format!(
                "database url: sslmode {other:?} is not one of disable, prefer, require, verify-ca, verify-full"
            )));
        }
    };
    Ok((rest, SslSettings { mode, verify, root_cert }))
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(b) = s.get(i + 1..i + 3).and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The connector for `settings` (roots read now: a bad `sslrootcert` fails at start).
pub fn connector(settings: &SslSettings) -> Result<MakeRustlsConnect> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Internal(format!("TLS for PostgreSQL: {e}")))?;
    let chain = match settings.verify {
        Verify::None => None,
        Verify::Ca | Verify::Full => {
            let roots = Arc::new(roots(settings.root_cert.as_deref())?);
            let webpki = WebPkiServerVerifier::builder_with_provider(roots, provider.clone())
                .build()
                .map_err(|e| Error::InvalidArgument(format!("database url: sslrootcert: {e}")))?;
            Some(webpki)
        }
    };
    let config = match chain {
        Some(webpki) if settings.verify == Verify::Full => {
            builder.with_webpki_verifier(webpki).with_no_client_auth()
        }
        chain => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(Lenient { provider, chain }))
            .with_no_client_auth(),
    };
    Ok(MakeRustlsConnect::new(config))
}

fn roots(root_cert: Option<&str>) -> Result<RootCertStore> {
    let mut store = RootCertStore::empty();
    match root_cert {
        None | Some("system") => {
            let found = rustls_native_certs::load_native_certs();
            store.add_parsable_certificates(found.certs);
        }
        Some(path) => {
            let certs = CertificateDer::pem_file_iter(path)
                .and_then(|certs| certs.collect::<std::result::Result<Vec<_>, _>>())
                .map_err(|e| Error::InvalidArgument(format!("database url: sslrootcert {path:?}: {e}")))?;
            store.add_parsable_certificates(certs);
        }
    }
    if store.is_empty() {
        return Err(Error::InvalidArgument(format!(
            "database url: no root certificate to verify the server with (sslrootcert {})",
            root_cert.unwrap_or("system")
        )));
    }
    Ok(store)
}

/// `prefer`/`require` (no `chain`: the certificate is not checked) and `verify-ca` (the chain
/// must lead to a trusted root; any host name). The handshake's signatures are always checked.
#[derive(Debug)]
struct Lenient {
    provider: Arc<CryptoProvider>,
    chain: Option<Arc<WebPkiServerVerifier>>,
}

impl ServerCertVerifier for Lenient {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        let Some(chain) = &self.chain else { return Ok(ServerCertVerified::assertion()) };
        match chain.verify_server_cert(end_entity, intermediates, server_name, ocsp, now) {
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::NotValidForName
                | rustls::CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sslmode_and_rootcert_are_taken_out_of_both_forms() {
        let (rest, s) =
            split_ssl("postgres://u@db/b?sslmode=verify-full&sslrootcert=%2Fetc%2Fca.pem&x=1").unwrap();
        assert_eq!(rest, "postgres://u@db/b?x=1");
        assert_eq!(
            (s.mode, s.verify, s.root_cert.as_deref()),
            (SslMode::Require, Verify::Full, Some("/etc/ca.pem"))
        );
        let (rest, s) = split_ssl("host=db sslmode=require user=u").unwrap();
        assert_eq!(rest, "host=db user=u");
        assert_eq!((s.mode, s.verify), (SslMode::Require, Verify::None));
        let (_, s) = split_ssl("postgres://db/b?sslmode=require&sslrootcert=/ca.pem").unwrap();
        assert_eq!(s.verify, Verify::Ca, "require with a root certificate verifies, as libpq does");
        let (rest, s) = split_ssl("postgres://db/b").unwrap();
        assert_eq!((rest.as_str(), s.mode), ("postgres://db/b", SslMode::Prefer));
        assert!(split_ssl("postgres://db/b?sslmode=allow-any").is_err());
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 2_000, ..Default::default() })]

        #[test]
        fn any_connection_string_splits_or_is_refused(url in ".{0,200}") {
            if let Err(e) = split_ssl(&url) {
                proptest::prop_assert!(matches!(e, Error::InvalidArgument(_)));
            }
        }
    }
}
