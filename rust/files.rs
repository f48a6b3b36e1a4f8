// SPDX-License-Identifier: GPL-2.0

//! The sysfs files: `/sys/kernel/vigil/` (global settings, `pipelines`, and the default
//! pipeline's files), and `pipeline/NAME/` for each other pipeline; each pipeline's directory
//! holds its settings, `stageN/` and `stats/`. The settings' files come from the ABI table
//! (`abi::SETTINGS`), the counters' from `abi::COUNTERS`.

use crate::{
    abi::{Counter, Key, Scope, COUNTERS, SETTINGS},
    allocator::Reason as AllocReason,
    config::MAX_STAGES,
    control::{errno, Control},
    parse,
    pipelines::{Change, Name, MAX_NAME_LEN},
    stats::{DropReason, Skip, Stats},
    sysfs::{Attr, Dir, Parent, ShowBuf, ShowFn, StoreFn},
    sysfs_emit,
};
use core::fmt::Write;
use kernel::{prelude::*, sync::Arc};

/// What the files of a pipeline's directory act on: the pipeline, by name (it is looked up
/// on each access, so that a file of a pipeline being removed answers `ENODEV`).
pub(crate) struct PipelineRef {
    control: Arc<Control>,
    name: Name,
}

impl PipelineRef {
    /// The files of pipeline `name`.
    pub(crate) fn new(control: Arc<Control>, name: Name) -> Self {
        Self { control, name }
    }

    fn stats(&self) -> Result<Arc<Stats>> {
        self.control.stats(&self.name)
    }
}

/// What a `stageN/` directory's files act on.
pub(crate) struct StageRef {
    control: Arc<Control>,
    name: Name,
    index: usize,
}

fn show_version(_: &PipelineRef, _: usize, buf: &mut ShowBuf<'_>) -> Result {
    sysfs_emit!(buf, "{}\n", crate::VERSION)
}

fn show_pipelines(p: &PipelineRef, _: usize, buf: &mut ShowBuf<'_>) -> Result {
    sysfs_emit!(buf, "{}\n", p.control.order())
}

fn store_pipelines(p: &PipelineRef, _: usize, input: &[u8]) -> Result {
    let change = Change::parse(input).map_err(|_| EINVAL)?;
    Control::change_pipelines(&p.control, &change)
}

/// Shows setting `SETTINGS[i]` of stage `stage` (0 for the others) of pipeline `name`.
fn show_setting(c: &Control, name: &Name, i: usize, stage: usize, buf: &mut ShowBuf<'_>) -> Result {
    let s = SETTINGS.get(i).ok_or(EINVAL)?;
    c.config(name)?.show(s.key, stage, buf).map_err(|_| EFBIG)
}

/// Parses a write to setting `SETTINGS[i]` of stage `stage` of pipeline `name` and applies
/// it; a global setting applies to every pipeline.
fn store_setting(c: &Control, name: &Name, i: usize, stage: usize, input: &[u8]) -> Result {
    let s = SETTINGS.get(i).ok_or(EINVAL)?;
    let v = s.kind.parse(input, c.nr_cpus()).map_err(errno)?;
    let apply = |cfg: &mut crate::config::Config| cfg.apply(s.key, stage, v).map_err(errno);
    match s.scope {
        Scope::Global => c.update_global(apply),
        Scope::Pipeline => c.update(name, apply),
        Scope::Stage => {
            c.update(name, apply)?;
            // CPUs written by hand pin the stage: the allocator leaves it alone.
            match s.key {
                Key::Cpus => c.pin(name, stage),
                _ => Ok(()),
            }
        }
    }
}

fn show_top_setting(p: &PipelineRef, i: usize, buf: &mut ShowBuf<'_>) -> Result {
    show_setting(&p.control, &p.name, i, 0, buf)
}

fn store_top_setting(p: &PipelineRef, i: usize, input: &[u8]) -> Result {
    store_setting(&p.control, &p.name, i, 0, input)
}

fn show_stage_setting(s: &StageRef, i: usize, buf: &mut ShowBuf<'_>) -> Result {
    show_setting(&s.control, &s.name, i, s.index, buf)
}

fn store_stage_setting(s: &StageRef, i: usize, input: &[u8]) -> Result {
    store_setting(&s.control, &s.name, i, s.index, input)
}

/// The files of the settings in `scopes`, each with the table index its callbacks use.
fn setting_attrs<T>(
    scopes: &[Scope],
    show: ShowFn<T>,
    store: StoreFn<T>,
    out: &mut KVec<Attr<T>>,
) -> Result {
    for (i, s) in SETTINGS.iter().enumerate() {
        if scopes.contains(&s.scope) {
            out.push(Attr::rw(s.name, i, show, store), GFP_KERNEL)?;
        }
    }
    Ok(())
}

/// Shows counter `COUNTERS[i]` of the pipeline (a global one: of them all).
fn show_counter(p: &PipelineRef, i: usize, buf: &mut ShowBuf<'_>) -> Result {
    let stats = p.stats()?;
    let v = match COUNTERS.get(i).ok_or(EINVAL)?.counter {
        Counter::Seen => stats.seen(),
        Counter::Entered => stats.totals().entered,
        Counter::Delivered => stats.totals().delivered,
        Counter::Dropped => stats.totals().dropped_total(),
        Counter::InFlight => stats.totals().in_flight(),
        Counter::HeldPackets => p.control.held().packets(),
        Counter::HeldBytes => p.control.held().bytes(),
        Counter::SkippedBridged => stats.skipped(Skip::Bridged),
        Counter::SkippedL3mdev => stats.skipped(Skip::L3mdev),
        Counter::CpusAdded => stats.allocations(AllocReason::AboveHighWater),
        Counter::CpusRemoved => stats.allocations(AllocReason::BelowLowWater),
        Counter::PoolEmpty => stats.allocations(AllocReason::PoolEmpty),
    };
    sysfs_emit!(buf, "{v}\n")
}

/// Shows the pipeline's drops for reason `DropReason::ALL[i]`.
fn show_drop(p: &PipelineRef, i: usize, buf: &mut ShowBuf<'_>) -> Result {
    let n = p.stats()?.totals().dropped.get(i).copied().ok_or(EINVAL)?;
    sysfs_emit!(buf, "{n}\n")
}

/// The files of `stats/drops/`: one per reason.
fn drop_attrs() -> Result<KVec<Attr<PipelineRef>>> {
    let mut attrs = KVec::with_capacity(DropReason::ALL.len(), GFP_KERNEL)?;
    for (i, reason) in DropReason::ALL.iter().enumerate() {
        attrs.push(Attr::ro(reason.file_name(), i, show_drop), GFP_KERNEL)?;
    }
    Ok(attrs)
}

fn store_reset(p: &PipelineRef, _: usize, input: &[u8]) -> Result {
    match parse::parse_bool(input) {
        Ok(true) => {
            p.stats()?.reset();
            Ok(())
        }
        Ok(false) => Err(EINVAL),
        Err(e) => Err(errno(e)),
    }
}

/// The files at the top of `/sys/kernel/vigil/`: `version`, `pipelines`, the global settings
/// and the default pipeline's.
pub(crate) fn root_attrs() -> Result<KVec<Attr<PipelineRef>>> {
    let mut attrs = KVec::with_capacity(SETTINGS.len() + 2, GFP_KERNEL)?;
    attrs.push(Attr::ro(c"version", 0, show_version), GFP_KERNEL)?;
    attrs.push(
        Attr::rw(c"pipelines", 0, show_pipelines, store_pipelines),
        GFP_KERNEL,
    )?;
    setting_attrs(
        &[Scope::Global, Scope::Pipeline],
        show_top_setting,
        store_top_setting,
        &mut attrs,
    )?;
    Ok(attrs)
}

/// The files at the top of `pipeline/NAME/`: the pipeline's own settings.
fn pipeline_attrs() -> Result<KVec<Attr<PipelineRef>>> {
    let mut attrs = KVec::with_capacity(SETTINGS.len(), GFP_KERNEL)?;
    setting_attrs(
        &[Scope::Pipeline],
        show_top_setting,
        store_top_setting,
        &mut attrs,
    )?;
    Ok(attrs)
}

/// The files of a pipeline's `stats/`: its counters (with the global ones for the top-level
/// directory) and `reset`; the drops by reason are in `stats/drops/`.
fn stats_attrs(global: bool) -> Result<KVec<Attr<PipelineRef>>> {
    let tables = [Attr::wo(c"reset", store_reset)];
    let mut attrs = KVec::with_capacity(COUNTERS.len() + tables.len(), GFP_KERNEL)?;
    for (i, counter) in COUNTERS.iter().enumerate() {
        if global || counter.scope == Scope::Pipeline {
            attrs.push(Attr::ro(counter.name, i, show_counter), GFP_KERNEL)?;
        }
    }
    for attr in tables {
        attrs.push(attr, GFP_KERNEL)?;
    }
    Ok(attrs)
}

/// The files of `stageN/`: every stage setting (its statistics are in the generic netlink
/// family's dumps).
fn stage_attrs() -> Result<KVec<Attr<StageRef>>> {
    let mut attrs = KVec::with_capacity(SETTINGS.len(), GFP_KERNEL)?;
    setting_attrs(
        &[Scope::Stage],
        show_stage_setting,
        store_stage_setting,
        &mut attrs,
    )?;
    Ok(attrs)
}

/// The names of the stage directories.
static STAGE_NAMES: [&CStr; MAX_STAGES] = [
    c"stage0", c"stage1", c"stage2", c"stage3", c"stage4", c"stage5", c"stage6", c"stage7",
];

/// A pipeline's directory: its settings, `stats/` (with `drops/`) and `stageN/`. Each
/// directory holds its parent, so the fields may go in any order.
pub(crate) struct PipelineDirs {
    _stages: KVec<Dir<StageRef>>,
    _drops: Dir<PipelineRef>,
    _stats: Dir<PipelineRef>,
    top: Dir<PipelineRef>,
}

impl PipelineDirs {
    /// `/sys/kernel/vigil/` itself: the default pipeline's files, the global ones and
    /// `pipelines`.
    pub(crate) fn root(control: &Arc<Control>) -> Result<Self> {
        let name = Name::default_pipeline();
        Self::build(c"vigil", &Parent::Kernel, control, name, true)
    }

    /// `parent/NAME/` for pipeline `name`.
    pub(crate) fn new(parent: &Parent, control: &Arc<Control>, name: Name) -> Result<Self> {
        let mut cname = [0u8; MAX_NAME_LEN + 1];
        parse::copy_prefix(&mut cname, name.as_str().as_bytes());
        let cname = CStr::from_bytes_until_nul(&cname).map_err(|_| EINVAL)?;
        Self::build(cname, parent, control, name, false)
    }

    fn build(
        dir_name: &CStr,
        parent: &Parent,
        control: &Arc<Control>,
        name: Name,
        root: bool,
    ) -> Result<Self> {
        let top_attrs = if root {
            root_attrs()?
        } else {
            pipeline_attrs()?
        };
        let at =
            |control: &Arc<Control>| Arc::new(PipelineRef::new(control.clone(), name), GFP_KERNEL);
        let top = Dir::new(dir_name, parent, &top_attrs, at(control)?)?;
        let stats = Dir::new(
            c"stats",
            &top.as_parent(),
            &stats_attrs(root)?,
            at(control)?,
        )?;
        let drops = Dir::new(c"drops", &stats.as_parent(), &drop_attrs()?, at(control)?)?;
        let stage_attrs = stage_attrs()?;
        let mut stages = KVec::with_capacity(MAX_STAGES, GFP_KERNEL)?;
        for (index, dir_name) in STAGE_NAMES.iter().enumerate() {
            let ctx = StageRef {
                control: control.clone(),
                name,
                index,
            };
            let ctx = Arc::new(ctx, GFP_KERNEL)?;
            stages.push(
                Dir::new(dir_name, &top.as_parent(), &stage_attrs, ctx)?,
                GFP_KERNEL,
            )?;
        }
        Ok(Self {
            _stages: stages,
            _drops: drops,
            _stats: stats,
            top,
        })
    }

    /// The directory, as the parent of another.
    pub(crate) fn as_parent(&self) -> Parent {
        self.top.as_parent()
    }
}

#[kunit_tests(vigil_config)]
mod tests {
    use super::*;
    use crate::{
        abi::Malformed,
        seen,
        skb::{free_okfn, SkBuff},
        sys,
    };

    fn control() -> Result<Arc<Control>> {
        Arc::pin_init(Control::new(2)?, GFP_KERNEL)
    }

    fn pipeline(c: &Arc<Control>, name: &[u8]) -> Result<PipelineRef> {
        Ok(PipelineRef::new(
            c.clone(),
            Name::parse(name).map_err(|_| EINVAL)?,
        ))
    }

    fn find<T>(attrs: &[Attr<T>], name: &CStr) -> Result<Attr<T>> {
        attrs.iter().find(|a| a.name == name).copied().ok_or(EINVAL)
    }

    fn show<T>(attr: &Attr<T>, ctx: &T) -> Result<KVec<u8>> {
        let mut page = [0u8; 512];
        let mut buf = ShowBuf::new(&mut page);
        attr.read(ctx, &mut buf)?;
        let mut out = KVec::new();
        out.extend_from_slice(buf.written(), GFP_KERNEL)?;
        Ok(out)
    }

    /// Formats a malformed case into `buf`, with the newline `echo` adds.
    fn case(m: Malformed, buf: &mut [u8; 64]) -> Result<usize> {
        let mut out = ShowBuf::new(buf);
        writeln!(out, "{m}").map_err(|_| EFBIG)?;
        Ok(out.written().len())
    }

    /// Whether `attr` refuses `input` and shows what it showed before.
    fn refuses<T>(attr: &Attr<T>, ctx: &T, input: &[u8]) -> Result<bool> {
        let before = show(attr, ctx)?;
        Ok(attr.write(ctx, input).is_err() && show(attr, ctx)? == before)
    }

    #[test]
    fn malformed_writes_change_nothing() -> Result {
        let c = control()?;
        let top = pipeline(&c, b"default")?;
        let stage = StageRef {
            control: c.clone(),
            name: top.name,
            index: 1,
        };
        let (root, stages) = (root_attrs()?, stage_attrs()?);
        let (mut tried, mut took) = (0, 0);
        for s in &SETTINGS {
            s.kind.malformed(|m| {
                let mut buf = [0u8; 64];
                let refused = case(m, &mut buf).and_then(|len| match s.scope {
                    Scope::Global | Scope::Pipeline => {
                        refuses(&find(&root, s.name)?, &top, &buf[..len])
                    }
                    Scope::Stage => refuses(&find(&stages, s.name)?, &stage, &buf[..len]),
                });
                tried += 1;
                if refused != Ok(true) {
                    pr_err!("{} took {:?} or changed\n", s.name(), m);
                    took += 1;
                }
            });
        }
        assert_eq!(took, 0);
        assert!(tried >= 4 * SETTINGS.len());
        Ok(())
    }

    #[test]
    fn valid_writes_show_back() -> Result {
        let c = control()?;
        let top = pipeline(&c, b"default")?;
        let root = root_attrs()?;
        let store = |name: &CStr, input: &[u8]| find(&root, name)?.write(&top, input);
        let show_root = |name: &CStr| show(&find(&root, name)?, &top);
        store(c"policy", b"timeout\n")?;
        assert_eq!(
            &show_root(c"policy")?[..],
            b"idle poll [timeout] adaptive\n"
        );
        store(c"match", b"udp dport 9000-9100\n")?;
        assert_eq!(&show_root(c"match")?[..], b"udp dport 9000-9100\n");
        store(c"rules", b"udp dport 9 drop; all mark 7\n")?;
        assert_eq!(&show_root(c"rules")?[..], b"udp dport 9 drop\nall mark 7\n");
        store(c"stages", b"5")?;
        assert_eq!(&show_root(c"stages")?[..], b"5\n");
        assert_eq!(&show_root(c"burst_gap_ns")?[..], b"20000\n");
        store(c"burst_gap_ns", b"0\n")?;
        assert_eq!(&show_root(c"burst_gap_ns")?[..], b"0\n");
        let stage = StageRef {
            control: c.clone(),
            name: top.name,
            index: 2,
        };
        let ops = find(&stage_attrs()?, c"ops")?;
        assert_eq!(&show(&ops, &stage)?[..], b"none\n");
        ops.write(&stage, b"parse,work\n")?;
        assert_eq!(&show(&ops, &stage)?[..], b"parse,work\n");
        assert_eq!(
            c.config(&top.name)?.pipeline.stage[2].ops,
            crate::ops::Ops(5)
        );
        Ok(())
    }

    #[test]
    fn pipelines_are_added_ordered_and_removed() -> Result {
        let c = control()?;
        let top = pipeline(&c, b"default")?;
        let list = find(&root_attrs()?, c"pipelines")?;
        assert_eq!(&show(&list, &top)?[..], b"default\n");
        list.write(&top, b"+web\n")?;
        list.write(&top, b"+dns\n")?;
        list.write(&top, b"dns default web\n")?;
        assert_eq!(&show(&list, &top)?[..], b"dns default web\n");
        for (bad, errno) in [
            (&b"+web"[..], EEXIST),
            (b"-ftp", ENOENT),
            (b"-default", EBUSY),
            (b"+Web", EINVAL),
            (b"web dns", EINVAL),
        ] {
            assert_eq!(list.write(&top, bad), Err(errno));
        }
        assert_eq!(&show(&list, &top)?[..], b"dns default web\n");
        list.write(&top, b"-dns\n")?;
        assert_eq!(&show(&list, &top)?[..], b"default web\n");
        // A removed pipeline's files answer ENODEV.
        let dns = pipeline(&c, b"dns")?;
        let policy = find(&pipeline_attrs()?, c"policy")?;
        assert_eq!(show(&policy, &dns).err(), Some(ENODEV));
        Ok(())
    }

    #[test]
    fn pipelines_keep_their_own_settings_and_share_the_global_ones() -> Result {
        let c = control()?;
        let top = pipeline(&c, b"default")?;
        find(&root_attrs()?, c"pipelines")?.write(&top, b"+web")?;
        let web = pipeline(&c, b"web")?;
        let attrs = pipeline_attrs()?;
        assert!(find(&attrs, c"netns").is_err());
        find(&attrs, c"policy")?.write(&web, b"poll")?;
        find(&attrs, c"match")?.write(&web, b"tcp dport 80")?;
        let root = root_attrs()?;
        assert_eq!(
            &show(&find(&root, c"policy")?, &top)?[..],
            b"idle poll timeout [adaptive]\n"
        );
        assert_eq!(
            &show(&find(&attrs, c"policy")?, &web)?[..],
            b"idle [poll] timeout adaptive\n"
        );
        find(&root, c"netns_quota")?.write(&top, b"77")?;
        assert_eq!(c.config(&web.name)?.pipeline.netns_quota, 77);
        assert_eq!(c.config(&top.name)?.pipeline.netns_quota, 77);
        // One added later takes the global settings as they are, and the defaults for its own.
        find(&root, c"pipelines")?.write(&top, b"+dns")?;
        let dns = c.config(&pipeline(&c, b"dns")?.name)?;
        assert_eq!(dns.pipeline.netns_quota, 77);
        assert_eq!(dns.pipeline.params.policy, crate::policy::Policy::Adaptive);
        Ok(())
    }

    #[test]
    fn stats_files_show_and_reset() -> Result {
        let c = control()?;
        let top = pipeline(&c, b"default")?;
        let stats = c.stats(&top.name)?;
        let hook = seen::register(stats.clone())?;
        for _ in 0..3 {
            let skb = SkBuff::alloc(0, sys::GFP_KERNEL)?;
            hook.call_for_test(&skb.as_ref(), sys::NFPROTO_IPV4 as u8, free_okfn);
        }
        drop(hook);
        let attrs = stats_attrs(true)?;
        let seen = find(&attrs, c"seen")?;
        let reset = find(&attrs, c"reset")?;
        assert_eq!(&show(&seen, &top)?[..], b"3\n");
        assert_eq!(reset.write(&top, b"0\n"), Err(EINVAL));
        assert_eq!(stats.seen(), 3);
        reset.write(&top, b"1\n")?;
        assert_eq!(stats.seen(), 0);
        // One file per drop reason, each one number.
        let drops = drop_attrs()?;
        assert_eq!(drops.len(), DropReason::ALL.len());
        assert_eq!(&show(&find(&drops, c"no_memory")?, &top)?[..], b"0\n");
        // A pipeline's own stats/ leave the global counters to the top-level one.
        assert!(find(&stats_attrs(false)?, c"seen").is_err());
        assert!(find(&stats_attrs(false)?, c"entered").is_ok());
        Ok(())
    }
}
