"""linear_stl: per-task linear models, the simplest no-sharing baseline.

For each task t, on its training part only: standardise the features (mean and scale of
the training part), then fit, for a classification task, multinomial logistic regression

    min_{W, b}  (1/2) ||W||_F^2 + C Σ_i -log softmax(W x_i + b)_{y_i}          (1)

(multinomial cross-entropy with an L2 penalty of strength 1/C; scikit-learn's
``LogisticRegression`` with the L-BFGS solver), and for a regression task ridge regression

    min_{w, b}  (1/2) ||w||_2^2 + (C/2) Σ_i (y_i - w·x_i - b)^2                 (2)

(the same penalty of strength 1/C on the squared error; scikit-learn's ``Ridge`` with
``alpha = 1/C``, the intercept unpenalised).  C is chosen from ``cs`` by k-fold
cross-validation inside the training part, ties to the smaller C, i.e. the stronger
penalty: for (1) stratified folds scored by mean fold accuracy (the folds shrink to the
smallest class count, and with fewer than 2 samples in some class the middle of the grid
is used without CV); for (2) shuffled folds scored by mean fold MSE (at most n folds; the
middle of the grid with fewer than 2 samples).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np

from .base import Method, MethodResult, Problem


@dataclass(frozen=True)
class LinearHparams:
    cs: tuple[float, ...] = (0.001, 0.01, 0.1, 1.0, 10.0)  # inverse L2 strengths tried, C in (1) and (2)
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


def fit_ridge_cv(x: np.ndarray, y: np.ndarray, hp: LinearHparams, seed: int):
    """Fit (2) on x (n, D), y (n,) float with C chosen by k-fold CV (mean fold MSE, ties to
    the smaller C); returns (model, C, cv MSE per C).  The model maps raw features to
    predicted targets (the scaler is part of it)."""
    from sklearn.linear_model import Ridge
    from sklearn.model_selection import KFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    def model(c):
        reg = Ridge(alpha=1.0 / c)
        return make_pipeline(StandardScaler(), reg) if hp.standardize else make_pipeline(reg)

    y = np.asarray(y, dtype=np.float64)
    folds = min(hp.folds, len(y))
    scores = {}
    if folds >= 2:
        cv = KFold(n_splits=folds, shuffle=True, random_state=seed)
        for c in hp.cs:
            scores[c] = float(-cross_val_score(model(c), x, y, cv=cv, scoring="neg_mean_squared_error").mean())
        best = min(hp.cs, key=lambda c: (scores[c], c))
    else:
        best = sorted(hp.cs)[len(hp.cs) // 2]
    return model(best).fit(x, y), best, scores


def fit_linear_cv(x: np.ndarray, y: np.ndarray, hp: LinearHparams, seed: int, regression: bool):
    """(1) for classification, (2) for regression; returns (model, C, {"cv_accuracy" | "cv_mse": scores})."""
    if regression:
        model, c, scores = fit_ridge_cv(x, y, hp, seed)
        return model, c, {"cv_mse": scores}
    model, c, scores = fit_logistic_cv(x, y, hp, seed)
    return model, c, {"cv_accuracy": scores}


def predict_labels(model, x: np.ndarray) -> np.ndarray:
    return np.asarray(model.predict(x), dtype=np.int64)


def predict_linear(model, x: np.ndarray, regression: bool) -> np.ndarray:
    """Class ids (1) or float targets (2)."""
    return np.asarray(model.predict(x), dtype=np.float64) if regression else predict_labels(model, x)


class LinearSTL(Method):
    """Equation (1) (classification) or (2) (regression) per task, no sharing."""

    name = "linear_stl"
    task_types = ("classification", "regression")
    Hparams = LinearHparams

    def fit_predict(self, problem: Problem, seed: int, device: str = "cpu", progress: bool = True) -> MethodResult:
        preds, chosen = {}, {}
        for t in problem.tasks:
            regression = problem.task_type(t) == "regression"
            d = problem.data[t]
            model, c, scores = fit_linear_cv(d.x_train, d.y_train, self.hp, seed + zlib.crc32(t.encode()) % 10_000,
                                             regression)
            preds[t] = predict_linear(model, d.x_test, regression)
            chosen[t] = {"C": c, **scores}
        return MethodResult(predictions=preds, extra={"chosen": chosen})
