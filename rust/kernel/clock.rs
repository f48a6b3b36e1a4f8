// SPDX-License-Identifier: GPL-2.0

//! The clock stages read: monotonic nanoseconds, comparable across CPUs, cheap enough to read
//! per packet.
//!
//! C header: `include/linux/timekeeping.h`.

use crate::sys;

/// Monotonic nanoseconds (`ktime_get_mono_fast_ns`).
pub(crate) fn now_ns() -> u64 {
    // SAFETY: `ktime_get_mono_fast_ns` may be called from any context.
    unsafe { sys::ktime_get_mono_fast_ns() }
}
