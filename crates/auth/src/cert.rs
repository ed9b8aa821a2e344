//! Client certificates (mTLS): the principal a certificate the TLS handshake verified stands for.
//! The handshake (rustls, against `--tls-client-ca`) decides whether the certificate is trusted;
//! this reads its names, and `bindery_core::certificate_principal` picks the principal.

use std::sync::Arc;

use bindery_core::{Error, Principal, Result, certificate_principal};
use dashmap::DashMap;
use foldhash::fast::FixedState;
use x509_parser::extensions::GeneralName;

/// Distinct certificates remembered; past this the memory is cleared and refilled.
const MAX_REMEMBERED: usize = 4_096;
/// Certificates larger than this are refused unread.
const MAX_CERT_BYTES: usize = 16_384;

/// Principals of verified client certificates, remembered per certificate so a call on a
/// long-lived connection does not parse X.509 again.
#[derive(Debug, Default)]
pub struct ClientCertPrincipals {
    known: DashMap<Box<[u8]>, Arc<Principal>, FixedState>,
}

impl ClientCertPrincipals {
    pub fn new() -> Self {
        Self::default()
    }

    /// The principal of the leaf certificate `der` (DER-encoded, already verified by the TLS
    /// handshake); `Unauthenticated` when it names no usable principal.
    pub fn principal(&self, der: &[u8]) -> Result<Arc<Principal>> {
        if let Some(known) = self.known.get(der) {
            return Ok(known.clone());
        }
        let who = Arc::new(read_principal(der)?);
        if self.known.len() >= MAX_REMEMBERED {
            self.known.clear();
        }
        self.known.insert(der.into(), who.clone());
        Ok(who)
    }
}

fn read_principal(der: &[u8]) -> Result<Principal> {
    let unreadable = |e: &dyn std::fmt::Display| {
        Error::Unauthenticated(format!("the client certificate could not be read: {e}"))
    };
    if der.len() > MAX_CERT_BYTES {
        return Err(unreadable(&format!("it is {} bytes, at most {MAX_CERT_BYTES} allowed", der.len())));
    }
    let (_, cert) = x509_parser::parse_x509_certificate(der).map_err(|e| unreadable(&e))?;
    let (mut uris, mut dns_names) = (Vec::new(), Vec::new());
    if let Some(san) = cert.subject_alternative_name().map_err(|e| unreadable(&e))? {
        for name in &san.value.general_names {
            match name {
                GeneralName::URI(uri) => uris.push(*uri),
                GeneralName::DNSName(dns) => dns_names.push(*dns),
                _ => {}
            }
        }
    }
    let common_name = cert.subject().iter_common_name().next().and_then(|cn| cn.as_str().ok());
    certificate_principal(&uris, &dns_names, common_name)
}

#[cfg(test)]
mod tests {
    use bindery_core::AuthMethod;
    use rcgen::{CertificateParams, DistinguishedName, DnType, KeyPair, SanType};

    use super::*;

    fn cert(sans: Vec<SanType>, cn: Option<&str>) -> Vec<u8> {
        let mut params = CertificateParams::default();
        params.subject_alt_names = sans;
        params.distinguished_name = DistinguishedName::new();
        if let Some(cn) = cn {
            params.distinguished_name.push(DnType::CommonName, cn);
        }
        let key = KeyPair::generate().unwrap();
        params.self_signed(&key).unwrap().der().to_vec()
    }

    #[test]
    fn reads_san_uri_then_dns_then_cn() {
        let certs = ClientCertPrincipals::new();
        let spiffe = "spiffe://cluster.local/ns/serving/sa/sidecar";
        let both = cert(
            vec![
                SanType::DnsName("sidecar.example".try_into().unwrap()),
                SanType::URI(spiffe.try_into().unwrap()),
            ],
            Some("cn"),
        );
        let who = certs.principal(&both).unwrap();
        assert_eq!((who.name.as_str(), who.method), (spiffe, AuthMethod::ClientCertificate));
        assert!(Arc::ptr_eq(&who, &certs.principal(&both).unwrap()), "remembered");
        let dns = cert(vec![SanType::DnsName("sidecar.example".try_into().unwrap())], Some("cn"));
        assert_eq!(certs.principal(&dns).unwrap().name, "sidecar.example");
        assert_eq!(certs.principal(&cert(vec![], Some("ci-runner"))).unwrap().name, "ci-runner");
        assert!(matches!(certs.principal(&cert(vec![], None)), Err(Error::Unauthenticated(_))));
        assert!(matches!(certs.principal(b"not a certificate"), Err(Error::Unauthenticated(_))));
    }
}
