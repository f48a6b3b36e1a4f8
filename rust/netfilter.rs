// SPDX-License-Identifier: GPL-2.0

//! Netfilter hooks for IPv4 and IPv6, registered in every network namespace.
//!
//! C headers: `include/linux/netfilter.h`, `include/net/net_namespace.h`.

use crate::{skb::SkBuffRef, sys};
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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Let the packet continue.
    Accept,
}

impl Verdict {
    fn as_raw(self) -> ffi::c_uint {
        match self {
            Verdict::Accept => sys::NF_ACCEPT,
        }
    }
}

/// Where in the stack the hooks run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HookPoint {
    /// Before the routing decision (`NF_INET_PRE_ROUTING`).
    PreRouting,
}

impl HookPoint {
    fn as_raw(self) -> ffi::c_uint {
        match self {
            HookPoint::PreRouting => sys::nf_inet_hooks_NF_INET_PRE_ROUTING,
        }
    }
}

/// Runs last among the hooks of a point, so that no later hook is skipped when vigil steals a
/// packet.
pub(crate) const PRIORITY_LAST: i32 = i32::MAX;

/// A packet handler called by netfilter in softirq (or process) context.
pub(crate) trait Hook: Send + Sync + 'static {
    /// Decides what becomes of `skb`.
    fn hook(&self, skb: &SkBuffRef<'_>) -> Verdict;
}

/// IPv4 and IPv6: one `nf_hook_ops` each.
const NR_OPS: usize = 2;

/// The hook array that the pernet callbacks register in each namespace. The pernet `init` and
/// `exit` callbacks receive only the namespace, so they find the array here.
///
/// # Invariants
///
/// Non-null exactly while a [`Registration`] is registered with pernet; it then points to that
/// registration's pinned `ops`.
static ACTIVE_OPS: Atomic<*mut sys::nf_hook_ops> = Atomic::new(core::ptr::null_mut());

/// Registers the active hooks in a namespace that is being created (or that existed when the
/// registration was made).
///
/// # Safety
///
/// Called by pernet with a valid `net`, only between `register_pernet_subsys` and the end of
/// `unregister_pernet_subsys`.
unsafe extern "C" fn pernet_init(net: *mut sys::net) -> ffi::c_int {
    let ops = ACTIVE_OPS.load(Acquire);
    // SAFETY: pernet callbacks run only while the registration is live (function safety
    // requirement), so `ops` points to its `NR_OPS` initialised hooks (`ACTIVE_OPS` invariant).
    unsafe { sys::nf_register_net_hooks(net, ops, NR_OPS as ffi::c_uint) }
}

/// Removes the active hooks from a namespace that is going away, or from every namespace when
/// the registration is dropped.
///
/// # Safety
///
/// As for [`pernet_init`], and `pernet_init` succeeded for `net`.
unsafe extern "C" fn pernet_exit(net: *mut sys::net) {
    let ops = ACTIVE_OPS.load(Acquire);
    // SAFETY: the hooks were registered in `net` by `pernet_init` with the same array, which is
    // still valid (function safety requirement and `ACTIVE_OPS` invariant).
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
    _state: *const sys::nf_hook_state,
) -> ffi::c_uint {
    // SAFETY: `ctx` is an `Arc<T>` that the registration keeps alive until the hooks are gone.
    let ctx = unsafe { &*ctx.cast::<T>() };
    let Some(skb) = NonNull::new(skb) else {
        return sys::NF_ACCEPT;
    };
    // SAFETY: netfilter lends `skb` for the duration of this call.
    let skb = unsafe { SkBuffRef::from_raw(skb) };
    ctx.hook(&skb).as_raw()
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
/// `raw` holds hooks registered with pernet (and so in every namespace), and `ACTIVE_OPS`
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
    /// Registers hooks calling `ctx.hook()`. Only one registration may exist at a time
    /// (`EBUSY` otherwise).
    pub(crate) fn register(ctx: Arc<T>, opts: HookOptions) -> impl PinInit<Self, Error> {
        let ctx_ptr = Arc::as_ptr(&ctx).cast_mut().cast::<ffi::c_void>();
        try_pin_init!(Self {
            raw <- Opaque::try_ffi_init(move |slot: *mut RawHooks| {
                let hook = |pf: u32| sys::nf_hook_ops {
                    hook: Some(hook_trampoline::<T>),
                    priv_: ctx_ptr,
                    pf: pf as u8,
                    hooknum: opts.point.as_raw(),
                    priority: opts.priority,
                    ..pin_init::zeroed()
                };
                let pernet = sys::pernet_operations {
                    init: Some(pernet_init),
                    exit: Some(pernet_exit),
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
                if ACTIVE_OPS
                    .cmpxchg(core::ptr::null_mut(), ops, Release)
                    .is_err()
                {
                    return Err(EBUSY);
                }
                // SAFETY: `slot` is pinned and stays valid until `PinnedDrop` unregisters it;
                // `ACTIVE_OPS` points to its ops, as the callbacks need.
                // INVARIANT: on success the hooks are registered in every namespace.
                let ret = to_result(unsafe {
                    sys::register_pernet_subsys(&raw mut (*slot).pernet)
                });
                if ret.is_err() {
                    ACTIVE_OPS.store(core::ptr::null_mut(), Relaxed);
                }
                ret
            }),
            ctx,
        })
    }
}

#[pinned_drop]
impl<T: Hook> PinnedDrop for Registration<T> {
    fn drop(self: Pin<&mut Self>) {
        // SAFETY: the pernet operations are registered (type invariant). This calls
        // `pernet_exit` in every namespace, which unregisters the hooks and waits for running
        // hook calls to finish (`synchronize_net`), so `ctx` is unused afterwards.
        unsafe { sys::unregister_pernet_subsys(&raw mut (*self.raw.get()).pernet) };
        ACTIVE_OPS.store(core::ptr::null_mut(), Release);
    }
}

/// Runs `T::hook` on `skb` as netfilter would, through the registered entry point.
#[cfg(CONFIG_KUNIT)]
pub(crate) fn call_hook_for_test<T: Hook>(ctx: &T, skb: &SkBuffRef<'_>) -> ffi::c_uint {
    let state: sys::nf_hook_state = pin_init::zeroed();
    // SAFETY: `ctx` is a valid `T` and `skb` a valid buffer, both borrowed for this call.
    unsafe {
        hook_trampoline::<T>(
            core::ptr::from_ref(ctx).cast_mut().cast(),
            skb.as_ptr(),
            &state,
        )
    }
}
