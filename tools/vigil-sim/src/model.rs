// SPDX-License-Identifier: GPL-2.0

//! The event loop: packets through lanes of stages on CPUs, with the policy deciding at every
//! drain. The model is described in the crate's documentation.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

use vigil_core::policy::{
    decide, in_flight_toward, Decision, LaneEntries, Params, Policy, Reason, StageWindow, View,
};

use crate::allocation::{Allocating, Interval};
use crate::config::Config;

/// What the simulated monotonic clock reads when the traffic starts, as the kernel's reads the
/// uptime: a stage that has never worked has `last_work_ns` 0, long before.
pub const EPOCH_NS: u64 = 1_000_000_000;

/// A packet that left the last stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delivery {
    /// Its lane.
    pub lane: usize,
    /// Its sequence number in the lane, from 1.
    pub seq: u64,
    /// When it arrived at stage 0, from the start of the traffic.
    pub arrival_ns: u64,
    /// When it left the last stage, from the start of the traffic.
    pub delivered_ns: u64,
}

/// What a run did.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// The policy.
    pub policy: Policy,
    /// Packets that arrived.
    pub arrived: u64,
    /// Packets delivered, in delivery order.
    pub deliveries: Vec<Delivery>,
    /// From the first arrival to the last delivery.
    pub duration_ns: u64,
    /// CPUs that host at least one context.
    pub cpus_used: usize,
    /// Time the CPUs spent processing packets.
    pub work_ns: u64,
    /// Time the CPUs spent in polls that found nothing (spinning).
    pub spin_ns: u64,
    /// IPIs sent to schedule an idle context.
    pub wakeups: u64,
    /// Of `wakeups`, those sent ahead of a burst to a downstream stage with nothing queued yet
    /// ([`vigil_core::policy::LaneEntries::enter`]).
    pub wakeups_ahead: u64,
    /// Wake-ups that found the CPU in a deep C-state.
    pub deep_wakeups: u64,
    /// Polls that ended with the queue empty, so asked the policy.
    pub drains: u64,
    /// Polls that spun and found nothing.
    pub empty_polls: u64,
    /// Reschedules, by [`Reason::index`].
    pub reschedules: [u64; Reason::ALL.len()],
    /// Completions.
    pub completions: u64,
    /// Under the allocator, its intervals, in order (the last one ends before the last
    /// delivery).
    pub intervals: Vec<Interval>,
}

impl Outcome {
    /// All reschedules, whatever the reason.
    pub fn total_reschedules(&self) -> u64 {
        self.reschedules.iter().sum()
    }

    /// Reschedules for `reason`.
    pub fn reschedules_for(&self, reason: Reason) -> u64 {
        self.reschedules[reason.index()]
    }
}

#[derive(Debug, Clone, Copy)]
struct Packet {
    lane: usize,
    seq: u64,
    arrival_ns: u64,
}

/// One stage of one lane: a NAPI context.
struct Context {
    lane: usize,
    stage: usize,
    /// The CPU it is scheduled on, or was last.
    cpu: usize,
    /// The CPU it is bound to: `cpu`, unless the allocator moved it while it was scheduled. It
    /// moves at the end of its current poll.
    home: usize,
    queue: VecDeque<Packet>,
    /// On its CPU's poll list, being polled, or with an IPI on the way.
    scheduled: bool,
    handled: u64,
    last_work_ns: u64,
    /// Its self-sized window, as the module keeps it per stage and CPU.
    window: StageWindow,
    /// Woken ahead of a burst since its last poll.
    woken_ahead: bool,
    /// When it first polled after it was last woken ahead (0: never).
    woken_ahead_ns: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sleep {
    /// Never ran: any wake-up is from a deep C-state.
    Never,
    /// Asleep since then.
    Since(u64),
}

#[derive(Debug, Clone, Copy)]
enum Action {
    /// Processing a packet taken off the context's queue.
    Process(usize, Packet),
    /// Spinning in a poll of a context whose queue was empty.
    Spin(usize),
}

struct Cpu {
    poll_list: VecDeque<usize>,
    /// `None` while it runs or is leaving its C-state.
    asleep: Option<Sleep>,
    /// What it is doing, since when, and packets processed in this poll so far.
    current: Option<(Action, u64, u32)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Event {
    /// The next packet of the traffic arrives.
    Arrival,
    /// An IPI reaches a context's CPU.
    Ipi(usize),
    /// A CPU is out of its C-state.
    Woken(usize),
    /// A CPU finished its current action.
    Done(usize),
    /// The allocator's interval ends.
    Tick,
}

struct Sim<'a> {
    config: &'a Config,
    params: Params,
    arrivals: &'a [u64],
    next_arrival: usize,
    /// The simulated clock, from `EPOCH_NS`.
    now: u64,
    order: u64,
    events: BinaryHeap<Reverse<(u64, u64, Event)>>,
    contexts: Vec<Context>,
    cpus: Vec<Cpu>,
    entered: Vec<u64>,
    /// Per lane: its entries (the last one's time, the estimate of the gaps), as the module's
    /// ledger keeps them.
    lanes: Vec<LaneEntries>,
    allocating: Option<Allocating>,
    out: Outcome,
}

/// Runs `arrivals` (non-decreasing times in ns) through the pipeline of `config` under
/// `policy`, until every packet is delivered.
pub fn run(config: &Config, policy: Policy, arrivals: &[u64]) -> Result<Outcome, String> {
    config.validate()?;
    if arrivals.windows(2).any(|w| w[1] < w[0]) {
        return Err("arrival times must not go backwards".into());
    }
    let mut sim = Sim::new(config, policy, arrivals);
    sim.run();
    Ok(sim.out)
}

impl<'a> Sim<'a> {
    fn new(config: &'a Config, policy: Policy, arrivals: &'a [u64]) -> Self {
        let allocating = Allocating::new(config);
        let mut contexts = Vec::new();
        for stage in 0..config.stages {
            for lane in 0..config.lanes {
                let cpu = match &allocating {
                    Some(a) => a.home(lane, stage),
                    None => config.cpu(lane, stage),
                };
                contexts.push(Context {
                    lane,
                    stage,
                    cpu,
                    home: cpu,
                    queue: VecDeque::new(),
                    scheduled: false,
                    handled: 0,
                    last_work_ns: 0,
                    window: StageWindow::default(),
                    woken_ahead: false,
                    woken_ahead_ns: 0,
                });
            }
        }
        let cpus = (0..config.cpus)
            .map(|_| Cpu {
                poll_list: VecDeque::new(),
                asleep: Some(Sleep::Never),
                current: None,
            })
            .collect();
        Self {
            config,
            params: config.params(policy),
            arrivals,
            next_arrival: 0,
            now: 0,
            order: 0,
            events: BinaryHeap::new(),
            contexts,
            cpus,
            entered: vec![0; config.lanes],
            lanes: vec![LaneEntries::default(); config.lanes],
            allocating,
            out: Outcome {
                policy,
                arrived: 0,
                deliveries: Vec::with_capacity(arrivals.len()),
                duration_ns: 0,
                cpus_used: config.cpus_used(),
                work_ns: 0,
                spin_ns: 0,
                wakeups: 0,
                wakeups_ahead: 0,
                deep_wakeups: 0,
                drains: 0,
                empty_polls: 0,
                reschedules: [0; Reason::ALL.len()],
                completions: 0,
                intervals: Vec::new(),
            },
        }
    }

    fn at(&mut self, time: u64, event: Event) {
        self.order += 1;
        self.events.push(Reverse((time, self.order, event)));
    }

    fn context_of(&self, lane: usize, stage: usize) -> usize {
        stage * self.config.lanes + lane
    }

    fn run(&mut self) {
        let Some(&first) = self.arrivals.first() else {
            return;
        };
        self.at(EPOCH_NS + first, Event::Arrival);
        if let Some(a) = &self.allocating {
            self.at(EPOCH_NS + a.interval_ns(), Event::Tick);
        }
        while self.out.deliveries.len() < self.arrivals.len() {
            let Some(Reverse((time, _, event))) = self.events.pop() else {
                unreachable!("packets left in the pipeline with nothing to move them");
            };
            self.now = time;
            match event {
                Event::Arrival => self.arrive(),
                Event::Ipi(ctx) => self.ipi(ctx),
                Event::Woken(cpu) => {
                    self.cpus[cpu].asleep = None;
                    self.next_poll(cpu);
                }
                Event::Done(cpu) => self.done(cpu),
                Event::Tick => self.tick(),
            }
        }
        self.out.duration_ns = self.now - (EPOCH_NS + first);
        // Count what the CPUs were doing when the last packet left, up to that instant.
        for cpu in 0..self.cpus.len() {
            if let Some((action, start, _)) = self.cpus[cpu].current {
                self.account(action, self.now - start);
            }
        }
    }

    fn arrive(&mut self) {
        let n = self.next_arrival;
        self.next_arrival += 1;
        if let Some(&t) = self.arrivals.get(self.next_arrival) {
            self.at(EPOCH_NS + t, Event::Arrival);
        }
        let lane = n % self.config.lanes;
        // The module records the entry when it hands out the sequence number, and decides
        // then whether this packet starts a burst.
        let wakes_ahead = self.lanes[lane].enter(&self.params, self.now);
        self.entered[lane] += 1;
        self.out.arrived += 1;
        if let Some(a) = &mut self.allocating {
            a.add_arrival();
        }
        let packet = Packet {
            lane,
            seq: self.entered[lane],
            arrival_ns: self.now,
        };
        self.push(self.context_of(lane, 0), packet, None);
        if wakes_ahead {
            // As the hook's wake_downstream(): every later stage, from the hook, at once.
            for stage in 1..self.config.stages {
                let ctx = self.context_of(lane, stage);
                self.contexts[ctx].woken_ahead = true;
                if self.schedule(ctx, None) {
                    self.out.wakeups_ahead += 1;
                }
            }
        }
    }

    /// Queues `packet` for context `ctx`, scheduling it if idle; `from` is the producer's CPU
    /// (`None` for the netfilter hook).
    fn push(&mut self, ctx: usize, packet: Packet, from: Option<usize>) {
        self.contexts[ctx].queue.push_back(packet);
        self.schedule(ctx, from);
    }

    /// Schedules context `ctx` unless it already is; `from` as for `push`. Returns whether it
    /// took an IPI.
    fn schedule(&mut self, ctx: usize, from: Option<usize>) -> bool {
        let c = &mut self.contexts[ctx];
        if c.scheduled {
            return false;
        }
        c.scheduled = true;
        // Idle, it is free to move.
        c.cpu = c.home;
        let cpu = c.cpu;
        if from == Some(cpu) {
            // napi_schedule() on the CPU itself, which is running: no IPI.
            self.cpus[cpu].poll_list.push_back(ctx);
            false
        } else {
            self.out.wakeups += 1;
            self.at(self.now + self.config.costs.ipi_ns, Event::Ipi(ctx));
            true
        }
    }

    fn ipi(&mut self, ctx: usize) {
        let c = &mut self.contexts[ctx];
        c.cpu = c.home;
        let cpu = c.cpu;
        self.cpus[cpu].poll_list.push_back(ctx);
        let costs = &self.config.costs;
        let deep = match self.cpus[cpu].asleep {
            None => return,
            Some(Sleep::Never) => true,
            Some(Sleep::Since(t)) => self.now - t > costs.residency_ns,
        };
        let exit = if deep {
            self.out.deep_wakeups += 1;
            costs.deep_exit_ns
        } else {
            costs.shallow_exit_ns
        };
        // Waking: not asleep any more (a second IPI costs nothing), not running yet.
        self.cpus[cpu].asleep = None;
        self.at(self.now + exit, Event::Woken(cpu));
    }

    /// Starts the next poll on `cpu`, or puts it to sleep.
    fn next_poll(&mut self, cpu: usize) {
        match self.cpus[cpu].poll_list.pop_front() {
            Some(ctx) => self.poll(cpu, ctx, 0),
            None => self.cpus[cpu].asleep = Some(Sleep::Since(self.now)),
        }
    }

    /// Goes on polling `ctx`, which has processed `done` packets in this poll.
    fn poll(&mut self, cpu: usize, ctx: usize, done: u32) {
        let c = &mut self.contexts[ctx];
        // As the start of the module's poll function.
        c.window.polled(&self.params, self.now);
        if std::mem::take(&mut c.woken_ahead) {
            c.woken_ahead_ns = self.now;
        }
        let (action, cost) = match c.queue.pop_front() {
            Some(p) => {
                c.handled += 1;
                (Action::Process(ctx, p), self.config.service_ns[c.stage])
            }
            None => (Action::Spin(ctx), self.config.costs.poll_ns),
        };
        self.cpus[cpu].current = Some((action, self.now, done));
        self.at(self.now + cost, Event::Done(cpu));
    }

    fn account(&mut self, action: Action, ns: u64) {
        match action {
            Action::Process(ctx, _) => {
                self.out.work_ns += ns;
                if let Some(a) = &mut self.allocating {
                    a.add_busy(self.contexts[ctx].stage, ns);
                }
            }
            Action::Spin(_) => self.out.spin_ns += ns,
        }
    }

    fn done(&mut self, cpu: usize) {
        let Some((action, start, done)) = self.cpus[cpu].current.take() else {
            unreachable!("a CPU finished nothing");
        };
        self.account(action, self.now - start);
        match action {
            Action::Process(ctx, packet) => {
                self.forward(cpu, ctx, packet);
                let done = done + 1;
                if !self.config.stale_last_work {
                    self.contexts[ctx].last_work_ns = self.now;
                }
                if done == self.config.costs.budget {
                    // Budget spent: back to the tail, no decision (NAPI repolls).
                    self.requeue(cpu, ctx);
                    self.next_poll(cpu);
                } else if self.contexts[ctx].queue.is_empty() {
                    // The one place rust/pipeline.rs records it (`stale_last_work`).
                    self.contexts[ctx].last_work_ns = self.now;
                    self.drained(cpu, ctx);
                } else {
                    self.poll(cpu, ctx, done);
                }
            }
            Action::Spin(ctx) => {
                if self.contexts[ctx].queue.is_empty() {
                    self.out.empty_polls += 1;
                    self.drained(cpu, ctx);
                } else {
                    self.poll(cpu, ctx, 0);
                }
            }
        }
    }

    fn forward(&mut self, cpu: usize, ctx: usize, packet: Packet) {
        let (lane, stage) = (self.contexts[ctx].lane, self.contexts[ctx].stage);
        if stage + 1 == self.config.stages {
            self.out.deliveries.push(Delivery {
                lane: packet.lane,
                seq: packet.seq,
                arrival_ns: packet.arrival_ns - EPOCH_NS,
                delivered_ns: self.now - EPOCH_NS,
            });
        } else {
            self.push(self.context_of(lane, stage + 1), packet, Some(cpu));
        }
    }

    /// The context's queue is empty: the policy decides.
    fn drained(&mut self, cpu: usize, ctx: usize) {
        self.out.drains += 1;
        let c = &self.contexts[ctx];
        let upstream_backlog = match c.stage {
            0 => 0,
            k => self.contexts[self.context_of(c.lane, k - 1)].queue.len(),
        };
        let view = View {
            now_ns: self.now,
            last_work_ns: c.last_work_ns,
            head_entry_ns: self.lanes[c.lane].last_ns,
            mean_entry_gap_ns: self.lanes[c.lane].mean_gap_ns,
            woken_ahead_ns: c.woken_ahead_ns,
            window_ns: c.window.window_ns,
            in_flight: in_flight_toward(self.entered[c.lane], c.handled, 0),
            upstream_backlog: u32::try_from(upstream_backlog).unwrap_or(u32::MAX),
        };
        match decide(&self.params, &view) {
            Decision::Reschedule(reason) => {
                self.out.reschedules[reason.index()] += 1;
                self.requeue(cpu, ctx);
            }
            Decision::Complete => {
                self.out.completions += 1;
                self.contexts[ctx].scheduled = false;
                self.contexts[ctx].window.completed(&view);
            }
        }
        self.next_poll(cpu);
    }

    /// Puts `ctx`, which keeps polling, back at the tail of its CPU's poll list, or, if the
    /// allocator moved it, sends it to its new CPU with an IPI.
    fn requeue(&mut self, cpu: usize, ctx: usize) {
        if self.contexts[ctx].home == cpu {
            self.cpus[cpu].poll_list.push_back(ctx);
        } else {
            self.out.wakeups += 1;
            self.at(self.now + self.config.costs.ipi_ns, Event::Ipi(ctx));
        }
    }

    /// The allocator's interval ends: it decides, and the contexts of the stages it changed
    /// are bound to their new CPUs (those scheduled move at the end of their current poll).
    fn tick(&mut self) {
        let Some(a) = &mut self.allocating else {
            return;
        };
        let interval = a.end_interval(self.now - EPOCH_NS);
        for c in &mut self.contexts {
            c.home = a.home(c.lane, c.stage);
        }
        let next = self.now + a.interval_ns();
        self.at(next, Event::Tick);
        self.out.intervals.push(interval);
    }
}
