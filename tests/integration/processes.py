"""Child processes of paydue for tests: started with the test's settings in the environment,
logged to files in the test's folder, and all stopped (SIGTERM, then kill) at the end."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path


class ChildProcesses:
    def __init__(self, workdir: Path, env: dict[str, str], name: str) -> None:
        self.workdir = workdir
        self.env = {**os.environ, "PAYDUE_ENV": "test", **env}
        self.name = name
        self.procs: list[subprocess.Popen[bytes]] = []

    def log_path(self, n: int) -> Path:
        return self.workdir / f"{self.name}-{n}.log"

    def spawn(self, command: list[str]) -> subprocess.Popen[bytes]:
        log = self.log_path(len(self.procs)).open("wb")
        proc = subprocess.Popen(
            command, env=self.env, cwd=self.workdir, stdout=log, stderr=subprocess.STDOUT
        )
        self.procs.append(proc)
        return proc

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
