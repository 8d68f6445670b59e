//! The few libpq calls the primary needs to ask its standbys for their uses (`standbys`): the
//! client library PostgreSQL ships (libpq5, installed with every server package), opened with
//! dlopen the first time a standby is asked, so that a server without it still loads safe_ddl
//! (then asking fails, and the verdict says so). No new protocol: an ordinary connection and one
//! query. Nothing here raises a Postgres ERROR or panics; every failure is a Rust `Err`.

use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::sync::OnceLock;

type Conn = c_void;
type Res = c_void;

struct Api {
    connectdb_params:
        unsafe extern "C" fn(*const *const c_char, *const *const c_char, c_int) -> *mut Conn,
    status: unsafe extern "C" fn(*const Conn) -> c_int,
    error_message: unsafe extern "C" fn(*const Conn) -> *const c_char,
    exec_params: unsafe extern "C" fn(
        *mut Conn,
        *const c_char,
        c_int,
        *const u32,
        *const *const c_char,
        *const c_int,
        *const c_int,
        c_int,
    ) -> *mut Res,
    result_status: unsafe extern "C" fn(*const Res) -> c_int,
    result_error_message: unsafe extern "C" fn(*const Res) -> *const c_char,
    ntuples: unsafe extern "C" fn(*const Res) -> c_int,
    nfields: unsafe extern "C" fn(*const Res) -> c_int,
    get_value: unsafe extern "C" fn(*const Res, c_int, c_int) -> *const c_char,
    get_is_null: unsafe extern "C" fn(*const Res, c_int, c_int) -> c_int,
    clear: unsafe extern "C" fn(*mut Res),
    finish: unsafe extern "C" fn(*mut Conn),
}

const CONNECTION_OK: c_int = 0;
const PGRES_TUPLES_OK: c_int = 2;

static API: OnceLock<Result<Api, String>> = OnceLock::new();

fn api() -> Result<&'static Api, String> {
    API.get_or_init(load).as_ref().map_err(Clone::clone)
}

// Each transmute's target is the type of the `Api` field it initialises.
#[allow(clippy::missing_transmute_annotations)]
fn load() -> Result<Api, String> {
    // SAFETY: dlopen/dlsym with NUL-terminated names; each symbol is cast to the signature
    // libpq-fe.h declares for it (stable across libpq 5.x).
    unsafe {
        let handle = libc::dlopen(c"libpq.so.5".as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL);
        if handle.is_null() {
            let why = libc::dlerror();
            let why = if why.is_null() {
                "unknown error".into()
            } else {
                CStr::from_ptr(why).to_string_lossy().into_owned()
            };
            return Err(format!("could not load libpq (libpq.so.5): {why}"));
        }
        macro_rules! sym {
            ($name:literal) => {{
                let p = libc::dlsym(handle, $name.as_ptr());
                if p.is_null() {
                    return Err(format!("libpq.so.5 has no {:?}", $name));
                }
                std::mem::transmute::<*mut c_void, _>(p)
            }};
        }
        Ok(Api {
            connectdb_params: sym!(c"PQconnectdbParams"),
            status: sym!(c"PQstatus"),
            error_message: sym!(c"PQerrorMessage"),
            exec_params: sym!(c"PQexecParams"),
            result_status: sym!(c"PQresultStatus"),
            result_error_message: sym!(c"PQresultErrorMessage"),
            ntuples: sym!(c"PQntuples"),
            nfields: sym!(c"PQnfields"),
            get_value: sym!(c"PQgetvalue"),
            get_is_null: sym!(c"PQgetisnull"),
            clear: sym!(c"PQclear"),
            finish: sym!(c"PQfinish"),
        })
    }
}

fn value(p: *const c_char) -> String {
    if p.is_null() {
        return String::new();
    }
    // SAFETY: a NUL-terminated string of libpq's, valid until the next call on its object.
    unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
}

/// A libpq error message, without its severity prefix and trailing newline.
fn text(p: *const c_char) -> String {
    let v = value(p);
    let v = v.trim_end();
    ["ERROR:  ", "FATAL:  "]
        .iter()
        .find_map(|p| v.strip_prefix(p))
        .unwrap_or(v)
        .to_string()
}

struct Connection<'a> {
    api: &'a Api,
    conn: *mut Conn,
}

impl Drop for Connection<'_> {
    fn drop(&mut self) {
        // SAFETY: a connection object of PQconnectdbParams, finished once.
        unsafe { (self.api.finish)(self.conn) };
    }
}

struct Result_<'a> {
    api: &'a Api,
    res: *mut Res,
}

impl Drop for Result_<'_> {
    fn drop(&mut self) {
        // SAFETY: a result of PQexecParams, cleared once.
        unsafe { (self.api.clear)(self.res) };
    }
}

fn cstring(s: &str) -> Result<CString, String> {
    CString::new(s).map_err(|_| "a connection parameter holds a NUL byte".to_string())
}

/// Connect with `params` (keyword, value; a `dbname` value may be a whole connection string,
/// expanded as libpq does, later keywords overriding it), run `query` with text parameters
/// `args`, and return its rows as text (None for NULL).
pub fn query(
    params: &[(&str, &str)],
    query: &str,
    args: &[&str],
) -> Result<Vec<Vec<Option<String>>>, String> {
    let api = api()?;
    let owned: Vec<(CString, CString)> = params
        .iter()
        .map(|(k, v)| Ok((cstring(k)?, cstring(v)?)))
        .collect::<Result<_, String>>()?;
    let mut keys: Vec<*const c_char> = owned.iter().map(|(k, _)| k.as_ptr()).collect();
    let mut values: Vec<*const c_char> = owned.iter().map(|(_, v)| v.as_ptr()).collect();
    keys.push(std::ptr::null());
    values.push(std::ptr::null());
    // SAFETY: NULL-terminated arrays of NUL-terminated strings that outlive the call.
    let conn = unsafe { (api.connectdb_params)(keys.as_ptr(), values.as_ptr(), 1) };
    if conn.is_null() {
        return Err("out of memory in libpq".into());
    }
    let conn = Connection { api, conn };
    // SAFETY: a connection object of PQconnectdbParams.
    if unsafe { (api.status)(conn.conn) } != CONNECTION_OK {
        // SAFETY: as above.
        return Err(text(unsafe { (api.error_message)(conn.conn) }));
    }
    let q = cstring(query)?;
    let args_c: Vec<CString> = args.iter().map(|a| cstring(a)).collect::<Result<_, _>>()?;
    let arg_ptrs: Vec<*const c_char> = args_c.iter().map(|a| a.as_ptr()).collect();
    let n = c_int::try_from(arg_ptrs.len()).map_err(|_| "too many parameters")?;
    // SAFETY: a live connection, a NUL-terminated query and n text parameters.
    let res = unsafe {
        (api.exec_params)(
            conn.conn,
            q.as_ptr(),
            n,
            std::ptr::null(),
            arg_ptrs.as_ptr(),
            std::ptr::null(),
            std::ptr::null(),
            0,
        )
    };
    if res.is_null() {
        // SAFETY: as above.
        return Err(text(unsafe { (api.error_message)(conn.conn) }));
    }
    let res = Result_ { api, res };
    // SAFETY (the rest): a live result; rows and fields within its counts.
    unsafe {
        if (api.result_status)(res.res) != PGRES_TUPLES_OK {
            return Err(text((api.result_error_message)(res.res)));
        }
        let (rows, fields) = ((api.ntuples)(res.res), (api.nfields)(res.res));
        Ok((0..rows)
            .map(|r| {
                (0..fields)
                    .map(|f| {
                        ((api.get_is_null)(res.res, r, f) == 0)
                            .then(|| value((api.get_value)(res.res, r, f)))
                    })
                    .collect()
            })
            .collect())
    }
}
