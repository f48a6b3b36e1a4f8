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

    /// Bytes of data, linear and paged.
    pub(crate) fn len(&self) -> usize {
        // SAFETY: `ptr` is valid (type invariant); `len` is a plain field.
        unsafe { (*self.ptr.as_ptr()).len as usize }
    }

    /// Whether it is a GSO packet (several segments' worth, BIG TCP among them).
    pub(crate) fn is_gso(&self) -> bool {
        // SAFETY: `ptr` is valid (type invariant).
        unsafe { sys::vigil_skb_is_gso(self.ptr.as_ptr()) }
    }

    /// Copies up to `buf.len()` bytes from the start of the data (linear or not) and returns
    /// them.
    pub(crate) fn peek<'b>(&self, buf: &'b mut [u8]) -> &'b [u8] {
        let n = buf.len().min(self.len());
        // SAFETY: `ptr` is valid; `buf` has room for `n` bytes, which the packet holds.
        let src = unsafe {
            sys::vigil_skb_header_pointer(self.ptr.as_ptr(), 0, n as i32, buf.as_mut_ptr().cast())
        };
        if src.is_null() {
            return &[];
        }
        if src != buf.as_mut_ptr().cast() {
            // SAFETY: a non-null result other than `buf` points to `n` linear bytes of the
            // packet, valid while it is borrowed.
            let linear = unsafe { core::slice::from_raw_parts(src.cast::<u8>(), n) };
            buf[..n].copy_from_slice(linear);
        }
        &buf[..n]
    }

    /// The flow hash (`skb_get_hash`), computing it if the driver did not.
    pub(crate) fn flow_hash(&self) -> u32 {
        // SAFETY: `ptr` is valid (type invariant); the hash is cached in the buffer, which the
        // stack allows at netfilter hooks.
        unsafe { sys::vigil_skb_get_hash(self.ptr.as_ptr()) }
    }

    /// Sets `skb->mark`.
    pub(crate) fn set_mark(&self, mark: u32) {
        // SAFETY: `ptr` is valid; the owner of the packet (a stage, or a hook) may set its mark.
        unsafe { sys::vigil_skb_set_mark(self.ptr.as_ptr(), mark) }
    }

    /// `skb->mark`.
    pub(crate) fn mark(&self) -> u32 {
        // SAFETY: `ptr` is valid (type invariant).
        unsafe { sys::vigil_skb_mark(self.ptr.as_ptr()) }
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

    /// Appends `data` to the buffer; `ENOSPC` if it has no room left.
    pub(crate) fn put(&mut self, data: &[u8]) -> Result {
        // SAFETY: we own the buffer (type invariant).
        let room = unsafe { sys::vigil_skb_tailroom(self.ptr.as_ptr()) };
        if room < data.len() as u32 {
            return Err(ENOSPC);
        }
        // SAFETY: there is room for `data.len()` bytes (checked above); `skb_put` returns
        // where they go, `data.len()` writable bytes.
        unsafe {
            let dst = sys::skb_put(self.ptr.as_ptr(), data.len() as u32);
            core::ptr::copy_nonoverlapping(data.as_ptr(), dst.cast::<u8>(), data.len());
        }
        Ok(())
    }

    /// Gives up ownership: the caller becomes responsible for freeing the buffer.
    pub(crate) fn into_raw(self) -> NonNull<sys::sk_buff> {
        core::mem::ManuallyDrop::new(self).ptr
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

/// A continuation (`okfn`) that frees the packet: what a test hands a hook that accepts.
///
/// # Safety
///
/// `skb` is a valid packet whose ownership passes to this function.
#[cfg(CONFIG_KUNIT)]
pub(crate) unsafe extern "C" fn free_okfn(
    _net: *mut sys::net,
    _sk: *mut sys::sock,
    skb: *mut sys::sk_buff,
) -> kernel::ffi::c_int {
    // SAFETY: the continuation owns the packet.
    unsafe { sys::vigil_kfree_skb(skb) };
    0
}
