"""The file system the benchmark's repositories and extracts live on.

ext4 without a journal skips inodes freed in the last 60 s (360 s while their inode-table block is
dirty) when it allocates new ones (`recently_deleted` in fs/ext4/ialloc.c; the check runs only when
there is no journal). An extract that follows the previous run's `rm -rf` then spends seconds to
tens of seconds of system time in the inode allocator, differently for each run, and three runs no
longer rank the tools. Most users' file systems have a journal, so on such a machine the runs are
moved onto a journaled ext4 made in a sparse image file and loop-mounted with direct I/O (so the
image's own pages do not fill the page cache a second time)."""
import os
import subprocess


def _run(argv):
    return subprocess.run(argv, check=True, capture_output=True, text=True).stdout.strip()


def describe(path):
    """(file system type, source device) of the mount holding `path`."""
    out = _run(["findmnt", "-n", "-o", "FSTYPE,SOURCE", "--target", path])
    fstype, _, source = out.partition(" ")
    return fstype, source.strip()


def ext4_without_journal(path):
    """True when `path` is on ext4 whose device has no jbd2 journal (see the module's text)."""
    fstype, source = describe(path)
    if fstype != "ext4" or not source.startswith("/dev/"):
        return False
    dev = os.path.basename(source)
    try:
        journals = os.listdir("/proc/fs/jbd2")
    except FileNotFoundError:
        return True
    return not any(j.rsplit("-", 1)[0] == dev for j in journals)


class ScratchFs:
    """A journaled ext4 in `image`, mounted on `mountpoint` until close()."""

    def __init__(self, image, mountpoint, size):
        self.image, self.mountpoint, self.size = image, mountpoint, size
        self.loop = None

    def open(self):
        os.makedirs(self.mountpoint, exist_ok=True)
        if os.path.ismount(self.mountpoint):
            raise SystemExit(f"{self.mountpoint} is already mounted; unmount it or pass --fs here")
        if os.path.exists(self.image):
            os.unlink(self.image)
        with open(self.image, "wb") as f:
            f.truncate(self.size)
        _run(["mkfs.ext4", "-q", "-F", "-E", "nodiscard", self.image])
        self.loop = _run(["losetup", "--find", "--show", "--direct-io=on", self.image])
        _run(["mount", self.loop, self.mountpoint])
        return self

    def close(self):
        if self.loop is None:
            return
        subprocess.run(["umount", self.mountpoint], check=False)
        subprocess.run(["losetup", "-d", self.loop], check=False)
        self.loop = None
        if os.path.exists(self.image):
            os.unlink(self.image)
