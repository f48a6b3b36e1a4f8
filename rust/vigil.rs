// SPDX-License-Identifier: GPL-2.0

//! vigil: a staged packet pipeline that keeps each pipeline CPU awake only when that pays.
//!
//! This is the module's crate root; see `Documentation/vigil.rst`.

mod netfilter;
pub mod parse;
mod skb;
mod stats;
mod sys;
mod sysfs;
#[cfg(CONFIG_KUNIT)]
mod tests;

use kernel::{prelude::*, sync::Arc};
use netfilter::{HookOptions, HookPoint, Registration, PRIORITY_LAST};
use stats::Stats;
use sysfs::{Attr, Dir, Parent, ShowBuf, MODE_RO};

module! {
    type: Vigil,
    name: "vigil",
    authors: ["vigil developers"],
    description: "Staged packet pipeline that lets each CPU idle only when that pays",
    license: "GPL",
}

/// The module's version, shown in `/sys/kernel/vigil/version`.
const VERSION: &str = "0.1.0";

fn show_version(_: &Stats, buf: &mut ShowBuf<'_>) -> Result {
    sysfs_emit!(buf, "{VERSION}\n")
}

static ROOT_ATTRS: [Attr<Stats>; 1] = [Attr {
    name: c"version",
    mode: MODE_RO,
    show: Some(show_version),
    store: None,
}];

/// The loaded module. Fields drop in declaration order: the hooks first, then the sysfs
/// directories, children before their parent.
#[pin_data]
struct Vigil {
    #[pin]
    hooks: Registration<Stats>,
    stats_dir: Dir<Stats>,
    root_dir: Dir<Stats>,
}

impl kernel::InPlaceModule for Vigil {
    fn init(_module: &'static ThisModule) -> impl PinInit<Self, Error> {
        pin_init::pin_init_scope(|| {
            let stats = Arc::new(Stats::new(), GFP_KERNEL)?;
            let root_dir = Dir::new(c"vigil", Parent::Kernel, &ROOT_ATTRS, stats.clone())?;
            let stats_dir = Dir::new(
                c"stats",
                root_dir.as_parent(),
                &stats::STATS_ATTRS,
                stats.clone(),
            )?;
            let opts = HookOptions {
                point: HookPoint::PreRouting,
                priority: PRIORITY_LAST,
            };
            Ok(try_pin_init!(Self {
                hooks <- Registration::register(stats, opts),
                stats_dir,
                root_dir,
            }))
        })
    }
}
