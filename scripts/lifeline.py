"""Ends a server the tests started when the test process that started it is gone.

With `AFT_LIFELINE=stdin` in its environment, a server (moto_launcher.py, aws_proxy.py,
codepipeline_shim.py, mirror_server.py) reads its standard input until end of file and then stops.
The tests give each server a pipe as its stdin and hold the pipe's other end for as long as the
test process lives, so the kernel closes it when that process exits, however it exits (a panic, a
kill, the end of the run), and the server stops itself.

This replaces watchdog shells that waited for the test process to disappear and then killed the
server by its pid. By then the server could already have exited and been reaped, and Linux hands
pids out again (pid_max is 32,768 on the test machines, and every thread of every Terraform and
provider process takes one), so such a `kill -9 <pid>` could land on another test's process: a
provider killed before its handshake is what Terraform reports as "Failed to read any lines from
plugin's stdout". A server that stops itself can never signal anyone else.
"""

import os
import sys
import threading

ENV = "AFT_LIFELINE"


def watch(stop=None) -> None:
    """Stops this process (through `stop`, or at once) when stdin reaches end of file.

    Does nothing unless `AFT_LIFELINE=stdin`: by hand, under `make demo` or the benchmark, a
    server's stdin is a terminal or /dev/null and it runs until it is stopped.
    """
    if os.environ.get(ENV) != "stdin":
        return

    def wait_for_eof():
        try:
            while sys.stdin.buffer.read(65536):
                pass
        except (OSError, ValueError):
            pass
        if stop is None:
            os._exit(0)
        stop()

    threading.Thread(target=wait_for_eof, name="lifeline", daemon=True).start()
