//! How the library came to be loaded in this backend, recorded by _PG_init.

use std::ffi::CStr;
use std::sync::atomic::{AtomicU8, Ordering};

use pgrx::pg_sys;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum LoadedVia {
    SharedPreload,
    SessionPreload,
    OnDemand,
}

static HOW: AtomicU8 = AtomicU8::new(2);

impl LoadedVia {
    pub fn covers_all_sessions(self) -> bool {
        self != LoadedVia::OnDemand
    }

    pub fn explain(self) -> &'static str {
        match self {
            LoadedVia::SharedPreload => "every session is guarded",
            LoadedVia::SessionPreload => "sessions started since session_preload_libraries included safe_ddl are guarded",
            LoadedVia::OnDemand => {
                "loaded on demand (LOAD or a function call): only this backend is guarded; add safe_ddl to shared_preload_libraries"
            }
        }
    }
}

impl std::fmt::Display for LoadedVia {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            LoadedVia::SharedPreload => "shared_preload_libraries",
            LoadedVia::SessionPreload => "session_preload_libraries",
            LoadedVia::OnDemand => "on demand",
        })
    }
}

/// Called from _PG_init.
pub fn record() {
    // SAFETY: reads of backend globals / GUC values during library load.
    let how = unsafe {
        if pg_sys::process_shared_preload_libraries_in_progress {
            LoadedVia::SharedPreload
        } else if listed_in(c"session_preload_libraries") || listed_in(c"local_preload_libraries") {
            LoadedVia::SessionPreload
        } else {
            LoadedVia::OnDemand
        }
    };
    HOW.store(how as u8, Ordering::Relaxed);
}

pub fn how() -> LoadedVia {
    match HOW.load(Ordering::Relaxed) {
        0 => LoadedVia::SharedPreload,
        1 => LoadedVia::SessionPreload,
        _ => LoadedVia::OnDemand,
    }
}

unsafe fn listed_in(guc: &CStr) -> bool {
    // SAFETY: GetConfigOption with missing_ok returns NULL or a valid string.
    let v = unsafe { pg_sys::GetConfigOption(guc.as_ptr(), true, false) };
    if v.is_null() {
        return false;
    }
    // SAFETY: non-NULL GUC values are NUL-terminated.
    let s = unsafe { CStr::from_ptr(v) }.to_string_lossy();
    s.split(',').any(|lib| {
        let lib = lib.trim().trim_matches('"');
        lib == "safe_ddl" || lib.ends_with("/safe_ddl") || lib == "$libdir/safe_ddl"
    })
}
