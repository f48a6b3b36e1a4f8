// SPDX-License-Identifier: GPL-2.0

//! Packet counters and their sysfs files.

use crate::{
    netfilter::{Hook, Verdict},
    parse,
    skb::SkBuffRef,
    sysfs::{Attr, ShowBuf, MODE_RO, MODE_WO},
};
use kernel::{
    prelude::*,
    sync::atomic::{Atomic, Relaxed},
};

/// What vigil has counted.
pub(crate) struct Stats {
    /// Packets the hooks saw, IPv4 and IPv6, in every namespace.
    seen: Atomic<u64>,
}

impl Stats {
    /// All counters at zero.
    pub(crate) fn new() -> Self {
        Self {
            seen: Atomic::new(0),
        }
    }

    /// Packets seen so far.
    pub(crate) fn seen(&self) -> u64 {
        self.seen.load(Relaxed)
    }

    fn reset(&self) {
        self.seen.store(0, Relaxed);
    }
}

impl Hook for Stats {
    fn hook(&self, _skb: &SkBuffRef<'_>) -> Verdict {
        self.seen.add(1, Relaxed);
        Verdict::Accept
    }
}

fn show_seen(stats: &Stats, buf: &mut ShowBuf<'_>) -> Result {
    crate::sysfs_emit!(buf, "{}\n", stats.seen())
}

fn store_reset(stats: &Stats, input: &[u8]) -> Result {
    match parse::parse_bool(input) {
        Ok(true) => {
            stats.reset();
            Ok(())
        }
        Ok(false) | Err(parse::ParseError::Invalid) => Err(EINVAL),
        Err(parse::ParseError::OutOfRange) => Err(ERANGE),
    }
}

/// The files of `/sys/kernel/vigil/stats/`.
pub(crate) static STATS_ATTRS: [Attr<Stats>; 2] = [
    Attr {
        name: c"seen",
        mode: MODE_RO,
        show: Some(show_seen),
        store: None,
    },
    Attr {
        name: c"reset",
        mode: MODE_WO,
        show: None,
        store: Some(store_reset),
    },
];
