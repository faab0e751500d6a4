"""AMTNN: adversarial multi-task networks with learned task relations (Shui et al., IJCAI 2019).

"A Principled Approach for Learning Task Similarity in Multitask Learning".  The bound of
their Theorem 1 (Eq. (1)), for every task t and α_t on the simplex,

    R_t(h) <= Σ_i α_ti R̂_i(h) + C·sqrt(Σ_i α_ti²/m_i) + Σ_i α_ti d(D_t, D_i) + const,

is minimised by alternating two steps each epoch (their Algorithm 1):

1. Network step, α fixed (their Eq. (4)): a shared feature extractor f, one classifier h_t
   per task and one discriminator/critic per task pair (t, k) are trained on
       min_{f, h} max_{D}  Σ_t [ Σ_i α_ti L_i(h_t ∘ f) + ρ' Σ_{i≠t} α_ti d̂_ti(f) ],
   the max over discriminators reached through gradient reversal (features maximise what the
   discriminators minimise).  Following the public code (cjshui/AMTNN), one SGD step on
       (1/T) Σ_t Σ_i α_ti L_i(h_t) + (ρ'/T) Σ_{t<k} (α_tk + α_kt) ℓ_tk
   per batch, with ℓ_tk the discriminator's BCE (variant H) or the WGAN-GP critic loss
   E_t f - E_k f + λ·GP (variant W) on the batch rows not held out for estimation;
   ρ' = ``adversarial_weight`` (1 in the public code).
2. Relation step, network fixed (their Eq. (5)): α_t = argmin_{simplex} Σ_i α_ti R̂_ti
   + N(α_t) + ρ Σ_i α_ti d̂_ti, with N = κ‖α_t‖₂ (``kappa_form: code``, the public code's
   C₂‖α‖₂) or κ·sqrt(Σ_i α_ti²/m_i) (``paper``), solved exactly by
   :func:`mtlbench.methods.blocks.relation_step.relation_step` from the epoch's average losses and
   divergence estimates.

Divergence estimates on the relation step's scale (a task against itself scores 0, so one
it cannot be told from must score ≈ 0 too): H, the proxy A-distance 2·(2·acc − 1)₊ of the
discriminator's balanced accuracy (``divergence_estimate: proxy_a``; ``accuracy`` is the
public code's raw accuracy, ≈ 0.5 then); W, the dual W1 estimate E_k f - E_t f clipped at 0.
Both on held-out rows: a share ``divergence_holdout`` of each task's training samples never
enters a discriminator's loss, and their statistics are summed over the epoch.

Schedule: an epoch is ceil(max(largest task, ``epoch_samples``) / batch) batches, each task's
indices drawn from back-to-back permutations (small tasks resampled); the public code draws
1,000 samples per task and zips the loaders, so its epoch ends with the smallest task.  A run
of fewer than ``min_steps`` optimiser steps warns (:class:`TooFewStepsWarning`) and records
the warning in ``extra["warnings"]``.

Choices where the paper is silent (public code in brackets): α initialised to 0.9 on the
diagonal, the rest even; the W critic ends in a sigmoid as in the public code (``critic_output``;
a linear critic through gradient reversal ran away to NaN within a few epochs on digits with
SGD at lr 0.01); the gradient penalty is taken in feature space on detached features, so it
trains the critic only [input space, through the extractor]; a negative W estimate is taken
as 0 (W1 >= 0) [used as is]; α is not rounded [rounded to 3 decimals].

Regression tasks (all tasks of the problem regression; a mix is refused, since every
h_t is evaluated on every task's data): h_t has one output and L_i is the squared error
on task i's standardised targets (:func:`mtlbench.methods.base.standardize_targets`, which
the train stage applies), so R̂_ti in the relation step is the MSE of task t's regressor
on task i in units of task i's training variance (1 = predicting the training mean), on
the same footing for every i.  Theorem 1 needs a bounded loss; the squared error is
bounded only when targets and predictions are, so with standardised targets the bound
holds in practice (targets within a few standard deviations), not as a guarantee; the
relation step itself (convex in α, exact solution) is unchanged.  ``code_compat`` on
regression tasks keeps the missing gradient reversal only (there is no softmax to repeat).

``code_compat: true`` reproduces the public code's two defects: no gradient reversal between
the features and the discriminators (its discriminator spec names a layer the builder does not
know, so the extractor receives the discriminators' own gradient and helps them separate the
tasks instead of aligning them), and a softmax inside the classifier before the cross-entropy
(which applies log-softmax again: the loss is bounded and nearly flat, and the R̂ seen by the
relation step is compressed into [log(e + K - 1) - 1, log(e + K - 1)], ≈ [1.46, 2.46] for K = 10).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from ..errors import ConfigError
from .base import Evaluator, Method, MethodResult, Problem
from .blocks.adversarial import (
    critic_loss,
    discriminator,
    domain_loss_and_accuracy,
    grad_reverse,
    proxy_a_distance,
)
from .blocks.nets import mlp_extractor, seeded_generator
from .blocks.optim import SGD, StepLR
from .blocks.pooling import MaxPool2d
from .blocks.relation_step import KAPPA_FORMS, relation_step


@dataclass(frozen=True)
class AMTNNHparams:
    """AMTNN settings.  Defaults follow the public code (κ as C₂‖α‖₂ with C₂ = 1, ρ = 0.5, SGD
    lr 0.01, batches of 16, 1,000 samples per task an epoch) except the divergence estimate
    (proxy A-distance on held-out rows, module docstring) and the number of epochs (5; the
    public code runs more): chosen on a validation part of Office-Caltech10 GoogLeNet
    features carved from the training split (docs/methods.md)."""

    extractor: Literal["auto", "lenet", "mlp"] = "auto"  # auto: lenet when in_dim == prod(image_shape)
    image_shape: tuple[int, ...] = (3, 28, 28)  # C, H, W of the rows the lenet extractor reshapes
    conv_channels: tuple[int, ...] = (32, 64)  # lenet: conv5x5(pad 2)-ELU-maxpool3/2 per entry
    mlp_hidden: int = 256  # mlp extractor width (feature datasets)
    dropout: float = 0.0  # mlp extractor dropout
    head_hidden: int = 128  # classifier h_t: fc(F, 128)-ELU-fc(128, K), as the public code
    disc_hidden: int = 128  # discriminator/critic: fc(F, 128)-ELU-fc(128, 1)
    alpha_mode: Literal["learned", "uniform", "identity"] = "learned"  # uniform/identity: fixed α baselines
    alpha_init_diagonal: float = 0.9  # initial α_tt; the rest spread evenly over the row
    rho: float = 0.5  # divergence weight in the relation step
    kappa: float = 1.0  # weight of the norm term: C₂ of C₂‖α‖₂ (kappa_form code) or κ of κ·sqrt(Σ α²/m) (paper)
    kappa_form: Literal["code", "paper"] = "code"  # code: the public code's C₂‖α‖₂ | paper: κ·sqrt(Σ α²/m)
    divergence_estimate: Literal["proxy_a", "accuracy"] = "proxy_a"  # H: proxy A-distance | the code's accuracy
    divergence_holdout: float = 0.2  # share of each task's samples the discriminators never train on (0: none)
    adversarial_weight: float = 1.0  # ρ' on the adversarial term of the network step (public code: 1)
    gp_weight: float = 1.0  # W variant: gradient-penalty weight λ
    critic_output: Literal["sigmoid", "linear"] = "sigmoid"  # W variant: public code's bounded critic, or linear
    critic_steps: int = 1  # discriminator/critic updates per batch; >1 adds critic-only updates first
    lr: float = 0.01  # SGD
    momentum: float = 0.9
    epochs: int = 5
    epoch_samples: int = 1000  # samples per task in an epoch, small tasks resampled (public code: 1000)
    min_steps: int = 250  # a run with fewer optimiser steps prints a warning and records it in extra.warnings
    lr_halving_epochs: int = 50  # lr halved every this many epochs (public code: 50 H, 30 W)
    batch_size: int = 16  # samples per task per batch
    train_samples: int = 0  # training samples per task (0 = all of the split's; public code: 1000)
    code_compat: bool = False  # reproduce the public code's two defects (module docstring)
    eval_every: int = 0  # test accuracy in the history every N epochs (0 = at the end only)
    embedding_samples: int = 0  # test samples per task whose learned features go to extra["embedding"]

    def check(self, where: str) -> None:
        for key in ("mlp_hidden", "head_hidden", "disc_hidden", "critic_steps", "epochs",
                    "lr_halving_epochs", "batch_size"):
            if getattr(self, key) < 1:
                raise ConfigError(f"{where}.{key}: must be >= 1, got {getattr(self, key)}")
        for key in ("train_samples", "eval_every", "embedding_samples", "epoch_samples", "min_steps"):
            if getattr(self, key) < 0:
                raise ConfigError(f"{where}.{key}: must be >= 0, got {getattr(self, key)}")
        for key in ("rho", "kappa", "adversarial_weight", "gp_weight"):
            if getattr(self, key) < 0:
                raise ConfigError(f"{where}.{key}: must be >= 0, got {getattr(self, key)}")
        if self.lr <= 0:
            raise ConfigError(f"{where}.lr: must be > 0, got {self.lr}")
        if not 0 <= self.momentum < 1:
            raise ConfigError(f"{where}.momentum: must be in [0, 1), got {self.momentum}")
        if not 0 <= self.dropout < 1:
            raise ConfigError(f"{where}.dropout: must be in [0, 1), got {self.dropout}")
        if not 0 <= self.divergence_holdout < 1:
            raise ConfigError(f"{where}.divergence_holdout: must be in [0, 1), got {self.divergence_holdout}")
        if self.kappa_form not in KAPPA_FORMS:
            raise ConfigError(f"{where}.kappa_form: must be one of {', '.join(KAPPA_FORMS)}, got {self.kappa_form!r}")
        if not 0 < self.alpha_init_diagonal <= 1:
            raise ConfigError(f"{where}.alpha_init_diagonal: must be in (0, 1], got {self.alpha_init_diagonal}")
        if len(self.image_shape) != 3 or min(self.image_shape) < 1:
            raise ConfigError(f"{where}.image_shape: must be [C, H, W], got {list(self.image_shape)}")
        if not self.conv_channels or min(self.conv_channels) < 1:
            raise ConfigError(f"{where}.conv_channels: must be a non-empty list of positive ints")


@dataclass(frozen=True)
class AMTNNHHparams(AMTNNHparams):
    pass


@dataclass(frozen=True)
class AMTNNWHparams(AMTNNHparams):
    lr_halving_epochs: int = 30


class LeNetExtractor(nn.Module):
    """Rows of C*H*W pixels -> conv5x5(pad 2)-ELU-maxpool(3, 2) blocks -> flat features
    (the public code's extractor: 32 and 64 filters give 64·6·6 = 2,304 features on 28x28)."""

    def __init__(self, image_shape: tuple[int, ...], channels: tuple[int, ...]):
        super().__init__()
        self.image_shape = tuple(image_shape)
        layers, c_in = [], image_shape[0]
        for c in channels:
            layers += [nn.Conv2d(c_in, c, kernel_size=5, stride=1, padding=2), nn.ELU(), MaxPool2d(3, 2)]
            c_in = c
        self.body = nn.Sequential(*layers)
        with torch.no_grad():
            self.out_dim = int(self.body(torch.zeros(1, *self.image_shape)).numel())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x.view(-1, *self.image_shape)).flatten(1)


def build_extractor(hp: AMTNNHparams, in_dim: int) -> tuple[nn.Module, int]:
    kind = hp.extractor
    if kind == "auto":
        kind = "lenet" if in_dim == math.prod(hp.image_shape) else "mlp"
    if kind == "lenet":
        if in_dim != math.prod(hp.image_shape):
            raise ConfigError(f"extractor: lenet needs rows of {math.prod(hp.image_shape)} = prod(image_shape "
                              f"{list(hp.image_shape)}) values, the data has {in_dim}; use extractor: mlp")
        ext = LeNetExtractor(hp.image_shape, hp.conv_channels)
        return ext, ext.out_dim
    return mlp_extractor(in_dim, hp.mlp_hidden, hp.dropout), hp.mlp_hidden


class TooFewStepsWarning(UserWarning):
    """A run takes fewer optimiser steps than ``min_steps``."""


def batches_per_epoch(n_train: np.ndarray, batch_size: int, epoch_samples: int) -> int:
    """Batches in one epoch: enough for ``epoch_samples`` samples of every task (the public code
    draws 1,000 per task), and at least one pass over the largest task; smaller tasks are
    resampled (:func:`index_stream`), so the schedule does not shrink with the smallest task."""
    return max(1, math.ceil(max(max(n_train), epoch_samples) / batch_size))


def index_stream(n: int, length: int, gen: torch.Generator) -> torch.Tensor:
    """``length`` indices into n samples: fresh random permutations back to back (each sample
    drawn once per pass, a small task passed over several times in one epoch)."""
    reps = math.ceil(length / n)
    return torch.cat([torch.randperm(n, generator=gen) for _ in range(reps)])[:length]


def held_out_mask(n: int, fraction: float, rng: np.random.Generator) -> torch.Tensor:
    """Boolean (n,) mask of the samples the discriminators never train on (the divergence is
    estimated on them): round(fraction·n), at least 1 and at most n − 1 when fraction > 0 and
    n >= 2.  The classifiers train on every sample."""
    mask = torch.zeros(n, dtype=torch.bool)
    if fraction > 0 and n >= 2:
        k = min(max(1, round(fraction * n)), n - 1)
        mask[torch.as_tensor(rng.permutation(n)[:k])] = True
    return mask


def initial_alpha(n_tasks: int, diagonal: float) -> np.ndarray:
    """α_tt = ``diagonal``, the rest of each row spread evenly (public code: 0.9)."""
    if n_tasks == 1:
        return np.ones((1, 1))
    alpha = np.full((n_tasks, n_tasks), (1.0 - diagonal) / (n_tasks - 1))
    np.fill_diagonal(alpha, diagonal)
    return alpha


def classification_losses(logits: torch.Tensor, ys: list[torch.Tensor], code_compat: bool,
                          regression: bool = False) -> list[torch.Tensor]:
    """L_i(h_t) for every task i: the mean cross-entropy of one classifier's logits on each
    task's slice of the batch, or (``regression``) the mean squared error of one regressor's
    single output.  ``code_compat``: the public code's softmax before the cross-entropy
    (softmax applied twice; classification only)."""
    if regression:
        out = logits.squeeze(-1)
    else:
        out = torch.softmax(logits, dim=1) if code_compat else logits
    losses, start = [], 0
    for y in ys:
        piece = out[start : start + len(y)]
        losses.append(nn.functional.mse_loss(piece, y) if regression else nn.functional.cross_entropy(piece, y))
        start += len(y)
    return losses


class AMTNN(Method):
    """Shared machinery of both variants; ``divergence`` is "h" or "w"."""

    divergence: str = "h"
    learns_relations = True  # alpha (Eq. 7) and the divergences between tasks
    task_types = ("classification", "regression")  # regression: all tasks of a problem (module docstring)

    def fit_predict(self, problem: Problem, seed: int, device: str = "cpu", progress: bool = True) -> MethodResult:
        hp: AMTNNHparams = self.hp
        types = {problem.task_type(t) for t in problem.tasks}
        if len(types) != 1:
            raise ConfigError(f"methods.{self.name}: AMTNN evaluates every task's head on every task, so the tasks "
                              "must be all classification or all regression; got "
                              + ", ".join(f"{t}: {problem.task_type(t)}" for t in problem.tasks))
        regression = types == {"regression"}
        gen = seeded_generator(seed)
        T, K = len(problem.tasks), problem.n_classes
        rng = np.random.default_rng(seed)
        x_tr, y_tr = [], []
        for t in problem.tasks:
            d = problem.data[t]
            idx = rng.permutation(len(d.y_train))
            if hp.train_samples:
                idx = idx[: hp.train_samples]
            x_tr.append(torch.as_tensor(d.x_train[idx], dtype=torch.float32, device=device))
            y_tr.append(torch.as_tensor(d.y_train[idx], dtype=torch.float32 if regression else torch.long,
                                        device=device))
        n_train = np.array([len(y) for y in y_tr], dtype=np.float64)

        extractor, feat_dim = build_extractor(hp, problem.in_dim)
        out_dim = 1 if regression else K
        heads = nn.ModuleList(nn.Sequential(nn.Linear(feat_dim, hp.head_hidden), nn.ELU(),
                                            nn.Linear(hp.head_hidden, out_dim)) for _ in range(T))
        pairs = [(t, k) for t in range(T) for k in range(t + 1, T)]
        bounded = self.divergence == "w" and hp.critic_output == "sigmoid"
        discs = nn.ModuleList(discriminator(feat_dim, hp.disc_hidden, sigmoid=bounded) for _ in pairs)
        extractor.to(device), heads.to(device), discs.to(device)
        opt = SGD(list(extractor.parameters()) + list(heads.parameters()) + list(discs.parameters()),
                  lr=hp.lr, momentum=hp.momentum)
        sched = StepLR(opt, step_size=hp.lr_halving_epochs, gamma=0.5)
        disc_opt = SGD(discs.parameters(), lr=hp.lr, momentum=hp.momentum) if hp.critic_steps > 1 else None

        alpha = {"learned": initial_alpha(T, hp.alpha_init_diagonal), "uniform": np.full((T, T), 1.0 / T),
                 "identity": np.eye(T)}[hp.alpha_mode]
        alpha_history, history = [alpha.tolist()], []
        n_batches = batches_per_epoch(n_train, hp.batch_size, hp.epoch_samples)
        held = [held_out_mask(len(y), hp.divergence_holdout, rng).to(device) for y in y_tr]
        n_steps = hp.epochs * n_batches
        warnings_ = []
        if n_steps < hp.min_steps:
            warnings_.append(f"{self.name}: {n_steps} optimiser steps ({hp.epochs} epochs x {n_batches} batches), "
                             f"fewer than min_steps {hp.min_steps}: raise epochs or epoch_samples")
            warnings.warn(warnings_[-1], TooFewStepsWarning, stacklevel=2)
        div = np.zeros((T, T))
        losses_mat = np.zeros((T, T))

        for epoch in tqdm(range(1, hp.epochs + 1), desc=self.name, unit="epoch", disable=not progress, leave=False):
            streams = [index_stream(len(y), n_batches * hp.batch_size, gen) for y in y_tr]
            losses_mat = np.zeros((T, T))
            stats = np.zeros((len(pairs), 4))
            for b in range(n_batches):
                idx = [st[b * hp.batch_size : (b + 1) * hp.batch_size] for st in streams]
                xs = [x[i.to(x.device)] for x, i in zip(x_tr, idx)]
                ys = [y[i.to(y.device)] for y, i in zip(y_tr, idx)]
                hs = [h[i.to(h.device)] for h, i in zip(held, idx)]
                z = extractor(torch.cat(xs))
                zs = list(torch.split(z, [len(y) for y in ys]))
                for _ in range(hp.critic_steps - 1):  # critic-only updates on fixed features
                    self._adversarial(discs, pairs, [zz.detach() for zz in zs], hs, alpha, hp, gen, disc_opt)

                cls_loss = z.new_zeros(())
                for t in range(T):
                    per_task = classification_losses(heads[t](z), ys, hp.code_compat, regression)
                    cls_loss = cls_loss + sum(float(alpha[t, i]) * per_task[i] for i in range(T))
                    losses_mat[t] += [float(v.detach()) for v in per_task]
                z_adv = zs if hp.code_compat else [grad_reverse(zz) for zz in zs]
                adv_loss, batch_stats = self._adversarial_loss(discs, pairs, z_adv, hs, alpha, hp, gen)
                stats += batch_stats
                loss = (cls_loss + hp.adversarial_weight * adv_loss) / T
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
            sched.step()
            losses_mat /= n_batches
            div = self._divergence(stats, pairs, T, hp)
            if hp.alpha_mode == "learned":
                alpha = relation_step(losses_mat, div, n_train, kappa=hp.kappa, rho=hp.rho, kappa_form=hp.kappa_form)
                alpha_history.append(alpha.tolist())
            if hp.eval_every and (epoch % hp.eval_every == 0) and epoch != hp.epochs:
                history.append(self._evaluation(epoch, extractor, heads, problem, device, regression))

        preds = {t: self._predict(extractor, heads[i], problem.data[t].x_test, device, regression)
                 for i, t in enumerate(problem.tasks)}
        # the last history entry scores these same test predictions (no second pass over the test sets)
        history.append(self._evaluation(hp.epochs, extractor, heads, problem, device, regression, known=preds))
        extra = {"alpha_history": alpha_history, "relation_losses": losses_mat.tolist(),
                 "relation_loss": "squared error" if regression else "cross-entropy",
                 "divergence_kind": self._divergence_kind(hp),
                 "n_train_used": n_train.astype(int).tolist(), "feature_dim": feat_dim,
                 "optimizer_steps": n_steps, "batches_per_epoch": n_batches,
                 "divergence_held_out": [int(h.sum()) for h in held], "warnings": warnings_}
        if hp.embedding_samples:
            extra["embedding"] = feature_embedding(extractor, problem, hp.embedding_samples, seed, device)
        return MethodResult(predictions=preds, relations={"alpha": alpha, "divergence": div}, history=history, extra=extra)

    def _adversarial_loss(self, discs, pairs, zs, held, alpha, hp: AMTNNHparams, gen) -> tuple[torch.Tensor, np.ndarray]:
        """Σ_{t<k} (α_tk + α_kt) ℓ_tk over the rows the discriminators train on (``held`` marks the
        others), and the batch's divergence statistics (len(pairs), 4) on the estimation rows: the
        held-out rows when there are any (``divergence_holdout`` > 0), else the training rows.
        H: [hits on t, rows of t, hits on k, rows of k]; W: [Σ f on t, rows of t, Σ f on k, rows of k]."""
        stats = np.zeros((len(pairs), 4))
        total = zs[0].new_zeros(())
        holdout = hp.divergence_holdout > 0
        for p, (disc, (t, k)) in enumerate(zip(discs, pairs)):
            za, zb = zs[t][~held[t]], zs[k][~held[k]]
            if len(za) and len(zb):
                if self.divergence == "h":
                    loss, _ = domain_loss_and_accuracy(disc, za, zb)
                else:
                    loss, _ = critic_loss(disc, za, zb, hp.gp_weight, gen)
                total = total + float(alpha[t, k] + alpha[k, t]) * loss
            ea, eb = (zs[t][held[t]], zs[k][held[k]]) if holdout else (za, zb)
            with torch.no_grad():
                fa, fb = disc(ea.detach()).squeeze(-1), disc(eb.detach()).squeeze(-1)
            if self.divergence == "h":
                stats[p] = [float((fa >= 0).sum()), len(fa), float((fb < 0).sum()), len(fb)]
            else:
                stats[p] = [float(fa.sum()), len(fa), float(fb.sum()), len(fb)]
        return total, stats

    def _divergence(self, stats: np.ndarray, pairs, T: int, hp: AMTNNHparams) -> np.ndarray:
        """The epoch's divergence estimates d̂ (T, T) from the summed batch statistics, on the
        scale the relation step needs (a task against itself scores 0): H with ``proxy_a``,
        the proxy A-distance 2·(2·acc − 1)₊ of the balanced accuracy; H with ``accuracy``, the
        public code's raw accuracy (0.5 for indistinguishable tasks); W, the critic's dual
        estimate E_k f − E_t f clipped at 0 (W1 >= 0)."""
        d = np.zeros((T, T))
        for (t, k), (sa, na, sb, nb) in zip(pairs, stats):
            if self.divergence == "h":
                acc = 0.5 * (sa / na + sb / nb) if na and nb else 0.5
                est = float(proxy_a_distance(acc)) if hp.divergence_estimate == "proxy_a" else acc
            else:
                est = max(sb / nb - sa / na, 0.0) if na and nb else 0.0
            d[t, k] = d[k, t] = est
        return d

    def _divergence_kind(self, hp: AMTNNHparams) -> str:
        where = "held-out rows" if hp.divergence_holdout > 0 else "training batches"
        if self.divergence == "w":
            return f"critic W1 estimate, clipped at 0 ({where})"
        kind = {"proxy_a": "proxy A-distance", "accuracy": "discriminator accuracy"}[hp.divergence_estimate]
        return f"{kind} ({where})"

    def _adversarial(self, discs, pairs, zs, held, alpha, hp, gen, disc_opt) -> None:
        loss, _ = self._adversarial_loss(discs, pairs, zs, held, alpha, hp, gen)
        disc_opt.zero_grad(set_to_none=True)
        loss.backward()
        disc_opt.step()

    @staticmethod
    @torch.no_grad()
    def _predict(extractor, head, x: np.ndarray, device: str, regression: bool = False, batch: int = 1024) -> np.ndarray:
        """Class ids (argmax), or the regressor's output for regression tasks."""
        extractor.eval()
        head.eval()
        xt = torch.as_tensor(x, dtype=torch.float32)

        def out_of(o: torch.Tensor) -> torch.Tensor:
            return o.squeeze(-1) if regression else o.argmax(1)

        out = [out_of(head(extractor(xt[i : i + batch].to(device)))).cpu() for i in range(0, len(xt), batch)]
        extractor.train()
        head.train()
        return torch.cat(out).numpy()

    def _evaluation(self, step: int, extractor, heads, problem: Problem, device: str, regression: bool = False,
                    known: dict | None = None) -> dict:
        """The history entry: test (and validation) accuracy per task (MSE for regression tasks);
        ``known``: test predictions of this model already made, {task: predictions}."""
        def predict(t, x):
            if known is not None and t in known and x is problem.data[t].x_test:
                return known[t]
            return self._predict(extractor, heads[problem.tasks.index(t)], x, device, regression)

        return Evaluator(problem, None)(step, predict)


@torch.no_grad()
def feature_embedding(extractor: nn.Module, problem: Problem, per_task: int, seed: int, device: str,
                      max_dim: int = 50) -> dict:
    """Learned features of up to ``per_task`` test samples per task, projected on their first
    ``max_dim`` principal components (the usual step before t-SNE; keeps the run JSON small).
    Returns {"features": (n, <=max_dim) list, "task": [n], "label": [n]}."""
    rng = np.random.default_rng(seed + 7919)
    feats, tasks, labels = [], [], []
    extractor.eval()
    for t in problem.tasks:
        d = problem.data[t]
        idx = rng.permutation(len(d.y_test))[:per_task]
        feats.append(extractor(torch.as_tensor(d.x_test[idx], dtype=torch.float32, device=device)).cpu().numpy())
        tasks += [t] * len(idx)
        y = np.asarray(d.y_test[idx])
        labels += (y.astype(float) if problem.task_type(t) == "regression" else y.astype(int)).tolist()
    extractor.train()
    f = np.concatenate(feats).astype(np.float64)
    f -= f.mean(0)
    u, s, _ = np.linalg.svd(f, full_matrices=False)
    k = min(max_dim, len(s))
    proj = u[:, :k] * s[:k]
    return {"features": np.round(proj, 5).tolist(), "task": tasks, "label": labels}


class AMTNNH(AMTNN):
    """AMTNN with the H-divergence: pairwise domain discriminators through gradient reversal."""

    name = "amtnn_h"
    Hparams = AMTNNHHparams
    divergence = "h"


class AMTNNW(AMTNN):
    """AMTNN with the Wasserstein-1 distance: pairwise WGAN-GP critics through gradient reversal."""

    name = "amtnn_w"
    Hparams = AMTNNWHparams
    divergence = "w"
