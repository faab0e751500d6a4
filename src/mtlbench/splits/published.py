"""Published split lists as a split source, and an audit of their protocol.

MRN's lists (Long et al. 2017; the protocol of the VMTL paper's Office tables) hold one
line per image: an absolute path from the authors' machine and an integer label::

    /home/.../data/office/images/amazon/mug_frame_0055.jpg 8

:func:`resolve_list` maps every line onto a local ``image_folder`` dataset through
rewrite rules given in params (regular expressions with named groups and a format
template; the first rule that matches wins) and stops at the first line that does not
resolve, naming it.  :func:`published_split` writes the result in our split contract
(:mod:`mtlbench.splits`): a sample in the training list is ``train``, one only in the
test list ``test``; a sample named in both is ``train`` (it was trained on), samples in
neither are left out, and a line repeated in a list counts once — the metadata records
each of these so that nothing is silently different from the lists.

:func:`audit_lists` measures what the lists are, against what their names say.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np
import pandas as pd

from ..errors import ConfigError, DataError


@dataclass(frozen=True)
class SplitListConfig:
    """Keys of a published split source (a ``split_lists:`` entry of params.yaml).

    lists: folder or archive holding the lists (``mtlbench.data.sources.Source``).
    subdir: folder inside it holding one folder per domain ('auto' strips one top folder).
    domains: {task: list folder}, e.g. {caltech10: c}.
    train_file / test_file: list file names; ``{percent}`` is round(100 * ratio).
    rewrite: [{match: regex, to: template}]: ``to`` is formatted with the match's named
      groups (after ``rename``), ``{task}`` and ``{label_class}`` (the class named by the
      line's label).  The result must be a sample id of the dataset ({task}/{class}/{file}).
    rename: {old: new} applied to every named group's value (class-name spellings).
    domain_sizes: {task: N} images per domain, for the audit when no local index is given.
    dataset: the image_folder dataset the lists resolve onto (none: audit only).
    n_classes: number of classes, for the audit (default: the largest label + 1).
    """

    lists: str
    domains: dict
    dataset: str | None = None
    n_classes: int | None = None
    rewrite: tuple = ()
    subdir: str = "auto"
    train_file: str = "train_{percent}.txt"
    test_file: str = "test_{percent}.txt"
    rename: dict | None = None
    domain_sizes: dict | None = None

    def check(self, where: str) -> None:
        if not isinstance(self.domains, dict) or not self.domains:
            raise ConfigError(f"{where}.domains: expected a mapping task -> list folder, got {self.domains!r}")
        for i, rule in enumerate(self.rewrite):
            if not isinstance(rule, dict) or set(rule) != {"match", "to"}:
                raise ConfigError(f"{where}.rewrite[{i}]: expected {{match: regex, to: template}}, got {rule!r}")
            try:
                re.compile(rule["match"])
            except re.error as e:
                raise ConfigError(f"{where}.rewrite[{i}].match: not a regular expression ({e})") from None


def read_split_list(text: str, where: str) -> pd.DataFrame:
    """Lines ``<path> <label>`` -> DataFrame (line 1-based, path, label); blank lines skipped."""
    rows = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        parts = line.strip().rsplit(maxsplit=1)
        if len(parts) != 2 or not re.fullmatch(r"-?\d+", parts[1]):
            raise DataError(f"{where} line {n}: expected '<path> <integer label>', got {line!r}")
        rows.append((n, parts[0], int(parts[1])))
    return pd.DataFrame(rows, columns=["line", "path", "label"])


def rewrite_path(path: str, label: int, task: str, rules, rename: dict | None, classes: list[str]) -> str | None:
    """The local sample id of a list path, by the first matching rule; None if none matches."""
    for rule in rules:
        m = re.search(rule["match"], path)
        if m is None:
            continue
        groups = {k: (rename or {}).get(v, v) for k, v in m.groupdict().items() if v is not None}
        label_class = classes[label] if 0 <= label < len(classes) else f"<label {label}>"
        return rule["to"].format(**groups, task=task, label_class=label_class)
    return None


def _source(cfg: SplitListConfig):
    from ..data.sources import Source

    return Source(cfg.lists, cfg.subdir)


def list_name(cfg: SplitListConfig, task: str, part: str, ratio: float) -> str:
    template = cfg.train_file if part == "train" else cfg.test_file
    return f"{cfg.domains[task]}/{template.format(percent=round(ratio * 100))}"


def load_lists(cfg: SplitListConfig, ratio: float, tasks=None) -> dict[tuple[str, str], pd.DataFrame]:
    """{(task, 'train'|'test'): lines} for one ratio; a missing list names the files present."""
    src = _source(cfg)
    out = {}
    for task in tasks or list(cfg.domains):
        if task not in cfg.domains:
            raise ConfigError(f"split_lists.domains: no list folder for task {task!r}; allowed: {sorted(cfg.domains)}")
        for part in ("train", "test"):
            name = list_name(cfg, task, part, ratio)
            if name not in src.names:
                near = [n for n in src.names if n.startswith(cfg.domains[task] + "/")]
                raise DataError(f"{src.describe(name)}: no such list; lists of {cfg.domains[task]!r}: {near}")
            out[task, part] = read_split_list(src.read(name).decode(), src.describe(name))
    return out


def resolve_list(lines: pd.DataFrame, task: str, cfg: SplitListConfig, classes: list[str],
                 sample_ids: set[str], labels: dict[str, int] | None, where: str) -> np.ndarray:
    """Sample ids of every line (in line order); stops at the first unresolved or mislabelled line."""
    out = []
    for row in lines.itertuples():
        sid = rewrite_path(row.path, row.label, task, cfg.rewrite, cfg.rename, classes)
        if sid is None:
            raise DataError(f"{where} line {row.line}: {row.path} matches no rewrite rule")
        if sid not in sample_ids:
            raise DataError(f"{where} line {row.line}: {row.path} -> {sid!r}, which is not an image of the dataset")
        if labels is not None and labels[sid] != row.label:
            raise DataError(f"{where} line {row.line}: {row.path} has label {row.label}, the dataset's "
                            f"{sid!r} has {labels[sid]} ({classes[labels[sid]]})")
        out.append(sid)
    return np.asarray(out, dtype=str)


def published_split(cfg: SplitListConfig, ratio: float, sample_id, task, label, classes: list[str],
                    tasks=None) -> tuple[pd.DataFrame, dict]:
    """Our split contract (sample_id, task, split) from the published lists of one ratio."""
    sample_id = np.asarray(sample_id, dtype=str)
    ids = set(sample_id.tolist())
    labels = dict(zip(sample_id.tolist(), np.asarray(label).tolist()))
    task_of = dict(zip(sample_id.tolist(), np.asarray(task, dtype=str).tolist()))
    lists = load_lists(cfg, ratio, tasks)
    src = _source(cfg)
    rows, notes = [], {}
    for t in dict.fromkeys(k[0] for k in lists):
        res = {p: resolve_list(lists[t, p], t, cfg, classes, ids, labels, src.describe(list_name(cfg, t, p, ratio)))
               for p in ("train", "test")}
        wrong_task = sorted({s for p in res for s in res[p] if task_of[s] != t})
        if wrong_task:
            raise DataError(f"{list_name(cfg, t, 'train', ratio)}: lists of task {t!r} name images of other tasks, "
                            f"first {wrong_task[0]!r}")
        train, test = set(res["train"]), set(res["test"])
        rows += [(s, t, "train") for s in sorted(train)] + [(s, t, "test") for s in sorted(test - train)]
        notes[t] = {"train_lines": len(res["train"]), "test_lines": len(res["test"]),
                    "train_unique": len(train), "test_unique": len(test),
                    "in_both_lists_kept_as_train": len(train & test)}
    df = pd.DataFrame(rows, columns=["sample_id", "task", "split"])
    return df, {"kind": "published_lists", "lists": str(cfg.lists), "ratio": ratio, "per_task": notes}


def audit_lists(cfg: SplitListConfig, dataset: str, ratios, domain_sizes: dict[str, int] | None = None,
                n_classes: int | None = None) -> pd.DataFrame:
    """One row per (dataset, ratio, task): what the lists hold against what they claim.

    Columns: lines and unique images of each part, duplicated lines, N (images in the
    domain: ``domain_sizes``, else ``cfg.domain_sizes``, else the union of every list of
    the domain), nominal vs effective training ratio (unique training images / N),
    classes covered by the training part, test coverage of the domain (unique test
    images / N), train/test overlap, lines whose path is outside the domain's folder, and
    ``round_lt_classes``: round(ratio * N) < number of classes (a split that cannot hold
    one training image per class).
    """
    per = {r: load_lists(cfg, r) for r in ratios}
    sizes = dict(cfg.domain_sizes or {}, **(domain_sizes or {}))
    n_classes = n_classes or cfg.n_classes
    if n_classes is None:
        n_classes = 1 + max(int(df["label"].max()) for lists in per.values() for df in lists.values())
    rows = []
    for r in ratios:
        for t in cfg.domains:
            tr, te = per[r][t, "train"], per[r][t, "test"]
            folder = cfg.domains[t]
            if t in sizes:
                n = int(sizes[t])
                n_source = "given"
            else:
                n = len(set().union(*(set(per[q][t, p]["path"]) for q in ratios for p in ("train", "test"))))
                n_source = "union of lists"
            utr, ute = set(tr["path"]), set(te["path"])
            outside = sum(folder not in PurePosixPath(p).parts for p in pd.concat([tr, te])["path"])
            rows.append({
                "dataset": dataset, "ratio": r, "task": t, "list_folder": folder, "N": n, "N_from": n_source,
                "train_lines": len(tr), "train_unique": len(utr), "train_dup_lines": len(tr) - len(utr),
                "test_lines": len(te), "test_unique": len(ute), "test_dup_lines": len(te) - len(ute),
                "effective_ratio": len(utr) / n if n else float("nan"),
                "round_ratio_N": round(r * n), "classes": n_classes,
                "train_classes": int(tr["label"].nunique()),
                "test_coverage": len(ute) / n if n else float("nan"),
                "train_test_overlap": len(utr & ute),
                "unused_images": n - len(utr | ute) if n_source == "given" else 0,
                "lines_outside_domain": int(outside),
                "round_lt_classes": bool(round(r * n) < n_classes),
            })
    return pd.DataFrame(rows)


def audit_markdown(audit: pd.DataFrame) -> str:
    """The audit as a Markdown table, flags marked."""
    cols = ["dataset", "ratio", "task", "N", "train_lines", "train_unique", "train_dup_lines", "effective_ratio",
            "train_classes", "test_lines", "test_unique", "test_coverage", "train_test_overlap", "unused_images",
            "lines_outside_domain", "round_ratio_N", "round_lt_classes"]
    head = "| " + " | ".join(cols) + " |"
    lines = [head, "|" + "---|" * len(cols)]
    for r in audit.itertuples():
        vals = []
        for c in cols:
            v = getattr(r, c)
            if c in ("effective_ratio", "test_coverage"):
                vals.append(f"{v:.3f}")
            elif c == "train_classes":
                vals.append(f"{v}/{r.classes}")
            elif c == "round_lt_classes":
                vals.append("**yes**" if v else "no")
            elif c == "N":
                vals.append(f"{v}" + ("" if r.N_from == "given" else "*"))
            elif c == "unused_images":
                vals.append(str(v) if r.N_from == "given" else "–")
            else:
                vals.append(str(v))
        lines.append("| " + " | ".join(vals) + " |")
    note = ("\nN: images in the domain (* = not known locally: the union of the domain's lists). "
            "effective_ratio = unique training images / N; test_coverage = unique test images / N; "
            "round_lt_classes: round(ratio x N) < number of classes.\n")
    return "\n".join(lines) + "\n" + note


def write_audit(audit: pd.DataFrame, out_stem: str | Path) -> None:
    """``{stem}.csv`` and ``{stem}.md``, atomically."""
    from ..io import atomic_path

    out_stem = Path(out_stem)
    with atomic_path(out_stem.with_suffix(".csv")) as tmp:
        audit.to_csv(tmp, index=False)
    with atomic_path(out_stem.with_suffix(".md")) as tmp:
        tmp.write_text(audit_markdown(audit))
