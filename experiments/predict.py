"""Top-5 classes of a video under the fused exported streams (SPEC §5)::

    python experiments/predict.py VIDEO --export_dir=runs/rgb/export --export_dir=runs/flow/export \
      [--weights=1,1.5] [--output_json=prediction.json]

The video is prepared as the streams' records were (size, JPEG quality, flow
method, as recorded in each export) and read by the input pipeline's test step
(``iastp_tf.evaluation.predict``). With --workdir and no --output_json, the
JSON goes to ``<workdir>/prediction.json``. Expected failures print one
``error: ...`` line (exit status 2).
"""

import os

from absl import app, flags

import gin_flags
from iastp_tf.evaluation.predict import predict

EXPORT_DIRS = flags.DEFINE_multi_string("export_dir", [], "Exported streams (else predict.export_dirs in gin).")
WEIGHTS = flags.DEFINE_list("weights", [], "Fusion weight per stream, e.g. 1,1.5 (default equal).")
OUTPUT_JSON = flags.DEFINE_string("output_json", None, "Also write the prediction as JSON here.")


def main(argv):
    if len(argv) != 2:
        raise app.UsageError("usage: predict.py VIDEO [--export_dir=DIR ...]")
    output_json = OUTPUT_JSON.value
    if output_json is None and gin_flags.WORKDIR.value:
        output_json = os.path.join(gin_flags.WORKDIR.value, "prediction.json")
    bindings = [f"predict.output_json = {output_json!r}"] if output_json else []
    if EXPORT_DIRS.value:
        bindings.append(f"predict.export_dirs = {EXPORT_DIRS.value!r}")
    if WEIGHTS.value:
        bindings.append(f"predict.weights = {[float(w) for w in WEIGHTS.value]!r}")
    gin_flags.parse_config(extra_bindings=bindings)
    for rank, entry in enumerate(predict(argv[1]), start=1):
        print(f"{rank}. {entry['class']} ({entry['probability']:.3f})")


if __name__ == "__main__":
    gin_flags.run(main)
