//! The Merkle tree of Certificate Transparency (RFC 9162, section 2.1):
//! tree hashes, inclusion and consistency proofs and their verification, and
//! a compact frontier that keeps the root of a growing log in O(log n) space.
//!
//! Written here rather than taken from `ct-merkle` because that crate keeps
//! the whole tree in memory and is built on `digest` 0.11, while the rest of
//! the workspace uses `sha2` 0.10; the algorithms are short and are checked
//! below against the recursive definitions of RFC 6962 for every size.

use sha2::{Digest, Sha256};

/// A SHA-256 hash.
pub type Hash = [u8; 32];

/// The hash of a leaf: SHA-256(0x00 || data).
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(data);
    h.finalize().into()
}

/// The hash of an inner node: SHA-256(0x01 || left || right).
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// The root of the empty tree: SHA-256 of nothing.
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// The largest power of two smaller than `n` (for `n >= 2`).
fn split(n: usize) -> usize {
    1 << (usize::BITS - 1 - (n - 1).leading_zeros())
}

/// The root (MTH) of the tree whose leaf hashes are `leaves`.
pub fn root(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => empty_root(),
        1 => leaves[0],
        n => {
            let k = split(n);
            node_hash(&root(&leaves[..k]), &root(&leaves[k..]))
        }
    }
}

/// The inclusion proof (audit path) of leaf `index` in the tree of `leaves`,
/// or `None` if there is no such leaf.
pub fn inclusion_proof(leaves: &[Hash], index: usize) -> Option<Vec<Hash>> {
    (index < leaves.len()).then(|| {
        let mut proof = Vec::new();
        path(index, leaves, &mut proof);
        proof
    })
}

fn path(m: usize, leaves: &[Hash], out: &mut Vec<Hash>) {
    let n = leaves.len();
    if n <= 1 {
        return;
    }
    let k = split(n);
    if m < k {
        path(m, &leaves[..k], out);
        out.push(root(&leaves[k..]));
    } else {
        path(m - k, &leaves[k..], out);
        out.push(root(&leaves[..k]));
    }
}

/// The consistency proof between the tree of the first `old_size` leaves and
/// the tree of all `leaves`, or `None` if `old_size` exceeds the tree.
pub fn consistency_proof(leaves: &[Hash], old_size: usize) -> Option<Vec<Hash>> {
    if old_size > leaves.len() {
        return None;
    }
    let mut proof = Vec::new();
    if old_size > 0 {
        subproof(old_size, leaves, true, &mut proof);
    }
    Some(proof)
}

fn subproof(m: usize, leaves: &[Hash], complete: bool, out: &mut Vec<Hash>) {
    let n = leaves.len();
    if m == n {
        if !complete {
            out.push(root(leaves));
        }
        return;
    }
    let k = split(n);
    if m <= k {
        subproof(m, &leaves[..k], complete, out);
        out.push(root(&leaves[k..]));
    } else {
        subproof(m - k, &leaves[k..], false, out);
        out.push(root(&leaves[..k]));
    }
}

/// Checks that `leaf` is leaf `index` of the tree of `size` leaves with
/// `root` (RFC 9162, 2.1.3.2).
pub fn verify_inclusion(index: u64, size: u64, leaf: &Hash, proof: &[Hash], root: &Hash) -> bool {
    if index >= size {
        return false;
    }
    let (mut f, mut s) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if s == 0 {
            return false;
        }
        if f & 1 == 1 || f == s {
            r = node_hash(p, &r);
            while f & 1 == 0 && f != 0 {
                f >>= 1;
                s >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        f >>= 1;
        s >>= 1;
    }
    s == 0 && r == *root
}

/// Checks that the tree of `old_size` leaves with `old_root` is a prefix of
/// the tree of `new_size` leaves with `new_root` (RFC 9162, 2.1.4.2).
pub fn verify_consistency(
    old_size: u64,
    new_size: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> bool {
    if old_size > new_size {
        return false;
    }
    if old_size == new_size {
        return proof.is_empty() && old_root == new_root;
    }
    if old_size == 0 {
        // Every tree extends the empty one.
        return proof.is_empty() && *old_root == empty_root();
    }
    let mut path: Vec<&Hash> = proof.iter().collect();
    if old_size.is_power_of_two() {
        path.insert(0, old_root);
    }
    let Some((first, rest)) = path.split_first() else {
        return false;
    };
    let (mut f, mut s) = (old_size - 1, new_size - 1);
    while f & 1 == 1 {
        f >>= 1;
        s >>= 1;
    }
    let (mut fr, mut sr) = (**first, **first);
    for c in rest {
        if s == 0 {
            return false;
        }
        if f & 1 == 1 || f == s {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            while f & 1 == 0 && f != 0 {
                f >>= 1;
                s >>= 1;
            }
        } else {
            sr = node_hash(&sr, c);
        }
        f >>= 1;
        s >>= 1;
    }
    fr == *old_root && sr == *new_root && s == 0
}

/// The right edge of a growing tree: the roots of its perfect subtrees, left
/// to right. Enough to compute the root and to add leaves.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Frontier {
    size: u64,
    peaks: Vec<Hash>,
}

impl Frontier {
    /// The frontier of the empty tree.
    pub fn new() -> Self {
        Frontier::default()
    }

    /// A frontier from its parts, if they agree (one peak per set bit of
    /// `size`).
    pub fn from_parts(size: u64, peaks: Vec<Hash>) -> Option<Self> {
        (size.count_ones() as usize == peaks.len()).then_some(Frontier { size, peaks })
    }

    /// How many leaves the tree has.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The roots of the perfect subtrees, largest first.
    pub fn peaks(&self) -> &[Hash] {
        &self.peaks
    }

    /// Adds a leaf hash.
    pub fn push(&mut self, leaf: Hash) {
        self.peaks.push(leaf);
        self.size += 1;
        // A perfect subtree completes for each trailing zero of the new size.
        for _ in 0..self.size.trailing_zeros() {
            let (Some(right), Some(left)) = (self.peaks.pop(), self.peaks.pop()) else {
                unreachable!("a frontier holds one peak per set bit of its size");
            };
            self.peaks.push(node_hash(&left, &right));
        }
    }

    /// The root of the tree.
    pub fn root(&self) -> Hash {
        let mut peaks = self.peaks.iter().rev();
        let Some(last) = peaks.next() else {
            return empty_root();
        };
        peaks.fold(*last, |acc, peak| node_hash(peak, &acc))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn leaves(n: usize) -> Vec<Hash> {
        (0..n).map(|i| leaf_hash(&i.to_le_bytes())).collect()
    }

    #[test]
    fn known_roots_match_the_definition() {
        let l = leaves(3);
        assert_eq!(root(&l), node_hash(&node_hash(&l[0], &l[1]), &l[2]));
        assert_eq!(root(&[]), empty_root());
    }

    #[test]
    fn every_inclusion_proof_verifies_for_every_size_and_index() {
        for n in 1..=70 {
            let l = leaves(n);
            let r = root(&l);
            for i in 0..n {
                let p = inclusion_proof(&l, i).unwrap();
                assert!(
                    verify_inclusion(i as u64, n as u64, &l[i], &p, &r),
                    "n={n} i={i}"
                );
                // The same proof for a neighbour, or a wrong size, fails.
                let other = (i + 1) % n;
                if other != i {
                    assert!(!verify_inclusion(other as u64, n as u64, &l[i], &p, &r));
                }
            }
            assert!(inclusion_proof(&l, n).is_none());
        }
    }

    #[test]
    fn every_consistency_proof_verifies_for_every_pair_of_sizes() {
        let all = leaves(70);
        for n in 0..=70 {
            let new_root = root(&all[..n]);
            for m in 0..=n {
                let p = consistency_proof(&all[..n], m).unwrap();
                let old_root = root(&all[..m]);
                assert!(
                    verify_consistency(m as u64, n as u64, &old_root, &new_root, &p),
                    "{m}->{n}"
                );
                if m != n && m > 0 {
                    let wrong = root(&all[1..=m]);
                    assert!(!verify_consistency(
                        m as u64, n as u64, &wrong, &new_root, &p
                    ));
                }
            }
        }
    }

    #[test]
    fn the_frontier_tracks_the_root() {
        let l = leaves(200);
        let mut f = Frontier::new();
        assert_eq!(f.root(), empty_root());
        for (i, leaf) in l.iter().enumerate() {
            f.push(*leaf);
            assert_eq!(f.root(), root(&l[..=i]));
            assert_eq!(
                Frontier::from_parts(f.size(), f.peaks().to_vec()),
                Some(f.clone())
            );
        }
        assert!(Frontier::from_parts(3, vec![[0; 32]]).is_none());
    }

    proptest! {
        #[test]
        fn a_flipped_byte_fails_an_inclusion_proof(n in 2usize..300, i in any::<prop::sample::Index>(), at in any::<prop::sample::Index>(), bit in 0u8..8) {
            let l = leaves(n);
            let i = i.index(n);
            let r = root(&l);
            let mut p = inclusion_proof(&l, i).unwrap();
            prop_assert!(verify_inclusion(i as u64, n as u64, &l[i], &p, &r));
            let at = at.index(p.len() * 32);
            p[at / 32][at % 32] ^= 1 << bit;
            prop_assert!(!verify_inclusion(i as u64, n as u64, &l[i], &p, &r));
        }

        #[test]
        fn a_flipped_byte_fails_a_consistency_proof(n in 3usize..300, m in any::<prop::sample::Index>(), at in any::<prop::sample::Index>(), bit in 0u8..8) {
            let l = leaves(n);
            let m = 1 + m.index(n - 1);
            let (old, new) = (root(&l[..m]), root(&l));
            let mut p = consistency_proof(&l, m).unwrap();
            prop_assert!(verify_consistency(m as u64, n as u64, &old, &new, &p));
            prop_assert!(!p.is_empty());
            let at = at.index(p.len() * 32);
            p[at / 32][at % 32] ^= 1 << bit;
            prop_assert!(!verify_consistency(m as u64, n as u64, &old, &new, &p));
        }

        #[test]
        fn inclusion_proofs_are_logarithmic(n in 1usize..5000, i in any::<prop::sample::Index>()) {
            let l = leaves(n);
            let i = i.index(n);
            let p = inclusion_proof(&l, i).unwrap();
            prop_assert!(p.len() <= (usize::BITS - (n - 1).leading_zeros()) as usize);
            prop_assert!(verify_inclusion(i as u64, n as u64, &l[i], &p, &root(&l)));
        }
    }
}
