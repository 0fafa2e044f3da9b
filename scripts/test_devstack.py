#!/usr/bin/env python3
"""Tests of the stack scripts that need no stack (a few seconds): ports, process identity and
families, and the states of a background process. Run: python3 scripts/test_devstack.py"""

import json
import os
import signal
import socket
import sys
import tempfile
import time
import unittest
from pathlib import Path
from unittest import mock

sys.path.insert(0, str(Path(__file__).resolve().parent))

from devstack import ports, procs, stack  # noqa: E402
from devstack.common import Fail  # noqa: E402
from devstack.daemon import RUNNING, STARTING, STOPPED, STOPPING, Daemon  # noqa: E402


def listener():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen()
    return s


def wait_until(predicate, seconds=5):
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


class Ports(unittest.TestCase):
    def test_a_port_with_a_listener_is_taken_and_free_again_once_closed(self):
        s = listener()
        port = s.getsockname()[1]
        self.assertFalse(ports.is_free(port))
        s.close()
        self.assertTrue(ports.is_free(port))

    def test_a_default_port_held_by_another_program_is_replaced(self):
        with listener() as s, mock.patch.dict(os.environ, {"SOME_PORT": ""}):
            held = s.getsockname()[1]
            chosen = ports.pick("SOME_PORT", held, "test")
            self.assertNotEqual(chosen, held)
            self.assertTrue(ports.is_free(chosen))

    def test_a_free_default_port_is_kept(self):
        port = ports.any_free()
        with mock.patch.dict(os.environ, {"SOME_PORT": ""}):
            self.assertEqual(ports.pick("SOME_PORT", port, "test"), port)

    def test_a_port_asked_for_must_be_free_and_the_error_names_it(self):
        with listener() as s:
            held = s.getsockname()[1]
            with mock.patch.dict(os.environ, {"SOME_PORT": str(held)}):
                with self.assertRaises(Fail) as e:
                    ports.pick("SOME_PORT", 4566, "test")
        self.assertIn(f"SOME_PORT={held}", str(e.exception))
        with mock.patch.dict(os.environ, {"SOME_PORT": "http"}), self.assertRaises(Fail):
            ports.pick("SOME_PORT", 4566, "test")


class Processes(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.log = Path(self.dir.name) / "log"
        self.addCleanup(self.dir.cleanup)

    def spawn(self, script):
        proc = procs.spawn(["bash", "-c", script], self.log, dict(os.environ), self.dir.name)
        self.addCleanup(lambda: [p.signal(signal.SIGKILL) for p in procs.family(proc)])
        return proc

    def test_a_process_is_named_by_pid_and_start_time(self):
        proc = self.spawn("sleep 30")
        self.assertEqual(procs.Proc.find(proc.pid), proc)
        self.assertIsNone(procs.Proc.find(proc.pid, proc.start + 1))  # the pid, used by another program
        self.assertTrue(proc.alive())

    def test_an_exited_process_not_yet_reaped_is_not_alive(self):
        proc = self.spawn("sleep 30")
        os.kill(proc.pid, signal.SIGKILL)  # our child: a zombie until reaped
        self.assertTrue(wait_until(lambda: not proc.alive()))
        self.assertIsNone(procs.Proc.find(proc.pid))

    def test_the_family_includes_children_that_left_the_session_and_all_are_stopped(self):
        proc = self.spawn("sleep 31 & setsid sleep 32 & wait")
        self.assertTrue(wait_until(lambda: len(procs.family(proc)) == 3), procs.family(proc))
        members = procs.family(proc)
        self.assertEqual(procs.stop_family(proc, 5, "test"), 3)
        self.assertFalse(any(p.alive() for p in members))

    def test_a_process_that_ignores_sigterm_is_killed_after_the_timeout(self):
        proc = self.spawn("trap '' TERM; sleep 33 & wait")
        self.assertTrue(wait_until(lambda: len(procs.family(proc)) == 2))
        members = procs.family(proc)
        t0 = time.monotonic()
        procs.stop_family(proc, 0.5, "test")
        self.assertLess(time.monotonic() - t0, 5)
        self.assertFalse(any(p.alive() for p in members))


class States(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.addCleanup(self.dir.cleanup)
        self.record = Path(self.dir.name) / "test.pid"
        self.daemon = Daemon("test", self.record, marker="sleep", stop_timeout=2)

    def start(self):
        record = self.daemon.start(["sleep", "30"], Path(self.dir.name) / "log", dict(os.environ),
                                   self.dir.name, port=1234)
        self.addCleanup(lambda: procs.Proc(record["pid"], record["start"]).signal(signal.SIGKILL))
        return record

    def test_from_start_to_stop(self):
        self.assertEqual(self.daemon.state(lambda r: True), (STOPPED, None))
        record = self.start()
        self.assertEqual(record["port"], 1234)
        self.assertEqual(self.daemon.state(lambda r: False)[0], STARTING)
        self.assertEqual(self.daemon.state(lambda r: True)[0], RUNNING)
        self.assertTrue(self.daemon.stop())
        self.assertEqual(self.daemon.state(lambda r: True)[0], STOPPED)
        self.assertFalse(self.record.exists())
        self.assertFalse(self.daemon.stop())

    def test_a_stop_that_was_asked_and_cut_short_reads_stopping(self):
        record = self.start()
        self.record.write_text(json.dumps({**record, "stopping": True}))
        self.assertEqual(self.daemon.state(lambda r: True)[0], STOPPING)
        self.assertTrue(self.daemon.stop())
        self.assertEqual(self.daemon.state(lambda r: True)[0], STOPPED)

    def test_a_record_of_a_process_that_is_gone_reads_stopped(self):
        record = self.start()
        os.kill(record["pid"], signal.SIGKILL)
        self.assertTrue(wait_until(lambda: self.daemon.state(lambda r: True)[0] == STOPPED))

    def test_an_old_bare_pid_record_is_stopped_and_restarted_only_if_the_marker_matches(self):
        record = self.start()
        self.record.write_text(f"{record['pid']}\n")
        self.assertEqual(self.daemon.state(lambda r: True)[0], STOPPING)
        self.record.write_text(f"{os.getpid()}\n")  # alive, but not a `sleep`
        self.assertEqual(self.daemon.state(lambda r: True)[0], STOPPED)


class Users(unittest.TestCase):
    """`run` and `with` stop what they started only when no other user of the stack is left."""

    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.addCleanup(self.dir.cleanup)
        tmp = Path(self.dir.name)
        self.stopped = []
        for name, value in (("USERS", tmp / "users.json"), ("STACK_LOCK", tmp / "lock"),
                            ("stop", self.stopped.append)):
            patcher = mock.patch.object(stack, name, value)
            patcher.start()
            self.addCleanup(patcher.stop)
        handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
        self.addCleanup(lambda: [signal.signal(sig, h) for sig, h in handlers.items()])

    def other_user(self):
        other = procs.spawn(["sleep", "30"], Path(self.dir.name) / "log", dict(os.environ), self.dir.name)
        self.addCleanup(lambda: other.signal(signal.SIGKILL))
        data = stack.users()
        data["users"][str(other.pid)] = other.start
        stack.save_users(data)
        return other

    def test_the_last_user_stops_what_the_users_started(self):
        stack.join({"localstack", "functions"})
        other = self.other_user()
        stack.leave({"localstack", "functions"})
        self.assertEqual(self.stopped, [])  # the other one still uses it
        self.assertEqual(list(stack.users()["users"]), [str(other.pid)])
        stack.join(set())  # a second user that started nothing...
        other.signal(signal.SIGKILL)
        self.assertTrue(wait_until(lambda: not other.alive()))
        stack.leave(set())  # ...is the last one: it stops what the first one started
        self.assertEqual(self.stopped, [["functions", "localstack"]])

    def test_a_user_alone_stops_only_what_it_started(self):
        stack.join({"functions"})
        stack.leave({"functions"})
        self.assertEqual(self.stopped, [["functions"]])


if __name__ == "__main__":
    unittest.main(verbosity=2)
