//! The one way the helpers write their state tables (`safe_ddl.column_changes`,
//! `table_renames`, `backfill_jobs`; issue 12): no role may write them directly, and a row names
//! the role that acts (by OID) so that nobody can make another role -- a superuser above all --
//! run SQL it did not write.
//!
//! A `SECURITY DEFINER` function cannot see who called it (`current_user` is its owner then), and
//! the session user or the `role` setting can differ from the role whose code is running (SET
//! ROLE, another role's `SECURITY DEFINER` function, an index expression run by ANALYZE). So, as
//! Postgres' own referential-integrity triggers do, this reads the acting role with
//! `GetUserId()` first, then switches to the extension's owner (`SetUserIdAndSecContext`, as a
//! security-restricted operation) to call `safe_ddl._state_write(actor, op, args)`, which checks
//! `op`'s arguments against the catalog and writes the row. `_state_write` itself is not
//! executable by PUBLIC: this function is the only way in, and the actor it gets cannot be forged.
use pgrx::prelude::*;

/// Restores the caller's user id and security context, also when the write fails (an ERROR
/// unwinds through here; the (sub)transaction abort would restore them too).
struct Restore {
    uid: pg_sys::Oid,
    ctx: i32,
}

impl Drop for Restore {
    fn drop(&mut self) {
        // SAFETY: plain assignments of two backend globals to values read from them.
        unsafe { pg_sys::SetUserIdAndSecContext(self.uid, self.ctx) };
    }
}

#[pg_extern(volatile, parallel_unsafe)]
fn _state(op: &str, args: &str) -> Option<String> {
    // SAFETY: reads of backend globals.
    let actor = unsafe { pg_sys::GetUserId() };
    let (mut uid, mut ctx) = (pg_sys::InvalidOid, 0i32);
    // SAFETY: out-parameters of the right types.
    unsafe { pg_sys::GetUserIdAndSecContext(&mut uid, &mut ctx) };
    let (owner, call) = Spi::get_two::<pg_sys::Oid, String>(
        "SELECT e.extowner, pg_catalog.format('SELECT %I._state_write($1, $2, $3)', n.nspname) \
           FROM pg_catalog.pg_extension AS e \
           JOIN pg_catalog.pg_namespace AS n ON n.oid = e.extnamespace \
          WHERE e.extname = 'safe_ddl'",
    )
    .unwrap_or_else(|e| error!("safe_ddl._state: cannot find the extension: {e}"));
    let (Some(owner), Some(call)) = (owner, call) else {
        error!("safe_ddl._state: the safe_ddl extension is not installed in this database");
    };
    let _restore = Restore { uid, ctx };
    // SAFETY: as SECURITY DEFINER functions do (fmgr_security_definer), restored by _restore.
    unsafe {
        pg_sys::SetUserIdAndSecContext(
            owner,
            ctx | pg_sys::SECURITY_LOCAL_USERID_CHANGE as i32
                | pg_sys::SECURITY_RESTRICTED_OPERATION as i32,
        )
    };
    Spi::get_one_with_args::<String>(&call, &[actor.into(), op.into(), args.into()])
        .unwrap_or_else(|e| error!("safe_ddl._state: {e}"))
}
