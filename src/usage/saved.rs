//! The usage table on disk, pure: the file's format and what a server start makes of it.
//!
//! The file (`$PGDATA/safe_ddl/usage.state`, written by `persist`) holds every live slot and the
//! table's header. It is written
//! - by the postmaster when it exits or re-initialises shared memory after a crash: then every
//!   process that could record a use has ended, so the file is the complete record up to that
//!   moment (`Kind::Complete`);
//! - every `safe_ddl.usage_save_interval` by the usage saver (a background worker) and right
//!   after loading (`Kind::Periodic`): if the server then stops without a complete save (the
//!   machine or the postmaster dies), the uses between that save and the stop are lost.
//!
//! At the next start (`plan`) a complete save of the same role (primary or standby) continues:
//! tracking goes on from the same `since`, as if the server had never stopped (nothing can use an
//! object of a stopped server). A periodic one keeps the recorded uses but restarts `since` at
//! the start, and forgets creation times: uses may be missing since the last save, so nothing is
//! proven unused until a whole usage_window has passed again, and "created and never used since"
//! can no longer be told. A file of another cluster, version or role starts afresh (a standby
//! made from a copy of the primary's data directory tracks its own clients from its start).
//!
//! Format, little-endian: MAGIC, version u32, header fields, record count u64, records, and an
//! FNV-1a 64 checksum of everything before it. Stamps are saved without their backend tag (they
//! are MULTI after a load: the process ids of a previous run tell nothing).

use super::stamp;

pub const MAGIC: &[u8; 8] = b"SDDLUSG\0";
pub const VERSION: u32 = 1;

/// How the file was written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// By the postmaster after every other process ended: complete up to `written_at`.
    Complete,
    /// While the server ran: uses after `written_at` are not in it.
    Periodic,
}

/// Why tracking (re)started at `since` (shown by `usage_tracking()` and in refusals).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Restart {
    /// Nothing saved to go on from (first start with tracking, or a file that could not be used).
    Fresh,
    /// A reset (`safe_ddl.reset_usage()`).
    Reset,
    /// The server stopped without a complete save; `last_save` is the save it went on from.
    Unclean { last_save: i64 },
    /// This server was promoted from standby: the former primary's uses are not on record here.
    Promoted,
    /// Started as a standby from a copy of another server's file: its own uses start now.
    NewStandby,
}

impl Restart {
    pub fn code(self) -> (u32, i64) {
        match self {
            Restart::Fresh => (0, 0),
            Restart::Reset => (1, 0),
            Restart::Unclean { last_save } => (2, last_save),
            Restart::Promoted => (3, 0),
            Restart::NewStandby => (4, 0),
        }
    }

    pub fn from_code(code: u32, at: i64) -> Option<Restart> {
        Some(match code {
            0 => Restart::Fresh,
            1 => Restart::Reset,
            2 => Restart::Unclean { last_save: at },
            3 => Restart::Promoted,
            4 => Restart::NewStandby,
            _ => return None,
        })
    }

    /// The reason, for messages; `text` formats a timestamp.
    pub fn describe(self, text: impl Fn(i64) -> String) -> Option<String> {
        match self {
            Restart::Fresh => None,
            Restart::Reset => Some("all usage was reset (safe_ddl.reset_usage())".into()),
            Restart::Unclean { last_save } => Some(format!(
                "the server had stopped without saving the usage table (a crash of the machine or of the \
                 postmaster), so the uses between its last save at {} and the stop are not on record",
                text(last_save)
            )),
            Restart::Promoted => Some(
                "this server was promoted from standby: the uses made on the former primary are not on record \
                 here"
                    .into(),
            ),
            Restart::NewStandby => Some(
                "this standby started from a copy of another server's data directory, and records its own \
                 clients' uses from its start"
                    .into(),
            ),
        }
    }
}

/// The table's header as saved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    pub system_id: u64,
    pub kind: Kind,
    /// Written while the server was a standby.
    pub standby: bool,
    pub written_at: i64,
    pub since: i64,
    pub restart: Restart,
    pub dropped: u64,
    pub last_overflow: i64,
    pub overflow_since: i64,
}

/// One live slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Record {
    pub key: u64,
    pub attnum: i16,
    pub last_read: u64,
    pub last_write: u64,
    pub created: i64,
}

const RECORD_BYTES: usize = 8 + 2 + 8 + 8 + 8;

fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

pub fn encode(h: &Header, records: &[Record]) -> Vec<u8> {
    let mut out = Vec::with_capacity(128 + records.len() * RECORD_BYTES);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    out.extend_from_slice(&h.system_id.to_le_bytes());
    out.push(match h.kind {
        Kind::Complete => 1,
        Kind::Periodic => 2,
    });
    out.push(u8::from(h.standby));
    out.extend_from_slice(&h.written_at.to_le_bytes());
    out.extend_from_slice(&h.since.to_le_bytes());
    let (code, at) = h.restart.code();
    out.extend_from_slice(&code.to_le_bytes());
    out.extend_from_slice(&at.to_le_bytes());
    out.extend_from_slice(&h.dropped.to_le_bytes());
    out.extend_from_slice(&h.last_overflow.to_le_bytes());
    out.extend_from_slice(&h.overflow_since.to_le_bytes());
    out.extend_from_slice(&(records.len() as u64).to_le_bytes());
    for r in records {
        out.extend_from_slice(&r.key.to_le_bytes());
        out.extend_from_slice(&r.attnum.to_le_bytes());
        out.extend_from_slice(&untagged(r.last_read).to_le_bytes());
        out.extend_from_slice(&untagged(r.last_write).to_le_bytes());
        out.extend_from_slice(&r.created.to_le_bytes());
    }
    let sum = fnv1a(&out);
    out.extend_from_slice(&sum.to_le_bytes());
    out
}

/// A stamp's second with the MULTI tag (0 stays 0): a backend of another run is nobody's own.
pub fn untagged(s: u64) -> u64 {
    if s == 0 {
        0
    } else {
        stamp::encode(stamp::second(s), stamp::MULTI)
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> Result<[u8; N], String> {
        let end = self.at.checked_add(N).filter(|e| *e <= self.bytes.len());
        let end = end.ok_or_else(|| "the file is truncated".to_string())?;
        let mut a = [0u8; N];
        a.copy_from_slice(&self.bytes[self.at..end]);
        self.at = end;
        Ok(a)
    }
    fn u8(&mut self) -> Result<u8, String> {
        Ok(self.take::<1>()?[0])
    }
    fn u32(&mut self) -> Result<u32, String> {
        Ok(u32::from_le_bytes(self.take()?))
    }
    fn u64(&mut self) -> Result<u64, String> {
        Ok(u64::from_le_bytes(self.take()?))
    }
    fn i64(&mut self) -> Result<i64, String> {
        Ok(i64::from_le_bytes(self.take()?))
    }
    fn i16(&mut self) -> Result<i16, String> {
        Ok(i16::from_le_bytes(self.take()?))
    }
}

/// The header and records of a file, or why it cannot be used.
pub fn decode(bytes: &[u8]) -> Result<(Header, Vec<Record>), String> {
    if bytes.len() < MAGIC.len() + 8 || &bytes[..MAGIC.len()] != MAGIC {
        return Err("it is not a safe_ddl usage file".into());
    }
    let (body, sum) = bytes.split_at(bytes.len() - 8);
    let mut s = [0u8; 8];
    s.copy_from_slice(sum);
    if fnv1a(body) != u64::from_le_bytes(s) {
        return Err("its checksum does not match (a torn or damaged file)".into());
    }
    let mut r = Reader {
        bytes: body,
        at: MAGIC.len(),
    };
    let version = r.u32()?;
    if version != VERSION {
        return Err(format!(
            "it has format version {version}, this safe_ddl reads {VERSION}"
        ));
    }
    let system_id = r.u64()?;
    let kind = match r.u8()? {
        1 => Kind::Complete,
        2 => Kind::Periodic,
        k => return Err(format!("unknown kind {k}")),
    };
    let standby = r.u8()? != 0;
    let written_at = r.i64()?;
    let since = r.i64()?;
    let (code, at) = (r.u32()?, r.i64()?);
    let restart = Restart::from_code(code, at).ok_or("unknown restart reason")?;
    let header = Header {
        system_id,
        kind,
        standby,
        written_at,
        since,
        restart,
        dropped: r.u64()?,
        last_overflow: r.i64()?,
        overflow_since: r.i64()?,
    };
    let n = r.u64()?;
    let left = body.len() - r.at;
    if n.checked_mul(RECORD_BYTES as u64) != Some(left as u64) {
        return Err("its record count does not match its size".into());
    }
    let mut records = Vec::with_capacity(n as usize);
    for _ in 0..n {
        records.push(Record {
            key: r.u64()?,
            attnum: r.i16()?,
            last_read: untagged(r.u64()?),
            last_write: untagged(r.u64()?),
            created: r.i64()?,
        });
    }
    Ok((header, records))
}

/// What a server start does with a saved file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Plan {
    /// Load the records (their last uses) at all.
    pub rows: bool,
    /// Keep their creation times (the history since each creation is complete).
    pub created: bool,
    /// Tracking runs without a gap since (TimestampTz).
    pub since: i64,
    pub restart: Restart,
}

/// The plan for a file with header `h` (None: no usable file), at a start at `now` of the
/// cluster `system_id`, as a standby or not. Records of a start that does not keep them are
/// dropped; their times would all be older than `since` anyway.
pub fn plan(h: Option<&Header>, system_id: u64, standby: bool, now: i64) -> Plan {
    let fresh = |restart| Plan {
        rows: false,
        created: false,
        since: now,
        restart,
    };
    let Some(h) = h.filter(|h| h.system_id == system_id && h.since <= now) else {
        return fresh(Restart::Fresh);
    };
    match (h.standby, standby, h.kind) {
        // The primary's file in a new standby (pg_basebackup, a copy, pg_rewind).
        (false, true, _) => fresh(Restart::NewStandby),
        // A standby's file, started as a primary: promoted while stopped, or restarted after a
        // promotion nobody had noted yet. Its own clients' uses stay on record.
        (true, false, _) => Plan {
            rows: true,
            created: false,
            since: now,
            restart: Restart::Promoted,
        },
        (_, _, Kind::Complete) => Plan {
            rows: true,
            created: true,
            since: h.since,
            restart: h.restart,
        },
        (_, _, Kind::Periodic) => Plan {
            rows: true,
            created: false,
            since: now,
            restart: Restart::Unclean {
                last_save: h.written_at,
            },
        },
    }
}

/// A record fit to load: a published attnum and times not in the future (a damaged table
/// saved at a crash may hold garbage; a record that fails is skipped).
pub fn plausible(r: &Record, now: i64) -> bool {
    let second_now = stamp::second_of(now);
    let stamp_ok = |s: u64| s == 0 || stamp::second(s) <= second_now;
    r.key != 0
        && u32::try_from(r.key >> 32).is_ok()
        && stamp_ok(r.last_read)
        && stamp_ok(r.last_write)
        && r.created >= 0
        && r.created <= now
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(kind: Kind, standby: bool) -> Header {
        Header {
            system_id: 7,
            kind,
            standby,
            written_at: 5_000,
            since: 1_000,
            restart: Restart::Fresh,
            dropped: 3,
            last_overflow: 900,
            overflow_since: 800,
        }
    }

    fn record(key: u64) -> Record {
        Record {
            key,
            attnum: -32768,
            last_read: stamp::encode(4, 12345),
            last_write: 0,
            created: 950,
        }
    }

    #[test]
    fn round_trip_drops_backend_tags() {
        let h = header(Kind::Complete, false);
        let bytes = encode(&h, &[record(1 << 32 | 16384), record(2)]);
        let (h2, rs) = decode(&bytes).unwrap();
        assert_eq!(h2, h);
        assert_eq!(rs.len(), 2);
        assert_eq!(rs[0].last_read, stamp::encode(4, stamp::MULTI));
        assert_eq!(rs[0].last_write, 0);
        assert_eq!(rs[1].key, 2);
    }

    #[test]
    fn damaged_files_are_refused() {
        let bytes = encode(&header(Kind::Periodic, false), &[record(9)]);
        for cut in [0, 7, 20, bytes.len() - 1] {
            assert!(decode(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        let mut flipped = bytes.clone();
        flipped[40] ^= 1;
        assert!(decode(&flipped).unwrap_err().contains("checksum"));
        assert!(decode(b"something else entirely").is_err());
    }

    #[test]
    fn a_complete_save_continues_a_periodic_one_restarts() {
        let c = plan(Some(&header(Kind::Complete, false)), 7, false, 10_000);
        assert_eq!((c.rows, c.created, c.since), (true, true, 1_000));
        let p = plan(Some(&header(Kind::Periodic, false)), 7, false, 10_000);
        assert_eq!((p.rows, p.created, p.since), (true, false, 10_000));
        assert_eq!(p.restart, Restart::Unclean { last_save: 5_000 });
    }

    #[test]
    fn roles_and_clusters_that_differ_start_afresh() {
        let other = plan(Some(&header(Kind::Complete, false)), 8, false, 10_000);
        assert_eq!(
            (other.rows, other.since, other.restart),
            (false, 10_000, Restart::Fresh)
        );
        let new_standby = plan(Some(&header(Kind::Complete, false)), 7, true, 10_000);
        assert_eq!(
            (new_standby.rows, new_standby.restart),
            (false, Restart::NewStandby)
        );
        let promoted = plan(Some(&header(Kind::Complete, true)), 7, false, 10_000);
        assert_eq!(
            (
                promoted.rows,
                promoted.created,
                promoted.since,
                promoted.restart
            ),
            (true, false, 10_000, Restart::Promoted)
        );
        let standby_again = plan(Some(&header(Kind::Complete, true)), 7, true, 10_000);
        assert_eq!(standby_again.since, 1_000);
        assert_eq!(plan(None, 7, false, 10_000).restart, Restart::Fresh);
        // a clock that went backwards: since would be in the future
        assert_eq!(
            plan(Some(&header(Kind::Complete, false)), 7, false, 500).since,
            500
        );
    }

    #[test]
    fn implausible_records_are_skipped() {
        let now = 10_000_000_000;
        assert!(plausible(&record(1 << 32 | 5), now));
        assert!(!plausible(
            &Record {
                key: 0,
                ..record(1)
            },
            now
        ));
        let future = Record {
            last_write: stamp::encode(stamp::second_of(now) + 10, 1),
            ..record(1)
        };
        assert!(!plausible(&future, now));
        assert!(!plausible(
            &Record {
                created: now + 1,
                ..record(1)
            },
            now
        ));
    }
}
