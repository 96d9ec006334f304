"""Shared helpers of the crash-consistency and concurrency modules of tools/soak.

Runs ckpt with time limits, classifies how a run ended (clean, killed by the test, crashed,
hung), lists ckpt's temporaries and checks outputs with `ckpt verify`. Python stdlib only.
"""
import hashlib
import os
import re
import signal
import subprocess
import time

# Signals that mean ckpt crashed (not sent by the test): memory faults, traps, aborts.
CRASH_SIGNALS = {signal.SIGSEGV, signal.SIGILL, signal.SIGABRT, signal.SIGBUS, signal.SIGTRAP, signal.SIGFPE}
# ckpt's temporary names: <target>.tmp-<pid>-<start>-<random> (or the older <pid>-<random>).
TEMP_RE = re.compile(r"^(?P<target>.+)\.tmp-(?P<pid>\d+)(-(?P<start>\d+))?-(?P<rand>[0-9a-z]+)$")
TRAP_MARKERS = ("Fatal error", "Swift runtime failure", "Illegal instruction", "Segmentation fault")


class Result:
    """How one ckpt run ended."""

    def __init__(self, rc, stdout, stderr, seconds, hung):
        self.rc, self.stdout, self.stderr, self.seconds, self.hung = rc, stdout, stderr, seconds, hung

    @property
    def crashed(self):
        """Died by a crash signal or printed a Swift runtime trap."""
        if self.rc is not None and self.rc < 0 and -self.rc in CRASH_SIGNALS:
            return True
        return any(m in self.stderr for m in TRAP_MARKERS)

    def describe(self):
        first = self.stderr.strip().splitlines()[-1:] if self.stderr.strip() else []
        return f"rc={self.rc}{' (hang)' if self.hung else ''} {first[0] if first else ''}".strip()


def run(args, timeout=60.0, env=None):
    """Runs ckpt (args[0] is the binary) to completion within `timeout` seconds."""
    t0 = time.monotonic()
    p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    try:
        out, err = p.communicate(timeout=timeout)
        hung = False
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
        hung = True
    return Result(p.returncode, out.decode(errors="replace"), err.decode(errors="replace"), time.monotonic() - t0, hung)


def run_signalled(args, delay, sig, timeout=60.0, env=None):
    """Starts ckpt, sends `sig` after `delay` seconds (if it still runs), waits for the end.
    Returns (Result, whether the signal was sent, pid)."""
    t0 = time.monotonic()
    p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    sent = False
    try:
        p.wait(timeout=delay)
    except subprocess.TimeoutExpired:
        try:
            p.send_signal(sig)
            sent = True
        except ProcessLookupError:
            pass
    hung = False
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
        hung = True
    return Result(p.returncode, out.decode(errors="replace"), err.decode(errors="replace"), time.monotonic() - t0, hung), sent, p.pid


def temporaries(directory):
    """Paths (relative to `directory`) of ckpt temporaries under it; a temporary directory is
    listed, not descended into."""
    found = []
    for root, dirs, files in os.walk(directory):
        for name in list(dirs) + files:
            if TEMP_RE.match(name):
                found.append(os.path.relpath(os.path.join(root, name), directory))
        dirs[:] = [d for d in dirs if not TEMP_RE.match(d)]
    return sorted(found)


def digest(path):
    """sha256 of a file, or of a directory tree (relative names and contents), None if absent."""
    if not os.path.exists(path):
        return None
    h = hashlib.sha256()
    if os.path.isdir(path):
        for root, dirs, files in os.walk(path):
            dirs.sort()
            for f in sorted(files):
                p = os.path.join(root, f)
                h.update(os.path.relpath(p, path).encode() + b"\0")
                with open(p, "rb") as fh:
                    h.update(fh.read())
    else:
        with open(path, "rb") as fh:
            h.update(fh.read())
    return h.hexdigest()


def verify_output(ckpt, path, expect_files=None):
    """Whether `path` is a complete checkpoint: a file `ckpt verify` passes, or a Megatron
    directory with its tracker and every rank file (`expect_files` of them) passing verify.
    Returns (ok, reason)."""
    if os.path.isdir(path):
        tracker = os.path.join(path, "latest_checkpointed_iteration.txt")
        if not os.path.isfile(tracker):
            return False, "directory without latest_checkpointed_iteration.txt"
        ranks = []
        for root, _, files in os.walk(path):
            ranks += [os.path.join(root, f) for f in files if f.endswith(".h5")]
        if expect_files is not None and len(ranks) != expect_files:
            return False, f"{len(ranks)} rank files, expected {expect_files}"
        v = run([ckpt, "verify", *sorted(ranks)]) if ranks else None
        if v is None or v.rc != 0:
            return False, f"rank files: {v.describe() if v else 'none'}"
        return True, ""
    v = run([ckpt, "verify", path])
    return (v.rc == 0, v.describe())


def row(fault_class):
    """An empty result row of the soak table."""
    return {"fault_class": fault_class, "tried": 0, "detected": 0, "missed": 0, "crashes": 0, "hangs": 0,
            "damaged_targets": 0, "details": []}


def main_for(run):
    """Runs one soak module on its own: `python3 tools/soak_X.py [CKPT] [ci|soak] [SEED]`, one
    JSON row per fault class on stdout (tools/soak is the usual way to run them)."""
    import json
    import sys
    import tempfile
    binary = sys.argv[1] if len(sys.argv) > 1 else ".build/debug/ckpt"
    scale = sys.argv[2] if len(sys.argv) > 2 else "ci"
    with tempfile.TemporaryDirectory() as wd:
        t0 = time.time()
        for r in run(os.path.abspath(binary), wd, scale, int(sys.argv[3]) if len(sys.argv) > 3 else 1):
            print(json.dumps(r))
        print(f"{time.time() - t0:.1f}s", file=sys.stderr)
