// SPDX-License-Identifier: GPL-2.0

//! KUnit suites, run when the module loads into a kernel built with `CONFIG_KUNIT=y`.

use kernel::prelude::*;

#[kunit_tests(vigil_parse)]
mod parse_tests {
    use crate::parse::{parse_bool, parse_u64, ParseError};

    #[test]
    fn u64_accepts_decimal_with_one_newline() {
        assert_eq!(parse_u64(b"42\n", 0, 100), Ok(42));
        assert_eq!(parse_u64(b"0", 0, 100), Ok(0));
        assert_eq!(
            parse_u64(b"18446744073709551615", 0, u64::MAX),
            Ok(u64::MAX)
        );
    }

    #[test]
    fn u64_rejects_malformed_and_out_of_range() {
        assert_eq!(parse_u64(b"", 0, 9), Err(ParseError::Invalid));
        assert_eq!(parse_u64(b"\n", 0, 9), Err(ParseError::Invalid));
        assert_eq!(parse_u64(b"4\n\n", 0, 9), Err(ParseError::Invalid));
        assert_eq!(parse_u64(b" 4", 0, 9), Err(ParseError::Invalid));
        assert_eq!(parse_u64(b"-1", 0, 9), Err(ParseError::Invalid));
        assert_eq!(parse_u64(b"10", 0, 9), Err(ParseError::OutOfRange));
        assert_eq!(parse_u64(b"1", 2, 9), Err(ParseError::OutOfRange));
        assert_eq!(
            parse_u64(b"18446744073709551616", 0, u64::MAX),
            Err(ParseError::OutOfRange)
        );
    }

    #[test]
    fn bool_is_zero_or_one() {
        assert_eq!(parse_bool(b"1\n"), Ok(true));
        assert_eq!(parse_bool(b"0"), Ok(false));
        assert_eq!(parse_bool(b"2"), Err(ParseError::Invalid));
        assert_eq!(parse_bool(b"true"), Err(ParseError::Invalid));
    }
}

#[kunit_tests(vigil_hook)]
mod hook_tests {
    use super::*;
    use crate::{netfilter, skb::SkBuff, stats::Stats, sys};

    #[test]
    fn hook_counts_and_accepts_every_packet() -> Result {
        let stats = Stats::new();
        for n in 1..=5u64 {
            let skb = SkBuff::alloc(64, sys::GFP_KERNEL)?;
            let verdict = netfilter::call_hook_for_test(&stats, &skb.as_ref());
            assert_eq!(verdict, sys::NF_ACCEPT);
            assert_eq!(stats.seen(), n);
        }
        Ok(())
    }

    #[test]
    fn stats_files_show_and_reset() -> Result {
        let stats = Stats::new();
        let skb = SkBuff::alloc(0, sys::GFP_KERNEL)?;
        for _ in 0..3 {
            netfilter::call_hook_for_test(&stats, &skb.as_ref());
        }
        let attrs = &crate::stats::STATS_ATTRS;
        let mut page = [0u8; 32];
        let len = crate::sysfs::show_for_test(&attrs[0], &stats, &mut page)?;
        assert_eq!(&page[..len], b"3\n");
        assert_eq!(
            crate::sysfs::store_for_test(&attrs[1], &stats, b"0\n"),
            Err(EINVAL)
        );
        assert_eq!(stats.seen(), 3);
        crate::sysfs::store_for_test(&attrs[1], &stats, b"1\n")?;
        assert_eq!(stats.seen(), 0);
        Ok(())
    }
}
