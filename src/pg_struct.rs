//! Postgres' List and Bitmapset read in place, for the per-statement path (the ExecutorStart
//! hook, usage/record.rs). pgrx's `PgList` and `pg_sys::bms_*` cross pgrx's FFI boundary (a
//! sigsetjmp and thread-local bookkeeping) for every element, which costs more than the work
//! itself; both structures are plain arrays (pg_list.h since PostgreSQL 13, bitmapset.h),
//! described by pgrx's bindings of each major, and reading them can neither raise an ERROR nor
//! allocate.

use pgrx::pg_sys;

/// Members of a Bitmapset word (BITS_PER_BITMAPWORD).
const BITS: usize = pg_sys::bitmapword::BITS as usize;

/// The pointers of a List of pointers, in order (NULL is the empty list).
///
/// # Safety
/// `list` is NULL or a valid List of pointers that is not changed while the iterator is used.
pub unsafe fn pointers<T>(list: *const pg_sys::List) -> impl Iterator<Item = *mut T> {
    let (cells, len) = if list.is_null() {
        (std::ptr::null(), 0)
    } else {
        // SAFETY: a valid List, as the caller promises: `length` cells at `elements`.
        unsafe {
            (
                (*list).elements.cast_const(),
                usize::try_from((*list).length).unwrap_or(0),
            )
        }
    };
    // SAFETY: i < length; a List of pointers holds ptr_value in every cell.
    (0..len).map(move |i| unsafe { (*cells.add(i)).ptr_value.cast::<T>() })
}

/// The pointer at `index` (from 0) of a List of pointers; None past its end.
///
/// # Safety
/// As for `pointers`.
#[cfg_attr(feature = "pg15", allow(dead_code))]
pub unsafe fn nth<T>(list: *const pg_sys::List, index: usize) -> Option<*mut T> {
    // SAFETY: as the caller promises.
    unsafe { pointers(list).nth(index) }
}

/// The members of a Bitmapset, ascending (NULL is the empty set).
///
/// # Safety
/// `set` is NULL or a valid Bitmapset that is not changed while the iterator is used.
pub unsafe fn members(set: *const pg_sys::Bitmapset) -> impl Iterator<Item = i32> {
    let (words, n) = if set.is_null() {
        (std::ptr::null(), 0)
    } else {
        // SAFETY: a valid Bitmapset, as the caller promises: `nwords` words.
        unsafe {
            (
                (*set).words.as_ptr(),
                usize::try_from((*set).nwords).unwrap_or(0),
            )
        }
    };
    (0..n).flat_map(move |w| {
        // SAFETY: w < nwords.
        let mut word = unsafe { *words.add(w) };
        std::iter::from_fn(move || {
            if word == 0 {
                return None;
            }
            let bit = word.trailing_zeros() as usize;
            word &= word - 1;
            // Bitmapset members are ints: nwords * 64 fits.
            Some((w * BITS + bit) as i32)
        })
    })
}

/// Whether a Bitmapset has no member (older majors keep zero words in non-NULL sets).
///
/// # Safety
/// As for `members`.
pub unsafe fn is_empty(set: *const pg_sys::Bitmapset) -> bool {
    // SAFETY: as the caller promises.
    unsafe { members(set).next().is_none() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[repr(C)]
    struct Set<const N: usize> {
        head: pg_sys::Bitmapset,
        words: [pg_sys::bitmapword; N],
    }

    fn set<const N: usize>(words: [pg_sys::bitmapword; N]) -> Set<N> {
        // SAFETY: a plain C struct, all zeroes is a valid value.
        let mut head: pg_sys::Bitmapset = unsafe { std::mem::zeroed() };
        head.nwords = N as i32;
        Set { head, words }
    }

    #[test]
    fn bitmapset_members_are_read_in_order() {
        let s = set([0b1001, 0, 1 << 63 | 1]);
        let got: Vec<i32> = unsafe { members(&s.head) }.collect();
        assert_eq!(got, vec![0, 3, 128, 191]);
        assert!(!unsafe { is_empty(&s.head) });
        // zero words (kept by PostgreSQL 15) and NULL are empty
        let z = set([0, 0]);
        assert!(unsafe { is_empty(&z.head) });
        assert!(unsafe { is_empty(std::ptr::null()) });
        assert_eq!(unsafe { members(std::ptr::null()) }.count(), 0);
    }

    #[test]
    fn list_pointers_are_read_in_order() {
        let mut values = [10u8, 20, 30];
        let mut cells: Vec<pg_sys::ListCell> = values
            .iter_mut()
            .map(|v| pg_sys::ListCell {
                ptr_value: std::ptr::from_mut(v).cast(),
            })
            .collect();
        // SAFETY: a plain C struct, all zeroes is a valid value.
        let mut list: pg_sys::List = unsafe { std::mem::zeroed() };
        list.length = 3;
        list.elements = cells.as_mut_ptr();
        let got: Vec<u8> = unsafe { pointers::<u8>(&list) }
            .map(|p| unsafe { *p })
            .collect();
        assert_eq!(got, vec![10, 20, 30]);
        assert_eq!(unsafe { nth::<u8>(&list, 2).map(|p| *p) }, Some(30));
        assert_eq!(unsafe { nth::<u8>(&list, 3) }, None);
        assert_eq!(unsafe { pointers::<u8>(std::ptr::null()) }.count(), 0);
    }
}
