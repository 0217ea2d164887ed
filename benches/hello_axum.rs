//! The ceiling for the load generator: a minimal axum server (the same axum and tokio as tanya)
//! that answers every request with `Hello, World!`. Serves until killed.
//!
//! ```text
//! cargo bench --bench hello_axum -- 127.0.0.1:8090
//! cargo bench --bench load -- --mix hello --addr 127.0.0.1:8090 --sessions 200 --duration 20
//! ```

fn main() {
    let address = std::env::args()
        .skip(1)
        .find(|a| a != "--bench")
        .unwrap_or_else(|| "127.0.0.1:8090".into());
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        // The same listen backlog as tanya, so the two differ only in what they answer.
        let listener = tanya::http::listen(address.parse().expect("host:port")).expect("listen");
        eprintln!(
            "hello_axum listening on {}",
            listener.local_addr().expect("address")
        );
        let router = axum::Router::new().fallback(|| async { "Hello, World!" });
        axum::serve(listener, router).await.expect("serve");
    });
}
