//! TLS on both listeners: clients that trust the CA are served over HTTPS
//! and gRPC with TLS, plain-text clients are not; with a client CA the gRPC
//! listener refuses clients without a certificate (mutual TLS); and SIGHUP
//! makes the binary serve a new certificate to new connections while a
//! connection opened before keeps working. On the old code neither listener
//! spoke TLS.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use statusgate::domain::SystemClock;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Identity};

use crate::common::binary::spawn_listening_with;
use crate::common::certificates::{Issued, TestCa, write};
use crate::common::change_tokens::{self, get_token, global};
use crate::common::{ACCOUNT, Backend, TestApp, TestDatabase, wait_until};

/// Writes a server certificate and key where the server reads them.
fn install(directory: &Path, server: &Issued) -> (std::path::PathBuf, std::path::PathBuf) {
    (
        write(directory, "server.pem", &server.certificate_pem),
        write(directory, "server.key", &server.key_pem),
    )
}

fn https_client(ca: &TestCa, address: SocketAddr) -> reqwest::Client {
    reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(ca.pem().as_bytes()).unwrap())
        .resolve("localhost", address)
        .tls_info(true)
        .build()
        .unwrap()
}

/// The certificate the server presented on the connection that answered.
async fn served_certificate(client: &reqwest::Client, address: SocketAddr) -> Vec<u8> {
    let response = client
        .get(format!("https://localhost:{}/healthz", address.port()))
        .send()
        .await
        .expect("an HTTPS answer");
    assert_eq!(response.status(), 200);
    response
        .extensions()
        .get::<reqwest::tls::TlsInfo>()
        .and_then(|info| info.peer_certificate())
        .expect("the peer certificate")
        .to_vec()
}

async fn tls_channel(
    ca: &TestCa,
    address: SocketAddr,
    identity: Option<&Issued>,
) -> Result<Channel, tonic::transport::Error> {
    let mut tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(ca.pem()))
        .domain_name("localhost");
    if let Some(client) = identity {
        tls = tls.identity(Identity::from_pem(&client.certificate_pem, &client.key_pem));
    }
    Channel::from_shared(format!("https://{address}"))
        .unwrap()
        .tls_config(tls)?
        .connect()
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_listeners_speak_tls_to_clients_that_trust_the_ca() {
    let directory = tempfile::tempdir().unwrap();
    let ca = TestCa::new("statusgate test CA");
    let server = ca.server("statusgate");
    let (certificate, key) = install(directory.path(), &server);
    let database = Arc::new(TestDatabase::new(Backend::Sqlite).await);
    let app = TestApp::spawn_with(database, Arc::new(SystemClock), |config| {
        config.tls_cert = Some(certificate);
        config.tls_key = Some(key);
    })
    .await;
    let http = app.application().http_address();
    let grpc = app.application().grpc_address();

    assert_eq!(
        served_certificate(&https_client(&ca, http), http).await,
        server.der
    );
    let plain = reqwest::get(format!("http://{http}/healthz")).await;
    assert!(
        plain.map_or(true, |response| !response.status().is_success()),
        "plain HTTP is not served on a TLS listener"
    );

    let channel = tls_channel(&ca, grpc, None).await.expect("a TLS channel");
    let mut client = change_tokens::Client::new(channel);
    get_token(&mut client, global(ACCOUNT)).await;
    let stranger = TestCa::new("another CA");
    assert!(
        tls_channel(&stranger, grpc, None).await.is_err(),
        "a client that does not trust the certificate cannot connect"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutual_tls_refuses_grpc_clients_without_a_certificate() {
    let directory = tempfile::tempdir().unwrap();
    let ca = TestCa::new("statusgate test CA");
    let (certificate, key) = install(directory.path(), &ca.server("statusgate"));
    let clients_ca = TestCa::new("client CA");
    let client_ca_path = write(directory.path(), "clients.pem", &clients_ca.pem());
    let database = Arc::new(TestDatabase::new(Backend::Sqlite).await);
    let app = TestApp::spawn_with(database, Arc::new(SystemClock), |config| {
        config.tls_cert = Some(certificate);
        config.tls_key = Some(key);
        config.grpc_client_ca = Some(client_ca_path);
    })
    .await;
    let grpc = app.application().grpc_address();

    let anonymous = match tls_channel(&ca, grpc, None).await {
        Err(_) => None,
        Ok(channel) => {
            let mut client = change_tokens::Client::new(channel);
            Some(change_tokens::status_of(&mut client, global(ACCOUNT), "t").await)
        }
    };
    // With TLS 1.3 the refusal (alert "certificate required") arrives after
    // the client's side of the handshake, so the first call fails.
    assert!(
        anonymous.as_ref().is_none_or(|answer| answer.is_err()),
        "a client without a certificate is refused: {anonymous:?}"
    );
    let foreign = TestCa::new("not the client CA").client("intruder");
    let intruder = match tls_channel(&ca, grpc, Some(&foreign)).await {
        Err(_) => true,
        Ok(channel) => {
            let mut client = change_tokens::Client::new(channel);
            change_tokens::status_of(&mut client, global(ACCOUNT), "t")
                .await
                .is_err()
        }
    };
    assert!(intruder, "a certificate of another CA is refused");

    let member = clients_ca.client("worker");
    let channel = tls_channel(&ca, grpc, Some(&member))
        .await
        .expect("mutual TLS");
    get_token(&mut change_tokens::Client::new(channel), global(ACCOUNT)).await;
    // The HTTP listener asks for no client certificate.
    let http = app.application().http_address();
    served_certificate(&https_client(&ca, http), http).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_serves_a_new_certificate_and_keeps_open_connections() {
    let directory = tempfile::tempdir().unwrap();
    let ca = TestCa::new("statusgate test CA");
    let first = ca.server("first");
    let (certificate, key) = install(directory.path(), &first);
    let mut binary = spawn_listening_with(directory.path(), &[], |command| {
        command
            .arg("--tls-cert")
            .arg(&certificate)
            .arg("--tls-key")
            .arg(&key);
    });
    let http: SocketAddr = binary.http_address.parse().unwrap();
    let grpc: SocketAddr = binary.grpc_address.parse().unwrap();
    let before = https_client(&ca, http);
    assert_eq!(served_certificate(&before, http).await, first.der);
    let mut open_grpc = change_tokens::Client::new(tls_channel(&ca, grpc, None).await.unwrap());
    get_token(&mut open_grpc, global(ACCOUNT)).await;

    let second = ca.server("second");
    install(directory.path(), &second);
    binary.signal("HUP");
    wait_until(
        Duration::from_secs(10),
        "new connections to get the new certificate",
        async || {
            let served = served_certificate(&https_client(&ca, http), http).await;
            (served == second.der)
                .then_some(())
                .ok_or_else(|| "the first certificate".to_owned())
        },
    )
    .await;
    // The connection opened before the reload is still the same one.
    assert_eq!(served_certificate(&before, http).await, first.der);
    get_token(&mut open_grpc, global(ACCOUNT)).await;

    // A reload whose files are broken keeps the certificate in force.
    std::fs::write(&key, "not a key").unwrap();
    binary.signal("HUP");
    let after_broken = https_client(&ca, http);
    assert_eq!(served_certificate(&after_broken, http).await, second.der);
    assert!(binary.terminate().await.success());
    let log = binary.log();
    assert!(log.contains("TLS certificates reloaded"), "{log}");
}
