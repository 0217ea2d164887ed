//! The throw-away PostgreSQL of the store tests (issue 13, `support::postgres`): clusters side
//! by side on their own ports, `tanya` a database owner and not a superuser, password logins
//! only, and nothing left listening once a cluster is dropped.

mod support;

use std::net::TcpStream;
use std::time::Instant;
use support::postgres::TempPostgres;

/// Starts two clusters at the same moment, as parallel tests do.
fn two_at_once() -> (TempPostgres, TempPostgres) {
    std::thread::scope(|scope| {
        let first = scope.spawn(TempPostgres::start);
        let second = scope.spawn(TempPostgres::start);
        (
            first.join().expect("the first cluster starts"),
            second.join().expect("the second cluster starts"),
        )
    })
}

/// Runs `sql` as tanya, which must succeed.
fn as_tanya(postgres: &TempPostgres, sql: &str) -> String {
    postgres
        .psql(&postgres.url(), sql)
        .unwrap_or_else(|e| panic!("`{sql}` as tanya on port {}: {e}", postgres.port()))
}

#[test]
fn two_clusters_run_side_by_side_and_tanya_owns_its_database_without_being_a_superuser() {
    let started = Instant::now();
    let (a, b) = two_at_once();
    eprintln!("two clusters started in {:?}", started.elapsed());
    assert_ne!(a.port(), b.port());
    for postgres in [&a, &b] {
        assert_eq!(
            as_tanya(
                postgres,
                "select current_user, usesuper from pg_user where usename = current_user"
            ),
            "tanya|f"
        );
        assert_eq!(
            as_tanya(
                postgres,
                "select rolcreatedb, rolcreaterole from pg_roles where rolname = current_user"
            ),
            "f|f",
            "tanya may create neither databases nor roles"
        );
        assert_eq!(
            as_tanya(
                postgres,
                "select pg_get_userbyid(datdba) from pg_database where datname = current_database()"
            ),
            "tanya"
        );
        as_tanya(
            postgres,
            "create table turns (id bigint primary key, text text)",
        );
        as_tanya(postgres, "insert into turns values (1, 'halo')");
        assert_eq!(as_tanya(postgres, "select text from turns"), "halo");
    }
    // The clusters are apart: a table made in one is not in the other.
    as_tanya(&a, "create table only_in_a (id int)");
    assert!(b.psql(&b.url(), "select * from only_in_a").is_err());
}

#[test]
fn logins_need_the_password_and_fsync_stays_on() {
    let postgres = TempPostgres::start();
    let url = postgres.url();
    let (_, host_and_database) = url.split_once('@').expect("a password in the URL");
    let wrong = format!("postgres://tanya:wrong@{host_and_database}");
    let refused = postgres
        .psql(&wrong, "select 1")
        .expect_err("a wrong password logs in: the cluster trusts its clients");
    assert!(
        refused.contains("password authentication failed"),
        "{refused}"
    );
    let admin = |sql| postgres.psql(&postgres.admin_url(), sql).expect(sql);
    assert_eq!(
        admin("show fsync"),
        "on",
        "the durability tests measure real commits"
    );
    assert_eq!(admin("show synchronous_commit"), "on");
    assert_eq!(admin("show listen_addresses"), "127.0.0.1");
}

#[test]
fn dropping_the_cluster_stops_the_server_and_removes_its_directory() {
    let postgres = TempPostgres::start();
    let port = postgres.port();
    let data = postgres.data_dir().to_path_buf();
    assert!(
        TcpStream::connect(("127.0.0.1", port)).is_ok(),
        "the server listens"
    );
    drop(postgres);
    assert!(
        TcpStream::connect(("127.0.0.1", port)).is_err(),
        "port {port} still accepts connections after the drop"
    );
    assert!(!data.exists(), "{} is left behind", data.display());
}
