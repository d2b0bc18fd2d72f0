//! The connection layer over real loopback sockets, in process: answers
//! given before the body is read ask the client to close, and the header,
//! body and keep-alive timeouts and the connection limits hold.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use common::{limits, read_response, settings, state_with, InProcess, DOCUMENTED};
use fraud_server::Settings;

fn connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    stream
}

fn post_on(stream: &mut TcpStream, addr: SocketAddr, headers: &str, body: &str) -> common::Resp {
    let head = format!(
        "POST /api/predict HTTP/1.1\r\nHost: {addr}\r\n{headers}Content-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).expect("write head");
    let _ = stream.write_all(body.as_bytes());
    read_response(stream)
}

fn get_on(stream: &mut TcpStream, addr: SocketAddr, path: &str) -> common::Resp {
    let head = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n\r\n");
    stream.write_all(head.as_bytes()).expect("write");
    read_response(stream)
}

/// Waits (at most `secs`) for the server to close `stream`; how long it took.
fn closed_within(stream: &mut TcpStream, secs: u64) -> Option<Duration> {
    let started = Instant::now();
    stream
        .set_read_timeout(Some(Duration::from_millis(200)))
        .expect("timeout");
    let mut buf = [0u8; 4096];
    while started.elapsed() < Duration::from_secs(secs) {
        match stream.read(&mut buf) {
            Ok(0) => return Some(started.elapsed()),
            Ok(_) => {}
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(_) => return Some(started.elapsed()),
        }
    }
    None
}

const JSON: &str = "Content-Type: application/json\r\n";

#[test]
fn early_answers_close_the_connection_and_say_so() {
    let state = state_with(Settings {
        api_key: Some("k".into()),
        ..settings()
    });
    let server = InProcess::start(
        state.clone(),
        limits(
            Duration::from_secs(5),
            Duration::from_secs(5),
            Duration::from_secs(5),
        ),
    );
    let addr = server.addr;
    // A complete exchange keeps the connection open.
    let mut stream = connect(addr);
    let ok = post_on(
        &mut stream,
        addr,
        &format!("X-API-Key: k\r\n{JSON}"),
        DOCUMENTED,
    );
    assert_eq!(ok.status, 200, "{}", ok.text());
    assert_eq!(ok.header("connection"), None);
    let again = get_on(&mut stream, addr, "/health");
    assert_eq!(again.status, 200);
    // 401 before the body is read: `Connection: close`, then the close.
    let big = "x".repeat(60_000);
    for (headers, status) in [
        (JSON.to_owned(), 401),
        (
            "X-API-Key: k\r\nContent-Type: text/plain\r\n".to_owned(),
            415,
        ),
    ] {
        let mut stream = connect(addr);
        let r = post_on(&mut stream, addr, &headers, &big);
        assert_eq!(r.status, status);
        assert_eq!(r.header("connection"), Some("close"), "{status}");
        assert!(
            closed_within(&mut stream, 5).is_some(),
            "{status}: not closed"
        );
    }
    // 413 on a declared length over the limit, before any body byte.
    let mut stream = connect(addr);
    let head = format!("POST /api/predict HTTP/1.1\r\nHost: {addr}\r\nX-API-Key: k\r\n{JSON}Content-Length: 100000000\r\n\r\n");
    stream.write_all(head.as_bytes()).expect("write");
    let r = read_response(&mut stream);
    assert_eq!(r.status, 413);
    assert_eq!(r.header("connection"), Some("close"));
    // A bad request whose body was read keeps the connection.
    let mut stream = connect(addr);
    let r = post_on(&mut stream, addr, &format!("X-API-Key: k\r\n{JSON}"), "{}");
    assert_eq!(r.status, 422);
    assert_eq!(r.header("connection"), None);
    assert_eq!(get_on(&mut stream, addr, "/health").status, 200);
}

#[test]
fn slow_heads_stalled_bodies_and_idle_connections_are_closed_on_time() {
    let header = Duration::from_millis(1500);
    let body = Duration::from_millis(1000);
    let idle = Duration::from_millis(2000);
    let state = state_with(settings());
    let server = InProcess::start(state.clone(), limits(header, body, idle));
    let addr = server.addr;

    // A new connection that sends nothing: the header timeout.
    let mut silent = connect(addr);
    // A head sent a byte at a time, never finished: the header timeout,
    // counted from the connection's start.
    let mut slow_head = connect(addr);
    slow_head
        .write_all(b"GET /health HTTP/1.1\r\n")
        .expect("write");
    // A body that stalls: 408 after the body timeout, then the close.
    let mut stalled = connect(addr);
    stalled
        .write_all(format!("POST /api/predict HTTP/1.1\r\nHost: {addr}\r\n{JSON}Content-Length: 500\r\n\r\n{{\"amount\":").as_bytes())
        .expect("write");
    // A keep-alive connection left idle after one request.
    let mut idle_conn = connect(addr);
    assert_eq!(get_on(&mut idle_conn, addr, "/health").status, 200);

    let trickle = std::thread::spawn(move || {
        for _ in 0..10 {
            std::thread::sleep(Duration::from_millis(300));
            if slow_head.write_all(b"X").is_err() {
                break;
            }
        }
        closed_within(&mut slow_head, 5)
    });
    let r = read_response(&mut stalled);
    assert_eq!(r.status, 408, "{}", r.text());
    assert_eq!(r.header("connection"), Some("close"));
    assert!(r.json()["error"]
        .as_str()
        .expect("error")
        .contains("request body"));
    let silent_closed = closed_within(&mut silent, 5).expect("a silent connection is closed");
    let idle_closed = closed_within(&mut idle_conn, 5).expect("an idle connection is closed");
    let slow_closed = trickle
        .join()
        .expect("trickle")
        .expect("a slow head is closed");
    println!(
        "closed after: silent {silent_closed:?}, slow head {slow_closed:?}, idle {idle_closed:?}"
    );
    // Each within its timeout plus the watchdog's tick.
    assert!(
        silent_closed <= header + Duration::from_millis(800),
        "{silent_closed:?}"
    );
    assert!(
        idle_closed <= idle + Duration::from_millis(800),
        "{idle_closed:?}"
    );
    for reason in ["header_timeout", "idle_timeout", "body_timeout"] {
        let counted = format!("fraud_connections_closed_total{{reason=\"{reason}\"}}");
        if let Err(text) = metrics_soon(&state, |text| text.contains(&counted)) {
            panic!("{reason} not counted: {text}");
        }
    }
}

/// The metrics once `done` holds for them (`Ok`), or the last rendering
/// after five seconds (`Err`). A connection's end is counted by its task
/// just after its socket closes, so a client can see the close first.
fn metrics_soon(state: &common::TestState, done: impl Fn(&str) -> bool) -> Result<String, String> {
    let mut text = String::new();
    let reached = common::eventually(5, || {
        text = state.metrics().render().expect("metrics");
        done(&text)
    });
    if reached {
        Ok(text)
    } else {
        Err(text)
    }
}

/// The open-connections gauge in a metrics rendering.
fn open_connections(text: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix("fraud_connections_open "))
        .and_then(|v| v.trim().parse().ok())
        .expect("open gauge")
}

#[test]
fn at_the_limit_idle_connections_make_room() {
    let state = state_with(settings());
    let mut l = limits(
        Duration::from_secs(30),
        Duration::from_secs(30),
        Duration::from_secs(30),
    );
    l.max_connections = 20;
    let server = InProcess::start(state.clone(), l);
    let addr = server.addr;
    // Twice the limit in idle connections.
    let idle: Vec<TcpStream> = (0..40).map(|_| connect(addr)).collect();
    std::thread::sleep(Duration::from_millis(200));
    // A client still gets answers, every time.
    for _ in 0..20 {
        let r = common::request(addr, "GET", "/health", &[], None);
        assert_eq!(r.status, 200);
    }
    // An evicted connection counts as open until its task has ended, just
    // after the eviction: so the gauge is read once those tasks are done.
    let text = metrics_soon(&state, |text| open_connections(text) <= 20.0).unwrap_or_else(|t| t);
    let open = open_connections(&text);
    assert!(open <= 20.0, "{open} connections open over a limit of 20");
    let evicted = "fraud_connections_closed_total{reason=\"evicted\"}";
    if let Err(text) = metrics_soon(&state, |text| text.contains(evicted)) {
        panic!("no eviction counted: {text}");
    }
    drop(idle);
}

#[test]
fn the_per_address_limit_refuses_with_503() {
    let state = state_with(settings());
    let mut l = limits(
        Duration::from_secs(30),
        Duration::from_secs(30),
        Duration::from_secs(30),
    );
    l.max_per_address = 3;
    let server = InProcess::start(state.clone(), l);
    let addr = server.addr;
    let held: Vec<TcpStream> = (0..3).map(|_| connect(addr)).collect();
    std::thread::sleep(Duration::from_millis(100));
    let mut extra = connect(addr);
    let r = read_response(&mut extra);
    assert_eq!(r.status, 503);
    assert_eq!(r.json()["error"], "Too many connections");
    drop(held);
    // The address has room again once the server has seen the three close.
    if let Err(text) = metrics_soon(&state, |text| open_connections(text) == 0.0) {
        panic!("connections still open after the client closed them: {text}");
    }
    assert_eq!(
        common::request(addr, "GET", "/health", &[], None).status,
        200
    );
    let text = state.metrics().render().expect("metrics");
    assert!(
        text.contains("fraud_connections_closed_total{reason=\"refused_per_address\"} 1"),
        "{text}"
    );
}

#[test]
fn a_shutdown_does_not_wait_for_slow_heads() {
    let state = state_with(settings());
    let server = InProcess::start(
        state.clone(),
        limits(
            Duration::from_secs(30),
            Duration::from_secs(30),
            Duration::from_secs(30),
        ),
    );
    let addr = server.addr;
    let mut slow = connect(addr);
    slow.write_all(b"GET /health HTTP/1.1\r\nX-a: ")
        .expect("write");
    let mut idle = connect(addr);
    assert_eq!(get_on(&mut idle, addr, "/health").status, 200);
    std::thread::sleep(Duration::from_millis(100));
    let started = Instant::now();
    drop(server);
    let took = started.elapsed();
    assert!(took < Duration::from_secs(3), "the shutdown took {took:?}");
    assert!(closed_within(&mut slow, 2).is_some());
    assert!(closed_within(&mut idle, 2).is_some());
}
