"""Ours beside the paper: cells, shared-task average, printed average."""

from __future__ import annotations

import json

from mtlbench.report.paper import read_paper, side_by_side_markdown

PAPER = """table,dataset,train_ratio,method,task,mean,ci95,note
4,office_caltech,0.05,bmtl,A,90.0,0.7,
4,office_caltech,0.05,bmtl,W,89.4,0.8,
4,office_caltech,0.05,bmtl,D,95.0,1.1,
4,office_caltech,0.05,bmtl,C,83.5,0.5,
4,office_caltech,0.05,bmtl,avg,89.5,0.3,
9,office_caltech,0.05,bmtl,A,11.0,0.7,
4,office_caltech,0.05,mrn,A,92.7,,
"""


def test_comparison_table(tmp_path):
    (tmp_path / "paper.csv").write_text(PAPER)
    runs = []
    for seed, accs in enumerate(([0.9, 0.8, 0.7], [0.92, 0.82, 0.72])):
        per = {t: {"accuracy": a} for t, a in zip(("amazon", "dslr", "webcam"), accs)}
        rec = {"dataset": "oc", "method": "bmtl", "ratio": 0.05, "seed": seed,
               "metrics": {"per_task": per, "average": {"accuracy": sum(accs) / 3}}}
        p = tmp_path / f"r{seed}.json"
        p.write_text(json.dumps(rec))
        runs.append(p)
    assert read_paper(tmp_path / "paper.csv", "office_caltech").query("method == 'bmtl' and task == 'A'")["mean"].item() == 90.0
    md = side_by_side_markdown(runs, tmp_path / "paper.csv", "oc", "office_caltech",
                             {"amazon": "A", "webcam": "W", "dslr": "D"}, ["bmtl"], [0.05], "GoogLeNet, 3 tasks.")
    row = next(line for line in md.splitlines() if line.startswith("| bmtl"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[1].startswith("91.0 ± ") and cells[4:7] == ["90.0 ± 0.7", "89.4 ± 0.8", "95.0 ± 1.1"]
    assert cells[8] == "91.5" and cells[9] == "89.5 ± 0.3"  # paper mean of A/W/D, printed 4-task avg
    assert "| mrn | – | – | – | 92.7 |" in md and "GoogLeNet, 3 tasks." in md
