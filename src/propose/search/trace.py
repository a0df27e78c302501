# pp search: which lines of the project each test runs, for fault localization.
# Loaded as `sitecustomize` (pp puts its directory first on PYTHONPATH for one run of the failing
# target, in the sandbox); does nothing unless PP_SEARCH_TRACE_ROOT and PP_SEARCH_TRACE_OUT are
# set. Lines are attributed to the test function that ran last (by name); only files under the
# root are traced. The output is a hint for ranking and nothing else.
import atexit
import json
import os
import sys
import threading

_ROOT = os.environ.get("PP_SEARCH_TRACE_ROOT", "")
_OUT = os.environ.get("PP_SEARCH_TRACE_OUT", "")
_current = [None]
_lines = {}
_paths = {}
_MAX_LINES = 200000


def _rel(filename):
    try:
        return _paths[filename]
    except KeyError:
        pass
    path = os.path.abspath(filename)
    rel = None
    if path.startswith(_ROOT + os.sep) and os.sep + ".pp-search" not in path:
        rel = os.path.relpath(path, _ROOT).replace(os.sep, "/")
    _paths[filename] = rel
    return rel


def _is_test_file(rel):
    base = rel.rsplit("/", 1)[-1]
    return (base.startswith("test_") or base.endswith("_test.py") or base == "conftest.py"
            or rel.startswith("tests/") or "/tests/" in rel or rel.startswith("test/")
            or "/test/" in rel)


def _local(frame, event, arg):
    if event == "line":
        test = _current[0]
        if test is not None:
            rel = _rel(frame.f_code.co_filename)
            if rel is not None:
                seen = _lines.setdefault(test, set())
                if len(seen) < _MAX_LINES:
                    seen.add((rel, frame.f_lineno))
    return _local


def _global(frame, event, arg):
    rel = _rel(frame.f_code.co_filename)
    if rel is None:
        return None
    name = frame.f_code.co_name
    if name.startswith("test") and _is_test_file(rel):
        _current[0] = name
        _lines.setdefault(name, set())
    return _local


def _dump():
    sys.settrace(None)
    try:
        with open(_OUT, "w") as f:
            json.dump({k: sorted(v) for k, v in _lines.items()}, f)
    except OSError:
        pass


if _ROOT and _OUT:
    _ROOT = os.path.abspath(_ROOT)
    atexit.register(_dump)
    threading.settrace(_global)
    sys.settrace(_global)
