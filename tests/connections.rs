//! Connections (issue 11, finding 6), against the real application and server loop on
//! `127.0.0.1:0`: a client sending its request head slowly is disconnected, an idle
//! keep-alive connection is closed, and connections beyond the cap wait until one closes.

mod support;

use std::time::{Duration, Instant};
use support::Server;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const REQUEST: &[u8] = b"GET /healthz HTTP/1.1\r\nHost: tanya\r\n\r\n";

/// Reads until the server closes the connection (or resets it); how long that took, or
/// `None` when it is still open after `limit`. Whatever the server sent is returned too.
async fn wait_for_close(stream: &mut TcpStream, limit: Duration) -> (Option<Duration>, String) {
    let started = Instant::now();
    let mut received = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        let left = limit.saturating_sub(started.elapsed());
        match tokio::time::timeout(left, stream.read(&mut buffer)).await {
            Err(_) => return (None, String::from_utf8_lossy(&received).into()),
            Ok(Ok(0) | Err(_)) => {
                return (
                    Some(started.elapsed()),
                    String::from_utf8_lossy(&received).into(),
                );
            }
            Ok(Ok(n)) => received.extend_from_slice(&buffer[..n]),
        }
    }
}

/// Sends one request on `stream` and reads its answer (a `/healthz` answer is small and has a
/// `Content-Length`, so the whole of it arrives in one go in practice; this waits for "ok").
async fn exchange(stream: &mut TcpStream) -> String {
    stream.write_all(REQUEST).await.expect("write");
    let mut received = Vec::new();
    let mut buffer = [0u8; 4096];
    while !received.ends_with(b"ok") {
        let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buffer))
            .await
            .expect("an answer within 5 s")
            .expect("read");
        assert!(n > 0, "closed before answering");
        received.extend_from_slice(&buffer[..n]);
    }
    String::from_utf8_lossy(&received).into()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_sending_its_headers_slowly_is_disconnected() {
    let server = Server::start(&[
        ("TANYA_HEADER_TIMEOUT_MS", "400"),
        ("TANYA_IDLE_TIMEOUT_MS", "60000"),
    ])
    .await;
    let mut slow = TcpStream::connect(server.address).await.expect("connect");
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: tanya\r\n")
        .await
        .expect("write");
    // Slowloris: one more header byte every 100 ms, never the blank line that ends the head.
    let trickle = async {
        for _ in 0..30 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            if slow.write_all(b"X").await.is_err() {
                break;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(5), trickle)
        .await
        .expect("writes end");
    let (closed, answer) = wait_for_close(&mut slow, Duration::from_secs(2)).await;
    assert!(closed.is_some(), "the slow connection is still open");
    assert!(!answer.contains(" 200 "), "{answer}");

    // Silence from the start counts the same: a connection that never sends anything.
    let mut silent = TcpStream::connect(server.address).await.expect("connect");
    let (closed, _) = wait_for_close(&mut silent, Duration::from_secs(3)).await;
    let closed = closed.expect("the silent connection is closed");
    assert!(closed >= Duration::from_millis(300), "{closed:?}");

    // Meanwhile, and after, ordinary clients are served.
    let mut fresh = TcpStream::connect(server.address).await.expect("connect");
    assert!(exchange(&mut fresh).await.starts_with("HTTP/1.1 200"));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_keep_alive_connection_is_closed_and_a_busy_one_is_not() {
    let server = Server::start(&[
        ("TANYA_HEADER_TIMEOUT_MS", "10000"),
        ("TANYA_IDLE_TIMEOUT_MS", "500"),
    ])
    .await;
    let mut stream = TcpStream::connect(server.address).await.expect("connect");
    // Requests 300 ms apart, each within the idle timeout of the answer before: kept open.
    for _ in 0..4 {
        assert!(exchange(&mut stream).await.starts_with("HTTP/1.1 200"));
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let (closed, _) = wait_for_close(&mut stream, Duration::from_secs(3)).await;
    let closed = closed.expect("the idle connection is closed");
    assert!(closed < Duration::from_secs(1), "{closed:?}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_beyond_the_cap_wait_until_one_closes() {
    let server = Server::start(&[
        ("TANYA_MAX_CONNECTIONS", "2"),
        ("TANYA_HEADER_TIMEOUT_MS", "60000"),
    ])
    .await;
    let mut first = TcpStream::connect(server.address).await.expect("connect");
    assert!(exchange(&mut first).await.starts_with("HTTP/1.1 200"));
    let second = TcpStream::connect(server.address).await.expect("connect");
    // Give the server a moment to accept the second connection and reach its cap.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut third = TcpStream::connect(server.address)
        .await
        .expect("the kernel still completes the handshake (backlog)");
    third.write_all(REQUEST).await.expect("write");
    let mut buffer = [0u8; 64];
    let early = tokio::time::timeout(Duration::from_millis(500), third.read(&mut buffer)).await;
    assert!(
        early.is_err(),
        "the third connection was served over the cap"
    );
    drop(second);
    let mut received = Vec::new();
    while !received.ends_with(b"ok") {
        let n = tokio::time::timeout(Duration::from_secs(5), third.read(&mut buffer))
            .await
            .expect("served once a slot is free")
            .expect("read");
        assert!(n > 0, "closed before answering");
        received.extend_from_slice(&buffer[..n]);
    }
    assert!(received.starts_with(b"HTTP/1.1 200"));
    assert!(exchange(&mut first).await.starts_with("HTTP/1.1 200"));
    server.stop().await;
}
