"""Split readers: which video goes to which split with which labels (SPEC §4).

Official formats:
  UCF101     ``classInd.txt`` ("1 ApplyEyeMakeup"), ``trainlist0N.txt``
             ("ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi 1", 1-based label),
             ``testlist0N.txt`` (path only; the class is the folder).
  HMDB51     ``<class>_test_split<N>.txt`` ("<video>.avi 1"): tag 1 train,
             2 test, 0 unused; classes sorted by name.
  Kinetics   ``train.csv`` / ``validate.csv`` (or ``val.csv``) with columns
             ``label,youtube_id,time_start,time_end[,split]``; classes are the
             sorted labels of the train CSV. The validation set becomes the
             ``test`` split (Kinetics test labels are not public).
  Charades   ``Charades_v1_{train,test}.csv`` with ``id`` and ``actions``
             ("c092 11.90 21.20;c147 0.00 12.60"): multi-label, 157 classes
             (names from ``Charades_v1_classes.txt`` when present).
  folder     ``<videos_dir>/<class>/**/<video>``; ``train/``, ``val/`` and
             ``test/`` subfolders, each a folder-per-class tree, are used as
             splits when present, otherwise a fixed fraction of each class
             (every n-th video by sorted name) goes to ``test``.

A reader returns a ``DatasetIndex``; lines it cannot use become ``Failure``s
(one clear line each in failures.txt), never exceptions. A missing split file
is an error (``FileNotFoundError``): nothing could be prepared.
"""

import csv
import dataclasses
import glob
import os
import re

from iastp_tf.data.prepare import video as video_lib

DATASETS = ("folder", "ucf101", "hmdb51", "kinetics400", "charades")
CHARADES_NUM_CLASSES = 157


@dataclasses.dataclass(frozen=True)
class VideoEntry:
    """One video of one split.

    Attributes:
      split: "train", "test" (or "val" for folder trees that have one).
      media_id: the id stored in the record, unique in the dataset.
      source: path of the video relative to the videos directory, as the
        split files name it.
      label_indices: class indices (several for multi-label datasets).
      label_names: class names, parallel to ``label_indices``.
      aliases: other file stems the video may be stored under (Kinetics
        downloads are named ``<youtube_id>.mp4`` or ``<id>_<start>_<end>.mp4``).
    """

    split: str
    media_id: str
    source: str
    label_indices: tuple[int, ...]
    label_names: tuple[str, ...]
    aliases: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class Failure:
    """A video (or split-file line) that could not be prepared."""

    split: str
    item: str
    reason: str

    def line(self) -> str:
        return f"{self.split}\t{self.item}\t{self.reason}"


@dataclasses.dataclass
class DatasetIndex:
    """Everything a split reader found."""

    class_names: list[str]
    entries: list[VideoEntry]
    failures: list[Failure]
    multi_label: bool = False

    def split_names(self) -> list[str]:
        """Split names in first-seen order."""
        return list(dict.fromkeys(e.split for e in self.entries))


def _strip_extension(path: str) -> str:
    root, extension = os.path.splitext(path)
    return root if extension else path


def _find(directory: str, *names: str) -> str:
    """The first of ``names`` that exists in ``directory`` (or a known subfolder)."""
    for folder in (directory, os.path.join(directory, "ucfTrainTestlist"),
                   os.path.join(directory, "testTrainMulti_7030_splits")):
        for name in names:
            path = os.path.join(folder, name)
            if os.path.isfile(path):
                return path
    raise FileNotFoundError(f"none of {names} found in {directory}")


def _lines(path: str):
    """(line number, stripped line) of the non-blank lines of a text file."""
    with open(path, encoding="utf-8", errors="replace") as f:
        for number, line in enumerate(f, start=1):
            line = line.strip()
            if line:
                yield number, line


def _check_split_number(split_number: int, allowed: range) -> None:
    if split_number not in allowed:
        raise ValueError(f"split must be in {list(allowed)}, got {split_number}")


def _check_no_leak(entries: list[VideoEntry]) -> None:
    """Raises ValueError when a video is in two splits (a test video in train)."""
    seen: dict[str, str] = {}
    for entry in entries:
        other = seen.setdefault(entry.media_id, entry.split)
        if other != entry.split:
            raise ValueError(
                f"video {entry.media_id!r} is in both the {other!r} and the "
                f"{entry.split!r} split; the split files are inconsistent"
            )


def _drop_duplicates(entries: list[VideoEntry], failures: list[Failure]) -> list[VideoEntry]:
    kept, seen = [], set()
    for entry in entries:
        if (entry.split, entry.media_id) in seen:
            failures.append(Failure(entry.split, entry.source, "listed twice in the split file"))
        else:
            seen.add((entry.split, entry.media_id))
            kept.append(entry)
    return kept


def read_ucf101(splits_dir: str, split_number: int = 1) -> DatasetIndex:
    """UCF101 split ``split_number`` (1..3) from the official list files."""
    _check_split_number(split_number, range(1, 4))
    class_names: list[str] = []
    for number, line in _lines(_find(splits_dir, "classInd.txt")):
        parts = line.split()
        if len(parts) != 2 or not parts[0].isdigit() or int(parts[0]) != len(class_names) + 1:
            raise ValueError(f"classInd.txt line {number} is not '<index> <name>' in order: {line!r}")
        class_names.append(parts[1])
    by_name = {name.lower(): i for i, name in enumerate(class_names)}

    entries, failures = [], []
    for split, filename in (("train", f"trainlist0{split_number}.txt"),
                            ("test", f"testlist0{split_number}.txt")):
        path = _find(splits_dir, filename)
        for number, line in _lines(path):
            parts = line.split()
            source = parts[0].replace("\\", "/")
            folder = source.split("/")[0] if "/" in source else ""
            if len(parts) > 2 or (len(parts) == 2 and not parts[1].isdigit()):
                failures.append(Failure(split, f"{filename}:{number}", f"unreadable line {line!r}"))
                continue
            if len(parts) == 2:
                label = int(parts[1]) - 1
                if not 0 <= label < len(class_names):
                    failures.append(Failure(split, source, f"unknown class index {parts[1]}"))
                    continue
                # The folder names the class too; trust it only when it agrees.
                if folder and by_name.get(folder.lower(), label) != label:
                    failures.append(
                        Failure(split, source, f"class index {parts[1]} disagrees with folder {folder!r}")
                    )
                    continue
            elif folder.lower() in by_name:
                label = by_name[folder.lower()]
            else:
                failures.append(Failure(split, source, f"unknown class {folder!r}"))
                continue
            entries.append(VideoEntry(split, _strip_extension(source), source, (label,), (class_names[label],)))
    entries = _drop_duplicates(entries, failures)
    _check_no_leak(entries)
    return DatasetIndex(class_names, entries, failures)


_HMDB_SPLIT_FILE = re.compile(r"^(?P<name>.+)_test_split(?P<split>\d)\.txt$")


def read_hmdb51(splits_dir: str, split_number: int = 1) -> DatasetIndex:
    """HMDB51 split ``split_number`` (1..3): tag 1 train, 2 test, 0 unused."""
    _check_split_number(split_number, range(1, 4))
    files = {}
    for path in glob.glob(os.path.join(splits_dir, "**", "*_test_split*.txt"), recursive=True):
        match = _HMDB_SPLIT_FILE.match(os.path.basename(path))
        if match and int(match["split"]) == split_number:
            files[match["name"]] = path
    if not files:
        raise FileNotFoundError(f"no *_test_split{split_number}.txt files under {splits_dir}")
    class_names = sorted(files)
    entries, failures = [], []
    for label, name in enumerate(class_names):
        filename = os.path.basename(files[name])
        for number, line in _lines(files[name]):
            parts = line.split()
            if len(parts) != 2 or parts[1] not in ("0", "1", "2"):
                failures.append(Failure("train/test", f"{filename}:{number}", f"unreadable line {line!r}"))
                continue
            if parts[1] == "0":
                continue
            split = "train" if parts[1] == "1" else "test"
            source = f"{name}/{parts[0]}"
            entries.append(VideoEntry(split, _strip_extension(source), source, (label,), (name,)))
    entries = _drop_duplicates(entries, failures)
    _check_no_leak(entries)
    return DatasetIndex(class_names, entries, failures)


def read_kinetics400(splits_dir: str) -> DatasetIndex:
    """Kinetics-400 from ``train.csv`` and ``validate.csv``/``val.csv`` (as ``test``)."""
    train_csv = _find(splits_dir, "train.csv", "kinetics_400_train.csv", "kinetics-400_train.csv")
    val_csv = _find(splits_dir, "validate.csv", "val.csv", "kinetics_400_val.csv", "kinetics-400_val.csv")
    rows = {}
    for split, path in (("train", train_csv), ("test", val_csv)):
        with open(path, newline="", encoding="utf-8") as f:
            rows[split] = list(enumerate(csv.DictReader(f), start=2))
    class_names = sorted({row["label"] for _, row in rows["train"] if row.get("label")})
    by_name = {name: i for i, name in enumerate(class_names)}
    entries, failures = [], []
    for split, path in (("train", train_csv), ("test", val_csv)):
        filename = os.path.basename(path)
        for number, row in rows[split]:
            try:
                youtube_id = row["youtube_id"].strip()
                start, end = int(float(row["time_start"])), int(float(row["time_end"]))
                label_name = row["label"]
            except (KeyError, TypeError, ValueError, AttributeError):
                failures.append(Failure(split, f"{filename}:{number}", f"unreadable line {row!r}"))
                continue
            clip = f"{youtube_id}_{start:06d}_{end:06d}"
            if label_name not in by_name:
                failures.append(Failure(split, clip, f"unknown class {label_name!r}"))
                continue
            label = by_name[label_name]
            entries.append(
                VideoEntry(split, clip, f"{label_name}/{clip}.mp4", (label,), (label_name,), aliases=(youtube_id,))
            )
    entries = _drop_duplicates(entries, failures)
    _check_no_leak(entries)
    return DatasetIndex(class_names, entries, failures)


def read_charades(splits_dir: str) -> DatasetIndex:
    """Charades v1: multi-label, 157 classes, from ``Charades_v1_{train,test}.csv``."""
    class_names = [f"c{i:03d}" for i in range(CHARADES_NUM_CLASSES)]
    try:
        for _, line in _lines(_find(splits_dir, "Charades_v1_classes.txt")):
            code, _, name = line.partition(" ")
            if re.fullmatch(r"c\d{3}", code) and int(code[1:]) < CHARADES_NUM_CLASSES and name:
                class_names[int(code[1:])] = name.strip()
    except FileNotFoundError:
        pass  # Codes as names.
    entries, failures = [], []
    for split, filename in (("train", "Charades_v1_train.csv"), ("test", "Charades_v1_test.csv")):
        with open(_find(splits_dir, filename), newline="", encoding="utf-8") as f:
            for number, row in enumerate(csv.DictReader(f), start=2):
                video_id = (row.get("id") or "").strip()
                actions = row.get("actions")
                if not video_id or actions is None:
                    failures.append(Failure(split, f"{filename}:{number}", "unreadable line: no id or actions"))
                    continue
                labels, problem = set(), None
                for action in filter(None, (a.strip() for a in actions.split(";"))):
                    parts = action.split()
                    if len(parts) != 3 or not re.fullmatch(r"c\d{3}", parts[0]):
                        problem = f"unreadable action {action!r}"
                        break
                    if int(parts[0][1:]) >= CHARADES_NUM_CLASSES:
                        problem = f"unknown class {parts[0]!r}"
                        break
                    labels.add(int(parts[0][1:]))
                if problem:
                    failures.append(Failure(split, video_id, problem))
                    continue
                indices = tuple(sorted(labels))
                entries.append(
                    VideoEntry(split, video_id, f"{video_id}.mp4", indices, tuple(class_names[i] for i in indices))
                )
    entries = _drop_duplicates(entries, failures)
    _check_no_leak(entries)
    return DatasetIndex(class_names, entries, failures, multi_label=True)


def _videos_under(directory: str) -> list[str]:
    """Video files under ``directory`` (recursive), relative to it, sorted."""
    found = []
    for root, dirs, files in os.walk(directory):
        dirs.sort()
        for name in files:
            if name.lower().endswith(video_lib.VIDEO_EXTENSIONS):
                found.append(os.path.relpath(os.path.join(root, name), directory).replace(os.sep, "/"))
    return sorted(found)


def _rawframe_folders_under(directory: str) -> list[str]:
    """Folders under ``directory`` that hold ``img_*.jpg`` frames, relative, sorted."""
    found = []
    for root, dirs, files in os.walk(directory):
        dirs.sort()
        if any(name.startswith("img_") and name.endswith(".jpg") for name in files):
            found.append(os.path.relpath(root, directory).replace(os.sep, "/"))
    return sorted(found)


def _check_unique_ids(relatives: list[str]) -> None:
    """Raises ValueError when two sources (``x.mp4``, ``x.avi``) would get the same media id."""
    by_id: dict[str, str] = {}
    for relative in sorted(relatives):
        other = by_id.setdefault(_strip_extension(relative), relative)
        if other != relative:
            raise ValueError(
                f"{other} and {relative} would both get the media id {_strip_extension(relative)!r}; "
                "rename or remove one of them"
            )


def read_folder(videos_dir: str, test_fraction: float = 0.3, rawframes: bool = False) -> DatasetIndex:
    """A folder-per-class tree, with ``train/``/``val/``/``test/`` subtrees or not.

    Args:
      videos_dir: ``<class>/<video>`` (any depth below the class folder), or
        ``<split>/<class>/<video>`` for split in train, val, test.
      test_fraction: without split subfolders, the fraction of each class's
        videos (sorted by path, every ``1/test_fraction``-th) put in ``test``.
      rawframes: the videos are rawframes folders (``img_00001.jpg`` ...)
        rather than video files.
    """
    if not 0 <= test_fraction < 1:
        raise ValueError(f"test_fraction must be in [0, 1), got {test_fraction}")
    if not os.path.isdir(videos_dir):
        raise FileNotFoundError(f"videos_dir {videos_dir} is not a directory")
    split_dirs = [s for s in ("train", "val", "test") if os.path.isdir(os.path.join(videos_dir, s))]
    roots = [(s, s) for s in split_dirs] if split_dirs else [(None, ".")]
    videos = {}  # (split or None, class) -> relative paths
    failures = []
    for split, root in roots:
        lister = _rawframe_folders_under if rawframes else _videos_under
        for path in lister(os.path.join(videos_dir, root)):
            relative = os.path.normpath(os.path.join(root, path)).replace(os.sep, "/")
            if "/" not in path:
                failures.append(Failure(split or "train", relative, "not inside a class folder"))
                continue
            videos.setdefault((split, path.split("/")[0]), []).append(relative)
    _check_unique_ids([path for paths in videos.values() for path in paths])
    class_names = sorted({name for _, name in videos})
    entries = []
    for (split, name), paths in sorted(videos.items(), key=lambda kv: (kv[0][0] or "", kv[0][1])):
        label = class_names.index(name)
        for i, relative in enumerate(paths):
            if split is None:
                # Video i goes to test when floor((i+1) f) > floor(i f): every 1/f-th video.
                chosen = int((i + 1) * test_fraction) > int(i * test_fraction)
                video_split = "test" if chosen else "train"
            else:
                video_split = split
            entries.append(VideoEntry(video_split, _strip_extension(relative), relative, (label,), (name,)))
    entries.sort(key=lambda e: (e.split != "train", e.split, e.source))
    _check_no_leak(entries)
    return DatasetIndex(class_names, entries, failures)


def read_dataset(
    dataset: str, videos_dir: str, splits_dir: str | None = None, split_number: int = 1,
    test_fraction: float = 0.3, rawframes: bool = False,
) -> DatasetIndex:
    """Dispatches to the reader for ``dataset`` (one of ``DATASETS``).

    ``videos_dir`` is the tree that ``folder`` lists (rawframes folders when
    ``rawframes``); the other datasets read their split files in
    ``splits_dir`` (by default ``videos_dir``).
    """
    splits_dir = splits_dir or videos_dir
    if dataset == "folder":
        return read_folder(videos_dir, test_fraction, rawframes)
    if dataset == "ucf101":
        return read_ucf101(splits_dir, split_number)
    if dataset == "hmdb51":
        return read_hmdb51(splits_dir, split_number)
    if dataset == "kinetics400":
        return read_kinetics400(splits_dir)
    if dataset == "charades":
        return read_charades(splits_dir)
    raise ValueError(f"dataset must be one of {DATASETS}, got {dataset!r}")
