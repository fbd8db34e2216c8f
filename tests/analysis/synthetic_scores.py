"""Score files with designed predictions, written with plain NumPy (for the analysis tests)."""

import numpy as np

CLASS_NAMES = np.array(["Archery", "Biking", "Diving", "Fencing", "Golf", "Haircut"])
VIDEOS_PER_CLASS = 10


def designed_predictions(seed=0):
    """``(labels, before, after)``: int ``[V]`` labels and the two models' predicted classes.

    Per class, the first ``correct[c]`` videos are right; the others go to the
    next class, so the accuracies are ``correct / 10`` exactly.
    """
    num_classes = len(CLASS_NAMES)
    labels = np.repeat(np.arange(num_classes), VIDEOS_PER_CLASS)
    correct_before = np.array([5, 9, 2, 7, 6, 10])
    correct_after = np.array([9, 6, 2, 10, 6, 4])

    def predictions(correct):
        slot = np.tile(np.arange(VIDEOS_PER_CLASS), num_classes)
        return np.where(slot < correct[labels], labels, (labels + 1) % num_classes)

    return labels, predictions(correct_before), predictions(correct_after)


def write_score_file(path, labels, predictions, seed, shuffle=False):
    """An ``.npz`` whose argmax is ``predictions``; rows shuffled when asked."""
    rng = np.random.default_rng(seed)
    count, num_classes = len(labels), len(CLASS_NAMES)
    scores = rng.normal(0.0, 0.3, (count, num_classes)).astype(np.float32)
    scores[np.arange(count), predictions] += 5.0
    video_ids = np.array([f"v_{CLASS_NAMES[c]}_{i:03d}" for i, c in enumerate(labels)])
    order = rng.permutation(count) if shuffle else np.arange(count)
    np.savez(
        path,
        video_ids=video_ids[order],
        labels=labels[order].astype(np.int64),
        scores=scores[order],
        class_names=CLASS_NAMES,
    )
