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
    /// Reschedule while packets are in flight toward this stage or the upstream queue holds at
    /// least the backlog threshold (within the window since the last sign of traffic), or while
    /// the lane's head is still taking in a burst (within the stage's self-sized window); wake
    /// every stage of a lane at once when a burst starts at its head.
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
    /// A packet entered the lane within its burst gap: more of the burst is expected.
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
    /// `timeout`: how long to poll after the last packet. `adaptive`: the upper bound of each
    /// stage's self-sized window ([`StageWindow`]) and the most it polls on the look-ahead
    /// after the last sign of traffic (its own last packet, the last packet to enter its lane,
    /// or being woken ahead of a burst), whatever the signals say.
    pub window_ns: u64,
    /// `adaptive`: the upstream backlog at or above which the stage keeps polling (0 disables
    /// that signal).
    pub backlog_threshold: u32,
    /// `adaptive`: the floor of a lane's burst gap ([`burst_gap`]): a gap between two packets
    /// entering a lane shorter than this never starts a burst.
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
    /// The lane's estimate of the gap between its entries ([`LaneEntries::mean_gap_ns`]).
    pub mean_entry_gap_ns: u64,
    /// When this stage first polled after being woken ahead of a burst, on the same clock; 0 if
    /// it never was.
    pub woken_ahead_ns: u64,
    /// This stage's self-sized window ([`StageWindow::window_ns`]).
    pub window_ns: u64,
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
        Policy::Adaptive => adaptive(params, view),
    }
}

impl View {
    /// The latest sign of traffic: this stage's last packet, its lane's last entry, or its
    /// wake-up ahead of a burst (a stage woken ahead has not worked yet, and it may wake long
    /// after its lane's entry: an IPI and a C-state exit).
    pub fn last_sign_ns(&self) -> u64 {
        self.last_work_ns
            .max(self.head_entry_ns)
            .max(self.woken_ahead_ns)
    }
}

fn adaptive(params: &Params, view: &View) -> Decision {
    let quiet_ns = view.now_ns.saturating_sub(view.last_sign_ns());
    let head_idle_ns = view.now_ns.saturating_sub(view.head_entry_ns);
    if quiet_ns >= params.window_ns {
        // The bound on the look-ahead: a packet held or lost upstream cannot keep this stage
        // awake for ever.
        Decision::Complete
    } else if view.in_flight > 0 {
        Decision::Reschedule(Reason::HeadAhead)
    } else if params.backlog_threshold > 0 && view.upstream_backlog >= params.backlog_threshold {
        Decision::Reschedule(Reason::UpstreamBacklog)
    } else if head_idle_ns < params.burst_gap_ns
        || (quiet_ns < view.window_ns && head_idle_ns < burst_gap(params, view.mean_entry_gap_ns))
    {
        // More of the burst is expected: within the floor of the burst gap in any case, beyond
        // it (up to the lane's own burst gap) only within the window this stage learned pays.
        Decision::Reschedule(Reason::HeadActive)
    } else {
        Decision::Complete
    }
}

/// A gap is long compared with the lane's estimate when it is this many times (a power of two)
/// the estimate.
pub const BURST_GAP_SHIFT: u32 = 2;
/// The estimate's weight: each gap counts for 1/2^shift of it.
pub const MEAN_GAP_SHIFT: u32 = 3;

/// The lane's burst gap: the shortest gap between two packets entering it that starts a new
/// burst. `2^BURST_GAP_SHIFT` times its estimate `mean_gap_ns`, at most `window_ns` (past it,
/// every stage has completed whatever the lane does), at least `burst_gap_ns` (which wins when
/// it is larger than `window_ns`).
pub fn burst_gap(params: &Params, mean_gap_ns: u64) -> u64 {
    mean_gap_ns
        .saturating_mul(1 << BURST_GAP_SHIFT)
        .min(params.window_ns)
        .max(params.burst_gap_ns)
}

/// What the hook keeps per lane of the packets entering it, to tell when a burst starts. It
/// runs under the lane's head queue lock: one CPU at a time updates it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LaneEntries {
    /// When the last packet entered (0: none yet).
    pub last_ns: u64,
    /// An exponentially weighted mean of the gaps between entries (weight `1/2^MEAN_GAP_SHIFT`),
    /// each gap counted at most as the lane's cap on its burst gap (`window_ns`, or
    /// `burst_gap_ns` if larger): a longer silence starts a burst whatever the estimate, and
    /// its length would only blind the estimate for the next packets. 0 until the second
    /// packet, which sets it to the first gap.
    pub mean_gap_ns: u64,
}

impl LaneEntries {
    /// Records a packet entering the lane at `now_ns`. Returns whether it should wake every
    /// stage of the lane at once rather than let each wait for the packet to reach it: under
    /// `adaptive`, when it starts a burst (the lane's first packet, or a gap since the last one
    /// of at least the lane's [`burst_gap`]). The stages then leave their C-states while the
    /// burst's first packet is still upstream of them, and poll on the look-ahead until it
    /// arrives.
    pub fn enter(&mut self, params: &Params, now_ns: u64) -> bool {
        let first = self.last_ns == 0;
        let gap_ns = now_ns.saturating_sub(self.last_ns);
        let starts_burst = first || gap_ns >= burst_gap(params, self.mean_gap_ns);
        if !first {
            let counted = gap_ns.min(params.window_ns.max(params.burst_gap_ns));
            self.mean_gap_ns = if self.mean_gap_ns == 0 {
                counted
            } else {
                self.mean_gap_ns - (self.mean_gap_ns >> MEAN_GAP_SHIFT)
                    + (counted >> MEAN_GAP_SHIFT)
            };
        }
        self.last_ns = now_ns;
        params.policy == Policy::Adaptive && starts_burst
    }
}

/// A window spent empty loses 1/2^shift of itself.
pub const WINDOW_SHRINK_SHIFT: u32 = 3;

/// A stage's window on its CPU, sized as cpuidle's haltpoll governor sizes its poll limit, by
/// how long the stage stayed without traffic when it completed: from the last sign of traffic
/// ([`View::last_sign_ns`]) to its next poll. Longer than the window but within `window_ns` of
/// the knob (a packet, or a wake-up ahead of one, came just after it completed): the window
/// doubles, at least to [`StageWindow::grow_start`]. Longer than `window_ns` (the whole bound
/// spent empty: polling on would have paid nothing): it loses an eighth (haltpoll halves it;
/// bursts every few milliseconds would then lose a grown window at every gap), and is 0 below
/// half the grow start. Always at most `window_ns`. Only the stage's CPU touches it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StageWindow {
    /// How long the stage polls after the last sign of traffic while its lane's head is active
    /// beyond `burst_gap_ns` (`head_active`); 0 at first.
    pub window_ns: u64,
    /// Whether the stage completed and has not polled since.
    pub completed: bool,
    /// If `completed`: its last sign of traffic then.
    pub idle_since_ns: u64,
}

impl StageWindow {
    /// The first size a window grows to from 0: a quarter of the bound, as haltpoll's 50 of
    /// 200 us.
    pub fn grow_start(params: &Params) -> u64 {
        params.window_ns >> 2
    }

    /// The stage completed, having decided on `view`.
    pub fn completed(&mut self, view: &View) {
        self.completed = true;
        self.idle_since_ns = view.last_sign_ns();
    }

    /// The stage polls at `now_ns`: if it is its first poll since it completed, sizes the
    /// window by how long it was without traffic.
    pub fn polled(&mut self, params: &Params, now_ns: u64) {
        if !core::mem::replace(&mut self.completed, false) {
            return;
        }
        let idle_ns = now_ns.saturating_sub(self.idle_since_ns);
        let window = self.window_ns.min(params.window_ns);
        self.window_ns = if idle_ns > params.window_ns {
            let shrunk = window - (window >> WINDOW_SHRINK_SHIFT);
            if shrunk < Self::grow_start(params) >> 1 {
                0
            } else {
                shrunk
            }
        } else if idle_ns > window {
            window
                .saturating_mul(2)
                .max(Self::grow_start(params))
                .min(params.window_ns)
        } else {
            window
        };
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
