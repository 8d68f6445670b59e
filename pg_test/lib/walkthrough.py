#!/usr/bin/env python3
"""Run the walk-throughs of a Markdown page and compare the output it shows with the real one.

Blocks of the page marked in their fence's info string take part, in page order, in one psql
session (psql -X -a: every input line is echoed, so a transcript reads as the page shows it):

  ```sql walkthrough      SQL run as it is (setup a reader pastes); it must print nothing
                          (no ERROR, NOTICE or WARNING; command tags are not shown)
  ```psql walkthrough     a psql transcript: a line starting with the prompt (`app=# `, `=# `)
                          and the lines after it up to the `;` that ends the statement (or a
                          backslash command) are input; every other line is the output shown,
                          compared with the real output. A line `...` stands for any number of
                          lines (progress the page leaves out).

Both sides are normalised only where output varies from run to run: timestamps, durations, sizes,
pids, backfill batch counts; runs of blanks and of `-` (column widths follow the values).

Usage: walkthrough.py PAGE.md script     writes the psql input to stdout
       walkthrough.py PAGE.md compare ACTUAL   exits 1 with a diff when the output differs
       walkthrough.py PAGE.md regen ACTUAL     rewrites the page's transcripts with the real
                                               output (review with git diff; `...` kept)
"""
import difflib
import re
import sys

PROMPT = re.compile(r"^[a-z_]*=# ")
FENCE = re.compile(r"^```(\S*)(.*)$")
# psql input lines that switch off echo and output around a sql block (filtered from the output)
QUIET_ON = ["\\set ECHO none", "\\set QUIET on", "\\o /dev/null"]
QUIET_OFF = ["\\o", "\\set QUIET off", "\\set ECHO all"]


def blocks(path):
    """(kind, lines) of every marked block, kind 'sql' or 'psql'."""
    out, cur, kind = [], None, None
    for line in open(path, encoding="utf-8").read().split("\n"):
        m = FENCE.match(line)
        if cur is None:
            if m and "walkthrough" in m.group(2).split() and m.group(1) in ("sql", "psql"):
                cur, kind = [], m.group(1)
        elif line.startswith("```"):
            out.append((kind, cur))
            cur = None
        else:
            cur.append(line)
    return out


def statement_ends(line):
    """Whether an input line ends the statement: a `;` or a psql command (`\\gset`) at its end."""
    code = re.sub(r"--.*$", "", line).rstrip()
    return code.endswith(";") or re.search(r"\\[a-z]+( \S+)?$", code) is not None


def transcript(lines):
    """[(input_lines, output_lines)] of a psql block."""
    steps, i = [], 0
    while i < len(lines):
        if not PROMPT.match(lines[i]):
            if steps:
                steps[-1][1].append(lines[i])
            elif lines[i].strip():
                sys.exit(f"walkthrough: output before the first prompt: {lines[i]!r}")
            i += 1
            continue
        first = PROMPT.sub("", lines[i])
        inp = [first]
        i += 1
        if not first.lstrip().startswith("\\") and not statement_ends(first):
            while i < len(lines) and not statement_ends(inp[-1]) and not PROMPT.match(lines[i]):
                inp.append(lines[i])
                i += 1
        steps.append((inp, []))
    return steps


def script(path):
    out = ["\\set ECHO all"]
    for kind, lines in blocks(path):
        if kind == "sql":
            out += QUIET_ON + lines + QUIET_OFF
        else:
            for inp, _ in transcript(lines):
                out += inp
    return "\n".join(out) + "\n"


def expected(path):
    out = []
    for kind, lines in blocks(path):
        if kind == "psql":
            for inp, outp in transcript(lines):
                out += inp + outp
    return out


NORMALISE = [
    (re.compile(r"\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(\.\d+)?([+-]\d\d(:\d\d)?)?"), "<timestamp>"),
    (re.compile(r"\b\d+(\.\d+)? ?(ms|s)\b"), "<duration>"),
    (re.compile(r"\b\d+(\.\d+)? (bytes|kB|MB|GB|TB)\b"), "<size>"),
    (re.compile(r"\bpid \d+"), "pid <pid>"),
    (re.compile(r"\bin \d+ batch(es)?\b"), "in <n> batches"),
    (re.compile(r"-{2,}"), "-"),
    (re.compile(r"\s+"), " "),
]


def normalise(line):
    for rx, rep in NORMALISE:
        line = rx.sub(rep, line)
    return line.strip()


def compare(path, actual_path):
    exp = [normalise(line) for line in expected(path)]
    skip = set(QUIET_ON + QUIET_OFF)
    act = [
        normalise(line)
        for line in open(actual_path, encoding="utf-8", errors="replace").read().split("\n")
        if line not in skip
    ]
    exp = [line for line in exp if line != ""]
    act = [line for line in act if line != ""]
    pattern = "".join(
        r"(?:[^\n]*\n)*?" if line == "..." else re.escape(line) + r"\n" for line in exp
    )
    text = "".join(line + "\n" for line in act)
    if re.fullmatch(pattern, text):
        return 0
    # The first line the page shows that the real output does not have: the longest prefix of
    # the page's lines (with its `...`) that matches a prefix of the real output.
    def piece(line):
        return r"(?:[^\n]*\n)*?" if line == "..." else re.escape(line) + r"\n"

    k, end = 0, 0
    for n in range(1, len(exp) + 1):
        m = re.match("".join(piece(line) for line in exp[:n]), text)
        if not m:
            break
        k, end = n, m.end()
    real_next = text[end:].split("\n")[:3]
    shown = exp[k] if k < len(exp) else "(nothing more)"
    print(f"{path}: first difference after {k} matching lines:")
    print(f"  shown: {shown}")
    for line in real_next:
        print(f"  real:  {line}")
    print("full diff (normalised; `...` lines show as removed):")
    sys.stdout.writelines(
        difflib.unified_diff(
            [line + "\n" for line in exp],
            [line + "\n" for line in act],
            f"{path} (as shown, normalised)",
            "real output (normalised)",
        )
    )
    return 1


def regen(path, actual_path):
    """Rewrite the page's transcripts with the real output (for review with git diff): each
    statement's output is replaced by the real one, except where the page shows `...`."""
    skip = set(QUIET_ON + QUIET_OFF)
    act = [
        line.rstrip()
        for line in open(actual_path, encoding="utf-8", errors="replace").read().split("\n")
        if line not in skip
    ]
    pos = 0

    def real_output(inp):
        nonlocal pos
        # find the echoed input, then take the lines up to the next statement's echo
        while act[pos : pos + len(inp)] != [line.rstrip() for line in inp]:
            pos += 1
            if pos >= len(act):
                sys.exit(f"walkthrough: input not found in the real output: {inp[0]!r}")
        pos += len(inp)
        start = pos
        return start

    steps = []
    for kind, lines in blocks(path):
        if kind == "psql":
            steps += transcript(lines)
    starts = [real_output(inp) for inp, _ in steps]
    ends = []
    for i, (inp, _) in enumerate(steps):
        ends.append(starts[i + 1] - len(steps[i + 1][0]) if i + 1 < len(steps) else len(act))
    new_out = {}
    for i, (inp, outp) in enumerate(steps):
        real = act[starts[i] : ends[i]]
        while real and real[-1] == "":
            real.pop()
        new_out[i] = outp if "..." in outp else real
    text = open(path, encoding="utf-8").read().split("\n")
    result, cur, i_step = [], None, 0
    for line in text:
        m = FENCE.match(line)
        if cur is None:
            result.append(line)
            if m and "walkthrough" in m.group(2).split() and m.group(1) == "psql":
                cur = []
        elif line.startswith("```"):
            for inp, _ in transcript(cur):
                out = new_out[i_step]
                i_step += 1
                prompt = PROMPT.match(cur[0]).group(0) if cur and PROMPT.match(cur[0]) else "=# "
                result += [prompt + inp[0]] + inp[1:] + out
            result.append(line)
            cur = None
        else:
            cur.append(line)
    open(path, "w", encoding="utf-8").write("\n".join(result))


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[2] == "script":
        sys.stdout.write(script(sys.argv[1]))
    elif len(sys.argv) == 4 and sys.argv[2] == "regen":
        regen(sys.argv[1], sys.argv[3])
    elif len(sys.argv) == 4 and sys.argv[2] == "compare":
        sys.exit(compare(sys.argv[1], sys.argv[3]))
    else:
        sys.exit(__doc__)
