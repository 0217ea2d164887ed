//! The reference member directory (`examples/directory.rs`) keeps the contract of
//! `docs/directory.openapi.yaml`: the production-mode tests lean on it, so it is checked here,
//! over HTTP, as the built example.

mod support;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use support::directory::{ReferenceDirectory, TOKEN};
use tanya::members::{Member, demo_members};

/// A well-formed argon2id PHC string (of a fake password), not one of the demo members'.
const NEW_PHC: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$RdescudvJCsgt3ub+b+dWRWJTmaaJObG0ZWT4HPdCdw";

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client")
}

/// One request with the directory's token; the status and the JSON body (`Null` when empty).
async fn call(
    directory: &ReferenceDirectory,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut request = client()
        .request(method, format!("{}{path}", directory.url()))
        .bearer_auth(directory.token());
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("the directory answers");
    let status = response.status();
    let text = response.text().await.expect("a body");
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("JSON, not {text}"))
    };
    (status, body)
}

/// The contract's error bodies carry no personal data: none of the values that were sent.
fn assert_repeats_nothing_sent(sent: &Value, answer: &Value) {
    let answer = answer.to_string();
    let values: Vec<String> = match sent {
        Value::Object(fields) => fields
            .values()
            .map(std::string::ToString::to_string)
            .collect(),
        Value::Array(items) => items.iter().map(std::string::ToString::to_string).collect(),
        _ => Vec::new(),
    };
    for value in values {
        let value = value.trim_matches('"');
        assert!(
            value.len() < 4 || !answer.contains(value),
            "{answer} repeats {value}"
        );
    }
}

async fn lookup(directory: &ReferenceDirectory, body: Value) -> (StatusCode, Value) {
    call(directory, Method::POST, "/members/lookup", Some(body)).await
}

#[tokio::test]
async fn a_member_is_found_by_kpj_and_nik_with_any_of_their_cards() {
    let directory = ReferenceDirectory::start(&[]);
    let siti = json!({
        "id": "98765432109", "name": "Siti Aminah", "login": "siti.aminah@example.com",
        "email": "siti.aminah@example.com", "phone": "085711112222",
    });
    for kpj in ["98765432109", "11122233344"] {
        let found = lookup(&directory, json!({ "kpj": kpj, "nik": "3273016508900002" })).await;
        assert_eq!(found, (StatusCode::OK, siti.clone()), "Siti by card {kpj}");
    }
    // Dewi has no e-mail: the field is absent and her login is her phone.
    let dewi = lookup(
        &directory,
        json!({ "kpj": "44455566677", "nik": "5171024403950004" }),
    )
    .await;
    assert_eq!(
        dewi,
        (
            StatusCode::OK,
            json!({ "id": "44455566677", "name": "Dewi Lestari", "login": "081355556666",
                    "phone": "081355556666" })
        )
    );
}

#[tokio::test]
async fn a_member_is_found_by_email_and_kpj() {
    let directory = ReferenceDirectory::start(&[]);
    let (status, agus) = lookup(
        &directory,
        json!({ "email": "agus.wijaya@example.com", "kpj": "55566677788" }),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(agus["id"], "55566677788");
    assert_eq!(agus["login"], "agus.wijaya@example.com");
    assert!(agus.get("phone").is_none(), "Agus has no phone: {agus}");
}

#[tokio::test]
async fn a_lookup_that_matches_no_member_is_404_without_saying_which_field() {
    let directory = ReferenceDirectory::start(&[]);
    let wrong_nik = json!({ "kpj": "12345678901", "nik": "3273016508900002" });
    let wrong_card = json!({ "kpj": "99999999999", "nik": "3174011203880001" });
    let wrong_email = json!({ "email": "siti.aminah@example.com", "kpj": "12345678901" });
    let mut bodies = Vec::new();
    for body in [wrong_nik, wrong_card, wrong_email] {
        let (status, answer) = lookup(&directory, body.clone()).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
        assert_repeats_nothing_sent(&body, &answer);
        bodies.push(answer);
    }
    assert_eq!(bodies[0], bodies[1]);
    assert_eq!(bodies[1], bodies[2]);
    assert_eq!(bodies[0]["error"]["code"], "not_found");
}

#[tokio::test]
async fn a_malformed_lookup_is_400() {
    let directory = ReferenceDirectory::start(&[]);
    for body in [
        json!({}),
        json!({ "kpj": "12345678901" }),
        json!({ "kpj": "1234567890", "nik": "3174011203880001" }),
        json!({ "kpj": "12345678901", "nik": "3174 0112 0388 0001" }),
        json!({ "kpj": 12_345_678_901_u64, "nik": "3174011203880001" }),
        json!({ "email": "not an address", "kpj": "12345678901" }),
        json!({ "kpj": "12345678901", "nik": "3174011203880001", "email": "budi.santoso@example.com" }),
        json!(["12345678901", "3174011203880001"]),
    ] {
        let (status, answer) = lookup(&directory, body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(answer["error"]["code"], "bad_request", "{body}");
        assert_repeats_nothing_sent(&body, &answer);
    }
}

#[tokio::test]
async fn every_route_needs_the_token() {
    let directory = ReferenceDirectory::start(&[]);
    let routes = [
        (Method::GET, "/health"),
        (Method::POST, "/members/lookup"),
        (Method::GET, "/members/12345678901/cards"),
        (Method::PUT, "/members/12345678901/password"),
        (Method::GET, "/_reference/members/12345678901/password"),
    ];
    for (method, path) in routes {
        for token in [None, Some("wrong-token"), Some("")] {
            let mut request =
                client().request(method.clone(), format!("{}{path}", directory.url()));
            if let Some(token) = token {
                request = request.bearer_auth(token);
            }
            let response = request.send().await.expect("an answer");
            assert_eq!(response.status(), 401, "{method} {path} with {token:?}");
            let body: Value = response.json().await.expect("JSON");
            assert_eq!(body["error"]["code"], "unauthorized");
        }
    }
    // The token in another scheme is no bearer token.
    let basic = client()
        .get(format!("{}/health", directory.url()))
        .header("authorization", format!("Basic {TOKEN}"))
        .send()
        .await
        .expect("an answer");
    assert_eq!(basic.status(), 401);
}

#[tokio::test]
async fn cards_come_primary_first_with_integer_rupiah_and_a_date() {
    let directory = ReferenceDirectory::start(&[]);
    let (status, cards) = call(&directory, Method::GET, "/members/98765432109/cards", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        cards,
        json!([
            { "kpj": "98765432109", "employer": "PT Maju Bersama", "current": true,
              "balance": 12_500_000, "as_of": "2026-10-31" },
            { "kpj": "11122233344", "employer": "CV Karya Abadi", "current": false,
              "balance": 4_250_500, "as_of": "2026-10-31" },
        ])
    );
    // The id is the member's, not any card's: Siti's second card is no member id.
    let (status, _) = call(&directory, Method::GET, "/members/11122233344/cards", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_stored_password_is_visible_through_the_inspection_route_and_a_put_may_be_repeated() {
    let directory = ReferenceDirectory::start(&[]);
    let before = directory.password_phc("12345678901").await;
    assert!(before.is_some_and(|phc| phc.starts_with("$argon2id$")));
    for _ in 0..2 {
        let (status, body) = call(
            &directory,
            Method::PUT,
            "/members/12345678901/password",
            Some(json!({ "password_phc": NEW_PHC })),
        )
        .await;
        assert_eq!((status, body), (StatusCode::NO_CONTENT, Value::Null));
        assert_eq!(
            directory.password_phc("12345678901").await.as_deref(),
            Some(NEW_PHC)
        );
    }
    // Other members are untouched.
    assert_ne!(
        directory.password_phc("98765432109").await.as_deref(),
        Some(NEW_PHC)
    );
}

#[tokio::test]
async fn a_password_that_is_not_an_argon2id_phc_string_is_422_and_changes_nothing() {
    let directory = ReferenceDirectory::start(&[]);
    let before = directory.password_phc("55566677788").await;
    for value in [
        "Agus#Baru2025",
        "",
        "$argon2i$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$RdescudvJCsgt3ub+b+dWRWJTmaaJObG0ZWT4HPdCdw",
        "$argon2id$v=16$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$RdescudvJCsgt3ub+b+dWRWJTmaaJObG0ZWT4HPdCdw",
        "$argon2id$v=19$t=2,p=1$c29tZXNhbHRzb21lc2FsdA$RdescudvJCsgt3ub+b+dWRWJTmaaJObG0ZWT4HPdCdw",
        "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA",
        "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW",
    ] {
        let (status, body) = call(
            &directory,
            Method::PUT,
            "/members/55566677788/password",
            Some(json!({ "password_phc": value })),
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{value}");
        assert_eq!(body["error"]["code"], "invalid_password_phc");
    }
    assert_eq!(directory.password_phc("55566677788").await, before);
    // Not a password change at all, and an unknown member.
    let (status, _) = call(
        &directory,
        Method::PUT,
        "/members/55566677788/password",
        Some(json!({ "password": "Agus#Baru2025" })),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = call(
        &directory,
        Method::PUT,
        "/members/99999999999/password",
        Some(json!({ "password_phc": NEW_PHC })),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn health_is_ok() {
    let directory = ReferenceDirectory::start(&[]);
    let health = call(&directory, Method::GET, "/health", None).await;
    assert_eq!(health, (StatusCode::OK, json!({ "status": "ok" })));
}

#[tokio::test]
async fn the_example_members_file_holds_the_demo_members_and_is_served() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/directory-members.json"
    );
    let text = std::fs::read_to_string(path).expect("the example members file");
    let members: Vec<Member> = serde_json::from_str(&text).expect("an array of members");
    assert_eq!(members, demo_members());

    let directory = ReferenceDirectory::start(&["--members", path]);
    let (status, budi) = lookup(
        &directory,
        json!({ "email": "budi.santoso@example.com", "kpj": "12345678901" }),
    )
    .await;
    assert_eq!(
        (status, &budi["name"]),
        (StatusCode::OK, &json!("Budi Santoso"))
    );
}

#[tokio::test]
async fn a_members_file_with_one_member_replaces_the_demo_members() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("members.json");
    let rina = json!([{
        "id": "20000000001", "name": "Rina Kusuma", "nik": "3171014506920001",
        "phone": "+62 812 0000 1111",
        "cards": [{ "kpj": "20000000001", "balance_rupiah": 1000, "as_of": "2026-01-31",
                    "employer": "PT Contoh", "current": true }],
    }]);
    std::fs::write(&path, rina.to_string()).expect("write members");
    let directory = ReferenceDirectory::start(&["--members", path.to_str().expect("UTF-8")]);
    let (status, found) = lookup(
        &directory,
        json!({ "kpj": "20000000001", "nik": "3171014506920001" }),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(found["phone"], "081200001111", "normalized on loading");
    assert_eq!(found["login"], "081200001111");
    assert_eq!(directory.password_phc("20000000001").await, None);
    let (status, _) = lookup(
        &directory,
        json!({ "kpj": "12345678901", "nik": "3174011203880001" }),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "Budi is not in the file");
}

#[tokio::test]
async fn a_slow_directory_answers_after_its_delay() {
    let directory = ReferenceDirectory::start(&["--delay-ms", "300"]);
    let started = std::time::Instant::now();
    let (status, _) = call(&directory, Method::GET, "/health", None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(started.elapsed() >= std::time::Duration::from_millis(300));
}

#[tokio::test]
async fn a_broken_directory_breaks_the_lookup_contract() {
    let directory = ReferenceDirectory::start(&["--broken"]);
    let (status, body) = lookup(
        &directory,
        json!({ "kpj": "12345678901", "nik": "3174011203880001" }),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(body["name"].is_null() && !body["id"].is_string(), "{body}");
}

#[tokio::test]
async fn a_directory_that_went_down_comes_back_on_its_port() {
    let mut directory = ReferenceDirectory::start(&[]);
    let port = directory.port();
    directory.stop();
    let refused = client()
        .get(format!("{}/health", directory.url()))
        .bearer_auth(TOKEN)
        .send()
        .await;
    assert!(refused.is_err(), "nothing listens while it is down");
    directory.restart();
    assert_eq!(directory.port(), port);
    let health = call(&directory, Method::GET, "/health", None).await;
    assert_eq!(health.0, StatusCode::OK);
    drop(directory);
    // A second directory on a port chosen beforehand, as a test that owns the port would do.
    let again = ReferenceDirectory::start_on(port, &[]);
    assert_eq!(again.url(), format!("http://127.0.0.1:{port}"));
    assert_eq!(
        call(&again, Method::GET, "/health", None).await.0,
        StatusCode::OK
    );
}
