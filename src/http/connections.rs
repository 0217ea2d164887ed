//! The server loop: accepts at most `max_connections` connections at once, closes those that
//! take too long to send a request head or sit idle too long between requests, and stops
//! gracefully (SPEC §6: connections that send headers slowly or idle too long are closed; the
//! number of open connections is bounded).
//!
//! Written on hyper directly rather than through `axum::serve`, which has neither timeout nor
//! cap: slow headers and idle keep-alive connections were never closed, and 1,100 of them
//! took the server off the air at the usual limit of 1,024 file descriptors (issue 11).

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, Semaphore, watch};
use tokio::time::Instant;
use tower_service::Service;

use crate::config::ConnectionLimits;

/// File descriptors the process needs besides its connections: standard streams, the
/// listener, sled's files, the platform and directory clients' connections.
pub const RESERVED_DESCRIPTORS: u64 = 64;
/// How often "connection limit reached" may be logged: once per episode would be lost in a
/// long one, once per refused connection would flood the log.
const LIMIT_LOG_INTERVAL: Duration = Duration::from_secs(60);
/// Wait after an accept error such as "too many open files" before accepting again, so the
/// loop does not spin while descriptors are short.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_secs(1);

/// Serves `router` on `listener` under `limits` until `shutdown` completes; then stops
/// accepting, lets the requests in flight finish (each bounded by the request timeout), closes
/// idle connections and returns.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    let max = fit_descriptor_limit(limits.max_connections);
    let slots = Arc::new(Semaphore::new(max));
    let (stop, stopping) = watch::channel(false);
    let mut last_limit_log: Option<Instant> = None;
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let slot = match slots.clone().try_acquire_owned() {
            Ok(slot) => slot,
            Err(_) => {
                if last_limit_log.is_none_or(|at| at.elapsed() >= LIMIT_LOG_INTERVAL) {
                    tracing::warn!(
                        max_connections = max,
                        "connection limit reached: new connections wait in the listen backlog until one closes (TANYA_MAX_CONNECTIONS)"
                    );
                    last_limit_log = Some(Instant::now());
                }
                tokio::select! {
                    slot = slots.clone().acquire_owned() => slot.expect("the semaphore is never closed"),
                    () = &mut shutdown => break,
                }
            }
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    tracing::warn!(%error, "accepting a connection failed");
                    if !is_connection_error(&error) {
                        tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
                    }
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let connection = Connection {
            router: router.clone(),
            peer,
            limits,
            stopping: stopping.clone(),
        };
        tokio::spawn(async move {
            connection.run(stream).await;
            drop(slot);
        });
    }
    drop(listener);
    let _ = stop.send(true);
    // Every connection holds a slot until it ends: all slots back means all connections done.
    let _ = slots.acquire_many(max as u32).await;
    Ok(())
}

/// Errors of one connection that the listener itself survives (the client gave up during the
/// handshake): accept again at once.
fn is_connection_error(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

/// One accepted connection and what it needs to be served.
struct Connection {
    router: Router,
    peer: SocketAddr,
    limits: ConnectionLimits,
    stopping: watch::Receiver<bool>,
}

impl Connection {
    async fn run(mut self, stream: TcpStream) {
        let clock = Arc::new(ConnectionClock::new(self.limits));
        let watchdog = clock.clone();
        let io = TokioIo::new(Watched {
            stream,
            clock: clock.clone(),
        });
        let router = self.router;
        let peer = self.peer;
        let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
            let mut request = request.map(Body::new);
            // The per-client limit reads the peer's address from here (`guard::client_ip`).
            request.extensions_mut().insert(ConnectInfo(peer));
            clock.request_started();
            let answer = router.clone().call(request);
            let clock = clock.clone();
            async move {
                let response = answer.await;
                clock.request_finished();
                response
            }
        });
        let connection = hyper::server::conn::http1::Builder::new().serve_connection(io, service);
        let mut connection = std::pin::pin!(connection);
        let mut expired = std::pin::pin!(watchdog.expired());
        let mut stopping_seen = *self.stopping.borrow();
        loop {
            if stopping_seen {
                connection.as_mut().graceful_shutdown();
            }
            tokio::select! {
                result = connection.as_mut() => {
                    if let Err(error) = result {
                        tracing::debug!(%error, "connection closed with an error");
                    }
                    return;
                }
                // Dropping the connection closes its socket.
                () = &mut expired => {
                    tracing::debug!("connection closed: request head too slow, or idle too long");
                    return;
                }
                changed = self.stopping.changed(), if !stopping_seen => {
                    stopping_seen = changed.is_err() || *self.stopping.borrow();
                }
            }
        }
    }
}

/// Where a connection is in its request cycle, to know which deadline applies.
#[derive(Debug)]
struct ClockState {
    /// A request is being answered: no deadline (the request timeout bounds it).
    in_flight: bool,
    /// When the head of the next request started to arrive (or the connection opened).
    head_started: Option<Instant>,
    /// When the connection last finished an answer.
    idle_since: Instant,
}

/// The deadlines of one connection, updated by its reads and by its requests, and watched
/// by its own task (`expired`). A watchdog rather than a timer in the reads: hyper does not
/// read from a connection that has just become idle until the client sends something, so a
/// deadline checked only when reading would never fire for a silent client.
#[derive(Debug)]
struct ConnectionClock {
    limits: ConnectionLimits,
    state: Mutex<ClockState>,
    /// Signalled whenever the deadline may have moved.
    changed: Notify,
}

impl ConnectionClock {
    fn new(limits: ConnectionLimits) -> ConnectionClock {
        let now = Instant::now();
        ConnectionClock {
            limits,
            // A new connection is expected to send its first request at once: the header
            // timeout runs from the opening.
            state: Mutex::new(ClockState {
                in_flight: false,
                head_started: Some(now),
                idle_since: now,
            }),
            changed: Notify::new(),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, ClockState> {
        // Plain fields set in single statements: consistent even after a panic.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn request_started(&self) {
        {
            let mut state = self.state();
            state.in_flight = true;
            state.head_started = None;
        }
        self.changed.notify_one();
    }

    fn request_finished(&self) {
        {
            let mut state = self.state();
            state.in_flight = false;
            state.head_started = None;
            state.idle_since = Instant::now();
        }
        self.changed.notify_one();
    }

    /// Bytes arrived: between requests, they start the next request's head.
    fn bytes_read(&self) {
        let started = {
            let mut state = self.state();
            let starts = !state.in_flight && state.head_started.is_none();
            if starts {
                state.head_started = Some(Instant::now());
            }
            starts
        };
        if started {
            self.changed.notify_one();
        }
    }

    /// Completes once the deadline has passed.
    async fn expired(&self) {
        loop {
            // A change signalled before this wait is kept as a permit, so none is missed.
            let changed = self.changed.notified();
            match self.deadline() {
                Some(deadline) if Instant::now() >= deadline => return,
                Some(deadline) => {
                    tokio::select! {
                        () = tokio::time::sleep_until(deadline) => {}
                        () = changed => {}
                    }
                }
                None => changed.await,
            }
        }
    }

    /// When the connection is to be closed if nothing changes; `None` while a request runs.
    fn deadline(&self) -> Option<Instant> {
        let state = self.state();
        if state.in_flight {
            return None;
        }
        Some(match state.head_started {
            Some(started) => started + self.limits.header_timeout,
            None => state.idle_since + self.limits.idle_timeout,
        })
    }
}

/// A TCP stream that tells its connection's clock when bytes arrive.
struct Watched {
    stream: TcpStream,
    clock: Arc<ConnectionClock>,
}

impl AsyncRead for Watched {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let filled = buf.filled().len();
        let result = Pin::new(&mut this.stream).poll_read(cx, buf);
        if buf.filled().len() > filled {
            this.clock.bytes_read();
        }
        result
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}

/// The connection cap that fits the process's file-descriptor limit. The soft limit is
/// raised towards the hard one when the cap needs it (as Go's runtime does at start); when
/// even the hard limit is too low, the cap is lowered, with a warning naming both numbers.
/// A server that runs out of descriptors cannot accept, open its database files or reach a
/// platform, so the cap must stay below the limit, never at it.
pub fn fit_descriptor_limit(max_connections: usize) -> usize {
    let needed = max_connections as u64 + RESERVED_DESCRIPTORS;
    let Some(available) = raise_descriptor_limit(needed) else {
        return max_connections;
    };
    if available >= needed {
        return max_connections;
    }
    let fitted = available.saturating_sub(RESERVED_DESCRIPTORS).max(1) as usize;
    tracing::warn!(
        max_connections,
        fitted,
        descriptor_limit = available,
        "the file-descriptor limit (ulimit -n) is too low for TANYA_MAX_CONNECTIONS; serving fewer connections at once (README, \"Connections\")"
    );
    fitted
}

/// Raises the soft limit on open files to `needed` (at most the hard limit) and returns the
/// limit in force; `None` where it cannot be read. Linux only, where `rlim_t` is `u64`.
#[cfg(target_os = "linux")]
#[allow(unsafe_code)] // libc's getrlimit/setrlimit: std has no API for the limit.
fn raise_descriptor_limit(needed: u64) -> Option<u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `getrlimit` writes one `rlimit` through a valid pointer.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &raw mut limit) } != 0 {
        return None;
    }
    let current = limit.rlim_cur;
    if current >= needed {
        return Some(current);
    }
    let raised = libc::rlimit {
        rlim_cur: needed.min(limit.rlim_max),
        rlim_max: limit.rlim_max,
    };
    // SAFETY: `setrlimit` reads one `rlimit` through a valid pointer.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raw const raised) } == 0 {
        Some(raised.rlim_cur)
    } else {
        Some(current)
    }
}

#[cfg(not(target_os = "linux"))]
fn raise_descriptor_limit(_needed: u64) -> Option<u64> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> ConnectionLimits {
        ConnectionLimits {
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(75),
            max_connections: 8,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_new_connection_has_the_header_timeout_then_the_idle_timeout_between_requests() {
        let clock = ConnectionClock::new(limits());
        let opened = Instant::now();
        assert_eq!(clock.deadline(), Some(opened + Duration::from_secs(10)));
        clock.request_started();
        assert_eq!(clock.deadline(), None, "no deadline while answering");
        tokio::time::advance(Duration::from_secs(30)).await;
        clock.request_finished();
        let answered = Instant::now();
        assert_eq!(clock.deadline(), Some(answered + Duration::from_secs(75)));
        tokio::time::advance(Duration::from_secs(50)).await;
        clock.bytes_read();
        assert_eq!(
            clock.deadline(),
            Some(Instant::now() + Duration::from_secs(10)),
            "the first byte of the next request starts its header timeout"
        );
        tokio::time::advance(Duration::from_secs(5)).await;
        clock.bytes_read();
        assert_eq!(
            clock.deadline(),
            Some(answered + Duration::from_secs(60)),
            "more bytes of the same head do not extend it"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn the_watchdog_fires_at_the_deadline_and_never_during_a_request() {
        let clock = ConnectionClock::new(limits());
        let opened = Instant::now();
        clock.expired().await;
        assert_eq!(Instant::now(), opened + Duration::from_secs(10));

        let clock = Arc::new(ConnectionClock::new(limits()));
        clock.request_started();
        let watchdog = tokio::spawn({
            let clock = clock.clone();
            async move { clock.expired().await }
        });
        tokio::time::sleep(Duration::from_secs(600)).await;
        assert!(
            !watchdog.is_finished(),
            "a slow answer is the request timeout's business"
        );
        clock.request_finished();
        let finished = Instant::now();
        watchdog.await.expect("watchdog");
        assert_eq!(Instant::now(), finished + Duration::from_secs(75));
    }

    #[test]
    fn the_cap_fits_under_the_descriptor_limit() {
        assert_eq!(fit_descriptor_limit(16), 16);
        let fitted = fit_descriptor_limit(usize::MAX / 2);
        assert!((1..usize::MAX / 2).contains(&fitted), "{fitted}");
    }
}
