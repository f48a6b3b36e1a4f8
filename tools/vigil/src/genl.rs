// SPDX-License-Identifier: GPL-2.0

//! Reading vigil.ko's generic netlink family `vigil`: the per-stage per-CPU statistics and the
//! latency histograms, which are dumps (`Documentation/netlink/specs/vigil.yaml`).

use crate::stats::{StageRow, STAGE_COLUMNS};
use neli::{
    consts::{nl::NlmF, nl::NlmFFlags, socket::NlFamily},
    genl::Genlmsghdr,
    nl::{NlPayload, Nlmsghdr},
    socket::NlSocketHandle,
    types::GenlBuffer,
};
use vigil_core::histogram::BUCKETS;

/// The family's name and version.
const FAMILY: &str = "vigil";
const VERSION: u8 = 1;

/// Command and attribute numbers, as `rust/kernel/uapi/linux/vigil.h` (generated from the spec)
/// numbers them; a test reads that header to check them.
const CMD_STAGE_STATS_GET: u8 = 1;
const CMD_LATENCY_GET: u8 = 2;
/// The stage-stats attributes are numbered from 1 in the order of [`STAGE_COLUMNS`], then the
/// pipeline's name.
const A_STAGE_STATS_PIPELINE: u16 = STAGE_COLUMNS.len() as u16 + 1;
const A_LATENCY_STAGE: u16 = 1;
const A_LATENCY_BUCKET: u16 = 2;
const A_LATENCY_PIPELINE: u16 = 3;

/// Whether a message names pipeline `name` in attribute `attr` (a NUL-terminated string).
fn of_pipeline(attrs: &Attrs, attr: u16, name: &str) -> bool {
    attrs.iter().any(|(ty, payload)| {
        *ty == attr && payload.split(|&b| b == 0).next() == Some(name.as_bytes())
    })
}

/// One message's attributes: type and payload.
type Attrs = Vec<(u16, Vec<u8>)>;

/// A `u32` or `uint` payload (4 or 8 bytes, host order).
fn uint(payload: &[u8]) -> Result<u64, String> {
    match payload.len() {
        4 => Ok(u32::from_ne_bytes(payload.try_into().unwrap_or_default()).into()),
        8 => Ok(u64::from_ne_bytes(payload.try_into().unwrap_or_default())),
        n => Err(format!("netlink: a {n}-byte integer attribute")),
    }
}

/// A socket talking to the family.
pub struct Genl {
    sock: NlSocketHandle,
    family: u16,
}

impl Genl {
    /// Connects and looks the family up.
    pub fn connect() -> Result<Self, String> {
        let mut sock = NlSocketHandle::connect(NlFamily::Generic, None, &[])
            .map_err(|e| format!("netlink: {e}"))?;
        let family = sock
            .resolve_genl_family(FAMILY)
            .map_err(|e| format!("generic netlink family {FAMILY}: {e}"))?;
        Ok(Self { sock, family })
    }

    /// Every message of dump `cmd`, as its attributes.
    fn dump(&mut self, cmd: u8) -> Result<Vec<Attrs>, String> {
        let genl = Genlmsghdr::<u8, u16>::new(cmd, VERSION, GenlBuffer::new());
        let flags = NlmFFlags::new(&[NlmF::Request, NlmF::Dump]);
        let msg = Nlmsghdr::new(
            None,
            self.family,
            flags,
            None,
            None,
            NlPayload::Payload(genl),
        );
        self.sock
            .send(msg)
            .map_err(|e| format!("netlink send: {e}"))?;
        let mut out = Vec::new();
        for reply in self.sock.iter::<u16, Genlmsghdr<u8, u16>>(false) {
            let reply = reply.map_err(|e| format!("netlink dump {cmd}: {e}"))?;
            if let NlPayload::Payload(p) = reply.nl_payload {
                let attrs = p
                    .get_attr_handle()
                    .iter()
                    .map(|a| (a.nla_type.nla_type, a.nla_payload.as_ref().to_vec()))
                    .collect();
                out.push(attrs);
            }
        }
        Ok(out)
    }

    /// Pipeline `pipeline`'s per-stage per-CPU rows, in the order of [`STAGE_COLUMNS`].
    pub fn stage_rows(&mut self, pipeline: &str) -> Result<Vec<StageRow>, String> {
        self.dump(CMD_STAGE_STATS_GET)?
            .iter()
            .filter(|m| of_pipeline(m, A_STAGE_STATS_PIPELINE, pipeline))
            .map(stage_row)
            .collect()
    }

    /// Per stage of pipeline `pipeline` that handled packets: the stage and its histogram
    /// counts.
    pub fn latency(&mut self, pipeline: &str) -> Result<Vec<(u64, Vec<u64>)>, String> {
        self.dump(CMD_LATENCY_GET)?
            .iter()
            .filter(|m| of_pipeline(m, A_LATENCY_PIPELINE, pipeline))
            .map(latency_row)
            .collect()
    }
}

fn stage_row(attrs: &Attrs) -> Result<StageRow, String> {
    let mut row = StageRow::default();
    let mut present = [false; STAGE_COLUMNS.len()];
    for (ty, payload) in attrs {
        // Attributes this tool does not know (a newer module) are left out.
        if let Some(i) = usize::from(*ty).checked_sub(1).filter(|&i| i < row.len()) {
            row[i] = uint(payload)?;
            present[i] = true;
        }
    }
    match present.iter().position(|&p| !p) {
        Some(i) => Err(format!("stage-stats-get: no {}", STAGE_COLUMNS[i])),
        None => Ok(row),
    }
}

fn latency_row(attrs: &Attrs) -> Result<(u64, Vec<u64>), String> {
    let mut stage = None;
    let mut counts = Vec::with_capacity(BUCKETS);
    for (ty, payload) in attrs {
        match *ty {
            A_LATENCY_STAGE => stage = Some(uint(payload)?),
            A_LATENCY_BUCKET => counts.push(uint(payload)?),
            _ => {}
        }
    }
    let stage = stage.ok_or("latency-get: no stage")?;
    if counts.len() != BUCKETS {
        return Err(format!(
            "latency-get: {} buckets, not {BUCKETS}",
            counts.len()
        ));
    }
    Ok((stage, counts))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The generated UAPI header: the numbers the module uses.
    const UAPI: &str = include_str!("../../../rust/kernel/uapi/linux/vigil.h");

    /// The value of enumerator `name` in the header (enumerators count up from `= 1`).
    fn enumerator(name: &str) -> Option<u64> {
        let mut value = 0;
        for line in UAPI.lines().map(str::trim) {
            if line.starts_with("enum") {
                value = 0;
                continue;
            }
            let Some(entry) = line.strip_suffix(',') else {
                continue;
            };
            value = match entry.split_once(" = ") {
                Some((_, v)) => v.parse().ok()?,
                None => value + 1,
            };
            if entry.split(' ').next() == Some(name) {
                return Some(value);
            }
        }
        None
    }

    #[test]
    fn numbers_match_the_uapi_header() {
        assert!(UAPI.contains(&format!("#define VIGIL_FAMILY_NAME\t\"{FAMILY}\"")));
        assert!(UAPI.contains(&format!("#define VIGIL_FAMILY_VERSION\t{VERSION}")));
        assert_eq!(
            enumerator("VIGIL_CMD_STAGE_STATS_GET"),
            Some(CMD_STAGE_STATS_GET.into())
        );
        assert_eq!(
            enumerator("VIGIL_CMD_LATENCY_GET"),
            Some(CMD_LATENCY_GET.into())
        );
        assert_eq!(
            enumerator("VIGIL_A_LATENCY_STAGE"),
            Some(A_LATENCY_STAGE.into())
        );
        assert_eq!(
            enumerator("VIGIL_A_LATENCY_BUCKET"),
            Some(A_LATENCY_BUCKET.into())
        );
        assert_eq!(
            enumerator("VIGIL_A_LATENCY_PIPELINE"),
            Some(A_LATENCY_PIPELINE.into())
        );
        assert_eq!(
            enumerator("VIGIL_A_STAGE_STATS_PIPELINE"),
            Some(A_STAGE_STATS_PIPELINE.into())
        );
        for (i, column) in STAGE_COLUMNS.iter().enumerate() {
            let name = format!("VIGIL_A_STAGE_STATS_{}", column.to_uppercase());
            assert_eq!(enumerator(&name), Some(i as u64 + 1), "{name}");
        }
    }

    #[test]
    fn decodes_rows_and_refuses_short_ones() {
        let mut attrs: Attrs = (1..=STAGE_COLUMNS.len() as u16)
            .map(|t| (t, u32::from(t).to_ne_bytes().to_vec()))
            .collect();
        attrs[2].1 = (1u64 << 40).to_ne_bytes().to_vec();
        attrs.push((99, vec![1]));
        let row = stage_row(&attrs).unwrap();
        assert_eq!(row[0], 1);
        assert_eq!(row[2], 1 << 40);
        assert_eq!(row[12], 13);
        attrs.remove(4);
        assert_eq!(
            stage_row(&attrs).unwrap_err(),
            "stage-stats-get: no empty_polls"
        );
        attrs[0].1 = vec![1, 2];
        assert!(stage_row(&attrs).is_err());

        let mut lat: Attrs = vec![(A_LATENCY_STAGE, 2u32.to_ne_bytes().to_vec())];
        for i in 0..BUCKETS as u64 {
            lat.push((A_LATENCY_BUCKET, i.to_ne_bytes().to_vec()));
        }
        let (stage, counts) = latency_row(&lat).unwrap();
        assert_eq!((stage, counts.len(), counts[39]), (2, BUCKETS, 39));
        lat.pop();
        assert!(latency_row(&lat).is_err());

        // Messages are told apart by the pipeline they name.
        lat.push((A_LATENCY_PIPELINE, b"web\0".to_vec()));
        assert!(of_pipeline(&lat, A_LATENCY_PIPELINE, "web"));
        assert!(!of_pipeline(&lat, A_LATENCY_PIPELINE, "default"));
        assert!(!of_pipeline(&lat, A_LATENCY_PIPELINE, "we"));
    }
}
