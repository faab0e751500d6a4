"""Figures of learned task relations: α heat maps per method and a t-SNE of learned features.

Both read run JSONs (:mod:`mtlbench.train`): relations are ``{name: {matrix, task_order}}``;
the t-SNE reads ``extra["embedding"]`` written by AMTNN when ``embedding_samples > 0``
(learned features of test samples, projected on their first principal components).
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np

from ..errors import DataError
from ..io import atomic_path, read_json


def mean_relations(run_paths, relation: str = "alpha") -> dict[str, tuple[np.ndarray, list[str], int]]:
    """method label -> (mean matrix over its runs, task order, number of runs).

    Runs without ``relation`` are skipped; runs of one method must share the task order.
    """
    mats: dict[str, list[np.ndarray]] = defaultdict(list)
    orders: dict[str, list[str]] = {}
    for p in run_paths:
        r = read_json(p)
        rel = r.get("relations", {}).get(relation)
        if rel is None:
            continue
        label = r["method"]
        if orders.setdefault(label, rel["task_order"]) != rel["task_order"]:
            raise DataError(f"{p}: task order {rel['task_order']} differs from {orders[label]} of other {label} runs")
        mats[label].append(np.asarray(rel["matrix"], dtype=float))
    return {m: (np.mean(v, axis=0), orders[m], len(v)) for m, v in mats.items()}


def plot_relation_heatmaps(run_paths, out_path: str | Path, relation: str = "alpha",
                           methods: list[str] | None = None, title: str | None = None) -> None:
    """One heat map per method of ``relation`` averaged over its runs (seeds), values printed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rel = mean_relations(run_paths, relation)
    if methods:
        missing = [m for m in methods if m not in rel]
        if missing:
            raise DataError(f"no run of {missing} holds a relation {relation!r}; found: {sorted(rel)}")
        rel = {m: rel[m] for m in methods}
    if not rel:
        raise DataError(f"none of the {len(list(run_paths))} runs holds a relation {relation!r}")
    n = len(rel)
    fig, axes = plt.subplots(1, n, figsize=(3.2 * n, 3.3), dpi=120, squeeze=False)
    for ax, (label, (mat, order, count)) in zip(axes[0], rel.items()):
        im = ax.imshow(mat, cmap="viridis", vmin=min(0.0, mat.min()), vmax=max(1.0, mat.max()) if relation == "alpha" else mat.max())
        ax.set_xticks(range(len(order)), order, rotation=45, ha="right", fontsize=7)
        ax.set_yticks(range(len(order)), order, fontsize=7)
        for i in range(len(order)):
            for j in range(len(order)):
                ax.text(j, i, f"{mat[i, j]:.2f}", ha="center", va="center", fontsize=7,
                        color="white" if mat[i, j] < 0.5 * (im.norm.vmin + im.norm.vmax) else "black")
        ax.set_title(f"{label} (n={count})", fontsize=8)
    fig.suptitle(title or f"{relation}: row t = weights of task t over tasks i", fontsize=9)
    fig.tight_layout()
    with atomic_path(out_path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)


def tsne_embedding(features: np.ndarray, perplexity: float = 30.0, seed: int = 0, max_iter: int = 1000,
                   threads: int | None = None) -> np.ndarray:
    """(n, F) -> (n, 2) with scikit-learn's t-SNE (PCA initialisation, fixed seed); ``threads``
    caps its OpenMP/BLAS threads (on a busy machine extra threads mostly spin)."""
    from sklearn.manifold import TSNE
    from threadpoolctl import threadpool_limits

    perplexity = min(perplexity, max(2.0, (len(features) - 1) / 3))
    with threadpool_limits(limits=threads):
        return TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed,
                    max_iter=max_iter).fit_transform(features)


def plot_feature_tsne(run_path: str | Path, out_path: str | Path, samples_per_task: int | None = None,
                      perplexity: float = 30.0, seed: int = 0, max_iter: int = 1000,
                      threads: int | None = None) -> None:
    """t-SNE of a run's learned features, coloured by task (marker text: none; one colour per task).

    ``samples_per_task`` (None = all stored) subsamples each task's stored embedding rows.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    r = read_json(run_path)
    emb = r.get("extra", {}).get("embedding")
    if not emb:
        raise DataError(f"{run_path}: no extra.embedding; train AMTNN with embedding_samples > 0")
    feats, tasks = np.asarray(emb["features"], dtype=float), np.asarray(emb["task"])
    rng = np.random.default_rng(seed)
    keep = []
    for t in dict.fromkeys(tasks):
        idx = np.flatnonzero(tasks == t)
        keep.append(rng.permutation(idx)[:samples_per_task] if samples_per_task else idx)
    keep = np.concatenate(keep)
    xy = tsne_embedding(feats[keep], perplexity, seed, max_iter, threads)
    fig, ax = plt.subplots(figsize=(4.5, 4.2), dpi=120)
    for t in dict.fromkeys(tasks[keep]):
        sel = tasks[keep] == t
        ax.scatter(xy[sel, 0], xy[sel, 1], s=6, alpha=0.7, label=f"{t} ({sel.sum()})")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.legend(fontsize=8, markerscale=2)
    ax.set_title(f"t-SNE of learned features: {r['method']} on {r['dataset']}, seed {r['seed']}", fontsize=8)
    fig.tight_layout()
    with atomic_path(out_path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)


def task_centroid_distances(run_path: str | Path) -> tuple[np.ndarray, list[str]]:
    """Euclidean distances (T, T) between task centroids of a run's stored embedding (a number to
    quote beside the t-SNE, which distorts global distances)."""
    emb = read_json(run_path)["extra"]["embedding"]
    feats, tasks = np.asarray(emb["features"], dtype=float), np.asarray(emb["task"])
    order = list(dict.fromkeys(tasks))
    cent = np.stack([feats[tasks == t].mean(0) for t in order])
    return np.linalg.norm(cent[:, None] - cent[None], axis=-1), order
