"""What a preparation wrote, for comparing two runs (a test helper, not a test)."""

import os


def file_tree(directory) -> dict[str, bytes]:
    """Every file under ``directory`` by relative path, with its bytes."""
    files = {}
    for root, _, names in os.walk(directory):
        for name in names:
            path = os.path.join(root, name)
            with open(path, "rb") as f:
                files[os.path.relpath(path, directory)] = f.read()
    return files
