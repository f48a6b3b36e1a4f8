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
mod files;
mod netlink;
mod pipeline;
mod seen;
mod stats;

// Each layer's modules by their own names, as the files refer to them (`crate::netfilter`).
use kapi::{clock, genetlink, napi, netdevice, netfilter, skb, sys, sysfs, workqueue};
pub use shared::{abi, allocator, config, headers, histogram, ops, parse, pipelines, policy};

use control::Control;
use files::{PipelineDirs, PipelineRef};
use kernel::{prelude::*, sync::Arc};
use sysfs::Dir;

module! {
    type: Vigil,
    name: "vigil",
    authors: ["vigil developers"],
    description: "Staged packet pipeline that lets each CPU idle only when that pays",
    license: "GPL",
}

/// The module's version, shown in `/sys/kernel/vigil/version`.
pub(crate) const VERSION: &str = "0.2.0";

/// The loaded module. The generic netlink family goes first, so that no request reads the
/// counters as they go. Each sysfs directory removes its files when dropped and holds its
/// parent directory, which goes when its last child does, whatever the field order. The
/// pipelines' own directories hold the control: `teardown` removes them before the rest goes;
/// the control (declared last), whose running pipelines stop and drain, goes once no file can
/// reach it.
#[pin_data]
struct Vigil {
    _netlink: genetlink::Registration<Control>,
    #[pin]
    _allocator: workqueue::Ticker<Control>,
    _teardown: Teardown,
    _pipeline_dir: Dir<PipelineRef>,
    _root: PipelineDirs,
    _control: Arc<Control>,
}

/// Removes the pipelines' directories when the module goes.
struct Teardown(Arc<Control>);

impl Drop for Teardown {
    fn drop(&mut self) {
        if self.0.teardown().is_err() {
            pr_warn!("vigil: no memory to remove the pipelines' directories first\n");
        }
    }
}

impl kernel::InPlaceModule for Vigil {
    fn init(_module: &'static ThisModule) -> impl PinInit<Self, Error> {
        pin_init::pin_init_scope(|| {
            let nr_cpus = kernel::cpu::nr_cpu_ids();
            let control = Arc::pin_init(Control::new(nr_cpus)?, GFP_KERNEL)?;
            let root = PipelineDirs::root(&control)?;
            let ctx = Arc::new(
                PipelineRef::new(control.clone(), pipelines::Name::default_pipeline()),
                GFP_KERNEL,
            )?;
            let pipeline_dir = Dir::new(c"pipeline", &root.as_parent(), &[], ctx)?;
            control.set_pipeline_dir(pipeline_dir.as_parent());
            // Last: nothing after it may fail (see `Registration::new`).
            let netlink = genetlink::Registration::new(control.clone())?;
            Ok(try_pin_init!(Self {
                _netlink: netlink,
                _allocator <- workqueue::Ticker::new(control.clone(), control::allocation_period_ms()),
                _teardown: Teardown(control.clone()),
                _pipeline_dir: pipeline_dir,
                _root: root,
                _control: control,
            }))
        })
    }
}
