// SPDX-License-Identifier: GPL-2.0

//! Socket buffers: thin safe wrappers over `struct sk_buff`.

use crate::sys;
use core::ptr::NonNull;
use kernel::prelude::*;

/// A socket buffer borrowed from the stack for the duration of a callback.
///
/// # Invariants
///
/// `ptr` points to a valid `struct sk_buff` for the lifetime `'a`.
pub(crate) struct SkBuffRef<'a> {
    ptr: NonNull<sys::sk_buff>,
    _p: core::marker::PhantomData<&'a sys::sk_buff>,
}

impl SkBuffRef<'_> {
    /// Borrows `ptr`.
    ///
    /// # Safety
    ///
    /// `ptr` must point to a valid `struct sk_buff` that stays valid, and is not freed, for the
    /// lifetime chosen by the caller.
    pub(crate) unsafe fn from_raw(ptr: NonNull<sys::sk_buff>) -> Self {
        // INVARIANT: guaranteed by the caller.
        Self {
            ptr,
            _p: core::marker::PhantomData,
        }
    }

    /// The raw pointer, for the C API.
    pub(crate) fn as_ptr(&self) -> *mut sys::sk_buff {
        self.ptr.as_ptr()
    }
}

/// An owned socket buffer, freed on drop.
///
/// # Invariants
///
/// `ptr` points to a valid `struct sk_buff` that this value owns.
pub(crate) struct SkBuff {
    ptr: NonNull<sys::sk_buff>,
}

impl SkBuff {
    /// Allocates a buffer with room for `size` bytes of data, with the GFP flags `gfp`
    /// (`sys::GFP_KERNEL`, `sys::GFP_ATOMIC`).
    pub(crate) fn alloc(size: u32, gfp: sys::gfp_t) -> Result<Self> {
        // SAFETY: `vigil_alloc_skb` is `alloc_skb`, callable with any size; the caller chose GFP
        // flags that fit its context.
        let ptr = unsafe { sys::vigil_alloc_skb(size, gfp) };
        // INVARIANT: a non-null result is a new buffer that we own.
        NonNull::new(ptr).map(|ptr| Self { ptr }).ok_or(ENOMEM)
    }

    /// Borrows the buffer.
    pub(crate) fn as_ref(&self) -> SkBuffRef<'_> {
        // SAFETY: we own `ptr` (type invariant), so it stays valid while `self` is borrowed.
        unsafe { SkBuffRef::from_raw(self.ptr) }
    }
}

impl Drop for SkBuff {
    fn drop(&mut self) {
        // SAFETY: we own the buffer (type invariant) and it is not used after this.
        unsafe { sys::vigil_kfree_skb(self.ptr.as_ptr()) };
    }
}
