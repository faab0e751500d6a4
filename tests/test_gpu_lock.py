import os

import pytest

from mtlbench.gpu import claim_gpu, visible_gpus


def test_two_jobs_get_two_gpus(tmp_path, monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,1")
    with claim_gpu(tmp_path, gpus=["0", "1"]) as a:
        assert os.environ["CUDA_VISIBLE_DEVICES"] == a
        with claim_gpu(tmp_path, gpus=["0", "1"]) as b:
            assert {a, b} == {"0", "1"}
            assert os.environ["CUDA_VISIBLE_DEVICES"] == b
        with pytest.raises(TimeoutError, match="no free GPU"):
            with claim_gpu(tmp_path, gpus=["0"], poll_s=0.01, timeout_s=0.05):
                pass
    assert os.environ["CUDA_VISIBLE_DEVICES"] == "0,1"


def test_no_gpu_changes_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert visible_gpus() == []
    with claim_gpu(tmp_path) as g:
        assert g is None
