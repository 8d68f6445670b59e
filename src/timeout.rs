//! Run one statement with a bounded `lock_timeout`, then put the session's value back.
//!
//! The value is set with GUC_ACTION_SAVE in a new GUC nest level, exactly as a function's
//! `SET lock_timeout = ...` clause does: on success `restore` pops it, and if the statement fails
//! the (sub)transaction abort pops it, so the session never keeps our value.

use std::ffi::CString;

use pgrx::pg_sys;

use crate::xact::local_transaction_id;

pub struct Applied {
    nest_level: i32,
    /// The backend's local transaction id when the value was set. A statement that commits
    /// internally ends that transaction, and the commit already popped our value.
    lxid: u32,
}

/// The lock_timeout the statement should run with: ours when the session's is 0 (wait forever)
/// or longer than ours, else None (keep the session's shorter one).
pub fn effective(session_ms: i32, guard_ms: i32) -> Option<i32> {
    (guard_ms > 0 && (session_ms == 0 || session_ms > guard_ms)).then_some(guard_ms)
}

/// Set lock_timeout for the statement about to run, if ours is stricter.
pub fn apply(guard_ms: i32) -> Option<Applied> {
    // SAFETY: LockTimeout is the backend's current lock_timeout in ms.
    let session_ms = unsafe { pg_sys::LockTimeout };
    effective(session_ms, guard_ms).map(force)
}

/// Set lock_timeout to `ms` in a new GUC nest level, whatever the session's value.
pub fn force(ms: i32) -> Applied {
    let value = CString::new(format!("{ms}ms")).expect("no NUL in a number");
    // SAFETY: standard GUC API use, as fmgr_security_definer does for proconfig.
    unsafe {
        let nest_level = pg_sys::NewGUCNestLevel();
        pg_sys::set_config_option(
            c"lock_timeout".as_ptr(),
            value.as_ptr(),
            pg_sys::GucContext::PGC_USERSET,
            pg_sys::GucSource::PGC_S_SESSION,
            pg_sys::GucAction::GUC_ACTION_SAVE,
            true,
            0,
            false,
        );
        Applied {
            nest_level,
            lxid: local_transaction_id(),
        }
    }
}

impl Applied {
    /// Put the previous value back after the statement succeeded.
    pub fn restore(self) {
        if local_transaction_id() != self.lxid {
            return;
        }
        // SAFETY: pops exactly the nest level apply() pushed, in the same transaction.
        unsafe { pg_sys::AtEOXact_GUC(true, self.nest_level) };
    }
}

#[cfg(test)]
mod tests {
    use super::effective;

    #[test]
    fn stricter_value_wins() {
        assert_eq!(effective(0, 200), Some(200));
        assert_eq!(effective(5000, 200), Some(200));
        assert_eq!(effective(100, 200), None);
        assert_eq!(effective(200, 200), None);
        assert_eq!(effective(0, 0), None);
    }
}
