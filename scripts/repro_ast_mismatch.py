"""Reproduce CPython gh-106905 ("AST constructor recursion depth mismatch"), seen now and then
in the schemathesis test: on Python < 3.11.8 the AST constructor keeps its recursion depth in
interpreter-wide state, so two threads building Python AST objects at once (ast.parse) corrupt
each other's count when the GIL changes hands mid-construction (here: a finalizer run by the
garbage collector). Prints the errors seen; 0 on Python >= 3.11.8.

    python scripts/repro_ast_mismatch.py
"""

from __future__ import annotations

import ast
import inspect
import sys
import threading
import time

SOURCE = inspect.getsource(inspect)  # any large module
errors: list[str] = []


class Cycle:
    def __init__(self) -> None:
        self.me = self

    def __del__(self) -> None:
        time.sleep(0)  # Python code in a finalizer: another thread may run


def work(depth: int, garbage: bool) -> None:
    if depth:
        return work(depth - 1, garbage)
    for _ in range(100):
        if garbage:
            for _ in range(200):
                Cycle()
        try:
            ast.parse(SOURCE)
        except SystemError as err:
            errors.append(str(err))
    return None


threads = [threading.Thread(target=work, args=a) for a in ((5, True), (60, False))]
for t in threads:
    t.start()
for t in threads:
    t.join()
print(sys.version.split()[0], f"{len(errors)} errors", errors[:2])
