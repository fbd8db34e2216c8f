"""A toy action dataset of real video files (SPEC §4: the CPU demo's data).

Each video shows one shape gliding over a textured background. The class is
the motion: a direction (right, left, down, up) and a speed (slow or fast;
the speed ranges overlap a little, so motion alone is not quite enough). The
appearance (shape and colour) agrees with the class only in a fraction of the
videos (``appearance_correlation``), otherwise it is another class's, so a
single RGB frame beats chance but loses to flow, and fusing both beats each.
With ``camera_pan`` the whole scene also pans by a random per-video velocity
and the shape moves with its class velocity relative to the scene: raw flow
mixes both motions, motion-compensated flow (SPEC §6) separates them.

Sparse evidence (the ablation variant, paper §3 and Figs. 6/7): with
``evidence_spans = n > 1`` the video is cut into n equal time spans and the
class's shape is drawn in only one of them, chosen at random, at a random
position inside the central square (which the test-time centre crop keeps);
``distractors`` shapes move over every frame. A distractor pairs one
appearance's shape with another's colour, so it is never any class's shape
and colour together, and its motion is drawn from the same distribution for
every class: the distractors carry no class information. A model that
averages over frames then mixes one informative frame with n - 1 that are
not, and within a frame the class's shape covers a small part of the picture;
selecting frames and positions is what helps.

Files follow UCF101: ``<class>/v_<class>_g<GG>_c01.avi`` plus ``classInd.txt``,
``trainlist01.txt`` and ``testlist01.txt``, so ``prepare_dataset
--dataset=ucf101`` and ``--dataset=folder`` both read the tree. With sparse
evidence, ``evidence.json`` also says which frames of each video show its class.
"""

import dataclasses
import json
import math
import os

import cv2
import numpy as np

# (name, unit direction (x, y), speed range in pixels per frame at 96 pixels wide).
TOY_CLASSES = (
    ("right_slow", (1, 0), (0.7, 1.6)),
    ("left_slow", (-1, 0), (0.7, 1.6)),
    ("down_slow", (0, 1), (0.7, 1.6)),
    ("up_slow", (0, -1), (0.7, 1.6)),
    ("right_fast", (1, 0), (1.4, 2.6)),
    ("left_fast", (-1, 0), (1.4, 2.6)),
    ("down_fast", (0, 1), (1.4, 2.6)),
    ("up_fast", (0, -1), (1.4, 2.6)),
)
SHAPES = ("circle", "square", "triangle", "diamond", "cross", "ring", "bar", "star")
# Bright colours (luminance >= 129) on a dark background: flow sees every shape.
COLOURS_BGR = (
    (80, 80, 255), (255, 140, 60), (80, 230, 80), (40, 230, 230),
    (255, 80, 255), (230, 230, 60), (255, 255, 255), (40, 150, 255),
)
VIDEO_FORMATS = {"avi": ("MJPG", ".avi"), "mp4": ("mp4v", ".mp4")}
MAX_PAN_SPEED = 1.5  # pixels per frame at 96 pixels wide.
TOY_DIRECTIONS = ((1, 0), (-1, 0), (0, 1), (0, -1))
EVIDENCE_FILE = "evidence.json"
DISTRACTOR_SPEEDS = (0.7, 2.6)  # All the classes' speeds: the motion says nothing about the class.


def _background(height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    """Smooth grey random texture, uint8 ``[height, width, 3]`` (gives flow something to track)."""
    noise = rng.normal(0, 1, size=(height // 4 + 2, width // 4 + 2)).astype(np.float32)
    texture = cv2.resize(noise, (width, height), interpolation=cv2.INTER_CUBIC)
    texture = cv2.GaussianBlur(texture, (0, 0), 1.0)
    grey = np.clip(50 + 14 * texture / (texture.std() + 1e-6), 0, 255).astype(np.uint8)
    return np.repeat(grey[..., None], 3, axis=-1)


def _sprite(shape: str, radius: float, colour) -> tuple[np.ndarray, np.ndarray]:
    """A shape as a textured sprite: colours ``[S, S, 3]`` and alpha ``[S, S]``, centred.

    The fill is a checkerboard of the colour at full and 60% brightness, so
    flow has texture to follow inside the shape, not only at its edges.
    """
    size = 2 * int(math.ceil(1.4 * radius)) + 3
    centre = (size - 1) / 2
    alpha = np.zeros((size, size), np.uint8)
    scale = 16  # 4 fractional bits for cv2's shift argument.
    cx = cy = int(round(centre * scale))
    r = int(round(radius * scale))
    kwargs = dict(lineType=cv2.LINE_AA, shift=4)
    if shape == "circle":
        cv2.circle(alpha, (cx, cy), r, 255, -1, **kwargs)
    elif shape == "ring":
        cv2.circle(alpha, (cx, cy), r * 3 // 4, 255, max(1, round(radius / 2)), **kwargs)
    else:
        if shape == "square":
            points = [(-1, -1), (1, -1), (1, 1), (-1, 1)]
        elif shape == "triangle":
            points = [(0, -1.1), (1.1, 0.9), (-1.1, 0.9)]
        elif shape == "diamond":
            points = [(0, -1.3), (1.3, 0), (0, 1.3), (-1.3, 0)]
        elif shape == "bar":
            points = [(-1.3, -0.55), (1.3, -0.55), (1.3, 0.55), (-1.3, 0.55)]
        elif shape == "cross":
            a, b = 0.4, 1.2
            points = [(-a, -b), (a, -b), (a, -a), (b, -a), (b, a), (a, a), (a, b), (-a, b),
                      (-a, a), (-b, a), (-b, -a), (-a, -a)]
        else:  # star
            points = [(math.cos(k * math.pi / 5 - math.pi / 2) * (1.3 if k % 2 == 0 else 0.6),
                       math.sin(k * math.pi / 5 - math.pi / 2) * (1.3 if k % 2 == 0 else 0.6)) for k in range(10)]
        polygon = (np.array(points) * r + [cx, cy]).round().astype(np.int32)
        cv2.fillPoly(alpha, [polygon], 255, **kwargs)
    ys, xs = np.mgrid[0:size, 0:size]
    brightness = np.where((xs // 3 + ys // 3) % 2 == 0, 1.0, 0.6)[..., None]  # [S, S, 1]
    colours = (np.array(colour, np.float32) * brightness).astype(np.float32)  # [S, S, 3]
    return colours, alpha.astype(np.float32) / 255


@dataclasses.dataclass(frozen=True)
class Distractor:
    """A shape that all classes share: one appearance's shape in another's colour.

    Attributes:
      shape: index into ``SHAPES``.
      colour: index into ``COLOURS_BGR``, never equal to ``shape``.
      velocity: relative to the scene, (x, y) pixels/frame.
    """

    shape: int
    colour: int
    velocity: tuple[float, float]


@dataclasses.dataclass(frozen=True)
class ToyVideo:
    """What one toy video shows (the ground truth of its motion).

    Attributes:
      class_index: the class, i.e. the motion.
      appearance: index of the (shape, colour) pair drawn.
      velocity: the shape's velocity relative to the scene, (x, y) pixels/frame.
      pan: the camera's velocity, (x, y) pixels/frame; the scene moves by
        ``-pan`` on screen.
      evidence: ``None`` (the class's shape is in every frame) or the frames
        ``(start, stop)`` that show it (sparse evidence); it then starts
        inside the central square and stays there.
      distractors: shapes shown in every frame, drawn under the class's.
    """

    class_index: int
    appearance: int
    velocity: tuple[float, float]
    pan: tuple[float, float]
    evidence: tuple[int, int] | None = None
    distractors: tuple[Distractor, ...] = ()


def _track_start(screen_velocity, frames, low, high, rng):
    """A uniform start ``(x, y)`` for which ``frames`` positions moving at ``screen_velocity`` stay in ``[low, high]``."""
    travel = screen_velocity * (frames - 1)
    low, high = np.maximum(low, low - travel), np.minimum(high, high - travel)
    return rng.uniform(np.minimum(low, high), np.maximum(low, high))


def _draw(frame, colours, alpha, top_left):
    """Pastes a sprite with its sub-pixel top-left ``(x, y)`` onto float ``frame [H, W, 3]`` in place."""
    height, width = frame.shape[:2]
    place = np.float32([[1, 0, top_left[0]], [0, 1, top_left[1]]])
    sprite = cv2.warpAffine(colours, place, (width, height), flags=cv2.INTER_LINEAR)
    coverage = cv2.warpAffine(alpha, place, (width, height), flags=cv2.INTER_LINEAR)[..., None]
    frame *= 1 - coverage
    frame += sprite * coverage


def render_toy_video(
    video: ToyVideo, frames: int, height: int, width: int, rng: np.random.Generator
) -> np.ndarray:
    """Renders one toy video.

    Args:
      video: what to show.
      frames: T.
      height, width: frame size.
      rng: draws the background texture and the start position.

    Returns:
      uint8 ``[T, height, width, 3]``, BGR.
    """
    pan = np.asarray(video.pan, np.float64)
    # On screen, the shapes move by velocity - pan and the scene by -pan.
    screen_velocity = np.asarray(video.velocity, np.float64) - pan
    margin = int(math.ceil(np.abs(pan).max() * frames)) + 2
    texture = _background(height + 2 * margin, width + 2 * margin, rng)
    radius = max(3.0, min(height, width) / 9)
    inside = np.array([width, height]) - radius - 1
    if video.evidence is None:
        first, stop = 0, frames
        start = _track_start(screen_velocity, frames, radius + 1, inside, rng)
    else:
        first, stop = video.evidence
        if not 0 <= first < stop <= frames:
            raise ValueError(f"video.evidence must be frames (start, stop) within 0..{frames}, got {video.evidence}")
        left = (width - min(width, height)) / 2  # The central square, kept by the centre crop.
        start = _track_start(screen_velocity, stop - first, np.array([left + radius + 1, radius + 1]),
                             np.array([width - left, height]) - radius - 1, rng)
    colours, alpha = _sprite(SHAPES[video.appearance % len(SHAPES)], radius,
                             COLOURS_BGR[video.appearance % len(COLOURS_BGR)])
    sprite_centre = (alpha.shape[0] - 1) / 2
    others = []  # (colours, alpha, start, screen velocity) of each distractor.
    for distractor in video.distractors:
        velocity = np.asarray(distractor.velocity, np.float64) - pan
        others.append((*_sprite(SHAPES[distractor.shape % len(SHAPES)], radius,
                                COLOURS_BGR[distractor.colour % len(COLOURS_BGR)]),
                       _track_start(velocity, frames, radius + 1, inside, rng), velocity))
    out = np.empty((frames, height, width, 3), np.uint8)
    for t in range(frames):
        offset = np.array([margin, margin]) + pan * t  # Top-left of the view in the texture.
        view = np.float32([[1, 0, -offset[0]], [0, 1, -offset[1]]])
        frame = cv2.warpAffine(texture, view, (width, height), flags=cv2.INTER_LINEAR).astype(np.float32)
        for other_colours, other_alpha, other_start, velocity in others:
            _draw(frame, other_colours, other_alpha, other_start + velocity * t - sprite_centre)
        if first <= t < stop:  # Sprite's top-left, sub-pixel.
            _draw(frame, colours, alpha, start + screen_velocity * (t - first) - sprite_centre)
        out[t] = np.clip(frame + 0.5, 0, 255).astype(np.uint8)
    return out


def evidence_span_bounds(frames: int, evidence_spans: int) -> list[tuple[int, int]]:
    """The ``evidence_spans`` equal time spans of a ``frames``-frame video, as ``(start, stop)`` frames.

    Span i is ``[floor(i T / n), floor((i + 1) T / n))``; with T a multiple of
    n and K = n training segments, TSN sampling takes exactly one frame from
    each span.
    """
    return [(i * frames // evidence_spans, (i + 1) * frames // evidence_spans) for i in range(evidence_spans)]


def toy_videos(
    num_classes: int, videos_per_class: int, seed: int, camera_pan: bool,
    appearance_correlation: float, width: int, frames: int = 16, evidence_spans: int = 1,
    distractors: int = 0,
) -> list[ToyVideo]:
    """The ground truth of every video, class-major order (see the module docstring for the options)."""
    rng = np.random.default_rng([seed, 1])
    # Drawn from their own stream, so that the default videos stay as they were.
    sparse_rng = np.random.default_rng([seed, 3])
    spans = evidence_span_bounds(frames, evidence_spans)
    scale = width / 96
    videos = []
    for class_index in range(num_classes):
        _, direction, speeds = TOY_CLASSES[class_index]
        for _ in range(videos_per_class):
            appearance = class_index
            if rng.uniform() >= appearance_correlation:
                appearance = int(rng.integers(num_classes))
            speed = rng.uniform(*speeds) * scale
            pan = (0.0, 0.0)
            if camera_pan:
                angle, magnitude = rng.uniform(0, 2 * math.pi), rng.uniform(0.5, 1) * MAX_PAN_SPEED * scale
                pan = (magnitude * math.cos(angle), magnitude * math.sin(angle))
            evidence = spans[int(sparse_rng.integers(evidence_spans))] if evidence_spans > 1 else None
            shown = []
            for _ in range(distractors):
                shape = int(sparse_rng.integers(len(SHAPES)))
                colour = (shape + 1 + int(sparse_rng.integers(len(COLOURS_BGR) - 1))) % len(COLOURS_BGR)
                unit = TOY_DIRECTIONS[int(sparse_rng.integers(len(TOY_DIRECTIONS)))]
                magnitude = sparse_rng.uniform(*DISTRACTOR_SPEEDS) * scale
                shown.append(Distractor(shape, colour, (unit[0] * magnitude, unit[1] * magnitude)))
            videos.append(ToyVideo(class_index, appearance, (direction[0] * speed, direction[1] * speed), pan,
                                   evidence, tuple(shown)))
    return videos


def make_toy_dataset(
    output_dir: str,
    num_classes: int = 6,
    videos_per_class: int = 20,
    frames: int = 16,
    size: tuple[int, int] = (96, 72),
    seed: int = 0,
    camera_pan: bool = False,
    video_format: str = "avi",
    appearance_correlation: float = 0.65,
    test_fraction: float = 0.3,
    corrupt: bool = False,
    evidence_spans: int = 1,
    distractors: int = 0,
) -> dict:
    """Writes the toy dataset as video files with UCF101-style split files.

    Args:
      output_dir: the videos directory to write (class folders and lists).
      num_classes: 2..8 classes, taken in the order of ``TOY_CLASSES``.
      videos_per_class: videos per class (train and test together).
      frames: frames per video.
      size: ``(width, height)``.
      seed: the same seed writes the same videos.
      camera_pan: pan the whole scene by a random velocity per video.
      video_format: "avi" (MJPG) or "mp4" (mp4v).
      appearance_correlation: probability that a video's shape and colour are
        its own class's rather than a random class's.
      test_fraction: fraction of each class's videos listed in testlist01.txt.
      corrupt: also write a truncated and an empty video file and list a
        missing one in trainlist01.txt (to exercise failures.txt).
      evidence_spans: 1 shows the class's shape in every frame; n > 1 cuts
        the video into n equal time spans and shows it in one (sparse
        evidence; ``frames`` a multiple of n keeps the spans equal).
      distractors: shapes shared by all classes, shown in every frame.

    With ``evidence_spans > 1`` also writes ``evidence.json``: ``{"frames":
    T, "videos": {video id (relative path without extension): [start,
    stop)}}``, the frames that show each video's class.

    Returns:
      ``{"class_names", "train", "test", "videos"}``: the lists' entries and
      the ``ToyVideo`` of each written file, keyed by relative path.
    """
    if not 2 <= num_classes <= len(TOY_CLASSES):
        raise ValueError(f"num_classes must be in 2..{len(TOY_CLASSES)}, got {num_classes}")
    if videos_per_class < 2:
        raise ValueError(f"videos_per_class must be >= 2, got {videos_per_class}")
    if frames < 2:
        raise ValueError(f"frames must be >= 2, got {frames}")
    width, height = size
    if min(width, height) < 16:
        raise ValueError(f"size must be at least 16x16, got {size}")
    if video_format not in VIDEO_FORMATS:
        raise ValueError(f"video_format must be one of {sorted(VIDEO_FORMATS)}, got {video_format!r}")
    if not 0 <= appearance_correlation <= 1:
        raise ValueError(f"appearance_correlation must be in [0, 1], got {appearance_correlation}")
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    if not 1 <= evidence_spans <= frames:
        raise ValueError(f"evidence_spans must be in 1..frames ({frames}), got {evidence_spans}")
    if distractors < 0:
        raise ValueError(f"distractors must be >= 0, got {distractors}")

    fourcc, extension = VIDEO_FORMATS[video_format]
    class_names = [name for name, _, _ in TOY_CLASSES[:num_classes]]
    truths = toy_videos(num_classes, videos_per_class, seed, camera_pan, appearance_correlation, width,
                        frames, evidence_spans, distractors)
    train, test, written = [], [], {}
    for number, truth in enumerate(truths):
        name = class_names[truth.class_index]
        group = number % videos_per_class + 1
        relative = f"{name}/v_{name}_g{group:02d}_c01{extension}"
        os.makedirs(os.path.join(output_dir, name), exist_ok=True)
        pixels = render_toy_video(truth, frames, height, width, np.random.default_rng([seed, 2, number]))
        writer = cv2.VideoWriter(os.path.join(output_dir, relative), cv2.VideoWriter_fourcc(*fourcc), 25.0,
                                 (width, height))
        if not writer.isOpened():
            raise RuntimeError(f"OpenCV cannot write {fourcc} {extension} files here")
        for frame in pixels:
            writer.write(frame)
        writer.release()
        written[relative] = truth
        # Every 1/test_fraction-th group is a test group, as UCF101 holds out whole groups.
        in_test = int(group * test_fraction) > int((group - 1) * test_fraction)
        (test if in_test else train).append((relative, truth.class_index))

    if corrupt:
        name = class_names[0]
        good = os.path.join(output_dir, train[0][0])
        truncated = f"{name}/v_{name}_g90_c01{extension}"
        with open(good, "rb") as source, open(os.path.join(output_dir, truncated), "wb") as target:
            target.write(source.read()[: max(64, os.path.getsize(good) // 10)])
        empty = f"{name}/v_{name}_g91_c01{extension}"
        open(os.path.join(output_dir, empty), "wb").close()
        missing = f"{name}/v_{name}_g92_c01{extension}"
        train += [(truncated, 0), (empty, 0), (missing, 0)]

    if evidence_spans > 1:
        with open(os.path.join(output_dir, EVIDENCE_FILE), "w") as f:
            videos = {os.path.splitext(path)[0]: list(truth.evidence) for path, truth in written.items()}
            json.dump({"frames": frames, "videos": videos}, f, indent=0, sort_keys=True)
    with open(os.path.join(output_dir, "classInd.txt"), "w") as f:
        f.writelines(f"{i + 1} {name}\n" for i, name in enumerate(class_names))
    with open(os.path.join(output_dir, "trainlist01.txt"), "w") as f:
        f.writelines(f"{path} {label + 1}\n" for path, label in train)
    with open(os.path.join(output_dir, "testlist01.txt"), "w") as f:
        f.writelines(f"{path}\n" for path, _ in test)
    return {"class_names": class_names, "train": train, "test": test, "videos": written}
