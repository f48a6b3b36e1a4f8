// SPDX-License-Identifier: GPL-2.0

//! Module-local bindings, generated at build time from `vigil_bindings.h`.
//!
//! Types that the kernel already binds come from `kernel::bindings`, so that a `sk_buff` here is
//! the same type as everywhere else.

#![allow(
    dead_code,
    missing_docs,
    non_camel_case_types,
    non_upper_case_globals,
    non_snake_case,
    improper_ctypes,
    unreachable_pub,
    unsafe_op_in_unsafe_fn,
    clippy::all,
    clippy::undocumented_unsafe_blocks,
    clippy::ptr_as_ptr,
    clippy::ref_as_ptr,
    clippy::as_underscore,
    clippy::cast_lossless
)]

pub(crate) use kernel::bindings::*;
use kernel::ffi;
use pin_init::MaybeZeroable;

include!("vigil_bindings_generated.rs");

// SAFETY: `__BindgenBitfieldUnit<Storage>` is a newtype around `Storage`, so it is zeroable
// exactly when `Storage` is (as in `kernel::bindings`).
unsafe impl<Storage: pin_init::Zeroable> pin_init::Zeroable for __BindgenBitfieldUnit<Storage> {}
