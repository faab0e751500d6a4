"""The multi-task POMO-style routing model: task-specific input embeddings, the shared
attention encoder (:mod:`.attention`), task-specific decoders, multi-start rollouts,
×8 augmentation at inference (Kwon et al. 2020, "POMO", Sec. 4.1-4.3; the attention model
of Kool et al. 2019, Sec. 3).

Embedding (per problem type, as the public code's ``Header``, LOGO-CUHKSZ/Principled-Task-
Grouping ``cop/Models/models.py``): TSP h_i = W x_i (x_i the coordinates); CVRP and OP
the depot h_0 = W_0 x_0 and node h_i = W_n [x_i, f_i] with f_i the demand / capacity (CVRP)
or the prize (OP).

Decoder (per problem type, as the public code's ``Decoder``): at each step the context
query is q = W_f h_first + W_l h_last (TSP), q = W_l [h_last, load] (CVRP) or
q = W_l [h_last, remaining length] (OP); a multi-head glimpse g = W_o MHA(q, W_k h, W_v h)
over the allowed nodes; the logits u_j = C tanh(g · h_j / √d) with C = ``logit_clip`` (10),
−∞ where the environment masks j (Kool et al. 2019, Sec. 3.2: the clipped compatibility
and its softmax); p = softmax(u).

Training (:func:`pomo_loss`): REINFORCE with POMO's shared baseline (Kwon et al. 2020,
Sec. 4.2): for an instance s with P rollouts τ^1..τ^P,

    ∇J ≈ (1/P) Σ_i (R(τ^i) − b(s)) ∇ log p(τ^i | s),   b(s) = (1/P) Σ_j R(τ^j),

R = −length (TSP, CVRP) or the prize (OP); the loss is the batch mean of
−(R − b) log p, as the public code's trainer computes it.

Inference (:func:`solve_greedy`): every instance in its 8 symmetric variants (x, y),
(1−x, y), (x, 1−y), (1−x, 1−y) and the four with x and y swapped (POMO Sec. 4.3; the public
code's ``augment_xy_data_by_8_fold``, ``cop/Env/OPProblemDef.py`` lines 32-51), each decoded greedily from every start; the best of
the 8 P solutions is kept.

The public code encodes the instances of all its problems in one pass, their node
embeddings concatenated along the node axis (``COPModel.pre_forward``), so that attention
mixes nodes of different instances; here each task's instances are encoded on their own
(as its ``pre_forward_oneCOP``), the encoder weights being shared.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from ...data.routing.instances import RoutingTask, get_task
from .attention import Encoder, merge_heads, split_heads
from .routing_env import CVRPEnv, OPEnv, TSPEnv


@dataclass(frozen=True)
class POMOHparams:
    """The model and its training; defaults are the grouping paper's public code (embedding
    128, 6 layers, 8 heads; 10 epochs of 10,000 episodes in batches of 400 per task)."""

    embedding_dim: int = 128
    encoder_layers: int = 6
    heads: int = 8
    ff_hidden: int = 512
    logit_clip: float = 10.0
    lr: float = 1e-4  # Adam
    weight_decay: float = 1e-6
    epochs: int = 10
    episodes_per_epoch: int = 10_000  # training instances per task per epoch (fresh each epoch)
    batch_size: int = 400  # instances per task per step
    eval_every: int = 1  # epochs between evaluations of the history (and after the last)
    eval_batch: int = 64  # instances per inference chunk (each ×8 augmented)
    augment: int = 8  # 1 or 8 (×8 instance augmentation at inference)

    def check(self, where: str) -> None:
        from ...errors import ConfigError

        for key in ("embedding_dim", "encoder_layers", "heads", "ff_hidden", "epochs", "episodes_per_epoch",
                    "batch_size", "eval_every", "eval_batch"):
            if getattr(self, key) < 1:
                raise ConfigError(f"{where}.{key}: must be >= 1, got {getattr(self, key)}")
        if self.embedding_dim % self.heads:
            raise ConfigError(f"{where}.embedding_dim: {self.embedding_dim} is not a multiple of heads {self.heads}")
        if self.augment not in (1, 8):
            raise ConfigError(f"{where}.augment: must be 1 or 8, got {self.augment}")
        if self.lr <= 0 or self.logit_clip <= 0:
            raise ConfigError(f"{where}: lr and logit_clip must be > 0")

    @property
    def steps_per_epoch(self) -> int:
        return max(1, math.ceil(self.episodes_per_epoch / self.batch_size))


class Embedding(nn.Module):
    def __init__(self, problem: str, dim: int):
        super().__init__()
        self.problem = problem
        if problem == "tsp":
            self.node = nn.Linear(2, dim)
        else:
            self.depot, self.node = nn.Linear(2, dim), nn.Linear(3, dim)

    def forward(self, t: dict[str, torch.Tensor]) -> torch.Tensor:
        if self.problem == "tsp":
            return self.node(t["xy"])
        feature = t["demand"] if self.problem == "cvrp" else t["prize"]
        nodes = self.node(torch.cat([t["xy"], feature[..., None]], dim=-1))
        return torch.cat([self.depot(t["depot"])[:, None], nodes], dim=1)


class Decoder(nn.Module):
    def __init__(self, problem: str, dim: int, heads: int, logit_clip: float):
        super().__init__()
        self.problem, self.heads, self.clip, self.dim = problem, heads, logit_clip, dim
        self.kv = nn.Linear(dim, 2 * dim, bias=False)
        self.q_last = nn.Linear(dim if problem == "tsp" else dim + 1, dim, bias=False)
        if problem == "tsp":
            self.q_first = nn.Linear(dim, dim, bias=False)
        self.combine = nn.Linear(dim, dim)

    def keys(self, h: torch.Tensor):
        """Per-instance glimpse keys and values, computed once per rollout."""
        k, v = self.kv(h).chunk(2, dim=-1)
        return split_heads(k, self.heads), split_heads(v, self.heads)

    def forward(self, h: torch.Tensor, kv, env, mask: torch.Tensor) -> torch.Tensor:
        """Log-probabilities (B, P, N) of the next node; ``mask`` True = not allowed."""
        last = gather_nodes(h, env.current)
        if self.problem == "tsp":
            q = self.q_last(last) + self.q_first(gather_nodes(h, env.first))
        else:
            scalar = env.load if self.problem == "cvrp" else env.remaining
            q = self.q_last(torch.cat([last, scalar[..., None]], dim=-1))
        k, v = kv
        glimpse = F.scaled_dot_product_attention(split_heads(q, self.heads), k, v, attn_mask=~mask[:, None])
        g = self.combine(merge_heads(glimpse))
        u = self.clip * torch.tanh(g @ h.transpose(1, 2) / math.sqrt(self.dim))
        return torch.log_softmax(u.masked_fill(mask, float("-inf")), dim=-1)


def gather_nodes(h: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """h (B, N, d), idx (B, P) -> (B, P, d)."""
    return h.gather(1, idx[..., None].expand(-1, -1, h.shape[-1]))


class RoutingModel(nn.Module):
    """One embedding and one decoder per problem type among ``tasks``, one shared encoder."""

    def __init__(self, tasks: list[str], hp: POMOHparams):
        super().__init__()
        problems = sorted({get_task(t).problem for t in tasks})
        d = hp.embedding_dim
        self.embeddings = nn.ModuleDict({p: Embedding(p, d) for p in problems})
        self.encoder = Encoder(d, hp.encoder_layers, hp.heads, hp.ff_hidden)
        self.decoders = nn.ModuleDict({p: Decoder(p, d, hp.heads, hp.logit_clip) for p in problems})

    def encode(self, problem: str, t: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.encoder(self.embeddings[problem](t))


def to_tensors(spec: RoutingTask, inst: dict[str, np.ndarray], device) -> dict[str, torch.Tensor]:
    """Instance arrays -> model inputs (CVRP demands as fractions of the capacity)."""
    out = {k: torch.as_tensor(v, dtype=torch.float32, device=device) for k, v in inst.items()}
    if spec.problem == "cvrp":
        out["demand"] = out["demand"] / spec.capacity
    return out


def augment8(t: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Every instance in its 8 symmetric variants, stacked variant-major: (8B, ...)."""

    def flips(xy):
        x, y = xy[..., :1], xy[..., 1:]
        return torch.cat([torch.cat(p, dim=-1) for p in ((x, y), (1 - x, y), (x, 1 - y), (1 - x, 1 - y),
                                                          (y, x), (1 - y, x), (y, 1 - x), (1 - y, 1 - x))])

    return {k: flips(v) if k in ("xy", "depot") else v.repeat(8, *[1] * (v.ndim - 1)) for k, v in t.items()}


def make_env(spec: RoutingTask, t: dict[str, torch.Tensor], pomo: int):
    if spec.problem == "tsp":
        return TSPEnv(t["xy"], pomo)
    if spec.problem == "cvrp":
        return CVRPEnv(t["depot"], t["xy"], t["demand"], pomo)
    return OPEnv(t["depot"], t["xy"], t["prize"], spec.max_length, pomo)


def rollout(model: RoutingModel, spec: RoutingTask, t: dict[str, torch.Tensor], greedy: bool,
            gen: torch.Generator | None = None):
    """P = n rollouts per instance: (objective (B, P), Σ log p (B, P), sequences (B, P, T))."""
    env = make_env(spec, t, spec.n)
    h = model.encode(spec.problem, t)
    decoder = model.decoders[spec.problem]
    kv = decoder.keys(h)
    logp = torch.zeros(env.b, env.p, device=h.device)
    for _ in range(3 * spec.n + 3):  # more than CVRP's longest: 2 starts, n visits, n returns
        if env.done():
            break
        a = env.forced()
        if a is None:
            lp = decoder(h, kv, env, env.mask())
            if greedy:
                a = lp.argmax(dim=-1)
            else:
                a = torch.multinomial(lp.exp().reshape(-1, lp.shape[-1]), 1, generator=gen).reshape(env.b, env.p)
            logp = logp + lp.gather(-1, a[..., None]).squeeze(-1)
        env.step(a)
    if not env.done():
        raise RuntimeError(f"{spec.name}: a rollout did not finish")
    return env.objective(), logp, env.sequence()


def reward(spec: RoutingTask, objective: torch.Tensor) -> torch.Tensor:
    return objective if spec.maximise else -objective


def pomo_loss(spec: RoutingTask, objective: torch.Tensor, logp: torch.Tensor) -> torch.Tensor:
    """REINFORCE with POMO's shared baseline (module docstring)."""
    r = reward(spec, objective)
    advantage = r - r.mean(dim=1, keepdim=True)
    return -(advantage.detach() * logp).mean()


def solution_of(spec: RoutingTask, seq: np.ndarray) -> list[int]:
    """A decoded sequence -> the solution format of :mod:`mtlbench.data.routing.solutions`."""
    seq = [int(v) for v in seq]
    if spec.problem == "tsp":
        return seq
    while seq and seq[0] == 0:
        seq.pop(0)
    while seq and seq[-1] == 0:
        seq.pop()
    if spec.problem == "op":
        return [v for v in seq if v > 0]
    return [v for i, v in enumerate(seq) if v > 0 or seq[i - 1] > 0]  # no empty routes


@torch.no_grad()
def solve_greedy(model: RoutingModel, task: str, inst: dict[str, np.ndarray], hp: POMOHparams,
                 device) -> tuple[np.ndarray, list[list[int]]]:
    """Greedy multi-start decoding, ×``hp.augment``: (model objective per instance (B,),
    the best solutions)."""
    spec = get_task(task)
    was_training = model.training
    model.eval()
    best_obj, sols = [], []
    n_inst = len(inst["xy"])
    for lo in range(0, n_inst, hp.eval_batch):
        t = to_tensors(spec, {k: v[lo:lo + hp.eval_batch] for k, v in inst.items()}, device)
        b = len(t["xy"])
        if hp.augment == 8:
            t = augment8(t)
        obj, _, seq = rollout(model, spec, t, greedy=True)
        score = reward(spec, obj).reshape(hp.augment, b, -1).permute(1, 0, 2).reshape(b, -1)
        seq = seq.reshape(hp.augment, b, seq.shape[1], -1).permute(1, 0, 2, 3).reshape(b, score.shape[1], -1)
        pick = score.argmax(dim=1)
        rows = torch.arange(b, device=pick.device)
        best = seq[rows, pick].cpu().numpy()
        sols.extend(solution_of(spec, s) for s in best)
        best_obj.append(obj.reshape(hp.augment, b, -1).permute(1, 0, 2).reshape(b, -1)[rows, pick])
    model.train(was_training)
    return torch.cat(best_obj).cpu().numpy().astype(np.float64), sols
