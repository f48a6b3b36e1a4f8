// SPDX-License-Identifier: GPL-2.0

//! `vigil load`: UDP datagrams from several flows to a receiver, each carrying its flow and
//! sequence number, so that loss and reordering within a flow are seen.
//!
//! The sender and the receiver may run in one process (`--mode both`, the default) or apart
//! (`--mode send` and `--mode recv`, for example in two network namespaces).

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

/// Who this process is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Mode {
    /// Send and receive.
    Both,
    /// Send only.
    Send,
    /// Receive only.
    Recv,
}

/// When datagrams are sent.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Profile {
    /// As fast as possible.
    Flood,
    /// A steady rate, datagrams per second.
    Steady(u64),
    /// `burst` datagrams back to back, then a gap, repeated.
    Bursts {
        /// Datagrams per burst.
        burst: u64,
        /// Microseconds from one burst's start to the next's.
        gap_us: u64,
    },
    /// Poisson arrivals at a mean rate, datagrams per second.
    Poisson(u64),
}

/// A seeded xorshift64 generator: the same seed gives the same traffic.
struct Rng(u64);

impl Rng {
    fn next_f64(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        // 53 random bits in (0, 1].
        ((self.0 >> 11) + 1) as f64 / (1u64 << 53) as f64
    }
}

/// Send offsets from the start, datagram by datagram.
pub struct Schedule {
    profile: Profile,
    rng: Rng,
    t: f64,
}

impl Schedule {
    /// The schedule of `profile`, seeded with `seed` (Poisson only).
    pub fn new(profile: Profile, seed: u64) -> Self {
        Self {
            profile,
            rng: Rng(seed | 1),
            t: 0.0,
        }
    }

    /// When datagram `i` is due (they must be asked for in order).
    pub fn due(&mut self, i: u64) -> Duration {
        match self.profile {
            Profile::Flood => Duration::ZERO,
            Profile::Steady(pps) => Duration::from_secs_f64(i as f64 / pps.max(1) as f64),
            Profile::Bursts { burst, gap_us } => {
                Duration::from_micros((i / burst.max(1)).saturating_mul(gap_us))
            }
            Profile::Poisson(pps) => {
                if i > 0 {
                    self.t += -self.rng.next_f64().ln() / pps.max(1) as f64;
                }
                Duration::from_secs_f64(self.t)
            }
        }
    }
}

/// What to send or expect.
#[derive(Debug, PartialEq)]
pub struct Options {
    /// Where to send, and where the receiver binds.
    pub dst: SocketAddr,
    /// How many datagrams in all.
    pub count: u64,
    /// Bytes of payload per datagram (at least 20, for the header).
    pub size: usize,
    /// Flows (source sockets) the datagrams are spread over, round robin.
    pub flows: u32,
    /// When to send.
    pub profile: Profile,
    /// Seed of the Poisson profile.
    pub seed: u64,
    /// Report as JSON.
    pub json: bool,
    /// Report as one line of KEY=VALUE pairs (the JSON report's fields).
    pub kv: bool,
    /// Who this process is.
    pub mode: Mode,
    /// How long the receiver waits for the last datagram.
    pub timeout: Duration,
}

/// How long before a datagram is due the sender stops sleeping and spins.
const SPIN_LAST: Duration = Duration::from_micros(200);

/// Sequence (8 bytes), flow (4), send time in ns since the epoch (8), all big-endian.
const HEADER: usize = 20;
/// The largest payload `--size` may ask for.
const MAX_SIZE: u16 = 65000;
/// The most flows `--flows` may ask for.
const MAX_FLOWS: u32 = 1024;

/// The command line of `vigil load`; [`Args::options`] turns it into [`Options`].
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("profile").args(["rate", "burst", "poisson"])))]
pub struct Args {
    /// Where to send, and where the receiver binds.
    #[arg(long, value_name = "ADDR:PORT", default_value = "127.0.0.1:9000")]
    dst: SocketAddr,
    /// Datagrams in all.
    #[arg(long, value_name = "N", default_value_t = 1000)]
    count: u64,
    #[arg(long, value_name = "BYTES", default_value_t = 64,
          help = format!("Bytes of payload per datagram, {HEADER} (the header) to {MAX_SIZE}"),
          value_parser = clap::value_parser!(u16).range(HEADER as i64..=MAX_SIZE.into()))]
    size: u16,
    #[arg(long, value_name = "F", default_value_t = 1,
          help = format!("Flows (source sockets) the datagrams are spread over, round robin, \
                          at most {MAX_FLOWS}"),
          value_parser = clap::value_parser!(u32).range(1..=MAX_FLOWS.into()))]
    flows: u32,
    /// A steady rate, datagrams per second (default: as fast as possible).
    #[arg(long, value_name = "PPS", value_parser = clap::value_parser!(u64).range(1..))]
    rate: Option<u64>,
    /// B datagrams back to back, then a gap, repeated (with --gap-us).
    #[arg(long, value_name = "B", requires = "gap_us",
          value_parser = clap::value_parser!(u64).range(1..))]
    burst: Option<u64>,
    /// Microseconds from one burst's start to the next's (with --burst).
    #[arg(long, value_name = "G", requires = "burst")]
    gap_us: Option<u64>,
    /// Poisson arrivals at a mean rate, datagrams per second.
    #[arg(long, value_name = "PPS", value_parser = clap::value_parser!(u64).range(1..))]
    poisson: Option<u64>,
    /// Seed of the Poisson arrivals: the same seed sends at the same times.
    #[arg(long, value_name = "S", default_value_t = 1)]
    seed: u64,
    /// Send and receive, or only one of the two.
    #[arg(long, value_enum, default_value = "both")]
    mode: Mode,
    /// How long the receiver waits for the next datagram, seconds (0 to 3600).
    #[arg(long, value_name = "SECS", default_value = "2", value_parser = timeout)]
    timeout: Duration,
    /// Print the report as one JSON object.
    #[arg(long)]
    json: bool,
    /// Print the report as one line of KEY=VALUE pairs: the --json fields, null as -.
    #[arg(long, conflicts_with = "json")]
    kv: bool,
}

/// `--timeout`'s seconds.
fn timeout(text: &str) -> Result<Duration, String> {
    let secs: f64 = text.parse().map_err(|e| format!("{e}"))?;
    if !(0.0..=3600.0).contains(&secs) {
        return Err("not in 0..=3600".into());
    }
    Ok(Duration::from_secs_f64(secs))
}

impl Args {
    /// What to send or expect.
    pub fn options(&self) -> Options {
        let profile = match (self.rate, self.burst, self.gap_us, self.poisson) {
            (Some(pps), ..) => Profile::Steady(pps),
            (_, Some(burst), Some(gap_us), _) => Profile::Bursts { burst, gap_us },
            (.., Some(pps)) => Profile::Poisson(pps),
            _ => Profile::Flood,
        };
        Options {
            dst: self.dst,
            count: self.count,
            size: self.size.into(),
            flows: self.flows,
            profile,
            seed: self.seed,
            json: self.json,
            kv: self.kv,
            mode: self.mode,
            timeout: self.timeout,
        }
    }
}

/// What was sent and what came back.
#[derive(Debug, Default, PartialEq)]
pub struct Report {
    /// Datagrams sent.
    pub sent: u64,
    /// Datagrams the local stack refused for want of memory (`ENOBUFS`), as a real source
    /// would meet under memory pressure: counted, not sent, and the sending goes on.
    pub send_failed: u64,
    /// Datagrams received.
    pub received: u64,
    /// Received with a lower sequence number than one received before in the same flow.
    pub out_of_order: u64,
    /// One-way latencies of the received datagrams, nanoseconds.
    pub latencies: Vec<u64>,
    /// When the first and the last datagram were received, for the receive rate.
    pub received_span: Option<(Instant, Instant)>,
    /// From the first send to the end of the last.
    pub send_time: Duration,
}

impl Report {
    /// Datagrams received per second, from the first receipt to the last (`None` with fewer
    /// than two, or no time between them).
    pub fn receive_rate(&self) -> Option<f64> {
        let (first, last) = self.received_span?;
        let secs = last.duration_since(first).as_secs_f64();
        (self.received >= 2 && secs > 0.0).then(|| (self.received - 1) as f64 / secs)
    }
}

/// Nanoseconds since the epoch: comparable between a sender and a receiver on one host.
fn wall_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// The `permille`/1000 quantile of `sorted` by nearest rank.
pub fn quantile(sorted: &[u64], permille: u64) -> Option<u64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (permille.min(1000) * sorted.len() as u64)
        .div_ceil(1000)
        .max(1);
    sorted.get(rank as usize - 1).copied()
}

/// Receives datagrams and keeps per-flow order.
struct Receiver {
    socket: UdpSocket,
    highest: Vec<Option<u64>>,
    buf: Vec<u8>,
}

impl Receiver {
    fn bind(addr: SocketAddr, flows: u32) -> Result<Self, String> {
        let socket = UdpSocket::bind(addr).map_err(|e| format!("bind {addr}: {e}"))?;
        grow_receive_buffer(&socket);
        Ok(Self {
            socket,
            highest: vec![None; flows as usize],
            buf: vec![0u8; 65536],
        })
    }

    /// Takes one datagram if one comes within `wait` (`None`: only if one is there now).
    fn receive(&mut self, report: &mut Report, wait: Option<Duration>) -> Result<bool, String> {
        let s = &self.socket;
        match wait {
            None => s.set_nonblocking(true),
            Some(d) => s
                .set_nonblocking(false)
                .and_then(|()| s.set_read_timeout(Some(d.max(Duration::from_millis(1))))),
        }
        .map_err(|e| e.to_string())?;
        match s.recv(&mut self.buf) {
            Ok(n) if n >= HEADER => {
                let seq = u64::from_be_bytes(self.buf[..8].try_into().map_err(|_| "short")?);
                let flow = u32::from_be_bytes(self.buf[8..12].try_into().map_err(|_| "short")?);
                let sent = u64::from_be_bytes(self.buf[12..20].try_into().map_err(|_| "short")?);
                report.latencies.push(wall_ns().saturating_sub(sent));
                report.received += 1;
                let now = Instant::now();
                let first = report.received_span.map_or(now, |(first, _)| first);
                report.received_span = Some((first, now));
                if let Some(h) = self.highest.get_mut(flow as usize) {
                    if h.is_some_and(|h| seq <= h) {
                        report.out_of_order += 1;
                    }
                    *h = Some(h.map_or(seq, |h| h.max(seq)));
                }
                Ok(true)
            }
            Ok(_) => Ok(true),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                Ok(false)
            }
            Err(e) => Err(format!("recv: {e}")),
        }
    }
}

/// The receive buffer a receiver asks for: a second of datagrams at a high test rate, so that
/// a receiver the machine starves for a while (softirq work on its CPU) loses none to its
/// socket. Beyond `net.core.rmem_max` it takes privilege (`SO_RCVBUFFORCE`); without, the
/// kernel's clamp to `rmem_max` stands.
const RECEIVE_BUFFER: libc::c_int = 16 << 20;

fn grow_receive_buffer(socket: &UdpSocket) {
    use std::os::fd::AsRawFd;
    let size = RECEIVE_BUFFER;
    for option in [libc::SO_RCVBUFFORCE, libc::SO_RCVBUF] {
        // SAFETY: a valid socket, and an option value of the size given.
        let r = unsafe {
            libc::setsockopt(
                socket.as_raw_fd(),
                libc::SOL_SOCKET,
                option,
                (&raw const size).cast(),
                std::mem::size_of_val(&size) as libc::socklen_t,
            )
        };
        if r == 0 {
            return;
        }
    }
}

fn sender_sockets(opts: &Options) -> Result<Vec<UdpSocket>, String> {
    let any: SocketAddr = if opts.dst.is_ipv4() {
        SocketAddr::from(([0, 0, 0, 0], 0))
    } else {
        SocketAddr::from(([0u16; 8], 0))
    };
    (0..opts.flows)
        .map(|_| UdpSocket::bind(any).map_err(|e| format!("bind {any}: {e}")))
        .collect()
}

/// Runs the exchange as `opts.mode` says.
pub fn exchange(opts: &Options) -> Result<Report, String> {
    let mut report = Report::default();
    let mut rx = match opts.mode {
        Mode::Send => None,
        _ => Some(Receiver::bind(opts.dst, opts.flows)?),
    };
    if opts.mode != Mode::Recv {
        let tx = sender_sockets(opts)?;
        let mut payload = vec![0u8; opts.size];
        let mut schedule = Schedule::new(opts.profile, opts.seed);
        let start = Instant::now();
        for seq in 0..opts.count {
            let flow = (seq % u64::from(opts.flows)) as u32;
            let due = schedule.due(seq);
            while start.elapsed() < due {
                if let Some(rx) = rx.as_mut() {
                    rx.receive(&mut report, None)?;
                } else if let Some(far) = due.checked_sub(start.elapsed() + SPIN_LAST) {
                    // Sleep through long gaps, so that the sender's CPU idles between bursts as
                    // a real source's would; spin only the last stretch, for timing.
                    std::thread::sleep(far);
                } else {
                    std::hint::spin_loop();
                }
            }
            payload[..8].copy_from_slice(&seq.to_be_bytes());
            payload[8..12].copy_from_slice(&flow.to_be_bytes());
            payload[12..20].copy_from_slice(&wall_ns().to_be_bytes());
            match tx[flow as usize].send_to(&payload, opts.dst) {
                Ok(_) => report.sent += 1,
                Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => report.send_failed += 1,
                Err(e) => return Err(format!("send to {}: {e}", opts.dst)),
            }
            report.send_time = start.elapsed();
            // Drain as we go, so that the receive buffer never overflows.
            if let Some(rx) = rx.as_mut() {
                while rx.receive(&mut report, None)? {}
            }
        }
    }
    if let Some(rx) = rx.as_mut() {
        let expect = opts.count;
        let mut deadline = Instant::now() + opts.timeout;
        while report.received < expect {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            if rx.receive(&mut report, Some(deadline - now))? {
                // Traffic still flows: wait the full timeout after each datagram.
                deadline = Instant::now() + opts.timeout;
            }
        }
    }
    Ok(report)
}

/// The `--json` and `--kv` report; `tools/testing/guest-bench.sh` reads its fields by name.
#[derive(Debug, serde::Serialize)]
struct ReportJson {
    sent: u64,
    send_failed: u64,
    received: u64,
    out_of_order: u64,
    latency_p50_ns: Option<u64>,
    latency_p99_ns: Option<u64>,
    latency_p999_ns: Option<u64>,
    send_time_ns: u64,
    receive_rate_pps: Option<u64>,
}

/// Runs the exchange and prints the report.
pub fn run(opts: &Options) -> Result<(), String> {
    let mut r = exchange(opts)?;
    r.latencies.sort_unstable();
    if opts.json || opts.kv {
        let q = |p| quantile(&r.latencies, p);
        let report = ReportJson {
            sent: r.sent,
            send_failed: r.send_failed,
            received: r.received,
            out_of_order: r.out_of_order,
            latency_p50_ns: q(500),
            latency_p99_ns: q(990),
            latency_p999_ns: q(999),
            send_time_ns: r.send_time.as_nanos() as u64,
            receive_rate_pps: r.receive_rate().map(|v| v as u64),
        };
        let line = if opts.kv {
            crate::json::kv_line(&report)?
        } else {
            crate::json::line(&report)?
        };
        println!("{line}");
        return Ok(());
    }
    if opts.mode != Mode::Send && !r.latencies.is_empty() {
        let q = |p| quantile(&r.latencies, p).unwrap_or(0) / 1000;
        eprintln!(
            "latency p50 {}us p99 {}us p999 {}us",
            q(500),
            q(990),
            q(999)
        );
    }
    match opts.mode {
        Mode::Send => println!("sent {} send_failed {}", r.sent, r.send_failed),
        Mode::Recv => println!("received {} out_of_order {}", r.received, r.out_of_order),
        Mode::Both => println!(
            "sent {} send_failed {} received {} out_of_order {}",
            r.sent, r.send_failed, r.received, r.out_of_order
        ),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_receiver_asks_for_a_large_receive_buffer() {
        use std::os::fd::AsRawFd;
        let rx = Receiver::bind("127.0.0.1:0".parse().unwrap(), 1).unwrap();
        let mut size: libc::c_int = 0;
        let mut len = std::mem::size_of_val(&size) as libc::socklen_t;
        // SAFETY: a valid socket, and room for the option's value.
        let r = unsafe {
            libc::getsockopt(
                rx.socket.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVBUF,
                (&raw mut size).cast(),
                &mut len,
            )
        };
        assert_eq!(r, 0);
        // Past the default at least (all of it with privilege; rmem_max without).
        let default: libc::c_int = std::fs::read_to_string("/proc/sys/net/core/rmem_default")
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        assert!(size > default, "{size} <= {default}");
    }

    use super::*;

    fn parse(s: &str) -> Result<Options, clap::Error> {
        use clap::Parser;
        let argv = ["vigil", "load"].into_iter().chain(s.split_whitespace());
        match crate::cli::Cli::try_parse_from(argv)?.command {
            crate::cli::Command::Load(a) => Ok(a.options()),
            c => panic!("not load: {c:?}"),
        }
    }

    #[test]
    fn parses_options_and_rejects_bad_ones() {
        let o = parse(
            "--dst [::1]:7000 --count 5 --size 100 --flows 3 --rate 50 --mode recv --timeout 0.5",
        )
        .unwrap();
        assert_eq!(o.dst, "[::1]:7000".parse().unwrap());
        assert_eq!((o.count, o.size, o.flows), (5, 100, 3));
        assert_eq!(o.profile, Profile::Steady(50));
        assert_eq!(o.mode, Mode::Recv);
        assert_eq!(o.timeout, Duration::from_millis(500));
        let b = parse("--burst 8 --gap-us 200 --json").unwrap();
        assert_eq!(
            b.profile,
            Profile::Bursts {
                burst: 8,
                gap_us: 200
            }
        );
        assert!(b.json);
        let d = parse("").unwrap();
        assert_eq!(d.dst, SocketAddr::from(([127, 0, 0, 1], 9000)));
        assert_eq!((d.count, d.size, d.flows, d.seed), (1000, 64, 1, 1));
        assert_eq!((d.profile, d.mode), (Profile::Flood, Mode::Both));
        assert_eq!(d.timeout, Duration::from_secs(2));
        assert_eq!(parse("--poisson 9").unwrap().profile, Profile::Poisson(9));
        for bad in [
            "--size 8",
            "--size 65001",
            "--burst 8",
            "--gap-us 5",
            "--burst 0 --gap-us 5",
            "--rate 0",
            "--rate 5 --poisson 5",
            "--rate 5 --burst 2 --gap-us 5",
            "--count",
            "--count x",
            "--flows 0",
            "--flows 1025",
            "--mode sideways",
            "--timeout -1",
            "--timeout 3601",
            "--bogus 5",
            "extra",
        ] {
            let e = parse(bad).unwrap_err();
            assert_eq!(e.exit_code(), 2, "{bad}");
        }
    }

    fn free_port() -> u16 {
        UdpSocket::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    }

    #[test]
    fn loopback_exchange_receives_every_flow_in_order() {
        let opts = Options {
            dst: SocketAddr::from(([127, 0, 0, 1], free_port())),
            count: 300,
            size: 32,
            flows: 3,
            profile: Profile::Flood,
            seed: 1,
            json: false,
            kv: false,
            mode: Mode::Both,
            timeout: Duration::from_secs(1),
        };
        let r = exchange(&opts).unwrap();
        assert_eq!((r.sent, r.received, r.out_of_order), (300, 300, 0));
        assert_eq!(r.latencies.len(), 300);
    }

    #[test]
    fn schedules_follow_their_profiles() {
        let mut s = Schedule::new(Profile::Steady(1000), 1);
        assert_eq!(s.due(0), Duration::ZERO);
        assert_eq!(s.due(250), Duration::from_millis(250));
        let mut b = Schedule::new(
            Profile::Bursts {
                burst: 4,
                gap_us: 100,
            },
            1,
        );
        let dues: Vec<_> = (0..9).map(|i| b.due(i).as_micros()).collect();
        assert_eq!(dues, [0, 0, 0, 0, 100, 100, 100, 100, 200]);
        // Poisson: non-decreasing, mean spacing close to 1/rate, same seed same times.
        let times = |seed| {
            let mut p = Schedule::new(Profile::Poisson(10_000), seed);
            (0..20_000).map(|i| p.due(i)).collect::<Vec<_>>()
        };
        let a = times(7);
        assert!(a.windows(2).all(|w| w[0] <= w[1]));
        let mean_us = a[19_999].as_secs_f64() / 19_999.0 * 1e6;
        assert!((90.0..110.0).contains(&mean_us), "{mean_us}");
        assert_eq!(a, times(7));
        assert_ne!(a, times(8));
    }

    #[test]
    fn receive_rate_counts_intervals_between_receipts() {
        let t = Instant::now();
        let mut r = Report {
            received: 3,
            received_span: Some((t, t + Duration::from_millis(500))),
            ..Report::default()
        };
        assert_eq!(r.receive_rate(), Some(4.0));
        r.received = 1;
        assert_eq!(r.receive_rate(), None);
        r.received_span = None;
        r.received = 3;
        assert_eq!(r.receive_rate(), None);
    }

    #[test]
    fn quantiles_by_nearest_rank() {
        let v: Vec<u64> = (1..=1000).collect();
        assert_eq!(quantile(&v, 500), Some(500));
        assert_eq!(quantile(&v, 990), Some(990));
        assert_eq!(quantile(&v, 1000), Some(1000));
        assert_eq!(quantile(&v, 0), Some(1));
        assert_eq!(quantile(&[], 500), None);
    }

    #[test]
    fn separate_sender_and_receiver_agree() {
        let dst = SocketAddr::from(([127, 0, 0, 1], free_port()));
        let recv = Options {
            dst,
            count: 200,
            size: 32,
            flows: 2,
            profile: Profile::Flood,
            seed: 1,
            json: false,
            kv: false,
            mode: Mode::Recv,
            timeout: Duration::from_secs(2),
        };
        let receiver = std::thread::spawn(move || exchange(&recv).unwrap());
        // Let the receiver bind before sending.
        std::thread::sleep(Duration::from_millis(100));
        let send = Options {
            dst,
            count: 200,
            size: 32,
            flows: 2,
            profile: Profile::Steady(20_000),
            seed: 1,
            json: false,
            kv: false,
            mode: Mode::Send,
            timeout: Duration::from_secs(1),
        };
        assert_eq!(exchange(&send).unwrap().sent, 200);
        let r = receiver.join().unwrap();
        assert_eq!((r.received, r.out_of_order), (200, 0));
    }
}
