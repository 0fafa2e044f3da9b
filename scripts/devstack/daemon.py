"""One background process of ours (LocalStack, or cargo lambda watch) and the one answer to
"is it running?", used by every command.

Its record file (JSON) holds the pid and start time, the port and whatever else it was started
with. States:

    stopped   no record, or the process it names is gone
    starting  the process runs and is not ready yet (not answering on its port)
    running   the process runs and answers
    stopping  a stop was asked (the record says so) and the process has not exited yet;
              `up` finishes that stop, then starts a new one on the same port
"""

import json
import os

from . import procs
from .common import log

STOPPED, STARTING, RUNNING, STOPPING = "stopped", "starting", "running", "stopping"


class Daemon:
    def __init__(self, name, record_path, marker, stop_timeout):
        self.name = name  # for log lines
        self.path = record_path
        self.marker = marker  # in its command line (checked for old records, which lack the start time)
        self.stop_timeout = stop_timeout

    def record(self):
        try:
            text = self.path.read_text().strip()
        except FileNotFoundError:
            return None
        if text.isdigit():
            # a bare pid, written by the shell scripts this replaced: stop and restart that process
            return {"pid": int(text), "stopping": True}
        try:
            return json.loads(text)
        except ValueError:
            return None

    def _save(self, record):
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(json.dumps(record, sort_keys=True) + "\n")
        os.replace(tmp, self.path)

    def process(self, record):
        """The live process `record` names, or None. Pid and start time name one process for
        good; a record without the start time (an old bare pid) needs the marker too."""
        proc = procs.Proc.find(record["pid"], record.get("start"))
        if proc is None or ("start" not in record and self.marker not in proc.cmdline()):
            return None
        return proc

    def state(self, ready):
        """(state, record). `ready(record)` tells a running process from a starting one."""
        record = self.record()
        if record is None or self.process(record) is None:
            return STOPPED, record
        if record.get("stopping"):
            return STOPPING, record
        return (RUNNING if ready(record) else STARTING), record

    def start(self, argv, log_path, env, cwd, **info):
        """Start `argv` in the background and record it with `info` (port, settings)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        proc = procs.spawn(argv, log_path, env, cwd)
        record = {"pid": proc.pid, "start": proc.start, **info}
        self._save(record)
        return record

    def stop(self, timeout=None):
        """Stop the recorded process and its family (SIGKILL after `timeout` seconds, default
        the daemon's); True if there was one to stop."""
        record = self.record()
        if record is None:
            return False
        root = self.process(record)
        if root is None and "start" in record:
            root = procs.Proc(record["pid"], record["start"])  # gone: members of its group may be left
        if root is None or not procs.family(root):
            self.path.unlink(missing_ok=True)
            return False
        if record.get("stopping"):
            log(self.name, f"pid {root.pid} was told to stop: waiting for it to exit")
        else:
            self._save({**record, "stopping": True})  # from now on every command sees "stopping"
            log(self.name, f"stopping pid {root.pid}")
        count = procs.stop_family(root, self.stop_timeout if timeout is None else timeout, self.name)
        self.path.unlink(missing_ok=True)
        log(self.name, f"stopped ({count} process{'es' if count != 1 else ''})")
        return True
