"""A test-only method that learns task relations and batches its seeds (not a test module).

It exists to show what adding such a method takes: this one file, one registry line in
``mtlbench/methods/__init__.py`` and one entry under ``methods:`` in params.yaml; the
workflow plans its jobs (one ``train_seeds`` job per ratio, the relation heat map) from
the capabilities declared below, with no rule file edited
(``tests/methods/test_capabilities.py``).

The algorithm: nearest class centroids, where task t's centroids are mixed from every
task's, ``c'_t,k = sum_i alpha_ti c_i,k``, with ``alpha_t = softmax_i(-||m_t - m_i||^2 / (D tau))``
over the tasks' mean training inputs m_i (D: the input dimension; ``alpha`` is the learned
relation).  Each seed draws ``subsample`` of every class's training rows; the seeds are
computed together as one batched array (seed x task x class x D).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mtlbench.errors import ConfigError
from mtlbench.methods.base import Method, MethodResult, Problem


@dataclass
class RelationalCentroidsHparams:
    temperature: float = 1.0  # tau of the softmax over task distances
    subsample: float = 0.8  # share of each class's training rows a seed draws (at least one)

    def check(self, where: str) -> None:
        if not self.temperature > 0:
            raise ConfigError(f"{where}.temperature: must be > 0, got {self.temperature}")
        if not 0 < self.subsample <= 1:
            raise ConfigError(f"{where}.subsample: must be in (0, 1], got {self.subsample}")


class RelationalCentroids(Method):
    name = "relational_centroids"
    Hparams = RelationalCentroidsHparams
    batches_seeds = True
    learns_relations = True

    def fit_predict(self, problem: Problem, seed: int, device: str = "cpu", progress: bool = True) -> MethodResult:
        return self.fit_predict_many([problem], [seed], device, progress)[0]

    def fit_predict_many(self, problems: list[Problem], seeds: list[int], device: str = "cpu",
                         progress: bool = True) -> list[MethodResult]:
        hp: RelationalCentroidsHparams = self.hp
        tasks, K = problems[0].tasks, problems[0].n_classes
        # (S, T, K, D) class centroids and (S, T, D) task means of every seed's draw
        cents, means = [], []
        for p, s in zip(problems, seeds):
            rng = np.random.default_rng(int(s))
            c_s, m_s = [], []
            for t in tasks:
                x, y = p.data[t].x_train.astype(np.float64), p.data[t].y_train
                rows = np.concatenate([rng.permutation(np.flatnonzero(y == k))[:max(1, int(hp.subsample * (y == k).sum()))]
                                       for k in np.unique(y)])
                c = np.zeros((K, x.shape[1]))
                for k in range(K):
                    sel = rows[y[rows] == k]
                    c[k] = x[sel].mean(0) if len(sel) else x[rows].mean(0)
                c_s.append(c)
                m_s.append(x[rows].mean(0))
            cents.append(c_s)
            means.append(m_s)
        C, M = np.asarray(cents), np.asarray(means)
        d2 = ((M[:, :, None, :] - M[:, None, :, :]) ** 2).sum(-1) / M.shape[-1]  # (S, T, T)
        logits = -d2 / hp.temperature
        alpha = np.exp(logits - logits.max(-1, keepdims=True))
        alpha /= alpha.sum(-1, keepdims=True)
        mixed = np.einsum("sti,sikd->stkd", alpha, C)  # c'_t = sum_i alpha_ti c_i
        out = []
        for si, p in enumerate(problems):
            preds = {}
            for ti, t in enumerate(tasks):
                xt = p.data[t].x_test.astype(np.float64)
                dist = ((xt[:, None, :] - mixed[si, ti][None]) ** 2).sum(-1)
                preds[t] = dist.argmin(1).astype(np.int64)
            out.append(MethodResult(predictions=preds, relations={"alpha": alpha[si]}))
        return out
