#!/usr/bin/env python3
"""Runs rdma-core's own test suite (python3-pyverbs) on one device and
records the outcome of every test, one "STATUS TEST-ID" line each, sorted.

usage: rdma_core_suite.py TESTDIR DEVICE RESULTS

TESTDIR is a copy of /usr/share/doc/rdma-core/tests with its gzipped
modules unpacked. The suite reads its options from its own argument parser
(args_parser.parser), so that is filled in first, as its run_tests.py does.
Statuses: ok, skip, fail, error, xfail, xpass. A test that fails in one of
its subTests is "fail" once. The outcome is the list, not the exit status:
the caller compares it with the stock kernel's.
"""
import importlib.util
import sys
import traceback
import unittest


class Recorder(unittest.TestResult):
    def __init__(self):
        super().__init__()
        self.status = {}
        self.details = []

    def _set(self, test, status, err=None, reason=None):
        tid = test.id()
        # A failed subTest must not be overwritten by the test's own success.
        if self.status.get(tid) in ("fail", "error"):
            return
        self.status[tid] = status
        line = f"{status} {tid}"
        if reason:
            line += f" ({reason})"
        print(line, flush=True)
        if err is not None:
            self.details.append((tid, "".join(traceback.format_exception(*err))))

    def addSuccess(self, test):
        super().addSuccess(test)
        self._set(test, "ok")

    def addError(self, test, err):
        super().addError(test, err)
        self._set(test, "error", err=err)

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._set(test, "fail", err=err)

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        self._set(test, "skip", reason=reason)

    def addExpectedFailure(self, test, err):
        super().addExpectedFailure(test, err)
        self._set(test, "xfail")

    def addUnexpectedSuccess(self, test):
        super().addUnexpectedSuccess(test)
        self._set(test, "xpass")

    def addSubTest(self, test, subtest, err):
        super().addSubTest(test, subtest, err)
        if err is not None:
            failed = issubclass(err[0], test.failureException)
            self._set(test, "fail" if failed else "error", err=err)


def load_suite(testdir, device):
    sys.path.insert(0, testdir)
    from args_parser import parser  # the suite's own option parser

    sys.argv = [sys.argv[0], "--dev", device]
    parser.parse_args()
    spec = importlib.util.spec_from_file_location(
        "tests", f"{testdir}/__init__.py", submodule_search_locations=[testdir])
    tests = importlib.util.module_from_spec(spec)
    sys.modules["tests"] = tests
    spec.loader.exec_module(tests)
    return unittest.defaultTestLoader.loadTestsFromModule(tests)


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    testdir, device, results = sys.argv[1:]
    suite = load_suite(testdir, device)
    recorder = Recorder()
    suite.run(recorder)
    for tid, text in recorder.details:
        print(f"--- {tid}\n{text}", end="")
    with open(results, "w") as f:
        for tid in sorted(recorder.status):
            f.write(f"{recorder.status[tid]} {tid}\n")
    counts = {}
    for s in recorder.status.values():
        counts[s] = counts.get(s, 0) + 1
    print("# " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())),
          f"of {len(recorder.status)} tests")


if __name__ == "__main__":
    main()
