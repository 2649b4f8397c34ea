//! A fixed-rate HTTP/1.1 load generator for `bench/run`'s latency percentiles.
//!
//! `fixed-rate URL RATE SECONDS CONNECTIONS [BEARER]` sends RATE requests per second in
//! total, spread evenly over CONNECTIONS keep-alive connections. A request sent more than
//! 2 ms behind its schedule is timed from its *scheduled* send time, so a stalled proxy is
//! charged for the requests that queued behind it (coordinated omission); smaller lag is
//! the timer's and is not charged. Prints one JSON line:
//! `{"sent","ok","errors","p50_ms","p99_ms","p999_ms","max_ms"}`.

use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper::{Request, Uri};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// Timer lag below this is not charged to the server.
const SLACK: Duration = Duration::from_millis(2);

type Error = Box<dyn std::error::Error + Send + Sync>;

async fn connection(
    uri: Uri,
    bearer: Option<String>,
    start: Instant,
    every: Duration,
    count: u64,
) -> Result<Vec<u64>, Error> {
    let authority = uri.authority().ok_or("URL without host")?.clone();
    let stream = TcpStream::connect(authority.as_str()).await?;
    stream.set_nodelay(true)?;
    let (mut send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(conn);
    let mut lat = Vec::with_capacity(count as usize);
    for i in 0..count {
        let due = start + every * (i as u32);
        tokio::time::sleep_until(due.into()).await;
        // Tokio's timer fires up to a millisecond late: lag under SLACK is the generator's,
        // so it is timed from the real send; a send further behind schedule (the previous
        // answer on this connection was slow) is timed from its due time.
        let sent = Instant::now();
        let origin = if sent.duration_since(due) > SLACK { due } else { sent };
        let mut req = Request::get(uri.clone()).header("host", authority.as_str());
        if let Some(b) = &bearer {
            req = req.header("authorization", format!("Bearer {b}"));
        }
        let resp = send.send_request(req.body(Empty::<Bytes>::new())?).await?;
        let ok = resp.status().is_success();
        resp.into_body().collect().await?;
        if !ok {
            return Err("non-2xx answer".into());
        }
        lat.push(origin.elapsed().as_micros() as u64);
    }
    Ok(lat)
}

fn pct(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)] as f64 / 1000.0
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 5 {
        return Err("usage: fixed-rate URL RATE SECONDS CONNECTIONS [BEARER]".into());
    }
    let uri: Uri = args[1].parse()?;
    let rate: f64 = args[2].parse()?;
    let seconds: f64 = args[3].parse()?;
    let conns: u64 = args[4].parse()?;
    let bearer = args.get(5).cloned();
    let per_conn = ((rate * seconds) / conns as f64).round() as u64;
    let every = Duration::from_secs_f64(conns as f64 / rate);
    let start = Instant::now() + Duration::from_millis(50);
    let mut tasks = Vec::new();
    for c in 0..conns {
        // Stagger the connections so the total rate is even, not bursts of CONNECTIONS.
        let offset = every.mul_f64(c as f64 / conns as f64);
        tasks.push(tokio::spawn(connection(uri.clone(), bearer.clone(), start + offset, every, per_conn)));
    }
    let (mut all, mut errors) = (Vec::new(), 0u64);
    for t in tasks {
        match t.await? {
            Ok(l) => all.extend(l),
            Err(e) => {
                eprintln!("connection failed: {e}");
                errors += 1;
            }
        }
    }
    all.sort_unstable();
    println!(
        "{{\"sent\":{},\"ok\":{},\"errors\":{},\"p50_ms\":{:.3},\"p99_ms\":{:.3},\"p999_ms\":{:.3},\"max_ms\":{:.3}}}",
        per_conn * conns,
        all.len(),
        errors,
        pct(&all, 0.50),
        pct(&all, 0.99),
        pct(&all, 0.999),
        all.last().map_or(f64::NAN, |m| *m as f64 / 1000.0)
    );
    Ok(())
}
