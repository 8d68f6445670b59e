#!/usr/bin/python3
"""The passes of pg_test/robustness.sh over the corpus written by gen_corpus.py.

    passes.py scripts CORPUS_DIR OUT_DIR
        writes the psql scripts of the passes (OUT_DIR/<pass>.sql): each statement through the
        hook at top level (direct), through safe_ddl.check() (check), safe_ddl.rehearse()
        (rehearse), through EXECUTE in a
        PL/pgSQL function (plpgsql), in a DO block (do), in a procedure (proc). The scripts read
        the mode from the psql variable :mode.
    passes.py wire SOCKET_DIR PORT DB MODE CORPUS_DIR LOG
        the extended-query protocol pass: every statement sent as Parse/Bind/Execute/Sync (by a
        minimal protocol client here: psql speaks only the simple protocol, pgbench stops a client
        at its first error), executed twice from the same prepared statement (a cached utility
        statement must survive the hook), plus parameterised DML under the large_dml guard.
        Writes one line per outcome to LOG; exit status 1 if the connection was lost.
    passes.py summarize LOG...
        counts outcomes of psql stderr logs (VERBOSITY verbose) and wire logs; prints them; exit
        status 1 on any FATAL / PANIC / lost connection, 2 on internal errors (XX000) only.
"""
import collections
import os
import re
import socket
import struct
import sys


def read_corpus(corpus_dir):
    out = []
    with open(os.path.join(corpus_dir, "corpus.txt"), encoding="utf-8") as f:
        for line in f:
            kind, sql = line.rstrip("\n").split("\t", 1)
            sql = re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t", "\\": "\\"}[m.group(1)], sql)
            out.append((kind, sql))
    return out


HEADER = """\\set ON_ERROR_ROLLBACK on
\\set VERBOSITY verbose
\\set SHOW_CONTEXT never
SET client_min_messages = warning;
SET safe_ddl.mode = :'mode';
SET statement_timeout = '30s';
SET lock_timeout = '5s';
"""

HELPERS = """CREATE FUNCTION pg_temp.rob_exec(sql text) RETURNS text LANGUAGE plpgsql AS $robf$
DECLARE st text; m text;
BEGIN
  BEGIN
    EXECUTE sql;
    RAISE EXCEPTION USING ERRCODE = 'RBRB0', MESSAGE = 'rob: roll back';
  EXCEPTION
    WHEN SQLSTATE 'RBRB0' THEN RETURN 'ok';
    WHEN OTHERS THEN
      GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, m = MESSAGE_TEXT;
      RETURN st || ' ' || replace(m, E'\\n', ' ');
  END;
END $robf$;
CREATE PROCEDURE pg_temp.rob_proc(sql text) LANGUAGE plpgsql AS $robf$
BEGIN
  EXECUTE sql;
  RAISE EXCEPTION USING ERRCODE = 'P0001', MESSAGE = 'rob: roll back';
END $robf$;
"""


def scripts(corpus_dir, out_dir):
    corpus = read_corpus(corpus_dir)
    with open(os.path.join(corpus_dir, "session.sql"), encoding="utf-8") as f:
        session = f.read()
    tx = [s for k, s in corpus if k == "tx"]
    notx = [s for k, s in corpus if k == "notx"]
    for s in tx + notx:
        assert "$rob$" not in s and "$robq$" not in s, s

    def write(name, body):
        with open(os.path.join(out_dir, name + ".sql"), "w", encoding="utf-8") as f:
            f.write(HEADER + session + HELPERS + body)

    # direct: each statement in a transaction of its own that is rolled back (and, with
    # ON_ERROR_ROLLBACK, in a savepoint: psql wraps each statement of a transaction block);
    # then the statements that cannot run in a transaction block, in autocommit.
    b = []
    for s in tx:
        b.append("BEGIN;\n" + s + ";\nROLLBACK;\n")
    for s in notx:
        b.append(s + ";\n")
    write("direct", "".join(b))

    # check(): each statement alone, then 100 at a time in one call.
    b = []
    for s in tx + notx:
        b.append("SELECT count(*) FROM safe_ddl.check($rob$" + s + "$rob$);\n")
    allst = tx + notx
    for i in range(0, len(allst), 100):
        b.append("SELECT count(*) FROM safe_ddl.check($rob$" + ";\n".join(allst[i:i + 100]) + "$rob$);\n")
    write("check", "".join(b))

    # rehearse(): each statement run for real in a subtransaction that rehearse() rolls back
    b = []
    for s in tx + notx:
        b.append("SELECT count(*) FROM safe_ddl.rehearse($rob$" + s + "$rob$);\n")
    write("rehearse", "".join(b))

    # EXECUTE in a PL/pgSQL function (its exception block: a subtransaction, always rolled back)
    b = []
    for i, s in enumerate(tx + notx):
        b.append(f"SELECT {i}, pg_temp.rob_exec($rob$" + s + "$rob$);\n")
    write("plpgsql", "".join(b))

    # DO blocks and procedures at top level (non-atomic), ending with the rollback sentinel.
    # (P0001, not a SQLSTATE of our own: the hook turns unknown SQLSTATEs into XX000, a bug
    # that robustness.sh checks separately.)
    b = []
    for s in tx + notx:
        b.append("DO $rob$ BEGIN EXECUTE $robq$" + s
                 + "$robq$; RAISE EXCEPTION USING ERRCODE = 'P0001', MESSAGE = 'rob: roll back'; END $rob$;\n")
    write("do", "".join(b))
    b = []
    for s in tx + notx:
        b.append("CALL pg_temp.rob_proc($rob$" + s + "$rob$);\n")
    write("proc", "".join(b))


# ---------------------------------------------------------------------------------------------
# A minimal frontend for the extended-query protocol (protocol 3.0, trust authentication)
# ---------------------------------------------------------------------------------------------
class Lost(Exception):
    pass


class Conn:
    def __init__(self, sockdir, port, db, user="postgres", appname="rob_wire"):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.connect(os.path.join(sockdir, f".s.PGSQL.{port}"))
        self.buf = b""
        params = b"".join(k.encode() + b"\0" + v.encode() + b"\0" for k, v in
                          (("user", user), ("database", db), ("application_name", appname)))
        body = struct.pack("!i", 196608) + params + b"\0"
        self.s.sendall(struct.pack("!i", len(body) + 4) + body)
        errors, _ = self.until_ready()
        if errors:
            raise RuntimeError(f"connect: {errors}")

    def send(self, typ, body=b""):
        self.s.sendall(typ + struct.pack("!i", len(body) + 4) + body)

    def recv_msg(self):
        while len(self.buf) < 5:
            chunk = self.s.recv(65536)
            if not chunk:
                raise Lost("connection lost")
            self.buf += chunk
        typ = self.buf[:1]
        (n,) = struct.unpack("!i", self.buf[1:5])
        while len(self.buf) < 1 + n:
            chunk = self.s.recv(65536)
            if not chunk:
                raise Lost("connection lost")
            self.buf += chunk
        body = self.buf[5:1 + n]
        self.buf = self.buf[1 + n:]
        return typ, body

    @staticmethod
    def fields(body):
        out = {}
        for part in body.split(b"\0"):
            if part:
                out[chr(part[0])] = part[1:].decode("utf-8", "replace")
        return out

    def until_ready(self):
        """Reads until ReadyForQuery; returns (errors, notices) as lists of field dicts."""
        errors, notices = [], []
        while True:
            typ, body = self.recv_msg()
            if typ == b"E":
                errors.append(self.fields(body))
            elif typ == b"N":
                notices.append(self.fields(body))
            elif typ == b"G":   # CopyInResponse: refuse to send data
                self.send(b"f", b"rob: no data\0")
            elif typ == b"R":
                (code,) = struct.unpack("!i", body[:4])
                if code != 0:
                    raise RuntimeError(f"authentication {code} not supported (trust only)")
            elif typ == b"Z":
                return errors, notices

    def query(self, sql):
        self.send(b"Q", sql.encode() + b"\0")
        return self.until_ready()

    def parse(self, name, sql):
        self.send(b"P", name.encode() + b"\0" + sql.encode() + b"\0" + struct.pack("!h", 0))

    def bind_execute(self, name, params=()):
        body = b"\0" + name.encode() + b"\0" + struct.pack("!h", 0) + struct.pack("!h", len(params))
        for p in params:
            v = str(p).encode()
            body += struct.pack("!i", len(v)) + v
        body += struct.pack("!h", 0)
        self.send(b"B", body)
        self.send(b"D", b"P\0")
        self.send(b"E", b"\0" + struct.pack("!i", 0))

    def sync(self):
        self.send(b"S")
        return self.until_ready()

    def close(self):
        try:
            self.send(b"X")
        except OSError:
            pass
        self.s.close()


def outcome(errors, notices):
    if errors:
        e = errors[0]
        return f"{e.get('S', '?')} {e.get('C', '?')} {e.get('M', '')}".replace("\n", " ")
    warned = [n for n in notices if n.get("S") == "WARNING"]
    if warned:
        return "ok-warning " + warned[0].get("M", "").replace("\n", " ")[:200]
    return "ok"


def wire(sockdir, port, db, mode, corpus_dir, log):
    corpus = read_corpus(corpus_dir)
    with open(os.path.join(corpus_dir, "session.sql"), encoding="utf-8") as f:
        session = f.read()
    c = Conn(sockdir, port, db)
    setup = (f"SET safe_ddl.mode = '{mode}'; SET statement_timeout = '30s'; SET lock_timeout = '5s'; "
             "SET client_min_messages = warning; " + session)
    err, _ = c.query(setup)
    if err:
        raise RuntimeError(f"setup: {err}")
    n = 0
    with open(log, "w", encoding="utf-8") as out:
        def rec(tag, res):
            nonlocal n
            n += 1
            out.write(f"{tag}\t{res}\n")
        try:
            for i, (kind, sql) in enumerate(corpus):
                if kind == "tx":
                    # the same prepared statement executed twice, each time in a transaction of
                    # its own that is rolled back
                    c.query("BEGIN")
                    c.parse("rob_s", sql)
                    c.bind_execute("rob_s")
                    rec(f"{i}a", outcome(*c.sync()))
                    c.query("ROLLBACK")
                    c.query("BEGIN")
                    c.bind_execute("rob_s")
                    rec(f"{i}b", outcome(*c.sync()))
                    c.query("ROLLBACK")
                else:
                    c.parse("rob_s", sql)
                    c.bind_execute("rob_s")
                    rec(f"{i}a", outcome(*c.sync()))
                c.send(b"C", b"Srob_s\0")   # Close the prepared statement
                c.sync()
            # Parameterised DML over the extended protocol under the large_dml guard: the
            # ExecutorStart hook sees a generic and a custom plan.
            c.query("SET safe_ddl.max_dml_rows = 10")
            for rel in ("t", '"Odd Schema"."Weird Table"', "pt", "inh_parent", "tmp1", "v1"):
                col = '"Odd col"' if "Weird" in rel else "a"
                idc = '"Id"' if "Weird" in rel else "id"
                c.parse("rob_d", f"UPDATE {rel} SET {col} = $1::int WHERE {idc} > $2::int")
                for k in range(7):   # the plan cache switches to a generic plan after 5
                    c.query("BEGIN")
                    c.bind_execute("rob_d", (k, 290 if k % 2 else 0))
                    rec(f"dml {rel} {k}", outcome(*c.sync()))
                    c.query("ROLLBACK")
                c.send(b"C", b"Srob_d\0")
                c.sync()
            # An implicit transaction of several messages before one Sync (a pipeline).
            c.parse("", "ALTER TABLE t ADD COLUMN pipe1 int")
            c.bind_execute("")
            c.parse("", "CREATE INDEX pipe_idx ON t (a)")
            c.bind_execute("")
            c.parse("", "ALTER TABLE t DROP COLUMN pipe1")
            c.bind_execute("")
            rec("pipeline", outcome(*c.sync()))
            c.parse("", "CREATE INDEX CONCURRENTLY pipe_cidx ON t (a)")
            c.bind_execute("")
            c.parse("", "SELECT 1")
            c.bind_execute("")
            rec("pipeline-cic", outcome(*c.sync()))
        except Lost as e:
            out.write(f"LOST\tFATAL connection lost after {n} outcomes: {e}\n")
            print(f"wire: connection lost after {n} outcomes", file=sys.stderr)
            return 1
    c.close()
    print(f"wire ({mode}): {n} outcomes")
    return 0


# ---------------------------------------------------------------------------------------------
def summarize(logs):
    """Exit status 1: a crash-like outcome (FATAL, PANIC, lost connection, 08xxx/57Pxx); 2: only
    internal errors (XX000: an elog() or a Rust panic turned into an ERROR, not a crash but not a
    proper error either); 0: every outcome a success or an ERROR/WARNING with a proper SQLSTATE."""
    crash, internal = [], []
    total = collections.Counter()

    def classify(log, line, severity, state):
        if severity in ("FATAL", "PANIC") or state[:2] == "08" or state[:3] == "57P":
            crash.append(f"{log}: {line}")
        elif state == "58P01":   # could not access file "$libdir/safe_ddl": not a valid run
            crash.append(f"{log}: (the library vanished, reinstalled during the run?) {line}")
        elif state.startswith("XX"):
            internal.append(f"{log}: {line}")

    for log in logs:
        counts = collections.Counter()
        with open(log, encoding="utf-8", errors="replace") as f:
            for line in f:
                line = line.rstrip("\n")
                if log.endswith(".wire"):
                    tag, _, res = line.partition("\t")
                    word = (res.split(" ", 2) + ["", ""])[:2]
                    if res.startswith("ok"):
                        counts["ok" if res == "ok" else "ok with WARNING"] += 1
                    else:
                        counts[f"{word[0]} {word[1]}"] += 1
                        classify(log, line, word[0], word[1])
                    continue
                if log.endswith(".out"):   # plpgsql pass: "n|ok" or "n|SQLSTATE message"
                    if not re.match(r"^[0-9]+[|]", line):
                        continue   # the rest of a message that spans lines
                    res = line.split("|", 1)[1]
                    if res == "ok":
                        counts["ok"] += 1
                    else:
                        counts[f"ERROR {res[:5]}"] += 1
                        classify(log, line, "ERROR", res[:5])
                    continue
                m = re.search(r"(ERROR|WARNING|FATAL|PANIC):  ([0-9A-Z]{5}): ", line)
                if m and m.group(2) == "P0001" and line.endswith("rob: roll back"):
                    counts["ok (rolled back)"] += 1
                elif m:
                    counts[f"{m.group(1)} {m.group(2)}"] += 1
                    classify(log, line, m.group(1), m.group(2))
                elif re.search(r"FATAL|PANIC|server closed the connection|connection to server|"
                               r"no connection to the server|terminated by signal", line):
                    crash.append(f"{log}: {line}")
        print(f"  {os.path.basename(log)}: " + ", ".join(f"{k}: {v}" for k, v in sorted(counts.items())))
        total.update(counts)
    print(f"  counted (every ERROR/WARNING; successes of the plpgsql, DO, CALL and wire passes): {sum(total.values())}; "
          + ", ".join(f"{k}: {v}" for k, v in total.most_common(8)))
    for b in crash[:30]:
        print("CRASH: " + b)
    for b in internal[:30]:
        print("INTERNAL ERROR: " + b)
    if len(internal) > 30:
        print(f"INTERNAL ERROR: ... {len(internal) - 30} more")
    return 1 if crash else 2 if internal else 0


def main():
    cmd = sys.argv[1]
    if cmd == "scripts":
        scripts(sys.argv[2], sys.argv[3])
        return 0
    if cmd == "wire":
        return wire(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6], sys.argv[7])
    if cmd == "summarize":
        return summarize(sys.argv[2:])
    raise SystemExit(f"unknown command {cmd}")


if __name__ == "__main__":
    sys.exit(main())
