#!/usr/bin/python3
"""Checks the include graph of common/ and daemon/: no cycle among modules
(a module is a .c file and its .h, by path without the extension), and the
layering rules below; and that no string literal has been shredded by
clang-format into pieces such as "cr" "ea" "te" "d_" "a" "t" (SQL stays
readable: one clause per line under /* clang-format off */). Prints what
is wrong and exits 1; silent when all is well. Run by `make lint` and
`make check`.

    scripts/check-layers.py [ROOT]
"""
import os
import re
import sys

ROOT = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else
                       os.path.join(os.path.dirname(__file__), ".."))
DIRS = ["common", "daemon"]
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)

# (from-folder, to-folder, why): a module under the first may not include
# one under the second.
FORBIDDEN = [
    ("common", "daemon", "common/ is shared with the tests and knows no daemon"),
    ("daemon/core", "daemon/http", "core/ is below the HTTP layer"),
    ("daemon/core", "daemon/api", "core/ is below the handlers"),
    ("daemon/core", "daemon/jobs", "core/ is below the jobs"),
    ("daemon/http", "daemon/api", "the HTTP layer knows handlers only through the route table"),
    ("daemon/http", "daemon/jobs", "the HTTP layer never includes the jobs"),
    ("daemon/jobs", "daemon/http", "jobs never include the HTTP layer"),
    ("daemon/jobs", "daemon/api", "jobs never include the API's handlers"),
    ("daemon/api", "daemon/jobs", "handlers never include the jobs"),
]
# Modules only the composition root may include.
ROOT_ONLY = {"daemon/server"}
ROOT_MODULES = {"daemon/main", "daemon/server"}
# A shredded literal: a piece of at most SHRED_MAX characters standing
# alone on a line, or a literal pushed past SHRED_COLUMN by continuation
# indentation (how clang-format lays out what it cut).
SHRED_MAX = 3
SHRED_COLUMN = 60
ALONE = re.compile(r'^(\s*)"((?:[^"\\]|\\.)*)"\s*\)?\s*[,;]?\s*\\?\s*$')


def sources():
    for d in DIRS:
        for dirpath, _, files in os.walk(os.path.join(ROOT, d)):
            for f in files:
                if f.endswith((".c", ".h")):
                    yield os.path.join(dirpath, f)


def module_of(path):
    return os.path.splitext(os.path.relpath(path, ROOT))[0]


def shredded(path):
    out = []
    rel = os.path.relpath(path, ROOT)
    for n, line in enumerate(open(path, encoding="utf-8"), 1):
        m = ALONE.match(line)
        if m and (len(m.group(2)) <= SHRED_MAX or
                  len(m.group(1).expandtabs(8)) > SHRED_COLUMN):
            out.append(f"{rel}:{n}: a shredded string literal: {line.strip()[:60]}"
                       " (write it whole, one clause per line, under clang-format off)")
    return out


def main():
    files = list(sources())
    by_name = {}
    for f in files:
        by_name.setdefault(os.path.basename(f), []).append(f)
    graph = {}
    problems = []
    for f in files:
        src = module_of(f)
        graph.setdefault(src, set())
        text = open(f, encoding="utf-8").read()
        for inc in INCLUDE.findall(text):
            # As the compiler finds it: beside the file, then on -I paths.
            cands = [os.path.normpath(os.path.join(os.path.dirname(f), inc))]
            cands += [os.path.join(ROOT, d, inc) for d in DIRS]
            cands += [p for p in by_name.get(os.path.basename(inc), []) if p.endswith(inc)]
            target = next((c for c in cands if os.path.exists(c)), None)
            if not target:
                continue  # generated or a system header given with quotes
            dst = module_of(target)
            if dst == src:
                continue
            graph[src].add(dst)
            for a, b, why in FORBIDDEN:
                if (src + "/").startswith(a + "/") and (dst + "/").startswith(b + "/"):
                    problems.append(f"{src} includes {dst}: {why}")
            if dst in ROOT_ONLY and src not in ROOT_MODULES:
                problems.append(f"{src} includes {dst}: only the composition root may")
    # Tarjan's strongly connected components: any of more than one module
    # is a cycle.
    index, low, stack, on, sccs = {}, {}, [], set(), []
    counter = [0]
    sys.setrecursionlimit(10000)

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                sccs.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    for comp in sccs:
        problems.append("include cycle among: " + ", ".join(comp))
    for f in sorted(files):
        problems += shredded(f)
    for p in problems:
        print(f"check-layers: {p}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
