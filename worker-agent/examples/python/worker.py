"""Example Python worker: takes tasks of known duration from a local directory queue (the
layout of examples/local-queue.ts) one at a time and records what it did (in the queue's
events.jsonl, and one line each on stdout). On a drain it finishes the task in flight and exits;
while the node's intake is stopped it stays alive, idle. Ctrl-C stops it at once.

    python3 worker.py --topic eu-west [--queue DIR] [--worker-id w1] [--intake-signal SIGUSR1] [--resume-signal SIGUSR2]
    python3 worker.py --legacy --worker-id w1 [--queue DIR]   # behaves like an ai4s-jobq worker

The queue defaults to $TMPDIR/workforce/queue (queue tasks with
``npm run tasks -w worker-agent -- add 5``), the PID directory to WORKFORCE_PID_DIR or
$TMPDIR/workforce/pids (the agent's default too).

``--legacy`` writes an integer PID file with O_EXCL (as ai4s-jobq's PidFile does) to
``JOBQ_PID_DIR`` and handles SIGUSR2 (graceful downscale) and SIGUSR1 (stop taking tasks)
itself, without this library. Like ai4s-jobq, it takes a second SIGUSR2 as a hard stop: it
exits at once (status 3), abandoning the task in flight, so a repeated drain signal shows.
"""

import argparse
import json
import os
import signal
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python"))
from workforce_worker import default_pid_dir, register_worker  # noqa: E402


class LocalQueue:
    def __init__(self, directory):
        self.dir = directory
        for sub in ("pending", "running", "done"):
            os.makedirs(os.path.join(directory, sub), exist_ok=True)

    def claim(self):
        for name in sorted(os.listdir(os.path.join(self.dir, "pending"))):
            running = os.path.join(self.dir, "running", name)
            try:
                os.rename(os.path.join(self.dir, "pending", name), running)
            except OSError:
                continue  # another worker won it
            with open(running) as f:
                return name[: -len(".json")], json.load(f)["durationMs"]
        return None

    def finish(self, task_id, duration_ms, worker_id):
        done = os.path.join(self.dir, "done", task_id + ".json")
        os.rename(os.path.join(self.dir, "running", task_id + ".json"), done)
        with open(done, "w") as f:
            json.dump({"workerId": worker_id, "durationMs": duration_ms}, f)

    def record(self, event, worker_id, says=None, **fields):
        """Records an event in the queue and says it on stdout, one short line."""
        line = dict(event=event, workerId=worker_id, at=int(time.time() * 1000),
                    mono=str(time.monotonic_ns()), **fields)
        with open(os.path.join(self.dir, "events.jsonl"), "a") as f:
            f.write(json.dumps(line) + "\n")
        say("%s %s: %s\n" % (time.strftime("%H:%M:%S", time.gmtime()), worker_id, says or event))


def say(text):
    # One unbuffered write: this also runs in signal handlers, where print() may be reentered.
    try:
        os.write(1, text.encode())
    except OSError:
        pass  # no terminal to tell


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--queue", default=os.path.join(tempfile.gettempdir(), "workforce", "queue"))
    parser.add_argument("--topic", default="")
    parser.add_argument("--worker-id")
    parser.add_argument("--intake-signal")
    parser.add_argument("--resume-signal")
    parser.add_argument("--legacy", action="store_true")
    parser.add_argument("--idle-poll-ms", type=int, default=20)
    args = parser.parse_args()
    queue = LocalQueue(args.queue)

    if args.legacy:
        worker_id = args.worker_id or "legacy-%d" % os.getpid()
        state = {"drain": False, "intake": False}

        def on_usr2(signum, frame):
            queue.record("drain-requested", worker_id, signal="SIGUSR2",
                         says="drain requested (SIGUSR2): finishing the task in flight, then exiting")
            if state["drain"]:
                queue.record("hard-stop", worker_id, signal="SIGUSR2", says="second SIGUSR2: hard stop")
                os._exit(3)
            state["drain"] = True

        def on_usr1(signum, frame):
            queue.record("intake-signal", worker_id, signal="SIGUSR1", says="intake stop signalled (SIGUSR1)")
            state["intake"] = True

        signal.signal(signal.SIGUSR2, on_usr2)
        signal.signal(signal.SIGUSR1, on_usr1)
        pid_dir = default_pid_dir()
        os.makedirs(pid_dir, exist_ok=True)
        pid_file = os.path.join(pid_dir, worker_id + ".pid")
        fd = os.open(pid_file, os.O_CREAT | os.O_WRONLY | os.O_EXCL)
        os.write(fd, str(os.getpid()).encode())
        os.close(fd)
        draining = lambda: state["drain"]  # noqa: E731
        accepting = lambda: not state["drain"] and not state["intake"]  # noqa: E731
        close = lambda: os.path.exists(pid_file) and os.remove(pid_file)  # noqa: E731
    else:
        signals = {"graceful-downscale": "SIGTERM", "do-not-accept-new-tasks": args.intake_signal,
                   "resume": args.resume_signal}
        worker = register_worker(args.topic, worker_id=args.worker_id, signals=signals)
        worker_id = worker.worker_id
        worker.on_drain(lambda sig: queue.record(
            "drain-requested", worker_id, signal=sig,
            says="drain requested (%s): finishing the task in flight, then exiting" % sig))
        worker.on_intake_stop(lambda sig: queue.record(
            "intake-signal", worker_id, signal=sig, says="intake stop signalled (%s)" % sig))
        worker.on_resume(lambda sig: queue.record(
            "resume-signal", worker_id, signal=sig, says="resume signalled (%s)" % sig))
        draining = lambda: worker.drain_requested  # noqa: E731
        accepting = worker.accepting_tasks
        close = worker.close

    queue.record("registered", worker_id, pid=os.getpid(),
                 says="registered (pid %d%s), taking tasks from %s"
                 % (os.getpid(), ", topic " + args.topic if args.topic else "", queue.dir))
    idle = False
    try:
        while not draining():
            if not accepting():
                if not idle:
                    queue.record("idle", worker_id, why="intake-stopped", says="intake stopped: taking no new task")
                idle = True
                time.sleep(args.idle_poll_ms / 1000)
                continue
            if idle:
                queue.record("resumed", worker_id, says="intake resumed: taking tasks again")
            idle = False
            task = queue.claim()
            if task is None:
                time.sleep(args.idle_poll_ms / 1000)
                continue
            task_id, duration_ms = task
            queue.record("started", worker_id, taskId=task_id, says="started %s (%d ms)" % (task_id, duration_ms))
            # The work; never cut short by a drain. A signal handler runs between sleeps'
            # syscalls and time.sleep resumes afterwards (PEP 475).
            time.sleep(duration_ms / 1000)
            queue.finish(task_id, duration_ms, worker_id)
            queue.record("finished", worker_id, taskId=task_id, says="finished " + task_id)
        queue.record("exiting", worker_id)
    finally:
        close()


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        # Ctrl-C: the PID file is already removed (main's finally); exit as a shell expects.
        say("interrupted\n")
        sys.exit(130)
