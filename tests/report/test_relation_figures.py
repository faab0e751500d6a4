"""Relation heat maps and the t-SNE figure from run JSONs."""

import numpy as np
import pytest

from mtlbench.cli import main
from mtlbench.errors import DataError
from mtlbench.io import write_json
from mtlbench.report.relation_figures import mean_relations, task_centroid_distances
from mtlbench.report.relation_figures import plot_relation_heatmaps as main_lib_heatmap

TASKS = ["a", "b", "c"]


def _run(path, method, seed, alpha, embedding=None):
    rec = {"dataset": "toy", "method": method, "seed": seed, "ratio": 0.1,
           "relations": {"alpha": {"matrix": np.asarray(alpha).tolist(), "task_order": TASKS}}, "extra": {}}
    if embedding is not None:
        rec["extra"]["embedding"] = embedding
    write_json(path, rec)
    return path


def test_heatmap_averages_seeds_and_writes_png(tmp_path):
    runs = [_run(tmp_path / "r0.json", "amtnn_w", 0, np.eye(3)),
            _run(tmp_path / "r1.json", "amtnn_w", 1, np.full((3, 3), 1 / 3)),
            _run(tmp_path / "r2.json", "amtnn_h", 0, np.eye(3))]
    rel = mean_relations(runs)
    assert np.allclose(rel["amtnn_w"][0], (np.eye(3) + 1 / 3) / 2) and rel["amtnn_w"][2] == 2
    out = tmp_path / "fig" / "alpha.png"
    assert main(["relation-heatmap", "--runs", *map(str, runs), "--out", str(out)]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert mean_relations(runs, "divergence") == {}
    with pytest.raises(DataError, match="divergence"):
        main_lib_heatmap(runs, tmp_path / "d.png", "divergence")


def test_tsne_figure_from_embedding(tmp_path):
    rng = np.random.default_rng(0)
    feats = np.concatenate([rng.normal(0, 1, (20, 5)), rng.normal(0.5, 1, (20, 5)), rng.normal(6, 1, (20, 5))])
    emb = {"features": feats.tolist(), "task": [t for t in TASKS for _ in range(20)], "label": [0] * 60}
    run = _run(tmp_path / "r.json", "amtnn_w", 0, np.eye(3), emb)
    out = tmp_path / "tsne.png"
    assert main(["tsne", "--run", str(run), "--out", str(out), "--samples", "15", "--perplexity", "5",
                 "--iterations", "250", "--threads", "1"]) == 0
    assert out.read_bytes()[:4] == b"\x89PNG"
    dist, order = task_centroid_distances(run)
    assert order == TASKS and dist[0, 1] < dist[0, 2]
    bare = _run(tmp_path / "bare.json", "amtnn_w", 0, np.eye(3))
    assert main(["tsne", "--run", str(bare), "--out", str(tmp_path / "x.png")]) == 2
