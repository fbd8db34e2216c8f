"""One sweep point in its own process: ``python -m iastp_tf.sweep.point '<PointRun JSON>'``.

Started by :func:`iastp_tf.sweep.run.run_sweep`; trains and evaluates the
point (:func:`iastp_tf.sweep.run.run_point`) and exits non-zero on failure.
"""

import sys

from absl import logging

from iastp_tf.sweep.run import PointRun, run_point


def main(argv) -> int:
    if len(argv) != 2:
        raise SystemExit(f"usage: python -m iastp_tf.sweep.point '<PointRun JSON>', got {argv[1:]}")
    logging.set_verbosity(logging.INFO)
    run_point(PointRun.from_json(argv[1]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
