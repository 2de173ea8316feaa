//! Merging versions of one record, the same on every device and on the
//! clinic server (docs/sync-design.md §6).
//!
//! Every version carries a version vector: for each author (device or
//! clinic), the highest sequence number it includes. A record's state is its
//! **tips**, the versions no other version seen includes. A version already
//! included by a tip changes nothing (so applying is idempotent), one that
//! includes tips replaces them, and one concurrent with them joins them. The
//! tips after any set of versions are the same whatever their order of
//! arrival. The **winner** is the tip with the largest `(hlc, author)`.
//!
//! Patient-written records keep every concurrent tip: the others are
//! conflict versions the patient sees and resolves (a version whose vector
//! includes all tips). Last-writer-wins records keep only the winner, with
//! the join of both vectors so that the loser is "seen" if it comes again.

use super::messages::Id16;

/// A version vector, sorted by author.
pub type Vv = Vec<(Id16, u64)>;

/// Whether every entry of `a` is at or below `b`'s for the same author.
pub fn vv_leq(a: &[(Id16, u64)], b: &[(Id16, u64)]) -> bool {
    a.iter()
        .all(|(d, n)| *n == 0 || b.iter().find(|(e, _)| e == d).is_some_and(|(_, m)| m >= n))
}

/// The entry-wise maximum of two vectors, sorted by author.
pub fn vv_join(a: &[(Id16, u64)], b: &[(Id16, u64)]) -> Vv {
    let mut out: Vv = a.to_vec();
    for (d, n) in b {
        match out.iter_mut().find(|(e, _)| e == d) {
            Some((_, m)) => *m = (*m).max(*n),
            None => out.push((*d, *n)),
        }
    }
    out.sort_unstable_by_key(|x| x.0);
    out
}

/// Sorts a vector by author and checks it has no author twice.
pub fn vv_normalize(mut vv: Vv) -> Option<Vv> {
    vv.sort_unstable_by_key(|x| x.0);
    vv.windows(2).all(|w| w[0].0 != w[1].0).then_some(vv)
}

/// One version of a record.
#[derive(Debug, Clone, PartialEq)]
pub struct Version<T> {
    /// Its HLC stamp.
    pub hlc: u64,
    /// Who wrote it (breaks ties between equal stamps).
    pub author: Id16,
    /// Its version vector.
    pub vv: Vv,
    /// What the caller keeps with it (a change id, a body).
    pub data: T,
}

impl<T> Version<T> {
    fn rank(&self) -> (u64, Id16) {
        (self.hlc, self.author)
    }
}

/// What applying a version did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// A tip already includes it: nothing changed.
    Seen,
    /// It replaced `superseded` tips (0: it is concurrent with all of them,
    /// or the record was new).
    Added {
        /// How many tips it replaced.
        superseded: usize,
    },
}

/// Applies `v` to a record's tips, winner first afterwards. `lww` keeps the
/// winner only (last-writer-wins records). Callers check vectors with
/// [`vv_normalize`] when they decode them; a vector naming an author twice
/// is treated as empty here.
pub fn apply<T>(tips: &mut Vec<Version<T>>, mut v: Version<T>, lww: bool) -> Applied {
    if tips.iter().any(|t| vv_leq(&v.vv, &t.vv)) {
        return Applied::Seen;
    }
    v.vv = vv_normalize(std::mem::take(&mut v.vv)).unwrap_or_default();
    let before = tips.len();
    tips.retain(|t| !vv_leq(&t.vv, &v.vv));
    let superseded = before - tips.len();
    if lww && !tips.is_empty() {
        // One tip stays: the larger stamp, with both vectors joined.
        let t = tips.pop().expect("one tip");
        let vv = vv_join(&t.vv, &v.vv);
        let mut win = if t.rank() > v.rank() { t } else { v };
        win.vv = vv;
        tips.push(win);
        return Applied::Added { superseded };
    }
    tips.push(v);
    tips.sort_by_key(|t| std::cmp::Reverse(t.rank()));
    Applied::Added { superseded }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(author: u8, hlc: u64, vv: &[(u8, u64)]) -> Version<u32> {
        Version {
            hlc,
            author: [author; 16],
            vv: vv.iter().map(|(d, n)| ([*d; 16], *n)).collect(),
            data: (author as u32) * 1000 + hlc as u32,
        }
    }

    fn tips_after(order: &[Version<u32>], lww: bool) -> Vec<(u64, Id16)> {
        let mut tips = Vec::new();
        for x in order {
            apply(&mut tips, x.clone(), lww);
        }
        tips.iter().map(|t| t.rank()).collect()
    }

    #[test]
    fn vectors_compare_and_join() {
        let a = [([1; 16], 2), ([2; 16], 1)];
        let b = [([1; 16], 3)];
        assert!(!vv_leq(&a, &b));
        assert!(vv_leq(&b, &vv_join(&a, &b)));
        assert!(vv_leq(&a, &vv_join(&a, &b)));
        assert!(vv_leq(&[([9; 16], 0)], &[]));
        assert!(vv_normalize(vec![([1; 16], 1), ([1; 16], 2)]).is_none());
    }

    #[test]
    fn concurrent_edits_keep_both_and_converge_in_any_order() {
        let base = v(1, 10, &[(1, 1)]);
        let edit_a = v(1, 20, &[(1, 2)]);
        let edit_b = v(2, 15, &[(1, 1), (2, 1)]);
        let resend = base.clone();
        let all = [base, edit_a.clone(), edit_b.clone(), resend];
        let expected = tips_after(&all, false);
        assert_eq!(
            expected,
            [edit_a.rank(), edit_b.rank()],
            "both kept, winner first"
        );
        // Every order of arrival, duplicates included, gives the same tips.
        let mut idx = [0usize, 1, 2, 3];
        permute(&mut idx, 0, &mut |p| {
            let order: Vec<_> = p.iter().map(|&i| all[i].clone()).collect();
            assert_eq!(tips_after(&order, false), expected, "{p:?}");
            assert_eq!(tips_after(&order, true), [edit_a.rank()], "{p:?}");
        });
        // A resolution that includes both tips replaces them everywhere.
        let resolved = v(2, 30, &[(1, 2), (2, 2)]);
        let mut tips = Vec::new();
        for x in all.iter().chain([&resolved]) {
            apply(&mut tips, x.clone(), false);
        }
        assert_eq!(tips.len(), 1);
        assert_eq!(apply(&mut tips, edit_b, false), Applied::Seen);
    }

    #[test]
    fn ties_on_the_stamp_break_on_the_author() {
        let a = v(1, 10, &[(1, 1)]);
        let b = v(2, 10, &[(2, 1)]);
        assert_eq!(tips_after(&[a.clone(), b.clone()], true), [b.rank()]);
        assert_eq!(tips_after(&[b.clone(), a], true), [b.rank()]);
    }

    fn permute(a: &mut [usize], k: usize, f: &mut impl FnMut(&[usize])) {
        if k == a.len() {
            return f(a);
        }
        for i in k..a.len() {
            a.swap(k, i);
            permute(a, k + 1, f);
            a.swap(k, i);
        }
    }
}
