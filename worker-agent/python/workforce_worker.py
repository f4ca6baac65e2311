"""Register a worker process with the Workforce node agent (``workforce-agent``).

Standard library only; Python 3.8+. Linux (reads ``/proc``).

    from workforce_worker import register_worker

    worker = register_worker(topic="eu-west")
    while not worker.drain_requested:
        if not worker.accepting_tasks():
            time.sleep(1)
            continue
        run_one_task()          # the task in flight always finishes
    worker.close()

It does three things, like the Node library ``@workforce/worker-agent/worker``:

* writes this process's PID file (JSON, atomically) and removes it on exit;
* turns the declared drain signal (default SIGTERM) into ``drain_event`` / ``on_drain``;
* ``accepting_tasks()`` reads the node's intake flag before each task.

A worker may also declare a ``"resume"`` signal (no default): the agent sends it when a remote
``resume`` command takes the node's intake flag down again (``on_resume`` handlers run then);
``accepting_tasks()`` sees the flag gone with or without it.

For an ai4s-jobq worker that already handles SIGUSR1/SIGUSR2 itself, register without
installing handlers and declare its signals::

    register_worker(topic, signals={"graceful-downscale": "SIGUSR2",
                                    "do-not-accept-new-tasks": "SIGUSR1"},
                    handle_signals=False)
"""

import atexit
import json
import os
import re
import signal
import socket
import tempfile
import threading

__all__ = [
    "DrainRequested",
    "WorkerRegistration",
    "default_intake_flag",
    "default_pid_dir",
    "register_worker",
]

GRACEFUL = "graceful-downscale"
INTAKE = "do-not-accept-new-tasks"
RESUME = "resume"
_UNCATCHABLE = {"SIGKILL", "SIGSTOP"}
_WORKER_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$")


class DrainRequested(Exception):
    """Raised by ``raise_if_draining()`` once a drain was requested."""


def default_pid_dir(env=None):
    """``WORKFORCE_PID_DIR``, else ai4s-jobq's ``JOBQ_PID_DIR``, else ``$TMPDIR/workforce/pids``."""
    env = os.environ if env is None else env
    for name in ("WORKFORCE_PID_DIR", "JOBQ_PID_DIR"):
        value = env.get(name, "").strip()
        if value:
            return value
    return os.path.join(tempfile.gettempdir(), "workforce", "pids")


def default_intake_flag(pid_dir, topic):
    """``<parent of pid_dir>/intake/<topic>.intake-stopped``: the agent's convention (its own
    directory beside the PID directory, which workers read but cannot write)."""
    parent = os.path.dirname(os.path.normpath(os.path.abspath(pid_dir)))
    return os.path.join(parent, "intake", re.sub(r"[^A-Za-z0-9._-]", "_", topic) + ".intake-stopped")


def _own_start_time():
    with open("/proc/self/stat", "rb") as f:
        text = f.read().decode("latin-1")
    # Field 22; the command name (field 2) may hold spaces and parentheses.
    return int(text[text.rindex(")") + 2 :].split(" ")[19])


def _boot_id():
    with open("/proc/sys/kernel/random/boot_id") as f:
        return f.read().strip()


def _signal_number(name, field):
    if name is None:
        return None
    sig = getattr(signal.Signals, str(name), None) if str(name).startswith("SIG") else None
    if sig is None or name in _UNCATCHABLE:
        raise ValueError("signals[%r] = %r is not a signal a process can handle" % (field, name))
    return sig


def _write_atomic(path, text):
    directory = os.path.dirname(path)
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


class WorkerRegistration:
    """A registered worker. Use ``register_worker()`` to create one."""

    def __init__(self, topic, worker_id=None, pid_dir=None, signals=None, intake_flag=None,
                 handle_signals=True, env=None):
        env = os.environ if env is None else env
        if not topic:
            raise ValueError("register_worker: topic is required")
        self.topic = topic
        self.pid_dir = pid_dir or default_pid_dir(env)
        self.worker_id = worker_id or env.get("WORKFORCE_WORKER_ID") or "%s-%d" % (
            re.sub(r"[^A-Za-z0-9._-]", "-", socket.gethostname()), os.getpid())
        if not _WORKER_ID.match(self.worker_id):
            raise ValueError("register_worker: worker_id %r must be letters, digits and . _ : @ -" % self.worker_id)
        declared = {GRACEFUL: "SIGTERM", INTAKE: None, RESUME: None}
        declared.update(signals or {})
        unknown = set(declared) - {GRACEFUL, INTAKE, RESUME}
        if unknown:
            raise ValueError("register_worker: unknown operation(s) in signals: %s" % ", ".join(sorted(unknown)))
        graceful = _signal_number(declared[GRACEFUL], GRACEFUL)
        intake = _signal_number(declared[INTAKE], INTAKE)
        resume = _signal_number(declared[RESUME], RESUME)
        numbers = [n for n in (graceful, intake, resume) if n is not None]
        if len(set(numbers)) != len(numbers):
            raise ValueError("register_worker: one signal cannot mean two operations (%s)" % ", ".join(n.name for n in numbers))
        self.signals = {GRACEFUL: declared[GRACEFUL], INTAKE: declared[INTAKE]}
        if declared[RESUME] is not None:
            self.signals[RESUME] = declared[RESUME]  # an agent before resume ignores the key
        self.intake_flag = intake_flag or env.get("WORKFORCE_INTAKE_FLAG") or default_intake_flag(self.pid_dir, topic)
        self.pid_file = os.path.join(self.pid_dir, self.worker_id + ".pid")
        self.drain_event = threading.Event()
        self._drain_handlers = []
        self._intake_handlers = []
        self._resume_handlers = []
        self._previous_handlers = {}
        self._closed = False
        self._pid = os.getpid()

        if handle_signals:
            # signal.signal() must run in the main thread; say so rather than fail obscurely.
            if threading.current_thread() is not threading.main_thread():
                raise RuntimeError("register_worker: call it from the main thread, or pass handle_signals=False")
            if graceful is not None:
                self._install(graceful, lambda signum, frame: self._request_drain(graceful.name))
            if intake is not None:
                self._install(intake, lambda signum, frame: self._stop_intake(intake.name))
            if resume is not None:
                self._install(resume, lambda signum, frame: self._resume(resume.name))

        os.makedirs(self.pid_dir, exist_ok=True)
        record = {
            "pid": self._pid,
            "startTime": _own_start_time(),
            "bootId": _boot_id(),
            "topic": topic,
            "workerId": self.worker_id,
            "signals": self.signals,
            "intakeFile": os.path.abspath(self.intake_flag),
        }
        _write_atomic(self.pid_file, json.dumps(record) + "\n")
        atexit.register(self._remove_pid_file)

    def _install(self, signum, handler):
        self._previous_handlers[signum] = signal.signal(signum, handler)

    def _request_drain(self, signame):
        if self.drain_event.is_set():
            return  # a repeated signal changes nothing
        self.drain_event.set()
        for handler in list(self._drain_handlers):
            handler(signame)

    def _stop_intake(self, signame):
        for handler in list(self._intake_handlers):
            handler(signame)

    def _resume(self, signame):
        for handler in list(self._resume_handlers):
            handler(signame)

    @property
    def drain_requested(self):
        """True once a drain was requested: finish the task in flight, take no other, exit."""
        return self.drain_event.is_set()

    def accepting_tasks(self):
        """False once a drain was requested or while the node's intake is stopped (one stat)."""
        return not self.drain_event.is_set() and not os.path.exists(self.intake_flag)

    def raise_if_draining(self):
        if self.drain_event.is_set():
            raise DrainRequested("drain requested")

    def on_drain(self, handler):
        """``handler(signal_name)`` runs in the main thread when a drain is requested. Returns an unsubscribe."""
        self._drain_handlers.append(handler)
        return lambda: self._drain_handlers.remove(handler)

    def on_intake_stop(self, handler):
        """``handler(signal_name)`` runs on each declared intake signal (the flag is already written)."""
        self._intake_handlers.append(handler)
        return lambda: self._intake_handlers.remove(handler)

    def on_resume(self, handler):
        """``handler(signal_name)`` runs on each declared resume signal (the flag is already gone)."""
        self._resume_handlers.append(handler)
        return lambda: self._resume_handlers.remove(handler)

    def _remove_pid_file(self):
        # Only our own file: a forked child inherits atexit handlers but is not this worker.
        if os.getpid() != self._pid:
            return
        try:
            with open(self.pid_file) as f:
                if json.load(f).get("pid") != self._pid:
                    return
            os.unlink(self.pid_file)
        except (OSError, ValueError):
            pass

    def close(self):
        """Removes the PID file and restores the previous signal handlers. Idempotent."""
        if self._closed:
            return
        self._closed = True
        for signum, previous in self._previous_handlers.items():
            try:
                signal.signal(signum, previous if previous is not None else signal.SIG_DFL)
            except (ValueError, OSError):
                pass
        self._remove_pid_file()
        atexit.unregister(self._remove_pid_file)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


def register_worker(topic, worker_id=None, pid_dir=None, signals=None, intake_flag=None,
                    handle_signals=True, env=None):
    """Writes this process's PID file and installs handlers for the declared signals.

    ``signals`` maps ``"graceful-downscale"`` / ``"do-not-accept-new-tasks"`` / ``"resume"`` to a
    signal name or None; defaults: SIGTERM / None (the intake flag alone) / None (nothing sent).
    """
    return WorkerRegistration(topic, worker_id=worker_id, pid_dir=pid_dir, signals=signals,
                              intake_flag=intake_flag, handle_signals=handle_signals, env=env)
