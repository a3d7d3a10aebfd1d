//! Split/join round trip over arbitrary records and line lengths.

use ferrocap_dataplane::log::split::{join, split, JoinStatus, MIN_LINE};
use proptest::prelude::*;

fn record() -> impl Strategy<Value = String> {
    // Any characters but line breaks, with the markers over-represented.
    prop::collection::vec(
        prop_oneof![
            3 => Just('\\'),
            3 => Just('~'),
            2 => Just(' '),
            8 => any::<char>().prop_filter("single-line", |c| *c != '\n' && *c != '\r'),
        ],
        0..300,
    )
    .prop_map(|v| v.into_iter().collect())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn round_trip(rec in record(), max_line in 0usize..200) {
        let parts = split(&rec, max_line);
        let limit = max_line.max(MIN_LINE);
        for (i, p) in parts.iter().enumerate() {
            prop_assert!(p.len() <= limit, "part {i} {p:?} longer than {limit}");
            prop_assert_eq!(i > 0, p.starts_with('~'));
            prop_assert_eq!(i + 1 < parts.len(), p.ends_with('\\'));
        }
        let joined = join(parts.iter().map(String::as_str));
        prop_assert_eq!(joined, vec![(rec, JoinStatus::Complete)]);
    }

    #[test]
    fn sequences_round_trip(recs in prop::collection::vec(record(), 0..5), max_line in 8usize..64) {
        let lines: Vec<String> = recs.iter().flat_map(|r| split(r, max_line)).collect();
        let joined = join(lines.iter().map(String::as_str));
        let want: Vec<(String, JoinStatus)> =
            recs.into_iter().map(|r| (r, JoinStatus::Complete)).collect();
        prop_assert_eq!(joined, want);
    }

    #[test]
    fn torn_last_record_is_reported(rec in record(), max_line in 8usize..40) {
        let parts = split(&rec, max_line);
        prop_assume!(parts.len() > 1);
        let torn = &parts[..parts.len() - 1];
        let joined = join(torn.iter().map(String::as_str));
        prop_assert_eq!(joined.len(), 1);
        prop_assert_eq!(joined[0].1, JoinStatus::Torn);
        prop_assert!(rec.starts_with(&joined[0].0));
    }

    #[test]
    fn join_never_panics(lines in prop::collection::vec(".{0,20}", 0..20)) {
        let _ = join(lines.iter().map(String::as_str));
    }
}

#[test]
fn orphan_continuation() {
    let j = join(["~lost\\", "~tail", "whole"]);
    assert_eq!(
        j,
        vec![
            ("losttail".to_string(), JoinStatus::Orphan),
            ("whole".to_string(), JoinStatus::Complete),
        ]
    );
}
