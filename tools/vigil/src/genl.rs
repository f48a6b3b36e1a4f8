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
const A_BUCKET_INDEX: u16 = 1;
const A_BUCKET_COUNT: u16 = 2;

/// Whether a message names pipeline `name` in attribute `attr` (a NUL-terminated string).
fn of_pipeline(attrs: &Attrs, attr: u16, name: &str) -> bool {
    attrs.iter().any(|(ty, payload)| {
        *ty == attr && payload.split(|&b| b == 0).next() == Some(name.as_bytes())
    })
}

/// One message's attributes: type and payload.
type Attrs = Vec<(u16, Vec<u8>)>;

/// The attributes nested in `payload`.
fn nested(mut payload: &[u8]) -> Result<Attrs, String> {
    let mut attrs = Vec::new();
    while !payload.is_empty() {
        let bad = "netlink: a nested attribute past its nest";
        let header = payload.get(..4).ok_or(bad)?;
        let len = usize::from(u16::from_ne_bytes([header[0], header[1]]));
        // The type without the nested and byte-order flags.
        let ty = u16::from_ne_bytes([header[2], header[3]]) & 0x3fff;
        attrs.push((ty, payload.get(4..len).ok_or(bad)?.to_vec()));
        payload = payload.get(len.next_multiple_of(4)..).unwrap_or_default();
    }
    Ok(attrs)
}

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

    /// Per stage of pipeline `pipeline` that handled packets, in order: the stage and its
    /// histogram's [`BUCKETS`] counts.
    pub fn latency(&mut self, pipeline: &str) -> Result<Vec<(u64, Vec<u64>)>, String> {
        let messages = self.dump(CMD_LATENCY_GET)?;
        histograms(
            messages
                .iter()
                .filter(|m| of_pipeline(m, A_LATENCY_PIPELINE, pipeline)),
        )
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

/// The histograms `latency-get` messages hold, a stage's perhaps over several: per stage, in
/// the order they come, the counts of every bucket.
fn histograms<'a>(
    messages: impl Iterator<Item = &'a Attrs>,
) -> Result<Vec<(u64, Vec<u64>)>, String> {
    let mut out: Vec<(u64, Vec<u64>)> = Vec::new();
    for attrs in messages {
        let mut stage = None;
        let mut buckets = Vec::new();
        for (ty, payload) in attrs {
            match *ty {
                A_LATENCY_STAGE => stage = Some(uint(payload)?),
                A_LATENCY_BUCKET => buckets.push(bucket(payload)?),
                _ => {}
            }
        }
        let stage = stage.ok_or("latency-get: no stage")?;
        let at = match out.iter().position(|(s, _)| *s == stage) {
            Some(at) => at,
            None => {
                out.push((stage, vec![0; BUCKETS]));
                out.len() - 1
            }
        };
        for (index, count) in buckets {
            out[at].1[index] += count;
        }
    }
    Ok(out)
}

/// A nested `bucket`: its index (below [`BUCKETS`]) and count.
fn bucket(payload: &[u8]) -> Result<(usize, u64), String> {
    let (mut index, mut count) = (None, None);
    for (ty, payload) in nested(payload)? {
        match ty {
            A_BUCKET_INDEX => index = Some(uint(&payload)?),
            A_BUCKET_COUNT => count = Some(uint(&payload)?),
            _ => {}
        }
    }
    match (index, count) {
        (Some(i), Some(n)) if i < BUCKETS as u64 => Ok((i as usize, n)),
        (Some(i), Some(_)) => Err(format!(
            "latency-get: bucket {i}, this tool knows {BUCKETS}"
        )),
        _ => Err("latency-get: a bucket without index or count".into()),
    }
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
        let numbers = [
            ("VIGIL_CMD_STAGE_STATS_GET", u64::from(CMD_STAGE_STATS_GET)),
            ("VIGIL_CMD_LATENCY_GET", u64::from(CMD_LATENCY_GET)),
            ("VIGIL_A_LATENCY_STAGE", u64::from(A_LATENCY_STAGE)),
            ("VIGIL_A_LATENCY_BUCKET", u64::from(A_LATENCY_BUCKET)),
            ("VIGIL_A_LATENCY_PIPELINE", u64::from(A_LATENCY_PIPELINE)),
            ("VIGIL_A_BUCKET_INDEX", u64::from(A_BUCKET_INDEX)),
            ("VIGIL_A_BUCKET_COUNT", u64::from(A_BUCKET_COUNT)),
            (
                "VIGIL_A_STAGE_STATS_PIPELINE",
                u64::from(A_STAGE_STATS_PIPELINE),
            ),
        ];
        for (name, number) in numbers {
            assert_eq!(enumerator(name), Some(number), "{name}");
        }
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

        // Messages are told apart by the pipeline they name.
        let mut lat: Attrs = vec![(A_LATENCY_STAGE, 2u32.to_ne_bytes().to_vec())];
        lat.push((A_LATENCY_PIPELINE, b"web\0".to_vec()));
        assert!(of_pipeline(&lat, A_LATENCY_PIPELINE, "web"));
        assert!(!of_pipeline(&lat, A_LATENCY_PIPELINE, "default"));
        assert!(!of_pipeline(&lat, A_LATENCY_PIPELINE, "we"));
    }

    /// A nested `bucket` attribute as the module puts it: index, then count (a u32 if it fits).
    fn bucket_attr(index: u32, count: u64) -> (u16, Vec<u8>) {
        let mut nest = vec![8, 0, A_BUCKET_INDEX as u8, 0];
        nest.extend(index.to_ne_bytes());
        match u32::try_from(count) {
            Ok(small) => nest.extend(
                [8, 0, A_BUCKET_COUNT as u8, 0]
                    .into_iter()
                    .chain(small.to_ne_bytes()),
            ),
            Err(_) => nest.extend(
                [12, 0, A_BUCKET_COUNT as u8, 0]
                    .into_iter()
                    .chain(count.to_ne_bytes()),
            ),
        }
        (A_LATENCY_BUCKET, nest)
    }

    fn latency_message(stage: u32, buckets: &[(u32, u64)]) -> Attrs {
        let mut m = vec![(A_LATENCY_STAGE, stage.to_ne_bytes().to_vec())];
        m.extend(buckets.iter().map(|&(i, n)| bucket_attr(i, n)));
        m.push((A_LATENCY_PIPELINE, b"default\0".to_vec()));
        m
    }

    #[test]
    fn histograms_gather_a_stage_over_its_messages() {
        let last = BUCKETS as u32 - 1;
        let messages = [
            latency_message(0, &[(0, 3), (63, 1)]),
            latency_message(0, &[(64, 2), (last, 1 << 40)]),
            latency_message(4, &[(100, 9)]),
        ];
        let h = histograms(messages.iter()).unwrap();
        assert_eq!(h.len(), 2);
        let (stage, counts) = &h[0];
        assert_eq!((*stage, counts.len()), (0, BUCKETS));
        assert_eq!(
            (counts[0], counts[63], counts[64], counts[BUCKETS - 1]),
            (3, 1, 2, 1 << 40)
        );
        assert_eq!(counts.iter().sum::<u64>(), 6 + (1 << 40));
        assert_eq!(h[1].0, 4);
        assert_eq!((h[1].1[100], h[1].1.iter().sum::<u64>()), (9, 9));

        // A bucket this tool does not know, half a bucket or one cut short is refused.
        let past = [latency_message(1, &[(BUCKETS as u32, 1)])];
        assert!(histograms(past.iter()).unwrap_err().contains("bucket 960"));
        let mut half = latency_message(1, &[(5, 1)]);
        half[1].1.truncate(8);
        assert!(histograms([half].iter()).is_err());
        let mut cut = latency_message(1, &[(5, 1)]);
        cut[1].1.truncate(10);
        assert!(histograms([cut].iter()).is_err());
        let no_stage = vec![bucket_attr(5, 1)];
        assert!(histograms([no_stage].iter()).is_err());
    }
}
