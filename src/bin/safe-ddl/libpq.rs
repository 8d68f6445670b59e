//! A small safe wrapper over libpq (the C client library), through FFI: connections, simple
//! and parameterised queries with text values, results and error fields. Nothing else.

use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::ptr;

#[allow(non_camel_case_types)]
type PGconn = c_void;
#[allow(non_camel_case_types)]
type PGresult = c_void;
type Oid = u32;

const CONNECTION_OK: c_int = 0;
const PGRES_EMPTY_QUERY: c_int = 0;
const PGRES_COMMAND_OK: c_int = 1;
const PGRES_TUPLES_OK: c_int = 2;
const PGRES_COPY_OUT: c_int = 3;
const PGRES_COPY_IN: c_int = 4;
const PQTRANS_IDLE: c_int = 0;

const PG_DIAG_SQLSTATE: c_int = b'C' as c_int;
const PG_DIAG_MESSAGE_PRIMARY: c_int = b'M' as c_int;
const PG_DIAG_MESSAGE_DETAIL: c_int = b'D' as c_int;
const PG_DIAG_MESSAGE_HINT: c_int = b'H' as c_int;
const PG_DIAG_STATEMENT_POSITION: c_int = b'P' as c_int;

type NoticeProcessor = extern "C" fn(arg: *mut c_void, message: *const c_char);

#[link(name = "pq")]
extern "C" {
    fn PQconnectdb(conninfo: *const c_char) -> *mut PGconn;
    fn PQstatus(conn: *const PGconn) -> c_int;
    fn PQerrorMessage(conn: *const PGconn) -> *const c_char;
    fn PQfinish(conn: *mut PGconn);
    fn PQsetNoticeProcessor(
        conn: *mut PGconn,
        proc_: NoticeProcessor,
        arg: *mut c_void,
    ) -> NoticeProcessor;
    fn PQsetClientEncoding(conn: *mut PGconn, encoding: *const c_char) -> c_int;
    fn PQtransactionStatus(conn: *const PGconn) -> c_int;
    fn PQexec(conn: *mut PGconn, query: *const c_char) -> *mut PGresult;
    fn PQexecParams(
        conn: *mut PGconn,
        command: *const c_char,
        n_params: c_int,
        param_types: *const Oid,
        param_values: *const *const c_char,
        param_lengths: *const c_int,
        param_formats: *const c_int,
        result_format: c_int,
    ) -> *mut PGresult;
    fn PQputCopyEnd(conn: *mut PGconn, errormsg: *const c_char) -> c_int;
    fn PQgetResult(conn: *mut PGconn) -> *mut PGresult;
    fn PQresultStatus(res: *const PGresult) -> c_int;
    fn PQresultErrorField(res: *const PGresult, fieldcode: c_int) -> *const c_char;
    fn PQntuples(res: *const PGresult) -> c_int;
    fn PQgetvalue(res: *const PGresult, row: c_int, col: c_int) -> *const c_char;
    fn PQgetisnull(res: *const PGresult, row: c_int, col: c_int) -> c_int;
    fn PQfnumber(res: *const PGresult, name: *const c_char) -> c_int;
    fn PQclear(res: *mut PGresult);
}

extern "C" fn swallow_notice(_arg: *mut c_void, _message: *const c_char) {}

/// A Postgres error (or a client-side failure: then `sqlstate` is empty).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PgError {
    pub sqlstate: String,
    pub message: String,
    pub detail: Option<String>,
    pub hint: Option<String>,
    /// 1-based character position in the statement sent, when the error concerns one.
    pub position: Option<usize>,
}

impl PgError {
    fn client(message: impl Into<String>) -> PgError {
        PgError {
            message: message.into(),
            ..PgError::default()
        }
    }
}

/// # Safety
/// `p` is null or a NUL-terminated string.
unsafe fn text(p: *const c_char) -> Option<String> {
    // SAFETY: per the contract.
    (!p.is_null()).then(|| unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned())
}

pub struct Conn(*mut PGconn);

impl Conn {
    /// Any connection string libpq accepts (URL or key=value; PG* variables, .pgpass and
    /// service files apply as libpq applies them). Notices are swallowed; the client encoding
    /// is UTF8.
    pub fn connect(conninfo: &str) -> Result<Conn, String> {
        let c = CString::new(conninfo).map_err(|_| "the connection string holds a NUL byte")?;
        // SAFETY: a NUL-terminated string; the result is owned by Conn (PQfinish in Drop, even
        // when the connection failed, as libpq requires).
        let conn = Conn(unsafe { PQconnectdb(c.as_ptr()) });
        if conn.0.is_null() {
            return Err("libpq could not allocate a connection".into());
        }
        // SAFETY: a live PGconn.
        if unsafe { PQstatus(conn.0) } != CONNECTION_OK {
            return Err(conn.error_message());
        }
        // SAFETY: a live PGconn, a static callback that reads nothing.
        unsafe {
            PQsetNoticeProcessor(conn.0, swallow_notice, ptr::null_mut());
            if PQsetClientEncoding(conn.0, c"UTF8".as_ptr()) != 0 {
                return Err(conn.error_message());
            }
        }
        Ok(conn)
    }

    fn error_message(&self) -> String {
        // SAFETY: a live PGconn; the message is copied.
        unsafe { text(PQerrorMessage(self.0)) }
            .unwrap_or_default()
            .trim_end()
            .to_string()
    }

    /// Whether a transaction block is open (also a failed one).
    pub fn in_transaction(&self) -> bool {
        // SAFETY: a live PGconn.
        unsafe { PQtransactionStatus(self.0) != PQTRANS_IDLE }
    }

    /// One statement (or several, without parameters), its result or its error.
    pub fn exec(&self, sql: &str) -> Result<PgResult, PgError> {
        let c = CString::new(sql).map_err(|_| PgError::client("the SQL holds a NUL byte"))?;
        // SAFETY: a live PGconn and a NUL-terminated string.
        let res = unsafe { PQexec(self.0, c.as_ptr()) };
        self.finish(res)
    }

    /// One statement with text parameters ($1, ...; None is NULL).
    pub fn exec_params(&self, sql: &str, params: &[Option<&str>]) -> Result<PgResult, PgError> {
        let c = CString::new(sql).map_err(|_| PgError::client("the SQL holds a NUL byte"))?;
        let values = params
            .iter()
            .map(|p| p.map(CString::new).transpose())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| PgError::client("a parameter holds a NUL byte"))?;
        let ptrs: Vec<*const c_char> = values
            .iter()
            .map(|v| v.as_ref().map_or(ptr::null(), |v| v.as_ptr()))
            .collect();
        let n = c_int::try_from(ptrs.len()).map_err(|_| PgError::client("too many parameters"))?;
        // SAFETY: a live PGconn; n pointers to NUL-terminated strings (or null), which outlive
        // the call; null types, lengths and formats mean "infer, text".
        let res = unsafe {
            PQexecParams(
                self.0,
                c.as_ptr(),
                n,
                ptr::null(),
                ptrs.as_ptr(),
                ptr::null(),
                ptr::null(),
                0,
            )
        };
        self.finish(res)
    }

    fn finish(&self, res: *mut PGresult) -> Result<PgResult, PgError> {
        if res.is_null() {
            return Err(PgError::client(self.error_message()));
        }
        let res = PgResult(res);
        // SAFETY: a live PGresult.
        let status = unsafe { PQresultStatus(res.0) };
        match status {
            PGRES_EMPTY_QUERY | PGRES_COMMAND_OK | PGRES_TUPLES_OK => Ok(res),
            PGRES_COPY_IN | PGRES_COPY_OUT => {
                drop(res);
                // SAFETY: a live PGconn in COPY state: end it with an error and drain results.
                unsafe {
                    if status == PGRES_COPY_IN {
                        PQputCopyEnd(self.0, c"COPY FROM STDIN is not supported".as_ptr());
                    }
                    loop {
                        let r = PQgetResult(self.0);
                        if r.is_null() {
                            break;
                        }
                        PQclear(r);
                    }
                }
                Err(PgError::client(
                    "COPY ... FROM STDIN / TO STDOUT is not supported in a checked file",
                ))
            }
            _ => {
                let field = |code| {
                    // SAFETY: a live PGresult; the field is copied.
                    unsafe { text(PQresultErrorField(res.0, code)) }
                };
                let message =
                    field(PG_DIAG_MESSAGE_PRIMARY).unwrap_or_else(|| self.error_message());
                Err(PgError {
                    sqlstate: field(PG_DIAG_SQLSTATE).unwrap_or_default(),
                    message,
                    detail: field(PG_DIAG_MESSAGE_DETAIL),
                    hint: field(PG_DIAG_MESSAGE_HINT),
                    position: field(PG_DIAG_STATEMENT_POSITION).and_then(|p| p.parse().ok()),
                })
            }
        }
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        // SAFETY: the PGconn from PQconnectdb, finished once.
        unsafe { PQfinish(self.0) }
    }
}

pub struct PgResult(*mut PGresult);

impl PgResult {
    pub fn rows(&self) -> usize {
        // SAFETY: a live PGresult.
        usize::try_from(unsafe { PQntuples(self.0) }).unwrap_or(0)
    }

    /// The column's number, if the result has a column of that name.
    pub fn column(&self, name: &str) -> Option<usize> {
        let c = CString::new(format!("\"{name}\"")).ok()?;
        // SAFETY: a live PGresult and a NUL-terminated string.
        usize::try_from(unsafe { PQfnumber(self.0, c.as_ptr()) }).ok()
    }

    /// The value in text form, None for NULL.
    pub fn get(&self, row: usize, col: usize) -> Option<String> {
        let (r, c) = (c_int::try_from(row).ok()?, c_int::try_from(col).ok()?);
        if row >= self.rows() {
            return None;
        }
        // SAFETY: a live PGresult; row is in range; PQgetvalue/PQgetisnull check col themselves
        // (an out-of-range column gives NULL/ "" after a notice).
        unsafe {
            if PQgetisnull(self.0, r, c) != 0 {
                return None;
            }
            text(PQgetvalue(self.0, r, c))
        }
    }
}

impl Drop for PgResult {
    fn drop(&mut self) {
        // SAFETY: the PGresult from PQexec*, cleared once.
        unsafe { PQclear(self.0) }
    }
}
