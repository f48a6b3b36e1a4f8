// SPDX-License-Identifier: GPL-2.0

//! A periodic job in process context: a deferrable `delayed_work` on the system workqueue that
//! runs a [`Periodic`] and queues itself again, until it is dropped.
//!
//! Not `kernel::workqueue::DelayedWork`: that one cannot be cancelled, and module exit must
//! not leave a work queued that would run the module's code after it is gone.
//!
//! C header: `include/linux/workqueue.h`.

use crate::sys;
use kernel::{
    ffi,
    prelude::*,
    sync::{
        atomic::{Atomic, Relaxed},
        Arc,
    },
    types::Opaque,
};

/// What a [`Ticker`] runs.
pub(crate) trait Periodic: Send + Sync + 'static {
    /// Runs once a period, in process context: it may sleep.
    fn tick(&self);
}

/// Runs `ctx.tick()` every `period_ms` milliseconds from [`Ticker::start`] until dropped.
///
/// # Invariants
///
/// `dwork` is the first field (`repr(C)`), initialised to call [`run::<T>`]; it is queued
/// only once the ticker is in place and from `run`, and not after `drop` began.
#[repr(C)]
#[pin_data(PinnedDrop)]
pub(crate) struct Ticker<T: Periodic> {
    #[pin]
    dwork: Opaque<sys::delayed_work>,
    period_ms: u32,
    stopping: Atomic<bool>,
    ctx: Arc<T>,
}

// SAFETY: the work item is only touched through the C workqueue API, which may run it on any
// CPU; `T: Send + Sync`.
unsafe impl<T: Periodic> Send for Ticker<T> {}
// SAFETY: as for `Send`; `&Ticker` only queues the work or reads `ctx`.
unsafe impl<T: Periodic> Sync for Ticker<T> {}

/// The work's function.
///
/// # Safety
///
/// `work` is the `work` of the `dwork` of a live, pinned `Ticker<T>`.
unsafe extern "C" fn run<T: Periodic>(work: *mut sys::work_struct) {
    // SAFETY: `work` is the first field of `delayed_work`, the first field of the `repr(C)`
    // `Ticker<T>` (type invariant), which lives until its drop has cancelled this work and
    // waited for this call.
    let ticker = unsafe { &*work.cast::<Ticker<T>>() };
    ticker.ctx.tick();
    if !ticker.stopping.load(Relaxed) {
        ticker.queue();
    }
}

impl<T: Periodic> Ticker<T> {
    /// A ticker for `ctx`, whose first tick comes a period after it is in place.
    pub(crate) fn new(ctx: Arc<T>, period_ms: u32) -> impl PinInit<Self> {
        let init = pin_init!(Self {
            dwork <- Opaque::ffi_init(|slot: *mut sys::delayed_work| {
                let work_key = kernel::static_lock_class!();
                let timer_key = kernel::static_lock_class!();
                // SAFETY: `slot` is valid for writes; these are what `INIT_DELAYED_WORK` does
                // (as `kernel::workqueue::DelayedWork::new`), with `run::<T>` as the function.
                // INVARIANT: initialised to call `run::<T>`.
                unsafe {
                    sys::init_work_with_key(
                        &raw mut (*slot).work,
                        Some(run::<T>),
                        false,
                        c"vigil_ticker".as_char_ptr(),
                        work_key.as_ptr(),
                    );
                    sys::timer_init_key(
                        &raw mut (*slot).timer,
                        Some(sys::delayed_work_timer_fn),
                        // Deferrable, as `INIT_DEFERRABLE_WORK`: the timer never wakes an idle
                        // CPU; a tick waits for the CPU to wake for something else.
                        sys::TIMER_IRQSAFE | sys::TIMER_DEFERRABLE,
                        c"vigil_ticker_timer".as_char_ptr(),
                        timer_key.as_ptr(),
                    );
                }
            }),
            period_ms,
            stopping: Atomic::new(false),
            ctx,
        });
        // Every field is in place, at its final address: the work may be queued.
        init.pin_chain(|this| {
            this.queue();
            Ok(())
        })
    }

    fn queue(&self) {
        // SAFETY: `dwork` is initialised and pinned (it lives in a pinned `Ticker`), and
        // `system_wq` is set up at boot; queueing an already queued work does nothing.
        unsafe {
            let delay = sys::__msecs_to_jiffies(self.period_ms as ffi::c_uint);
            sys::queue_delayed_work_on(
                sys::wq_misc_consts_WORK_CPU_UNBOUND as ffi::c_int,
                sys::system_wq,
                self.dwork.get(),
                delay,
            );
        }
    }
}

#[pinned_drop]
impl<T: Periodic> PinnedDrop for Ticker<T> {
    fn drop(self: Pin<&mut Self>) {
        self.stopping.store(true, Relaxed);
        // SAFETY: `dwork` is initialised; this cancels a pending run and waits for a running
        // one, which does not queue itself again once `stopping` is set (and the call copes
        // with a work that does).
        unsafe { sys::cancel_delayed_work_sync(self.dwork.get()) };
    }
}
