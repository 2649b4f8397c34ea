"""Runs Presidio's analyzer over the shared corpus, offline, with a blank spaCy pipeline
(pattern recognizers only: no model package is downloaded), and scores both engines:
which planted items each found, which decoys each flagged, and throughput.

usage: analyze.py CORPUS_DIR   (corpus.json, items.json from corpus.py; masked.json and
portcullis.json from the `mask_file` example of crates/mask)
Writes CORPUS_DIR/presidio.json and prints a Markdown table.
"""

import json
import logging
import sys
import time
from pathlib import Path

import spacy
import tldextract

# Trap: Presidio's e-mail recognizer calls `tldextract.extract`, which fetches the public
# suffix list from the internet on first use (and waits for DNS timeouts when offline). Use
# the list bundled with the package instead: no network at all.
tldextract.extract = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)

from presidio_analyzer import AnalyzerEngine
from presidio_analyzer.nlp_engine import SpacyNlpEngine


def blank_engine(folder: Path) -> AnalyzerEngine:
    """An analyzer whose spaCy pipeline is blank English saved to `folder`: Presidio loads a
    model from a path that exists instead of downloading one."""
    model = folder / "blank-en"
    if not model.exists():
        spacy.blank("en").to_disk(model)
    nlp = SpacyNlpEngine(models=[{"lang_code": "en", "model_name": str(model)}])
    nlp.load()
    return AnalyzerEngine(nlp_engine=nlp, supported_languages=["en"])


def encoded(value: str) -> str:
    """The item as it appears inside a JSON string of the corpus."""
    return json.dumps(value)[1:-1]


def main():
    folder = Path(sys.argv[1])
    logging.getLogger("presidio-analyzer").setLevel(logging.ERROR)
    body = json.loads((folder / "corpus.json").read_text())
    items = json.loads((folder / "items.json").read_text())
    ours = json.loads((folder / "portcullis.json").read_text())
    masked = (folder / "masked.json").read_text()
    # A secret counts as masked by Portcullis when its secret part no longer occurs in the
    # output; a decoy counts as (wrongly) masked when any of its bytes changed.
    ours["masked_ids"] = {
        i["id"] for i in items if encoded(i["secret"] if i["expect"] == "mask" else i["value"]) not in masked
    }
    texts = [json.dumps(r, separators=(",", ":")) for r in body["value"]]
    total_bytes = sum(len(t) for t in texts)

    engine = blank_engine(Path(__file__).resolve().parent / ".venv")
    engine.analyze(text=texts[0], language="en")  # warm-up: recognizers compile lazily
    started = time.perf_counter()
    results = [engine.analyze(text=t, language="en") for t in texts]
    seconds = time.perf_counter() - started

    # A secret counts as found by Presidio when its results cover every character of the
    # secret part (what masking by those results would remove); a decoy counts as flagged
    # when any result overlaps it.
    found = {}
    entity_counts = {}
    for text, res in zip(texts, results):
        for r in res:
            entity_counts[r.entity_type] = entity_counts.get(r.entity_type, 0) + 1
        for item in items:
            needle = encoded(item["value"])
            at = text.find(needle)
            while at >= 0:
                end = at + len(needle)
                if item["expect"] == "mask":
                    s = at + needle.find(encoded(item["secret"]))
                    e = s + len(encoded(item["secret"]))
                    covered = [False] * (e - s)
                    for r in res:
                        for k in range(max(r.start, s), min(r.end, e)):
                            covered[k - s] = True
                    hits = sorted({r.entity_type for r in res if r.start < e and r.end > s}) if all(covered) else []
                else:
                    hits = sorted({r.entity_type for r in res if r.start < end and r.end > at})
                if hits:
                    found.setdefault(item["id"], set()).update(hits)
                at = text.find(needle, end)

    by_kind = {}
    for item in items:
        row = by_kind.setdefault(item["kind"], {"expect": item["expect"], "n": 0, "ours": 0, "presidio": 0, "as": set()})
        row["n"] += 1
        row["ours"] += int(item["id"] in ours["masked_ids"])
        if item["id"] in found:
            row["presidio"] += 1
            row["as"].update(found[item["id"]])

    mbps = total_bytes / seconds / 1e6
    summary = {
        "corpus_bytes": total_bytes,
        "presidio_seconds": seconds,
        "presidio_mb_per_s": mbps,
        "portcullis_mb_per_s": ours["mb_per_s"],
        "presidio_entities": entity_counts,
        "by_kind": {k: {**v, "as": sorted(v["as"])} for k, v in by_kind.items()},
    }
    (folder / "presidio.json").write_text(json.dumps(summary, indent=1))

    print(f"corpus: {len(texts)} ARM resources, {total_bytes} bytes")
    print(f"portcullis mask (azure profile): {ours['mb_per_s']:.1f} MB/s")
    print(f"presidio-analyzer (blank spaCy): {mbps:.4f} MB/s ({seconds * 1000 / len(texts):.1f} ms per resource)")
    print(f"presidio findings by entity: {json.dumps(entity_counts, sort_keys=True)}")
    print()
    print("| item | should be | planted | Portcullis masked | Presidio covered (as) |")
    print("|---|---|---|---|---|")
    for kind, row in by_kind.items():
        should = "masked" if row["expect"] == "mask" else "kept (decoy)"
        as_ = ", ".join(sorted(row["as"])) or "—"
        print(f"| {kind} | {should} | {row['n']} | {row['ours']} | {row['presidio']} ({as_}) |")


if __name__ == "__main__":
    main()
