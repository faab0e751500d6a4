"""linear_stl: per-task multinomial logistic regression, the simplest no-sharing baseline.

For each task t, on its training part only: standardise the features (mean and scale of
the training part), then fit

    min_{W, b}  (1/2) ||W||_F^2 + C Σ_i -log softmax(W x_i + b)_{y_i}          (1)

(multinomial cross-entropy with an L2 penalty of strength 1/C; scikit-learn's
``LogisticRegression`` with the L-BFGS solver).  C is chosen from ``cs`` by stratified
k-fold cross-validation inside the training part (mean fold accuracy, ties to the
smaller C, i.e. the stronger penalty); the folds shrink to the smallest class count, and
with fewer than 2 samples in some class the middle of the grid is used without CV.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np

from .base import Method, MethodResult, Problem


@dataclass(frozen=True)
class LinearHparams:
    cs: tuple[float, ...] = (0.001, 0.01, 0.1, 1.0, 10.0)  # inverse L2 strengths tried, C in (1)
    folds: int = 3  # cross-validation folds inside the training split (fewer if a class is smaller)
    max_iter: int = 1000  # L-BFGS iterations
    standardize: bool = True  # z-score features with the training part's mean and std

    def check(self, where: str) -> None:
        from ..errors import ConfigError

        if not self.cs or any(c <= 0 for c in self.cs):
            raise ConfigError(f"{where}.cs: a non-empty list of positive numbers, got {list(self.cs)}")
        if self.folds < 2:
            raise ConfigError(f"{where}.folds: must be >= 2, got {self.folds}")
        if self.max_iter < 1:
            raise ConfigError(f"{where}.max_iter: must be >= 1, got {self.max_iter}")


def fit_logistic_cv(x: np.ndarray, y: np.ndarray, hp: LinearHparams, seed: int):
    """Fit (1) on x (n, D), y (n,) with C chosen by stratified CV; returns (model, C, cv scores).

    The returned model maps raw features to class ids (the scaler is part of it).
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    def model(c):
        clf = LogisticRegression(C=c, max_iter=hp.max_iter)
        return make_pipeline(StandardScaler(), clf) if hp.standardize else make_pipeline(clf)

    counts = np.bincount(y)
    smallest = counts[counts > 0].min()
    folds = min(hp.folds, int(smallest))
    scores = {}
    if len(counts[counts > 0]) > 1 and folds >= 2:
        cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
        for c in hp.cs:
            scores[c] = float(cross_val_score(model(c), x, y, cv=cv).mean())
        best = max(hp.cs, key=lambda c: (scores[c], -c))
    else:
        best = sorted(hp.cs)[len(hp.cs) // 2]
    return model(best).fit(x, y), best, scores


def predict_labels(model, x: np.ndarray) -> np.ndarray:
    return np.asarray(model.predict(x), dtype=np.int64)


class LinearSTL(Method):
    """Equation (1) per task, no sharing."""

    name = "linear_stl"
    Hparams = LinearHparams

    def fit_predict(self, problem: Problem, seed: int, device: str = "cpu", progress: bool = True) -> MethodResult:
        preds, chosen = {}, {}
        for t in problem.tasks:
            if problem.task_type(t) == "regression":
                from ..errors import ConfigError

                raise ConfigError(f"method linear_stl: task {t!r} is a regression task; linear_stl is a classifier")
            d = problem.data[t]
            model, c, scores = fit_logistic_cv(d.x_train, d.y_train, self.hp, seed + zlib.crc32(t.encode()) % 10_000)
            preds[t] = predict_labels(model, d.x_test)
            chosen[t] = {"C": c, "cv_accuracy": scores}
        return MethodResult(predictions=preds, extra={"chosen": chosen})
