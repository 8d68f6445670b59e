//! Text crossing between Postgres (the server encoding) and Rust (UTF-8).
//!
//! Postgres hands us query texts, identifiers and text arguments in the database's encoding, and
//! expects messages and text results in it too. In a UTF-8 database (and for ASCII text) the
//! bytes are the same and nothing is converted. Otherwise text coming in is converted with
//! `pg_server_to_any` and text going out with `pg_any_to_server`. SQL_ASCII has no conversion:
//! its bytes are used as UTF-8 where they are UTF-8, and bytes that are not are replaced (never an
//! error). Parser locations are byte offsets into the server text: `Sql` maps them.

use std::borrow::Cow;
use std::cell::Cell;
use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::panic::AssertUnwindSafe;

use pgrx::callconv::{Arg, ArgAbi, BoxRet, FcInfo};
use pgrx::nullable::Nullable;
use pgrx::pg_sys;
use pgrx::pg_sys::panic::ErrorReport;
use pgrx::prelude::*;
use pgrx::{FromDatum, IntoDatum};

fn database_encoding() -> c_int {
    // SAFETY: reads a backend global.
    unsafe { pg_sys::GetDatabaseEncoding() }
}

/// Whether server text is used as UTF-8 bytes as it is: a UTF-8 database, or SQL_ASCII (no
/// conversion exists; Postgres itself treats such bytes as whatever the client sent).
pub fn passthrough() -> bool {
    let enc = database_encoding();
    enc == pg_sys::pg_enc::PG_UTF8 as c_int || enc == pg_sys::pg_enc::PG_SQL_ASCII as c_int
}

/// Server-encoded bytes as a Rust string. Never raises an error: what cannot be converted is
/// replaced with U+FFFD.
pub fn to_rust(bytes: &[u8]) -> String {
    if passthrough() || bytes.is_ascii() {
        return String::from_utf8_lossy(bytes).into_owned();
    }
    let Ok(len) = c_int::try_from(bytes.len()) else {
        return String::from_utf8_lossy(bytes).into_owned();
    };
    let src = bytes.as_ptr().cast::<c_char>();
    PgTryBuilder::new(|| {
        // SAFETY: src points to len bytes; the result is src itself or a palloc'd,
        // NUL-terminated conversion.
        unsafe {
            let out = pg_sys::pg_server_to_any(src, len, pg_sys::pg_enc::PG_UTF8 as c_int);
            if out.cast_const() == src {
                String::from_utf8_lossy(bytes).into_owned()
            } else {
                let s = CStr::from_ptr(out).to_string_lossy().into_owned();
                pg_sys::pfree(out.cast());
                s
            }
        }
    })
    .catch_others(|_| String::from_utf8_lossy(bytes).into_owned())
    .execute()
}

/// A server-encoded C string (NULL: empty) as a Rust string.
///
/// # Safety
/// `p` is NULL or a NUL-terminated string.
pub unsafe fn cstr_to_rust(p: *const c_char) -> String {
    if p.is_null() {
        return String::new();
    }
    // SAFETY: the caller's promise.
    to_rust(unsafe { CStr::from_ptr(p) }.to_bytes())
}

/// A Rust string in the server encoding. Characters the server encoding cannot represent become
/// `?` (they can only come from a replacement made on the way in).
pub fn to_server(s: &str) -> Cow<'_, [u8]> {
    if passthrough() || s.is_ascii() {
        return Cow::Borrowed(s.as_bytes());
    }
    match convert_to_server(s) {
        Some(b) => Cow::Owned(b),
        None => Cow::Owned(
            s.chars()
                .flat_map(|c| {
                    let mut buf = [0u8; 4];
                    convert_to_server(c.encode_utf8(&mut buf)).unwrap_or_else(|| b"?".to_vec())
                })
                .collect(),
        ),
    }
}

fn convert_to_server(s: &str) -> Option<Vec<u8>> {
    let len = c_int::try_from(s.len()).ok()?;
    let src = s.as_ptr().cast::<c_char>();
    PgTryBuilder::new(|| {
        // SAFETY: src points to len bytes of valid UTF-8; the result is src itself or a
        // palloc'd, NUL-terminated conversion.
        unsafe {
            let out = pg_sys::pg_any_to_server(src, len, pg_sys::pg_enc::PG_UTF8 as c_int);
            if out.cast_const() == src {
                Some(s.as_bytes().to_vec())
            } else {
                let v = CStr::from_ptr(out).to_bytes().to_vec();
                pg_sys::pfree(out.cast());
                Some(v)
            }
        }
    })
    .catch_others(|_| None)
    .execute()
}

/// A query text: the server-encoded bytes the parser saw, and the same text in Rust.
pub struct Sql {
    text: String,
    /// The server bytes, when they differ from `text`'s.
    server: Option<Vec<u8>>,
    /// Known (server offset, text offset) pairs beyond (0, 0), sorted, to map parser locations
    /// without converting the text before them again.
    marks: AssertUnwindSafe<Cell<Vec<(usize, usize)>>>,
}

impl Sql {
    pub fn from_server(bytes: &[u8]) -> Sql {
        let (text, server) = if passthrough() {
            match String::from_utf8_lossy(bytes) {
                Cow::Borrowed(s) => (s.to_string(), None),
                Cow::Owned(s) => (s, Some(bytes.to_vec())),
            }
        } else {
            let text = to_rust(bytes);
            let server = (text.as_bytes() != bytes).then(|| bytes.to_vec());
            (text, server)
        };
        Sql {
            text,
            server,
            marks: AssertUnwindSafe(Cell::new(Vec::new())),
        }
    }

    /// # Safety
    /// `p` is NULL or a NUL-terminated string.
    pub unsafe fn from_cstr(p: *const c_char) -> Sql {
        if p.is_null() {
            return Sql::from_server(b"");
        }
        // SAFETY: the caller's promise.
        Sql::from_server(unsafe { CStr::from_ptr(p) }.to_bytes())
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    /// The bytes to hand to the parser or SPI.
    pub fn server(&self) -> &[u8] {
        self.server.as_deref().unwrap_or(self.text.as_bytes())
    }

    /// The offset into `text()` of the parser location `at` (a byte offset into `server()`).
    pub fn offset(&self, at: usize) -> Option<usize> {
        let Some(server) = &self.server else {
            return Some(at.min(self.text.len()));
        };
        let at = at.min(server.len());
        let mut marks = self.marks.take();
        let i = marks.partition_point(|m| m.0 <= at);
        let (from, to) = i.checked_sub(1).map_or((0, 0), |p| marks[p]);
        let off = to + to_rust(&server[from..at]).len();
        let ok = self.text.is_char_boundary(off);
        if ok && from != at {
            marks.insert(i, (at, off));
        }
        self.marks.set(marks);
        if !ok {
            return None;
        }
        Some(off)
    }

    /// The text from parser location `at` on.
    pub fn rest_at(&self, at: i32) -> Option<&str> {
        let at = usize::try_from(at).ok()?;
        self.text.get(self.offset(at)?..)
    }

    /// The statement at parser location `location`, `len` bytes long (0: to the end), trimmed.
    pub fn statement(&self, location: i32, len: i32) -> String {
        let bytes = self.server();
        let start = usize::try_from(location).unwrap_or(0).min(bytes.len());
        let end = match usize::try_from(len) {
            Ok(l) if l > 0 => start.saturating_add(l).min(bytes.len()),
            _ => bytes.len(),
        };
        if self.server.is_none() {
            return String::from_utf8_lossy(&bytes[start..end])
                .trim()
                .to_string();
        }
        // Slice the server bytes first, then convert.
        to_rust(&bytes[start..end]).trim().to_string()
    }

    /// The statement's server bytes (for SPI), trimmed like `statement`.
    pub fn statement_server(&self, location: i32, len: i32) -> &[u8] {
        let bytes = self.server();
        let start = usize::try_from(location).unwrap_or(0).min(bytes.len());
        let end = match usize::try_from(len) {
            Ok(l) if l > 0 => start.saturating_add(l).min(bytes.len()),
            _ => bytes.len(),
        };
        bytes[start..end].trim_ascii()
    }
}

/// The bytes (server encoding) of a text datum, detoasted; None for NULL.
///
/// # Safety
/// `datum` is a text datum (or NULL), valid for the current memory context.
unsafe fn text_bytes<'a>(datum: pg_sys::Datum, is_null: bool) -> Option<&'a [u8]> {
    if is_null || datum.is_null() {
        return None;
    }
    // SAFETY: a text datum; detoasting gives a valid varlena, palloc'd in the current context.
    unsafe {
        let v = pg_sys::pg_detoast_datum_packed(datum.cast_mut_ptr());
        Some(pgrx::varlena::varlena_to_byte_slice(v))
    }
}

/// A text argument, read without pgrx's UTF-8 requirement.
impl FromDatum for Sql {
    unsafe fn from_polymorphic_datum(
        datum: pg_sys::Datum,
        is_null: bool,
        _: pg_sys::Oid,
    ) -> Option<Sql> {
        // SAFETY: as the caller of from_polymorphic_datum promises.
        unsafe { text_bytes(datum, is_null) }.map(Sql::from_server)
    }
}

// SAFETY: as pgrx's own impl for String (argue_from_datum).
unsafe impl<'fcx> ArgAbi<'fcx> for Sql {
    unsafe fn unbox_arg_unchecked(arg: Arg<'_, 'fcx>) -> Self {
        let index = arg.index();
        // SAFETY: the caller's promise (a text argument).
        unsafe { arg.unbox_arg_using_from_datum() }
            .unwrap_or_else(|| panic!("argument {index} must not be null"))
    }

    unsafe fn unbox_nullable_arg(arg: Arg<'_, 'fcx>) -> Nullable<Self> {
        // SAFETY: as above.
        unsafe { arg.unbox_arg_using_from_datum::<Sql>() }.into()
    }
}

pgrx::impl_sql_translatable!(Sql, arg_only = "TEXT");

/// A text value in Rust, converted from and to the server encoding at the SQL boundary (function
/// results, SPI columns).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Text(pub String);

impl From<String> for Text {
    fn from(s: String) -> Self {
        Text(s)
    }
}

impl From<&str> for Text {
    fn from(s: &str) -> Self {
        Text(s.to_string())
    }
}

impl From<Text> for String {
    fn from(t: Text) -> Self {
        t.0
    }
}

impl FromDatum for Text {
    unsafe fn from_polymorphic_datum(
        datum: pg_sys::Datum,
        is_null: bool,
        _: pg_sys::Oid,
    ) -> Option<Text> {
        // SAFETY: as the caller of from_polymorphic_datum promises.
        unsafe { text_bytes(datum, is_null) }.map(|b| Text(to_rust(b)))
    }
}

impl IntoDatum for Text {
    fn into_datum(self) -> Option<pg_sys::Datum> {
        to_server(&self.0).as_ref().into_datum()
    }

    fn type_oid() -> pg_sys::Oid {
        pg_sys::TEXTOID
    }

    fn is_compatible_with(other: pg_sys::Oid) -> bool {
        other == pg_sys::TEXTOID || other == pg_sys::VARCHAROID
    }
}

// SAFETY: as pgrx's own impl for String.
unsafe impl BoxRet for Text {
    unsafe fn box_into<'fcx>(self, fcinfo: &mut FcInfo<'fcx>) -> pgrx::datum::Datum<'fcx> {
        match self.into_datum() {
            // SAFETY: a freshly palloc'd text datum returned from this call.
            Some(datum) => unsafe { fcinfo.return_raw_datum(datum) },
            None => fcinfo.return_null(),
        }
    }
}

pgrx::impl_sql_translatable!(Text, "TEXT");

// ---- messages ---------------------------------------------------------------------------------
//
// pgrx hands an ErrorReport's strings to errmsg()/errdetail()/errhint() as they are (UTF-8), and
// raises an ERROR only after unwinding to its guard. Outside UTF-8 databases, `report` arms an
// error context callback on top of the stack: errfinish() calls it first, and it replaces the
// message, detail and hint with their server-encoded versions. The callback unlinks itself.

mod raw {
    use std::ffi::{c_char, c_int};
    // Not in pgrx's bindings (it keeps the err* functions to itself).
    #[allow(clashing_extern_declarations)]
    unsafe extern "C-unwind" {
        pub fn errmsg_internal(fmt: *const c_char, ...) -> c_int;
        pub fn errdetail_internal(fmt: *const c_char, ...) -> c_int;
        pub fn errhint(fmt: *const c_char, ...) -> c_int;
    }
}

struct Pending {
    message: *mut c_char,
    detail: *mut c_char,
    hint: *mut c_char,
}

impl Pending {
    fn free(self) {
        for p in [self.message, self.detail, self.hint] {
            if !p.is_null() {
                // SAFETY: made by CString::into_raw below.
                drop(unsafe { CString::from_raw(p) });
            }
        }
    }
}

thread_local! {
    static PENDING: Cell<Option<Pending>> = const { Cell::new(None) };
}

static mut NODE: pg_sys::ErrorContextCallback = pg_sys::ErrorContextCallback {
    previous: std::ptr::null_mut(),
    callback: Some(substitute),
    arg: std::ptr::null_mut(),
};

/// Take our callback off the error context stack, wherever it is.
fn unlink() {
    // SAFETY: the stack is a list of live nodes (each is popped by the frame that pushed it);
    // single-threaded backend.
    unsafe {
        let node = &raw mut NODE;
        if pg_sys::error_context_stack == node {
            pg_sys::error_context_stack = (*node).previous;
            return;
        }
        let mut p = pg_sys::error_context_stack;
        while !p.is_null() {
            if (*p).previous == node {
                (*p).previous = (*node).previous;
                return;
            }
            p = (*p).previous;
        }
    }
}

/// Forget a pending substitution (call after catching an error raised through `report`).
pub fn forget() {
    unlink();
    if let Some(p) = PENDING.with(|c| c.take()) {
        p.free();
    }
}

unsafe extern "C-unwind" fn substitute(_arg: *mut c_void) {
    // SAFETY: called by errfinish while it builds an error; only C calls on raw pointers.
    unsafe {
        let node = &raw mut NODE;
        // Only for the error raised right after arming, when nothing came on top of us.
        if pg_sys::error_context_stack != node {
            return;
        }
        pg_sys::error_context_stack = (*node).previous;
        let Some(p) = PENDING.with(|c| c.take()) else {
            return;
        };
        let fmt = c"%s".as_ptr();
        raw::errmsg_internal(fmt, p.message);
        if !p.detail.is_null() {
            raw::errdetail_internal(fmt, p.detail);
        }
        if !p.hint.is_null() {
            raw::errhint(fmt, p.hint);
        }
        p.free();
    }
}

/// `ErrorReport::report`, with the texts in the server encoding. ERROR does not return.
pub fn report(r: ErrorReport, level: PgLogLevel) {
    if passthrough() {
        r.report(level);
        return;
    }
    let server = |s: &str| match to_server(s) {
        Cow::Borrowed(_) => None,
        Cow::Owned(b) => Some(b),
    };
    let (message, detail, hint) = (
        server(r.message()),
        r.detail().and_then(server),
        r.hint().and_then(server),
    );
    if message.is_none() && detail.is_none() && hint.is_none() {
        // All ASCII: the same bytes in any server encoding.
        r.report(level);
        return;
    }
    let raw = |converted: Option<Vec<u8>>, original: Option<&str>| -> *mut c_char {
        let bytes = converted.or_else(|| original.map(|s| s.as_bytes().to_vec()));
        bytes
            .and_then(|b| CString::new(b).ok())
            .map_or(std::ptr::null_mut(), CString::into_raw)
    };
    let pending = Pending {
        message: raw(message, Some(r.message())),
        detail: raw(detail, r.detail()),
        hint: raw(hint, r.hint()),
    };
    if pending.message.is_null() {
        pending.free();
        r.report(level);
        return;
    }
    forget();
    PENDING.with(|c| c.set(Some(pending)));
    // SAFETY: push our static node on the error context stack (unlinked above, so no cycle).
    unsafe {
        let node = &raw mut NODE;
        (*node).previous = pg_sys::error_context_stack;
        pg_sys::error_context_stack = node;
    }
    r.report(level);
    // Below ERROR: the message was emitted (the callback ran) or goes nowhere.
    forget();
}
