//! Generated paths built from hostile segments, run through every operation:
//! nothing outside the root is read, written, listed or deleted, and every
//! path a result names lies inside the root.

mod fs_common;

use fs_common::{Fixture, SECRET, assert_names_inside};
use proptest::prelude::*;
use rustchain_tools_sandbox::SandboxError;
use rustchain_tools_sandbox::fs::{SearchQuery, WriteOptions};

fn segment() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("..".to_owned()),
        Just(".".to_owned()),
        Just(String::new()),
        Just("/".to_owned()),
        Just("\\".to_owned()),
        Just("..\\..".to_owned()),
        Just("\0".to_owned()),
        Just("a".to_owned()),
        Just("b".to_owned()),
        Just("file.txt".to_owned()),
        Just("secret.txt".to_owned()),
        Just("victim.txt".to_owned()),
        Just("outside".to_owned()),
        Just("dir".to_owned()),
        Just("abs_link".to_owned()),
        Just("rel_link".to_owned()),
        Just("chain_a".to_owned()),
        Just("dir_link".to_owned()),
        Just("abs_dir_link".to_owned()),
        Just("inside_link".to_owned()),
        Just("%2e%2e".to_owned()),
        Just("C:".to_owned()),
        Just("日本語".to_owned()),
        Just("\u{FFFD}\u{FFFD}".to_owned()),
        Just("x".repeat(300)),
        "[a-z.]{1,4}",
    ]
}

fn generated_path() -> impl Strategy<Value = String> {
    (any::<bool>(), prop::collection::vec(segment(), 1..6)).prop_map(|(absolute, segs)| {
        let joined = segs.join("/");
        if absolute {
            format!("/{joined}")
        } else {
            joined
        }
    })
}

#[derive(Debug, Clone)]
enum Op {
    Read(String),
    Write(String, bool),
    List(String, bool),
    Search(String, bool),
    Delete(String, bool),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        generated_path().prop_map(Op::Read),
        (generated_path(), any::<bool>()).prop_map(|(p, d)| Op::Write(p, d)),
        (generated_path(), any::<bool>()).prop_map(|(p, r)| Op::List(p, r)),
        (generated_path(), any::<bool>()).prop_map(|(p, t)| Op::Search(p, t)),
        (generated_path(), any::<bool>()).prop_map(|(p, r)| Op::Delete(p, r)),
    ]
}

fn no_panic_message(e: &SandboxError) {
    assert!(!e.to_string().is_empty());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn no_operation_touches_the_outside(ops in prop::collection::vec(op(), 1..8)) {
        let f = Fixture::with_links();
        let before = f.outside_snapshot();
        for op in ops {
            match op {
                Op::Read(p) => match f.root.read(&p) {
                    Ok(data) => prop_assert!(!String::from_utf8_lossy(&data).contains(SECRET)),
                    Err(e) => no_panic_message(&e),
                },
                Op::Write(p, create_dirs) => {
                    let opts = WriteOptions { create_dirs, overwrite: true };
                    if let Err(e) = f.root.write(&p, b"generated", opts) {
                        no_panic_message(&e);
                    }
                }
                Op::List(p, recursive) => match f.root.list(&p, recursive) {
                    Ok(listing) => {
                        for entry in listing.entries {
                            assert_names_inside(&f.root_path, &entry.path);
                        }
                    }
                    Err(e) => no_panic_message(&e),
                },
                Op::Search(p, by_text) => {
                    let query = if by_text {
                        SearchQuery { under: p, text: Some("e".into()), ..SearchQuery::default() }
                    } else {
                        SearchQuery { under: p, glob: Some("*".into()), ..SearchQuery::default() }
                    };
                    match f.root.search(&query) {
                        Ok(found) => {
                            for m in found.matches {
                                assert_names_inside(&f.root_path, &m.path);
                                prop_assert!(!m.text.unwrap_or_default().contains(SECRET));
                            }
                        }
                        Err(e) => no_panic_message(&e),
                    }
                }
                Op::Delete(p, recursive) => {
                    if let Err(e) = f.root.delete(&p, recursive) {
                        no_panic_message(&e);
                    }
                }
            }
            prop_assert_eq!(&f.outside_snapshot(), &before);
        }
        prop_assert!(f.root_path.is_dir(), "the root itself is never deleted");
    }
}
