"""The estimator-vs-gain correlation figure is legible at its default size: no two tick
labels overlap and none is cut off, whatever the estimator labels' lengths."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from mtlbench.similarity.correlation import correlation_figure  # noqa: E402


@pytest.mark.parametrize("labels", [
    ["wasserstein_exact", "wasserstein_sinkhorn", "wasserstein_sliced", "wasserstein_label", "h_divergence",
     "tag_affinity", "lookahead_pair"],  # the default run's estimators
    ["routing_lookahead_pair", "routing_tag_affinity"],
    ["w"],
])
def test_tick_labels_do_not_overlap_and_stay_inside(labels):
    frame = pd.DataFrame({"estimator": labels, "spearman": [0.1] * len(labels), "kendall": [-0.2] * len(labels)})
    fig = correlation_figure(frame, "digits_shift")
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    ax = fig.axes[0]
    page = fig.bbox
    for axis in (ax.get_xticklabels(), ax.get_yticklabels()):
        boxes = [t.get_window_extent(renderer) for t in axis if t.get_text()]
        for i, a in enumerate(boxes):
            assert page.x0 <= a.x0 and a.x1 <= page.x1 and page.y0 <= a.y0 and a.y1 <= page.y1
            for b in boxes[i + 1:]:
                assert not a.overlaps(b), [t.get_text() for t in axis]
    plt.close(fig)
