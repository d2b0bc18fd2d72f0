//! Operations commands: `migrate` (the history's schema) and `healthcheck`
//! (a running server's `/ready`, for container engines).

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use super::{CliError, HealthcheckArgs, MigrateArgs};
use crate::history::{self, Location};

/// `fraud-server migrate`: applies the pending migrations and says what
/// it did.
pub fn migrate(args: MigrateArgs, out: &mut dyn Write) -> Result<(), CliError> {
    let location = match &args.history {
        Some(url) => Location::parse(url)?,
        None => Location::Sqlite(args.data_dir.join("history.db")),
    };
    let report = history::migrate(&location)?;
    writeln!(out, "{}: {report}", location.shown())?;
    Ok(())
}

/// `fraud-server healthcheck`: GET the URL; 200 is healthy, anything else
/// (or no answer within the timeout) is an error naming what happened.
pub fn healthcheck(args: HealthcheckArgs, out: &mut dyn Write) -> Result<(), CliError> {
    let url = args
        .url
        .unwrap_or_else(|| format!("http://127.0.0.1:{}/ready", args.port));
    let timeout = Duration::from_secs(args.timeout.max(1));
    let (status, body) =
        get(&url, timeout).map_err(|e| CliError::NotReady(format!("{url}: {e}")))?;
    if status != 200 {
        return Err(CliError::NotReady(format!(
            "{url} answered {status}: {}",
            body.trim()
        )));
    }
    writeln!(out, "{}", body.trim())?;
    Ok(())
}

/// One plain-HTTP GET; the status and the body (at most 64 KiB).
fn get(url: &str, timeout: Duration) -> std::io::Result<(u16, String)> {
    let invalid =
        |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidInput, what.to_owned());
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| invalid("only http:// URLs can be checked"))?;
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let path = if path.is_empty() { "/" } else { path };
    let target = if authority.contains(':') {
        authority.to_owned()
    } else {
        format!("{authority}:80")
    };
    let addr = target
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| invalid("the host has no address"))?;
    let mut stream = TcpStream::connect_timeout(&addr, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n"
    )?;
    let mut raw = Vec::new();
    stream.take(64 * 1024).read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw);
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| invalid("the answer is not HTTP"))?;
    let body = text
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_owned();
    Ok((status, body))
}
