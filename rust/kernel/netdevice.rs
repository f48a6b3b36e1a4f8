// SPDX-License-Identifier: GPL-2.0

//! Network device events: a thin safe wrapper over a netdevice notifier.
//!
//! C header: `include/linux/netdevice.h`.

use crate::{netfilter::DevId, sys};
use kernel::{error::to_result, ffi, prelude::*, sync::Arc, types::Opaque};

/// What a device did, as far as vigil cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DeviceEvent {
    /// It went down (`NETDEV_DOWN`).
    Down,
    /// It is being unregistered (`NETDEV_UNREGISTER`): it waits for every reference held.
    Unregister,
}

/// Told of device events, under RTNL, in process context.
pub(crate) trait DeviceWatcher: Send + Sync + 'static {
    /// `dev` went down or is going away.
    fn device_event(&self, dev: DevId, event: DeviceEvent);
}

/// A registered netdevice notifier calling `T::device_event`.
///
/// # Invariants
///
/// `nb` is registered with `register_netdevice_notifier` and is the first field, so the
/// `notifier_block` pointer the callback receives points to this value; `ctx` outlives the
/// registration.
#[repr(C)]
#[pin_data(PinnedDrop)]
pub(crate) struct Notifier<T: DeviceWatcher> {
    #[pin]
    nb: Opaque<sys::notifier_block>,
    ctx: Arc<T>,
}

// SAFETY: the notifier chain has its own locking; `T: Send + Sync`.
unsafe impl<T: DeviceWatcher> Send for Notifier<T> {}
// SAFETY: `&self` methods do not touch the C structure.
unsafe impl<T: DeviceWatcher> Sync for Notifier<T> {}

/// # Safety
///
/// Called by the netdevice notifier chain with the block of a live `Notifier<T>` and the
/// chain's `netdev_notifier_info`.
unsafe extern "C" fn notifier_call<T: DeviceWatcher>(
    nb: *mut sys::notifier_block,
    event: ffi::c_ulong,
    info: *mut ffi::c_void,
) -> ffi::c_int {
    let event = match event as u32 {
        sys::netdev_cmd_NETDEV_DOWN => DeviceEvent::Down,
        sys::netdev_cmd_NETDEV_UNREGISTER => DeviceEvent::Unregister,
        _ => return sys::NOTIFY_DONE as ffi::c_int,
    };
    // SAFETY: `nb` is the first field of a live `Notifier<T>` (type invariant).
    let this = unsafe { &*nb.cast::<Notifier<T>>() };
    // SAFETY: `info` is the chain's `netdev_notifier_info` for this call.
    let dev = unsafe { sys::vigil_netdev_notifier_dev(info) };
    this.ctx.device_event(DevId(dev), event);
    sys::NOTIFY_DONE as ffi::c_int
}

impl<T: DeviceWatcher> Notifier<T> {
    /// Registers a notifier calling `ctx.device_event()`. Takes RTNL: the caller must not hold
    /// it.
    pub(crate) fn register(ctx: Arc<T>) -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            nb <- Opaque::try_ffi_init(|nb: *mut sys::notifier_block| {
                // SAFETY: the initializer may write to `nb`; zeroed is a valid block.
                unsafe {
                    nb.write(sys::notifier_block {
                        notifier_call: Some(notifier_call::<T>),
                        ..pin_init::zeroed()
                    })
                };
                // SAFETY: `nb` is pinned and stays valid until `PinnedDrop` unregisters it.
                // INVARIANT: on success the block is registered.
                to_result(unsafe { sys::register_netdevice_notifier(nb) })
            }),
            ctx,
        }? Error)
    }
}

#[pinned_drop]
impl<T: DeviceWatcher> PinnedDrop for Notifier<T> {
    fn drop(self: Pin<&mut Self>) {
        // SAFETY: the block is registered (type invariant). Unregistering takes RTNL, so no
        // callback runs afterwards.
        unsafe { sys::unregister_netdevice_notifier(self.nb.get()) };
    }
}
