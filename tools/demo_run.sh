# Sourced by the demo scripts: `run CMD ARGS...` runs a command, appends it
# shell-quoted (ready to paste) to "$COMMANDS", and keeps TensorFlow's C++
# start-up lines (printed before absl logging starts, so TF_CPP_MIN_LOG_LEVEL
# does not hide them) and the checkpoint saver's INFO lines out of the output.
run() {
  local quoted
  quoted=$(printf '%q ' "$@")
  echo "+ ${quoted% }" >&2
  echo "${quoted% }" >>"$COMMANDS"
  "$@" 2> >(grep -v -E '^(WARNING: All log messages before absl|[IWE]0000 00:00:|I[0-9]{4} [0-9:.]+ +[0-9]+ functional_saver\.py:)' >&2)
}
