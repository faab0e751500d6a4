"""FGSM (VMTL appendix B.5): the perturbation increases the loss and lowers accuracy."""

import numpy as np
import pytest
import torch
from conftest import make_blobs_problem

from mtlbench.methods import METHODS
from mtlbench.robustness import fgsm_accuracy, fgsm_perturb, fgsm_task_accuracy


def test_fgsm_increases_the_loss_of_a_linear_model():
    g = torch.Generator().manual_seed(0)
    W = torch.randn(5, 3, generator=g)
    x, y = torch.randn(200, 5, generator=g), torch.randint(0, 3, (200,), generator=g)
    f = lambda v: v @ W  # noqa: E731
    clean = torch.nn.functional.cross_entropy(f(x), y)
    adv = torch.nn.functional.cross_entropy(f(fgsm_perturb(f, x, y, 0.1)), y)
    assert float(adv) > float(clean)
    acc = fgsm_accuracy(f, x.numpy(), y.numpy(), [0.0, 0.5, 2.0])
    assert acc[0.0] >= acc[0.5] >= acc[2.0]


def test_fgsm_on_trained_bmtl_and_vmtl():
    torch.set_num_threads(1)
    problem = make_blobs_problem(n_tasks=2, n_classes=3, dim=8, n_train=40, n_test=80)
    eps = [0.0, 1.0, 3.0]
    hps = {"bmtl": dict(hidden=16, steps=60, eval_every=60),
           "vmtl": dict(hidden=16, latent=8, z_samples=2, w_samples=2, steps=60, eval_every=60, lr=3e-3, dropout=0.2)}
    for name, hp in hps.items():
        cls = METHODS[name]
        res = cls(cls.Hparams(**hp)).fit_predict(problem, seed=0, progress=False)
        out = fgsm_task_accuracy(res, problem, eps)
        t = problem.tasks[0]
        x = torch.as_tensor(problem.data[t].x_test)
        y = torch.as_tensor(problem.data[t].y_test)
        f = lambda v, res=res, t=t: res.predictor(t, v)  # noqa: E731
        clean = torch.nn.functional.cross_entropy(f(x), y)
        adv = torch.nn.functional.cross_entropy(f(fgsm_perturb(f, x, y, 1.0)), y)
        assert float(adv.detach()) > float(clean.detach()), name
        assert out["avg"][3.0] < out["avg"][0.0], name
        assert np.isclose(out["avg"][0.0], np.mean([np.mean(res.predictions[k] == problem.data[k].y_test)
                                                     for k in problem.tasks]), atol=0.05), name


def test_fgsm_run_writes_a_full_run_record(tmp_path):
    """The robustness JSON carries the run's provenance, and eps = 0 is the run's own accuracy."""
    import json

    import pandas as pd

    from mtlbench.io import read_json
    from mtlbench.robustness import fgsm_run
    from mtlbench.train import run

    torch.set_num_threads(1)
    problem = make_blobs_problem(n_tasks=2, n_classes=3, dim=6, n_train=30, n_test=40)
    sid, task, label, feat, part = [], [], [], [], []
    for t in problem.tasks:
        d = problem.data[t]
        for name, x, y in (("train", d.x_train, d.y_train), ("test", d.x_test, d.y_test)):
            sid += [f"{t}/{name}{i}" for i in range(len(y))]
            task += [t] * len(y)
            label.append(y)
            feat.append(x)
            part += [name] * len(y)
    from mtlbench.features.table import write_features
    from mtlbench.splits import write_split

    write_features(tmp_path / "f.parquet", sid, task, np.concatenate(label), np.concatenate(feat), {"classes": ["a", "b", "c"]})
    write_split(tmp_path / "s.parquet", pd.DataFrame({"sample_id": sid, "task": task, "split": part}), 0.5, 0)
    hp = {"hidden": 16, "steps": 40, "eval_every": 40}
    kw = dict(dataset="blobs", tasks=problem.tasks, method="bmtl", algorithm="bmtl", hparams=hp, ratio=0.5, seed=0,
              device="cpu", progress=False)
    trained = run(tmp_path / "f.parquet", tmp_path / "s.parquet", tmp_path / "run.json", **kw)
    fgsm_run(tmp_path / "f.parquet", tmp_path / "s.parquet", tmp_path / "fgsm.json", eps=[0.0, 1.0], **kw)
    rec = read_json(tmp_path / "fgsm.json")
    assert len(rec["config_hash"]) == 64 and rec["device"]["device"] == "cpu" and "torch" in rec["versions"]
    assert rec["inputs"]["split_sha256"] == trained["inputs"]["split_sha256"]
    assert rec["eps"] == [0.0, 1.0] and rec["attack"].startswith("fgsm")
    assert rec["metrics"] == json.loads(json.dumps(trained["metrics"]))  # same seed, same model
    assert rec["fgsm"]["avg"]["0"] == pytest.approx(rec["metrics"]["average"]["accuracy"])
    assert rec["fgsm"]["avg"]["1"] < rec["fgsm"]["avg"]["0"]


def _fake_fgsm_run(path, method, seed, by_eps):
    from mtlbench.io import write_json

    write_json(path, {"dataset": "d", "method": method, "ratio": 0.05, "seed": seed,
                      "fgsm": {"a": by_eps, "avg": by_eps}})
    return path


def test_robustness_table_means_intervals_and_bold(tmp_path):
    import pandas as pd

    from mtlbench.report.robustness import write_robustness_table
    from mtlbench.report.stats import mean_ci95

    accs = {"bmtl": [(0.80, 0.50), (0.82, 0.40), (0.78, 0.45)], "vmtl": [(0.85, 0.30), (0.86, 0.35), (0.84, 0.20)]}
    paths = [_fake_fgsm_run(tmp_path / f"{m}_{s}.json", m, s, {"0": a0, "0.1": a1})
             for m, vals in accs.items() for s, (a0, a1) in enumerate(vals)]
    written = write_robustness_table(paths, tmp_path / "out", "d", 0.05, ["bmtl", "vmtl"])
    assert [p.name for p in written] == ["robustness_d_0.05.md", "robustness_d_0.05.tex", "robustness_d_0.05.csv"]
    md = written[0].read_text()
    m, h = mean_ci95([0.50, 0.40, 0.45])
    assert f"| bmtl | 80.0 ± {mean_ci95([0.80, 0.82, 0.78])[1] * 100:.1f} | **{m * 100:.1f} ± {h * 100:.1f}** |" in md
    assert "| vmtl | **85.0 ± " in md and "| eps=0 | eps=0.1 |" in md
    assert r"\textbf{85.0 $\pm$" in written[1].read_text()
    csv = pd.read_csv(written[2])
    assert len(csv) == 2 * 2 * 2 and set(csv.n) == {3}  # methods x tasks (a, avg) x eps


def test_robustness_table_refuses_plain_runs(tmp_path):
    from mtlbench.errors import ConfigError
    from mtlbench.io import write_json
    from mtlbench.report.robustness import write_robustness_table

    write_json(tmp_path / "r.json", {"dataset": "d", "method": "bmtl", "ratio": 0.05, "seed": 0, "metrics": {}})
    with pytest.raises(ConfigError, match="not a robustness run"):
        write_robustness_table([tmp_path / "r.json"], tmp_path, "d", 0.05, ["bmtl"])


@pytest.mark.parametrize("name, extra", [("vmtl", {}), ("vmtl", {"encoder": "bayes_linear", "predict": "mean"}),
                                         ("vmtl_ac", {}), ("bmtl", None)])
def test_predictor_gradient_matches_finite_differences(name, extra):
    """The gradient FGSM follows is the predictor's: autograd's directional derivative of the
    cross-entropy equals a central finite difference along random directions."""
    from mtlbench.robustness import input_gradient

    torch.set_num_threads(1)
    problem = make_blobs_problem(n_tasks=2, n_classes=3, dim=6, n_train=30, n_test=20)
    cls = METHODS[name]
    hp = dict(hidden=12, steps=30, eval_every=30) if extra is None else \
        dict(hidden=12, latent=6, z_samples=2, w_samples=2, steps=30, eval_every=30, lr=3e-3, **extra)
    res = cls(cls.Hparams(**hp)).fit_predict(problem, seed=0, progress=False)
    t = problem.tasks[1]
    x = torch.as_tensor(problem.data[t].x_test[:8], dtype=torch.float64)
    y = torch.as_tensor(problem.data[t].y_test[:8])

    def loss(v):
        with torch.no_grad():
            return float(torch.nn.functional.cross_entropy(res.predictor(t, v.float()), y))

    grad = input_gradient(lambda v: res.predictor(t, v), x.float(), y).double()
    g = torch.Generator().manual_seed(1)
    # along the gradient itself (the FGSM direction), then random directions; the loss is
    # float32 and bMTL piecewise linear, so the random ones get an absolute tolerance
    directions = [grad] + [torch.randn(x.shape, generator=g, dtype=torch.float64) for _ in range(2)]
    directions = [v / v.norm() for v in directions]
    h = 1e-3
    for i, v in enumerate(directions):
        fd = (loss(x + h * v) - loss(x - h * v)) / (2 * h)
        assert float((grad * v).sum()) == pytest.approx(fd, rel=5e-2, abs=3e-4 if i else 1e-4), (name, i)
    assert float(grad.norm()) > 1e-3  # the first check is not vacuous


def test_eps_is_in_units_of_each_features_training_std():
    from mtlbench.robustness import feature_scale

    x_train = np.array([[0.0, 1.0, 5.0], [0.0, 3.0, 5.0]], dtype=np.float32)  # stds 0, 1, 0
    scale = feature_scale(x_train)
    np.testing.assert_allclose(scale.numpy(), [0.0, 1.0, 0.0])
    W = torch.tensor([[1.0, -1.0], [2.0, 0.5], [-1.0, 1.0]])
    x, y = torch.ones(4, 3), torch.tensor([0, 1, 0, 1])
    adv = fgsm_perturb(lambda v: v @ W, x, y, 0.3, scale)
    np.testing.assert_allclose((adv - x).abs().numpy(), np.tile([0.0, 0.3, 0.0], (4, 1)), atol=1e-7)
    assert feature_scale(x_train, "absolute") is None
    with pytest.raises(Exception, match="eps_unit.*allowed"):
        feature_scale(x_train, "pixels")
