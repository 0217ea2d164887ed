//! The member directory client over HTTPS with mutual TLS (issue 14): a throw-away CA made with
//! Debian's `openssl`, a TLS server requiring client certificates (Python's `ssl`), and tanya's
//! `HttpDirectory` with `TANYA_DIRECTORY_CLIENT_CERT` and `TANYA_DIRECTORY_CA_CERT`. The start-up
//! health check succeeds with both, and fails without the client certificate or without the CA.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tanya::config::{DirectoryConfig, Secret};
use tanya::directory::HttpDirectory;

const TOKEN: &str = "fake-directory-token-for-tls";
const SERVER: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/support/tls_directory.py"
);

/// Runs `openssl` with `args` in `dir`.
fn openssl(dir: &Path, args: &[&str]) {
    let status = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("openssl runs");
    assert!(status.success(), "openssl {args:?}");
}

/// A CA, a server certificate for 127.0.0.1 and a client certificate, both signed by the CA;
/// `client.pem` holds the client's certificate and key, as `TANYA_DIRECTORY_CLIENT_CERT` wants.
fn make_certificates(dir: &Path) {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "1",
            "-subj",
            "/CN=tanya test CA",
        ],
    );
    for (name, extension) in [
        (
            "server",
            "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
        ),
        ("client", "extendedKeyUsage=clientAuth\n"),
    ] {
        std::fs::write(dir.join(format!("{name}.ext")), extension).expect("extension file");
        openssl(
            dir,
            &[
                "req",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-keyout",
                &format!("{name}.key"),
                "-out",
                &format!("{name}.csr"),
                "-subj",
                &format!("/CN=tanya test {name}"),
            ],
        );
        openssl(
            dir,
            &[
                "x509",
                "-req",
                "-in",
                &format!("{name}.csr"),
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-days",
                "1",
                "-out",
                &format!("{name}.crt"),
                "-extfile",
                &format!("{name}.ext"),
            ],
        );
    }
    let client = [
        std::fs::read_to_string(dir.join("client.crt")).expect("client cert"),
        std::fs::read_to_string(dir.join("client.key")).expect("client key"),
    ]
    .concat();
    std::fs::write(dir.join("client.pem"), client).expect("client.pem");
}

/// The TLS server; killed on drop.
struct TlsServer {
    child: Child,
    port: u16,
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_server(dir: &Path) -> TlsServer {
    let mut child = Command::new("python3")
        .arg(SERVER)
        .args([
            "--cert",
            "server.crt",
            "--key",
            "server.key",
            "--client-ca",
            "ca.pem",
        ])
        .args(["--token", TOKEN])
        .current_dir(dir)
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 runs");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("first line");
    let port = line
        .trim()
        .strip_prefix("listening on ")
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"));
    TlsServer { child, port }
}

fn config(port: u16, dir: &Path, client_cert: bool, ca_cert: bool) -> DirectoryConfig {
    DirectoryConfig {
        url: format!("https://127.0.0.1:{port}").parse().expect("url"),
        token: Secret::from(TOKEN.to_string()),
        client_cert: client_cert.then(|| dir.join("client.pem")),
        ca_cert: ca_cert.then(|| dir.join("ca.pem")),
        timeout: Duration::from_secs(5),
        cooldown: Duration::from_secs(10),
    }
}

#[tokio::test]
async fn the_directory_is_reached_over_mutual_tls_and_refused_without_either_certificate() {
    let available = Command::new("openssl").arg("version").output().is_ok()
        && Command::new("python3").arg("--version").output().is_ok();
    if !available {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must have openssl and python3"
        );
        eprintln!("SKIPPED: the mutual-TLS test needs openssl and python3");
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    make_certificates(dir.path());
    let server = start_server(dir.path());

    let both = HttpDirectory::new(&config(server.port, dir.path(), true, true)).expect("client");
    both.check().await.expect("health over mutual TLS");

    let no_client_cert =
        HttpDirectory::new(&config(server.port, dir.path(), false, true)).expect("client");
    assert!(
        no_client_cert.check().await.is_err(),
        "the server requires a client certificate"
    );

    let no_ca = HttpDirectory::new(&config(server.port, dir.path(), true, false)).expect("client");
    assert!(
        no_ca.check().await.is_err(),
        "the server's private CA is not trusted by default"
    );
}

#[test]
fn unreadable_certificate_files_are_start_up_errors_naming_the_setting() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("client.pem"), "not a certificate").expect("file");
    let error = HttpDirectory::new(&config(443, dir.path(), true, false))
        .err()
        .expect("refused");
    assert!(
        error.to_string().starts_with("TANYA_DIRECTORY_CLIENT_CERT"),
        "{error}"
    );
    let error = HttpDirectory::new(&config(443, Path::new("/nonexistent"), false, true))
        .err()
        .expect("refused");
    assert!(
        error.to_string().starts_with("TANYA_DIRECTORY_CA_CERT"),
        "{error}"
    );
}
