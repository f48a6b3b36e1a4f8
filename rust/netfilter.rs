// SPDX-License-Identifier: GPL-2.0

//! Netfilter hooks for IPv4 and IPv6, registered in every network namespace.
//!
//! C headers: `include/linux/netfilter.h`, `include/net/net_namespace.h`.

use crate::{config::HookPoint, skb::SkBuffRef, sys};
use core::ptr::NonNull;
use kernel::{
    error::to_result,
    ffi,
    prelude::*,
    sync::{
        atomic::{Acquire, Atomic, Relaxed, Release},
        Arc,
    },
    types::Opaque,
};

/// What a hook tells netfilter to do with a packet.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Let the packet continue.
    Accept,
    /// The hook took the packet: only [`HookPacket::steal`] makes this token.
    Stolen(StolenVerdict),
}

/// Proof that a packet was stolen, so that `NF_STOLEN` is never returned for one that was not.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct StolenVerdict(());

impl Verdict {
    fn as_raw(&self) -> ffi::c_uint {
        match self {
            Verdict::Accept => sys::NF_ACCEPT,
            Verdict::Stolen(_) => sys::NF_STOLEN,
        }
    }
}

/// A packet at a hook, with the hook's state.
pub(crate) struct HookPacket<'a> {
    skb: SkBuffRef<'a>,
    state: &'a sys::nf_hook_state,
}

impl<'a> HookPacket<'a> {
    /// The packet.
    pub(crate) fn skb(&self) -> &SkBuffRef<'a> {
        &self.skb
    }

    /// The address family (`NFPROTO_IPV4` or `NFPROTO_IPV6`).
    pub(crate) fn family(&self) -> u8 {
        self.state.pf
    }

    /// Takes the packet out of netfilter, holding the references `nf_queue` holds (devices,
    /// socket) and a forced `dst`, with `meta` beside it. Gives the packet back (to be accepted)
    /// if that is not possible: no memory, or a socket prefetched by early demux that cannot be
    /// held.
    pub(crate) fn steal<M: Copy>(self, meta: M) -> Result<(Stolen<M>, StolenVerdict), Self> {
        let skb = self.skb.as_ptr();
        // SAFETY: `skb` is valid for this hook call.
        if unsafe { sys::vigil_skb_sk_is_prefetched(skb) } {
            return Err(self);
        }
        let entry = sys::nf_queue_entry {
            skb,
            // SAFETY: `skb` is valid; `dev` is a plain field.
            skb_dev: unsafe {
                (*skb)
                    .__bindgen_anon_1
                    .__bindgen_anon_1
                    .__bindgen_anon_1
                    .dev
            },
            // SAFETY: `nf_hook_state` is plain data (integers and pointers); C copies it by value
            // in `__nf_queue` the same way, and the references it names are taken below.
            state: unsafe { core::ptr::read(self.state) },
            size: core::mem::size_of::<StolenRaw<M>>() as u16,
            ..pin_init::zeroed()
        };
        let Ok(boxed) = KBox::new(StolenRaw { entry, meta }, GFP_ATOMIC) else {
            return Err(self);
        };
        let raw = KBox::into_raw(boxed);
        // SAFETY: `skb` is valid; keeping its `dst` past this RCU section needs a reference.
        let dst_ok = unsafe { sys::vigil_skb_dst_force(skb) };
        // SAFETY: `raw` is a valid entry with the state copied from netfilter's.
        if !dst_ok || !unsafe { sys::nf_queue_entry_get_refs(&raw mut (*raw).entry) } {
            // SAFETY: `raw` came from `KBox::into_raw` above and holds no references.
            drop(unsafe { KBox::from_raw(raw) });
            return Err(self);
        }
        // INVARIANT: `raw` is a kmalloc'ed entry holding the packet and its references.
        Ok((
            Stolen {
                // SAFETY: `into_raw` never returns null.
                ptr: unsafe { NonNull::new_unchecked(raw) },
            },
            StolenVerdict(()),
        ))
    }
}

/// A stolen packet with what continuing it needs, laid out as `nf_queue` lays out its entries
/// so that `nf_queue_entry_free` releases it.
#[repr(C)]
struct StolenRaw<M> {
    entry: sys::nf_queue_entry,
    meta: M,
}

/// A packet taken out of netfilter by [`HookPacket::steal`]. Dropping it drops the packet;
/// [`Stolen::reinject`] continues it.
///
/// # Invariants
///
/// `ptr` is a kmalloc'ed `StolenRaw<M>` this value owns, whose entry holds the packet and the
/// references `nf_queue_entry_get_refs` took.
pub(crate) struct Stolen<M: Copy> {
    ptr: NonNull<StolenRaw<M>>,
}

// SAFETY: a stolen packet may be processed and freed on any CPU, as nf_queue's entries are.
unsafe impl<M: Copy + Send> Send for Stolen<M> {}

impl<M: Copy> Stolen<M> {
    /// What the stealer kept beside the packet.
    pub(crate) fn meta(&self) -> &M {
        // SAFETY: `ptr` is valid and ours (type invariant).
        unsafe { &(*self.ptr.as_ptr()).meta }
    }

    /// What the stealer keeps beside the packet, to change.
    pub(crate) fn meta_mut(&mut self) -> &mut M {
        // SAFETY: `ptr` is valid and ours (type invariant); `&mut self` makes this unique.
        unsafe { &mut (*self.ptr.as_ptr()).meta }
    }

    /// The packet.
    pub(crate) fn skb(&self) -> SkBuffRef<'_> {
        // SAFETY: the entry owns a valid packet while `self` lives (type invariant).
        unsafe { SkBuffRef::from_raw(NonNull::new_unchecked((*self.ptr.as_ptr()).entry.skb)) }
    }

    /// The address family (`NFPROTO_IPV4` or `NFPROTO_IPV6`) of the hook that saw it.
    pub(crate) fn family(&self) -> u8 {
        // SAFETY: `ptr` is valid (type invariant).
        unsafe { (*self.ptr.as_ptr()).entry.state.pf }
    }

    /// Continues the packet through the stack where the hook took it, as `nf_reinject` does for
    /// an accepted packet when no hook follows: `okfn` in an RCU read-side section (which the
    /// receive path's `rcu_dereference()`s need, as under `netif_receive_skb`) with bottom
    /// halves disabled, then the references are released.
    pub(crate) fn reinject(self) {
        let raw = core::mem::ManuallyDrop::new(self).ptr.as_ptr();
        let _rcu = kernel::sync::rcu::read_lock();
        // SAFETY: `raw` is ours (type invariant); `okfn` takes over the packet; the entry is
        // freed as `nf_reinject` frees it, after which nothing uses it.
        unsafe {
            let entry = &raw mut (*raw).entry;
            let state = &(*entry).state;
            if let Some(okfn) = state.okfn {
                sys::vigil_local_bh_disable();
                okfn(state.net, state.sk, (*entry).skb);
                sys::vigil_local_bh_enable();
            } else {
                sys::vigil_kfree_skb((*entry).skb);
            }
            sys::nf_queue_entry_free(entry);
        }
    }
}

impl<M: Copy> Drop for Stolen<M> {
    fn drop(&mut self) {
        // SAFETY: `ptr` is ours (type invariant): free the packet, release the references and
        // free the entry.
        unsafe {
            let entry = &raw mut (*self.ptr.as_ptr()).entry;
            sys::vigil_kfree_skb((*entry).skb);
            sys::nf_queue_entry_free(entry);
        }
    }
}

// The module-local bindings must lay these out as C does.
const _: () = {
    use core::mem::size_of;
    assert!(
        size_of::<sys::nf_queue_entry>() == sys::vigil_sizes_VIGIL_NF_QUEUE_ENTRY_SIZE as usize
    );
    assert!(size_of::<sys::nf_hook_ops>() == sys::vigil_sizes_VIGIL_NF_HOOK_OPS_SIZE as usize);
    assert!(size_of::<sys::nf_hook_state>() == sys::vigil_sizes_VIGIL_NF_HOOK_STATE_SIZE as usize);
};

/// Runs last among the hooks of a point, so that no later hook is skipped when vigil steals a
/// packet.
pub(crate) const PRIORITY_LAST: i32 = i32::MAX;

fn hook_point_raw(point: HookPoint) -> ffi::c_uint {
    match point {
        HookPoint::PreRouting => sys::nf_inet_hooks_NF_INET_PRE_ROUTING,
        HookPoint::LocalIn => sys::nf_inet_hooks_NF_INET_LOCAL_IN,
    }
}

/// Where the pernet callbacks of one kind of hook find its `nf_hook_ops`: they receive only the
/// namespace.
///
/// # Invariants
///
/// Non-null exactly while a [`Registration`] of its hook type is registered with pernet; it
/// then points to that registration's pinned ops.
pub(crate) struct HookSlot(Atomic<*mut sys::nf_hook_ops>);

impl HookSlot {
    /// An empty slot, for a `static`.
    pub(crate) const fn new() -> Self {
        Self(Atomic::new(core::ptr::null_mut()))
    }
}

/// A packet handler called by netfilter in softirq (or process) context.
pub(crate) trait Hook: Send + Sync + 'static {
    /// The slot of this hook type: one registration per type at a time.
    fn slot() -> &'static HookSlot;

    /// Decides what becomes of a packet.
    fn hook(&self, pkt: HookPacket<'_>) -> Verdict;
}

/// IPv4 and IPv6: one `nf_hook_ops` each.
const NR_OPS: usize = 2;

/// Registers the active hooks in a namespace that is being created (or that existed when the
/// registration was made).
///
/// # Safety
///
/// Called by pernet with a valid `net`, only between `register_pernet_subsys` and the end of
/// `unregister_pernet_subsys`.
unsafe extern "C" fn pernet_init<T: Hook>(net: *mut sys::net) -> ffi::c_int {
    let ops = T::slot().0.load(Acquire);
    // SAFETY: pernet callbacks run only while the registration is live (function safety
    // requirement), so `ops` points to its `NR_OPS` initialised hooks (`HookSlot` invariant).
    unsafe { sys::nf_register_net_hooks(net, ops, NR_OPS as ffi::c_uint) }
}

/// Removes the active hooks from a namespace that is going away, or from every namespace when
/// the registration is dropped.
///
/// # Safety
///
/// As for [`pernet_init`], and `pernet_init` succeeded for `net`.
unsafe extern "C" fn pernet_exit<T: Hook>(net: *mut sys::net) {
    let ops = T::slot().0.load(Acquire);
    // SAFETY: the hooks were registered in `net` by `pernet_init` with the same array, which is
    // still valid (function safety requirement and `HookSlot` invariant).
    unsafe { sys::nf_unregister_net_hooks(net, ops, NR_OPS as ffi::c_uint) }
}

/// Calls `T::hook` for a packet.
///
/// # Safety
///
/// `ctx` is the pointer a [`Registration<T>`] put in its ops (an `Arc<T>` it holds), and `skb`
/// is a valid buffer netfilter lends for this call.
unsafe extern "C" fn hook_trampoline<T: Hook>(
    ctx: *mut ffi::c_void,
    skb: *mut sys::sk_buff,
    state: *const sys::nf_hook_state,
) -> ffi::c_uint {
    // SAFETY: `ctx` is an `Arc<T>` that the registration keeps alive until the hooks are gone.
    let ctx = unsafe { &*ctx.cast::<T>() };
    let (Some(skb), false) = (NonNull::new(skb), state.is_null()) else {
        return sys::NF_ACCEPT;
    };
    let pkt = HookPacket {
        // SAFETY: netfilter lends `skb` for the duration of this call.
        skb: unsafe { SkBuffRef::from_raw(skb) },
        // SAFETY: as above, for `state`.
        state: unsafe { &*state },
    };
    ctx.hook(pkt).as_raw()
}

/// Where the hooks attach.
#[derive(Debug, Clone, Copy)]
pub(crate) struct HookOptions {
    /// The hook point, for both families.
    pub(crate) point: HookPoint,
    /// The priority, for both families.
    pub(crate) priority: i32,
}

/// The C structures of a registration, kept together so that one `Opaque` pins them.
#[repr(C)]
struct RawHooks {
    ops: [sys::nf_hook_ops; NR_OPS],
    pernet: sys::pernet_operations,
}

/// IPv4 and IPv6 hooks calling `T::hook`, present in every network namespace, now and future,
/// until this is dropped.
///
/// # Invariants
///
/// `raw` holds hooks registered with pernet (and so in every namespace), and `T::slot()`
/// points to `raw.ops`.
#[pin_data(PinnedDrop)]
pub(crate) struct Registration<T: Hook> {
    #[pin]
    raw: Opaque<RawHooks>,
    ctx: Arc<T>,
}

// SAFETY: registration and deregistration may happen on different threads; the C side keeps
// its own locking, and `T: Send + Sync`.
unsafe impl<T: Hook> Send for Registration<T> {}
// SAFETY: `&self` methods do not touch the C structures.
unsafe impl<T: Hook> Sync for Registration<T> {}

impl<T: Hook> Registration<T> {
    /// Registers hooks calling `ctx.hook()`. Only one registration of a hook type may exist at
    /// a time (`EBUSY` otherwise).
    pub(crate) fn register(ctx: Arc<T>, opts: HookOptions) -> impl PinInit<Self, Error> {
        let ctx_ptr = Arc::as_ptr(&ctx).cast_mut().cast::<ffi::c_void>();
        try_pin_init!(Self {
            raw <- Opaque::try_ffi_init(move |slot: *mut RawHooks| {
                let hook = |pf: u32| sys::nf_hook_ops {
                    hook: Some(hook_trampoline::<T>),
                    priv_: ctx_ptr,
                    pf: pf as u8,
                    hooknum: hook_point_raw(opts.point),
                    priority: opts.priority,
                    ..pin_init::zeroed()
                };
                let pernet = sys::pernet_operations {
                    init: Some(pernet_init::<T>),
                    exit: Some(pernet_exit::<T>),
                    ..pin_init::zeroed()
                };
                // SAFETY: the initializer may write to `slot`.
                unsafe {
                    slot.write(RawHooks {
                        ops: [hook(sys::NFPROTO_IPV4), hook(sys::NFPROTO_IPV6)],
                        pernet,
                    })
                };
                // SAFETY: `slot` is valid and initialised just above.
                let ops = unsafe { (&raw mut (*slot).ops).cast::<sys::nf_hook_ops>() };
                if T::slot()
                    .0
                    .cmpxchg(core::ptr::null_mut(), ops, Release)
                    .is_err()
                {
                    return Err(EBUSY);
                }
                // SAFETY: `slot` is pinned and stays valid until `PinnedDrop` unregisters it;
                // `T::slot()` points to its ops, as the callbacks need.
                // INVARIANT: on success the hooks are registered in every namespace.
                let ret = to_result(unsafe {
                    sys::register_pernet_subsys(&raw mut (*slot).pernet)
                });
                if ret.is_err() {
                    T::slot().0.store(core::ptr::null_mut(), Relaxed);
                }
                ret
            }),
            ctx,
        })
    }
}

impl<T: Hook> Registration<T> {
    /// The context the hooks call.
    #[cfg(CONFIG_KUNIT)]
    pub(crate) fn context(&self) -> &T {
        &self.ctx
    }
}

#[pinned_drop]
impl<T: Hook> PinnedDrop for Registration<T> {
    fn drop(self: Pin<&mut Self>) {
        // SAFETY: the pernet operations are registered (type invariant). This calls
        // `pernet_exit` in every namespace, which unregisters the hooks and waits for running
        // hook calls to finish (`synchronize_net`), so `ctx` is unused afterwards.
        unsafe { sys::unregister_pernet_subsys(&raw mut (*self.raw.get()).pernet) };
        T::slot().0.store(core::ptr::null_mut(), Release);
    }
}

/// The continuation netfilter hands a hook (`okfn`).
#[cfg(CONFIG_KUNIT)]
pub(crate) type OkFn =
    unsafe extern "C" fn(*mut sys::net, *mut sys::sock, *mut sys::sk_buff) -> ffi::c_int;

/// Runs `T::hook` on `skb` as netfilter would at prerouting of family `pf`, with `okfn` as the
/// continuation, through the registered entry point. Returns the raw verdict.
#[cfg(CONFIG_KUNIT)]
pub(crate) fn call_hook_for_test<T: Hook>(
    ctx: &T,
    skb: &SkBuffRef<'_>,
    pf: u8,
    okfn: Option<OkFn>,
) -> ffi::c_uint {
    let state = sys::nf_hook_state {
        hook: sys::nf_inet_hooks_NF_INET_PRE_ROUTING as u8,
        pf,
        okfn,
        ..pin_init::zeroed()
    };
    // SAFETY: `ctx` is a valid `T` and `skb` a valid buffer, both borrowed for this call.
    unsafe {
        hook_trampoline::<T>(
            core::ptr::from_ref(ctx).cast_mut().cast(),
            skb.as_ptr(),
            &state,
        )
    }
}
