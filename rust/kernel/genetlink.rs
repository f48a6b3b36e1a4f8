// SPDX-License-Identifier: GPL-2.0

//! Generic netlink: the registration of vigil's family and the messages its callbacks build.
//!
//! The family and its ops table are C, generated from `Documentation/netlink/specs/vigil.yaml`
//! (`vigil-nl-gen.c`); the ops it names (`vigil_nl_*_dumpit`, `vigil_nl_*_doit`) are defined
//! here and hand a safe [`Dump`] or [`Msg`] to the driver code in `rust/netlink.rs`.
//!
//! C headers: `include/net/genetlink.h`, `include/net/netlink.h`.

use crate::sys;
use core::{fmt, marker::PhantomData, ptr::NonNull};
use kernel::{
    error::to_result,
    ffi,
    prelude::*,
    sync::{
        atomic::{Acquire, Atomic, Release},
        Arc,
    },
};

/// The family's dumps, by operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DumpOp {
    /// `stage-stats-get`.
    StageStats,
    /// `latency-get`.
    Latency,
    /// `lane-get`.
    Lanes,
    /// `config-get`, as a dump.
    Config,
}

/// What the family's operations report: the driver implements it.
pub(crate) trait Family: Send + Sync + 'static {
    /// Fills dump `op`.
    fn dump(&self, op: DumpOp, dump: &mut Dump<'_>) -> Result;

    /// Fills the reply to `config-get` for the request `req`.
    fn config(&self, req: &Request<'_>, reply: &mut Msg<'_>) -> Result;
}

/// The callbacks' way to a [`Family`] whose type they do not know.
///
/// # Invariants
///
/// `ctx` points to the `T` of the [`Registration<T>`] that made this, and `dump` and `config`
/// are [`dump_shim::<T>`] and [`config_shim::<T>`].
struct Ops {
    ctx: *const ffi::c_void,
    dump: unsafe fn(*const ffi::c_void, DumpOp, &mut Dump<'_>) -> Result,
    config: unsafe fn(*const ffi::c_void, &Request<'_>, &mut Msg<'_>) -> Result,
}

// SAFETY: `ctx` points to a `T: Send + Sync` (type invariant); the shims only read it.
unsafe impl Send for Ops {}
// SAFETY: as for `Send`; `&Ops` gives only shared access to the `T`.
unsafe impl Sync for Ops {}

/// # Safety
///
/// `ctx` points to a live `T`.
unsafe fn dump_shim<T: Family>(ctx: *const ffi::c_void, op: DumpOp, d: &mut Dump<'_>) -> Result {
    // SAFETY: by the caller.
    unsafe { &*ctx.cast::<T>() }.dump(op, d)
}

/// # Safety
///
/// `ctx` points to a live `T`.
unsafe fn config_shim<T: Family>(
    ctx: *const ffi::c_void,
    req: &Request<'_>,
    m: &mut Msg<'_>,
) -> Result {
    // SAFETY: by the caller.
    unsafe { &*ctx.cast::<T>() }.config(req, m)
}

/// What the callbacks read: the registered family's [`Ops`], null while none is.
static CONTEXT: Atomic<*const Ops> = Atomic::new(core::ptr::null());

/// The family `vigil`, registered while this lives.
///
/// # Invariants
///
/// The family is registered, and [`CONTEXT`] points to `ops`, whose `ctx` points into `_ctx`.
pub(crate) struct Registration<T: Family> {
    ops: KBox<Ops>,
    _ctx: Arc<T>,
}

impl<T: Family> Registration<T> {
    /// Registers the family; its callbacks read `ctx` until it is unregistered.
    ///
    /// Register it last in module init: a dump that started holds a reference on the module,
    /// which stops module exit but not an init that fails after this.
    pub(crate) fn new(ctx: Arc<T>) -> Result<Self> {
        // INVARIANT: the shims of `T`, over `ctx`.
        let ops = KBox::new(
            Ops {
                ctx: Arc::as_ptr(&ctx).cast(),
                dump: dump_shim::<T>,
                config: config_shim::<T>,
            },
            GFP_KERNEL,
        )?;
        CONTEXT.store(&raw const *ops, Release);
        // SAFETY: `vigil_nl_family` is the static family of `vigil-nl-gen.c`, registered once
        // (this type is made once per module load, and `drop` unregisters it).
        let ret = unsafe { sys::genl_register_family(&raw mut sys::vigil_nl_family) };
        if let Err(e) = to_result(ret) {
            CONTEXT.store(core::ptr::null(), Release);
            return Err(e);
        }
        // INVARIANT: registered, and `CONTEXT` points to `ops`.
        Ok(Self { ops, _ctx: ctx })
    }
}

impl<T: Family> Drop for Registration<T> {
    fn drop(&mut self) {
        // SAFETY: the family is registered (type invariant). Once this returns no `doit` runs
        // (they hold `cb_lock`, which unregistering takes for writing); a dump holds a
        // reference on the module, so none is in progress when module exit drops this.
        unsafe { sys::genl_unregister_family(&raw const sys::vigil_nl_family) };
        // Nothing reads the ops any more; they go with `self`.
        let _ = CONTEXT.cmpxchg(&raw const *self.ops, core::ptr::null(), Release);
    }
}

/// The ops the callbacks call, if the family is registered.
fn context<'a>() -> Option<&'a Ops> {
    let ptr = CONTEXT.load(Acquire);
    // SAFETY: `CONTEXT` is null or points to the ops a `Registration` keeps; the callbacks
    // that call this run only while the family is registered (see `Drop`), which the borrow
    // does not outlive.
    unsafe { ptr.as_ref() }
}

/// A `do` request.
///
/// # Invariants
///
/// `info` is the request's `genl_info`, valid for `'a`.
pub(crate) struct Request<'a> {
    info: NonNull<sys::genl_info>,
    _p: PhantomData<&'a sys::genl_info>,
}

impl Request<'_> {
    /// String attribute `attr` into `buf`: its text, `None` if the request has none, `E2BIG`
    /// if `buf` cannot hold it.
    pub(crate) fn str<'b>(&self, attr: u32, buf: &'b mut [u8]) -> Result<Option<&'b [u8]>> {
        let attr = ffi::c_int::try_from(attr).map_err(|_| EINVAL)?;
        // SAFETY: `info` is valid (type invariant); the helper writes at most `buf.len()`
        // bytes, NUL included.
        let n = unsafe {
            sys::vigil_genl_attr_str(self.info.as_ptr(), attr, buf.as_mut_ptr().cast(), buf.len())
        };
        match n {
            // `to_errno` is the negative value C returns.
            n if n == ENOENT.to_errno() as isize => Ok(None),
            n if n < 0 => Err(E2BIG),
            n => Ok(buf.get(..n as usize)),
        }
    }
}

fn to_errno(r: Result) -> ffi::c_int {
    match r {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

/// A message being built at the end of an `sk_buff`; cancelled (its bytes taken back) unless
/// [`Msg::finish`] is called.
///
/// # Invariants
///
/// `skb` is valid for `'a` and only this value appends to it; `hdr` is the generic netlink
/// header of the last message in it, which this value builds.
pub(crate) struct Msg<'a> {
    skb: NonNull<sys::sk_buff>,
    hdr: NonNull<ffi::c_void>,
    _skb: PhantomData<&'a mut sys::sk_buff>,
}

/// Room for a string attribute and its NUL: they hold names, CPU lists and rules.
const STR_MAX: usize = 128;

/// A buffer that `write!` fills, refusing what does not fit.
struct StrBuf {
    buf: [u8; STR_MAX],
    len: usize,
}

impl fmt::Write for StrBuf {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        // Keeps one byte for the NUL.
        let end = self.len.checked_add(s.len()).ok_or(fmt::Error)?;
        let dst = self.buf[..STR_MAX - 1]
            .get_mut(self.len..end)
            .ok_or(fmt::Error)?;
        dst.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

impl Msg<'_> {
    /// Appends attribute `attr` holding `data`; `EMSGSIZE` if the buffer has no room.
    fn put(&mut self, attr: u32, data: &[u8]) -> Result {
        let len = ffi::c_int::try_from(data.len()).map_err(|_| EMSGSIZE)?;
        // SAFETY: `skb` is valid and ours to append to (type invariant); `data` is readable for
        // `len` bytes. `nla_put` checks the room and fails with `-EMSGSIZE` without it.
        to_result(unsafe {
            sys::nla_put(
                self.skb.as_ptr(),
                attr as ffi::c_int,
                len,
                data.as_ptr().cast(),
            )
        })
    }

    /// A `u8` attribute.
    pub(crate) fn put_u8(&mut self, attr: u32, v: u8) -> Result {
        self.put(attr, &[v])
    }

    /// A `u32` attribute.
    pub(crate) fn put_u32(&mut self, attr: u32, v: u32) -> Result {
        self.put(attr, &v.to_ne_bytes())
    }

    /// A `uint` attribute: 4 bytes if the value fits, else 8 (as `nla_put_uint`).
    pub(crate) fn put_uint(&mut self, attr: u32, v: u64) -> Result {
        match u32::try_from(v) {
            Ok(small) => self.put_u32(attr, small),
            Err(_) => self.put(attr, &v.to_ne_bytes()),
        }
    }

    /// A string attribute, formatted; `EMSGSIZE` if it is longer than 127 bytes.
    pub(crate) fn put_fmt(&mut self, attr: u32, args: fmt::Arguments<'_>) -> Result {
        let mut s = StrBuf {
            buf: [0; STR_MAX],
            len: 0,
        };
        fmt::write(&mut s, args).map_err(|_| EMSGSIZE)?;
        // The byte after the text is the NUL the buffer started with.
        self.put(attr, &s.buf[..=s.len])
    }

    /// A nested attribute `attr` holding what `fill` puts; taken back whole if `fill` fails.
    pub(crate) fn nest(&mut self, attr: u32, fill: impl FnOnce(&mut Self) -> Result) -> Result {
        // SAFETY: `skb` is valid and ours to append to (type invariant).
        let start = unsafe { sys::vigil_nla_nest_start(self.skb.as_ptr(), attr as ffi::c_int) };
        if start.is_null() {
            return Err(EMSGSIZE);
        }
        let r = fill(self);
        // SAFETY: `start` is the nest header `vigil_nla_nest_start` just put in `skb`, and what
        // `fill` appended follows it.
        unsafe {
            if r.is_ok() {
                sys::vigil_nla_nest_end(self.skb.as_ptr(), start);
            } else {
                sys::vigil_nla_nest_cancel(self.skb.as_ptr(), start);
            }
        }
        r
    }

    /// Completes the message (sets its length).
    pub(crate) fn finish(self) {
        let this = core::mem::ManuallyDrop::new(self);
        // SAFETY: `hdr` is the header of the message `skb` ends with (type invariant).
        unsafe { sys::genlmsg_end(this.skb.as_ptr(), this.hdr.as_ptr()) };
    }
}

impl Drop for Msg<'_> {
    fn drop(&mut self) {
        // SAFETY: `hdr` is the header of the message `skb` ends with (type invariant); cancelling
        // trims the buffer back to before it.
        unsafe { sys::genlmsg_cancel(self.skb.as_ptr(), self.hdr.as_ptr()) };
    }
}

/// A dump in progress: the `sk_buff` to fill now, and where the last call stopped.
///
/// # Invariants
///
/// `skb` and `cb` are the dump callback's, valid for `'a`; only this value appends to `skb`.
pub(crate) struct Dump<'a> {
    skb: NonNull<sys::sk_buff>,
    cb: NonNull<sys::netlink_callback>,
    _p: PhantomData<&'a mut sys::netlink_callback>,
}

impl<'a> Dump<'a> {
    /// # Safety
    ///
    /// `skb` and `cb` are a dump callback's arguments, valid for `'a`.
    unsafe fn from_raw(skb: *mut sys::sk_buff, cb: *mut sys::netlink_callback) -> Option<Self> {
        // INVARIANT: by the caller.
        Some(Self {
            skb: NonNull::new(skb)?,
            cb: NonNull::new(cb)?,
            _p: PhantomData,
        })
    }

    /// The row the dump resumes at: 0 in the first call, as `ctx` starts zeroed.
    fn cursor(&self) -> usize {
        // SAFETY: `cb` is valid (type invariant); `args` is plain data that only this file
        // writes for vigil's dumps.
        let v = unsafe { (*self.cb.as_ptr()).__bindgen_anon_1.args[0] };
        usize::try_from(v).unwrap_or(usize::MAX)
    }

    fn set_cursor(&mut self, row: usize) {
        let v = ffi::c_long::try_from(row).unwrap_or(ffi::c_long::MAX);
        // SAFETY: `cb` is valid and ours during the callback (type invariant).
        unsafe { (*self.cb.as_ptr()).__bindgen_anon_1.args[0] = v };
    }

    /// Calls `emit` for each row from where the last call stopped up to `count`. A row that
    /// does not fit (`EMSGSIZE`) is where the next call, with a fresh buffer, resumes.
    pub(crate) fn rows(
        &mut self,
        count: usize,
        mut emit: impl FnMut(&mut Self, usize) -> Result,
    ) -> Result {
        let mut row = self.cursor();
        while row < count {
            if let Err(e) = emit(self, row) {
                self.set_cursor(row);
                return Err(e);
            }
            row += 1;
        }
        self.set_cursor(row);
        Ok(())
    }

    /// Starts a message of command `cmd`; `EMSGSIZE` if the buffer has no room.
    pub(crate) fn message(&mut self, cmd: u32) -> Result<Msg<'_>> {
        let cmd = u8::try_from(cmd).map_err(|_| EINVAL)?;
        // SAFETY: `skb` and `cb` are the dump callback's (type invariant).
        let hdr = unsafe { sys::vigil_genl_dump_put(self.skb.as_ptr(), self.cb.as_ptr(), cmd) };
        // INVARIANT: `hdr` heads the message `skb` now ends with, which only the `Msg` extends
        // while it borrows `self`.
        Ok(Msg {
            skb: self.skb,
            hdr: NonNull::new(hdr).ok_or(EMSGSIZE)?,
            _skb: PhantomData,
        })
    }
}

/// Runs a dump callback: `fill` with the control and the dump.
///
/// # Safety
///
/// `skb` and `cb` are a dump callback's arguments.
unsafe fn dumpit(skb: *mut sys::sk_buff, cb: *mut sys::netlink_callback, op: DumpOp) -> ffi::c_int {
    // SAFETY: by the caller.
    let (Some(mut dump), Some(ops)) = (unsafe { Dump::from_raw(skb, cb) }, context()) else {
        return ENODEV.to_errno();
    };
    // `EMSGSIZE` with messages in the buffer tells netlink to send them and call again.
    // SAFETY: `ops.ctx` is live while the family is registered (`Ops` invariant).
    to_errno(unsafe { (ops.dump)(ops.ctx, op, &mut dump) })
}

/// Runs a `do` callback: a reply of what `fill` puts, sent to the requester.
///
/// # Safety
///
/// `info` is a `doit` callback's argument.
unsafe fn doit(info: *mut sys::genl_info) -> ffi::c_int {
    let (Some(ops), Some(info)) = (context(), NonNull::new(info)) else {
        return ENODEV.to_errno();
    };
    // INVARIANT: `info` is the request's (by the caller).
    let req = Request {
        info,
        _p: PhantomData,
    };
    // SAFETY: `genlmsg_new` allocates a buffer; `doit` runs in process context.
    let Some(skb) =
        NonNull::new(unsafe { sys::genlmsg_new(sys::GENLMSG_DEFAULT_SIZE, sys::GFP_KERNEL) })
    else {
        return ENOMEM.to_errno();
    };
    // SAFETY: `skb` is new and empty; `info` is the request's (by the caller).
    let hdr = unsafe { sys::vigil_genl_reply_put(skb.as_ptr(), info.as_ptr()) };
    let filled = match NonNull::new(hdr) {
        // INVARIANT: `hdr` heads the only message of `skb`, which we own.
        Some(hdr) => {
            let mut msg = Msg {
                skb,
                hdr,
                _skb: PhantomData,
            };
            // SAFETY: `ops.ctx` is live while the family is registered (`Ops` invariant).
            let r = unsafe { (ops.config)(ops.ctx, &req, &mut msg) };
            if r.is_ok() {
                msg.finish();
            }
            r
        }
        None => Err(EMSGSIZE),
    };
    match filled {
        // SAFETY: `skb` holds the finished reply to `info`; `genlmsg_reply` takes it over.
        Ok(()) => unsafe { sys::vigil_genl_reply(skb.as_ptr(), info.as_ptr()) },
        Err(e) => {
            // SAFETY: `skb` is ours and nothing else refers to it.
            unsafe { sys::nlmsg_free(skb.as_ptr()) };
            e.to_errno()
        }
    }
}

// The ops of `vigil-nl-gen.c`, by the names the generated header declares.

/// `stage-stats-get` dump.
///
/// # Safety
///
/// Called by generic netlink as a dump callback.
#[no_mangle]
pub(crate) unsafe extern "C" fn vigil_nl_stage_stats_get_dumpit(
    skb: *mut sys::sk_buff,
    cb: *mut sys::netlink_callback,
) -> ffi::c_int {
    // SAFETY: called as a dump callback (function safety requirement).
    unsafe { dumpit(skb, cb, DumpOp::StageStats) }
}

/// `latency-get` dump.
///
/// # Safety
///
/// Called by generic netlink as a dump callback.
#[no_mangle]
pub(crate) unsafe extern "C" fn vigil_nl_latency_get_dumpit(
    skb: *mut sys::sk_buff,
    cb: *mut sys::netlink_callback,
) -> ffi::c_int {
    // SAFETY: called as a dump callback (function safety requirement).
    unsafe { dumpit(skb, cb, DumpOp::Latency) }
}

/// `lane-get` dump.
///
/// # Safety
///
/// Called by generic netlink as a dump callback.
#[no_mangle]
pub(crate) unsafe extern "C" fn vigil_nl_lane_get_dumpit(
    skb: *mut sys::sk_buff,
    cb: *mut sys::netlink_callback,
) -> ffi::c_int {
    // SAFETY: called as a dump callback (function safety requirement).
    unsafe { dumpit(skb, cb, DumpOp::Lanes) }
}

/// `config-get` do.
///
/// # Safety
///
/// Called by generic netlink as a `doit` callback.
#[no_mangle]
pub(crate) unsafe extern "C" fn vigil_nl_config_get_doit(
    _skb: *mut sys::sk_buff,
    info: *mut sys::genl_info,
) -> ffi::c_int {
    // SAFETY: called as a `doit` callback (function safety requirement).
    unsafe { doit(info) }
}

/// `config-get` dump.
///
/// # Safety
///
/// Called by generic netlink as a dump callback.
#[no_mangle]
pub(crate) unsafe extern "C" fn vigil_nl_config_get_dumpit(
    skb: *mut sys::sk_buff,
    cb: *mut sys::netlink_callback,
) -> ffi::c_int {
    // SAFETY: called as a dump callback (function safety requirement).
    unsafe { dumpit(skb, cb, DumpOp::Config) }
}

/// Runs dump `op` of `family` as netlink would, into buffers of `size` bytes until it is
/// done, and hands each buffer's bytes to `check`. `EOVERFLOW` after 64 buffers.
#[cfg(CONFIG_KUNIT)]
pub(crate) fn dump_for_test<T: Family>(
    family: &T,
    op: DumpOp,
    size: u32,
    mut check: impl FnMut(&[u8]) -> Result,
) -> Result<usize> {
    use crate::skb::SkBuff;
    let request = SkBuff::alloc(0, sys::GFP_KERNEL)?;
    let nlh = sys::nlmsghdr::default();
    let mut cb = sys::netlink_callback {
        skb: request.as_ref().as_ptr(),
        nlh: &nlh,
        ..Default::default()
    };
    for calls in 1..=64 {
        let out = SkBuff::alloc(size, sys::GFP_KERNEL)?;
        // SAFETY: `out` and `cb` are valid for the call; `cb.skb` is a buffer whose control
        // block is zeroed (port 0) and `cb.nlh` a header, as netlink's would be.
        let mut dump = unsafe { Dump::from_raw(out.as_ref().as_ptr(), &mut cb) }.ok_or(EINVAL)?;
        let r = family.dump(op, &mut dump);
        let mut bytes = KVec::from_elem(0u8, out.as_ref().len(), GFP_KERNEL)?;
        let _ = out.as_ref().peek(&mut bytes);
        check(&bytes)?;
        match r {
            Ok(()) => return Ok(calls),
            Err(e) if e == EMSGSIZE && !bytes.is_empty() => {}
            Err(e) => return Err(e),
        }
    }
    Err(EOVERFLOW)
}
