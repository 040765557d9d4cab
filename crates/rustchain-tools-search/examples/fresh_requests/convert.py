"""Requests that the search was never tuned on, in the dev set's format.

`shared/retrieval/dev.jsonl` holds six BFCL categories, and every default in
the search crate was chosen on them. The same bfcl-eval wheel holds other
request families whose tools are already in the corpus: the executable
categories (long, chatty requests with the user's own story around the
intent), REST and SQL requests, and the multi-turn conversations (one request
per turn, labelled with the functions that turn calls). This script turns
those into `{"query", "relevant", "relevant_exact", "relevant_names",
"category", "qid"}` lines, so `examples/evaluate.rs --queries` and
`--split family` measure them like the dev set.

BFCL's `live_*` categories are left out on purpose: they are the user-written
requests that issue 17 says are measured outside the project, and looking at
them here would make that measurement meaningless.

    pip download bfcl-eval==2026.3.23 --no-deps -d /tmp/bfcl
    python3 convert.py --wheel /tmp/bfcl/bfcl_eval-2026.3.23-py3-none-any.whl \
        --corpus ../shared/retrieval/corpus.jsonl --out /tmp/fresh.jsonl

Only the standard library is needed.
"""

import argparse
import hashlib
import json
import re
import sys
import zipfile

WHEEL_SHA256 = "3bb6dfa5f0c68ad403c9ec50b00db2bb3b4cc9b38ab1ff33f48fe30d853d3a0a"

DATA = "bfcl_eval/data/"
SINGLE_TURN = [
    "exec_simple",
    "exec_multiple",
    "exec_parallel",
    "exec_parallel_multiple",
    "rest",
    "sql",
]
MULTI_TURN = "multi_turn_base"

CALL_NAME = re.compile(r"^\s*([A-Za-z_][\w.]*)\s*\(")


def lines(archive, path):
    with archive.open(path) as f:
        return [json.loads(line) for line in f.read().decode("utf-8").splitlines() if line.strip()]


def user_text(turn):
    return "\n".join(m["content"] for m in turn if m.get("role") == "user")


def call_names(calls):
    """Function names of BFCL ground-truth calls, in order, without repeats."""
    names = []
    for call in calls:
        if isinstance(call, dict):
            found = list(call)
        else:
            m = CALL_NAME.match(call)
            if not m:
                sys.exit(f"cannot read a function name from the ground-truth call {call!r}")
            found = [m.group(1)]
        for name in found:
            if name not in names:
                names.append(name)
    return names


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--wheel", required=True, help="bfcl_eval-2026.3.23-py3-none-any.whl")
    ap.add_argument("--corpus", required=True, help="shared/retrieval/corpus.jsonl (or a larger one)")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()

    with open(args.wheel, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    if digest != WHEEL_SHA256:
        sys.exit(f"{args.wheel}: sha256 {digest}, expected {WHEEL_SHA256} (bfcl-eval 2026.3.23)")

    by_name = {}
    exact = {}
    with open(args.corpus, encoding="utf-8") as f:
        for line in f:
            tool = json.loads(line)
            if tool.get("source") != "bfcl":
                continue
            by_name.setdefault(tool["name"], []).append(tool["id"])
            exact[(tool["name"], tool.get("description") or "")] = tool["id"]

    def record(query, names, offered, category, qid):
        missing = [n for n in names if n not in by_name]
        if missing:
            sys.exit(f"{qid}: the corpus has no tool named {missing}")
        relevant = sorted({i for n in names for i in by_name[n]})
        relevant_exact = [
            exact[(d["name"], d.get("description") or "")]
            for d in offered
            if d["name"] in names and (d["name"], d.get("description") or "") in exact
        ]
        return {
            "query": query,
            "relevant": relevant,
            "relevant_exact": relevant_exact,
            "relevant_names": names,
            "category": category,
            "qid": qid,
        }

    out = []
    with zipfile.ZipFile(args.wheel) as archive:
        for category in SINGLE_TURN:
            questions = lines(archive, f"{DATA}unused_datasets/question/BFCL_v4_{category}.json")
            answers = {a["id"]: a for a in lines(archive, f"{DATA}unused_datasets/possible_answer/BFCL_v4_{category}.json")}
            for q in questions:
                turns = q["question"]
                # SQL questions are one turn given as a flat list of messages.
                first = turns[0] if isinstance(turns[0], list) else turns
                offered = q["function"]
                if category == "rest":
                    # REST answers are the HTTP response; the call is the one tool offered.
                    names = [d["name"] for d in offered]
                else:
                    names = call_names(answers[q["id"]]["ground_truth"])
                out.append(record(user_text(first), names, offered, category, q["id"]))

        docs = {}
        for name in archive.namelist():
            if name.startswith(f"{DATA}multi_turn_func_doc/") and name.endswith(".json"):
                for d in lines(archive, name):
                    docs[d["name"]] = d
        answers = {a["id"]: a for a in lines(archive, f"{DATA}possible_answer/BFCL_v4_{MULTI_TURN}.json")}
        for q in lines(archive, f"{DATA}BFCL_v4_{MULTI_TURN}.json"):
            for turn, (messages, calls) in enumerate(zip(q["question"], answers[q["id"]]["ground_truth"])):
                if not calls:
                    continue
                names = call_names(calls)
                offered = [docs[n] for n in names if n in docs]
                out.append(record(user_text(messages), names, offered, MULTI_TURN, f"{q['id']}_turn{turn}"))

    with open(args.out, "w", encoding="utf-8") as f:
        for r in out:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    counts = {}
    for r in out:
        counts[r["category"]] = counts.get(r["category"], 0) + 1
    print(f"{len(out)} requests -> {args.out}: {counts}", file=sys.stderr)


if __name__ == "__main__":
    main()
