#!/usr/bin/env python3
"""hoard benchmark cpu beside borg 2's, on this machine, in one run.

Runs `hoard benchmark cpu --json` (release build) and `borg2 benchmark cpu` RUNS times each,
interleaved, plus borg 2's own compressors over hoard's text-like data (same generator), and prints
the median seconds of each primitive with the ratio hoard/borg2 (below 1.00: hoard is faster).

Usage: benchmarks/cpu.py [--quick] [--runs N]   (--quick: 100MB instead of 1GB per row)
Needs: a release build (benchmarks/cpu.sh makes one), borg2 (Debian's borgbackup2).
"""
import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# hoard row -> borg 2 row it is compared with.
PAIRS = [
    ("chunkers", "buzhash,19,23,21,4095", "buzhash,19,23,21,4095"),
    ("chunkers", "fastcdc,19,23,21,2", "buzhash,19,23,21,4095"),
    ("chunkers", "fixed,1048576", "fixed,1048576"),
    ("ids", "keyed-blake3", "blake2b-256"),
    ("ids", "hmac-sha256", "hmac-sha256"),
    ("encryption", "aes-256-gcm", "aes-256-ocb"),
    ("encryption", "chacha20-poly1305", "chacha20-poly1305"),
    ("kdfs", "argon2id", "argon2"),
] + [("compression", c, c) for c in ["lz4", "zstd,1", "zstd,3", "zstd,5", "zstd,10", "zlib,6", "lzma,6"]]
TEXT_CODECS = ["lz4", "zstd,1", "zstd,3", "zstd,10", "zlib,6", "lzma,6"]
DECOMP_CODECS = ["lz4", "zstd,3", "zlib,6", "lzma,6"]

# borg 2's compressors over hoard's text-like data: the generator is hoard-core's bench::sample.
BORG_TEXT = r"""
import sys, time, json
sys.path.insert(0, '/usr/lib/borgbackup2')
from borg.compress import CompressionSpec
WORDS = [b"the ", b"backup ", b"of ", b"archive ", b"and ", b"chunk ", b"to ", b"repository ",
         b"is ", b"deduplicated ", b"files ", b"compressed, ", b"key ", b"encrypted. ", b"data ", b"\n"]
M = (1 << 64) - 1
def text(n):
    out, x, size = [], 0x2545F4914F6CDD1D, 0
    while size < n:
        x ^= (x << 13) & M; x ^= x >> 7; x ^= (x << 17) & M
        w = WORDS[x >> 60]; out.append(w); size += len(w)
    return b"".join(out)[:n]
comp_amount, decomp_amount, codecs, decomp = json.loads(sys.argv[1])
data = text(10_000_000)
res = {}
for spec in codecs:
    c = CompressionSpec(spec).compressor
    reps = max(1, comp_amount // len(data))
    c.compress({}, data)  # warm-up, as hoard's runs have one
    t = time.perf_counter()
    for _ in range(reps): c.compress({}, data)
    res["c:" + spec] = (time.perf_counter() - t) * comp_amount / (reps * len(data))
for spec in decomp:
    c = CompressionSpec(spec).compressor
    meta, blob = c.compress({}, data)
    reps = max(1, decomp_amount // len(data))
    c.decompress(dict(meta), blob)
    t = time.perf_counter()
    for _ in range(reps): c.decompress(dict(meta), blob)
    res["d:" + spec] = (time.perf_counter() - t) * decomp_amount / (reps * len(data))
print(json.dumps(res))
"""


def hoard_run(size, native):
    env = dict(os.environ, NAPI_RS_NATIVE_LIBRARY_PATH=native)
    out = subprocess.run(["node", os.path.join(ROOT, "dist/hoard.mjs"), "benchmark", "cpu", "--json", "--size", size],
                         env=env, check=True, capture_output=True, text=True).stdout
    return json.loads(out)["results"]


def borg_run():
    out = subprocess.run(["borg2", "benchmark", "cpu"], check=True, capture_output=True, text=True).stdout
    rows = {}
    for line in out.splitlines():
        m = re.match(r"^(\S+(?: \(zlib\))?)\s+\S+\s+(\d+\.\d+)s$", line)
        if m:
            rows.setdefault(m.group(1), m.group(2))
    return {k: float(v) for k, v in rows.items()}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="100MB per row instead of 1GB (borg still runs 1GB)")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--native", default=os.path.join(ROOT, "benchmarks/out/hoard.node"))
    args = ap.parse_args()
    size_bytes = 100_000_000 if args.quick else 1_000_000_000
    size = "100MB" if args.quick else "1GB"
    have_borg = shutil.which("borg2") is not None
    hoard, borg, btext = [], [], []
    for i in range(args.runs):
        print(f"run {i + 1}/{args.runs} ...", file=sys.stderr)
        hoard.append(hoard_run(size, args.native))
        if have_borg:
            borg.append(borg_run())
            btext.append(json.loads(subprocess.run(
                ["/usr/bin/python3", "-c", BORG_TEXT,
                 json.dumps([10_000_000, 100_000_000, TEXT_CODECS, DECOMP_CODECS])],
                check=True, capture_output=True, text=True).stdout))

    def hmed(group, name, per_bytes=None):
        vals = []
        for r in hoard:
            row = next(x for x in r[group] if x["name"] == name)
            # Scale to what borg processes for that row, so seconds compare directly.
            vals.append(row["seconds"] * (per_bytes / row["amount"] if per_bytes else 1))
        return statistics.median(vals)

    full = {"chunkers": 1e9, "ids": 1e9, "encryption": 1e9, "kdfs": None, "compression": 1e8,
            "compressionText": 1e7, "decompressionText": 1e8}
    print(f"hoard vs borg 2 benchmark cpu, median of {args.runs} runs, seconds for borg's amounts "
          f"(hoard measured over {size} rows and scaled); ratio < 1: hoard faster")
    print(f"{'hoard':<26} {'borg 2':<22} {'amount':>8} {'hoard s':>9} {'borg2 s':>9} {'ratio':>6}")
    for group, hname, bname in PAIRS:
        h = hmed(group, hname, full[group])
        b = statistics.median(r[bname] for r in borg) if borg else float("nan")
        amt = "5 runs" if group == "kdfs" else ("1GB" if full[group] == 1e9 else "0.1GB")
        print(f"{hname:<26} {bname:<22} {amt:>8} {h:9.3f} {b:9.3f} {h / b:6.2f}")
    for spec in TEXT_CODECS:
        h = hmed("compressionText", spec, 1e7)
        b = statistics.median(r["c:" + spec] for r in btext) if btext else float("nan")
        print(f"{spec + ' (text)':<26} {spec + ' (text)':<22} {'0.01GB':>8} {h:9.3f} {b:9.3f} {h / b:6.2f}")
    for spec in DECOMP_CODECS:
        h = hmed("decompressionText", spec, 1e8)
        b = statistics.median(r["d:" + spec] for r in btext) if btext else float("nan")
        print(f"{'decompress ' + spec:<26} {'decompress ' + spec:<22} {'0.1GB':>8} {h:9.3f} {b:9.3f} {h / b:6.2f}")


if __name__ == "__main__":
    main()
