"""Published split lists: parsing, path rewrite, the split contract, the audit."""

from __future__ import annotations

import tarfile

import numpy as np
import pytest

from mtlbench.config import build_dataclass, validate_params
from mtlbench.errors import ConfigError, DataError
from mtlbench.splits.published import (
    SplitListConfig,
    audit_lists,
    audit_markdown,
    published_split,
    read_split_list,
    rewrite_path,
)

CLASSES = ["backpack", "bike", "laptop"]
RULES = [{"match": r"/images/c/(?P<file>\d+_\d+\.jpg)$", "to": "caltech10/{label_class}/{file}"},
         {"match": r"/images/(?P<domain>amazon|dslr)/(?P<cls>.+)_(?P<file>frame_\d+\.jpg)$", "to": "{domain}/{cls}/{file}"}]
RENAME = {"back_pack": "backpack", "laptop_computer": "laptop"}
ROOT = "/home/someone/data/office/images"


def test_read_split_list_and_bad_line():
    df = read_split_list(f"{ROOT}/amazon/bike_frame_0001.jpg 1\n\n{ROOT}/c/045_0011.jpg 2\n", "l.txt")
    assert df["line"].tolist() == [1, 3] and df["label"].tolist() == [1, 2]
    with pytest.raises(DataError, match=r"l.txt line 2: expected '<path> <integer label>'"):
        read_split_list("a.jpg 1\nb.jpg x\n", "l.txt")


def test_rewrite_rules_rename_and_label_class():
    assert rewrite_path(f"{ROOT}/amazon/back_pack_frame_0007.jpg", 0, "amazon", RULES, RENAME, CLASSES) == \
        "amazon/backpack/frame_0007.jpg"
    assert rewrite_path(f"{ROOT}/dslr/laptop_computer_frame_0002.jpg", 2, "dslr", RULES, RENAME, CLASSES) == \
        "dslr/laptop/frame_0002.jpg"
    assert rewrite_path(f"{ROOT}/c/045_0011.jpg", 1, "caltech10", RULES, RENAME, CLASSES) == "caltech10/bike/045_0011.jpg"
    assert rewrite_path(f"{ROOT}/webcam/bike_frame_0001.jpg", 1, "webcam", RULES, RENAME, CLASSES) is None


def _lists(tmp_path, train_a, test_a):
    root = tmp_path / "lists" / "office"
    for dom, lines in (("amazon", {"train_5.txt": train_a, "test_5.txt": test_a}),
                       ("c", {"train_5.txt": [f"{ROOT}/c/045_0011.jpg 1"], "test_5.txt": [f"{ROOT}/c/046_0001.jpg 2"]})):
        (root / dom).mkdir(parents=True, exist_ok=True)
        for name, ls in lines.items():
            (root / dom / name).write_text("\n".join(ls) + "\n")
    with tarfile.open(tmp_path / "lists.tar.gz", "w:gz") as tar:
        tar.add(tmp_path / "lists", arcname="mrn")
    return build_dataclass(SplitListConfig, {"lists": str(tmp_path / "lists.tar.gz"), "subdir": "mrn/office",
                                             "domains": {"amazon": "amazon", "caltech10": "c"}, "rewrite": RULES,
                                             "rename": RENAME}, "split_lists.x")


DATASET_IDS = ["amazon/backpack/frame_0001.jpg", "amazon/backpack/frame_0002.jpg", "amazon/bike/frame_0001.jpg",
               "amazon/laptop/frame_0001.jpg", "caltech10/bike/045_0011.jpg", "caltech10/laptop/046_0001.jpg"]
DATASET_TASKS = [s.split("/")[0] for s in DATASET_IDS]
DATASET_LABELS = [0, 0, 1, 2, 1, 2]


def test_published_split_contract_duplicates_and_overlap(tmp_path):
    train = [f"{ROOT}/amazon/back_pack_frame_0001.jpg 0", f"{ROOT}/amazon/back_pack_frame_0001.jpg 0",
             f"{ROOT}/amazon/bike_frame_0001.jpg 1"]
    test = [f"{ROOT}/amazon/laptop_computer_frame_0001.jpg 2", f"{ROOT}/amazon/bike_frame_0001.jpg 1"]
    cfg = _lists(tmp_path, train, test)
    df, meta = published_split(cfg, 0.05, DATASET_IDS, DATASET_TASKS, DATASET_LABELS, CLASSES)
    got = {(r.sample_id, r.split) for r in df.itertuples()}
    assert got == {("amazon/backpack/frame_0001.jpg", "train"), ("amazon/bike/frame_0001.jpg", "train"),
                   ("amazon/laptop/frame_0001.jpg", "test"), ("caltech10/bike/045_0011.jpg", "train"),
                   ("caltech10/laptop/046_0001.jpg", "test")}
    assert meta["per_task"]["amazon"] == {"train_lines": 3, "test_lines": 2, "train_unique": 2, "test_unique": 2,
                                          "in_both_lists_kept_as_train": 1}
    audit = audit_lists(cfg, "toy", [0.05], domain_sizes={"amazon": 4, "caltech10": 2}, n_classes=3)
    a = audit[audit.task == "amazon"].iloc[0]
    assert (a.train_lines, a.train_unique, a.train_dup_lines, a.train_test_overlap, a.unused_images) == (3, 2, 1, 1, 1)
    assert a.effective_ratio == pytest.approx(0.5) and a.test_coverage == pytest.approx(0.5)
    assert a.train_classes == 2 and bool(a.round_lt_classes)  # round(0.05 * 4) = 0 < 3
    assert "**yes**" in audit_markdown(audit)


def test_unresolved_and_mislabelled_lines_stop_the_run(tmp_path):
    cfg = _lists(tmp_path, [f"{ROOT}/amazon/bike_frame_0001.jpg 1", f"{ROOT}/amazon/bike_frame_0009.jpg 1"], [])
    with pytest.raises(DataError, match=r"train_5.txt line 2: .*bike_frame_0009.jpg -> 'amazon/bike/frame_0009.jpg', which is not"):
        published_split(cfg, 0.05, DATASET_IDS, DATASET_TASKS, DATASET_LABELS, CLASSES)
    cfg = _lists(tmp_path, [f"{ROOT}/amazon/bike_frame_0001.jpg 2"], [])
    with pytest.raises(DataError, match=r"line 1: .* has label 2, the dataset's 'amazon/bike/frame_0001.jpg' has 1"):
        published_split(cfg, 0.05, DATASET_IDS, DATASET_TASKS, DATASET_LABELS, CLASSES)
    cfg = _lists(tmp_path, [f"{ROOT}/webcam/bike_frame_0001.jpg 1"], [])
    with pytest.raises(DataError, match="line 1: .* matches no rewrite rule"):
        published_split(cfg, 0.05, DATASET_IDS, DATASET_TASKS, DATASET_LABELS, CLASSES)
    with pytest.raises(DataError, match=r"no such list; lists of 'amazon'"):
        published_split(cfg, 0.1, DATASET_IDS, DATASET_TASKS, DATASET_LABELS, CLASSES)


def test_split_lists_params_section():
    base = {"datasets": {"imgs": {"kind": "image_folder", "root": "x.tar", "tasks": ["amazon"]}}}
    p = validate_params({**base, "split_lists": {"mrn": {"dataset": "imgs", "lists": "l.tar.gz", "domains": {"amazon": "amazon"}}}})
    assert p["split_lists"]["mrn"]["train_file"] == "train_{percent}.txt"
    assert "split_lists" not in validate_params(base)
    with pytest.raises(ConfigError, match=r"split_lists.mrn.dataset: 'other' is not a dataset"):
        validate_params({**base, "split_lists": {"mrn": {"dataset": "other", "lists": "l", "domains": {"a": "a"}}}})
    with pytest.raises(ConfigError, match=r"split_lists.mrn.rewrite\[0\]: expected \{match: regex, to: template\}"):
        validate_params({**base, "split_lists": {"mrn": {"lists": "l", "domains": {"a": "a"}, "rewrite": [{"match": "x"}]}}})


def test_shared_mrn_office_lists_resolve_onto_the_shared_images(shared_data, shared_splits):
    from pathlib import Path

    import yaml

    from mtlbench.data.image_folder import scan_image_folder
    from mtlbench.data.kinds import ImageFolderConfig

    params = yaml.safe_load((Path(__file__).parents[2] / "configs" / "office_caltech.yaml").read_text())
    entry = dict(params["split_lists"]["office_caltech_mrn"], lists=str(shared_splits / "mrn_split_lists.tar.gz"))
    cfg = build_dataclass(SplitListConfig, entry, "split_lists.office_caltech_mrn")
    index, classes, _, _ = scan_image_folder(ImageFolderConfig(kind="image_folder", root=str(shared_data / "office_caltech10_images.tar")))
    df, meta = published_split(cfg, 0.05, index.sample_id, index.task, index.label, classes)
    assert meta["per_task"]["dslr"]["train_lines"] == 40 and meta["per_task"]["dslr"]["train_unique"] == 10
    assert set(df.task) == {"amazon", "caltech10", "dslr", "webcam"}
    audit = audit_lists(cfg, "office_caltech", [0.05, 0.1, 0.2], domain_sizes=index.task.value_counts().to_dict())
    flagged = audit[audit.round_lt_classes][["ratio", "task"]].values.tolist()
    assert flagged == [[0.05, "dslr"]]
    assert np.isclose(audit[(audit.ratio == 0.1) & (audit.task == "amazon")].effective_ratio.iloc[0], 48 / 958)
