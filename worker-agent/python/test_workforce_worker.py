"""Tests of workforce_worker (run: python3 -m unittest discover -s worker-agent/python)."""

import json
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import workforce_worker as ww  # noqa: E402


def proc_start_time(pid):
    with open("/proc/%d/stat" % pid) as f:
        text = f.read()
    return int(text[text.rindex(")") + 2 :].split(" ")[19])


class RegisterWorkerTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.pid_dir = os.path.join(self.tmp.name, "pids")
        self.env = {"WORKFORCE_PID_DIR": self.pid_dir}

    def tearDown(self):
        self.tmp.cleanup()

    def register(self, **kw):
        kw.setdefault("env", self.env)
        worker = ww.register_worker("eu-west", **kw)
        self.addCleanup(worker.close)
        return worker

    def test_writes_the_json_pid_file_of_this_process(self):
        worker = self.register(worker_id="w1")
        with open(worker.pid_file) as f:
            record = json.load(f)
        self.assertEqual(worker.pid_file, os.path.join(self.pid_dir, "w1.pid"))
        self.assertEqual(record["pid"], os.getpid())
        self.assertEqual(record["startTime"], proc_start_time(os.getpid()))
        with open("/proc/sys/kernel/random/boot_id") as f:
            self.assertEqual(record["bootId"], f.read().strip())
        self.assertEqual(record["topic"], "eu-west")
        self.assertEqual(record["workerId"], "w1")
        self.assertEqual(record["signals"], {"graceful-downscale": "SIGTERM", "do-not-accept-new-tasks": None})
        self.assertEqual(record["intakeFile"], os.path.join(self.tmp.name, "intake", "eu-west.intake-stopped"))

    def test_pid_dir_falls_back_to_jobq_pid_dir(self):
        self.assertEqual(ww.default_pid_dir({"JOBQ_PID_DIR": "/x"}), "/x")
        self.assertEqual(ww.default_pid_dir({"WORKFORCE_PID_DIR": "/a", "JOBQ_PID_DIR": "/x"}), "/a")
        self.assertTrue(ww.default_pid_dir({}).endswith(os.path.join("workforce", "pids")))

    def test_close_removes_the_file_and_is_idempotent(self):
        worker = self.register(worker_id="w2")
        self.assertTrue(os.path.exists(worker.pid_file))
        worker.close()
        worker.close()
        self.assertFalse(os.path.exists(worker.pid_file))

    def test_accepting_tasks_follows_the_intake_flag(self):
        worker = self.register(worker_id="w3")
        self.assertTrue(worker.accepting_tasks())
        os.makedirs(os.path.dirname(worker.intake_flag))
        with open(worker.intake_flag, "w") as f:
            f.write("{}")
        self.assertFalse(worker.accepting_tasks())
        os.unlink(worker.intake_flag)
        self.assertTrue(worker.accepting_tasks())

    def test_intake_flag_defaults_to_the_agents_directory_beside_the_pid_dir(self):
        # The agent's convention (defaultIntakeFlagPath): never inside the worker-writable PID dir.
        self.assertEqual(ww.default_intake_flag("/run/workforce/pids/", "eu west"), "/run/workforce/intake/eu_west.intake-stopped")

    def test_intake_flag_from_the_environment(self):
        flag = os.path.join(self.tmp.name, "flag")
        worker = self.register(worker_id="w4", env=dict(self.env, WORKFORCE_INTAKE_FLAG=flag))
        self.assertEqual(worker.intake_flag, flag)

    def test_declared_signal_requests_a_drain_once(self):
        worker = self.register(worker_id="w5")
        seen = []
        worker.on_drain(seen.append)
        os.kill(os.getpid(), signal.SIGTERM)
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.05)
        self.assertTrue(worker.drain_requested)
        self.assertFalse(worker.accepting_tasks())
        self.assertEqual(seen, ["SIGTERM"])
        with self.assertRaises(ww.DrainRequested):
            worker.raise_if_draining()

    def signal_names_seen(self, subscribe, signum):
        """The signal names a handler added with `subscribe` is called with when this process gets `signum`."""
        seen = []
        subscribe(seen.append)
        os.kill(os.getpid(), signum)
        time.sleep(0.05)
        return seen

    def test_intake_signal_calls_handlers_and_keeps_running(self):
        worker = self.register(worker_id="w6", signals={"do-not-accept-new-tasks": "SIGUSR1"})
        self.assertEqual(self.signal_names_seen(worker.on_intake_stop, signal.SIGUSR1), ["SIGUSR1"])
        self.assertFalse(worker.drain_requested)

    def test_resume_signal_is_declared_and_calls_handlers(self):
        worker = self.register(worker_id="w9", signals={"do-not-accept-new-tasks": "SIGUSR1", "resume": "SIGUSR2"})
        with open(worker.pid_file) as f:
            self.assertEqual(json.load(f)["signals"]["resume"], "SIGUSR2")
        self.assertEqual(self.signal_names_seen(worker.on_resume, signal.SIGUSR2), ["SIGUSR2"])
        self.assertFalse(worker.drain_requested)
        with self.assertRaises(ValueError):  # one signal, two meanings
            ww.register_worker("t", env=self.env, signals={"do-not-accept-new-tasks": "SIGUSR1", "resume": "SIGUSR1"})
        with self.assertRaises(ValueError):
            ww.register_worker("t", env=self.env, signals={"resume": "SIGSTOP"})

    def test_close_restores_previous_handlers(self):
        previous = signal.getsignal(signal.SIGTERM)
        worker = self.register(worker_id="w7")
        self.assertNotEqual(signal.getsignal(signal.SIGTERM), previous)
        worker.close()
        self.assertEqual(signal.getsignal(signal.SIGTERM), previous)

    def test_rejects_bad_declarations(self):
        with self.assertRaises(ValueError):
            ww.register_worker("t", env=self.env, signals={"graceful-downscale": "SIGKILL"})
        with self.assertRaises(ValueError):
            ww.register_worker("t", env=self.env, signals={"graceful-downscale": "NOPE"})
        with self.assertRaises(ValueError):
            ww.register_worker("t", env=self.env, signals={"graceful-downscale": "SIGUSR1",
                                                           "do-not-accept-new-tasks": "SIGUSR1"})
        with self.assertRaises(ValueError):
            ww.register_worker("t", env=self.env, signals={"shutdown": "SIGTERM"})
        with self.assertRaises(ValueError):
            ww.register_worker("", env=self.env)
        with self.assertRaises(ValueError):
            ww.register_worker("t", env=self.env, worker_id="a/b")

    def test_without_handlers_only_the_file_is_written(self):
        previous = signal.getsignal(signal.SIGUSR2)
        worker = self.register(worker_id="w8", handle_signals=False,
                               signals={"graceful-downscale": "SIGUSR2", "do-not-accept-new-tasks": "SIGUSR1"})
        self.assertEqual(signal.getsignal(signal.SIGUSR2), previous)
        with open(worker.pid_file) as f:
            self.assertEqual(json.load(f)["signals"]["graceful-downscale"], "SIGUSR2")

    def test_the_file_goes_away_when_the_process_exits(self):
        script = textwrap.dedent("""
            import sys, time
            sys.path.insert(0, %r)
            import workforce_worker as ww
            w = ww.register_worker("t", worker_id="child")
            print(w.pid_file, flush=True)
        """ % os.path.dirname(os.path.abspath(__file__)))
        out = subprocess.run([sys.executable, "-c", script], env=dict(os.environ, **self.env),
                             capture_output=True, text=True, check=True).stdout.strip()
        self.assertEqual(out, os.path.join(self.pid_dir, "child.pid"))
        self.assertFalse(os.path.exists(out))


if __name__ == "__main__":
    unittest.main()
