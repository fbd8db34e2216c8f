"""Preparation: videos or rawframes folders to TFRecord shards or frame folders (SPEC §4, §6).

Modules, by concern:
  records       the SequenceExample format, flow quantisation, shards, dataset.json
  video         decoding and resizing with OpenCV
  flow          TV-L1 / Farneback optical flow
  compensation  motion-compensated flow (SPEC §6): homography fitted with RANSAC
  splits        split readers (UCF101, HMDB51, Kinetics-400, Charades, folder)
  rawframes     TSN/mmaction2 rawframes folders as input
  worker        one video or rawframes folder -> one record or a failure reason (pure)
  store         the shard store: fixed plan, per-video results, shards, frame folders, resume
  runners       who runs the jobs: in this process or a local process pool
  beam_runner   the same jobs on Apache Beam (optional extra "beam")
  runner        the orchestrator: plan, run through a runner, hand results to the store
  toy           the toy dataset of real video files (moving shapes, class = motion)
  synthetic     small synthetic datasets for tests, without videos

Nothing here imports TensorFlow at module level: preparation workers stay light.
"""
