// SPDX-License-Identifier: GPL-2.0

//! The decision a stage makes once it has drained its queue: reschedule (keep polling) or
//! complete (let its CPU idle).
//!
//! Pure logic with no kernel dependency: compiled into the module and into the host crate
//! `tools/vigil-core`, where cargo tests it and the simulator runs it.

use crate::parse::trim_line;

/// How a drained stage chooses between polling on and completing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// Always complete: what NAPI does today.
    Idle,
    /// Always reschedule, bounded only by the kernel's own softirq limits.
    Poll,
    /// Reschedule for a fixed window after the last packet (like `busy_poll`).
    Timeout,
    /// Reschedule while packets are in flight toward this stage, or while the upstream queue
    /// holds at least the backlog threshold, within the window since the last packet.
    Adaptive,
}

impl Policy {
    /// Every policy, in the order sysfs lists them.
    pub const ALL: [Policy; 4] = [
        Policy::Idle,
        Policy::Poll,
        Policy::Timeout,
        Policy::Adaptive,
    ];

    /// The policy's name in sysfs and the CLI.
    pub fn name(self) -> &'static str {
        match self {
            Policy::Idle => "idle",
            Policy::Poll => "poll",
            Policy::Timeout => "timeout",
            Policy::Adaptive => "adaptive",
        }
    }

    /// The policy named `input` (one trailing newline allowed).
    pub fn from_name(input: &[u8]) -> Option<Policy> {
        let name = trim_line(input);
        Policy::ALL
            .into_iter()
            .find(|p| p.name().as_bytes() == name)
    }
}

/// Why a stage kept polling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// The lane's head is ahead of this stage: packets are in flight toward it.
    HeadAhead,
    /// The upstream stage's queue holds at least the backlog threshold.
    UpstreamBacklog,
    /// Within the poll window (`timeout`), or unconditionally (`poll`).
    Window,
}

impl Reason {
    /// Every reason, in the order statistics list them.
    pub const ALL: [Reason; 3] = [Reason::HeadAhead, Reason::UpstreamBacklog, Reason::Window];

    /// The reason's name in statistics.
    pub fn name(self) -> &'static str {
        match self {
            Reason::HeadAhead => "head_ahead",
            Reason::UpstreamBacklog => "upstream_backlog",
            Reason::Window => "window",
        }
    }

    /// The reason's index in `ALL`, for counters.
    pub fn index(self) -> usize {
        match self {
            Reason::HeadAhead => 0,
            Reason::UpstreamBacklog => 1,
            Reason::Window => 2,
        }
    }
}

/// What a drained stage does next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Stay in NAPI polling.
    Reschedule(Reason),
    /// `napi_complete_done()`: the CPU may idle.
    Complete,
}

/// The knobs the decision reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Params {
    /// The policy.
    pub policy: Policy,
    /// `timeout`: how long to poll after the last packet. `adaptive`: the most it polls after
    /// the last packet, whatever the signals say.
    pub window_ns: u64,
    /// `adaptive`: the upstream backlog at or above which the stage keeps polling (0 disables
    /// that signal).
    pub backlog_threshold: u32,
}

/// What a stage sees when its queue is empty.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct View {
    /// Now, in nanoseconds on a monotonic clock.
    pub now_ns: u64,
    /// When this stage last processed a packet, on the same clock.
    pub last_work_ns: u64,
    /// The lane's packets that entered the pipeline and have neither passed this stage nor been
    /// retired (dropped) upstream of it: see [`in_flight_toward`].
    pub in_flight: u64,
    /// Packets waiting in the upstream stage's queue (0 for the first stage).
    pub upstream_backlog: u32,
}

/// Decides for a stage whose queue is empty.
pub fn decide(params: &Params, view: &View) -> Decision {
    let idle_ns = view.now_ns.saturating_sub(view.last_work_ns);
    match params.policy {
        Policy::Idle => Decision::Complete,
        Policy::Poll => Decision::Reschedule(Reason::Window),
        Policy::Timeout if idle_ns < params.window_ns => Decision::Reschedule(Reason::Window),
        Policy::Timeout => Decision::Complete,
        // The window bounds the look-ahead: a packet held or lost upstream cannot keep this
        // stage awake for ever.
        Policy::Adaptive if idle_ns >= params.window_ns => Decision::Complete,
        Policy::Adaptive if view.in_flight > 0 => Decision::Reschedule(Reason::HeadAhead),
        Policy::Adaptive
            if params.backlog_threshold > 0
                && view.upstream_backlog >= params.backlog_threshold =>
        {
            Decision::Reschedule(Reason::UpstreamBacklog)
        }
        Policy::Adaptive => Decision::Complete,
    }
}

/// Packets of a lane in flight toward a stage, from three monotonic counters: how many entered
/// the lane (its head sequence), how many this stage has handled, and how many were retired
/// (dropped) by the stages before it. Exact when read at one instant; read `entered` last and
/// it can only overestimate, which the window bounds.
pub fn in_flight_toward(entered: u64, handled: u64, retired_upstream: u64) -> u64 {
    entered
        .saturating_sub(handled)
        .saturating_sub(retired_upstream)
}
