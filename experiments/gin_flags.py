"""Flags shared by the experiments programs (SPEC §8): --gin_file, --gin_bindings, --workdir.

:func:`run` starts a program: an expected failure (a bad flag, a missing file,
a bad gin value, training stopped by a non-finite loss) prints one
``error: ...`` line instead of a traceback and exits with status 2.

``--workdir`` is applied as the last gin binding of the program's entry
function (``train.workdir = ...``), so the operative config records it and a
gin file cannot silently disagree with it. Gin ``include`` paths resolve from
the repository root as well as the current directory.
"""

import logging
import os
import sys
import tokenize

# TensorFlow's C++ INFO lines (device probes) stay out of the output; set before TensorFlow loads.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")
from iastp_tf.native_logs import filter_native_logs  # noqa: E402

filter_native_logs()  # the lines TF_CPP_MIN_LOG_LEVEL cannot reach (logged before absl starts)

import gin  # noqa: E402
from absl import app, flags  # noqa: E402
from absl import logging as absl_logging  # noqa: E402

import iastp_tf.configurables  # noqa: E402,F401  registers what gin files name

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

GIN_FILES = flags.DEFINE_multi_string("gin_file", [], "Gin config files, applied in order.")
GIN_BINDINGS = flags.DEFINE_multi_string(
    "gin_bindings", [], "Gin bindings applied after the files, e.g. \"train.total_steps = 100\"."
)
WORKDIR = flags.DEFINE_string("workdir", None, "Run folder: checkpoints, logs, scores, exports.")


def parse_config(entry=None, extra_bindings=()) -> None:
    """Parses the gin files, then --gin_bindings, then ``extra_bindings`` (program flags).

    Args:
      entry: the program's gin entry; ``<entry>.workdir`` is bound from
        --workdir. ``None`` for a program without a workdir parameter.
      extra_bindings: bindings made from the program's own flags.
    """
    gin.add_config_file_search_path(REPO_ROOT)
    bindings = list(GIN_BINDINGS.value)
    if entry is not None and WORKDIR.value is not None:
        bindings.append(f"{entry}.workdir = {WORKDIR.value!r}")
    gin.parse_config_files_and_bindings(GIN_FILES.value, bindings + list(extra_bindings))


# What a user can fix: bad values and files (ValueError, OSError), gin syntax,
# a diverged run (FloatingPointError), and gin's RuntimeErrors below.
EXPECTED_ERRORS = (ValueError, OSError, SyntaxError, tokenize.TokenError, FloatingPointError)
GIN_RUNTIME_ERRORS = ("Required bindings for",)  # a gin.REQUIRED left unbound
EXIT_EXPECTED_ERROR = 2


def error_line(error) -> str:
    """One line for an expected failure: its message with gin's context lines joined by "; "."""
    parts = [part.strip() for part in str(error).splitlines() if part.strip()]
    return f"error: {'; '.join(parts) or type(error).__name__}"


def _expected(error) -> bool:
    if isinstance(error, RuntimeError):
        return str(error).startswith(GIN_RUNTIME_ERRORS)
    return isinstance(error, EXPECTED_ERRORS)


def guarded(main):
    """``main`` with expected failures turned into :func:`error_line` on stderr and exit status 2.

    The traceback is logged at debug level (``--verbosity=1`` shows it).
    """

    def guarded_main(argv):
        try:
            return main(argv)
        except app.UsageError:
            raise  # absl prints the usage line itself
        except (*EXPECTED_ERRORS, RuntimeError) as error:
            if not _expected(error):
                raise
            absl_logging.debug("traceback of the error below", exc_info=True)
            print(error_line(error), file=sys.stderr)
            sys.exit(EXIT_EXPECTED_ERROR)
        except KeyboardInterrupt:
            print("interrupted: run the same command again to continue", file=sys.stderr)
            sys.exit(130)

    return guarded_main


def run(main) -> None:
    """``absl.app.run(main)`` with expected failures reported in one line (see :func:`guarded`).

    TensorFlow's own INFO messages (the checkpoint saver's) and gin's file
    search lines (the error line says it) are dropped; the programs' progress,
    logged with absl at INFO, stays.
    """
    absl_logging.get_absl_handler().addFilter(_library_noise)
    app.run(guarded(main))


def _library_noise(record) -> bool:
    """False (drop) for TensorFlow's INFO records and gin's config-file search records."""
    if record.pathname.endswith(os.path.join("gin", "resource_reader.py")):
        return False
    return record.levelno >= logging.WARNING or f"{os.sep}tensorflow{os.sep}" not in record.pathname
