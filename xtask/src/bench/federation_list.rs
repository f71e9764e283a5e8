//! `cargo xtask bench federation-list`: a peer listing 100-row pages over
//! mTLS with keep-alive, at 1, 16 and 64 concurrent connections, beside a bare
//! rustls + hyper server that returns the same bytes from memory over the same
//! TLS configuration (the ceiling on this machine). Also the cost of a full
//! handshake per new connection.
//!
//! Then the cost of the federation audit and of the per-grant rate limiter:
//! the same gateway with each, and both, beside it without them.
//!
//! Server and client share the machine, for both sides of each ratio.

use super::percentile;
use anyhow::Context as _;
use chrono::{Duration as ChronoDuration, Utc};
use mosaic_config::RateLimitSettings;
use mosaic_federation::audit::AuditWriter;
use mosaic_gateway::AppState;
use mosaic_gateway::federation::{FederationTls, serve};
use mosaic_identity::{CaSource, GatewayPki, MosaicClaims, PkiOptions, Validity};
use mosaic_store::entity::{federation_grants, federation_peers, projects, tasks, users};
use mosaic_store::sea_orm::{ActiveModelTrait, IntoActiveModel};
use mosaic_store::{Store, StoreOptions};
use mosaic_types::{GrantId, UserId};
use serde_json::json;
use std::num::{NonZeroU32, NonZeroUsize};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpListener;

const ROWS: usize = 500;
const PAGE: u32 = 100;
const LEVELS: &[usize] = &[1, 16, 64];

struct Figures {
    rps: f64,
    p50: Duration,
    p99: Duration,
}

fn ms(d: Duration) -> String {
    format!("{:.2}ms", d.as_secs_f64() * 1000.0)
}

/// Runs the benchmark.
pub fn run(args: &[String]) -> anyhow::Result<()> {
    let seconds: u64 = args
        .iter()
        .position(|a| a == "--seconds")
        .and_then(|i| args.get(i + 1))
        .map(|s| s.parse())
        .transpose()
        .context("--seconds takes a whole number")?
        .unwrap_or(3);
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(bench(Duration::from_secs(seconds)))
}

async fn bench(per_level: Duration) -> anyhow::Result<()> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::tempdir()?;
    let store = Store::open(&StoreOptions::embedded(dir.path())).await?;
    store.migrate().await?;
    let pki = GatewayPki::load_or_create(
        dir.path(),
        &PkiOptions {
            ca: CaSource::Generated {
                common_name: "Mosaic bench CA".into(),
            },
            server_names: vec!["localhost".into(), "127.0.0.1".into()],
        },
        Utc::now(),
    )?;
    let claims = MosaicClaims::new(GrantId::new("grant-bench")?, UserId::new("S")?);
    let client_cert = pki.ca.issue_client(
        "bench-peer",
        &claims,
        Validity::starting(Utc::now(), ChronoDuration::days(1)),
    )?;
    seed(&store, &client_cert.cert.serial.to_string()).await?;

    let tls = FederationTls::from_pki(&pki)?;
    let server_config = tls.server_config();
    let (_stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let plain = AppState::new(store.clone());
    let gateway_addr = spawn_gateway(&tls, plain, &stop_rx).await?;
    // The same gateway with the federation audit and the per-grant rate
    // limiter, alone and together. The limit is far above what this machine
    // can send, so every request pays the check and none is refused.
    let writer = AuditWriter::start(
        store.conn().clone(),
        NonZeroUsize::new(10_000).unwrap_or(NonZeroUsize::MIN),
    );
    let generous = RateLimitSettings {
        requests_per_minute: NonZeroU32::new(60_000_000).unwrap_or(NonZeroU32::MAX),
        burst: NonZeroU32::new(1_000_000).unwrap_or(NonZeroU32::MAX),
    };
    let audited = AppState::new(store.clone()).with_audit(writer.clone());
    let limited = AppState::new(store.clone()).with_rate_limits(generous);
    let both = AppState::new(store.clone())
        .with_audit(writer.clone())
        .with_rate_limits(generous);
    let mut variants = Vec::new();
    for (name, state) in [
        ("audit", audited),
        ("limit", limited),
        ("audit+limit", both),
    ] {
        let addr = spawn_gateway(&tls, state, &stop_rx).await?;
        variants.push((name, list_url(addr)));
    }

    let client_tls = client_config(&pki, &client_cert.cert.pem, &client_cert.key_pem)?;
    let gateway_url = list_url(gateway_addr);

    // The bytes of one real page, served by the ceiling server from memory.
    let probe = http_client(&client_tls, true)?;
    let body = probe
        .post(&gateway_url)
        .json(&json!({"limit": PAGE}))
        .send()
        .await?
        .error_for_status()?
        .bytes()
        .await?;
    let rows = serde_json::from_slice::<serde_json::Value>(&body)?["items"]
        .as_array()
        .map_or(0, Vec::len);
    anyhow::ensure!(
        rows == PAGE as usize,
        "expected a full page of {PAGE} rows, got {rows}"
    );
    let bare = TcpListener::bind("127.0.0.1:0").await?;
    let bare_addr = bare.local_addr()?;
    tokio::spawn(bare_server(bare, server_config, body.clone()));
    let bare_url = format!(
        "https://127.0.0.1:{}/api/federation/v1/list/tasks",
        bare_addr.port()
    );

    println!(
        "federation-list: {PAGE}-row pages ({} bytes) over mTLS, keep-alive, {}s per level",
        body.len(),
        per_level.as_secs()
    );
    println!(
        "{:>5}  {:>22}  {:>22}  {:>12}",
        "conns", "gateway req/s p50 p99", "bare req/s p50 p99", "gateway/bare"
    );
    for &conns in LEVELS {
        let g = load(&client_tls, &gateway_url, conns, per_level, true).await?;
        let b = load(&client_tls, &bare_url, conns, per_level, true).await?;
        println!(
            "{conns:>5}  {:>8.0} {:>6} {:>6}  {:>8.0} {:>6} {:>6}  {:>11.2}x",
            g.rps,
            ms(g.p50),
            ms(g.p99),
            b.rps,
            ms(b.p50),
            ms(b.p99),
            g.rps / b.rps
        );
    }

    println!();
    println!(
        "cost of the audit and the rate limiter, beside the same gateway without them (req/s, p50, p99, ratio to plain):"
    );
    println!(
        "{:>5}  {:>22}  {:>30}  {:>30}  {:>30}",
        "conns", "plain", "audit", "limit", "audit+limit"
    );
    for &conns in LEVELS {
        let plain = load(&client_tls, &gateway_url, conns, per_level, true).await?;
        let mut line = format!(
            "{conns:>5}  {:>8.0} {:>6} {:>6}",
            plain.rps,
            ms(plain.p50),
            ms(plain.p99)
        );
        for (_, url) in &variants {
            let v = load(&client_tls, url, conns, per_level, true).await?;
            line.push_str(&format!(
                "  {:>8.0} {:>6} {:>6} {:>6.2}x",
                v.rps,
                ms(v.p50),
                ms(v.p99),
                v.rps / plain.rps
            ));
        }
        println!("{line}");
    }
    let stats = writer.stats();
    println!(
        "audit: {} rows written, {} back-pressure waits, {} failed writes",
        stats.rows_written, stats.backpressure_waits, stats.write_failures
    );

    let g = load(&client_tls, &gateway_url, 1, per_level, false).await?;
    let b = load(&client_tls, &bare_url, 1, per_level, false).await?;
    let warm = load(&client_tls, &bare_url, 1, per_level, true).await?;
    println!(
        "new connection per request (full TLS 1.3 handshake with client auth): gateway p50 {} p99 {}, bare p50 {} p99 {}; handshake cost ≈ {} ({:.1}x a keep-alive request)",
        ms(g.p50),
        ms(g.p99),
        ms(b.p50),
        ms(b.p99),
        ms(b.p50.saturating_sub(warm.p50)),
        b.p50.as_secs_f64() / warm.p50.as_secs_f64().max(1e-9)
    );
    Ok(())
}

fn list_url(addr: std::net::SocketAddr) -> String {
    format!(
        "https://127.0.0.1:{}/api/federation/v1/list/tasks",
        addr.port()
    )
}

/// One federation listener for `state` on a loopback port.
async fn spawn_gateway(
    tls: &FederationTls,
    state: AppState,
    stop: &tokio::sync::watch::Receiver<bool>,
) -> anyhow::Result<std::net::SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(serve(
        listener,
        tls.clone(),
        state,
        mosaic_gateway::ListenerLimits::default(),
        stop.clone(),
    ));
    Ok(addr)
}

async fn seed(store: &Store, serial: &str) -> anyhow::Result<()> {
    let db = store.conn();
    let t0 = Utc::now() - ChronoDuration::days(1);
    users::Model {
        id: "S".into(),
        name: "S".into(),
        email: "s@bench".into(),
        email_verified: true,
        created_at: t0,
        updated_at: t0,
    }
    .into_active_model()
    .insert(db)
    .await?;
    projects::Model {
        id: "P".into(),
        name: "P".into(),
        owner_type: "user".into(),
        owner_id: Some("S".into()),
        team_id: None,
        created_at: t0,
        updated_at: t0,
    }
    .into_active_model()
    .insert(db)
    .await?;
    for i in 0..ROWS {
        let t = mosaic_store::truncate_to_millis(t0 + ChronoDuration::seconds(i as i64));
        tasks::Model {
            id: format!("task-{i:05}"),
            title: format!("Benchmark task {i}"),
            description: Some("a row of typical size".into()),
            status: "open".into(),
            priority: "medium".into(),
            project_id: Some("P".into()),
            mission_id: None,
            assignee: Some("S".into()),
            tags: Some(json!(["bench"])),
            due_date: None,
            metadata: Some(json!({"n": i})),
            created_at: t,
            updated_at: t,
        }
        .into_active_model()
        .insert(db)
        .await?;
    }
    federation_peers::Model {
        id: "peer-bench".into(),
        common_name: "bench-peer".into(),
        display_name: "bench".into(),
        cert_pem: String::new(),
        cert_serial: serial.into(),
        cert_not_after: Utc::now() + ChronoDuration::days(1),
        state: "active".into(),
        endpoint_url: None,
        client_key_pem: None,
        ca_pem: None,
        local_user_id: None,
        refusal: None,
        created_at: t0,
        updated_at: t0,
    }
    .into_active_model()
    .insert(db)
    .await?;
    federation_grants::Model {
        id: "grant-bench".into(),
        peer_id: "peer-bench".into(),
        subject_user_id: "S".into(),
        status: "active".into(),
        scope: json!({"resources": ["tasks"], "max_rows_per_query": PAGE}),
        expires_at: None,
        revoked_at: None,
        revoked_reason: None,
        created_at: t0,
        updated_at: t0,
    }
    .into_active_model()
    .insert(db)
    .await?;
    Ok(())
}

fn client_config(
    pki: &GatewayPki,
    cert_pem: &str,
    key_pem: &str,
) -> anyhow::Result<rustls::ClientConfig> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let mut roots = rustls::RootCertStore::empty();
    roots.add(pki.ca.cert_der().clone())?;
    let chain =
        CertificateDer::pem_slice_iter(cert_pem.as_bytes()).collect::<Result<Vec<_>, _>>()?;
    let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes())?;
    Ok(rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_root_certificates(roots)
    .with_client_auth_cert(chain, key)?)
}

fn http_client(tls: &rustls::ClientConfig, keep_alive: bool) -> anyhow::Result<reqwest::Client> {
    let mut b = reqwest::Client::builder()
        .use_preconfigured_tls(tls.clone())
        .http1_only()
        .pool_max_idle_per_host(1);
    if !keep_alive {
        b = b.pool_max_idle_per_host(0);
    }
    Ok(b.build()?)
}

/// `conns` workers, each on its own client (one connection), for `window`.
async fn load(
    tls: &rustls::ClientConfig,
    url: &str,
    conns: usize,
    window: Duration,
    keep_alive: bool,
) -> anyhow::Result<Figures> {
    let start = Instant::now();
    let mut workers = Vec::with_capacity(conns);
    for _ in 0..conns {
        let client = http_client(tls, keep_alive)?;
        let url = url.to_owned();
        workers.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            while start.elapsed() < window {
                let t = Instant::now();
                let resp = client
                    .post(&url)
                    .json(&json!({"limit": PAGE}))
                    .send()
                    .await?;
                let status = resp.status();
                let _ = resp.bytes().await?;
                anyhow::ensure!(status.is_success(), "HTTP {status}");
                lat.push(t.elapsed());
            }
            Ok::<_, anyhow::Error>(lat)
        }));
    }
    let mut all = Vec::new();
    for w in workers {
        all.extend(w.await??);
    }
    let elapsed = start.elapsed();
    all.sort();
    Ok(Figures {
        rps: all.len() as f64 / elapsed.as_secs_f64(),
        p50: percentile(&all, 0.50),
        p99: percentile(&all, 0.99),
    })
}

/// The ceiling: the same TLS, the same bytes, no application.
async fn bare_server(
    listener: TcpListener,
    config: Arc<rustls::ServerConfig>,
    body: hyper::body::Bytes,
) {
    use hyper::body::Incoming;
    use hyper_util::rt::{TokioExecutor, TokioIo};
    let acceptor = tokio_rustls::TlsAcceptor::from(config);
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            continue;
        };
        let acceptor = acceptor.clone();
        let body = body.clone();
        tokio::spawn(async move {
            let Ok(stream) = acceptor.accept(tcp).await else {
                return;
            };
            let service = hyper::service::service_fn(move |_req: hyper::Request<Incoming>| {
                let body = body.clone();
                async move {
                    Ok::<_, std::convert::Infallible>(
                        hyper::Response::builder()
                            .header("content-type", "application/json")
                            .body(http_body_util::Full::new(body))
                            .unwrap_or_default(),
                    )
                }
            });
            let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
