"""Processes, read from /proc. A process is named by its pid AND its start time, so a pid the
kernel has given to another program since is never taken for ours."""

import os
import signal
import subprocess
import time
from dataclasses import dataclass

from .common import Deadline, log


@dataclass(frozen=True)
class Stat:
    state: str  # R, S, D, Z (zombie: exited, not yet reaped), ...
    ppid: int
    pgrp: int
    session: int
    start: int  # clock ticks after boot


def stat(pid):
    """The Stat of `pid`, or None when there is no such process."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            text = f.read()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    fields = text[text.rindex(")") + 2:].split()  # after "pid (command) "; the command may hold spaces
    return Stat(fields[0], int(fields[1]), int(fields[2]), int(fields[3]), int(fields[19]))


@dataclass(frozen=True)
class Proc:
    pid: int
    start: int

    @classmethod
    def find(cls, pid, start=None):
        """The live process `pid` (started at `start`, when given), or None."""
        s = stat(pid)
        if s is None or s.state == "Z" or (start is not None and s.start != start):
            return None
        return cls(pid, s.start)

    def alive(self):
        if self.pid in _children:
            _children[self.pid].poll()  # reap our own child once it exited
        s = stat(self.pid)
        return s is not None and s.start == self.start and s.state != "Z"

    def cmdline(self):
        try:
            with open(f"/proc/{self.pid}/cmdline", "rb") as f:
                return f.read().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            return ""

    def signal(self, sig):
        if self.alive():
            try:
                os.kill(self.pid, sig)
            except ProcessLookupError:
                pass

    def rss_mb(self):
        try:
            with open(f"/proc/{self.pid}/status") as f:
                kb = next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
        except (OSError, StopIteration):
            return 0.0
        return kb / 1024


def all_stats():
    table = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            s = stat(int(name))
            if s is not None:
                table[int(name)] = s
    return table


def family(root):
    """The live processes that belong to `root`: itself, its descendants, and the members of its
    process group and session (we start it with setsid, so it leads both; a child that left
    the session, like the DynamoDB Local JVM, is still found as a descendant while `root` runs)."""
    table = all_stats()
    now = table.get(root.pid)
    root_alive = now is not None and now.start == root.start
    members = set()
    if root_alive or now is None:  # a pid now used by another program leads a group of its own
        members = {pid for pid, s in table.items() if root.pid in (s.pgrp, s.session)}
    children = {}
    for pid, s in table.items():
        children.setdefault(s.ppid, []).append(pid)
    todo = [root.pid] if root_alive else []
    while todo:
        pid = todo.pop()
        members.add(pid)
        todo.extend(children.get(pid, []))
    return {Proc(pid, table[pid].start) for pid in members if table[pid].state != "Z"}


_children = {}  # pid -> Popen of the daemons this process started


def spawn(argv, log_path, env, cwd):
    """Start `argv` in the background in a session of its own (Ctrl-C in the terminal does not
    reach it), output appended to `log_path`. Returns its Proc."""
    with open(log_path, "ab") as out:
        child = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                 env=env, cwd=cwd, start_new_session=True)
    _children[child.pid] = child
    return Proc(child.pid, stat(child.pid).start)


def _wait_gone(procs, seconds):
    deadline = Deadline(seconds)
    while any(p.alive() for p in procs) and not deadline.passed():
        time.sleep(0.1)
    return {p for p in procs if p.alive()}


def stop_family(root, timeout, who):
    """Stop `root` and its family: SIGTERM to `root` (it stops its children itself), after
    `timeout` seconds SIGSTOP (no new children), SIGKILL to all; then whatever is left over.
    Returns how many processes there were."""
    ours = family(root)
    if root.alive():
        root.signal(signal.SIGTERM)
        deadline = Deadline(timeout)
        while root.alive() and not deadline.passed():
            ours |= family(root)  # children started meanwhile (e.g. during start-up)
            time.sleep(0.1)
        if root.alive():
            log(who, f"pid {root.pid} still running after {timeout:g}s: SIGKILL")
            root.signal(signal.SIGSTOP)
            ours |= family(root)
            for p in ours:
                p.signal(signal.SIGKILL)
    rest = _wait_gone(ours | family(root), 1)
    if rest:
        log(who, f"left over: {sorted(p.pid for p in rest)}: SIGTERM")
        for p in rest:
            p.signal(signal.SIGTERM)
        for p in _wait_gone(rest, 5):
            p.signal(signal.SIGKILL)
        _wait_gone(rest, 5)
    return len(ours)
