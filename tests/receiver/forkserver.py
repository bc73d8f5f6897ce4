"""Starts receiver processes quickly for the kill -9 test: imports once, then forks per start.

Importing aiohttp, pydantic and friends takes 1-2 s on a loaded 2-core machine; twenty
restarts would spend most of the test doing that. This helper imports everything once,
then on each ``start`` line forks a child that runs the real ``hydro-fleet-receiver``
main with the given arguments and prints the child's pid. The child is an ordinary
receiver process: the test kills it with SIGKILL.

    python -m tests.receiver.forkserver -- <receiver arguments>
"""

from __future__ import annotations

import os
import signal
import sys

from hydro_fleet_receiver import cli


def main() -> None:
    argv = sys.argv[sys.argv.index("--") + 1 :]
    # Children are reaped by the kernel; the test watches their pids itself.
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    for line in sys.stdin:
        if line.strip() != "start":
            continue
        pid = os.fork()
        if pid == 0:
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            os._exit(cli.main(argv))
        print(pid, flush=True)


if __name__ == "__main__":
    main()
