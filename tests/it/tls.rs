//! TLS on every listener (`--tls-cert`/`--tls-key`) and client certificates as credentials
//! (`--tls-client-ca`), on the primary, the read node and `bindery dev`; HTTPS on the web console
//! with the same certificate.

use bindery_proto::v1;
use bindery_proto::v1::registry_service_client::RegistryServiceClient;
use bindery_proto::v1::resolver_service_client::ResolverServiceClient;
use bindery_server::cli::{ClientCli, run};
use bindery_test_util::{CertName, TestPki, Transport};
use clap::Parser;
use tonic::Code;
use tonic::transport::ClientTlsConfig;

use crate::access::{grant, set_binding, setup_model, with};
use crate::helpers::*;

const SIDECAR: &str = "spiffe://cluster.local/ns/serving/sa/sidecar";

async fn who_am_i(
    registry: &TestRegistry,
    tls: ClientTlsConfig,
    token: Option<&str>,
) -> Result<v1::WhoAmIResponse, tonic::Status> {
    let channel =
        registry.channel_with(Some(tls)).await.map_err(|e| tonic::Status::unavailable(e.to_string()))?;
    let req = v1::WhoAmIRequest { scopes: vec!["*".into()] };
    RegistryServiceClient::new(channel).who_am_i(with(req, token)).await.map(tonic::Response::into_inner)
}

/// TLS without client certificates: tokens authenticate over an encrypted channel, and neither
/// a plaintext client nor one that does not trust the server's CA gets an answer.
pub(crate) async fn tokens_over_tls_and_nothing_in_plaintext(backend: Backend) {
    let pki = TestPki::new("tls").unwrap();
    let transport =
        Transport { server: pki.server_args(None).unwrap(), client: Some(pki.client(None).unwrap()) };
    let (registry, admin) =
        TestRegistry::start_secured_over(backend, Default::default(), transport).await.unwrap();
    let mut r = registry.registry().await.unwrap();
    setup_model(&mut r, &admin, "fraud/detector", 1).await;
    let who = who_am_i(&registry, pki.client(None).unwrap(), Some(&admin)).await.unwrap();
    assert_eq!((who.principal.as_str(), who.authenticated_by.as_str()), ("admin", "token"));

    // Plaintext to a TLS port: no gRPC answer at all, with or without a token.
    let plain = format!("http://{}", registry.addr);
    let call = async {
        let channel = tonic::transport::Channel::from_shared(plain)?.connect().await?;
        let req = v1::WhoAmIRequest::default();
        Ok::<_, anyhow::Error>(RegistryServiceClient::new(channel).who_am_i(with(req, Some(&admin))).await?)
    };
    assert!(call.await.is_err(), "a plaintext client got an answer from a TLS listener");
    // A client that does not trust the server's CA refuses the handshake.
    let stranger = TestPki::new("stranger").unwrap();
    assert!(who_am_i(&registry, stranger.client(None).unwrap(), Some(&admin)).await.is_err());
    // The read side is TLS too.
    let channel = registry.read_side().channel_with(Some(pki.client(None).unwrap())).await.unwrap();
    let req = v1::GetReaderStatusRequest {};
    ResolverServiceClient::new(channel).get_reader_status(with(req, Some(&admin))).await.unwrap();
}

/// mTLS: a verified client certificate is a credential; its SAN URI, else SAN DNS name, else CN
/// is the principal, which needs grants like any other. A bearer token on the same call wins.
pub(crate) async fn client_certificates_name_principals(backend: Backend) {
    let pki = TestPki::new("mtls").unwrap();
    let probe = pki.client_files("probe", CertName::CommonName("probe")).unwrap();
    let transport = Transport {
        server: pki.server_args(Some(&pki.ca_path())).unwrap(),
        client: Some(pki.client(Some(&probe)).unwrap()),
    };
    let (registry, admin) =
        TestRegistry::start_secured_over(backend, Default::default(), transport).await.unwrap();
    let mut r = registry.registry().await.unwrap();
    // The harness's own certificate reads reader status.
    grant(&mut r, &admin, "probe", v1::Role::Viewer, "*").await;
    setup_model(&mut r, &admin, "fraud/detector", 1).await;
    set_binding(&mut r, &admin, "fraud/detector", "production", 1).await.unwrap();

    let sidecar = pki.client(Some(&pki.client_files("sidecar", CertName::Uri(SIDECAR)).unwrap())).unwrap();
    let who = who_am_i(&registry, sidecar.clone(), None).await.unwrap();
    assert_eq!((who.principal.as_str(), who.authenticated_by.as_str()), (SIDECAR, "client-certificate"));
    let dns = pki.client(Some(&pki.client_files("dns", CertName::Dns("trainer.ml.svc")).unwrap())).unwrap();
    assert_eq!(who_am_i(&registry, dns, None).await.unwrap().principal, "trainer.ml.svc");
    let cn = pki.client(Some(&pki.client_files("cn", CertName::CommonName("ci-runner")).unwrap())).unwrap();
    assert_eq!(who_am_i(&registry, cn.clone(), None).await.unwrap().principal, "ci-runner");
    // A token on a call over a certificate's connection names the caller.
    let who = who_am_i(&registry, cn, Some(&admin)).await.unwrap();
    assert_eq!((who.principal.as_str(), who.authenticated_by.as_str()), ("admin", "token"));

    // The certificate's principal has no grant yet: the read side refuses, then serves it.
    let resolve = |tls: ClientTlsConfig| {
        let registry = &registry;
        async move {
            let channel = registry.read_side().channel_with(Some(tls)).await.unwrap();
            let req = v1::ResolveRequest {
                model_name: "fraud/detector".into(),
                binding: "production".into(),
                ..Default::default()
            };
            ResolverServiceClient::new(channel).resolve(req).await.map(tonic::Response::into_inner)
        }
    };
    assert_status(resolve(sidecar.clone()).await, Code::PermissionDenied, &[SIDECAR, "VIEWER"]);
    let revision = grant(&mut r, &admin, SIDECAR, v1::Role::Viewer, "fraud/").await;
    registry.read_side().wait_revision(revision, std::time::Duration::from_secs(10)).await.unwrap();
    assert_eq!(resolve(sidecar).await.unwrap().version, 1);

    // No certificate, or one from another CA: the handshake fails, with or without a token.
    assert!(who_am_i(&registry, pki.client(None).unwrap(), Some(&admin)).await.is_err());
    let stranger = TestPki::new("stranger-ca").unwrap();
    let forged = stranger.client_files("forged", CertName::Uri(SIDECAR)).unwrap();
    let forged = ClientTlsConfig::new()
        .ca_certificate(tonic::transport::Certificate::from_pem(std::fs::read(pki.ca_path()).unwrap()))
        .identity(tonic::transport::Identity::from_pem(
            std::fs::read(&forged.0).unwrap(),
            std::fs::read(&forged.1).unwrap(),
        ));
    assert!(who_am_i(&registry, forged, None).await.is_err(), "a certificate from another CA was accepted");

    // The CLI over mTLS.
    let ca = pki.ca_path();
    let (cert, key) = pki.client_files("cli", CertName::Uri("spiffe://cluster.local/ns/ml/sa/cli")).unwrap();
    let server = format!("https://{}", registry.addr);
    let argv = [
        "bindery",
        "--server",
        &server,
        "--ca-cert",
        ca.to_str().unwrap(),
        "--client-cert",
        cert.to_str().unwrap(),
        "--client-key",
        key.to_str().unwrap(),
        "whoami",
    ];
    let cli = ClientCli::try_parse_from(argv).unwrap();
    let out = run(cli.args, cli.command).await.unwrap();
    assert!(
        out.contains("spiffe://cluster.local/ns/ml/sa/cli") && out.contains("client-certificate"),
        "{out}"
    );
}

/// One HTTP/1.1 request over `stream`; the raw answer.
async fn http_exchange<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(
    mut stream: S,
    request: &str,
) -> std::io::Result<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    stream.write_all(request.as_bytes()).await?;
    let mut answer = Vec::new();
    tokio::time::timeout(std::time::Duration::from_secs(10), stream.read_to_end(&mut answer))
        .await
        .map_err(|_| std::io::Error::other("no answer within 10 s"))??;
    Ok(String::from_utf8_lossy(&answer).into_owned())
}

/// A TLS client trusting only the CA in `ca`.
fn trusting(ca: &std::path::Path) -> tokio_rustls::TlsConnector {
    use rustls_pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_pki_types::CertificateDer::pem_file_iter(ca).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    tokio_rustls::TlsConnector::from(std::sync::Arc::new(config))
}

/// With `--tls-cert`/`--tls-key` the console is HTTPS with the gRPC listener's certificate: a
/// browser that trusts the CA gets the pages and the JSON layer, plaintext gets no page, and a
/// client that does not trust the CA fails its handshake. (The console is the same code in
/// `bindery dev`; this runs it on the PostgreSQL primary.)
#[tokio::test]
async fn the_console_serves_https_with_the_listeners_certificate() {
    let pki = TestPki::new("console-tls").unwrap();
    let console_addr = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap()
    };
    let server_tls = pki.server_args(None).unwrap();
    let db = TestDb::create().await.unwrap();
    let primary = TestPrimary::start_tls(db, Some(pki.client(None).unwrap()), |c| {
        c.tls = server_tls;
        c.console_listen = bindery_server::ListenAddr(Some(console_addr));
    })
    .await
    .unwrap();

    let name = rustls_pki_types::ServerName::try_from("127.0.0.1").unwrap();
    let get = format!("GET /health HTTP/1.1\r\nHost: {console_addr}\r\nConnection: close\r\n\r\n");
    let tcp = tokio::net::TcpStream::connect(console_addr).await.unwrap();
    let tls = trusting(&pki.ca_path()).connect(name.clone(), tcp).await.unwrap();
    let answer = http_exchange(tls, &get).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 200") && answer.ends_with("OK"), "{answer}");
    assert!(answer.contains("content-security-policy"), "{answer}");
    let body = "{}";
    let post = format!(
        "POST /api/v1/WhoAmI HTTP/1.1\r\nHost: {console_addr}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let tcp = tokio::net::TcpStream::connect(console_addr).await.unwrap();
    let tls = trusting(&pki.ca_path()).connect(name.clone(), tcp).await.unwrap();
    let answer = http_exchange(tls, &post).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 200") && answer.contains("\"principal\""), "{answer}");

    // Plaintext HTTP to the HTTPS port: no page.
    let tcp = tokio::net::TcpStream::connect(console_addr).await.unwrap();
    let answer = http_exchange(tcp, &get).await.unwrap_or_default();
    assert!(!answer.contains("200"), "plaintext got a page: {answer}");
    // A browser that does not trust the CA refuses the handshake.
    let stranger = TestPki::new("console-stranger").unwrap();
    let tcp = tokio::net::TcpStream::connect(console_addr).await.unwrap();
    assert!(trusting(&stranger.ca_path()).connect(name, tcp).await.is_err());
    primary.stop().await.unwrap();
}
