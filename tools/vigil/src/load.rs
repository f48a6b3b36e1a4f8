// SPDX-License-Identifier: GPL-2.0

//! `vigil load`: UDP datagrams to a local receiver, each carrying its sequence number, so that
//! loss and reordering are seen.

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

/// What to send.
#[derive(Debug, PartialEq, Eq)]
pub struct Options {
    /// Where to send; a receiver is bound there.
    pub dst: SocketAddr,
    /// How many datagrams.
    pub count: u64,
    /// Bytes of payload per datagram (at least 8, for the sequence number).
    pub size: usize,
}

impl Options {
    /// Parses `load`'s arguments.
    pub fn parse(args: &[String]) -> Result<Self, String> {
        let mut opts = Options {
            dst: SocketAddr::from(([127, 0, 0, 1], 9000)),
            count: 1000,
            size: 64,
        };
        let mut it = args.iter();
        while let Some(flag) = it.next() {
            let value = it
                .next()
                .ok_or_else(|| format!("load: {flag} needs a value"))?;
            let bad = |e: &dyn std::fmt::Display| format!("load: {flag} {value}: {e}");
            match flag.as_str() {
                "--dst" => opts.dst = value.parse().map_err(|e| bad(&e))?,
                "--count" => opts.count = value.parse().map_err(|e| bad(&e))?,
                "--size" => opts.size = value.parse().map_err(|e| bad(&e))?,
                _ => return Err(format!("load: unknown option {flag}")),
            }
        }
        if !(8..=65000).contains(&opts.size) {
            return Err(format!("load: --size {} is not in 8..=65000", opts.size));
        }
        Ok(opts)
    }
}

/// What came back.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// Datagrams sent.
    pub sent: u64,
    /// Datagrams received.
    pub received: u64,
    /// Received with a lower sequence number than one received before.
    pub out_of_order: u64,
}

/// Sends `opts.count` datagrams and collects them; waits up to a second after the last.
pub fn exchange(opts: &Options) -> Result<Report, String> {
    let rx = UdpSocket::bind(opts.dst).map_err(|e| format!("bind {}: {e}", opts.dst))?;
    let any: SocketAddr = if opts.dst.is_ipv4() {
        "0.0.0.0:0".parse().map_err(|e| format!("{e}"))?
    } else {
        "[::]:0".parse().map_err(|e| format!("{e}"))?
    };
    let tx = UdpSocket::bind(any).map_err(|e| format!("bind {any}: {e}"))?;
    rx.set_read_timeout(Some(Duration::from_millis(50)))
        .map_err(|e| e.to_string())?;
    let mut report = Report::default();
    let mut payload = vec![0u8; opts.size];
    let mut buf = vec![0u8; 65536];
    let mut highest: Option<u64> = None;
    let mut receive = |report: &mut Report, wait: bool| -> Result<bool, String> {
        if !wait {
            rx.set_nonblocking(true).map_err(|e| e.to_string())?;
        }
        let got = match rx.recv(&mut buf) {
            Ok(n) if n >= 8 => {
                let mut seq = [0u8; 8];
                seq.copy_from_slice(&buf[..8]);
                let seq = u64::from_be_bytes(seq);
                report.received += 1;
                if highest.is_some_and(|h| seq < h) {
                    report.out_of_order += 1;
                }
                highest = Some(highest.map_or(seq, |h| h.max(seq)));
                true
            }
            Ok(_) => true,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                false
            }
            Err(e) => return Err(format!("recv: {e}")),
        };
        if !wait {
            rx.set_nonblocking(false).map_err(|e| e.to_string())?;
        }
        Ok(got)
    };
    for seq in 0..opts.count {
        payload[..8].copy_from_slice(&seq.to_be_bytes());
        tx.send_to(&payload, opts.dst)
            .map_err(|e| format!("send to {}: {e}", opts.dst))?;
        report.sent += 1;
        // Drain as we go, so that the receive buffer never overflows.
        while receive(&mut report, false)? {}
    }
    let deadline = Instant::now() + Duration::from_secs(1);
    while report.received < report.sent && Instant::now() < deadline {
        receive(&mut report, true)?;
    }
    Ok(report)
}

/// Runs the exchange and prints the report.
pub fn run(opts: &Options) -> Result<(), String> {
    let r = exchange(opts)?;
    println!(
        "sent {} received {} out_of_order {}",
        r.sent, r.received, r.out_of_order
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn parses_options_and_rejects_bad_ones() {
        let o = Options::parse(&args("--dst [::1]:7000 --count 5 --size 100")).unwrap();
        assert_eq!(o.dst, "[::1]:7000".parse().unwrap());
        assert_eq!((o.count, o.size), (5, 100));
        assert!(Options::parse(&args("--size 4")).is_err());
        assert!(Options::parse(&args("--count")).is_err());
        assert!(Options::parse(&args("--count x")).is_err());
        assert!(Options::parse(&args("--rate 5")).is_err());
    }

    #[test]
    fn loopback_exchange_receives_everything_in_order() {
        // Port 0 cannot be used as a destination: find a free port first.
        let port = UdpSocket::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let opts = Options {
            dst: SocketAddr::from(([127, 0, 0, 1], port)),
            count: 200,
            size: 32,
        };
        let r = exchange(&opts).unwrap();
        assert_eq!(r.sent, 200);
        assert_eq!(r.received, 200);
        assert_eq!(r.out_of_order, 0);
    }
}
