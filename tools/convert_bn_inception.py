"""Converts the PyTorch BN-Inception ImageNet checkpoint into Keras weights (SPEC §3).

    python tools/convert_bn_inception.py --checkpoint=bn_inception-9f5701afb96c8044.pth \
        --output=bn_inception.weights.h5

then ``build_stream_model("bn_inception", weights="bn_inception.weights.h5")``.
No torch needed; the work is :func:`iastp_tf.backbones.bn_inception_convert.convert_checkpoint`.
"""

from absl import app, flags

from iastp_tf.backbones.bn_inception_convert import convert_checkpoint

_CHECKPOINT = flags.DEFINE_string("checkpoint", None, "PyTorch BN-Inception checkpoint (.pth, zip or legacy format).")
_OUTPUT = flags.DEFINE_string("output", None, "Keras weights file to write (*.weights.h5).")
flags.mark_flags_as_required(["checkpoint", "output"])


def main(argv):
    del argv
    count = convert_checkpoint(_CHECKPOINT.value, _OUTPUT.value)
    print(f"wrote {count} tensors to {_OUTPUT.value}")


if __name__ == "__main__":
    app.run(main)
