"""Score the reply classifier against a labelled file of SMTP reply lines.

Usage::

    .venv/bin/python bench/score_replies.py REPLIES.jsonl [--scorer PATH]
        [--predictions OUT.jsonl] [--min-hard-precision 0.9]

Each input line holds ``{"id", "reply", "type", "reason"}``. The script writes
one prediction per line (``{"id", "type", "reason"}``; type ``hard``, ``soft``
or ``other``), prints hard-bounce precision and recall and type accuracy, and
exits 1 when hard precision falls below the floor. With ``--scorer`` it also
runs that scoring program over the predictions (``--replies`` mode).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from postline.bounces.classify import classify, parse_reply

_TYPES = {"hard": "hard", "soft": "soft", "bounce": "other", "local": "soft"}


def predict(line: str) -> tuple[str | None, str | None]:
    """(type, reason) for one flattened reply line."""
    code, enhanced, text = parse_reply(line)
    verdict = classify(code, enhanced, text)
    if verdict.decision is None:
        return None, None
    return _TYPES[verdict.decision], verdict.reason


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("replies", type=Path)
    parser.add_argument("--scorer", type=Path)
    parser.add_argument("--predictions", type=Path, default=Path("predictions.jsonl"))
    parser.add_argument("--min-hard-precision", type=float, default=0.9)
    args = parser.parse_args()

    rows = [json.loads(line) for line in args.replies.read_text().splitlines() if line]
    hits = {"tp": 0, "fp": 0, "fn": 0, "right": 0}
    with args.predictions.open("w") as out:
        for row in rows:
            kind, reason = predict(row["reply"])
            out.write(json.dumps({"id": row["id"], "type": kind, "reason": reason}))
            out.write("\n")
            _count(hits, row["type"], kind)

    precision = hits["tp"] / max(1, hits["tp"] + hits["fp"])
    recall = hits["tp"] / max(1, hits["tp"] + hits["fn"])
    print(
        f"replies={len(rows)} hard_precision={precision:.3f} "
        f"hard_recall={recall:.3f} type_accuracy={hits['right'] / len(rows):.3f}"
    )
    if args.scorer:
        subprocess.run(
            [str(args.scorer), "--replies", str(args.replies), str(args.predictions)],
            check=True,
        )
    return 0 if precision >= args.min_hard_precision else 1


def _count(hits: dict[str, int], gold: str, predicted: str | None) -> None:
    hits["right"] += gold == predicted
    if predicted == "hard":
        hits["tp" if gold == "hard" else "fp"] += 1
    elif gold == "hard":
        hits["fn"] += 1


if __name__ == "__main__":
    sys.exit(main())
