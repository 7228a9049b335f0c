"""``python -m paydue.worker``: a job worker process, configured from ``PAYDUE_*`` variables.

Stops after the jobs in hand on SIGTERM or SIGINT; a worker killed outright leaves its jobs to
be claimed again when their lease expires.
"""

from __future__ import annotations

import logging
import signal
from types import FrameType

from paydue.bootstrap import build
from paydue.worker.runner import Worker


def main() -> None:
    """Run a worker until it is told to stop."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    container = build()
    worker = Worker(container)

    def stop(signum: int, _frame: FrameType | None) -> None:
        logging.getLogger(__name__).info("signal %d: stopping", signum)
        worker.stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        worker.run_forever()
    finally:
        container.close()


if __name__ == "__main__":
    main()
