// SPDX-License-Identifier: GPL-2.0

//! sysfs directories of attributes: thin safe wrappers over `kobject` and `kobj_attribute`.
//!
//! C headers: `include/linux/kobject.h`, `include/linux/sysfs.h`.

use crate::sys;
use core::{fmt, ptr::NonNull};
use kernel::{error::to_result, ffi, page::PAGE_SIZE, prelude::*, sync::Arc, types::Opaque};

/// Read by everyone.
pub(crate) const MODE_RO: u16 = 0o444;
/// Read by everyone, written by root.
pub(crate) const MODE_RW: u16 = 0o644;
/// Written by root only.
pub(crate) const MODE_WO: u16 = 0o200;

/// The page a `show` callback fills.
pub(crate) struct ShowBuf<'a> {
    page: &'a mut [u8],
    len: usize,
}

impl fmt::Write for ShowBuf<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let end = self.len.checked_add(s.len()).ok_or(fmt::Error)?;
        let dst = self.page.get_mut(self.len..end).ok_or(fmt::Error)?;
        dst.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

impl<'a> ShowBuf<'a> {
    /// An empty buffer over `page` (sysfs hands a page; tests, any buffer).
    pub(crate) fn new(page: &'a mut [u8]) -> Self {
        Self { page, len: 0 }
    }

    /// What was written so far.
    pub(crate) fn written(&self) -> &[u8] {
        &self.page[..self.len]
    }
}

/// Formats `args` into a `show` buffer; `EFBIG` if a page cannot hold it.
#[macro_export]
macro_rules! sysfs_emit {
    ($buf:expr, $($arg:tt)*) => {
        ::core::fmt::Write::write_fmt($buf, format_args!($($arg)*)).map_err(|_| EFBIG)
    };
}

/// Fills a file's contents; the `usize` is the attribute's [`Attr::index`].
pub(crate) type ShowFn<T> = fn(&T, usize, &mut ShowBuf<'_>) -> Result;
/// Takes a write, refused whole on error; the `usize` is the attribute's [`Attr::index`].
pub(crate) type StoreFn<T> = fn(&T, usize, &[u8]) -> Result;

/// One attribute file: its name, mode and callbacks, reading or changing a `T`.
pub(crate) struct Attr<T> {
    /// The file name.
    pub(crate) name: &'static CStr,
    /// The file mode (`MODE_*`).
    pub(crate) mode: u16,
    /// Which entry of a table the file shows, handed to its callbacks, so that one pair of
    /// callbacks serves every file of a table.
    pub(crate) index: usize,
    /// Fills the file's contents.
    pub(crate) show: Option<ShowFn<T>>,
    /// Takes a write.
    pub(crate) store: Option<StoreFn<T>>,
}

impl<T> Clone for Attr<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for Attr<T> {}

impl<T> Attr<T> {
    /// A file everyone reads, showing entry `index`.
    pub(crate) const fn ro(name: &'static CStr, index: usize, show: ShowFn<T>) -> Self {
        Self {
            name,
            mode: MODE_RO,
            index,
            show: Some(show),
            store: None,
        }
    }

    /// A file everyone reads and root writes, for entry `index`.
    pub(crate) const fn rw(
        name: &'static CStr,
        index: usize,
        show: ShowFn<T>,
        store: StoreFn<T>,
    ) -> Self {
        Self {
            name,
            mode: MODE_RW,
            index,
            show: Some(show),
            store: Some(store),
        }
    }

    /// Fills `buf` as a read of the file does (`EIO` for a file nobody reads).
    pub(crate) fn read(&self, ctx: &T, buf: &mut ShowBuf<'_>) -> Result {
        self.show.ok_or(EIO)?(ctx, self.index, buf)
    }

    /// Takes `input` as a write to the file does (`EIO` for a file nobody writes).
    pub(crate) fn write(&self, ctx: &T, input: &[u8]) -> Result {
        self.store.ok_or(EIO)?(ctx, self.index, input)
    }

    /// A file only root writes, and nobody reads.
    pub(crate) const fn wo(name: &'static CStr, store: StoreFn<T>) -> Self {
        Self {
            name,
            mode: MODE_WO,
            index: 0,
            show: None,
            store: Some(store),
        }
    }
}

/// The C attribute, with what its callbacks need to find their Rust side.
///
/// # Invariants
///
/// `raw` is the first field, so a `*mut kobj_attribute` handed to the callbacks is a pointer
/// to the `Slot`; `ctx` points into the `Arc<T>` of the `Dir` that owns this slot.
#[repr(C)]
struct Slot<T: 'static> {
    raw: Opaque<sys::kobj_attribute>,
    def: Attr<T>,
    ctx: *const T,
}

/// Recovers the slot and context of a callback.
///
/// # Safety
///
/// `attr` is the `raw` field of a `Slot<T>` of a live `Dir<T>`.
unsafe fn slot_ctx<'a, T: 'static>(attr: *mut sys::kobj_attribute) -> (Attr<T>, &'a T) {
    // SAFETY: by the caller and the `Slot` invariant, `attr` is a valid `Slot<T>`, whose `ctx`
    // is kept alive by the `Dir`, which outlives the files (they are removed in its `drop`).
    unsafe {
        let slot = &*attr.cast::<Slot<T>>();
        (slot.def, &*slot.ctx)
    }
}

fn errno_to_ssize(e: Error) -> isize {
    e.to_errno() as isize
}

/// # Safety
///
/// Called by sysfs for a file of a live `Dir<T>`, with a `PAGE_SIZE` buffer.
unsafe extern "C" fn show_trampoline<T: 'static>(
    _kobj: *mut sys::kobject,
    attr: *mut sys::kobj_attribute,
    buf: *mut ffi::c_char,
) -> isize {
    // SAFETY: sysfs calls this for our files only (function safety requirement).
    let (def, ctx) = unsafe { slot_ctx::<T>(attr) };
    // SAFETY: sysfs hands a zeroed buffer of `PAGE_SIZE` bytes, ours for this call.
    let page = unsafe { core::slice::from_raw_parts_mut(buf.cast::<u8>(), PAGE_SIZE) };
    let mut out = ShowBuf::new(page);
    match def.read(ctx, &mut out) {
        Ok(()) => out.len as isize,
        Err(e) => errno_to_ssize(e),
    }
}

/// # Safety
///
/// Called by sysfs for a file of a live `Dir<T>`, with `count` readable bytes at `buf`.
unsafe extern "C" fn store_trampoline<T: 'static>(
    _kobj: *mut sys::kobject,
    attr: *mut sys::kobj_attribute,
    buf: *const ffi::c_char,
    count: usize,
) -> isize {
    // SAFETY: sysfs calls this for our files only (function safety requirement).
    let (def, ctx) = unsafe { slot_ctx::<T>(attr) };
    // SAFETY: sysfs hands `count` bytes at `buf`, valid for this call.
    let input = unsafe { core::slice::from_raw_parts(buf.cast::<u8>(), count) };
    match def.write(ctx, input) {
        Ok(()) => count as isize,
        Err(e) => errno_to_ssize(e),
    }
}

/// A sysfs directory (a kobject), removed when the last [`Dir`] showing files in it, or in a
/// directory below it, is gone: each child holds its parent, so that teardown order is a fact
/// of the types and not of field order.
///
/// # Invariants
///
/// `kobj` is a kobject created for this node, shown in sysfs, whose one reference the node
/// holds; `_parent`, if any, is the node of the directory it was created in, held only so
/// that it outlives this one.
pub(crate) struct Node {
    kobj: NonNull<sys::kobject>,
    _parent: Option<Arc<Node>>,
}

// SAFETY: the kobject may be removed and released from any thread.
unsafe impl Send for Node {}
// SAFETY: `Node` has no `&self` methods that touch the C side.
unsafe impl Sync for Node {}

impl Drop for Node {
    fn drop(&mut self) {
        // SAFETY: `kobj` is live and ours (type invariant). Every child node holds this one,
        // so none is left below it; `kobject_del` removes the directory, then our reference is
        // dropped. The parent, if any, is released after (field drop order).
        unsafe {
            sys::kobject_del(self.kobj.as_ptr());
            sys::kobject_put(self.kobj.as_ptr());
        }
    }
}

/// A sysfs directory of attribute files operating on a shared `T`.
///
/// The slots live in a heap buffer that is filled once and never reallocated, so their addresses
/// stay fixed while sysfs holds them even when the `Dir` itself moves: a `Dir` needs no pinning.
///
/// # Invariants
///
/// Every slot of `slots` is a file of `node`'s directory, and `slots` is not resized after the
/// files were created (only truncated to the files that exist, when creating one failed).
pub(crate) struct Dir<T: Send + Sync + 'static> {
    node: Arc<Node>,
    slots: KVec<Slot<T>>,
    _ctx: Arc<T>,
}

// SAFETY: the slots only hold shared references to `T: Send + Sync`; the node is `Send`.
unsafe impl<T: Send + Sync> Send for Dir<T> {}
// SAFETY: `Dir` has no `&self` methods that touch the C side.
unsafe impl<T: Send + Sync> Sync for Dir<T> {}

/// Where a new directory goes.
#[derive(Clone)]
pub(crate) enum Parent {
    /// `/sys/kernel/`.
    Kernel,
    /// Inside another directory, which the new one keeps until it is gone (as does this).
    Dir(Arc<Node>),
}

impl<T: Send + Sync + 'static> Dir<T> {
    /// Creates `parent/name/` with the files `attrs`.
    pub(crate) fn new(
        name: &CStr,
        parent: &Parent,
        attrs: &[Attr<T>],
        ctx: Arc<T>,
    ) -> Result<Self> {
        let (parent_kobj, parent) = match parent {
            // SAFETY: `kernel_kobj` is set up at boot and never changes.
            Parent::Kernel => (unsafe { sys::kernel_kobj }, None),
            Parent::Dir(node) => (node.kobj.as_ptr(), Some(node.clone())),
        };
        let mut slots = KVec::with_capacity(attrs.len(), GFP_KERNEL)?;
        let key = kernel::sync::static_lock_class!();
        for def in attrs {
            let mut raw: sys::kobj_attribute = pin_init::zeroed();
            raw.attr.name = def.name.as_char_ptr();
            raw.attr.mode = def.mode;
            // Lockdep wants a static key for attributes that are not static themselves (what
            // `sysfs_attr_init()` does in C).
            #[cfg(CONFIG_DEBUG_LOCK_ALLOC)]
            {
                raw.attr.key = key.as_ptr();
            }
            #[cfg(not(CONFIG_DEBUG_LOCK_ALLOC))]
            let _ = &key;
            if def.show.is_some() {
                raw.__bindgen_anon_1.show = Some(show_trampoline::<T>);
            }
            if def.store.is_some() {
                raw.__bindgen_anon_2.store = Some(store_trampoline::<T>);
            }
            slots.push(
                Slot {
                    raw: Opaque::new(raw),
                    def: *def,
                    ctx: Arc::as_ptr(&ctx),
                },
                GFP_KERNEL,
            )?;
        }
        // SAFETY: `name` is a valid string and `parent_kobj` a live kobject (held by `parent`,
        // or boot-time for `kernel_kobj`). The name is copied.
        let kobj = unsafe { sys::kobject_create_and_add(name.as_char_ptr(), parent_kobj) };
        let kobj = NonNull::new(kobj).ok_or(ENOMEM)?;
        // INVARIANT: `kobj` is new and ours, created in `parent`'s directory.
        let node = Arc::new(
            Node {
                kobj,
                _parent: parent,
            },
            GFP_KERNEL,
        )
        .inspect_err(|_| {
            // SAFETY: `kobj` was created above and is not shown to anyone else yet.
            unsafe {
                sys::kobject_del(kobj.as_ptr());
                sys::kobject_put(kobj.as_ptr());
            }
        })?;
        let mut dir = Self {
            node,
            slots,
            _ctx: ctx,
        };
        for n in 0..dir.slots.len() {
            let slot = &dir.slots[n];
            // SAFETY: the node's kobject is live; the attribute lives in `slots`, which stays
            // in place and outlives the file (removed in `drop`).
            let ret = unsafe {
                sys::sysfs_create_file_ns(
                    dir.node.kobj.as_ptr(),
                    &raw mut (*slot.raw.get()).attr,
                    core::ptr::null(),
                )
            };
            if let Err(e) = to_result(ret) {
                // INVARIANT: `drop` then removes the `n` files created, and no other.
                dir.slots.truncate(n);
                return Err(e);
            }
        }
        Ok(dir)
    }

    /// Removes every file.
    fn remove_files(&self) {
        for slot in self.slots.iter() {
            // SAFETY: the node's kobject is live and the file was created from this slot.
            // Removal waits for running `show`/`store` calls to end, so none uses the slot or
            // the context afterwards.
            unsafe {
                sys::sysfs_remove_file_ns(
                    self.node.kobj.as_ptr(),
                    &raw const (*slot.raw.get()).attr,
                    core::ptr::null(),
                )
            };
        }
    }

    /// This directory, as the parent of another, which then keeps it until it is gone.
    pub(crate) fn as_parent(&self) -> Parent {
        Parent::Dir(self.node.clone())
    }
}

impl<T: Send + Sync + 'static> Drop for Dir<T> {
    fn drop(&mut self) {
        // The files go first: they refer to the slots and the context, which go with `self`.
        // The directory itself goes when its last holder (this or a child) does.
        self.remove_files();
    }
}
