// SPDX-License-Identifier: GPL-2.0

//! The counting hook: sees every IPv4 and IPv6 packet at prerouting, in every namespace, just
//! before the pipeline's own hook, while the pipeline runs (it costs every packet a call, so it
//! is registered only then).

use crate::{
    netfilter::{
        Hook, HookOptions, HookPacket, HookSlot, InetHook, Registration, Verdict, PRIORITY_LAST,
    },
    stats::Stats,
};
use kernel::{prelude::*, sync::Arc};

/// Counts packets into [`Stats::seen`], per CPU.
pub(crate) struct SeenCounter(pub(crate) Arc<Stats>);

static SEEN_SLOT: HookSlot = HookSlot::new();

// SAFETY: it never steals a packet.
unsafe impl Hook for SeenCounter {
    fn slot() -> &'static HookSlot {
        &SEEN_SLOT
    }

    fn hook(&self, _pkt: HookPacket<'_>) -> Verdict {
        self.0.seen.inc();
        Verdict::Accept
    }
}

/// Registers the counting hook for `stats`.
pub(crate) fn register(stats: Arc<Stats>) -> Result<Pin<KBox<Registration<SeenCounter>>>> {
    let opts = HookOptions {
        point: InetHook::PreRouting,
        // Just before the pipeline's own hook, so that it sees what the pipeline steals.
        priority: PRIORITY_LAST - 1,
    };
    let counter = Arc::new(SeenCounter(stats), GFP_KERNEL)?;
    KBox::pin_init(Registration::register(counter, opts), GFP_KERNEL)
}

#[kunit_tests(vigil_seen)]
mod tests {
    use super::*;
    use crate::{
        seen,
        skb::{free_okfn, SkBuff},
        stats::Stats,
        sys,
    };
    use kernel::sync::Arc;

    #[test]
    fn seen_counter_counts_and_accepts_every_packet() -> Result {
        let stats = Arc::new(Stats::new(2)?, GFP_KERNEL)?;
        let hook = seen::register(stats.clone())?;
        let mut verdicts = [0; 5];
        let mut counts = [0; 5];
        for n in 0..5 {
            let skb = SkBuff::alloc(64, sys::GFP_KERNEL)?;
            verdicts[n] = hook.call_for_test(&skb.as_ref(), sys::NFPROTO_IPV4 as u8, free_okfn);
            counts[n] = stats.seen();
        }
        drop(hook);
        assert_eq!(verdicts, [sys::NF_ACCEPT; 5]);
        assert_eq!(counts, [1, 2, 3, 4, 5]);
        Ok(())
    }
}
