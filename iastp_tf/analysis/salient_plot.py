"""Drawing salient receptive fields over the frames (paper Figs. 6 and 7, SPEC §7).

Each salient input position (see :mod:`iastp_tf.analysis.salient`) is drawn as
its receptive field (outline, clipped to the frame) with its centre cell (one
jump wide, filled), in the paper's colours: blue, green and red for the models
with 1, 2 and 3 scales. Fig. 6 has one row per model and one column per frame
(eq. 17, one output position); Fig. 7 has one row per model and one column per
output position (eq. 18, one frame), the output position's own centre marked
with a white star.
"""

import csv
import dataclasses

import gin
import numpy as np
from matplotlib.patches import Rectangle

from iastp_tf.analysis import plotting, salient
from iastp_tf.analysis.receptive_field import ReceptiveField, receptive_field
from iastp_tf.data.pipeline import make_dataset

SCALE_COLORS = ("tab:blue", "tab:green", "tab:red", "tab:purple")
_PANEL_INCHES = 2.2


@dataclasses.dataclass(frozen=True)
class SalientRow:
    """One model's selection to draw.

    Attributes:
      label: row title, e.g. ``"3 scales"``.
      mask: bool ``[K, H, W]`` (Fig. 6) or ``[H_m, W_m, H, W]`` (Fig. 7).
      peak: the largest entry of A (as the layer gives it) among those the
        selection read, shown in the row title so that an empty row explains
        itself.
    """

    label: str
    mask: np.ndarray
    peak: float


def display_frames(frames, modality) -> np.ndarray:
    """Model input frames as viewable uint8 images.

    Args:
      frames: ``[..., S, S, C]`` frames as the input pipeline gives them
        (0..255; the model normalises them itself).
      modality: ``"rgb"`` (shown in colour) or ``"flow"``/``"flow_mc"`` (the
        first x field shown in grey, as the paper's flow images).

    Returns:
      uint8 ``[..., S, S, 3]``.
    """
    frames = np.asarray(frames, dtype=np.float64)
    if modality != "rgb":
        frames = np.repeat(frames[..., :1], 3, axis=-1)  # first x field, grey
    return np.clip(np.round(frames[..., :3]), 0, 255).astype(np.uint8)


def _draw_position(axes, field, row, col, image_size, color):
    """Receptive-field outline and filled centre cell of one position (patches clipped to the frame)."""
    top, left, bottom, right = field.box(row, col, image_size)
    axes.add_patch(
        Rectangle((left, top), right - left, bottom - top, fill=False, edgecolor=color, linewidth=0.9,
                  linestyle="--", alpha=0.8)
    )
    y, x = field.center(row, col)
    jump_y, jump_x = field.jump
    axes.add_patch(Rectangle((x - jump_x / 2, y - jump_y / 2), jump_x, jump_y, color=color, alpha=0.4))


def _image_axes(axes, image, title):
    axes.imshow(image)
    axes.set_xlim(-0.5, image.shape[1] - 0.5)  # patches past the border must not widen the view
    axes.set_ylim(image.shape[0] - 0.5, -0.5)
    axes.set_autoscale_on(False)
    axes.set_xticks([])
    axes.set_yticks([])
    axes.set_title(title, fontsize=8)


def plot_output_fields(images, rows, field: ReceptiveField, output_position, path, criterion):
    """Fig. 6 (eq. 17): per model, the frames' salient fields for one output position.

    Args:
      images: uint8 ``[K, S, S, 3]``.
      rows: :class:`SalientRow` per model, masks ``[K, H, W]``.
      field: receptive field of the top level's positions.
      output_position: ``(h_m, w_m)``; its own centre is marked on every frame.
      path: PNG to write.
      criterion: the selection rule for the title, e.g. ``"A > 0.5"``.

    Returns:
      ``(width, height)`` of the PNG.
    """
    frames = len(images)
    figure = plotting.new_figure(0.6 + _PANEL_INCHES * frames, 0.5 + _PANEL_INCHES * len(rows))
    grid = figure.subplots(len(rows), frames, squeeze=False)
    image_size = images.shape[1:3]
    for r, (row, color) in enumerate(zip(rows, SCALE_COLORS)):
        for t in range(frames):
            axes = grid[r, t]
            _image_axes(axes, images[t], f"frame {t + 1}")
            for h, w in np.argwhere(row.mask[t]):
                _draw_position(axes, field, h, w, image_size, color)
            y, x = field.center(*output_position)
            axes.plot(x, y, marker="+", color="white", markersize=8)
        grid[r, 0].set_ylabel(f"{row.label}\n{int(row.mask.sum())} salient, max A {row.peak:.3f}", fontsize=8)
    figure.suptitle(
        f"Salient receptive fields for output position {tuple(int(v) for v in output_position)} "
        f"(eq. 17, {criterion})",
        fontsize=10,
    )
    return plotting.save_png(figure, path)


def plot_frame_fields(image, rows, field: ReceptiveField, positions, path, frame, criterion):
    """Fig. 7 (eq. 18): per model, one frame's salient fields for several output positions.

    Args:
      image: uint8 ``[S, S, 3]``, the frame.
      rows: :class:`SalientRow` per model, masks ``[H_m, W_m, H, W]``.
      field: receptive field of the top level's positions.
      positions: the output positions ``(h_m, w_m)`` to show, one column each.
      path: PNG to write.
      frame: the frame's index, shown in the title.
      criterion: the selection rule for the title, e.g. ``"A > 0.7"``.

    Returns:
      ``(width, height)`` of the PNG.
    """
    figure = plotting.new_figure(0.6 + _PANEL_INCHES * len(positions), 0.5 + _PANEL_INCHES * len(rows))
    grid = figure.subplots(len(rows), len(positions), squeeze=False)
    image_size = image.shape[:2]
    for r, (row, color) in enumerate(zip(rows, SCALE_COLORS)):
        for c, (h_m, w_m) in enumerate(positions):
            axes = grid[r, c]
            _image_axes(axes, image, f"output ({h_m}, {w_m})")
            for h, w in np.argwhere(row.mask[h_m, w_m]):
                _draw_position(axes, field, h, w, image_size, color)
            y, x = field.center(h_m, w_m)
            axes.plot(x, y, marker="*", color="white", markeredgecolor="black", markersize=9)
        grid[r, 0].set_ylabel(f"{row.label}\nmax A {row.peak:.3f}", fontsize=8)
    figure.suptitle(
        f"Salient receptive fields of frame {frame + 1} for each output position (eq. 18, {criterion})",
        fontsize=10,
    )
    return plotting.save_png(figure, path)


def spread_positions(grid, count) -> list[tuple[int, int]]:
    """Up to ``count`` output positions spread evenly over an ``(H, W)`` grid, row-major."""
    height, width = grid
    indices = np.unique(np.linspace(0, height * width - 1, min(count, height * width)).round().astype(int))
    return [(int(i // width), int(i % width)) for i in indices]


def video_frames(data_dir, num_frames, split="test", video_id=None, **dataset_kwargs):
    """One test video's K segment frames, as the model sees them (centre crop).

    Args:
      data_dir: records folder.
      num_frames: K.
      split: split to read.
      video_id: media id to pick; ``None`` for the first video.
      **dataset_kwargs: more :func:`make_dataset` arguments (``modality``,
        ``backbone``, ``input_size``, ...); built in gin scope ``eval``.

    Returns:
      ``(video_id, label, frames [K, S, S, C])``.
    """
    with gin.config_scope("eval"):
        dataset = make_dataset(
            data_dir=data_dir, split=split, batch_size=1, training=False, num_segments=num_frames,
            test_crops=1, **dataset_kwargs,
        )
    for frames, labels, media_ids in dataset:
        found = media_ids.numpy()[0].decode()
        if video_id is None or found == video_id:
            return found, labels.numpy()[0], frames.numpy()[0, 0]  # first view: [K, S, S, C]
    raise ValueError(f"video_id {video_id!r} is not in split {split!r} of {data_dir}")


def write_salient_fields(
    models,
    frames,
    modality,
    output_prefix,
    output_position=(0, 0),
    frame=0,
    output_threshold=0.5,
    frame_threshold=0.7,
    normalization="none",
    max_positions=6,
) -> tuple[plotting.WrittenFigure, plotting.WrittenFigure]:
    """Figs. 6 and 7 for one video and models with 1, 2, 3 scales.

    Args:
      models: ``(label, stream model)`` pairs, e.g. ``[("1 scale", m1), ...]``;
        each built with pyramid attention on the same backbone.
      frames: ``[K, S, S, C]`` frames of one video, 0..255 as the input
        pipeline gives them.
      modality: ``"rgb"``, ``"flow"`` or ``"flow_mc"``.
      output_prefix: writes ``<prefix>_fig6.png``, ``<prefix>_fig7.png`` and
        ``<prefix>.csv``.
      output_position: ``(h_m, w_m)`` of eq. 17 (the paper: the first).
      frame: t of eq. 18 (the paper: the first).
      output_threshold: eq. 17's threshold (0.5).
      frame_threshold: eq. 18's threshold (0.7).
      normalization: ``"none"`` (the paper) or ``"column_range"``
        (see :mod:`iastp_tf.analysis.salient`).
      max_positions: output positions shown in Fig. 7, spread over the grid.

    Returns:
      The two written figures; both carry the CSV of every salient position.
    """
    if not models:
        raise ValueError("models must name at least one (label, model) pair")
    frames = np.asarray(frames, dtype=np.float32)
    num_frames = frames.shape[0]
    images = display_frames(frames, modality)
    image_size = images.shape[1:3]
    trunk = salient.backbone_trunk(models[0][1])
    field = receptive_field(trunk)  # the models share the backbone, hence the field
    grid = tuple(trunk.outputs[-1].shape[1:3])  # (H, W) of the top level
    h_m, w_m = output_position
    fig6_rows, fig7_rows, records = [], [], []
    for label, model in models:
        attention = salient.attention_matrices(model, frames[None])[0]  # [K·H·W, H·W]
        by_output = salient.salient_for_output(
            attention, num_frames, grid, output_position, output_threshold, normalization
        )  # [K, H, W]
        by_frame = salient.salient_for_frame(
            attention, num_frames, grid, frame, frame_threshold, normalization
        )  # [H_m, W_m, H, W]
        scores = salient.normalized_attention(attention, normalization).reshape(
            num_frames, *grid, *grid
        )  # [K, H, W, H_m, W_m]: what the thresholds read
        raw = attention.reshape(num_frames, *grid, *grid)  # [K, H, W, H_m, W_m]
        fig6_rows.append(SalientRow(label, by_output, float(raw[..., h_m, w_m].max())))
        fig7_rows.append(SalientRow(label, by_frame, float(raw[frame].max())))
        for t, h, w in np.argwhere(by_output):
            records.append(("fig6", label, t, h_m, w_m, h, w, scores[t, h, w, h_m, w_m],
                            *field.box(h, w, image_size)))
        for row, col, h, w in np.argwhere(by_frame):
            records.append(("fig7", label, frame, row, col, h, w, scores[frame, h, w, row, col],
                            *field.box(h, w, image_size)))
    table = f"{output_prefix}.csv"
    fig6 = f"{output_prefix}_fig6.png"
    fig7 = f"{output_prefix}_fig7.png"
    read = "A" if normalization == "none" else "A rescaled per column to 0..1"
    size6 = plot_output_fields(images, fig6_rows, field, output_position, fig6, f"{read} > {output_threshold}")
    shown = spread_positions(grid, max_positions)
    size7 = plot_frame_fields(images[frame], fig7_rows, field, shown, fig7, frame, f"{read} > {frame_threshold}")
    with open(table, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(("figure", "model", "frame", "output_row", "output_col", "input_row", "input_col",
                         "attention", "box_top", "box_left", "box_bottom", "box_right"))
        for record in records:
            writer.writerow([f"{v:.4f}" if isinstance(v, (float, np.floating)) else v for v in record])
    return (
        plotting.WrittenFigure(png=fig6, image_size=size6, tables=(table,)),
        plotting.WrittenFigure(png=fig7, image_size=size7, tables=(table,)),
    )
