//! A static file server over TLS that offers HTTP/2 (ALPN `h2`, then `http/1.1`), with its own
//! certificate authority made by the `openssl` command: for tests that a client negotiates
//! HTTP/2 where a registry offers it, and then keeps more requests in flight.

use std::convert::Infallible;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode, Version};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

/// What the server saw.
#[derive(Debug, Default)]
pub struct TlsStats {
    /// TCP connections accepted.
    pub connections: AtomicUsize,
    /// Requests that came over HTTP/2.
    pub http2_requests: AtomicUsize,
    /// Requests that came over HTTP/1.x.
    pub other_requests: AtomicUsize,
    /// The most requests being answered at once.
    pub max_in_flight: AtomicUsize,
    in_flight: AtomicUsize,
}

/// The running server; stopped when dropped.
pub struct TlsStatic {
    /// `https://127.0.0.1:<port>`.
    pub base: String,
    /// The PEM certificate of the authority that signed the server's certificate (give it to a
    /// client as `SSL_CERT_FILE`).
    pub ca: PathBuf,
    /// What the server saw.
    pub stats: Arc<TlsStats>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for TlsStatic {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Serves the files under `dir` over TLS, offering HTTP/2 when `http2` (else HTTP/1.1 alone),
/// answering each request after `delay` (a registry some way off); certificates are written to
/// `certs`.
pub fn serve_static_tls(dir: &Path, certs: &Path, http2: bool, delay: Duration) -> TlsStatic {
    make_certs(certs);
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(certs.join("server.pem"))
        .expect("read server.pem")
        .collect::<Result<_, _>>()
        .expect("parse server.pem");
    let key = PrivateKeyDer::from_pem_file(certs.join("server.key")).expect("read server.key");
    let mut config =
        rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .expect("the server certificate");
    config.alpn_protocols = if http2 { vec![b"h2".to_vec(), b"http/1.1".to_vec()] } else { vec![b"http/1.1".to_vec()] };
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    listener.set_nonblocking(true).expect("non-blocking listener");
    let port = listener.local_addr().expect("its address").port();
    let stats = Arc::new(TlsStats::default());
    let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
    let (root, seen) = (dir.to_path_buf(), stats.clone());
    let thread = std::thread::spawn(move || {
        let runtime =
            tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("a runtime");
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).expect("a tokio listener");
            loop {
                tokio::select! {
                    _ = &mut stopped => break,
                    accepted = listener.accept() => {
                        let Ok((tcp, _)) = accepted else { continue };
                        seen.connections.fetch_add(1, Ordering::SeqCst);
                        let (acceptor, root, seen) = (acceptor.clone(), root.clone(), seen.clone());
                        tokio::spawn(async move {
                            let Ok(tls) = acceptor.accept(tcp).await else { return };
                            let service = service_fn(move |req| answer(req, root.clone(), seen.clone(), delay));
                            let _ = Builder::new(TokioExecutor::new()).serve_connection(TokioIo::new(tls), service).await;
                        });
                    }
                }
            }
        });
    });
    TlsStatic {
        base: format!("https://127.0.0.1:{port}"),
        ca: certs.join("ca.pem"),
        stats,
        stop: Some(stop),
        thread: Some(thread),
    }
}

async fn answer(
    req: Request<Incoming>,
    root: PathBuf,
    stats: Arc<TlsStats>,
    delay: Duration,
) -> Result<Response<Full<Bytes>>, Infallible> {
    if req.version() == Version::HTTP_2 {
        stats.http2_requests.fetch_add(1, Ordering::SeqCst);
    } else {
        stats.other_requests.fetch_add(1, Ordering::SeqCst);
    }
    let now = stats.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    stats.max_in_flight.fetch_max(now, Ordering::SeqCst);
    tokio::time::sleep(delay).await;
    let path = req.uri().path().trim_start_matches('/');
    let body = if path.split('/').any(|s| s == "..") { None } else { tokio::fs::read(root.join(path)).await.ok() };
    stats.in_flight.fetch_sub(1, Ordering::SeqCst);
    Ok(match body {
        Some(bytes) => Response::new(Full::new(Bytes::from(bytes))),
        None => {
            let mut not_found = Response::new(Full::new(Bytes::new()));
            *not_found.status_mut() = StatusCode::NOT_FOUND;
            not_found
        }
    })
}

/// A throwaway authority and a server certificate for 127.0.0.1 that it signed (rustls refuses
/// a self-signed authority used as the server's own certificate).
fn make_certs(dir: &Path) {
    std::fs::create_dir_all(dir).expect("the certificate directory");
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .expect("write server.ext");
    let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
    let steps: [Vec<&str>; 3] = [
        [&["req", "-x509"][..], &ec, &["-days", "2", "-subj", "/CN=test-ca", "-keyout", "ca.key", "-out", "ca.pem"]]
            .concat(),
        [&["req"][..], &ec, &["-subj", "/CN=localhost", "-keyout", "server.key", "-out", "server.csr"]].concat(),
        vec![
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "server.ext",
            "-out",
            "server.pem",
        ],
    ];
    for args in steps {
        let out = Command::new("openssl")
            .args(&args)
            .current_dir(dir)
            .output()
            .expect("the openssl command is needed for the TLS test server");
        assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }
}
