// SPDX-License-Identifier: GPL-2.0

//! vigil: a staged packet pipeline that keeps each pipeline CPU awake only when that pays.
//!
//! This is the module's crate root; see `Documentation/vigil.rst`. Three layers, by folder:
//! `rust/kernel/` wraps the kernel's C APIs (and holds every `unsafe` block), `rust/shared/` is pure
//! logic that the host crates build too, and the driver files here (control, pipeline, stats,
//! seen, netlink) are safe Rust on top of both.

/// The C-facing wrappers (`rust/kernel/`): every `unsafe` block of the module is there.
#[path = "kernel/mod.rs"]
mod kapi;
/// The pure logic (`rust/shared/`), also built by the host crate `tools/vigil-core`.
#[path = "shared/mod.rs"]
pub mod shared;

mod control;
mod netlink;
mod pipeline;
mod seen;
mod stats;

// Each layer's modules by their own names, as the files refer to them (`crate::netfilter`).
use kapi::{clock, genetlink, napi, netdevice, netfilter, skb, sys, sysfs};
pub use shared::{config, headers, histogram, parse, policy};

use control::{Control, StageDir};
use kernel::{prelude::*, sync::Arc};
use stats::Stats;
use sysfs::{Dir, Parent};

module! {
    type: Vigil,
    name: "vigil",
    authors: ["vigil developers"],
    description: "Staged packet pipeline that lets each CPU idle only when that pays",
    license: "GPL",
}

/// The module's version, shown in `/sys/kernel/vigil/version`.
pub(crate) const VERSION: &str = "0.2.0";

/// The loaded module. Fields drop in declaration order: the generic netlink family (so that no
/// request reads the counters as they go), the sysfs directories (children before their parent,
/// so that no write races the teardown), then the control, whose running pipeline stops and
/// drains.
#[pin_data]
struct Vigil {
    _netlink: genetlink::Registration,
    stage_dirs: KVec<Dir<StageDir>>,
    stats_dir: Dir<Control>,
    root_dir: Dir<Control>,
    _control: Arc<Control>,
}

impl kernel::InPlaceModule for Vigil {
    fn init(_module: &'static ThisModule) -> impl PinInit<Self, Error> {
        pin_init::pin_init_scope(|| {
            let nr_cpus = kernel::cpu::nr_cpu_ids();
            let stats = Arc::new(Stats::new(nr_cpus as usize)?, GFP_KERNEL)?;
            let control = Arc::pin_init(Control::new(stats.clone(), nr_cpus), GFP_KERNEL)?;
            let root_dir = Dir::new(
                c"vigil",
                Parent::Kernel,
                &control::ROOT_ATTRS,
                control.clone(),
            )?;
            let stats_dir = Dir::new(
                c"stats",
                root_dir.as_parent(),
                &control::STATS_ATTRS,
                control.clone(),
            )?;
            let mut stage_dirs = KVec::with_capacity(config::MAX_STAGES, GFP_KERNEL)?;
            for (index, name) in control::STAGE_NAMES.iter().enumerate() {
                let ctx = Arc::new(StageDir::new(control.clone(), index), GFP_KERNEL)?;
                let dir = Dir::new(name, root_dir.as_parent(), &control::STAGE_ATTRS, ctx)?;
                stage_dirs.push(dir, GFP_KERNEL)?;
            }
            // Last: nothing after it may fail (see `Registration::new`).
            let netlink = genetlink::Registration::new(control.clone())?;
            Ok(try_pin_init!(Self {
                _netlink: netlink,
                stage_dirs,
                stats_dir,
                root_dir,
                _control: control,
            }))
        })
    }
}
