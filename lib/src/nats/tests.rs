//! Each authentication method and TLS against a nats-server of the test's own that
//! requires it: the right credentials connect, wrong ones are refused with an error that
//! names the settings keys and never the secret.

use std::path::{Path, PathBuf};

use super::{ConnectError, connect};
use crate::dev::nats_server::NatsServer;
use crate::settings::NatsSettings;
use crate::testkit;

fn binary() -> PathBuf {
    crate::testkit::nats::nats_server_binary()
}

async fn server(dir: &Path, config: &str) -> NatsServer {
    NatsServer::start_configured(&binary(), &dir.join("nats"), None, config).await.expect("nats-server starts")
}

/// `[nats]` for `url` and `extra` settings.
fn nats(url: &str, extra: &[(&str, &str)]) -> NatsSettings {
    testkit::settings(url, &testkit::random_prefix(), extra).nats
}

/// Connects and makes a round trip (the server only answers a PING once it accepted the
/// CONNECT).
async fn works(settings: &NatsSettings) {
    let client = connect(settings, "auth test").await.unwrap_or_else(|e| panic!("{e}"));
    client.flush().await.expect("a round trip on the authenticated connection");
}

async fn refused(settings: &NatsSettings, secret: &str) -> String {
    let error = match connect(settings, "auth test").await {
        Ok(_) => panic!("connected with wrong credentials"),
        Err(error) => error,
    };
    let text = error.to_string();
    assert!(!text.contains(secret), "the secret is in the error: {text}");
    text
}

#[tokio::test]
async fn user_and_password_in_the_url_are_sent_apart_from_it_and_never_shown() {
    let dir = tempfile::tempdir().unwrap();
    let server = server(dir.path(), r#"authorization { user: "docflow", password: "pw-in-url-4471" }"#).await;
    let port = server.port();
    works(&nats(&format!("nats://docflow:pw-in-url-4471@127.0.0.1:{port}"), &[])).await;
    // Percent-encoded, as URLs require for `@`, `:` or `/` in a password.
    let text = refused(&nats(&format!("nats://docflow:wrong%40pw-9@127.0.0.1:{port}"), &[]), "wrong@pw-9").await;
    assert!(text.contains("nats://docflow:***@127.0.0.1"), "{text}");
    assert!(text.contains("nats.user + nats.password"), "{text}");
    refused(&nats(&format!("nats://127.0.0.1:{port}"), &[]), "pw-in-url-4471").await;
    server.stop().await;
}

#[tokio::test]
async fn user_and_password_in_the_settings() {
    let dir = tempfile::tempdir().unwrap();
    let server = server(dir.path(), r#"authorization { user: "docflow", password: "pw-in-settings-1" }"#).await;
    let url = format!("nats://127.0.0.1:{}", server.port());
    works(&nats(&url, &[("DOCFLOW__NATS__USER", "docflow"), ("DOCFLOW__NATS__PASSWORD", "pw-in-settings-1")])).await;
    refused(&nats(&url, &[("DOCFLOW__NATS__USER", "docflow"), ("DOCFLOW__NATS__PASSWORD", "nope-2")]), "nope-2").await;
    server.stop().await;
}

#[tokio::test]
async fn a_token_in_the_settings_or_the_url() {
    let dir = tempfile::tempdir().unwrap();
    let server = server(dir.path(), r#"authorization { token: "tok-5521-secret" }"#).await;
    let port = server.port();
    works(&nats(&format!("nats://127.0.0.1:{port}"), &[("DOCFLOW__NATS__TOKEN", "tok-5521-secret")])).await;
    works(&nats(&format!("nats://tok-5521-secret@127.0.0.1:{port}"), &[])).await;
    let text = refused(&nats(&format!("nats://bad-tok-77@127.0.0.1:{port}"), &[]), "bad-tok-77").await;
    assert!(text.contains("nats.token"), "{text}");
    server.stop().await;
}

#[tokio::test]
async fn an_nkey_seed_file() {
    let dir = tempfile::tempdir().unwrap();
    let user = nkeys::KeyPair::new_user();
    let config = format!(r#"authorization {{ users = [ {{ nkey: "{}" }} ] }}"#, user.public_key());
    let server = server(dir.path(), &config).await;
    let url = format!("nats://127.0.0.1:{}", server.port());
    let seed_file = dir.path().join("docflow.nk");
    std::fs::write(&seed_file, format!("{}\n", user.seed().unwrap())).unwrap();
    works(&nats(&url, &[("DOCFLOW__NATS__NKEY_SEED_FILE", seed_file.to_str().unwrap())])).await;

    let stranger = nkeys::KeyPair::new_user();
    let other_file = dir.path().join("other.nk");
    std::fs::write(&other_file, stranger.seed().unwrap()).unwrap();
    let seed = stranger.seed().unwrap();
    let text = refused(&nats(&url, &[("DOCFLOW__NATS__NKEY_SEED_FILE", other_file.to_str().unwrap())]), &seed).await;
    assert!(text.contains("nats.nkey_seed_file"), "{text}");

    let missing = dir.path().join("missing.nk");
    let error =
        connect(&nats(&url, &[("DOCFLOW__NATS__NKEY_SEED_FILE", missing.to_str().unwrap())]), "t").await.unwrap_err();
    assert!(matches!(error, ConnectError::File { key: "nats.nkey_seed_file", .. }), "{error}");
    server.stop().await;
}

/// A NATS JWT (what `nsc` writes): `header.claims.signature`, base64url without padding,
/// signed by `issuer`; `jti` is the base32 SHA-256 of the claims without it, as nsc makes it.
fn jwt(issuer: &nkeys::KeyPair, subject: &str, name: &str, nats: serde_json::Value) -> String {
    use data_encoding::{BASE32_NOPAD, BASE64URL_NOPAD};
    use sha2::Digest;
    let iat = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let mut claims =
        serde_json::json!({ "iat": iat, "iss": issuer.public_key(), "name": name, "sub": subject, "nats": nats });
    claims["jti"] = BASE32_NOPAD.encode(&sha2::Sha256::digest(claims.to_string())).into();
    let signed = format!(
        "{}.{}",
        BASE64URL_NOPAD.encode(br#"{"typ":"JWT","alg":"ed25519-nkey"}"#),
        BASE64URL_NOPAD.encode(claims.to_string().as_bytes())
    );
    let signature = issuer.sign(signed.as_bytes()).unwrap();
    format!("{signed}.{}", BASE64URL_NOPAD.encode(&signature))
}

/// An account signed by `operator`, without limits; JetStream on unless `system` (a
/// system account may not have it).
fn account_jwt(operator: &nkeys::KeyPair, account: &nkeys::KeyPair, system: bool) -> String {
    let storage = if system { 0 } else { -1 };
    let limits = serde_json::json!({
        "subs": -1, "data": -1, "payload": -1, "imports": -1, "exports": -1, "wildcards": true,
        "conn": -1, "leaf": -1, "mem_storage": storage, "disk_storage": storage, "streams": -1, "consumer": -1,
    });
    let nats = serde_json::json!({
        "limits": limits, "default_permissions": { "pub": {}, "sub": {} }, "type": "account", "version": 2,
    });
    jwt(operator, &account.public_key(), "acc", nats)
}

/// A `.creds` file for a new user of `account`, in the format `nsc` writes; its seed.
fn creds_file(path: &Path, account: &nkeys::KeyPair) -> String {
    let user = nkeys::KeyPair::new_user();
    let nats = serde_json::json!({
        "pub": {}, "sub": {}, "subs": -1, "data": -1, "payload": -1, "type": "user", "version": 2,
    });
    let user_jwt = jwt(account, &user.public_key(), "u", nats);
    let seed = user.seed().unwrap();
    let text = format!(
        "-----BEGIN NATS USER JWT-----\n{user_jwt}\n------END NATS USER JWT------\n\n\
         ************************* IMPORTANT *************************\n\
         NKEY Seed printed below can be used to sign and prove identity.\n\
         NKEYs are sensitive and should be treated as secrets.\n\n\
         -----BEGIN USER NKEY SEED-----\n{seed}\n------END USER NKEY SEED------\n\n\
         *************************************************************\n"
    );
    std::fs::write(path, text).unwrap();
    seed
}

/// Operator (decentralized JWT) mode: the server trusts an operator and knows one account;
/// a user of that account connects with its `.creds` file, a user signed by an account the
/// operator never signed is refused.
#[tokio::test]
async fn a_creds_file_in_operator_mode() {
    let dir = tempfile::tempdir().unwrap();
    let operator = nkeys::KeyPair::new_operator();
    let operator_nats = serde_json::json!({ "type": "operator", "version": 2 });
    let operator_jwt = jwt(&operator, &operator.public_key(), "op", operator_nats);
    let account = nkeys::KeyPair::new_account();
    // JetStream (on in the test server) needs a system account in operator mode.
    let system = nkeys::KeyPair::new_account();
    let config = format!(
        "operator: \"{operator_jwt}\"\nsystem_account: {}\nresolver: MEMORY\n\
         resolver_preload: {{ {}: \"{}\", {}: \"{}\" }}",
        system.public_key(),
        system.public_key(),
        account_jwt(&operator, &system, true),
        account.public_key(),
        account_jwt(&operator, &account, false)
    );
    let server = server(dir.path(), &config).await;
    let url = format!("nats://127.0.0.1:{}", server.port());
    let good = dir.path().join("docflow.creds");
    creds_file(&good, &account);
    works(&nats(&url, &[("DOCFLOW__NATS__CREDS_FILE", good.to_str().unwrap())])).await;

    // A well-formed creds file whose user JWT is signed by another account key.
    let stranger = dir.path().join("stranger.creds");
    let seed = creds_file(&stranger, &nkeys::KeyPair::new_account());
    let text = refused(&nats(&url, &[("DOCFLOW__NATS__CREDS_FILE", stranger.to_str().unwrap())]), &seed).await;
    assert!(text.contains("refused the credentials") && text.contains("nats.creds_file"), "{text}");
    // And the server does ask for credentials.
    refused(&nats(&url, &[]), &seed).await;

    let missing = dir.path().join("missing.creds");
    let error =
        connect(&nats(&url, &[("DOCFLOW__NATS__CREDS_FILE", missing.to_str().unwrap())]), "t").await.unwrap_err();
    assert!(matches!(error, ConnectError::File { key: "nats.creds_file", .. }), "{error}");
    server.stop().await;
}

/// A CA, a server certificate for 127.0.0.1 and a client certificate, as PEM files.
struct Pki {
    ca: PathBuf,
    server_cert: PathBuf,
    server_key: PathBuf,
    client_cert: PathBuf,
    client_key: PathBuf,
}

fn pki(dir: &Path) -> Pki {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose, SanType,
    };
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::default();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.distinguished_name.push(DnType::CommonName, "docflow test CA");
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca = ca_params.self_signed(&ca_key).unwrap();

    let leaf = |name: &str, purpose: ExtendedKeyUsagePurpose| {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::default();
        params.distinguished_name.push(DnType::CommonName, name);
        params.subject_alt_names = vec![
            SanType::IpAddress(std::net::IpAddr::from([127, 0, 0, 1])),
            SanType::DnsName("localhost".try_into().unwrap()),
        ];
        params.extended_key_usages = vec![purpose];
        let cert = params.signed_by(&key, &ca, &ca_key).unwrap();
        (cert.pem(), key.serialize_pem())
    };
    let (server_pem, server_key) = leaf("nats test server", ExtendedKeyUsagePurpose::ServerAuth);
    let (client_pem, client_key) = leaf("docflow", ExtendedKeyUsagePurpose::ClientAuth);
    let write = |name: &str, text: &str| {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    };
    Pki {
        ca: write("ca.pem", &ca.pem()),
        server_cert: write("server.pem", &server_pem),
        server_key: write("server.key", &server_key),
        client_cert: write("client.pem", &client_pem),
        client_key: write("client.key", &client_key),
    }
}

#[tokio::test]
async fn tls_with_a_private_ca_and_a_client_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki(dir.path());
    let config = format!(
        "tls {{ cert_file: {:?}, key_file: {:?}, ca_file: {:?}, verify: true, timeout: 2 }}",
        pki.server_cert, pki.server_key, pki.ca
    );
    let server = server(dir.path(), &config).await;
    let url = format!("nats://127.0.0.1:{}", server.port());
    let (ca, cert, key) =
        (pki.ca.to_str().unwrap(), pki.client_cert.to_str().unwrap(), pki.client_key.to_str().unwrap());
    works(&nats(
        &url,
        &[
            ("DOCFLOW__NATS__TLS__CA_FILE", ca),
            ("DOCFLOW__NATS__TLS__CERT_FILE", cert),
            ("DOCFLOW__NATS__TLS__KEY_FILE", key),
        ],
    ))
    .await;
    works(&nats(
        &url.replace("nats://", "tls://"),
        &[
            ("DOCFLOW__NATS__TLS__CA_FILE", ca),
            ("DOCFLOW__NATS__TLS__CERT_FILE", cert),
            ("DOCFLOW__NATS__TLS__KEY_FILE", key),
        ],
    ))
    .await;
    // The server verifies clients: no certificate, no connection.
    connect(&nats(&url, &[("DOCFLOW__NATS__TLS__CA_FILE", ca)]), "t").await.unwrap_err();
    // The server's certificate is checked against the CA: without it, no connection.
    let error =
        connect(&nats(&url, &[("DOCFLOW__NATS__TLS__CERT_FILE", cert), ("DOCFLOW__NATS__TLS__KEY_FILE", key)]), "t")
            .await
            .unwrap_err();
    assert!(error.to_string().contains("nats.tls") || error.to_string().contains("TLS"), "{error}");
    server.stop().await;
}

#[test]
fn names_follow_the_prefix() {
    use super::Names;
    let n = Names::new("docflow");
    assert_eq!(n.stream("uploads"), "DOCFLOW_UPLOADS");
    assert_eq!(n.subject("uploads.minio"), "docflow.uploads.minio");
    assert_eq!(n.dead_subject("transfer"), "docflow.dead.transfer");
    assert_eq!(Names::new("t-1a").stream("dead"), "T_1A_DEAD");
}
