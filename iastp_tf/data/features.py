"""Feature keys of the record format (SPEC §4), MediaSequence names.

One ``tf.train.SequenceExample`` per video. Context holds the clip metadata;
feature lists hold one JPEG per RGB frame and one grayscale JPEG per flow
field (flow t lies between frames t and t+1, so T frames give T-1 fields).
"""

# Context.
MEDIA_ID = "clip/media_id"  # bytes
LABEL_INDEX = "clip/label/index"  # int64 list: one label, or several (Charades)
LABEL_STRING = "clip/label/string"  # bytes list, parallel to LABEL_INDEX
FRAME_RATE = "image/frame_rate"  # float
HEIGHT = "image/height"  # int64
WIDTH = "image/width"  # int64

# Feature lists.
IMAGE_ENCODED = "image/encoded"  # JPEG, one per RGB frame
FLOW_X_ENCODED = "flow/x/encoded"  # grayscale JPEG, one per flow field
FLOW_Y_ENCODED = "flow/y/encoded"
# Motion-compensated flow (SPEC §6), the optional third stream.
FLOW_MC_X_ENCODED = "flow_mc/x/encoded"
FLOW_MC_Y_ENCODED = "flow_mc/y/encoded"

# TSN flow quantisation: clip to ±FLOW_BOUND, then round(255 (v + bound) / (2 bound)).
FLOW_BOUND = 20.0
