"""Drawing Figs. 6/7: frames shown as they were recorded, PNG sizes, the salient CSV."""

import csv

import cv2
import numpy as np
import pytest

from iastp_tf.analysis import salient, salient_plot
from iastp_tf.analysis.receptive_field import receptive_field
from iastp_tf.models import build_stream_model


def test_display_frames_shows_pipeline_frames_as_recorded():
    raw = np.random.randint(0, 256, (2, 5, 5, 3)).astype(np.uint8)
    shown = salient_plot.display_frames(raw.astype(np.float32), "rgb")
    np.testing.assert_array_equal(shown, raw)


def test_display_frames_shows_the_first_flow_field_in_grey():
    raw = np.random.randint(0, 256, (4, 4, 10)).astype(np.uint8)
    shown = salient_plot.display_frames(raw.astype(np.float32), "flow")
    np.testing.assert_array_equal(shown, np.repeat(raw[..., :1], 3, axis=-1))


def test_spread_positions():
    assert salient_plot.spread_positions((4, 4), 4) == [(0, 0), (1, 1), (2, 2), (3, 3)]
    assert salient_plot.spread_positions((2, 2), 6) == [(0, 0), (0, 1), (1, 0), (1, 1)]


def test_write_salient_fields_draws_and_lists_the_selection(tmp_path):
    size, frames_count = 32, 3
    models = [
        (f"{n} scales", build_stream_model("tiny", num_classes=3, num_scales=n, input_size=size)) for n in (1, 3)
    ]
    frames = np.random.uniform(0, 255, (frames_count, size, size, 3)).astype(np.float32)
    # A relative threshold, so that an untrained model's near-uniform A still selects positions.
    fig6, fig7 = salient_plot.write_salient_fields(
        models, frames, "rgb", tmp_path / "video", output_position=(1, 0), frame=2,
        output_threshold=0.9, frame_threshold=0.6, normalization="column_range",
    )
    for written in (fig6, fig7):
        image = cv2.imread(written.png)
        assert image is not None and image.std() > 0
        assert (image.shape[1], image.shape[0]) == written.image_size
    # Fig. 6 has a column per frame, Fig. 7 one per output position (4 on the 2x2 grid).
    assert fig6.image_size[0] < fig7.image_size[0]

    with open(fig6.tables[0]) as f:
        rows = list(csv.DictReader(f))
    field = receptive_field(salient.backbone_trunk(models[0][1]))
    for label, model in models:
        attention = salient.attention_matrices(model, frames[None])[0]
        low, high = attention.min(axis=0), attention.max(axis=0)
        relative = (attention - low) / (high - low)  # each column rescaled to 0..1
        # Eq. 17 by hand: column m = 1*2 + 0 = 2; eq. 18: frame 2's rows.
        expected6 = {(t, h, w) for t in range(3) for h in range(2) for w in range(2)
                     if relative[t * 4 + h * 2 + w, 2] > 0.9}
        expected7 = {(hm, wm, h, w) for hm in range(2) for wm in range(2) for h in range(2) for w in range(2)
                     if relative[2 * 4 + h * 2 + w, hm * 2 + wm] > 0.6}
        mine = [r for r in rows if r["model"] == label]
        got6 = {(int(r["frame"]), int(r["input_row"]), int(r["input_col"])) for r in mine if r["figure"] == "fig6"}
        got7 = {(int(r["output_row"]), int(r["output_col"]), int(r["input_row"]), int(r["input_col"]))
                for r in mine if r["figure"] == "fig7"}
        assert got6 == expected6 and got6
        assert got7 == expected7 and got7
        for r in mine:
            box = field.box(int(r["input_row"]), int(r["input_col"]), (size, size))
            assert [float(r[k]) for k in ("box_top", "box_left", "box_bottom", "box_right")] == pytest.approx(box)
