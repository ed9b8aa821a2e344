//! Who may do what, on both stores and the read side: authentication, the role × RPC matrix,
//! protected bindings, revocation reaching read nodes, and the hash-chained audit trail.

use std::time::{Duration, Instant};

use bindery_proto::v1;
use tonic::{Code, Request, Status};

use crate::helpers::*;

/// `message` sent with `token` (none: no credentials at all).
pub(crate) fn with<T>(message: T, token: Option<&str>) -> Request<T> {
    let mut request = Request::new(message);
    if let Some(token) = token {
        request.metadata_mut().insert("authorization", format!("Bearer {token}").parse().unwrap());
    }
    request
}

pub(crate) async fn create_token(registry: &mut Registry, admin: &str, principal: &str) -> String {
    let req =
        v1::CreateTokenRequest { principal: principal.into(), description: "test".into(), expires_at: None };
    registry.create_token(with(req, Some(admin))).await.unwrap().into_inner().secret
}

pub(crate) async fn grant(
    registry: &mut Registry,
    admin: &str,
    subject: &str,
    role: v1::Role,
    scope: &str,
) -> u64 {
    let req = v1::CreateGrantRequest { subject: subject.into(), role: role as i32, scope: scope.into() };
    registry.create_grant(with(req, Some(admin))).await.unwrap().into_inner().revision
}

pub(crate) async fn set_binding(
    registry: &mut Registry,
    token: &str,
    model: &str,
    binding: &str,
    version: u64,
) -> Result<v1::SetBindingResponse, Status> {
    let req = v1::SetBindingRequest {
        model_name: model.into(),
        binding: binding.into(),
        version,
        expected_generation: None,
        reason: "test".into(),
        ..Default::default()
    };
    registry.set_binding(with(req, Some(token))).await.map(tonic::Response::into_inner)
}

pub(crate) async fn setup_model(registry: &mut Registry, admin: &str, model: &str, versions: u64) {
    let req = v1::CreateModelRequest { name: model.into(), ..Default::default() };
    registry.create_model(with(req, Some(admin))).await.unwrap();
    for v in 1..=versions {
        registry
            .register_version(with(register_request(model, &format!("r{v}")), Some(admin)))
            .await
            .unwrap();
    }
}

/// The acceptance scenario: a CONTRIBUTOR registers and moves `champion` but not
/// `production`; an APPROVER moves `production`; the actor recorded is the token's principal.
pub(crate) async fn contributors_move_aliases_and_approvers_move_stages(backend: Backend) {
    let (registry, admin) = TestRegistry::start_secured(backend).await.unwrap();
    let mut r = registry.registry().await.unwrap();
    let contributor = create_token(&mut r, &admin, "carol").await;
    let approver = create_token(&mut r, &admin, "alice").await;
    grant(&mut r, &admin, "carol", v1::Role::Contributor, "fraud/").await;
    grant(&mut r, &admin, "alice", v1::Role::Approver, "fraud/detector").await;

    // Without credentials, or with made-up ones: UNAUTHENTICATED, saying what to send.
    let create = || v1::CreateModelRequest { name: "fraud/detector".into(), ..Default::default() };
    assert_status(r.create_model(create()).await, Code::Unauthenticated, &["authorization: Bearer"]);
    let unknown = format!("bdy_{}", "0".repeat(64));
    assert_status(
        r.create_model(with(create(), Some(&unknown))).await,
        Code::Unauthenticated,
        &["not valid"],
    );
    assert_status(r.create_model(with(create(), Some("nope"))).await, Code::Unauthenticated, &["malformed"]);

    // The contributor creates the model (its namespace grant covers it) and registers; the
    // claimed actor header is ignored: the principal is recorded.
    let mut request = with(create(), Some(&contributor));
    request.metadata_mut().insert("x-bindery-actor", "mallory".parse().unwrap());
    let model = r.create_model(request).await.unwrap().into_inner();
    assert_eq!(model.created_by, "carol");
    let version = r
        .register_version(with(register_request("fraud/detector", "run-1"), Some(&contributor)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(version.version.unwrap().created_by, "carol");
    set_binding(&mut r, &contributor, "fraud/detector", "champion", 1).await.unwrap();

    let before = registry.revision().await.unwrap();
    assert_status(
        set_binding(&mut r, &contributor, "fraud/detector", "production", 1).await,
        Code::PermissionDenied,
        &["'carol'", "APPROVER", "model 'fraud/detector'", "'production' is protected"],
    );
    assert_eq!(registry.revision().await.unwrap(), before, "a denied call writes nothing");
    // The approver's grant is on this model only.
    let moved = set_binding(&mut r, &approver, "fraud/detector", "production", 1).await.unwrap();
    assert_eq!(moved.binding.unwrap().updated_by, "alice");
    let req = v1::CreateModelRequest { name: "fraud/other".into(), ..Default::default() };
    assert_status(
        r.create_model(with(req, Some(&approver))).await,
        Code::PermissionDenied,
        &["'alice'", "CONTRIBUTOR"],
    );

    // An admin protects `champion` for this model: now the contributor may not move it either.
    let req = v1::SetBindingProtectionRequest {
        binding: "champion".into(),
        scope: "fraud/detector".into(),
        protected: true,
    };
    r.set_binding_protection(with(req.clone(), Some(&contributor))).await.unwrap_err();
    r.set_binding_protection(with(req, Some(&admin))).await.unwrap();
    assert_status(
        set_binding(&mut r, &contributor, "fraud/detector", "champion", 1).await,
        Code::PermissionDenied,
        &["'champion' is protected"],
    );

    // WhoAmI reports the effective roles.
    let who = r
        .who_am_i(with(
            v1::WhoAmIRequest { scopes: vec!["fraud/detector".into(), "*".into()] },
            Some(&contributor),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((who.principal.as_str(), who.authenticated_by.as_str()), ("carol", "token"));
    assert_eq!(who.roles[0].role, v1::Role::Contributor as i32);
    assert_eq!(who.roles[1].role, v1::Role::Unspecified as i32);

    // The read side answers the same principals from its cache.
    let revision = registry.revision().await.unwrap();
    let mut resolver = registry.resolver().await.unwrap();
    let resolve = |min_revision| v1::ResolveRequest {
        model_name: "fraud/detector".into(),
        binding: "production".into(),
        min_revision,
        presign: false,
        ..Default::default()
    };
    assert_status(resolver.resolve(resolve(revision)).await, Code::Unauthenticated, &["authorization"]);
    let resolved = resolver.resolve(with(resolve(revision), Some(&approver))).await.unwrap().into_inner();
    assert_eq!(resolved.version, 1);
    let outsider = create_token(&mut r, &admin, "oscar").await;
    let revision = registry.revision().await.unwrap();
    assert_status(
        resolver.resolve(with(resolve(revision), Some(&outsider))).await,
        Code::PermissionDenied,
        &["'oscar'", "VIEWER"],
    );
}

/// A revoked token stops working on the read side within a second, with no restart.
pub(crate) async fn a_revoked_token_fails_on_the_read_side_within_a_second(backend: Backend) {
    let (registry, admin) = TestRegistry::start_secured(backend).await.unwrap();
    let mut r = registry.registry().await.unwrap();
    setup_model(&mut r, &admin, "svc/model", 1).await;
    set_binding(&mut r, &admin, "svc/model", "production", 1).await.unwrap();
    let req = v1::CreateTokenRequest { principal: "sidecar".into(), ..Default::default() };
    let created = r.create_token(with(req, Some(&admin))).await.unwrap().into_inner();
    let revision = grant(&mut r, &admin, "sidecar", v1::Role::Viewer, "svc/").await;
    let mut resolver = registry.resolver().await.unwrap();
    let resolve = |min_revision| {
        with(
            v1::ResolveRequest {
                model_name: "svc/model".into(),
                binding: "production".into(),
                min_revision,
                presign: false,
                ..Default::default()
            },
            Some(&created.secret),
        )
    };
    assert_eq!(resolver.resolve(resolve(revision)).await.unwrap().into_inner().version, 1);

    let id = created.token.unwrap().id;
    let revoked = r
        .revoke_token(with(v1::RevokeTokenRequest { id: id.clone() }, Some(&admin)))
        .await
        .unwrap()
        .into_inner();
    let started = Instant::now();
    loop {
        match resolver.resolve(resolve(0)).await {
            Err(s) if s.code() == Code::Unauthenticated => break,
            other => {
                assert!(started.elapsed() < Duration::from_secs(1), "still accepted after 1 s: {other:?}");
            }
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // The primary refuses it too, and revoking again is a no-op.
    assert_status(
        r.get_model(with(v1::GetModelRequest { name: "svc/model".into() }, Some(&created.secret))).await,
        Code::Unauthenticated,
        &["not valid"],
    );
    let again = r.revoke_token(with(v1::RevokeTokenRequest { id }, Some(&admin))).await.unwrap().into_inner();
    assert_eq!(again.revision, revoked.revision);
}

/// Every mutation is in the chain; `VerifyAuditLog` names a row altered or deleted through SQL.
pub(crate) async fn the_audit_chain_names_a_tampered_row(backend: Backend) {
    let (registry, admin) = TestRegistry::start_secured(backend).await.unwrap();
    let mut r = registry.registry().await.unwrap();
    setup_model(&mut r, &admin, "fraud/detector", 2).await;
    set_binding(&mut r, &admin, "fraud/detector", "production", 1).await.unwrap();
    let mut traced =
        with(v1::CreateModelRequest { name: "fraud/traced".into(), ..Default::default() }, Some(&admin));
    traced
        .metadata_mut()
        .insert("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".parse().unwrap());
    r.create_model(traced).await.unwrap();

    let verify = v1::VerifyAuditLogRequest {};
    let report = r.verify_audit_log(with(verify, Some(&admin))).await.unwrap().into_inner();
    assert!(report.intact, "{report:?}");
    // bootstrap grant + token, model, 2 versions, binding, traced model
    assert_eq!(report.rows_checked, 7, "{report:?}");

    // Listing: newest first, filtered by model, with the trace id (not the raw header).
    let req = v1::ListAuditEventsRequest { model: "fraud/detector".into(), ..Default::default() };
    let events = r.list_audit_events(with(req, Some(&admin))).await.unwrap().into_inner().events;
    let actions: Vec<&str> = events.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["binding.set", "version.register", "version.register", "model.create"]);
    assert!(events.iter().all(|e| e.actor == "admin" && e.hash.len() == 64));
    let req = v1::ListAuditEventsRequest { namespace: "fraud".into(), page_size: 1, ..Default::default() };
    let page = r.list_audit_events(with(req, Some(&admin))).await.unwrap().into_inner();
    assert_eq!(page.events[0].trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
    assert!(!page.next_page_token.is_empty());

    // Alter one row behind the registry's back: the chain names it.
    let rows = registry
        .rows("SELECT id, action FROM audit_log WHERE action = 'version.register' ORDER BY id")
        .await
        .unwrap();
    let tampered = rows[0].0;
    registry.execute(&format!("UPDATE audit_log SET actor = 'mallory' WHERE id = {tampered}")).await.unwrap();
    let report =
        r.verify_audit_log(with(v1::VerifyAuditLogRequest {}, Some(&admin))).await.unwrap().into_inner();
    let broken = report.first_break.expect("tampering detected");
    assert!(!report.intact);
    assert_eq!(broken.id, u64::try_from(tampered).unwrap());
    assert!(broken.reason.contains("altered"), "{}", broken.reason);
    assert_ne!(broken.expected_hash, broken.found_hash);

    // The CLI says the same, and fails.
    let endpoint = registry.endpoint();
    let cli = <bindery_server::cli::ClientCli as clap::Parser>::try_parse_from([
        "bindery", "--server", &endpoint, "--token", &admin, "audit", "verify",
    ])
    .unwrap();
    let err = bindery_server::cli::run(cli.args, cli.command).await.unwrap_err();
    assert!(format!("{err:#}").contains(&format!("BROKEN at row {tampered}")), "{err:#}");
}

/// `bindery primary` with its default settings refuses an unauthenticated write.
#[tokio::test]
async fn a_primary_with_default_settings_requires_authentication() {
    let db = TestDb::create().await.unwrap();
    let primary = TestPrimary::start_with(db, |c| {
        c.auth = bindery_server::PrimaryConfig::new(c.listen, c.database.database_url.clone()).auth;
    })
    .await
    .unwrap();
    let mut r = primary.registry().await.unwrap();
    let mut request = Request::new(v1::CreateModelRequest { name: "m".into(), ..Default::default() });
    request.metadata_mut().insert("x-bindery-actor", "admin".parse().unwrap());
    assert_status(
        r.create_model(request).await,
        Code::Unauthenticated,
        &["authorization: Bearer", "bindery token create"],
    );
    // Health and reflection stay open for probes.
    assert_eq!(primary.health("").await.unwrap(), 1);
    let cli = <bindery_server::cli::ClientCli as clap::Parser>::try_parse_from([
        "bindery",
        "--server",
        &primary.endpoint(),
        "whoami",
    ])
    .unwrap();
    let err = bindery_server::cli::run(cli.args, cli.command).await.unwrap_err();
    assert!(format!("{err:#}").starts_with("UNAUTHENTICATED: "), "{err:#}");
}

mod jwt {
    //! OIDC / JWT bearer tokens from an identity provider whose JWKS this test serves over HTTP.

    use std::sync::{Arc, Mutex};

    use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use jsonwebtoken::{Algorithm, EncodingKey, Header};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    struct Key {
        der: Vec<u8>,
        jwk: serde_json::Value,
        kid: &'static str,
    }

    /// A P-256 signing key generated for the test.
    fn key(kid: &'static str) -> Key {
        let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
        let der = pair.to_pkcs8v1().unwrap().as_ref().to_vec();
        let point = pair.public_key().as_ref();
        let jwk = serde_json::json!({"kty": "EC", "crv": "P-256", "kid": kid, "alg": "ES256", "use": "sig",
            "x": URL_SAFE_NO_PAD.encode(&point[1..33]), "y": URL_SAFE_NO_PAD.encode(&point[33..65])});
        Key { der, jwk, kid }
    }

    fn jwt(key: &Key, sub: &str, groups: &[&str], aud: &str) -> String {
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(key.kid.into());
        let claims = serde_json::json!({"iss": "https://idp.test", "aud": aud, "sub": sub, "groups": groups,
            "exp": jsonwebtoken::get_current_timestamp() + 300});
        jsonwebtoken::encode(&header, &claims, &EncodingKey::from_ec_der(&key.der)).unwrap()
    }

    /// Serves whatever `jwks` holds at any path, one response per connection.
    async fn serve_jwks(jwks: Arc<Mutex<String>>) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let body = jwks.lock().unwrap().clone();
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 4_096];
                    let _ = socket.read(&mut buf).await;
                    let reply = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = socket.write_all(reply.as_bytes()).await;
                });
            }
        });
        format!("http://{addr}/.well-known/jwks.json")
    }

    #[tokio::test]
    async fn jwts_authenticate_on_the_primary_and_readers_and_rotated_keys_are_fetched() {
        let (k1, k2) = (key("k1"), key("k2"));
        let jwks = Arc::new(Mutex::new(serde_json::json!({"keys": [k1.jwk]}).to_string()));
        let url = serve_jwks(jwks.clone()).await;
        let config = bindery_server::config::JwtArgs {
            jwt_jwks_url: Some(url),
            jwt_issuer: "https://idp.test".into(),
            jwt_audience: "bindery".into(),
            ..Default::default()
        };
        let (registry, admin) = TestRegistry::start_secured_with(Backend::Postgres, config).await.unwrap();
        let mut r = registry.registry().await.unwrap();
        grant(&mut r, &admin, "group:ml-platform", v1::Role::Contributor, "ml/").await;

        // A Kubernetes service account in the ml-platform group creates, registers and binds.
        let trainer = jwt(&k1, "system:serviceaccount:ml:trainer", &["ml-platform"], "bindery");
        let req = v1::CreateModelRequest { name: "ml/churn".into(), ..Default::default() };
        let model = r.create_model(with(req, Some(&trainer))).await.unwrap().into_inner();
        assert_eq!(model.created_by, "system:serviceaccount:ml:trainer");
        r.register_version(with(register_request("ml/churn", "r1"), Some(&trainer))).await.unwrap();
        let bound = set_binding(&mut r, &trainer, "ml/churn", "champion", 1).await.unwrap();
        assert_status(
            set_binding(&mut r, &trainer, "ml/churn", "production", 1).await,
            Code::PermissionDenied,
            &["APPROVER"],
        );
        let who = r
            .who_am_i(with(v1::WhoAmIRequest { scopes: vec!["ml/".into()] }, Some(&trainer)))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            (who.authenticated_by.as_str(), who.groups.as_slice()),
            ("jwt", &["ml-platform".to_owned()][..])
        );

        // The read node verifies the JWT itself (its own JWKS fetch), no database call.
        let mut resolver = registry.resolver().await.unwrap();
        let resolve = |token: &str| {
            with(
                v1::ResolveRequest {
                    model_name: "ml/churn".into(),
                    binding: "champion".into(),
                    min_revision: bound.revision,
                    presign: false,
                    ..Default::default()
                },
                Some(token),
            )
        };
        assert_eq!(resolver.resolve(resolve(&trainer)).await.unwrap().into_inner().version, 1);

        // Another audience, or no group grant: refused.
        let elsewhere = jwt(&k1, "system:serviceaccount:ml:trainer", &["ml-platform"], "another-service");
        assert_status(
            r.get_model(with(v1::GetModelRequest { name: "ml/churn".into() }, Some(&elsewhere))).await,
            Code::Unauthenticated,
            &["not accepted"],
        );
        assert_status(resolver.resolve(resolve(&elsewhere)).await, Code::Unauthenticated, &["not accepted"]);
        let stranger = jwt(&k1, "someone", &[], "bindery");
        assert_status(resolver.resolve(resolve(&stranger)).await, Code::PermissionDenied, &["'someone'"]);

        // The provider rotates to k2: a token naming the new key id makes both processes re-read
        // the JWKS (at most once per 5 s), and it is accepted without a restart.
        *jwks.lock().unwrap() = serde_json::json!({"keys": [k1.jwk, k2.jwk]}).to_string();
        tokio::time::sleep(Duration::from_millis(5_200)).await;
        let rotated = jwt(&k2, "system:serviceaccount:ml:trainer", &["ml-platform"], "bindery");
        r.get_model(with(v1::GetModelRequest { name: "ml/churn".into() }, Some(&rotated))).await.unwrap();
        assert_eq!(resolver.resolve(resolve(&rotated)).await.unwrap().into_inner().version, 1);
    }
}
