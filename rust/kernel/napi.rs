// SPDX-License-Identifier: GPL-2.0

//! NAPI contexts bound to a CPU, on a dummy netdev: thin safe wrappers.
//!
//! C headers: `include/linux/netdevice.h`, `include/linux/smp.h`.

use crate::sys;
use core::ptr::NonNull;
use kernel::{
    ffi,
    prelude::*,
    sync::atomic::{Atomic, Relaxed},
    types::Opaque,
};

/// A dummy netdev that hosts vigil's NAPI contexts (as `alloc_netdev_dummy` users do).
///
/// # Invariants
///
/// `dev` is a device from `alloc_netdev_dummy` that this value owns.
pub(crate) struct NapiDevice {
    dev: NonNull<sys::net_device>,
}

// SAFETY: the device is only handed to NAPI functions, which lock it themselves.
unsafe impl Send for NapiDevice {}
// SAFETY: as above.
unsafe impl Sync for NapiDevice {}

impl NapiDevice {
    /// Allocates the device.
    pub(crate) fn new() -> Result<Self> {
        // SAFETY: plain allocation, no private area.
        let dev = unsafe { sys::alloc_netdev_dummy(0) };
        // INVARIANT: a non-null result is ours.
        NonNull::new(dev).map(|dev| Self { dev }).ok_or(ENOMEM)
    }
}

impl Drop for NapiDevice {
    fn drop(&mut self) {
        // SAFETY: we own the device (type invariant); every `Napi` on it was deleted first,
        // since each holds a borrow of this value.
        unsafe { sys::free_netdev(self.dev.as_ptr()) };
    }
}

/// Room for a `struct napi_struct`, which `kernel::bindings` only declares.
#[repr(C, align(64))]
struct NapiStorage([u8; sys::vigil_sizes_VIGIL_NAPI_STRUCT_SIZE as usize]);

const _: () = assert!(sys::vigil_sizes_VIGIL_NAPI_STRUCT_ALIGN as usize <= 64);

/// What a NAPI context runs.
pub(crate) trait NapiHandler: Send + Sync + 'static {
    /// Polls for at most `budget` packets. Returns the packets done and whether the context
    /// stays scheduled: `true` when the budget was used up or the handler chooses to keep
    /// polling; `false` completes it (`napi_complete_done`).
    fn poll(&self, budget: i32) -> (i32, bool);

    /// Counts a wake-up IPI received on the context's CPU.
    fn woken(&self);
}

/// How [`Napi::schedule`] got the context running.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kick {
    /// It was scheduled or polling already: it will see the new work.
    Already,
    /// Scheduled on this CPU, which is its own.
    Local,
    /// An IPI was sent to its CPU.
    Ipi,
}

/// A NAPI context on one CPU, polling with `T`.
///
/// # Invariants
///
/// `napi` was added to a live [`NapiDevice`] with [`poll_trampoline::<T>`] and enabled; `csd`
/// is initialised with [`ipi_trampoline::<T>`] and points back to this value. `raw` is the
/// first field, so a `*mut napi_struct` from NAPI is a pointer to this `Napi<T>`.
#[repr(C)]
#[pin_data(PinnedDrop)]
pub(crate) struct Napi<T: NapiHandler> {
    #[pin]
    raw: Opaque<NapiStorage>,
    #[pin]
    csd: Opaque<sys::call_single_data_t>,
    cpu: u32,
    disabled: Atomic<bool>,
    deleted: Atomic<bool>,
    #[pin]
    handler: T,
}

// SAFETY: the C side synchronises NAPI state itself; `T: Send + Sync`.
unsafe impl<T: NapiHandler> Send for Napi<T> {}
// SAFETY: `schedule` is safe from any CPU (`napi_schedule_prep` is atomic).
unsafe impl<T: NapiHandler> Sync for Napi<T> {}

/// # Safety
///
/// Called by NAPI for a context of a live `Napi<T>`.
unsafe extern "C" fn poll_trampoline<T: NapiHandler>(
    napi: *mut sys::napi_struct,
    budget: ffi::c_int,
) -> ffi::c_int {
    // SAFETY: `napi` is the first field of a live `Napi<T>` (type invariant).
    let this = unsafe { &*napi.cast::<Napi<T>>() };
    let (done, stay) = this.handler.poll(budget);
    if stay {
        // Returning the whole budget keeps the context on the poll list.
        return budget;
    }
    let done = done.min(budget - 1).max(0);
    // SAFETY: we are its poll function, so the context is scheduled and ours to complete.
    unsafe { sys::napi_complete_done(napi, done) };
    done
}

/// # Safety
///
/// Called in hard interrupt context on the target CPU with the `info` of a live `Napi<T>`.
unsafe extern "C" fn ipi_trampoline<T: NapiHandler>(info: *mut ffi::c_void) {
    // SAFETY: `info` was set to the `Napi<T>` in `new` and it outlives every IPI (`drop`
    // disables the context first, which waits for a scheduled one to run).
    let this = unsafe { &*info.cast::<Napi<T>>() };
    this.handler.woken();
    // SAFETY: `schedule` won `napi_schedule_prep` before sending the IPI, so the context is
    // ours to put on this CPU's poll list.
    unsafe { sys::__napi_schedule(this.napi_ptr()) };
}

impl<T: NapiHandler> Napi<T> {
    /// A context on `dev`, polled on `cpu` by `handler`, enabled.
    pub(crate) fn new<'a>(
        dev: &'a NapiDevice,
        cpu: u32,
        handler: impl PinInit<T, Error> + 'a,
    ) -> impl PinInit<Self, Error> + 'a {
        try_pin_init!(&this in Self {
            raw <- Opaque::ffi_init(move |slot: *mut NapiStorage| {
                // SAFETY: `slot` is pinned memory of the size and alignment of a `napi_struct`;
                // zeroed is its initial state; `dev` is live and outlives the context
                // (borrowed by the caller, and `drop` deletes the context).
                unsafe {
                    slot.write(NapiStorage([0; sys::vigil_sizes_VIGIL_NAPI_STRUCT_SIZE as usize]));
                    let napi = slot.cast::<sys::napi_struct>();
                    sys::vigil_napi_add(dev.dev.as_ptr(), napi, Some(poll_trampoline::<T>));
                    sys::napi_enable(napi);
                }
            }),
            csd <- Opaque::ffi_init(move |slot: *mut sys::call_single_data_t| {
                // SAFETY: `slot` is pinned memory for a csd; `this` is where the `Napi<T>` is
                // being built, and the IPI handler only runs after it is fully initialised.
                unsafe {
                    sys::vigil_init_csd(
                        slot,
                        Some(ipi_trampoline::<T>),
                        this.as_ptr().cast(),
                    )
                };
            }),
            cpu,
            disabled: Atomic::new(false),
            deleted: Atomic::new(false),
            handler <- handler,
        }? Error)
    }

    fn napi_ptr(&self) -> *mut sys::napi_struct {
        self.raw.get().cast()
    }

    /// The handler.
    pub(crate) fn handler(&self) -> &T {
        &self.handler
    }

    /// Makes sure the context will poll soon on its CPU, sending an IPI only when it is neither
    /// scheduled nor polling. Call with bottom halves disabled (softirq context or under
    /// `local_bh_disable`).
    pub(crate) fn schedule(&self) -> Kick {
        let raw = self.napi_ptr();
        // SAFETY: the context is live and enabled (type invariant).
        if !unsafe { sys::napi_schedule_prep(raw) } {
            return Kick::Already;
        }
        // SAFETY: reading the CPU id; the caller keeps us on this CPU (BH disabled).
        let here = unsafe { sys::vigil_smp_processor_id() };
        if here == self.cpu {
            // SAFETY: we won `napi_schedule_prep`, so the context is ours to schedule.
            unsafe { sys::__napi_schedule(raw) };
            return Kick::Local;
        }
        // SAFETY: the csd is initialised and idle: it is only used after winning
        // `napi_schedule_prep`, and the previous IPI unlocked it before its handler ran.
        let ret = unsafe { sys::smp_call_function_single_async(self.cpu as i32, self.csd.get()) };
        if ret != 0 {
            // The CPU went offline: poll here rather than never.
            // SAFETY: as above, the context is ours to schedule.
            unsafe { sys::__napi_schedule(raw) };
            return Kick::Local;
        }
        Kick::Ipi
    }
}

impl<T: NapiHandler> Napi<T> {
    /// Stops polling: waits for a scheduled or running poll to finish, and keeps the context
    /// from being scheduled again. Sleeps.
    pub(crate) fn disable(&self) {
        if !self.disabled.xchg(true, Relaxed) {
            // SAFETY: the context was added and enabled (type invariant) and is disabled once.
            // `napi_disable` waits for a scheduled or running poll, and so for an IPI in flight.
            unsafe { sys::napi_disable(self.napi_ptr()) };
        }
    }
}

/// Deletes disabled contexts with one RCU grace period for all of them, rather than one
/// each as dropping them would: stopping a pipeline deletes many.
pub(crate) fn delete_all<'a, T: NapiHandler>(napis: impl Iterator<Item = &'a Napi<T>>) {
    for napi in napis {
        napi.disable();
        if !napi.deleted.xchg(true, Relaxed) {
            // SAFETY: the context was added (type invariant), is disabled and deleted once.
            unsafe { sys::vigil_napi_del_nosync(napi.napi_ptr()) };
        }
    }
    // SAFETY: plain call, in process context (`disable` above slept already).
    unsafe { sys::vigil_synchronize_net() };
}

#[pinned_drop]
impl<T: NapiHandler> PinnedDrop for Napi<T> {
    fn drop(self: Pin<&mut Self>) {
        if self.deleted.load(Relaxed) {
            // `delete_all` removed it and waited for RCU readers.
            return;
        }
        self.disable();
        // SAFETY: the context was added (type invariant) and is disabled; `vigil_napi_del`
        // removes it and waits an RCU grace period (`netif_napi_del`).
        unsafe { sys::vigil_napi_del(self.napi_ptr()) };
    }
}

/// The CPU the caller runs on, or ran on a moment ago if it may migrate: for per-CPU counters
/// that are updated atomically anyway.
pub(crate) fn current_cpu() -> usize {
    // SAFETY: reads the CPU id; any context.
    unsafe { sys::vigil_raw_smp_processor_id() as usize }
}

/// Bottom halves disabled on this CPU while it lives (`local_bh_disable`), as softirq code and
/// the locks it shares expect.
pub(crate) struct BhDisabled(core::marker::PhantomData<*mut ()>);

impl BhDisabled {
    /// Disables bottom halves.
    pub(crate) fn new() -> Self {
        // SAFETY: paired with the enable in `drop`; the guard is not `Send`, so both happen on
        // this CPU in this context.
        unsafe { sys::vigil_local_bh_disable() };
        Self(core::marker::PhantomData)
    }
}

impl Drop for BhDisabled {
    fn drop(&mut self) {
        // SAFETY: paired with the disable in `new`.
        unsafe { sys::vigil_local_bh_enable() };
    }
}
