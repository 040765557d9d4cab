"""The plain Python fusion that issue 17 compares the search with: BM25
(rank_bm25's Okapi, Snowball English stemming) and all-MiniLM-L6-v2 cosine,
each scaled to its best hit per request and added with equal weight.

It writes, for the fusion and for each side alone, one JSON line per
request, `{"qid", "ids"}` (the 10 best tool ids), to `PREFIX-fusion.jsonl`,
`PREFIX-bm25.jsonl` and `PREFIX-minilm.jsonl`: the run format that
`examples/evaluate.rs --baseline FILE` scores fold by fold beside the Rust
search. MiniLM runs here as a numpy forward pass of the
weights `cargo xtask fetch-model --model all-minilm-l6-v2` installs (so the
baseline needs neither torch nor a download at run time).

    python3 -m venv /tmp/fusion && /tmp/fusion/bin/pip install -r requirements.txt
    /tmp/fusion/bin/python fusion.py --corpus CORPUS --queries DEV --model DIR --out PREFIX
"""

import argparse
import json
import math
import re
import sys

import numpy as np
import snowballstemmer
from rank_bm25 import BM25Okapi
from safetensors.numpy import load_file
from tokenizers import Tokenizer

STEM = snowballstemmer.stemmer("english")


def words(text):
    """Lowercased, stemmed words; names split on camelCase and `_ . -`."""
    text = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", text)
    return STEM.stemWords(re.findall(r"[a-z0-9]+", text.lower()))


def tool_text(tool):
    props = (tool.get("parameters") or {}).get("properties") or {}
    parts = [tool["name"], tool.get("description") or ""]
    for name, spec in props.items():
        parts.append(name)
        if isinstance(spec, dict) and isinstance(spec.get("description"), str):
            parts.append(spec["description"])
    return " ".join(parts)


def erf(x):
    # Abramowitz and Stegun 7.1.26 (error under 1.5e-7): numpy has no erf.
    sign = np.sign(x)
    x = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * x)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    return sign * (1.0 - poly * np.exp(-x * x))


class MiniLM:
    def __init__(self, directory, max_tokens=256):
        self.w = {k: v.astype(np.float32) for k, v in load_file(f"{directory}/model.safetensors").items()}
        self.tok = Tokenizer.from_file(f"{directory}/tokenizer.json")
        self.tok.no_padding()
        self.tok.enable_truncation(max_tokens)

    def _ln(self, x, p):
        m = x.mean(-1, keepdims=True)
        v = ((x - m) ** 2).mean(-1, keepdims=True)
        return (x - m) / np.sqrt(v + 1e-12) * self.w[p + ".weight"] + self.w[p + ".bias"]

    def _lin(self, x, p):
        return x @ self.w[p + ".weight"].T + self.w[p + ".bias"]

    def embed(self, texts, batch=32):
        out = np.zeros((len(texts), 384), dtype=np.float32)
        encoded = [self.tok.encode(t).ids for t in texts]
        order = sorted(range(len(texts)), key=lambda i: len(encoded[i]))
        for start in range(0, len(order), batch):
            idx = order[start:start + batch]
            n = max(len(encoded[i]) for i in idx)
            ids = np.zeros((len(idx), n), dtype=np.int64)
            mask = np.zeros((len(idx), n), dtype=np.float32)
            for row, i in enumerate(idx):
                ids[row, :len(encoded[i])] = encoded[i]
                mask[row, :len(encoded[i])] = 1.0
            out[idx] = self._forward(ids, mask)
        return out

    def _forward(self, ids, mask):
        w = self.w
        b, n = ids.shape
        x = w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][:n] \
            + w["embeddings.token_type_embeddings.weight"][0]
        x = self._ln(x, "embeddings.LayerNorm")
        bias = (1.0 - mask)[:, None, None, :] * -1e9
        for layer in range(6):
            p = f"encoder.layer.{layer}."
            heads = lambda t: t.reshape(b, n, 12, 32).transpose(0, 2, 1, 3)
            q = heads(self._lin(x, p + "attention.self.query"))
            k = heads(self._lin(x, p + "attention.self.key"))
            v = heads(self._lin(x, p + "attention.self.value"))
            a = q @ k.transpose(0, 1, 3, 2) / math.sqrt(32) + bias
            a = np.exp(a - a.max(-1, keepdims=True))
            a /= a.sum(-1, keepdims=True)
            c = (a @ v).transpose(0, 2, 1, 3).reshape(b, n, 384)
            x = self._ln(self._lin(c, p + "attention.output.dense") + x, p + "attention.output.LayerNorm")
            h = self._lin(x, p + "intermediate.dense")
            h = 0.5 * h * (1.0 + erf(h / math.sqrt(2.0)))
            x = self._ln(self._lin(h, p + "output.dense") + x, p + "output.LayerNorm")
        pooled = (x * mask[:, :, None]).sum(1) / mask.sum(1, keepdims=True)
        return pooled / np.linalg.norm(pooled, axis=1, keepdims=True)


def scaled(scores):
    best = scores.max()
    return scores / best if best > 0 else scores


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--queries", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    tools = [json.loads(line) for line in open(args.corpus) if line.strip()]
    queries = [json.loads(line) for line in open(args.queries) if line.strip()]
    bm25 = BM25Okapi([words(tool_text(t)) for t in tools])
    model = MiniLM(args.model)
    print(f"embedding {len(tools)} tools", file=sys.stderr)
    docs = model.embed([tool_text(t) for t in tools])
    requests = model.embed([q["query"] for q in queries])
    runs = {mode: open(f"{args.out}-{mode}.jsonl", "w") for mode in ("fusion", "bm25", "minilm")}
    for q, vector in zip(queries, requests):
        lexical = scaled(np.asarray(bm25.get_scores(words(q["query"]))))
        semantic = scaled(np.maximum(docs @ vector, 0.0))
        for mode, score in (("fusion", lexical + semantic), ("bm25", lexical), ("minilm", semantic)):
            best = np.argsort(-score, kind="stable")[:10]
            runs[mode].write(json.dumps({"qid": q.get("qid", ""), "ids": [tools[i]["id"] for i in best]}) + "\n")
    for run in runs.values():
        run.close()


if __name__ == "__main__":
    main()
