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
    /// Reschedule while packets are in flight toward this stage, while the upstream queue
    /// holds at least the backlog threshold, or while the lane's head is still taking in a
    /// burst, within the window since the last packet; wake every stage of a lane at once when
    /// a burst starts at its head.
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
    /// A packet entered the lane within the burst gap: more of the burst is expected.
    HeadActive,
}

impl Reason {
    /// Every reason, in the order statistics list them.
    pub const ALL: [Reason; 4] = [
        Reason::HeadAhead,
        Reason::UpstreamBacklog,
        Reason::Window,
        Reason::HeadActive,
    ];

    /// The reason's name in statistics.
    pub fn name(self) -> &'static str {
        match self {
            Reason::HeadAhead => "head_ahead",
            Reason::UpstreamBacklog => "upstream_backlog",
            Reason::Window => "window",
            Reason::HeadActive => "head_active",
        }
    }

    /// The reason's index in `ALL`, for counters.
    pub fn index(self) -> usize {
        match self {
            Reason::HeadAhead => 0,
            Reason::UpstreamBacklog => 1,
            Reason::Window => 2,
            Reason::HeadActive => 3,
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
    /// the last sign of traffic (its own last packet, or the last packet to enter its lane),
    /// whatever the signals say.
    pub window_ns: u64,
    /// `adaptive`: the upstream backlog at or above which the stage keeps polling (0 disables
    /// that signal).
    pub backlog_threshold: u32,
    /// `adaptive`: the longest gap between two packets entering a lane that still counts as
    /// one burst. A stage keeps polling while its lane's head advanced within it, and a packet
    /// entering a lane whose head was quiet for longer starts a burst (0 disables the signal).
    pub burst_gap_ns: u64,
}

/// What a stage sees when its queue is empty.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct View {
    /// Now, in nanoseconds on a monotonic clock.
    pub now_ns: u64,
    /// When this stage last processed a packet, on the same clock.
    pub last_work_ns: u64,
    /// When the last packet entered this stage's lane (its head sequence last advanced), on the
    /// same clock; 0 if none has.
    pub head_entry_ns: u64,
    /// The lane's packets that entered the pipeline and have neither passed this stage nor been
    /// retired (dropped) upstream of it: see [`in_flight_toward`].
    pub in_flight: u64,
    /// Packets waiting in the upstream stage's queue (0 for the first stage).
    pub upstream_backlog: u32,
}

/// Decides for a stage whose queue is empty.
pub fn decide(params: &Params, view: &View) -> Decision {
    let idle_ns = view.now_ns.saturating_sub(view.last_work_ns);
    // Adaptive counts from the later of its own last packet and its lane's last entry: a stage
    // woken ahead of a burst has not worked yet, but its lane just did.
    let quiet_ns = view
        .now_ns
        .saturating_sub(view.last_work_ns.max(view.head_entry_ns));
    let head_idle_ns = view.now_ns.saturating_sub(view.head_entry_ns);
    match params.policy {
        Policy::Idle => Decision::Complete,
        Policy::Poll => Decision::Reschedule(Reason::Window),
        Policy::Timeout if idle_ns < params.window_ns => Decision::Reschedule(Reason::Window),
        Policy::Timeout => Decision::Complete,
        // The window bounds the look-ahead: a packet held or lost upstream cannot keep this
        // stage awake for ever.
        Policy::Adaptive if quiet_ns >= params.window_ns => Decision::Complete,
        Policy::Adaptive if view.in_flight > 0 => Decision::Reschedule(Reason::HeadAhead),
        Policy::Adaptive
            if params.backlog_threshold > 0
                && view.upstream_backlog >= params.backlog_threshold =>
        {
            Decision::Reschedule(Reason::UpstreamBacklog)
        }
        Policy::Adaptive if head_idle_ns < params.burst_gap_ns => {
            Decision::Reschedule(Reason::HeadActive)
        }
        Policy::Adaptive => Decision::Complete,
    }
}

/// Whether a packet entering a lane at `now_ns`, whose previous packet entered at
/// `head_entry_ns` (0: none yet), should wake every stage of the lane at once rather than let
/// each wait for the packet to reach it: under `adaptive`, when it starts a burst. The stages
/// then leave their C-states while the burst's first packet is still upstream of them, and
/// poll on the look-ahead until it arrives.
pub fn wakes_ahead(params: &Params, now_ns: u64, head_entry_ns: u64) -> bool {
    params.policy == Policy::Adaptive
        && (head_entry_ns == 0 || now_ns.saturating_sub(head_entry_ns) >= params.burst_gap_ns)
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
