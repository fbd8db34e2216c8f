"""iastp_tf: Interaction-Aware Spatio-Temporal Pyramid Attention Networks in TF/Keras 3."""

import setuptools

setuptools.setup(
    name="iastp_tf",
    version="0.1.0",
    description=(
        "Reference TensorFlow/Keras 3 implementation of Interaction-Aware "
        "Spatio-Temporal Pyramid Attention Networks for Action Classification."
    ),
    python_requires=">=3.11,<3.13",
    packages=setuptools.find_packages(include=["iastp_tf", "iastp_tf.*"]),
    install_requires=[
        "tensorflow>=2.21,<2.22",
        "keras>=3.15,<3.16",
        "gin-config>=0.5,<0.6",
        "absl-py>=2.1",
        "tensorflow-datasets>=4.9,<5",
        "numpy>=1.26",
        "opencv-contrib-python-headless>=4.10",
        "matplotlib>=3.8",
        "tqdm>=4.66",
        "tensorboard>=2.21,<2.22",  # the viewer of the runs' tensorboard/ logs
    ],
    extras_require={
        "test": [
            "pytest>=8",
            "pytest-xdist>=3.5",
            "scikit-learn>=1.4",
        ],
        # tools/prepare_dataset.py --runner=beam; 2.69 is the first that resolves beside TensorFlow 2.21.
        "beam": [
            "apache-beam>=2.69",
        ],
    },
)
