// SPDX-License-Identifier: GPL-2.0

//! A discrete-event simulator of vigil's pipeline that runs the module's own decision code
//! (`rust/policy.rs`, through `vigil-core`), to compare the policies' latency, CPU time and
//! wake-ups on a given traffic without a kernel.
//!
//! # The model
//!
//! - **Topology.** `L` lanes of `S` stages (`S <= 8`) on `C` CPUs (`C <= 64`). Stage `k` of
//!   lane `i` is a NAPI context bound to CPU `(k * L + i) % C`, or to an explicit map. Packet
//!   `n` of the traffic goes to lane `n % L` (flows round-robin over lanes) and gets the lane's
//!   next sequence number as it enters stage 0's queue; the lane's *head entry* time becomes
//!   the clock's time then (0 before its first packet), as the module's ledger stamps it. Queues
//!   are FIFO and unbounded: nothing is dropped, so `retired_upstream` is always 0.
//! - **CPUs.** Each CPU runs the contexts on its poll list in turn, one poll at a time, and
//!   sleeps when the list is empty. A poll of a context processes its queued packets one by
//!   one, each taking the stage's fixed service time (default 1000 ns; per stage), forwarding
//!   it to the next stage's queue, or delivering it from the last stage, at the end of that
//!   time. A poll that starts on an empty queue spins for the poll interval (default 500 ns,
//!   counted as busy) and then looks again.
//! - **Decisions.** When a poll ends with the queue empty (a *drain*) the context calls
//!   [`vigil_core::policy::decide`] with a view built as `rust/pipeline.rs` builds it: `now`,
//!   when the stage last finished a packet, the lane's head entry time and estimate of its
//!   entry gaps, when the stage first polled after it was last woken ahead, its own window
//!   ([`vigil_core::policy::StageWindow`], sized at its first poll after each completion, as
//!   the module sizes it), [`vigil_core::policy::in_flight_toward`]
//!   of the lane's `entered` and the stage's `handled` counters (counted when a packet is taken
//!   off the queue), and the upstream stage's queue length. (`rust/pipeline.rs` records the
//!   last work only in polls that drain, not in polls that spend their whole budget;
//!   [`Config::stale_last_work`] reproduces that.) *Reschedule* puts it back at the tail of
//!   its CPU's poll list (it keeps polling); *complete* takes it off (it is idle).
//!   A poll that processes `budget` packets (default 64) goes back to the tail without a
//!   decision, as NAPI does; the kernel's softirq limits and ksoftirqd are not modelled.
//! - **Wake-ups.** A packet queued for an idle context schedules it. From another CPU (or from
//!   the netfilter hook, for stage 0) that is an IPI, counted as a wake-up, which puts the
//!   context on its CPU's poll list after the IPI latency (default 2000 ns). If that CPU is
//!   asleep it first leaves its C-state: 20000 ns if it slept longer than the residency
//!   threshold (50000 ns) or has never run, else 1000 ns. From the same CPU the context joins
//!   the poll list at once, without an IPI.
//! - **Wake-ahead.** Under `adaptive`, a packet that starts a burst (the lane's first, or one
//!   entering a lane whose head was quiet for the lane's burst gap or longer:
//!   [`vigil_core::policy::LaneEntries::enter`]) also schedules, from the hook right after queuing
//!   it, every later stage of its lane that is not scheduled: an IPI each, counted as a
//!   wake-up, with nothing queued. Their CPUs leave their C-states in parallel while the packet
//!   is still upstream; each such context's polls find its queue empty (they spin, as empty
//!   polls) and the policy keeps it polling on the look-ahead until the packet reaches it.
//! - **Clock.** The simulated monotonic clock reads [`model::EPOCH_NS`] (1 s) when the
//!   traffic starts, so that a stage's initial `last_work_ns` of 0, and a lane's head entry
//!   of 0 before its first packet, are long past, as in the kernel.
//! - **Traffic** ([`Profile`]): a steady rate, bursts, Poisson arrivals, a ramp from a low
//!   rate to a high one and back, a text trace (one timestamp in ns per line) or the
//!   timestamps of a classic pcap file.
//! - **The CPU allocator** ([`Config::allocation`], issue 11). The machine's CPUs are the pool.
//!   Each stage holds a set of CPUs, one at the start (the lowest nobody holds, in stage
//!   order; a pinned stage holds the CPUs given to it), and lane `i` of the stage runs on the
//!   `i mod n`-th of its `n` CPUs, as `stageN/cpus` places lanes; the number of lanes is fixed
//!   for the run. At the end of every interval the allocator runs
//!   [`vigil_core::allocator::Allocator::decide`] on each stage's processing time in the
//!   interval (not its spinning) and the CPUs it held, and applies the changes: a stage that
//!   grows takes the lowest free CPU, one that shrinks gives back the CPU it took last. A
//!   context whose CPU changed moves at once if idle, else at the end of its current poll,
//!   by an IPI to its new CPU (counted as a wake-up); its queue moves with it, so order holds.
//!   (The module would rebuild its pipeline instead, draining the old one: not modelled.)
//! - **Measures.** A run ends when the last packet is delivered. End-to-end latency is from
//!   arrival at stage 0 to the end of the last stage's service. CPU busy time is processing
//!   plus spinning; the busy fraction divides it by the number of CPUs that host a context
//!   times the run's duration (first arrival to last delivery). Waking up is not busy time.
//!
//! Everything is deterministic: events at the same instant run in the order they were
//! scheduled, and the Poisson profile uses a seeded xorshift generator.

pub mod allocation;
pub mod config;
pub mod layout;
pub mod model;
pub mod plot;
pub mod ramp;
pub mod report;
pub mod summary;
pub mod trace;
pub mod traffic;

pub use config::{Allocation, Config, Costs};
pub use model::{run, Delivery, Outcome};
pub use summary::Summary;
pub use traffic::Profile;
pub use vigil_core::policy::Policy;
