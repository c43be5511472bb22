#!/usr/bin/env python3
"""hoard's repository benchmark: hoard beside borg 1.2, borg 2 and restic on the same trees.

For each corpus (a generated one and a copy of a real tree), each tool and each run: a fresh
repository (repokey, lz4, chunker buzhash,19,23,21,4095), then timed `init`, first `create`,
unchanged re-`create`, `create` after 5% of the files changed, and `extract` of the first archive
into an empty folder, twice: with the repository's files (and the tool's cache folder) dropped
from the page cache, then with the repository read into it (the page cache warm, as for every
create; the targets are set on this one). Each command's wall time and peak RSS are measured,
and the repository's size after the first create. Runs are interleaved across the tools; the
table shows medians and the ratio tool / borg 1.2 (below 1.00: faster or smaller than borg 1.2).

Usage: benchmarks/repo.py [--quick] [--runs N] [--work DIR] [--tools LIST] [--corpus LIST]
                          [--seed N] [--verify] [--json] [--fs auto|image|here] [--settle S]
                          [--native FILE]
Needs: python3 (stdlib only), the tools to compare (benchmarks/repo.sh installs them), and for
hoard a release build (`npm run build`). A tool that is missing is skipped with a note.
"""
import argparse
import glob
import hashlib
import json
import math
import stat
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import time

import scratch_fs

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PASSPHRASE = "hoard-bench-passphrase"
CHUNKER = "buzhash,19,23,21,4095"
# Bump when the generator changes: a cached corpus of another version is made again.
GEN_VERSION = 1
BLOCK = 4 << 20
TIME = "/usr/bin/time"  # GNU time (Debian: time)
# The extract step run first, with the repository's files dropped from the page cache (see evict()).
COLD_EXTRACT = "extract, repo cold"
STEPS = ["init", "create", "create unchanged", "create 5% changed", COLD_EXTRACT, "extract"]
MODIFY_FRACTION = 0.05
MODIFY_BYTES = 4096


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def parse_size(text):
    units = {"": 1, "B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "KIB": 1 << 10, "MIB": 1 << 20, "GIB": 1 << 30}
    t = text.strip().upper()
    num = t.rstrip("KMGIB")
    unit = t[len(num):]
    if unit not in units or not num:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (e.g. 200MB, 2GB)")
    return int(float(num) * units[unit])


def fmt_bytes(n):
    return f"{n / 1e6:,.1f} MB"


# ---------------------------------------------------------------------------------------------
# Corpus generation: deterministic from the seed. Random bytes come from SHAKE-256 streams (one
# key per file or region), text-like bytes from segments of a word pool; structure (sizes, kinds,
# offsets) from random.Random(seed), whose random() sequence Python keeps stable.

def shake_stream(key, n):
    """n pseudo-random bytes for `key`, in blocks of BLOCK bytes."""
    i = 0
    while n > 0:
        k = min(n, BLOCK)
        yield hashlib.shake_256(key + b"/" + str(i).encode()).digest(k)
        n -= k
        i += 1


def make_text_pool(seed, size):
    """About `size` bytes of text-like data: Zipf-distributed made-up words, lines, sentences."""
    rng = random.Random(f"words-{seed}")
    letters = "etaoinshrdlcumwfgypbvkjxqz"
    lweights = [12.7, 9.1, 8.2, 7.5, 7.0, 6.7, 6.3, 6.1, 6.0, 4.3, 2.8, 2.8, 2.4, 2.4, 2.2, 2.0, 2.0, 1.6, 1.5,
                1.0, 0.8, 0.2, 0.2, 0.1, 0.1, 0.07]
    vocab = set()
    while len(vocab) < 5000:
        n = max(1, min(14, int(rng.gauss(6, 2.5))))
        vocab.add("".join(rng.choices(letters, lweights, k=n)))
    words = sorted(vocab)
    rng.shuffle(words)
    tokens = [w.encode() + b" " for w in words]
    tokens += [b"the ", b"of ", b"and ", b"to ", b"in ", b". ", b".\n", b", ", b"\n\n", b"    ", b"= ", b"(", b") "]
    weights = [1.0 / (r + 1) for r in range(len(words))] + [0.08, 0.05, 0.04, 0.04, 0.03, 0.03, 0.02, 0.03,
                                                            0.004, 0.01, 0.005, 0.005, 0.005]
    # A table of 65536 slots, each token in proportion to its weight, indexed by 16-bit random numbers.
    total = sum(weights)
    table = []
    for t, w in zip(tokens, weights):
        table += [t] * max(1, round(w / total * 65536))
    table = (table + [tokens[0]] * 65536)[:65536]
    idx = memoryview(hashlib.shake_256(f"text-{seed}".encode()).digest(2 * (size // 5 + 1))).cast("H")
    # In batches: bytes.join keeps an 80-byte buffer record per item.
    out = b"".join(b"".join(map(table.__getitem__, idx[i:i + 65536])) for i in range(0, len(idx), 65536))
    return out[:size]


def read_range(f, start, end):
    """The bytes of f from start to end, in blocks."""
    f.seek(start)
    while start < end:
        b = f.read(min(BLOCK, end - start))
        if not b:
            return
        start += len(b)
        yield b


class Generator:
    """Writes the generated corpus into `tree` (see README: about `size` bytes)."""

    def __init__(self, seed, size, tree):
        self.seed, self.size, self.tree = seed, size, tree
        self.rng = random.Random(seed)
        self.pool = make_text_pool(seed, 16 << 20)
        self.nkey = 0
        self.written = 0

    def key(self):
        self.nkey += 1
        return f"hoard-bench/{self.seed}/{self.nkey}".encode()

    def text(self, n):
        """n bytes of text from pool segments of 256 B to 16 KiB at random offsets."""
        rng, pool, out, left = self.rng, self.pool, [], n
        while left > 0:
            k = min(left, rng.randint(256, 16384))
            off = rng.randrange(0, len(pool) - k)
            out.append(pool[off:off + k])
            left -= k
            if len(out) >= 512 or left == 0:
                yield b"".join(out)
                out = []

    def random(self, n):
        return shake_stream(self.key(), n)

    def mixed(self, n):
        """Alternating text and random regions of 256 KiB to 8 MiB."""
        left, text = n, self.rng.random() < 0.5
        while left > 0:
            k = min(left, self.rng.randint(256 << 10, 8 << 20))
            yield from (self.text(k) if text else self.random(k))
            left -= k
            text = not text

    def content(self, kind, n):
        return {"text": self.text, "random": self.random, "mixed": self.mixed}[kind](n)

    def write(self, rel, blocks):
        path = os.path.join(self.tree, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            for b in blocks:
                f.write(b)
                self.written += len(b)
        return rel

    def copy(self, src, dst, extra=None):
        """dst = src's bytes (plus `extra` blocks appended)."""
        def blocks():
            with open(os.path.join(self.tree, src), "rb") as f:
                while b := f.read(BLOCK):
                    yield b
            if extra is not None:
                yield from extra
        return self.write(dst, blocks())

    def run(self):
        rng, S = self.rng, self.size
        # Many small files (a few KB) in nested folders: 10% of the bytes.
        small = []
        budget = 0.10 * S
        while budget > 0:
            n = max(1, min(65536, int(rng.lognormvariate(math.log(3000), 0.9))))
            d = len(small) // 40
            rel = f"small/s{d // 64:03d}/t{d // 8 % 8}/u{d % 8}/f{len(small):06d}"
            kind = "text" if rng.random() < 0.6 else "random"
            small.append(self.write(rel + (".txt" if kind == "text" else ".bin"), self.content(kind, n)))
            budget -= n
        # Medium files (64 KiB to 32 MiB): 30%.
        medium = []
        budget = 0.30 * S
        while budget > 0:
            n = int(min(budget + 65536, max(65536, min(32 << 20, rng.lognormvariate(math.log(1 << 20), 1.0)))))
            kind = rng.choices(["text", "random", "mixed"], [0.4, 0.4, 0.2])[0]
            rel = f"media/m{len(medium) // 16:02d}/file{len(medium):04d}.{kind}"
            medium.append(self.write(rel, self.content(kind, n)))
            budget -= n
        # Large files: mixed (20%), random (15%), and an edited copy of the first (20%, sharing
        # about 85% of its bytes in shifted ranges).
        n1 = int(0.20 * S)
        big1 = self.write("big/disk-image.raw", self.mixed(n1))
        self.write("big/archive.bin", self.random(int(0.15 * S)))

        def edited():
            with open(os.path.join(self.tree, big1), "rb") as f:
                yield from read_range(f, 0, int(0.40 * n1))
                yield from self.random(100_000)
                yield from read_range(f, int(0.40 * n1) + 37, int(0.85 * n1))
            yield from self.mixed(max(0, n1 - int(0.85 * n1) - 100_000 + 37))
        self.write("big/disk-image-edited.raw", edited())
        # Duplicates: identical copies of small and medium files, and grown copies (5%).
        budget = 0.05 * S
        i = 0
        while budget > 0:
            if i % 4 == 3:
                src = rng.choice(medium)
                if i % 8 == 7:
                    extra = list(self.text(rng.randint(4096, 1 << 20)))
                    self.copy(src, f"dup/grown/{i:05d}-{os.path.basename(src)}", extra)
                else:
                    self.copy(src, f"dup/media/{i:05d}-{os.path.basename(src)}")
            else:
                src = rng.choice(small)
                self.copy(src, f"dup/small/{i // 50:03d}/{i:05d}-{os.path.basename(src)}")
            budget -= os.path.getsize(os.path.join(self.tree, src))
            i += 1
        # A few empty files, symlinks and hard links.
        for j in range(16):
            self.write(f"odd/empty{j:02d}", [])
            os.symlink(os.path.relpath(os.path.join(self.tree, rng.choice(small)), os.path.join(self.tree, "odd")),
                       os.path.join(self.tree, f"odd/link{j:02d}"))
        for j in range(8):
            os.link(os.path.join(self.tree, rng.choice(small)), os.path.join(self.tree, f"odd/hardlink{j:02d}"))


# ---------------------------------------------------------------------------------------------
# Trees: counts, warm-up, comparison, the deterministic 5% modification.

def walk(top):
    """Yields (relative path, lstat) for every entry below `top`, in sorted order."""
    stack = [""]
    while stack:
        rel = stack.pop()
        with os.scandir(os.path.join(top, rel)) as it:
            entries = sorted(it, key=lambda e: e.name, reverse=True)
        for e in entries:
            r = os.path.join(rel, e.name)
            st = e.stat(follow_symlinks=False)
            yield r, st
            if e.is_dir(follow_symlinks=False):
                stack.append(r)


def tree_stats(top):
    s = {"files": 0, "bytes": 0, "dirs": 0, "symlinks": 0, "other": 0}
    for _, st in walk(top):
        if stat.S_ISREG(st.st_mode):
            s["files"] += 1
            s["bytes"] += st.st_size
        elif stat.S_ISDIR(st.st_mode):
            s["dirs"] += 1
        elif stat.S_ISLNK(st.st_mode):
            s["symlinks"] += 1
        else:
            s["other"] += 1
    return s


def regular_files(top):
    return [(r, st.st_size) for r, st in walk(top) if stat.S_ISREG(st.st_mode)]


def warm(top, files=None):
    """Reads every file once (untimed), so the page cache is warm for every tool alike.

    borg 1.2 drops the pages of every file it reads (posix_fadvise DONTNEED in its chunker), so
    one warm-up per corpus is not enough: a create right after borg's would read the tree from the
    disk. Every create is therefore preceded by one (see one_run)."""
    n = 0
    for rel, _ in files if files is not None else regular_files(top):
        with open(os.path.join(top, rel), "rb") as f:
            while b := f.read(BLOCK):
                n += len(b)
    return n


def evict(top):
    """Drops the data of every file under `top` from the page cache, written back first.

    hoard writes its packs past the page cache (O_DIRECT) and borg 1.2 drops the pages of the
    segments it writes (posix_fadvise DONTNEED in its SyncFile), so after the creates a repository
    is partly cached or not at all, differently per tool; the cold extract makes that the same.
    Best effort: DONTNEED drops clean file pages only (directory entries and inodes stay cached),
    and some file systems (tmpfs) ignore it."""
    os.sync()
    for rel, _ in regular_files(top):
        fd = os.open(os.path.join(top, rel), os.O_RDONLY)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def same_trees(a, b):
    """None when b holds a's regular files byte for byte and its symlinks, else what differs."""
    for rel, st in walk(a):
        pb = os.path.join(b, rel)
        if stat.S_ISLNK(st.st_mode):
            if not os.path.islink(pb) or os.readlink(pb) != os.readlink(os.path.join(a, rel)):
                return f"symlink {rel}"
        elif stat.S_ISREG(st.st_mode):
            if not os.path.isfile(pb) or os.path.islink(pb):
                return f"missing {rel}"
            with open(os.path.join(a, rel), "rb") as fa, open(pb, "rb") as fb:
                while True:
                    x, y = fa.read(1 << 20), fb.read(1 << 20)
                    if x != y:
                        return f"content {rel}"
                    if not x:
                        break
    return None


def du(top):
    """Apparent size of everything below `top` (as `du -sb`, hard links once)."""
    seen, total = set(), os.lstat(top).st_size
    for _, st in walk(top):
        if (st.st_dev, st.st_ino) not in seen:
            seen.add((st.st_dev, st.st_ino))
            total += st.st_size
    return total


class Modification:
    """Overwrites up to 4 KiB in 5% of the non-empty files (the same ones, offsets and bytes every
    time for a corpus), and puts the old bytes and times back. A marker file records that the
    corpus is modified, so an interrupted run makes the corpus be built again."""

    def __init__(self, tree, files, seed, marker):
        self.tree, self.marker = tree, marker
        candidates = [(r, n) for r, n in files if n > 0]
        rng = random.Random(f"modify-{seed}")
        k = max(1, round(MODIFY_FRACTION * len(candidates)))
        self.plan = []
        for rel, size in sorted(rng.sample(candidates, k)):
            n = min(size, MODIFY_BYTES)
            self.plan.append((rel, rng.randrange(0, size - n + 1), n))
        self.saved = []

    def apply(self):
        with open(self.marker, "w") as f:
            f.write("modified\n")
        for rel, off, n in self.plan:
            path = os.path.join(self.tree, rel)
            st = os.stat(path)
            with open(path, "r+b") as f:
                f.seek(off)
                old = f.read(n)
                f.seek(off)
                f.write(hashlib.shake_256(b"modify/" + rel.encode()).digest(n))
            self.saved.append((path, off, old, st.st_atime_ns, st.st_mtime_ns))

    def restore(self):
        for path, off, old, atime, mtime in reversed(self.saved):
            with open(path, "r+b") as f:
                f.seek(off)
                f.write(old)
            os.utime(path, ns=(atime, mtime))
        self.saved = []
        if os.path.exists(self.marker):
            os.unlink(self.marker)


# ---------------------------------------------------------------------------------------------
# Corpora: built once into the work folder and reused while their parameters match.

class Corpus:
    def __init__(self, name, label, folder, build):
        self.name, self.label, self.folder, self.build_fn = name, label, folder, build
        self.tree = os.path.join(folder, "tree")
        self.meta_path = folder + ".json"
        self.marker = folder + ".modified"
        self.meta = None

    def prepare(self, params, refresh):
        meta = None
        if os.path.exists(self.meta_path) and not os.path.exists(self.marker) and not refresh:
            with open(self.meta_path) as f:
                meta = json.load(f)
            if meta.get("params") != params or not os.path.isdir(self.tree):
                meta = None
        if meta is None:
            if os.path.exists(self.marker):
                log(f"{self.label}: a previous run was interrupted while files were modified; building it again")
            for p in (self.meta_path, self.marker):
                if os.path.exists(p):
                    os.unlink(p)
            if os.path.exists(self.folder):
                shutil.rmtree(self.folder)
            os.makedirs(self.tree)
            t = time.perf_counter()
            log(f"{self.label}: building in {self.tree} ...")
            self.build_fn(self.tree)
            meta = {"params": params, "stats": tree_stats(self.tree)}
            log(f"{self.label}: built in {time.perf_counter() - t:.1f}s")
            with open(self.meta_path, "w") as f:
                json.dump(meta, f)
        else:
            log(f"{self.label}: reusing {self.tree}")
        t = time.perf_counter()
        stats = tree_stats(self.tree)
        if stats != meta["stats"]:
            raise SystemExit(f"{self.label}: {self.tree} changed since it was built ({stats} != {meta['stats']}); "
                             f"run again with --refresh")
        warm(self.tree)
        log(f"{self.label}: {stats['files']:,} files, {fmt_bytes(stats['bytes'])}, read once in "
            f"{time.perf_counter() - t:.1f}s (page cache warm-up)")
        self.meta = meta
        self.files = regular_files(self.tree)


def generated_corpus(work, seed, size):
    folder = os.path.join(work, "corpora", f"gen-s{seed}-{size}-v{GEN_VERSION}")
    return Corpus("generated", f"generated corpus ({fmt_bytes(size)}, seed {seed})", folder,
                  lambda tree: Generator(seed, size, tree).run()), {"seed": seed, "size": size, "version": GEN_VERSION}


def real_corpus(work, sources):
    slug = "-".join(s.strip("/").replace("/", "-").replace("*", "") for s in sources)[:80]
    folder = os.path.join(work, "corpora", f"real-{slug}")

    def build(tree):
        paths = sorted(p for s in sources for p in glob.glob(s))
        if not paths:
            raise SystemExit(f"real corpus: nothing matches {sources}")
        # A copy, so that the 5% modification never touches the system's files.
        subprocess.run(["cp", "-a", "--", *paths, tree + "/"], check=True)
    return Corpus("real", f"real corpus (copy of {' '.join(sources)})", folder, build), {"sources": sources}


# ---------------------------------------------------------------------------------------------
# Tools.

class Tool:
    key = label = ""
    available, note, version = False, "", ""

    def env(self, home):
        return {}


class Borg1(Tool):
    key, label, exe = "borg", "borg 1.2", "borg"

    def probe(self, args):
        if not shutil.which(self.exe):
            return f"{self.exe} not found (Debian: borgbackup)"
        self.version = run_out([self.exe, "--version"])
        return None

    def env(self, home):
        return {"BORG_PASSPHRASE": PASSPHRASE, "BORG_BASE_DIR": home}

    def init(self, repo):
        return [self.exe, "init", "--encryption", "repokey", repo]

    def create(self, repo, name):
        return [self.exe, "create", "--compression", "lz4", "--chunker-params", CHUNKER, f"{repo}::{name}", "tree"]

    def extract(self, repo, name):
        return [self.exe, "extract", f"{repo}::{name}"]


class Borg2(Borg1):
    key, label, exe = "borg2", "borg 2", "borg2"

    def probe(self, args):
        missing = super().probe(args)
        if missing:
            return missing
        helptext = subprocess.run([self.exe, "--help"], capture_output=True, text=True).stdout
        # borg 2 betas renamed rcreate to repo-create (2.0.0b10).
        self.repo_create = "repo-create" if "repo-create" in helptext else "rcreate"
        return None

    def init(self, repo):
        return [self.exe, "-r", repo, self.repo_create, "--encryption", "repokey-aes-ocb"]

    def create(self, repo, name):
        return [self.exe, "-r", repo, "create", "--compression", "lz4", "--chunker-params", CHUNKER, name, "tree"]

    def extract(self, repo, name):
        return [self.exe, "-r", repo, "extract", name]


class Restic(Tool):
    key, label = "restic", "restic"

    def probe(self, args):
        if not shutil.which("restic"):
            return "restic not found (Debian: restic)"
        self.version = run_out(["restic", "version"])
        return None

    def env(self, home):
        return {"RESTIC_PASSWORD": PASSPHRASE, "RESTIC_CACHE_DIR": os.path.join(home, "restic-cache")}

    def init(self, repo):
        return ["restic", "-r", repo, "init"]

    def create(self, repo, name):
        # restic's own chunker (512 KiB to 8 MiB) and its default --compression auto.
        return ["restic", "-r", repo, "backup", "--quiet", "--host", "bench", "--tag", name, "tree"]

    def extract(self, repo, name):
        return ["restic", "-r", repo, "restore", "--quiet", "latest", "--tag", name, "--target", "."]


class Hoard(Tool):
    key, label = "hoard", "hoard"

    def probe(self, args):
        self.main = os.path.join(ROOT, "dist", "hoard.mjs")
        self.native = args.native
        if not os.path.exists(self.main):
            return "dist/hoard.mjs missing: run `npm run build` first"
        env = dict(os.environ, **self.env(os.environ.get("HOME", "/tmp")))
        rc = subprocess.run(["node", self.main, "help", "create"], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL).returncode
        if rc != 0:
            return f"`hoard help create` exited {rc}: this build has no create command yet"
        self.version = run_out(["node", self.main, "--version"], env=env)
        self.build = self.build_kind()
        if self.build == "debug" or self.build.startswith("unknown"):
            log(f"warning: hoard's addon build is {self.build}; the numbers are meant for a release build "
                f"(`npm run build`)")
        return None

    def build_kind(self):
        """release / debug when binding/'s addon is the file cargo left in a release / debug folder of target/."""
        if self.native:
            return f"--native {self.native}"
        nodes = glob.glob(os.path.join(ROOT, "binding", "*.node"))
        if len(nodes) != 1:
            return "unknown (no single binding/*.node)"
        digest = file_digest(nodes[0])
        for kind in ("release", "debug"):
            # target/<profile> (cargo) or target/<triple>/<profile> (napi build --platform)
            for built in glob.glob(os.path.join(ROOT, "target", kind, "libhoard_node.so")) + \
                    glob.glob(os.path.join(ROOT, "target", "*", kind, "libhoard_node.so")):
                if os.path.getsize(built) == os.path.getsize(nodes[0]) and file_digest(built) == digest:
                    return kind
        return "unknown (binding/'s addon matches no libhoard_node.so under target/)"

    def env(self, home):
        e = {"HOARD_PASSPHRASE": PASSPHRASE}
        if self.native:
            e["NAPI_RS_NATIVE_LIBRARY_PATH"] = os.path.abspath(self.native)
        return e

    def init(self, repo):
        return ["node", self.main, "init", "-e", "repokey", repo]

    def create(self, repo, name):
        return ["node", self.main, "create", "--compression", "lz4", "--chunker-params", CHUNKER,
                f"{repo}::{name}", "tree"]

    def extract(self, repo, name):
        return ["node", self.main, "extract", f"{repo}::{name}"]


TOOLS = [Borg1, Borg2, Restic, Hoard]


def file_digest(path):
    h = hashlib.blake2b()
    with open(path, "rb") as f:
        while b := f.read(BLOCK):
            h.update(b)
    return h.hexdigest()


def run_out(argv, env=None):
    p = subprocess.run(argv, capture_output=True, text=True, env=env)
    return (p.stdout + p.stderr).strip().splitlines()[0] if (p.stdout + p.stderr).strip() else ""


# ---------------------------------------------------------------------------------------------
# Timed runs.

# When this process last removed a tree (time.monotonic()); see settle().
last_removal = None


def remove_tree(path):
    """Removes a run's folder, writes the removal back, and notes when (for settle())."""
    global last_removal
    shutil.rmtree(path, ignore_errors=True)
    os.sync()
    last_removal = time.monotonic()


def settle(seconds):
    """Waits until `seconds` have passed since the last removal of a tree.

    ext4 skips inodes freed in the last minute when it allocates new ones (`recently_deleted`,
    fs/ext4/ialloc.c), so an extract started right after a large `rm -rf` spends seconds in the
    inode allocator, and a faster tool, whose extract comes sooner after the previous run's
    removal, pays more of it. Every extract therefore starts `seconds` after the last removal."""
    if last_removal is None or seconds <= 0:
        return
    wait = seconds - (time.monotonic() - last_removal)
    if wait > 0:
        time.sleep(wait)


def timed(argv, cwd, env, logfile):
    """Runs argv under /usr/bin/time; returns (wall seconds, peak RSS in KiB, exit code).

    The peak RSS is GNU time's %M: the largest resident set of the command and of the children it
    waited for. (The rusage this Python process would get itself is no good: a forked child that
    execs keeps the parent's high-water mark.)"""
    os.sync()  # earlier steps' dirty pages are written back before the clock starts
    rss_file = logfile + ".rss"
    with open(logfile, "ab") as out:
        out.write(("$ " + " ".join(argv) + "\n").encode())
        out.flush()
        t = time.perf_counter()
        p = subprocess.run([TIME, "-f", "%M", "-o", rss_file, *argv], cwd=cwd, env=env,
                           stdin=subprocess.DEVNULL, stdout=out, stderr=out)
        wall = time.perf_counter() - t
    with open(rss_file) as f:
        rss = int(f.read().split()[-1])
    os.unlink(rss_file)
    return wall, rss, p.returncode


def tail(path, n=8):
    with open(path, "rb") as f:
        return b"\n".join(f.read().splitlines()[-n:]).decode(errors="replace")


def miscounted(dest, corpus):
    """None when dest/tree has the corpus's count of files and symlinks and its bytes, else what it has."""
    got_root = os.path.join(dest, "tree")
    got = tree_stats(got_root) if os.path.isdir(got_root) else None
    want = corpus.meta["stats"]
    if got is None or any(got[k] != want[k] for k in ("files", "bytes", "symlinks")):
        return f"got {got}, corpus has {want}"
    return None


def one_run(tool, corpus, run, work, seed, verify, settle_seconds):
    base = os.path.join(work, "runs", f"{corpus.name}-{tool.key}")
    if os.path.exists(base):
        remove_tree(base)
    home, repo, dest, cold = (os.path.join(base, d) for d in ("home", "repo", "extract", "extract-cold"))
    os.makedirs(home)
    os.makedirs(dest)
    os.makedirs(cold)
    logfile = os.path.join(work, "logs", f"{corpus.name}-{tool.key}-run{run}.log")
    if os.path.exists(logfile):
        os.unlink(logfile)
    env = dict(os.environ, HOME=home, XDG_CONFIG_HOME=os.path.join(home, ".config"),
               XDG_CACHE_HOME=os.path.join(home, ".cache"), **tool.env(home))
    res = {"tool": tool.key, "run": run, "steps": {}, "ok": True}
    folder = os.path.dirname(corpus.tree)
    plan = [
        ("init", tool.init(repo), folder),
        ("create", tool.create(repo, "a1"), folder),
        ("create unchanged", tool.create(repo, "a2"), folder),
        ("create 5% changed", tool.create(repo, "a3"), folder),
        (COLD_EXTRACT, tool.extract(repo, "a1"), cold),
        ("extract", tool.extract(repo, "a1"), dest),
    ]
    mod = Modification(corpus.tree, corpus.files, seed, corpus.marker)
    try:
        for step, argv, cwd in plan:
            try:
                if step == "create 5% changed":
                    mod.apply()
                if step.startswith("create"):
                    warm(corpus.tree, corpus.files)
                if step.startswith("extract"):
                    settle(settle_seconds)
                    # The repository is the extract's input: out of the page cache for the first
                    # extract, in it for the second (read once, untimed), for every tool alike.
                    if step == COLD_EXTRACT:
                        evict(repo)
                        evict(home)
                    else:
                        warm(repo)
                wall, rss, rc = timed(argv, cwd, env, logfile)
            finally:
                if os.path.exists(mod.marker):
                    mod.restore()
            res["steps"][step] = {"seconds": round(wall, 3), "max_rss_kib": rss, "exit": rc}
            log(f"  {tool.label:<8} run {run}  {step:<18} {wall:8.2f}s {rss / 1024:8.0f} MB" + (f"  exit {rc}" if rc else ""))
            if rc != 0:
                res["ok"] = False
                res["error"] = f"{step} exited {rc}; {logfile}:\n{tail(logfile)}"
                log("  " + res["error"].replace("\n", "\n    "))
                break
            if step == "create":
                res["repo_bytes_first"] = du(repo)
            if step == COLD_EXTRACT:
                # Counted (the second extract is the one compared byte for byte), then removed.
                wrong = miscounted(cold, corpus)
                if wrong:
                    res["ok"] = False
                    res["error"] = f"{step} check: {wrong}"
                    log("  " + res["error"])
                    break
                remove_tree(cold)
        else:
            res["repo_bytes_final"] = du(repo)
            got_root = os.path.join(dest, "tree")
            wrong = miscounted(dest, corpus)
            if wrong:
                res["ok"] = False
                res["error"] = f"extract check: {wrong}"
                log("  " + res["error"])
            elif verify:
                diff = same_trees(corpus.tree, got_root)
                res["verified"] = diff is None
                if diff:
                    res["ok"] = False
                    res["error"] = f"extract differs from the corpus: {diff}"
                    log("  " + res["error"])
    finally:
        remove_tree(base)
    return res


def median_or_none(vals):
    vals = [v for v in vals if v is not None]
    return statistics.median(vals) if vals else None


def summarize(runs, tools):
    """Medians per tool and step over the runs that completed."""
    out = {}
    for tool in tools:
        ok = [r for r in runs if r["tool"] == tool.key and r["ok"]]
        out[tool.key] = {
            "runs_ok": len(ok),
            "runs_failed": sum(1 for r in runs if r["tool"] == tool.key and not r["ok"]),
            "seconds": {s: median_or_none([r["steps"][s]["seconds"] for r in ok]) for s in STEPS},
            "max_rss_mb": {s: median_or_none([r["steps"][s]["max_rss_kib"] / 1024 for r in ok]) for s in STEPS},
            "repo_bytes_first": median_or_none([r.get("repo_bytes_first") for r in ok]),
            "repo_bytes_final": median_or_none([r.get("repo_bytes_final") for r in ok]),
        }
    return out


def table(title, rows, tools, med, fmt, base="borg"):
    """One block: a row per item, per tool its value and (not for the base) the ratio to the base."""
    lines = []
    head = f"{title:<22}" + "".join(f"{t.label:>10}" + ("" if t.key == base else f"{'ratio':>7}") for t in tools)
    lines.append(head)
    for label, get in rows:
        cells = f"{label:<22}"
        b = get(med[base]) if base in med else None
        for t in tools:
            v = get(med[t.key])
            cells += f"{fmt(v) if v is not None else '-':>10}"
            if t.key != base:
                r = f"{v / b:.2f}" if v is not None and b else "-"
                cells += f"{r:>7}"
        lines.append(cells)
    return lines


def report(results, tools, args):
    out = []
    shown = [t for t in tools if t.available]
    for c in results["corpora"]:
        st = c["stats"]
        med = c["medians"]
        out.append("")
        out.append(f"== {c['label']}: {st['files']:,} files, {st['dirs']:,} folders, {fmt_bytes(st['bytes'])}; "
                   f"median of {args.runs} run(s); ratio = tool / borg 1.2 (below 1.00: faster or smaller)")
        for t in shown:
            m = med[t.key]
            if m["runs_failed"]:
                out.append(f"   {t.label}: {m['runs_failed']} run(s) failed (see above / --json); medians over the rest")
        out += table("wall seconds", [(s, lambda m, s=s: m["seconds"][s]) for s in STEPS], shown, med,
                     lambda v: f"{v:.2f}")
        out += table("peak RSS MB", [(s, lambda m, s=s: m["max_rss_mb"][s]) for s in STEPS], shown, med,
                     lambda v: f"{v:.0f}")
        out += table("repository MB", [("after first create", lambda m: m["repo_bytes_first"]),
                                       ("after all 3 creates", lambda m: m["repo_bytes_final"])], shown, med,
                     lambda v: f"{v / 1e6:.1f}")
    out.append("")
    where = {"image": "a journaled ext4 in a loop-mounted image", "here": "the work folder's file system"}
    out.append(f"repositories and extracts on {where[results['args']['fs']]}; "
               f"extracts started {results['args']['settle']:.0f} s after the last removal")
    skipped = [t for t in tools if not t.available]
    if skipped:
        out.append("")
        for t in skipped:
            out.append(f"skipped {t.label}: {t.note}")
    if any(t.key == "restic" for t in shown):
        out.append("")
        out.append("restic: its own chunker (not buzhash,19,23,21,4095) and its default --compression auto (zstd).")
    return "\n".join(out)


def run_corpora(corpora, active, work, args, results):
    """Runs every tool on every corpus args.runs times and adds each corpus's runs to results."""
    for corpus, _ in corpora:
        runs = []
        for run in range(1, args.runs + 1):
            # Interleaved, and the order rotates so no tool always follows the same one.
            k = (run - 1) % len(active)
            for tool in active[k:] + active[:k]:
                runs.append(one_run(tool, corpus, run, work, args.seed, args.verify, args.settle))
        results["corpora"].append({"name": corpus.name, "label": corpus.label, "tree": corpus.tree,
                                   "stats": corpus.meta["stats"], "runs": runs,
                                   "medians": summarize(runs, active)})


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true",
                    help="quick tier: a 200MB generated corpus and /usr/lib/python3* (default: 2GB and /usr/lib)")
    ap.add_argument("--runs", type=int, default=3, help="runs per tool and corpus (default 3); medians are shown")
    ap.add_argument("--work", default="/var/tmp/hoard-bench",
                    help="folder for corpora (kept between runs), repositories and extracts (default /var/tmp/hoard-bench)")
    ap.add_argument("--seed", type=int, default=1, help="seed of the generated corpus and of the 5%% choice")
    ap.add_argument("--size", type=parse_size, help="size of the generated corpus (default 2GB, --quick 200MB)")
    ap.add_argument("--real", nargs="+", metavar="PATH",
                    help="real tree(s) to copy and back up (globs; default /usr/lib, --quick /usr/lib/python3*)")
    ap.add_argument("--tools", default="borg,borg2,restic,hoard",
                    help="comma-separated subset of borg,borg2,restic,hoard")
    ap.add_argument("--corpus", default="generated,real", help="comma-separated subset of generated,real")
    ap.add_argument("--verify", action="store_true", help="also compare every extract byte for byte (untimed)")
    ap.add_argument("--refresh", action="store_true", help="build the corpora again even if cached")
    ap.add_argument("--json", action="store_true", help="print the results as JSON on stdout (the table goes to stderr)")
    ap.add_argument("--fs", choices=("auto", "image", "here"), default="auto",
                    help="where repositories and extracts live: 'image' is a journaled ext4 loop-mounted on "
                         "WORK/runs (needs root), 'here' the work folder's own file system; 'auto' (default) "
                         "picks 'image' when run as root on ext4 without a journal (see benchmarks/scratch_fs.py)")
    ap.add_argument("--settle", type=float,
                    help="seconds between removing a run's folder and the next extract (default 65 on ext4 "
                         "without a journal, whose inode allocator skips inodes freed in the last minute; else 0)")
    ap.add_argument("--native", help="hoard addon to load (NAPI_RS_NATIVE_LIBRARY_PATH); default binding/")
    args = ap.parse_args()
    if args.runs < 1:
        ap.error("--runs must be at least 1")
    if not os.access(TIME, os.X_OK):
        raise SystemExit(f"{TIME} (GNU time, Debian package time) is needed to measure peak RSS")
    wanted = [w for w in args.tools.split(",") if w]
    bad = [w for w in wanted if w not in {t.key for t in TOOLS}]
    if bad:
        ap.error(f"unknown tool(s): {', '.join(bad)}")
    corpora_wanted = [c for c in args.corpus.split(",") if c]
    if any(c not in ("generated", "real") for c in corpora_wanted):
        ap.error("--corpus takes generated and/or real")
    size = args.size or (200_000_000 if args.quick else 2_000_000_000)
    real = args.real or (["/usr/lib/python3*"] if args.quick else ["/usr/lib"])
    work = os.path.abspath(args.work)
    for d in ("corpora", "runs", "logs"):
        os.makedirs(os.path.join(work, d), exist_ok=True)
    fs = args.fs
    if fs == "auto":
        fs = "image" if os.geteuid() == 0 and scratch_fs.ext4_without_journal(work) else "here"
    if fs == "image" and os.geteuid() != 0:
        ap.error("--fs image needs root (mkfs, losetup, mount)")
    if args.settle is None:
        args.settle = 65.0 if fs == "here" and scratch_fs.ext4_without_journal(work) else 0.0

    tools = []
    for cls in TOOLS:
        if cls.key not in wanted:
            continue
        t = cls()
        t.note = t.probe(args) or ""
        t.available = not t.note
        log(f"{t.label}: {t.version}" if t.available else f"{t.label}: skipped: {t.note}")
        tools.append(t)
    active = [t for t in tools if t.available]
    if not active:
        raise SystemExit("no tool to run")
    if "borg" not in {t.key for t in active}:
        log("note: borg 1.2 is not among the tools, so no ratios are shown")

    corpora = []
    if "generated" in corpora_wanted:
        corpora.append(generated_corpus(work, args.seed, size))
    if "real" in corpora_wanted:
        corpora.append(real_corpus(work, real))

    results = {
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "args": {"quick": args.quick, "runs": args.runs, "seed": args.seed, "size": size, "real": real,
                 "verify": args.verify, "settle": args.settle, "chunker": CHUNKER, "compression": "lz4"},
        "tools": {t.key: {"label": t.label, "available": t.available, "version": t.version, "note": t.note,
                          **({"build": t.build} if t.key == "hoard" and t.available else {})} for t in tools},
        "corpora": [],
    }
    for corpus, params in corpora:
        corpus.prepare(params, args.refresh)
    results["args"]["fs"] = fs
    scratch = None
    if fs == "image":
        # Room for the largest corpus's extract and three archives' repository, with a margin.
        largest = max(c.meta["stats"]["bytes"] for c, _ in corpora)
        size = (3 * largest + (4 << 30) + (1 << 30) - 1) // (1 << 30) << 30
        scratch = scratch_fs.ScratchFs(os.path.join(work, "runs.img"), os.path.join(work, "runs"), size).open()
        log(f"runs on a journaled ext4 of {size >> 30} GiB ({scratch.loop} on {scratch.mountpoint})")
    try:
        run_corpora(corpora, active, work, args, results)
    finally:
        if scratch:
            scratch.close()
    text = report(results, tools, args)
    if args.json:
        print(text, file=sys.stderr)
        json.dump(results, sys.stdout, indent=1)
        print()
    else:
        print(text)
    if any(not r["ok"] for c in results["corpora"] for r in c["runs"]):
        sys.exit(1)


if __name__ == "__main__":
    main()
