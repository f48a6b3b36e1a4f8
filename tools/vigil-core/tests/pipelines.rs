// SPDX-License-Identifier: GPL-2.0

//! Host tests of `rust/shared/pipelines.rs`: what `pipelines` takes and how the order changes.

use vigil_core::pipelines::{Change, Name, Order, PipelinesError, MAX_PIPELINES};

fn apply(order: &mut Order, write: &str) -> Result<(), PipelinesError> {
    order.apply(&Change::parse(write.as_bytes())?)
}

#[test]
fn adds_removes_and_reorders() {
    let mut o = Order::default();
    assert_eq!(o.to_string(), "default");
    apply(&mut o, "+web\n").unwrap();
    apply(&mut o, "+dns").unwrap();
    assert_eq!(o.to_string(), "default web dns");
    apply(&mut o, "dns default web\n").unwrap();
    assert_eq!(o.to_string(), "dns default web");
    assert_eq!(o.position(&Name::parse(b"web").unwrap()), Some(2));
    apply(&mut o, "-dns").unwrap();
    assert_eq!(o.to_string(), "default web");
}

#[test]
fn refuses_what_would_break_the_order_and_changes_nothing() {
    let mut o = Order::default();
    apply(&mut o, "+web").unwrap();
    let before = o;
    for (write, err) in [
        ("+web", PipelinesError::Exists),
        ("-dns", PipelinesError::Missing),
        ("-default", PipelinesError::Default),
        ("+", PipelinesError::Invalid),
        ("+Web", PipelinesError::Invalid),
        ("+1web", PipelinesError::Invalid),
        ("+a-b", PipelinesError::Invalid),
        ("+abcdefghijklmnop", PipelinesError::Invalid),
        ("+web dns", PipelinesError::Invalid),
        ("", PipelinesError::Invalid),
        ("web", PipelinesError::Invalid),
        ("web web", PipelinesError::Invalid),
        ("web dns", PipelinesError::Invalid),
        ("web default dns", PipelinesError::Invalid),
    ] {
        assert_eq!(apply(&mut o, write), Err(err), "{write:?}");
        assert_eq!(o, before, "{write:?}");
    }
}

#[test]
fn holds_at_most_max_pipelines() {
    let mut o = Order::default();
    for i in 1..MAX_PIPELINES {
        apply(&mut o, &format!("+p{i}")).unwrap();
    }
    assert_eq!(o.len(), MAX_PIPELINES);
    assert_eq!(apply(&mut o, "+one_more"), Err(PipelinesError::Full));
    assert_eq!(o.len(), MAX_PIPELINES);
}

#[test]
fn a_match_survives_its_one_word_form() {
    use vigil_core::ops::Match;
    for text in [
        "all",
        "udp dport 9000-9100",
        "tcp dport 80",
        "udp dport 0-65535",
    ] {
        let m = Match::parse(text.as_bytes()).unwrap();
        assert_ne!(m.to_bits(), 0);
        assert_eq!(Match::from_bits(m.to_bits()), Some(m), "{text}");
    }
    assert_eq!(Match::from_bits(0), None);
}

#[test]
fn a_new_pipeline_shares_the_global_settings_only() {
    use vigil_core::abi::{Key, Value};
    use vigil_core::config::Config;
    let mut running = Config::defaults(2).unwrap();
    running
        .apply(Key::NetnsQuota, 0, Value::Number(77))
        .unwrap();
    running.apply(Key::QueueLen, 0, Value::Number(64)).unwrap();
    let mut new = Config::defaults(2).unwrap();
    new.share_globals(&running);
    assert_eq!(new.pipeline.netns_quota, 77);
    assert_eq!(
        new.pipeline.queue_len,
        Config::defaults(2).unwrap().pipeline.queue_len
    );
}
